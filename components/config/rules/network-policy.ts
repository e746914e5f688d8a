import { Rule } from "./rule";

/** Egress rules: a rule with no peer would allow nothing (or, rendered empty, everything). */
export const networkPolicyRules: Rule = (c, _facts, fail) => {
    for (const [target, rule] of Object.entries(c.networkPolicy.egress)) {
        if (rule !== undefined && rule.cidrs === undefined && rule.namespaces === undefined) {
            fail(
                `networkPolicy.egress.${target}`,
                "needs cidrs (addresses outside the cluster) or namespaces (in-cluster pods, e.g. the ingress controller serving that name), or both",
            );
        }
    }
};
