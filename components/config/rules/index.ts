/**
 * The rules between fields and keys, by concern, in the order their problems
 * are reported. They all run in one pass on the resolved config, before any
 * resource registers.
 */
import type { ResolvedConfig } from "../resolve";
import { externalSecretsRules } from "./external-secrets";
import { exposureRules } from "./exposure";
import { kubernetesAuthRules, remoteClusterRules } from "./kubernetes-auth";
import { kvRules } from "./kv";
import { networkPolicyRules } from "./network-policy";
import { oidcRules } from "./oidc";
import { Fail, Rule, StackFacts } from "./rule";
import { requiredSecretRules } from "./secrets";
import { serverRules } from "./server";
import { storageRules } from "./storage";
import { unsealRules } from "./unseal";

export { requiredSecrets } from "./secrets";
export type { Fail, Rule, StackFacts } from "./rule";

const RULES: readonly Rule[] = [
    storageRules,
    serverRules,
    requiredSecretRules,
    unsealRules,
    networkPolicyRules,
    exposureRules,
    oidcRules,
    kubernetesAuthRules,
    kvRules,
    remoteClusterRules,
    externalSecretsRules,
];

/** Runs every rule, reporting each problem through `fail`. */
export function checkRules(c: ResolvedConfig, facts: StackFacts, fail: Fail): void {
    for (const rule of RULES) rule(c, facts, fail);
}
