import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { isKmsKeyArn } from "./lib/storage-policies";

/** The Pulumi config namespace of this project (the `name` in Pulumi.yaml). */
export const CONFIG_NAMESPACE = "secret-platform";

/** Where the Vault ACL policies live; one policy a file, named after the file. */
export const POLICY_DIR = path.join(__dirname, "..", "policies");

// ---------------------------------------------------------------------------
// Reusable field schemas. Every message completes "<key>: ..." so that the
// error line reads as a sentence naming the key.
// ---------------------------------------------------------------------------

const dnsLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const hostnamePattern = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const durationPattern = /^\d+(s|m|h)$/;
const quantityPattern = /^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const semverPattern = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;
const cidrPattern = /^(\d{1,3}\.){3}\d{1,3}\/(\d|[12]\d|3[0-2])$|^[0-9a-fA-F:]+\/\d{1,3}$/;
const cronPattern = /^(\S+\s+){4}\S+$/;

/** Default image of the raft snapshot upload step: the AWS CLI (it has sh); before 2.23, whose default checksums S3-compatible servers may refuse. */
export const SNAPSHOT_UPLOAD_IMAGE = "amazon/aws-cli:2.15.61";
/** The machine-only policy of the raft snapshot job: never mapped to SSO groups. */
export const RAFT_SNAPSHOT_POLICY = "raft-snapshot";
/** The machine-only policy of the Vault provider's token (docs/bootstrap.md): never mapped to SSO groups. */
export const PULUMI_POLICY = "pulumi";
const MACHINE_POLICIES: readonly string[] = [RAFT_SNAPSHOT_POLICY, PULUMI_POLICY];

const hostname = z.string().regex(hostnamePattern, "must be a lower-case DNS name (e.g. vault.amiya.akn)");
const k8sName = z
    .string()
    .regex(dnsLabel, "must be a Kubernetes name (lower-case letters, digits and '-', at most 63)");
const duration = z.string().regex(durationPattern, "must be a duration such as 30s, 10m or 1h");
const quantity = z.string().regex(quantityPattern, "must be a Kubernetes quantity such as 250m, 512Mi or 10Gi");
const cidr = z.string().regex(cidrPattern, "must be a CIDR block such as 10.0.0.0/8");
const port = z.number().int().min(1).max(65535);

function urlWith(schemes: readonly string[], what: string) {
    return z.string().refine((v) => {
        try {
            const u = new URL(v);
            return schemes.includes(u.protocol) && u.hostname !== "";
        } catch {
            return false;
        }
    }, what);
}
const httpsUrl = urlWith(["https:"], "must be an https URL");
const httpUrl = urlWith(["https:", "http:"], "must be an http or https URL");

/** A PEM certificate; only the armour is checked, the API server checks the rest. */
const pemCertificate = z
    .string()
    .refine(
        (v) => v.includes("-----BEGIN CERTIFICATE-----") && v.includes("-----END CERTIFICATE-----"),
        "must be a PEM certificate (-----BEGIN CERTIFICATE-----)",
    );

/** The PEM blocks of a bundle, in order (armour included). */
export function pemCertificates(bundle: string): string[] {
    return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

/** A PEM bundle of one or more CA certificates, each parsed as X.509 (what every client will be given). */
const caBundle = z.string().superRefine((v, ctx) => {
    const blocks = pemCertificates(v);
    if (blocks.length === 0) {
        ctx.addIssue({
            code: "custom",
            message: "must be a PEM bundle of CA certificates (-----BEGIN CERTIFICATE-----)",
        });
        return;
    }
    blocks.forEach((pem, i) => {
        try {
            new crypto.X509Certificate(pem);
        } catch (e) {
            ctx.addIssue({
                code: "custom",
                message: `certificate ${i + 1} of ${blocks.length} is not a valid X.509 certificate (${(e as Error).message})`,
            });
        }
    });
});

// S3 bucket naming rules (the subset that also holds for Garage and MinIO).
const bucketName = z
    .string()
    .regex(
        /^(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
        "must be a valid S3 bucket name (3-63 lower-case letters, digits, '.' and '-')",
    );

const kvMountSettings = {
    /** Versions kept per secret (0 = Vault's default of 10). */
    maxVersions: z.number().int().min(0).max(1000).default(10),
    /** Require check-and-set on every write. */
    casRequired: z.boolean().default(false),
    /** Delete versions older than this; "0s" keeps them. */
    deleteVersionAfter: duration.default("0s"),
};

const resourceMap = z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() });

// ---------------------------------------------------------------------------
// One schema per top-level key. Defaults live here and only here.
// ---------------------------------------------------------------------------

const clusterSchema = z.strictObject({
    /** The cluster's name: names the KV mount, auth mount and store (e.g. amiya.akn). */
    name: hostname,
    /** The DNS domain services of this cluster live under. */
    domain: hostname,
});

const storageSchema = z.strictObject({
    /** `aws`: a hardened bucket with IAM and KMS; `s3-compatible`: Garage/MinIO. */
    mode: z.enum(["aws", "s3-compatible"]),
    bucket: bucketName,
    region: z.string().min(1, "must not be empty"),
    /** Endpoint of the S3-compatible server (s3-compatible mode only). */
    endpoint: httpUrl.optional(),
    /** Path-style addressing; default true for s3-compatible, false for aws. */
    forcePathStyle: z.boolean().optional(),
    /** Key prefix inside the bucket for Vault's data (Vault's `path`). */
    prefix: z
        .string()
        .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/$/, "must be a relative key prefix ending in '/' (e.g. vault/)")
        .optional(),
    /** Object versioning; must stay on in aws mode (it is the restore window). */
    versioning: z.boolean().default(true),
    /** Days noncurrent object versions are kept: the point-in-time restore window. */
    noncurrentVersionExpirationDays: z.number().int().min(1).max(3650).default(30),
    /** Days after which incomplete multipart uploads are aborted. */
    abortIncompleteMultipartUploadDays: z.number().int().min(1).max(365).default(7),
    /** aws mode: `user` (IAM user + access key) or `role` (IRSA / pod identity). */
    identity: z.enum(["user", "role"]).optional(),
    /** aws mode with identity `role`: the cluster's OIDC provider for IRSA. */
    irsa: z
        .strictObject({
            oidcProviderArn: z
                .string()
                .regex(/^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/.+$/, "must be an IAM OIDC provider ARN"),
            oidcProviderUrl: z
                .string()
                .regex(/^[a-z0-9.-]+(\/[A-Za-z0-9._-]+)*$/, "must be the provider's host and path without https://"),
        })
        .optional(),
    /** aws mode: the KMS keys' deletion window in days. */
    kmsDeletionWindowDays: z.number().int().min(7).max(30).default(30),
    /** `protect` on the bucket and keys (they are retained on delete regardless). Off is for throw-away stacks. */
    protect: z.boolean().default(true),
    /** false: use an existing bucket (e.g. made with `garage bucket create`); no S3 resource, no aws.Provider. */
    createBucket: z.boolean().default(true),
});

const unsealSchema = z.strictObject({
    /** `awskms`: Vault's awskms seal; `shamir`: unseal keys in a Secret, submitted by the unsealer. */
    mode: z.enum(["awskms", "shamir"]).optional(),
    secretShares: z.number().int().min(1).max(255).default(5),
    secretThreshold: z.number().int().min(1).max(255).default(3),
    recoveryShares: z.number().int().min(1).max(255).default(5),
    recoveryThreshold: z.number().int().min(1).max(255).default(3),
    /** An existing KMS key for the seal; required with s3-compatible storage. */
    kmsKeyId: z.string().min(1).optional(),
    /** Region of the seal's KMS key; defaults to the region in kmsKeyId when it is a key ARN, else storage.region. */
    kmsRegion: z.string().min(1).optional(),
    /** CronJob schedule of the unsealer (shamir mode). */
    schedule: z.string().regex(cronPattern, "must be a five-field cron schedule").default("* * * * *"),
    /** The long-running unseal loop, for a shorter outage after a restart. */
    loop: z
        .strictObject({
            enabled: z.boolean().default(true),
            intervalSeconds: z.number().int().min(1).max(3600).default(5),
        })
        .prefault({}),
    /** Name of the Kubernetes Secret that holds the unseal keys. */
    secretName: k8sName.default("vault-unseal-keys"),
});

/** server.snapshots: the raft snapshot CronJob. */
const snapshotsSchema = z.strictObject({
    enabled: z.boolean().default(true),
    /** CronJob schedule of the snapshot job. */
    schedule: z.string().regex(cronPattern, "must be a five-field cron schedule").default("0 */6 * * *"),
    /** Key prefix of the snapshots, under storage.prefix. */
    prefix: z
        .string()
        .regex(
            /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/$/,
            "must be a relative key prefix ending in '/' (e.g. snapshots/)",
        )
        .default("snapshots/"),
    /** The S3 CLI image of the upload step, pinned. */
    image: z
        .string()
        .regex(/^[a-z0-9./_-]+:[A-Za-z0-9._-]+$/, "must be an image with an exact tag (repository:tag)")
        .default(SNAPSHOT_UPLOAD_IMAGE),
});

const serverSchema = z.strictObject({
    namespace: k8sName.default("vault"),
    chartVersion: z.string().regex(semverPattern, "must be an exact chart version such as 0.34.1").default("0.34.1"),
    chartRepository: httpsUrl.default("https://helm.releases.hashicorp.com"),
    image: z
        .strictObject({
            repository: z.string().min(1).default("hashicorp/vault"),
            tag: z.string().regex(semverPattern, "must be an exact Vault version such as 2.0.4").default("2.0.4"),
        })
        .prefault({}),
    /** `s3` (the bucket, standalone only) or `raft` (integrated storage, HA capable). */
    storageBackend: z.enum(["s3", "raft"]).default("s3"),
    /** Vault pods: 1 with S3 storage; 1, 3 or 5 with raft. */
    replicas: z.number().int().min(1).default(1),
    resources: z
        .strictObject({
            requests: resourceMap.default({ cpu: "100m", memory: "256Mi" }),
            limits: resourceMap.default({ memory: "512Mi" }),
        })
        .prefault({}),
    tls: z
        .strictObject({
            /** `ingress`: TLS ends at the ingress, Vault listens in plain HTTP inside the cluster; `internal`: Vault serves TLS itself. */
            mode: z.enum(["ingress", "internal"]).default("ingress"),
            /** Secret with tls.crt/tls.key (internal mode). */
            secretName: k8sName.optional(),
            /** Secret holding ca.crt when the certificate comes from a private CA. */
            caSecretName: k8sName.optional(),
        })
        .prefault({}),
    auditStorage: z
        .strictObject({ size: quantity.default("2Gi"), storageClass: z.string().min(1).optional() })
        .prefault({}),
    dataStorage: z
        .strictObject({ size: quantity.default("10Gi"), storageClass: z.string().min(1).optional() })
        .prefault({}),
    logLevel: z.enum(["trace", "debug", "info", "warn", "error"]).default("info"),
    /**
     * How networkPolicy.monitoringNamespace scrapes the metrics listener:
     * `annotations` (prometheus.io/* on the pods, the default) or
     * `serviceMonitor` (a Service and a Prometheus Operator ServiceMonitor).
     */
    metricsScrape: z.enum(["annotations", "serviceMonitor"]).optional(),
    /**
     * Scheduled raft snapshots to the storage bucket (raft only; on by default
     * there, since the bucket no longer holds the live data). Unset here and
     * defaulted in resolve(), so that setting it with s3 storage is refused.
     */
    snapshots: snapshotsSchema.optional(),
});

const exposureSchema = z.strictObject({
    /** `ingress`, `httproute` (Gateway API) or `none`. */
    kind: z.enum(["ingress", "httproute", "none"]).default("ingress"),
    /** Host name of the UI and API; defaults to vault.<cluster.domain>. */
    host: hostname.optional(),
    className: z.string().min(1).optional(),
    tlsSecretName: k8sName.default("vault-tls"),
    certManagerIssuer: z.string().min(1).optional(),
    certManagerIssuerKind: z.enum(["ClusterIssuer", "Issuer"]).default("ClusterIssuer"),
    gateway: z
        .strictObject({ name: k8sName, namespace: k8sName, sectionName: z.string().min(1).optional() })
        .optional(),
});

const labelKey = z
    .string()
    .regex(
        /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
        "must be a label key such as app.kubernetes.io/name",
    );
const labelValue = z
    .string()
    .regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, "must be a label value such as traefik");
/** An in-cluster peer: pods of a namespace (optionally only those with these labels), on their container ports. */
const egressNamespacePeer = z.strictObject({
    name: k8sName,
    podLabels: z.record(labelKey, labelValue).optional(),
    /** The peer pods' container ports; defaults to the rule's ports. */
    ports: z.array(port).min(1).optional(),
});
/** At least one of cidrs/namespaces: checked in checkRules, which names the key. */
const egressRule = z.strictObject({
    cidrs: z.array(cidr).min(1).optional(),
    namespaces: z.array(egressNamespacePeer).min(1).optional(),
    ports: z.array(port).min(1).default([443]),
});

const networkPolicySchema = z.strictObject({
    enabled: z.boolean().default(true),
    /** Namespace of the ingress controller or gateway that reaches Vault on 8200. */
    ingressNamespace: k8sName.default("ingress-nginx"),
    /** Namespace of the metrics scraper; unset to allow none. */
    monitoringNamespace: k8sName.optional(),
    /** Further namespaces allowed to reach Vault on 8200. */
    extraIngressNamespaces: z.array(k8sName).default([]),
    /** Namespace of the cluster DNS. */
    dnsNamespace: k8sName.default("kube-system"),
    egress: z
        .strictObject({
            s3: egressRule.optional(),
            kms: egressRule.optional(),
            oidc: egressRule.optional(),
            kubernetesApi: egressRule.optional(),
        })
        .prefault({}),
});

const trustSchema = z.strictObject({
    /**
     * PEM bundle of the CA(s) that sign the cluster's private endpoints (Vault's
     * address, the S3 endpoint, the OIDC issuer): every client this program
     * configures trusts it. Unset: public roots only.
     */
    caBundle: caBundle.optional(),
});

const vaultSchema = z.strictObject({
    /** Address the Pulumi program (and the Vault provider) uses; defaults to https://<exposure.host>. */
    address: httpUrl.optional(),
    skipTlsVerify: z.boolean().default(false),
    /** Seconds bootstrap waits for the API to answer. */
    waitTimeoutSeconds: z.number().int().min(10).max(3600).default(600),
});

const auditSchema = z.strictObject({
    enabled: z.boolean().default(true),
    /** `file` writes to the audit volume, `stdout` to the pod log. */
    target: z.enum(["file", "stdout"]).default("file"),
    path: z
        .string()
        .regex(/^[a-z0-9-]+$/, "must be a mount path such as file")
        .default("file"),
});

const kvSchema = z.strictObject({
    /** Settings of the cluster's own mount (named after cluster.name). */
    cluster: z.strictObject(kvMountSettings).prefault({}),
    /** Shared mounts, and the paths in each that this cluster's store may read. */
    shared: z
        .array(
            z.strictObject({
                name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "must be a mount name such as shared"),
                description: z.string().optional(),
                ...kvMountSettings,
                readablePaths: z
                    .array(
                        z
                            .string()
                            .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, "must be a relative path such as common"),
                    )
                    .default(["common"]),
            }),
        )
        .default([
            {
                name: "shared",
                maxVersions: 10,
                casRequired: false,
                deleteVersionAfter: "0s",
                readablePaths: ["common"],
            },
        ]),
});

const oidcSchema = z.strictObject({
    enabled: z.boolean().default(true),
    issuer: httpsUrl.optional(),
    /** CA (PEM) of the issuer's certificate when a private CA signed it; overrides trust.caBundle for discovery (unset: trust.caBundle, else Vault's system roots). */
    discoveryCaPem: pemCertificate.optional(),
    clientId: z.string().min(1).default("vault"),
    path: z
        .string()
        .regex(/^[a-z0-9-]+$/, "must be a mount path such as oidc")
        .default("oidc"),
    defaultRole: z
        .string()
        .regex(/^[a-z0-9-]+$/, "must be a role name")
        .default("default"),
    groupsClaim: z.string().min(1).default("groups"),
    scopes: z.array(z.string().min(1)).default(["openid", "profile", "email", "groups"]),
    tokenTtl: duration.default("1h"),
    tokenMaxTtl: duration.default("8h"),
    /** SSO group name to Vault policy names. */
    groups: z.record(z.string().min(1), z.array(z.string().min(1)).min(1, "must list at least one policy")).default({}),
});

const remoteCluster = z.strictObject({
    name: hostname,
    host: httpsUrl,
    caCert: pemCertificate,
    serviceAccount: k8sName.default("external-secrets"),
    namespace: k8sName.default("external-secrets"),
});

const kubernetesAuthSchema = z.strictObject({
    /** Mount path; defaults to kubernetes-<cluster.name>. */
    path: z
        .string()
        .regex(/^[a-z0-9][a-z0-9._-]*$/, "must be a mount path")
        .optional(),
    /** The API server Vault talks to for TokenReview (Vault runs in this cluster). */
    host: httpsUrl.default("https://kubernetes.default.svc"),
    /** CA of that API server; unset uses the CA mounted in Vault's pod. */
    caCert: pemCertificate.optional(),
    role: z
        .string()
        .regex(/^[a-z0-9-]+$/, "must be a role name")
        .default("external-secrets"),
    tokenTtl: duration.default("10m"),
    tokenMaxTtl: duration.default("20m"),
    /** Other clusters whose External Secrets read from this Vault. */
    remoteClusters: z.array(remoteCluster).default([]),
});

const externalSecretsSchema = z.strictObject({
    namespace: k8sName.default("external-secrets"),
    serviceAccount: k8sName.default("external-secrets"),
    /** Name of the ClusterSecretStore; defaults to vault-<cluster.name with '.' as '-'>. */
    storeName: k8sName.optional(),
    /** Install External Secrets Operator from its chart here. */
    install: z.boolean().default(false),
    chartVersion: z.string().regex(semverPattern, "must be an exact chart version such as 2.9.0").default("2.9.0"),
    chartRepository: httpsUrl.default("https://charts.external-secrets.io"),
    /** Vault URL the store uses; defaults to the in-cluster service. */
    serverUrl: httpUrl.optional(),
    /** Namespaces allowed to use the store (by name or label); unset allows all. */
    namespaceConditions: z
        .array(
            z.strictObject({
                namespaces: z.array(k8sName).optional(),
                namespaceSelector: z.strictObject({ matchLabels: z.record(z.string(), z.string()) }).optional(),
            }),
        )
        .optional(),
    /** Create a smoke ExternalSecret that proves the chain after deploy. */
    smokeTest: z.boolean().default(false),
});

const kubernetesSchema = z.strictObject({
    /** kubeconfig context; unset uses the current context. */
    context: z.string().min(1).optional(),
});

/** Every structured key: the project's config surface (exported for docs and tests). */
export const CONFIG_SCHEMAS = {
    cluster: clusterSchema,
    storage: storageSchema,
    unseal: unsealSchema.prefault({}),
    server: serverSchema.prefault({}),
    exposure: exposureSchema.prefault({}),
    networkPolicy: networkPolicySchema.prefault({}),
    vault: vaultSchema.prefault({}),
    trust: trustSchema.prefault({}),
    audit: auditSchema.prefault({}),
    kv: kvSchema.prefault({}),
    oidc: oidcSchema.prefault({}),
    kubernetesAuth: kubernetesAuthSchema.prefault({}),
    externalSecrets: externalSecretsSchema.prefault({}),
    kubernetes: kubernetesSchema.prefault({}),
} as const;

/**
 * Keys that hold secrets. They are top-level so that marking one secret does
 * not turn a whole object (and every output derived from it) into a secret.
 */
export const SECRET_KEYS = {
    oidcClientSecret: "the OIDC client secret registered in Authelia",
    storageAccessKeyId: "access key id for the S3-compatible storage",
    storageSecretAccessKey: "secret access key for the S3-compatible storage",
    sealAccessKeyId: "AWS access key id for the awskms seal when storage is S3-compatible",
    sealSecretAccessKey: "AWS secret access key for the awskms seal when storage is S3-compatible",
    vaultToken: "a root or pulumi-policy token bootstrap mints the provider's token with (break-glass, adoption)",
    remoteClusterReviewerJwts: "object: remote cluster name to its token-reviewer JWT",
} as const;
export type SecretKey = keyof typeof SECRET_KEYS;

export type ObjectKey = keyof typeof CONFIG_SCHEMAS;
export const OBJECT_KEYS = Object.keys(CONFIG_SCHEMAS) as ObjectKey[];
const REQUIRED_KEYS: readonly ObjectKey[] = ["cluster", "storage"];

type Parsed = { [K in ObjectKey]: z.output<(typeof CONFIG_SCHEMAS)[K]> };

/** The validated, defaulted stack config every component reads. */
export interface PlatformConfig {
    readonly cluster: Parsed["cluster"];
    readonly storage: Parsed["storage"] & {
        readonly forcePathStyle: boolean;
        readonly identity: "user" | "role";
    };
    readonly unseal: Parsed["unseal"] & { readonly mode: "awskms" | "shamir"; readonly kmsRegion: string };
    readonly server: Parsed["server"];
    readonly exposure: Parsed["exposure"] & { readonly host: string };
    readonly networkPolicy: Parsed["networkPolicy"];
    readonly vault: Parsed["vault"] & { readonly address: string };
    readonly trust: Parsed["trust"];
    readonly audit: Parsed["audit"];
    readonly kv: Parsed["kv"];
    readonly oidc: Parsed["oidc"];
    readonly kubernetesAuth: Parsed["kubernetesAuth"] & { readonly path: string };
    readonly externalSecrets: Parsed["externalSecrets"] & { readonly storeName: string };
    readonly kubernetes: Parsed["kubernetes"];
    /** Secret values, only ever as secret Outputs. */
    readonly secrets: {
        readonly oidcClientSecret?: pulumi.Output<string>;
        readonly storageAccessKeyId?: pulumi.Output<string>;
        readonly storageSecretAccessKey?: pulumi.Output<string>;
        readonly sealAccessKeyId?: pulumi.Output<string>;
        readonly sealSecretAccessKey?: pulumi.Output<string>;
        readonly vaultToken?: pulumi.Output<string>;
        readonly remoteClusterReviewerJwts?: pulumi.Output<Record<string, string>>;
    };
}

/** Thrown by loadConfig with one line a problem. */
export class ConfigError extends Error {
    constructor(readonly problems: readonly string[]) {
        super(
            `invalid stack config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  ${problems.join("\n  ")}`,
        );
        this.name = "ConfigError";
    }
}

/** Where loadConfig reads raw values; the default is the running stack's config. */
export interface ConfigSource {
    /** Raw string value of `secret-platform:<key>`, or undefined. */
    get(key: string): string | undefined;
    /** Whether the key was set with --secret. */
    isSecret(key: string): boolean;
    /** Every key set in this project's namespace. */
    keys(): string[];
}

/** The running program's config, as the Pulumi engine handed it over. */
export function stackConfigSource(): ConfigSource {
    // isConfigSecret is not in the SDK's typings; it is what Config.get uses to warn.
    const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(k: string): boolean };
    const prefix = `${CONFIG_NAMESPACE}:`;
    return {
        get: (key) => pulumi.runtime.getConfig(prefix + key),
        isSecret: (key) => runtimeConfig.isConfigSecret(prefix + key),
        keys: () =>
            Object.keys(pulumi.runtime.allConfig())
                .filter((k) => k.startsWith(prefix))
                .map((k) => k.slice(prefix.length)),
    };
}

function formatPath(segments: readonly PropertyKey[]): string {
    return segments.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? String(s) : `.${String(s)}`)).join("");
}

function describeIssue(issue: z.core.$ZodIssue): string {
    switch (issue.code) {
        case "invalid_type":
            return issue.input === undefined ? "is required" : `must be ${article(issue.expected)}`;
        case "unrecognized_keys":
            return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `'${k}'`).join(", ")}`;
        case "invalid_value":
            return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
        case "too_small":
            return issue.origin === "array" || issue.origin === "string"
                ? issue.message.startsWith("must")
                    ? issue.message
                    : `must have at least ${String(issue.minimum)} ${issue.origin === "array" ? "item(s)" : "character(s)"}`
                : `must be at least ${String(issue.minimum)}`;
        case "too_big":
            return `must be at most ${String(issue.maximum)}`;
        case "invalid_key":
            // A record key that fails its own schema (e.g. a label key): that schema's message.
            return issue.issues[0]?.message ?? issue.message;
        default:
            return issue.message;
    }
}

function article(type: string): string {
    const names: Record<string, string> = {
        string: "a string",
        number: "a number",
        int: "an integer",
        boolean: "true or false",
        object: "an object",
        array: "a list",
        record: "an object",
    };
    return names[type] ?? type;
}

function parseJsonValue(raw: string): unknown {
    try {
        return JSON.parse(raw);
    } catch {
        return raw; // a plain string value: the schema reports the type
    }
}

/**
 * Reads the whole stack config, validates every key and the rules between
 * them, applies defaults, and returns the typed config. Throws one ConfigError
 * that lists every problem; nothing is created before this returns.
 */
export function loadConfig(source: ConfigSource = stackConfigSource()): PlatformConfig {
    const problems: string[] = [];
    const fail = (key: string, message: string) => problems.push(`${CONFIG_NAMESPACE}:${key}: ${message}`);

    const known = new Set<string>([...OBJECT_KEYS, ...Object.keys(SECRET_KEYS)]);
    for (const key of source.keys()) {
        if (!known.has(key)) fail(key, `unknown key (known keys: ${[...known].sort().join(", ")})`);
    }

    const parsed: Partial<Parsed> = {};
    for (const key of OBJECT_KEYS) {
        const raw = source.get(key);
        if (raw === undefined && REQUIRED_KEYS.includes(key)) {
            fail(key, "is required (see README, config reference)");
            continue;
        }
        const result = CONFIG_SCHEMAS[key].safeParse(raw === undefined ? undefined : parseJsonValue(raw), {
            reportInput: true,
        });
        if (result.success) {
            (parsed as Record<string, unknown>)[key] = result.data;
        } else {
            for (const issue of result.error.issues) {
                fail(formatPath([key, ...issue.path]), describeIssue(issue));
            }
        }
    }

    // Secret keys: present only with --secret; the value never leaves an Output.
    // "" and {} are the project's declared defaults (Pulumi.yaml) and mean unset.
    const has = (key: SecretKey) => !["", "{}", undefined].includes(source.get(key));
    for (const key of Object.keys(SECRET_KEYS) as SecretKey[]) {
        if (has(key) && !source.isSecret(key)) {
            fail(key, `must be set as a secret: pulumi config set --secret ${key} <value>`);
        }
    }
    let reviewerJwtNames: string[] | undefined;
    if (has("remoteClusterReviewerJwts")) {
        const value = parseJsonValue(source.get("remoteClusterReviewerJwts") ?? "");
        const shape = z.record(z.string(), z.string().min(1)).safeParse(value);
        if (shape.success) reviewerJwtNames = Object.keys(shape.data);
        else fail("remoteClusterReviewerJwts", "must be an object of remote cluster name to JWT string");
    }

    if (problems.length === 0) {
        checkRules(parsed as Parsed, has, reviewerJwtNames, fail);
    }
    if (problems.length > 0) throw new ConfigError(problems);

    return resolve(parsed as Parsed, source, has);
}

/** Rules that span fields or keys. */
function checkRules(
    c: Parsed,
    has: (key: SecretKey) => boolean,
    reviewerJwtNames: string[] | undefined,
    fail: (key: string, message: string) => void,
): void {
    const aws = c.storage.mode === "aws";
    const unsealMode = c.unseal.mode ?? (aws ? "awskms" : "shamir");

    // Storage mode and its options.
    if (aws) {
        if (c.storage.endpoint !== undefined)
            fail("storage.endpoint", "is only for s3-compatible mode (aws mode uses the regional AWS endpoint)");
        if (c.storage.forcePathStyle === true) fail("storage.forcePathStyle", "is only for s3-compatible mode");
        if (!c.storage.versioning)
            fail(
                "storage.versioning",
                "must stay true in aws mode: object versions are the point-in-time restore window",
            );
        if (c.storage.identity === "role" && c.storage.irsa === undefined) {
            fail("storage.irsa", "is required when storage.identity is role (the cluster's OIDC provider ARN and URL)");
        }
        if (c.storage.identity !== "role" && c.storage.irsa !== undefined)
            fail("storage.irsa", "is only used when storage.identity is role");
        for (const key of ["storageAccessKeyId", "storageSecretAccessKey"] as const) {
            if (has(key)) fail(key, "is only for s3-compatible mode (aws mode creates Vault's own IAM credentials)");
        }
        if (!c.storage.createBucket)
            fail(
                "storage.createBucket",
                "must be true in aws mode: the program creates the bucket with its KMS key and Vault's IAM identity scoped to it (use s3-compatible mode for a bucket made elsewhere)",
            );
    } else {
        if (c.storage.endpoint === undefined)
            fail("storage.endpoint", "is required in s3-compatible mode (e.g. https://s3.garage.example)");
        for (const key of ["identity", "irsa"] as const) {
            if (c.storage[key] !== undefined)
                fail(`storage.${key}`, "is an AWS-only option; remove it in s3-compatible mode");
        }
    }

    // Replicas and the storage backend: the S3 backend has no HA.
    if (c.server.storageBackend === "s3" && c.server.replicas > 1) {
        fail(
            "server.replicas",
            "must be 1 with server.storageBackend s3: Vault's S3 storage backend has no HA (use storageBackend raft for 3 or 5 replicas)",
        );
    }
    if (c.server.storageBackend === "raft" && ![1, 3, 5].includes(c.server.replicas)) {
        fail("server.replicas", "must be 1, 3 or 5 with raft storage (an odd quorum)");
    }
    if (c.server.storageBackend === "s3" && c.server.snapshots !== undefined) {
        fail(
            "server.snapshots",
            "is only for server.storageBackend raft (with s3 storage the bucket's object versions are the backup)",
        );
    }
    if (
        c.server.storageBackend === "raft" &&
        (c.server.snapshots?.enabled ?? true) &&
        aws &&
        c.storage.identity === "role"
    ) {
        // The IRSA role trusts Vault's own ServiceAccount only; the snapshot job has static keys or nothing.
        fail(
            "server.snapshots.enabled",
            "must be false with storage.identity role (the snapshot upload needs the IAM user's keys; use storage.identity user, or take snapshots another way)",
        );
    }
    if (c.server.metricsScrape !== undefined && c.networkPolicy.monitoringNamespace === undefined) {
        fail(
            "server.metricsScrape",
            "needs networkPolicy.monitoringNamespace (the namespace of the scraper that may reach the metrics listener)",
        );
    }
    if (c.server.tls.mode === "internal" && c.server.tls.secretName === undefined) {
        fail(
            "server.tls.secretName",
            "is required when server.tls.mode is internal (a Secret with tls.crt and tls.key)",
        );
    }

    // Secrets the chosen modes need.
    for (const [key, reason] of requiredSecrets(c)) {
        if (!has(key)) fail(key, `is required ${reason}: pulumi config set --secret ${key} <value>`);
    }

    // Unseal.
    if (unsealMode === "awskms" && !aws && c.unseal.kmsKeyId === undefined) {
        fail(
            "unseal.kmsKeyId",
            "is required for the awskms unseal mode with s3-compatible storage (in that mode the program creates no AWS resources)",
        );
    }
    if (unsealMode === "awskms" && aws && c.unseal.kmsKeyId !== undefined && !isKmsKeyArn(c.unseal.kmsKeyId)) {
        // Vault's IAM policy names the seal key: an alias or bare id cannot be scoped.
        fail(
            "unseal.kmsKeyId",
            "must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>) in aws mode, so that Vault's IAM policy can name the key",
        );
    }
    if (
        unsealMode === "awskms" &&
        !aws &&
        c.unseal.kmsKeyId !== undefined &&
        c.unseal.kmsRegion === undefined &&
        !isKmsKeyArn(c.unseal.kmsKeyId)
    ) {
        // storage.region names the S3-compatible server's region (e.g. garage), not an AWS one.
        fail(
            "unseal.kmsRegion",
            "is required for the awskms seal with s3-compatible storage when unseal.kmsKeyId is not a key ARN (storage.region is the S3 server's region, not AWS's)",
        );
    }
    if (unsealMode === "shamir" && c.unseal.kmsKeyId !== undefined)
        fail("unseal.kmsKeyId", "is only used with unseal.mode awskms");
    if (unsealMode !== "awskms" || aws) {
        for (const key of ["sealAccessKeyId", "sealSecretAccessKey"] as const) {
            if (has(key)) fail(key, "is only used for the awskms seal with s3-compatible storage");
        }
    }
    const pair =
        unsealMode === "shamir"
            ? (["secretShares", "secretThreshold"] as const)
            : (["recoveryShares", "recoveryThreshold"] as const);
    const shares = c.unseal[pair[0]];
    const threshold = c.unseal[pair[1]];
    if (threshold > shares) fail(`unseal.${pair[1]}`, `must not exceed unseal.${pair[0]} (${shares})`);
    if (shares > 1 && threshold < 2)
        fail(`unseal.${pair[1]}`, `must be at least 2 when unseal.${pair[0]} is above 1 (Vault's rule)`);

    // Egress rules: a rule with no peer would allow nothing (or, rendered empty, everything).
    for (const [target, rule] of Object.entries(c.networkPolicy.egress)) {
        if (rule !== undefined && rule.cidrs === undefined && rule.namespaces === undefined) {
            fail(
                `networkPolicy.egress.${target}`,
                "needs cidrs (addresses outside the cluster) or namespaces (in-cluster pods, e.g. the ingress controller serving that name), or both",
            );
        }
    }

    // Exposure.
    if (c.exposure.kind === "httproute" && c.exposure.gateway === undefined) {
        fail(
            "exposure.gateway",
            "is required when exposure.kind is httproute (the parent Gateway's name and namespace)",
        );
    }
    if (c.exposure.kind !== "httproute" && c.exposure.gateway !== undefined)
        fail("exposure.gateway", "is only used when exposure.kind is httproute");
    if (c.exposure.kind === "httproute" && c.server.tls.mode === "internal") {
        // The Gateway would need a BackendTLSPolicy with Vault's CA, which this program does not build.
        fail(
            "server.tls.mode",
            "internal is not supported with exposure.kind httproute (the Gateway would need a BackendTLSPolicy trusting Vault's CA, which this program does not create): use server.tls.mode ingress, or exposure.kind ingress",
        );
    }

    // OIDC.
    if (c.oidc.enabled) {
        if (c.oidc.issuer === undefined)
            fail("oidc.issuer", "is required when oidc.enabled is true (the Authelia issuer, an https URL)");
        if (!c.oidc.scopes.includes("openid")) fail("oidc.scopes", "must include openid");
        const known = knownPolicyNames();
        for (const [group, policies] of Object.entries(c.oidc.groups)) {
            for (const policy of policies) {
                if (!known.includes(policy))
                    fail(`oidc.groups.${group}`, `unknown policy '${policy}' (known: ${known.join(", ")})`);
            }
        }
    }
    if (durationSeconds(c.oidc.tokenTtl) > durationSeconds(c.oidc.tokenMaxTtl))
        fail("oidc.tokenTtl", "must not exceed oidc.tokenMaxTtl");
    if (durationSeconds(c.kubernetesAuth.tokenTtl) > durationSeconds(c.kubernetesAuth.tokenMaxTtl)) {
        fail("kubernetesAuth.tokenTtl", "must not exceed kubernetesAuth.tokenMaxTtl");
    }

    // KV mounts: unique names, none colliding with the cluster's own mount.
    const names = c.kv.shared.map((m) => m.name);
    names.forEach((name, i) => {
        if (name === c.cluster.name)
            fail(`kv.shared[${i}].name`, `must differ from cluster.name (${name} is the cluster's own mount)`);
        if (names.indexOf(name) !== i) fail(`kv.shared[${i}].name`, `duplicates mount '${name}'`);
    });

    // Remote clusters and their reviewer JWTs.
    const remotes = c.kubernetesAuth.remoteClusters.map((r) => r.name);
    remotes.forEach((name, i) => {
        if (name === c.cluster.name) fail(`kubernetesAuth.remoteClusters[${i}].name`, "must differ from cluster.name");
        if (remotes.indexOf(name) !== i)
            fail(`kubernetesAuth.remoteClusters[${i}].name`, `duplicates remote cluster '${name}'`);
        if (reviewerJwtNames !== undefined && !reviewerJwtNames.includes(name)) {
            fail("remoteClusterReviewerJwts", `is missing the token-reviewer JWT of remote cluster '${name}'`);
        }
    });
    for (const name of reviewerJwtNames ?? []) {
        if (!remotes.includes(name))
            fail("remoteClusterReviewerJwts", `has a JWT for '${name}', which is not in kubernetesAuth.remoteClusters`);
    }

    // Components that must agree on a namespace.
    if (c.externalSecrets.namespace === c.server.namespace) {
        fail("externalSecrets.namespace", "must differ from server.namespace (Vault's namespace is default-deny)");
    }
}

/** The secret keys the parsed config's modes need, each with the reason. */
function requiredSecrets(c: Parsed): [SecretKey, string][] {
    const aws = c.storage.mode === "aws";
    const unsealMode = c.unseal.mode ?? (aws ? "awskms" : "shamir");
    const required: [SecretKey, string][] = [];
    if (!aws) {
        required.push(
            ["storageAccessKeyId", "in s3-compatible mode"],
            ["storageSecretAccessKey", "in s3-compatible mode"],
        );
        if (unsealMode === "awskms") {
            const why = "for the awskms seal with s3-compatible storage";
            required.push(["sealAccessKeyId", why], ["sealSecretAccessKey", why]);
        }
    }
    if (c.oidc.enabled) required.push(["oidcClientSecret", "when oidc.enabled is true"]);
    if (c.kubernetesAuth.remoteClusters.length > 0)
        required.push(["remoteClusterReviewerJwts", "when kubernetesAuth.remoteClusters is set"]);
    return required;
}

/**
 * The secret keys a stack's non-secret config requires, for tools that fill
 * placeholders (the offline plan, tests). Keys whose own config is invalid
 * are skipped: loadConfig reports those.
 */
export function requiredSecretKeys(source: ConfigSource): SecretKey[] {
    const parsed: Record<string, unknown> = {};
    for (const key of OBJECT_KEYS) {
        const raw = source.get(key);
        const result = CONFIG_SCHEMAS[key].safeParse(raw === undefined ? undefined : parseJsonValue(raw));
        if (!result.success) return [];
        parsed[key] = result.data;
    }
    return requiredSecrets(parsed as Parsed).map(([key]) => key);
}

/** Seconds in a duration already checked against durationPattern. */
export function durationSeconds(value: string): number {
    const n = Number(value.slice(0, -1));
    return n * ({ s: 1, m: 60, h: 3600 } as Record<string, number>)[value.slice(-1)];
}

/** Names of the policies in policies/*.hcl, plus Vault's built-in default. */
export function knownPolicyNames(dir: string = POLICY_DIR): string[] {
    const files = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    return [
        "default",
        ...files
            .filter((f) => f.endsWith(".hcl"))
            .map((f) => f.slice(0, -".hcl".length))
            .filter((n) => !MACHINE_POLICIES.includes(n)),
    ].sort();
}

/** The region in a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); undefined for an alias or bare id. */
function kmsKeyArnRegion(keyId: string | undefined): string | undefined {
    return keyId !== undefined && isKmsKeyArn(keyId) ? keyId.split(":")[3] : undefined;
}

/** Derived values: the second and last place defaults are decided. */
function resolve(c: Parsed, source: ConfigSource, has: (key: SecretKey) => boolean): PlatformConfig {
    const aws = c.storage.mode === "aws";
    const host = c.exposure.host ?? `vault.${c.cluster.domain}`;
    const secret = (key: SecretKey): pulumi.Output<string> | undefined =>
        has(key) ? pulumi.secret(source.get(key) as string) : undefined;
    const jwts = has("remoteClusterReviewerJwts")
        ? pulumi.secret(JSON.parse(source.get("remoteClusterReviewerJwts") as string) as Record<string, string>)
        : undefined;
    return {
        ...c,
        storage: {
            ...c.storage,
            forcePathStyle: c.storage.forcePathStyle ?? !aws,
            identity: c.storage.identity ?? "user",
        },
        unseal: {
            ...c.unseal,
            mode: c.unseal.mode ?? (aws ? "awskms" : "shamir"),
            // A key ARN names its region; storage.region is only AWS's in aws mode.
            kmsRegion: c.unseal.kmsRegion ?? kmsKeyArnRegion(c.unseal.kmsKeyId) ?? c.storage.region,
        },
        server: {
            ...c.server,
            // raft: snapshots on unless configured off; s3: never (checkRules refused a setting).
            snapshots: c.server.storageBackend === "raft" ? snapshotsSchema.parse(c.server.snapshots ?? {}) : undefined,
        },
        exposure: { ...c.exposure, host },
        vault: { ...c.vault, address: c.vault.address ?? `https://${host}` },
        kubernetesAuth: { ...c.kubernetesAuth, path: c.kubernetesAuth.path ?? `kubernetes-${c.cluster.name}` },
        externalSecrets: {
            ...c.externalSecrets,
            storeName: c.externalSecrets.storeName ?? `vault-${c.cluster.name.replace(/\./g, "-")}`,
        },
        secrets: {
            oidcClientSecret: secret("oidcClientSecret"),
            storageAccessKeyId: secret("storageAccessKeyId"),
            storageSecretAccessKey: secret("storageSecretAccessKey"),
            sealAccessKeyId: secret("sealAccessKeyId"),
            sealSecretAccessKey: secret("sealSecretAccessKey"),
            vaultToken: secret("vaultToken"),
            remoteClusterReviewerJwts: jwts,
        },
    };
}
