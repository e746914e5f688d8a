/**
 * A stand-in for ESO's Vault provider, not the ESO controller: no registry
 * serves the controller here (ESO 2.x is not a Go module the proxy can
 * serve), so the consumer proof does by hand exactly what the provider does
 * with a ClusterSecretStore's own spec, read from the API server:
 *
 *   1. the store's `conditions` decide whether the reading namespace may use it;
 *   2. a TokenRequest for `auth.kubernetes.serviceAccountRef` (its namespace,
 *      its `audiences`, 600 s, as ESO's CreateServiceAccountToken asks);
 *   3. a login at `auth/<mountPath>/login` with the store's `role`;
 *   4. a read of `<path>/data/<key>` (KV v2) or `<path>/<key>` (v1), trusting
 *      the store's `caBundle` or `caProvider` only, and the `property` picked.
 *
 * What only the real controller proves (reconcile loops, status conditions,
 * the Secret it writes, refresh) is listed on docs/e2e.md.
 */
import { apiErrors, vaultApi } from "../../components/lib/vault-api";
import { Cluster } from "./kube";

export interface StoreRead {
    /** The namespace the ExternalSecret would live in. */
    readonly namespace: string;
    /** The ExternalSecret's `remoteRef.key`. */
    readonly key: string;
    /** The ExternalSecret's `remoteRef.property`. */
    readonly property: string;
}

/** Where a read through a store ended: the value, or the step that refused it and why. */
export type StoreResult =
    | { readonly ok: true; readonly value: string }
    | { readonly ok: false; readonly step: "conditions" | "token" | "login" | "read"; readonly reason: string };

interface VaultProviderSpec {
    server: string;
    path?: string;
    version?: "v1" | "v2";
    caBundle?: string;
    caProvider?: { type: "Secret" | "ConfigMap"; name: string; namespace?: string; key: string };
    auth?: {
        kubernetes?: {
            mountPath?: string;
            role: string;
            serviceAccountRef?: { name: string; namespace?: string; audiences?: string[] };
        };
    };
}

interface StoreCondition {
    namespaces?: string[];
    namespaceSelector?: { matchLabels?: Record<string, string> };
}

interface StoreSpec {
    provider?: { vault?: VaultProviderSpec };
    conditions?: StoreCondition[];
}

const TOKEN_SECONDS = 600;

/** The store's CA as PEM: caBundle is base64 of the PEM; caProvider names a Secret or ConfigMap key. */
async function storeCa(cluster: Cluster, v: VaultProviderSpec): Promise<string | undefined> {
    if (v.caBundle !== undefined) return Buffer.from(v.caBundle, "base64").toString("utf8");
    if (v.caProvider === undefined) return undefined;
    const p = v.caProvider;
    const kind = p.type === "Secret" ? "secrets" : "configmaps";
    const res = await cluster.request("GET", `/api/v1/namespaces/${p.namespace}/${kind}/${p.name}`);
    if (res.status !== 200) throw new Error(`store caProvider ${p.type} ${p.namespace}/${p.name}: HTTP ${res.status}`);
    const value = res.body.data?.[p.key] as string | undefined;
    if (value === undefined) throw new Error(`store caProvider ${p.type} ${p.namespace}/${p.name} has no key ${p.key}`);
    return p.type === "Secret" ? Buffer.from(value, "base64").toString("utf8") : value;
}

/** ESO's rule: no conditions admit every namespace; else any one condition that matches the namespace. */
async function namespaceAdmitted(cluster: Cluster, conditions: StoreCondition[], namespace: string): Promise<boolean> {
    if (conditions.length === 0) return true;
    const ns = await cluster.request("GET", `/api/v1/namespaces/${namespace}`);
    const labels = (ns.body?.metadata?.labels ?? {}) as Record<string, string>;
    return conditions.some(
        (c) =>
            (c.namespaces ?? []).includes(namespace) ||
            (c.namespaceSelector?.matchLabels !== undefined &&
                Object.entries(c.namespaceSelector.matchLabels).every(([k, want]) => labels[k] === want)),
    );
}

/**
 * How the rig reaches a store's server from the host: the store names an
 * in-cluster URL (http://vault.<ns>.svc:8200) that only pods resolve, so the
 * rig goes through its relay to the same Service (e2e/node/relays.ts).
 */
export type Reach = (server: string, caBundle: string | undefined) => { address: string; caBundle?: string };

/** One read through the ClusterSecretStore `storeName`, as ESO's Vault provider would make it. */
export async function readThroughStore(
    cluster: Cluster,
    storeName: string,
    read: StoreRead,
    reach: Reach = (address, caBundle) => ({ address, caBundle }),
): Promise<StoreResult> {
    const store = await cluster.request("GET", `/apis/external-secrets.io/v1/clustersecretstores/${storeName}`);
    if (store.status !== 200) throw new Error(`ClusterSecretStore ${storeName}: HTTP ${store.status}`);
    const spec = store.body.spec as StoreSpec;
    const v = spec.provider?.vault;
    const k = v?.auth?.kubernetes;
    const sa = k?.serviceAccountRef;
    if (v === undefined || k === undefined || sa === undefined) {
        throw new Error(
            `ClusterSecretStore ${storeName}: the store-client reads Vault stores with Kubernetes auth only`,
        );
    }
    if (!(await namespaceAdmitted(cluster, spec.conditions ?? [], read.namespace))) {
        return { ok: false, step: "conditions", reason: `namespace ${read.namespace} is not allowed by the store` };
    }
    const saNamespace = sa.namespace ?? read.namespace;
    const tr = await cluster.request("POST", `/api/v1/namespaces/${saNamespace}/serviceaccounts/${sa.name}/token`, {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: { expirationSeconds: TOKEN_SECONDS, ...(sa.audiences === undefined ? {} : { audiences: sa.audiences }) },
    });
    if (tr.status !== 201) return { ok: false, step: "token", reason: `TokenRequest: HTTP ${tr.status}` };
    const endpoint = reach(v.server, await storeCa(cluster, v));
    const mountPath = k.mountPath ?? "kubernetes";
    const login = await vaultApi(endpoint, "PUT", `auth/${mountPath}/login`, {
        role: k.role,
        jwt: tr.body.status.token as string,
    });
    if (login.status !== 200) return { ok: false, step: "login", reason: `HTTP ${login.status}${apiErrors(login)}` };
    const token = (login.body?.auth as { client_token: string }).client_token;
    try {
        const kvPath = (v.version ?? "v2") === "v2" ? `${v.path}/data/${read.key}` : `${v.path}/${read.key}`;
        const res = await vaultApi(endpoint, "GET", kvPath, undefined, token);
        if (res.status !== 200) return { ok: false, step: "read", reason: `HTTP ${res.status}${apiErrors(res)}` };
        const data = (res.body?.data ?? {}) as Record<string, unknown>;
        const fields = ((v.version ?? "v2") === "v2" ? data.data : data) as Record<string, unknown>;
        const value = fields[read.property];
        if (typeof value !== "string") return { ok: false, step: "read", reason: `no property ${read.property}` };
        return { ok: true, value };
    } finally {
        await vaultApi(endpoint, "PUT", "auth/token/revoke-self", {}, token);
    }
}
