import { CANARY, canaryNamespaceLabels, sharedStoreName } from "../../lib/secret-store-manifests";
import { Rule } from "./rule";

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * ESO's namespace apart from Vault's, namespace conditions that admit someone
 * (the canary's namespace too), and shared stores with valid, distinct names.
 */
export const externalSecretsRules: Rule = (c, _facts, fail) => {
    const es = c.externalSecrets;
    if (es.namespace === c.server.namespace) {
        fail("externalSecrets.namespace", "must differ from server.namespace (Vault's namespace is default-deny)");
    }

    const conditions = es.namespaceConditions;
    if (conditions !== undefined) {
        if (conditions.length === 0) {
            fail(
                "externalSecrets.namespaceConditions",
                "must list at least one condition, or be unset to let every namespace use the store",
            );
        }
        conditions.forEach((condition, i) => {
            const names = condition.namespaces ?? [];
            const labels = Object.keys(condition.namespaceSelector?.matchLabels ?? {});
            if (names.length === 0 && labels.length === 0) {
                fail(
                    `externalSecrets.namespaceConditions[${i}]`,
                    "must set namespaces or namespaceSelector.matchLabels (an empty condition admits no namespace)",
                );
            }
        });
        // The canary ExternalSecret lives in its own namespace; the store must admit it.
        const labels = canaryNamespaceLabels();
        const admits = conditions.some(
            (condition) =>
                (condition.namespaces ?? []).includes(CANARY.namespace) ||
                (condition.namespaceSelector !== undefined &&
                    Object.entries(condition.namespaceSelector.matchLabels).every(([k, v]) => labels[k] === v)),
        );
        if (es.canary && conditions.length > 0 && !admits) {
            fail(
                "externalSecrets.canary",
                `the canary ExternalSecret lives in namespace ${CANARY.namespace}, which externalSecrets.namespaceConditions does not admit (add it to a condition's namespaces, or set externalSecrets.canary: false)`,
            );
        }
    }

    const seen = new Map<string, string>();
    c.kv.shared.forEach((m, i) => {
        if (m.readablePaths.length === 0) return;
        const name = sharedStoreName(es.storeName, m.name);
        if (name.length > 253 || !dns1123Subdomain.test(name)) {
            fail(`kv.shared[${i}].name`, `gives the store name '${name}', which is not a valid Kubernetes name`);
        }
        const other = seen.get(name);
        if (other !== undefined) {
            fail(`kv.shared[${i}].name`, `gives the same store name '${name}' as mount '${other}'`);
        }
        seen.set(name, m.name);
    });
};
