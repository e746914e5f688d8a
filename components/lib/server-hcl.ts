/**
 * Renders Vault's server configuration (HCL) from plain, already-resolved
 * values. No Pulumi here: the component resolves Outputs first, so the text is
 * tested exactly and parsed by a real HCL parser in the specs.
 *
 * The text goes into the chart's `server.standalone.config` or
 * `server.ha.raft.config`. The chart passes it through Helm's `tpl` and then
 * through `sed` in the container, replacing HOST_IP, POD_IP, HOSTNAME,
 * API_ADDR, TRANSIT_ADDR and RAFT_ADDR; the chart also adds
 * `disable_mlock = true` itself (the container runs without IPC_LOCK), so this
 * renderer never writes it (a second one would be a duplicate attribute).
 */

import { API_PORT, CLUSTER_PORT, INTERNAL_SERVICE, METRICS_PORT, podApiUrl, serverPodName } from "./contracts";

/** Where Secrets are mounted in the Vault pod: /vault/userconfig/<secret name>/. */
export const USERCONFIG_DIR = "/vault/userconfig";
/** Raft data directory: the chart's `server.dataStorage.mountPath`. */
export const RAFT_DATA_PATH = "/vault/data";
/** Kept long enough for two scrapes at a 30s interval. */
export const PROMETHEUS_RETENTION = "60s";

/** Tokens the chart's container command replaces with `sed` before Vault reads the file. */
export const CHART_PLACEHOLDERS = ["HOST_IP", "POD_IP", "HOSTNAME", "API_ADDR", "TRANSIT_ADDR", "RAFT_ADDR"] as const;

/**
 * File names of the seal's own keys in their mounted Secret. Vault reads them
 * through `file://` (content used as is, so the Secret holds no trailing newline).
 */
export const SEAL_KEY_FILES = { accessKeyId: "access-key-id", secretAccessKey: "secret-access-key" } as const;

export interface S3StorageHcl {
    readonly bucket: string;
    readonly region: string;
    /** S3-compatible endpoint URL; unset on AWS. */
    readonly endpoint?: string;
    readonly forcePathStyle: boolean;
    /** Key prefix inside the bucket (Vault's `path`). */
    readonly prefix?: string;
    /** SSE-KMS key for the objects. */
    readonly kmsKeyId?: string;
}

export interface RaftStorageHcl {
    /** Number of Vault pods; each one is a retry_join target. */
    readonly replicas: number;
}

export interface AwsKmsSealHcl {
    readonly region: string;
    readonly kmsKeyId: string;
    /**
     * Directory of a mounted Secret holding `access-key-id` and
     * `secret-access-key` files, when the seal has its own static credentials
     * (s3-compatible storage with an AWS KMS seal). Referenced with Vault's
     * `file://` indirection: the HCL holds the path, never the key.
     */
    readonly credentialsDir?: string;
}

export interface ServerHclInput {
    /** Exactly one of s3 or raft. */
    readonly s3?: S3StorageHcl;
    readonly raft?: RaftStorageHcl;
    /** The awskms seal; unset for Shamir keys. */
    readonly seal?: AwsKmsSealHcl;
    /** TLS on the listener; unset disables TLS (it ends at the ingress). */
    readonly tls?: {
        /** Directory of the mounted Secret with tls.crt and tls.key. */
        readonly certDir: string;
        /** CA file for raft peers to verify each other (retry_join). */
        readonly caFile?: string;
    };
    /**
     * The address Vault advertises to clients (`api_addr`) in standalone mode.
     * Raft pods each advertise their own (`<scheme>://<pod>.vault-internal:8200`).
     */
    readonly apiAddr: string;
    readonly logLevel: "trace" | "debug" | "info" | "warn" | "error";
    /**
     * A second listener on METRICS_PORT that serves /v1/sys/metrics without a
     * token, for the monitoring namespace only (NetworkPolicy); the API
     * listener, which the Ingress exposes, always asks for a token.
     */
    readonly metricsListener?: boolean;
}

/** Names each value in error messages, so a bad value points at its config key. */
const KEYS = {
    bucket: "storage.bucket",
    region: "storage.region",
    endpoint: "storage.endpoint",
    prefix: "storage.prefix",
    storageKms: "storage KMS key id",
    sealRegion: "unseal.kmsRegion",
    sealKey: "unseal.kmsKeyId",
    path: "a mounted Secret path",
    apiAddr: "api_addr",
};

/**
 * A quoted HCL string. Quotes and backslashes are escaped; what HCL, Helm's
 * `tpl` or the chart's `sed` would rewrite is refused with the key's name,
 * because the value would silently reach Vault changed.
 */
export function hclString(value: string, key: string): string {
    const refuse = (what: string) => {
        throw new Error(`secret-platform:${key}: must not contain ${what} (value ${JSON.stringify(value)})`);
    };
    if (/[\u0000-\u001f\u007f]/.test(value)) refuse("control characters or line breaks");
    if (value.includes("${") || value.includes("%{")) refuse("'${' or '%{' (HCL template syntax)");
    if (value.includes("{{") || value.includes("}}"))
        refuse("'{{' or '}}' (the chart renders the config with Helm tpl)");
    for (const token of CHART_PLACEHOLDERS) {
        if (value.includes(token)) refuse(`'${token}' (the chart's container replaces it with sed)`);
    }
    return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function attributes(entries: [string, string | undefined][], indent: string): string[] {
    const present = entries.filter((e): e is [string, string] => e[1] !== undefined);
    const width = Math.max(...present.map(([k]) => k.length));
    return present.map(([k, v]) => `${indent}${k.padEnd(width)} = ${v}`);
}

function block(header: string, body: string[], indent = ""): string[] {
    if (body.length === 0) return [`${indent}${header} {}`];
    return [`${indent}${header} {`, ...body, `${indent}}`];
}

/** The server configuration for the chart, ending in a newline. */
export function renderServerHcl(input: ServerHclInput): string {
    if ((input.s3 === undefined) === (input.raft === undefined)) {
        throw new Error("renderServerHcl: exactly one of s3 or raft storage must be given");
    }
    const scheme = input.tls === undefined ? "http" : "https";
    const lines: string[] = [
        "# Rendered by secret-platform from the stack config: change the config, not this text.",
        "# The chart adds disable_mlock = true (the container has no IPC_LOCK capability).",
        ...attributes(
            [
                ["ui", "true"],
                ["log_level", hclString(input.logLevel, "server.logLevel")],
                ["log_format", '"json"'],
                // HOSTNAME is the pod name, filled in by the chart's container command.
                [
                    "api_addr",
                    input.raft ? `"${podApiUrl(scheme, "HOSTNAME")}"` : hclString(input.apiAddr, KEYS.apiAddr),
                ],
                ["cluster_addr", input.raft ? `"https://HOSTNAME.${INTERNAL_SERVICE}:${CLUSTER_PORT}"` : undefined],
            ],
            "",
        ),
        "",
    ];

    const tls = input.tls;
    const listener = attributes(
        [
            ["address", `"[::]:${API_PORT}"`],
            ["cluster_address", `"[::]:${CLUSTER_PORT}"`],
            ["tls_disable", tls === undefined ? "true" : undefined],
            ["tls_cert_file", tls ? hclString(`${tls.certDir}/tls.crt`, KEYS.path) : undefined],
            ["tls_key_file", tls ? hclString(`${tls.certDir}/tls.key`, KEYS.path) : undefined],
            ["tls_min_version", tls ? '"tls12"' : undefined],
        ],
        "  ",
    );
    lines.push(...block('listener "tcp"', listener), "");
    if (input.metricsListener === true) {
        // The scraper reads /v1/sys/metrics here without a token; the NetworkPolicy admits only its namespace.
        const metrics = attributes(
            [
                ["address", `"[::]:${METRICS_PORT}"`],
                ["tls_disable", tls === undefined ? "true" : undefined],
                ["tls_cert_file", tls ? hclString(`${tls.certDir}/tls.crt`, KEYS.path) : undefined],
                ["tls_key_file", tls ? hclString(`${tls.certDir}/tls.key`, KEYS.path) : undefined],
                ["tls_min_version", tls ? '"tls12"' : undefined],
            ],
            "  ",
        );
        metrics.push("", ...block("telemetry", ["    unauthenticated_metrics_access = true"], "  "));
        lines.push(...block('listener "tcp"', metrics), "");
    }

    if (input.s3) {
        const s3 = input.s3;
        lines.push(
            ...block(
                'storage "s3"',
                attributes(
                    [
                        ["bucket", hclString(s3.bucket, KEYS.bucket)],
                        ["region", hclString(s3.region, KEYS.region)],
                        ["endpoint", s3.endpoint === undefined ? undefined : hclString(s3.endpoint, KEYS.endpoint)],
                        ["s3_force_path_style", s3.forcePathStyle ? '"true"' : undefined],
                        ["path", s3.prefix === undefined ? undefined : hclString(s3.prefix, KEYS.prefix)],
                        ["kms_key_id", s3.kmsKeyId === undefined ? undefined : hclString(s3.kmsKeyId, KEYS.storageKms)],
                    ],
                    "  ",
                ),
            ),
            "",
        );
    } else if (input.raft) {
        const body = [`  path = ${hclString(RAFT_DATA_PATH, KEYS.path)}`];
        for (let i = 0; i < input.raft.replicas; i++) {
            body.push(
                "",
                ...block(
                    "retry_join",
                    attributes(
                        [
                            ["leader_api_addr", `"${podApiUrl(scheme, serverPodName(i))}"`],
                            [
                                "leader_ca_cert_file",
                                tls?.caFile === undefined ? undefined : hclString(tls.caFile, KEYS.path),
                            ],
                        ],
                        "    ",
                    ),
                    "  ",
                ),
            );
        }
        lines.push(...block('storage "raft"', body), "");
        // Labels the pods active/standby so the chart's vault-active service finds the leader.
        lines.push('service_registration "kubernetes" {}', "");
    }

    if (input.seal) {
        const seal = input.seal;
        const dir = seal.credentialsDir;
        lines.push(
            ...block(
                'seal "awskms"',
                attributes(
                    [
                        ["region", hclString(seal.region, KEYS.sealRegion)],
                        ["kms_key_id", hclString(seal.kmsKeyId, KEYS.sealKey)],
                        // Vault reads these files at start. AWS_* key env vars would override them (Vault's
                        // configutil maps AWS_ACCESS_KEY_ID onto the seal), so the pod sets none in this case.
                        [
                            "access_key",
                            dir === undefined
                                ? undefined
                                : hclString(`file://${dir}/${SEAL_KEY_FILES.accessKeyId}`, KEYS.path),
                        ],
                        [
                            "secret_key",
                            dir === undefined
                                ? undefined
                                : hclString(`file://${dir}/${SEAL_KEY_FILES.secretAccessKey}`, KEYS.path),
                        ],
                    ],
                    "  ",
                ),
            ),
            "",
        );
    }

    lines.push(
        ...block(
            "telemetry",
            attributes(
                [
                    ["prometheus_retention_time", `"${PROMETHEUS_RETENTION}"`],
                    ["disable_hostname", "true"],
                ],
                "  ",
            ),
        ),
    );
    return lines.join("\n") + "\n";
}
