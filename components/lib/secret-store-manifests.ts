/**
 * The ESO store manifests builder (the ExternalSecrets component in
 * components/external-secrets.ts registers what it builds).
 * Pure builders for the External Secrets Operator objects this platform
 * writes (ClusterSecretStore, the canary ExternalSecret) and for the manifests
 * a remote cluster's admin applies. No Pulumi here: plain values in, plain
 * Kubernetes objects out, so the specs can check them against ESO's own CRD
 * schemas without mocks.
 */
import type { PlatformConfig } from "../config";
import { MANAGED_LABELS, PART_OF_LABELS } from "./contracts";

/** ESO's API group; `v1` is the only served version in chart 2.9.0 (`v1beta1` is no longer served). */
export const ESO_GROUP = "external-secrets.io";
export const ESO_API_VERSION = `${ESO_GROUP}/v1`;
export const CLUSTER_SECRET_STORE = "ClusterSecretStore";
export const EXTERNAL_SECRET = "ExternalSecret";

/** Labels on every object the platform writes itself. */
export const PLATFORM_LABELS: Readonly<Record<string, string>> = MANAGED_LABELS;

/**
 * The canary: the stack writes `<cluster>/canary/platform/check` (property
 * `value`, a fixed value per cluster) through the Vault provider, and an ExternalSecret
 * in a namespace of its own reads it back into the Secret of the same name
 * every minute. The alert pack watches its sync; `npm run doctor` compares the
 * hash of the Secret's value with Vault's.
 */
export const CANARY = {
    name: "secret-platform-canary",
    namespace: "secret-platform-canary",
    remoteKey: "canary/platform/check",
    property: "value",
    secretKey: "value",
    refreshInterval: "1m",
} as const;

/** The canary's value in Vault: fixed per cluster, so a synced copy from another cluster or mount does not match. */
export function canaryValue(cluster: string): string {
    return `secret-platform canary of ${cluster}`;
}

/** Name of the token-reviewer ServiceAccount (and its binding and token Secret) in a remote cluster. */
export const REVIEWER_NAME = "vault-token-reviewer";

/** A Kubernetes object as the API server receives it. */
export interface K8sObject {
    readonly apiVersion: string;
    readonly kind: string;
    readonly metadata: {
        readonly name: string;
        readonly namespace?: string;
        readonly labels?: Record<string, string>;
        readonly annotations?: Record<string, string>;
    };
    readonly [field: string]: unknown;
}

/** One of ESO's `spec.conditions`: a namespace matching any condition may use the store. */
export interface NamespaceCondition {
    readonly namespaces?: readonly string[];
    readonly namespaceSelector?: { readonly matchLabels: Readonly<Record<string, string>> };
}

/** A key of a Secret holding the CA that signed Vault's certificate. */
export interface CaReference {
    readonly name: string;
    readonly namespace: string;
    readonly key: string;
}

export interface VaultStoreInput {
    /** metadata.name of the ClusterSecretStore. */
    readonly name: string;
    /** Vault's URL as ESO reaches it. */
    readonly server: string;
    /** The KV v2 mount the store reads (ESO's `path`). */
    readonly mount: string;
    /** Mount path of the Kubernetes auth backend. */
    readonly authMountPath: string;
    /** Kubernetes auth role. */
    readonly role: string;
    /** The login ServiceAccount ESO requests a token for (TokenRequest) and logs in as. */
    readonly serviceAccount: { readonly name: string; readonly namespace: string };
    /** The audience ESO requests that token for; the Vault role requires the same one. */
    readonly audience: string;
    /** CA to trust for Vault's certificate; unset uses the system roots. */
    readonly ca?: CaReference;
    /** Instead of `ca`: a PEM bundle to trust, inlined as ESO's caBundle (trust.caBundle). */
    readonly caBundle?: string;
    /** Which namespaces may use the store; unset allows every namespace (externalSecrets.allNamespaces). */
    readonly conditions?: readonly NamespaceCondition[];
}

/** A ClusterSecretStore for Vault's KV v2 with Kubernetes auth. */
export function vaultClusterSecretStore(input: VaultStoreInput): K8sObject {
    const vault: Record<string, unknown> = {
        server: input.server,
        path: input.mount,
        version: "v2",
        auth: {
            kubernetes: {
                mountPath: input.authMountPath,
                role: input.role,
                // A ClusterSecretStore must name the namespace: ESO would otherwise
                // use the namespace of each ExternalSecret that references it.
                // A token for Vault's audience only: one minted for the API server does not log in.
                serviceAccountRef: {
                    name: input.serviceAccount.name,
                    namespace: input.serviceAccount.namespace,
                    audiences: [input.audience],
                },
            },
        },
    };
    if (input.ca !== undefined) {
        vault.caProvider = { type: "Secret", name: input.ca.name, namespace: input.ca.namespace, key: input.ca.key };
    } else if (input.caBundle !== undefined) {
        // ESO's caBundle is base64 of the PEM (a []byte field).
        vault.caBundle = Buffer.from(input.caBundle, "utf8").toString("base64");
    }
    const spec: Record<string, unknown> = { provider: { vault } };
    if (input.conditions !== undefined) spec.conditions = input.conditions.map(esoCondition);
    return { apiVersion: ESO_API_VERSION, kind: CLUSTER_SECRET_STORE, metadata: storeMetadata(input.name), spec };
}

/** metadata of a ClusterSecretStore (cluster-scoped: no namespace). */
export function storeMetadata(name: string): K8sObject["metadata"] {
    return { name, labels: { ...PLATFORM_LABELS } };
}

function esoCondition(c: NamespaceCondition): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (c.namespaces !== undefined) out.namespaces = [...c.namespaces];
    if (c.namespaceSelector !== undefined)
        out.namespaceSelector = { matchLabels: { ...c.namespaceSelector.matchLabels } };
    return out;
}

/**
 * Labels of the canary's own namespace: the platform's, the restricted Pod
 * Security level and, unless a condition names the namespace, the labels of the
 * first condition that admits by label (the stores fail closed, and the stack
 * opts its own namespace in as a cluster admin would with `kubectl label`).
 * Unset conditions (allNamespaces) admit every namespace.
 */
export function canaryNamespaceLabels(conditions?: readonly NamespaceCondition[]): Record<string, string> {
    const base = esoNamespaceLabels();
    if (conditions === undefined || conditions.some((c) => (c.namespaces ?? []).includes(CANARY.namespace))) {
        return base;
    }
    const selector = conditions.find((c) => Object.keys(c.namespaceSelector?.matchLabels ?? {}).length > 0);
    return { ...base, ...selector?.namespaceSelector?.matchLabels };
}

/** Whether namespace conditions admit a namespace (ESO: any condition, by name or by all its labels); unset admits every one. */
export function conditionsAdmit(
    conditions: readonly NamespaceCondition[] | undefined,
    namespace: string,
    labels: Readonly<Record<string, string>>,
): boolean {
    if (conditions === undefined) return true;
    return conditions.some(
        (c) =>
            (c.namespaces ?? []).includes(namespace) ||
            (c.namespaceSelector !== undefined &&
                Object.keys(c.namespaceSelector.matchLabels).length > 0 &&
                Object.entries(c.namespaceSelector.matchLabels).every(([k, v]) => labels[k] === v)),
    );
}

/**
 * The canary ExternalSecret. `pulumi.com/waitFor: condition=Ready` makes the
 * deploy wait until ESO has logged in to Vault and synced the value, so a
 * broken link anywhere in the chain fails `pulumi up` instead of a later app.
 * The synced Secret carries the value's SHA-256 (ESO's template, sprig's
 * sha256sum) beside it, to compare with the stack output canarySha256.
 */
export function canaryExternalSecret(storeName: string): K8sObject {
    return {
        apiVersion: ESO_API_VERSION,
        kind: EXTERNAL_SECRET,
        metadata: {
            name: CANARY.name,
            namespace: CANARY.namespace,
            labels: { ...PLATFORM_LABELS },
            annotations: { "pulumi.com/waitFor": "condition=Ready" },
        },
        spec: {
            refreshInterval: CANARY.refreshInterval,
            secretStoreRef: { kind: "ClusterSecretStore", name: storeName },
            // Delete: turning the canary off removes the synced Secret too.
            target: {
                name: CANARY.name,
                creationPolicy: "Owner",
                deletionPolicy: "Delete",
                template: {
                    engineVersion: "v2",
                    data: {
                        [CANARY.secretKey]: `{{ .${CANARY.secretKey} }}`,
                        sha256: `{{ .${CANARY.secretKey} | sha256sum }}`,
                    },
                },
            },
            data: [
                {
                    secretKey: CANARY.secretKey,
                    remoteRef: { key: CANARY.remoteKey, property: CANARY.property },
                },
            ],
        },
    };
}

/** Name of the store for a shared mount: `<store>-<mount>` with '.' and '_' as '-'. */
export function sharedStoreName(storeName: string, mount: string): string {
    return `${storeName}-${sharedStoreSuffix(mount)}`;
}

/** Name of a tenant group's store: `<store>-<tenant>`. */
export function tenantStoreName(storeName: string, tenant: string): string {
    return `${storeName}-${tenant}`;
}

/** Name of a tenant group's Vault role: `<role>-<tenant>`. */
export function tenantRoleName(role: string, tenant: string): string {
    return `${role}-${tenant}`;
}

/** The shared mounts that get a store: those with at least one path this cluster may read. */
export function sharedStoreMounts(
    config: Pick<PlatformConfig, "kv" | "externalSecrets">,
): { readonly mount: string; readonly storeName: string }[] {
    return config.kv.shared
        .filter((m) => m.readablePaths.length > 0)
        .map((m) => ({ mount: m.name, storeName: sharedStoreName(config.externalSecrets.storeName, m.name) }));
}

/** The part of a shared store's name after the cluster store's name (names its logical resource). */
export function sharedStoreSuffix(mount: string): string {
    return mount.replace(/[._]/g, "-");
}

/**
 * The CA the store trusts: Vault's private CA Secret (key `ca.crt` in Vault's
 * namespace) when Vault serves TLS itself and the store uses the in-cluster
 * URL. An explicit externalSecrets.serverUrl goes through the ingress, whose
 * certificate this config knows nothing about.
 */
export function vaultCaReference(config: Pick<PlatformConfig, "externalSecrets" | "server">): CaReference | undefined {
    const tls = config.server.tls;
    if (config.externalSecrets.serverUrl !== undefined) return undefined;
    if (tls.mode !== "internal" || tls.caSecretName === undefined) return undefined;
    return { name: tls.caSecretName, namespace: config.server.namespace, key: "ca.crt" };
}

/**
 * The PEM bundle a store inlines: trust.caBundle, when the store's Vault URL
 * is https and no CA Secret (vaultCaReference) is used for it.
 */
export function vaultStoreCaBundle(
    config: Pick<PlatformConfig, "trust">,
    server: string,
    ca?: CaReference,
): string | undefined {
    if (ca !== undefined || !server.startsWith("https://")) return undefined;
    return config.trust.caBundle;
}

/** The ServiceAccount ESO's chart gives its controller (its fullname): cluster-wide Secret rights, never a store's login. */
export const ESO_CONTROLLER_SERVICE_ACCOUNT = "external-secrets";

/**
 * Helm values for ESO's chart: CRDs with the release; ExternalSecret rights
 * not aggregated to the `edit` and `admin` ClusterRoles, so a namespace editor
 * cannot point an ExternalSecret at a store (granting them is an explicit
 * RoleBinding per namespace). `view` stays: reading an ExternalSecret reads no
 * secret.
 */
export function esoChartValues(): Record<string, unknown> {
    return {
        installCRDs: true,
        serviceAccount: { create: true, name: ESO_CONTROLLER_SERVICE_ACCOUNT },
        rbac: { aggregateToEdit: false, aggregateToAdmin: false },
    };
}

/**
 * The login ServiceAccount the stores name: no RBAC bound to it and no token
 * mounted anywhere; ESO's controller only requests short tokens for it, for
 * Vault's audience (TokenRequest).
 */
export function loginServiceAccount(name: string, namespace: string, labels: Record<string, string>): K8sObject {
    return {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name, namespace, labels },
        automountServiceAccountToken: false,
    };
}

/** Pod Security Admission labels for ESO's namespace: its pods run under `restricted`. */
export function esoNamespaceLabels(): Record<string, string> {
    return {
        ...PLATFORM_LABELS,
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    };
}

/** Labels of what a remote cluster's admin applies (with kubectl, not this stack). */
function remoteLabels(vaultCluster: string): Record<string, string> {
    return { ...PART_OF_LABELS, "secret-platform/vault-cluster": vaultCluster };
}

/** What a remote cluster's admin needs to know to create the reviewer there. */
export interface RemoteReviewerInput {
    /** The remote cluster's name (kubernetesAuth.remoteClusters[].name). */
    readonly cluster: string;
    /** Namespace of ESO in the remote cluster; the reviewer lives beside it. */
    readonly namespace: string;
}

/**
 * The objects a remote cluster's admin applies so that this Vault can verify
 * that cluster's ServiceAccount tokens: a ServiceAccount bound to
 * `system:auth-delegator` (TokenReview and SubjectAccessReview, nothing else)
 * and a long-lived token Secret whose JWT goes into
 * `remoteClusterReviewerJwts`. This stack only talks to its own cluster, so
 * it never creates them.
 */
export function remoteReviewerManifests(input: RemoteReviewerInput): K8sObject[] {
    const labels = remoteLabels(input.cluster);
    return [
        {
            apiVersion: "v1",
            kind: "ServiceAccount",
            metadata: { name: REVIEWER_NAME, namespace: input.namespace, labels },
            // The reviewer's pods do not exist: no token is mounted anywhere.
            automountServiceAccountToken: false,
        },
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRoleBinding",
            metadata: { name: `${REVIEWER_NAME}-${input.namespace}`, labels },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
            subjects: [{ kind: "ServiceAccount", name: REVIEWER_NAME, namespace: input.namespace }],
        },
        {
            apiVersion: "v1",
            kind: "Secret",
            metadata: {
                name: `${REVIEWER_NAME}-token`,
                namespace: input.namespace,
                labels,
                annotations: { "kubernetes.io/service-account.name": REVIEWER_NAME },
            },
            type: "kubernetes.io/service-account-token",
        },
    ];
}

/** The ClusterSecretStore name a cluster gets by default: vault-<cluster name with '.' as '-'>. */
export function defaultStoreName(cluster: string): string {
    return `vault-${cluster.replace(/\./g, "-")}`;
}

/**
 * Everything a remote cluster's admin applies there, by remote name: the
 * token reviewer, and the stores its ESO uses to read this Vault through
 * Vault's public address (`vault.address`), with the auth mount
 * `kubernetes-<remote>`, the role and the KV mount named after the remote that
 * VaultConfiguration creates, plus one store per readable shared mount.
 */
export function remoteClusterManifests(
    config: Pick<PlatformConfig, "kubernetesAuth" | "cluster" | "vault" | "trust" | "kv">,
): Record<string, K8sObject[]> {
    const out: Record<string, K8sObject[]> = {};
    for (const r of config.kubernetesAuth.remoteClusters) {
        const storeName = defaultStoreName(r.name);
        const store = (name: string, mount: string): K8sObject => ({
            ...vaultClusterSecretStore({ ...base, name, mount }),
            metadata: { name, labels: remoteLabels(config.cluster.name) },
        });
        const base = {
            server: config.vault.address,
            // Vault's public address carries the private CA's certificate: remote stores trust the bundle too.
            caBundle: vaultStoreCaBundle(config, config.vault.address),
            authMountPath: `kubernetes-${r.name}`,
            role: config.kubernetesAuth.role,
            serviceAccount: { name: r.serviceAccount, namespace: r.namespace },
            audience: config.kubernetesAuth.audience,
        };
        out[r.name] = [
            ...remoteReviewerManifests({ cluster: config.cluster.name, namespace: r.namespace }),
            loginServiceAccount(r.serviceAccount, r.namespace, remoteLabels(config.cluster.name)),
            store(storeName, r.name),
            ...config.kv.shared
                .filter((m) => m.readablePaths.length > 0)
                .map((m) => store(sharedStoreName(storeName, m.name), m.name)),
        ];
    }
    return out;
}
