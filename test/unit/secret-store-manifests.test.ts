/**
 * The ESO objects the builders make, document by document (ExternalSecrets'
 * spec checks where each input comes from; eso-schema.test.ts validates these
 * objects against ESO's CRDs).
 */
import { strict as assert } from "node:assert";
import {
    sharedStoreName,
    canaryExternalSecret,
    canaryNamespaceLabels,
    conditionsAdmit,
    esoNamespaceLabels,
    vaultClusterSecretStore,
} from "../../components/lib/secret-store-manifests";
import { HOMELAB_STORE_INPUT } from "../support/fixtures";

const LABELS = { "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "secret-platform" };
const INPUT = HOMELAB_STORE_INPUT;
const VAULT = {
    server: "http://vault.vault.svc:8200",
    path: "amiya.akn",
    version: "v2",
    auth: {
        kubernetes: {
            mountPath: "kubernetes-amiya.akn",
            role: "external-secrets",
            serviceAccountRef: { name: "vault-login", namespace: "external-secrets", audiences: ["vault"] },
        },
    },
};

describe("vaultClusterSecretStore", () => {
    it("KV v2 through Kubernetes auth, cluster-scoped, the ServiceAccount named with its namespace", () => {
        assert.deepEqual(vaultClusterSecretStore(INPUT), {
            apiVersion: "external-secrets.io/v1",
            kind: "ClusterSecretStore",
            metadata: { name: "vault-amiya-akn", labels: LABELS },
            spec: { provider: { vault: VAULT } },
        });
    });

    it("a CA Secret becomes caProvider; a CA bundle becomes caBundle, base64 of the PEM; a Secret wins", () => {
        const ca = { name: "vault-ca", namespace: "vault", key: "ca.crt" };
        const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert.deepEqual(vaultClusterSecretStore({ ...INPUT, ca }).spec, {
            provider: { vault: { ...VAULT, caProvider: { type: "Secret", ...ca } } },
        });
        assert.deepEqual(vaultClusterSecretStore({ ...INPUT, caBundle: pem }).spec, {
            provider: { vault: { ...VAULT, caBundle: Buffer.from(pem).toString("base64") } },
        });
        assert.deepEqual(vaultClusterSecretStore({ ...INPUT, ca, caBundle: pem }).spec, {
            provider: { vault: { ...VAULT, caProvider: { type: "Secret", ...ca } } },
        });
    });

    it("namespace conditions, each kind as given; none without", () => {
        const conditions = [
            { namespaces: ["grafana", "authelia"] },
            { namespaceSelector: { matchLabels: { "secret-platform/vault": "read" } } },
        ];
        assert.deepEqual(vaultClusterSecretStore({ ...INPUT, conditions }).spec, {
            provider: { vault: VAULT },
            conditions,
        });
        assert.equal("conditions" in (vaultClusterSecretStore(INPUT).spec as object), false);
    });

    it("a shared mount's store is named after the cluster's, '.' and '_' as '-'", () => {
        assert.equal(sharedStoreName("vault-amiya-akn", "shared"), "vault-amiya-akn-shared");
        assert.equal(sharedStoreName("vault", "team_a.x"), "vault-team-a-x");
    });
});

describe("canaryNamespaceLabels", () => {
    const base = () => esoNamespaceLabels();
    const selector = { namespaceSelector: { matchLabels: { "secret-platform/external-secrets": "allowed" } } };

    it("carries the first label selector's labels, so amiya's fail-closed stores admit the canary", () => {
        const conditions = [{ namespaces: ["grafana"] }, selector, { namespaceSelector: { matchLabels: { x: "y" } } }];
        const labels = canaryNamespaceLabels(conditions);
        assert.deepEqual(labels, { ...base(), "secret-platform/external-secrets": "allowed" });
        assert.equal(conditionsAdmit(conditions, "secret-platform-canary", labels), true);
        // Positive control: without the label the same conditions do not admit it.
        assert.equal(conditionsAdmit(conditions, "secret-platform-canary", base()), false);
    });

    it("adds no label when a condition names the namespace, or every namespace is admitted (allNamespaces)", () => {
        const byName = [{ namespaces: ["secret-platform-canary"] }, selector];
        assert.deepEqual(canaryNamespaceLabels(byName), base());
        assert.equal(conditionsAdmit(byName, "secret-platform-canary", base()), true);
        assert.deepEqual(canaryNamespaceLabels(undefined), base());
        assert.equal(conditionsAdmit(undefined, "secret-platform-canary", base()), true);
    });

    it("names only: no label helps, and the conditions do not admit it", () => {
        const names = [{ namespaces: ["grafana"] }];
        assert.deepEqual(canaryNamespaceLabels(names), base());
        assert.equal(conditionsAdmit(names, "secret-platform-canary", canaryNamespaceLabels(names)), false);
    });
});

describe("canaryExternalSecret", () => {
    it("reads <cluster>/canary/platform/check into its own namespace each minute with the value's sha256, owned, deleted with it, waited on until Ready", () => {
        assert.deepEqual(canaryExternalSecret("vault-amiya-akn"), {
            apiVersion: "external-secrets.io/v1",
            kind: "ExternalSecret",
            metadata: {
                name: "secret-platform-canary",
                namespace: "secret-platform-canary",
                labels: LABELS,
                annotations: { "pulumi.com/waitFor": "condition=Ready" },
            },
            spec: {
                refreshInterval: "1m",
                secretStoreRef: { kind: "ClusterSecretStore", name: "vault-amiya-akn" },
                target: {
                    name: "secret-platform-canary",
                    creationPolicy: "Owner",
                    deletionPolicy: "Delete",
                    template: {
                        engineVersion: "v2",
                        data: { value: "{{ .value }}", sha256: "{{ .value | sha256sum }}" },
                    },
                },
                data: [{ secretKey: "value", remoteRef: { key: "canary/platform/check", property: "value" } }],
            },
        });
    });
});
