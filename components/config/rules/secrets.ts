import type { ResolvedConfig } from "../resolve";
import { SecretKey, setSecretCommand } from "../schema";
import { Rule } from "./rule";

/**
 * The secret keys the config's modes need, each with the reason. Not
 * oidcClientSecret: unset, the program generates it.
 */
export function requiredSecrets(c: ResolvedConfig): [SecretKey, string][] {
    const required: [SecretKey, string][] = [];
    if (c.storage.mode === "s3-compatible") {
        required.push(
            ["storageAccessKeyId", "in s3-compatible mode"],
            ["storageSecretAccessKey", "in s3-compatible mode"],
        );
        if (c.unseal.mode === "awskms") {
            const why = "for the awskms seal with s3-compatible storage";
            required.push(["sealAccessKeyId", why], ["sealSecretAccessKey", why]);
        }
    }
    if (c.kubernetesAuth.remoteClusters.length > 0)
        required.push(["remoteClusterReviewerJwts", "when kubernetesAuth.remoteClusters is set"]);
    return required;
}

/** Every secret the chosen modes need is set. */
export const requiredSecretRules: Rule = (c, secrets, fail) => {
    for (const [key, reason] of requiredSecrets(c)) {
        if (!secrets.isSet(key)) fail(key, `is required ${reason}: ${setSecretCommand(key)}`);
    }
};
