/**
 * The rules between fields and keys, by concern, in the order their problems
 * are reported. They all run in one pass on the resolved config, before any
 * resource registers.
 */
import type { ResolvedConfig } from "../resolve";
import { backupRules } from "./backup";
import { externalSecretsRules } from "./external-secrets";
import { exposureRules } from "./exposure";
import { kubernetesAuthRules, remoteClusterRules } from "./kubernetes-auth";
import { kvRules } from "./kv";
import { monitoringRules } from "./monitoring";
import { networkPolicyRules } from "./network-policy";
import { oidcRules } from "./oidc";
import { Fail, Rule, StackFacts } from "./rule";
import { requiredSecretRules } from "./secrets";
import { serverRules } from "./server";
import { storageRules } from "./storage";
import { unsealRules } from "./unseal";
import { vaultRules } from "./vault";

export { requiredSecrets } from "./secrets";
export type { Fail, Rule, StackFacts } from "./rule";

const RULES: readonly Rule[] = [
    storageRules,
    serverRules,
    requiredSecretRules,
    unsealRules,
    vaultRules,
    networkPolicyRules,
    exposureRules,
    oidcRules,
    kubernetesAuthRules,
    kvRules,
    remoteClusterRules,
    externalSecretsRules,
    monitoringRules,
    backupRules,
];

/** Thrown by the guarded config when a rule reads a key it may not trust. */
const SKIP = Symbol("rule reads a key that did not parse");

/**
 * Runs every rule, reporting each problem through `fail`. A rule that reads a
 * `tainted` top-level key (one that did not parse, or whose default derives
 * from one) is skipped, its problems dropped: it would judge a stand-in.
 */
export function checkRules(
    c: ResolvedConfig,
    facts: StackFacts,
    fail: Fail,
    tainted: ReadonlySet<string> = new Set(),
): void {
    const guarded = new Proxy(c, {
        get(target, key, receiver) {
            if (typeof key === "string" && tainted.has(key)) throw SKIP;
            return Reflect.get(target, key, receiver) as unknown;
        },
    });
    for (const rule of RULES) {
        const found: [string, string][] = [];
        try {
            rule(guarded, facts, (key, message) => found.push([key, message]));
        } catch (e) {
            if (e === SKIP) continue;
            throw e;
        }
        for (const [key, message] of found) fail(key, message);
    }
}
