import { requiredEgress } from "../../lib/network-policy";
import { Rule } from "./rule";

/**
 * Egress rules: a rule with no peer would allow nothing (or, rendered empty,
 * everything); and while NetworkPolicies are on, every flow the config needs
 * has a rule, since default deny drops it otherwise and the platform cannot
 * start or be configured.
 */
export const networkPolicyRules: Rule = (c, _facts, fail) => {
    for (const [target, rule] of Object.entries(c.networkPolicy.egress)) {
        if (rule !== undefined && rule.cidrs === undefined && rule.namespaces === undefined) {
            fail(
                `networkPolicy.egress.${target}`,
                "needs cidrs (addresses outside the cluster) or namespaces (in-cluster pods, e.g. the ingress controller serving that name), or both",
            );
        }
    }
    for (const need of requiredEgress(c)) {
        if (c.networkPolicy.egress[need.target] !== undefined) continue;
        fail(
            `networkPolicy.egress.${need.target}`,
            `is required while networkPolicy.enabled is true: without it ${need.breaks} (set cidrs for an endpoint outside the cluster, namespaces for one this cluster's ingress serves; docs/architecture/network-policy.md)`,
        );
    }
};
