import {
    CANARY,
    canaryNamespaceLabels,
    conditionsAdmit,
    ESO_CONTROLLER_SERVICE_ACCOUNT,
    sharedStoreName,
    tenantStoreName,
} from "../../lib/secret-store-manifests";
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

    // Fail closed: a store open to every namespace is an explicit choice.
    const conditions = es.namespaceConditions;
    if (conditions === undefined && !es.allNamespaces) {
        fail(
            "externalSecrets.namespaceConditions",
            "required: list the namespaces that may use the stores (namespaces or namespaceSelector.matchLabels), or set externalSecrets.allNamespaces: true to let every namespace read the whole cluster mount",
        );
    }
    if (conditions !== undefined && es.allNamespaces) {
        fail("externalSecrets.allNamespaces", "must not be true together with externalSecrets.namespaceConditions");
    }
    if (es.serviceAccount === ESO_CONTROLLER_SERVICE_ACCOUNT) {
        fail(
            "externalSecrets.serviceAccount",
            `must not be ${ESO_CONTROLLER_SERVICE_ACCOUNT}, the ESO controller's own ServiceAccount (cluster-wide Secret rights): name a dedicated login ServiceAccount`,
        );
    }
    if (conditions !== undefined) {
        if (conditions.length === 0) {
            fail(
                "externalSecrets.namespaceConditions",
                "must list at least one condition (or set externalSecrets.allNamespaces: true instead)",
            );
        }
        let wellFormed = conditions.length > 0 && !es.allNamespaces;
        conditions.forEach((condition, i) => {
            const names = condition.namespaces ?? [];
            const labels = Object.keys(condition.namespaceSelector?.matchLabels ?? {});
            if (names.length === 0 && labels.length === 0) {
                wellFormed = false;
                fail(
                    `externalSecrets.namespaceConditions[${i}]`,
                    "must set namespaces or namespaceSelector.matchLabels (an empty condition admits no namespace)",
                );
            }
        });
        // The canary ExternalSecret lives in its own namespace, labelled to match a selector; the store must admit
        // it (asked only of conditions that are otherwise right, so one mistake is one message).
        const admits = conditionsAdmit(conditions, CANARY.namespace, canaryNamespaceLabels(conditions));
        if (es.canary && wellFormed && !admits) {
            fail(
                "externalSecrets.canary",
                `the canary ExternalSecret lives in namespace ${CANARY.namespace}, which externalSecrets.namespaceConditions does not admit (add it to a condition's namespaces, add a condition with namespaceSelector.matchLabels (the stack labels the canary's namespace to match), or set externalSecrets.canary: false)`,
            );
        }
    }

    const seen = new Map<string, string>();
    const storeName = (key: string, name: string, what: string) => {
        if (name.length > 253 || !dns1123Subdomain.test(name)) {
            fail(key, `gives the store name '${name}', which is not a valid Kubernetes name`);
        }
        const other = seen.get(name);
        if (other !== undefined) fail(key, `gives the same store name '${name}' as ${other}`);
        seen.set(name, what);
    };
    c.kv.shared.forEach((m, i) => {
        if (m.readablePaths.length === 0) return;
        storeName(`kv.shared[${i}].name`, sharedStoreName(es.storeName, m.name), `mount '${m.name}'`);
    });
    const tenantOf = new Map<string, string>();
    es.tenants.forEach((t, i) => {
        storeName(`externalSecrets.tenants[${i}].name`, tenantStoreName(es.storeName, t.name), `tenant '${t.name}'`);
        t.namespaces.forEach((ns, j) => {
            const other = tenantOf.get(ns);
            if (other !== undefined) {
                fail(
                    `externalSecrets.tenants[${i}].namespaces[${j}]`,
                    `namespace ${ns} is already in tenant '${other}' (a namespace belongs to one group)`,
                );
            }
            tenantOf.set(ns, t.name);
            // Named in the cluster-wide stores' conditions too, it would read the whole cluster mount through them.
            const k = (conditions ?? []).findIndex((c) => (c.namespaces ?? []).includes(ns));
            if (k >= 0) {
                fail(
                    `externalSecrets.tenants[${i}].namespaces[${j}]`,
                    `namespace ${ns} is also admitted to the cluster-wide stores by externalSecrets.namespaceConditions[${k}], through which it would read the whole cluster mount: take it out there`,
                );
            }
        });
    });
};
