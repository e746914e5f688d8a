import { knownPolicyNames } from "../../lib/policy-names";
import { durationSeconds } from "../schema";
import { Rule } from "./rule";

/** The issuer and scopes login needs, group policies that exist, and token TTLs in order. */
export const oidcRules: Rule = (c, _facts, fail) => {
    const oidc = c.oidc;
    if (oidc.enabled) {
        if (oidc.issuer === undefined)
            fail("oidc.issuer", "is required when oidc.enabled is true (the Authelia issuer, an https URL)");
        if (!oidc.scopes.includes("openid")) fail("oidc.scopes", "must include openid");
        const known = knownPolicyNames();
        for (const [group, policies] of Object.entries(oidc.groups)) {
            for (const policy of policies) {
                if (!known.includes(policy))
                    fail(`oidc.groups.${group}`, `unknown policy '${policy}' (known: ${known.join(", ")})`);
            }
        }
    }
    if (durationSeconds(oidc.tokenTtl) > durationSeconds(oidc.tokenMaxTtl))
        fail("oidc.tokenTtl", "must not exceed oidc.tokenMaxTtl");
};
