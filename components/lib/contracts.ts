/**
 * The names, ports and labels that several parts of the platform must agree
 * on: the chart's release and Services, the unsealer and snapshot workloads
 * the NetworkPolicies admit, the platform's labels, and the scheme Vault
 * serves in the cluster. Stated here once; every other module imports them.
 * Changing one renames a Kubernetes object: read the plan diff.
 */

/** Helm release name; fixes the names of the Service (`vault`), StatefulSet and pods. */
export const RELEASE_NAME = "vault";
/** The API port of the Vault Service and pods. */
export const API_PORT = 8200;
/** Raft and request-forwarding port between Vault pods. */
export const CLUSTER_PORT = 8201;
/**
 * The metrics listener's port: /v1/sys/metrics without a token (the scraper
 * reads it; the NetworkPolicy admits only the scraper's namespace).
 */
export const METRICS_PORT = 8202;
/** The chart's headless Service of the server pods (`vault-0.vault-internal`). */
export const INTERNAL_SERVICE = `${RELEASE_NAME}-internal`;
/** The chart's Service of the active node. */
export const ACTIVE_SERVICE = `${RELEASE_NAME}-active`;

/** Physical name of the unsealer's ServiceAccount, workloads and ConfigMap, and its pods' name label. */
export const UNSEALER_NAME = "vault-unsealer";
/** Physical name of the raft snapshot job's ServiceAccount, ConfigMap and CronJob, and its pods' name label. */
export const SNAPSHOT_NAME = "vault-snapshot";

/** Physical name of the KV export job's ServiceAccount, ConfigMap, Secret and CronJob, and its pods' name label. */
export const BACKUP_NAME = "vault-kv-backup";

/** The label every object of the platform carries. */
export const PART_OF_LABELS = { "app.kubernetes.io/part-of": "secret-platform" } as const;
/** Labels of the objects the program writes itself (not the chart's). */
export const MANAGED_LABELS = { "app.kubernetes.io/managed-by": "pulumi", ...PART_OF_LABELS } as const;
/** The chart's labels on the server pods. */
export const SERVER_POD_LABELS = {
    "app.kubernetes.io/name": "vault",
    "app.kubernetes.io/instance": RELEASE_NAME,
    component: "server",
} as const;
/** The unsealer's pod label: the server's NetworkPolicy admits it on API_PORT. */
export const UNSEALER_POD_LABELS = { "app.kubernetes.io/name": UNSEALER_NAME } as const;
/** The raft snapshot job's pod label: the server's NetworkPolicy admits it on API_PORT. */
export const SNAPSHOT_POD_LABELS = { "app.kubernetes.io/name": SNAPSHOT_NAME } as const;

/** The KV export job's pod label: the server's NetworkPolicy admits it on API_PORT. */
export const BACKUP_POD_LABELS = { "app.kubernetes.io/name": BACKUP_NAME } as const;

/** The in-cluster API URL of one server pod through the headless Service (`pod` may be a placeholder such as HOSTNAME). */
export function podApiUrl(scheme: string, pod: string): string {
    return `${scheme}://${pod}.${INTERNAL_SERVICE}:${API_PORT}`;
}

/** The name of the i-th (0-based) server pod of the chart's StatefulSet. */
export function serverPodName(i: number): string {
    return `${RELEASE_NAME}-${i}`;
}

/** The in-cluster DNS name of a Service (the name Vault's certificate carries for RELEASE_NAME). */
export function serviceHost(service: string, namespace: string): string {
    return `${service}.${namespace}.svc`;
}

/** The in-cluster API URL of one of the chart's Services (RELEASE_NAME, ACTIVE_SERVICE). */
export function serviceApiUrl(scheme: string, service: string, namespace: string): string {
    return `${scheme}://${serviceHost(service, namespace)}:${API_PORT}`;
}

/** The scheme Vault serves in the cluster: https when it terminates TLS itself (server.tls.mode internal). */
export function vaultScheme(tls: { readonly mode: string }): "https" | "http" {
    return tls.mode === "internal" ? "https" : "http";
}

/** Where the chart mounts the audit volume (server.auditStorage) in the Vault pod. */
export const AUDIT_MOUNT_PATH = "/vault/audit";

/** The file audit device's log on it (audit.target file); the audit-rotator sidecar rotates it. */
export const AUDIT_FILE_PATH = `${AUDIT_MOUNT_PATH}/vault-audit.log`;

/**
 * Vault's image reference (server.image): `repository:tag`, and `@sha256:...` after it when a
 * digest pins it (the runtime then pulls by digest; the tag stays for people reading the spec).
 */
export function vaultImageRef(image: {
    readonly repository: string;
    readonly tag: string;
    readonly digest?: string;
}): string {
    return `${image.repository}:${vaultImageTag(image)}`;
}

/** The chart's `server.image.tag` for server.image: the tag, with `@<digest>` when pinned (the chart renders repository:tag). */
export function vaultImageTag(image: { readonly tag: string; readonly digest?: string }): string {
    return image.digest === undefined ? image.tag : `${image.tag}@${image.digest}`;
}
