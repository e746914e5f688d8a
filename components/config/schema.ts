/**
 * The stack config's shape: one zod schema per top-level key. Field checks,
 * schema defaults and the descriptions that docs/configuration.md and
 * Pulumi.yaml are generated from (`npm run docs:config`) live here and only
 * here. Defaults that depend on other keys are resolve.ts's; rules between
 * fields are rules/*.ts's.
 */
import * as crypto from "node:crypto";
import { z } from "zod";

/** The Pulumi config namespace of this project (the `name` in Pulumi.yaml). */
export const CONFIG_NAMESPACE = "secret-platform";

/** Default image of the raft snapshot upload step: the AWS CLI (it has sh); before 2.23, whose default checksums S3-compatible servers may refuse. */
export const SNAPSHOT_UPLOAD_IMAGE = "amazon/aws-cli:2.15.61";

/**
 * Metadata the docs generator reads besides zod's own `description`:
 * `constraint` is the rule a value must meet, in the words of its error
 * message; `resolvedDefault` is a default that resolve.ts derives from other
 * keys (the schema itself has none).
 */
export type FieldMeta = {
    readonly description?: string;
    readonly constraint?: string;
    readonly resolvedDefault?: string;
};

/** A field's description, and (optionally) the default resolve.ts derives for it. */
function doc(description: string, resolvedDefault?: string): FieldMeta {
    return resolvedDefault === undefined ? { description } : { description, resolvedDefault };
}

// ---------------------------------------------------------------------------
// Reusable field schemas. Every message completes "<key>: ..." so that the
// error line reads as a sentence naming the key; the same words document it.
// ---------------------------------------------------------------------------

/** A string matching `pattern`; `rule` is both its error message and its documented constraint. */
function matching(pattern: RegExp, rule: string) {
    return z.string().regex(pattern, rule).meta({ constraint: rule });
}

/** A string that passes `test`; `rule` is both its error message and its documented constraint. */
function satisfying(test: (value: string) => boolean, rule: string) {
    return z.string().refine(test, rule).meta({ constraint: rule });
}

const dnsLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const hostnamePattern = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const durationPattern = /^\d+(s|m|h)$/;
const quantityPattern = /^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const semverPattern = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;
const cidrPattern = /^(\d{1,3}\.){3}\d{1,3}\/(\d|[12]\d|3[0-2])$|^[0-9a-fA-F:]+\/\d{1,3}$/;
const cronPattern = /^(\S+\s+){4}\S+$/;
const keyPrefixPattern = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/$/;
const mountPathPattern = /^[a-z0-9-]+$/;

const hostname = matching(hostnamePattern, "must be a lower-case DNS name (e.g. vault.amiya.akn)");
const k8sName = matching(dnsLabel, "must be a Kubernetes name (lower-case letters, digits and '-', at most 63)");
const duration = matching(durationPattern, "must be a duration such as 30s, 10m or 1h");
const quantity = matching(quantityPattern, "must be a Kubernetes quantity such as 250m, 512Mi or 10Gi");
const cidr = matching(cidrPattern, "must be a CIDR block such as 10.0.0.0/8");
const cron = matching(cronPattern, "must be a five-field cron schedule");
const port = z.number().int().min(1).max(65535);
const nonEmpty = z.string().min(1, "must not be empty");

function urlWith(schemes: readonly string[], what: string) {
    return satisfying((v) => {
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
const pemCertificate = satisfying(
    (v) => v.includes("-----BEGIN CERTIFICATE-----") && v.includes("-----END CERTIFICATE-----"),
    "must be a PEM certificate (-----BEGIN CERTIFICATE-----)",
);

/** The PEM blocks of a bundle, in order (armour included). */
export function pemCertificates(bundle: string): string[] {
    return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

/** A PEM bundle of one or more CA certificates, each parsed as X.509 (what every client will be given). */
const caBundle = z
    .string()
    .superRefine((v, ctx) => {
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
    })
    .meta({ constraint: "must be a PEM bundle of CA certificates, each a valid X.509 certificate" });

/** Seconds in a duration already checked against the duration pattern (30s, 10m, 1h). */
export function durationSeconds(value: string): number {
    const n = Number(value.slice(0, -1));
    return n * ({ s: 1, m: 60, h: 3600 } as Record<string, number>)[value.slice(-1)];
}

// S3 bucket naming rules (the subset that also holds for Garage and MinIO).
const bucketName = matching(
    /^(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    "must be a valid S3 bucket name (3-63 lower-case letters, digits, '.' and '-')",
);

const kvMountSettings = {
    maxVersions: z
        .number()
        .int()
        .min(0)
        .max(1000)
        .default(10)
        .describe("Versions kept per secret (0 = Vault's default of 10)."),
    casRequired: z.boolean().default(false).describe("Require check-and-set on every write."),
    deleteVersionAfter: duration.default("0s").describe("Delete versions older than this; `0s` keeps them."),
};

const resourceMap = z.strictObject({
    cpu: quantity.optional().describe("CPU, e.g. `250m`."),
    memory: quantity.optional().describe("Memory, e.g. `512Mi`."),
});

// ---------------------------------------------------------------------------
// One schema per top-level key. Defaults live here and only here.
// ---------------------------------------------------------------------------

const clusterSchema = z
    .strictObject({
        name: hostname.describe(
            "The cluster this stack serves (e.g. `amiya.akn`): names its KV mount, Kubernetes auth mount and store.",
        ),
        domain: hostname.describe("The DNS domain this cluster's services live under."),
    })
    .describe("The cluster this stack serves.");

const storageSchema = z
    .strictObject({
        mode: z
            .enum(["aws", "s3-compatible"])
            .describe("`aws`: a hardened bucket with IAM and KMS; `s3-compatible`: a bucket on Garage or MinIO."),
        bucket: bucketName.describe("Vault's storage bucket."),
        region: nonEmpty.describe("AWS region, or the S3-compatible server's region name (Garage: `garage`)."),
        endpoint: httpUrl
            .optional()
            .describe("Endpoint of the S3-compatible server: required in s3-compatible mode, refused in aws mode."),
        forcePathStyle: z
            .boolean()
            .optional()
            .meta(
                doc(
                    "Path-style addressing (s3-compatible mode only).",
                    "true in s3-compatible mode, false in aws mode",
                ),
            ),
        prefix: matching(keyPrefixPattern, "must be a relative key prefix ending in '/' (e.g. vault/)")
            .optional()
            .describe("Key prefix inside the bucket for Vault's data (Vault's `path`)."),
        versioning: z
            .boolean()
            .default(true)
            .describe(
                "Object versioning of a bucket this stack creates; must stay on in aws mode (it is the restore window). Garage has none: set false (with `createBucket: false`, true is refused).",
            ),
        noncurrentVersionExpirationDays: z
            .number()
            .int()
            .min(1)
            .max(3650)
            .default(30)
            .describe(
                "Days noncurrent object versions are kept: the point-in-time restore window. Only for a versioned bucket this stack creates.",
            ),
        abortIncompleteMultipartUploadDays: z
            .number()
            .int()
            .min(1)
            .max(365)
            .default(7)
            .describe(
                "Days after which incomplete multipart uploads are aborted. Only for a versioned bucket this stack creates.",
            ),
        identity: z
            .enum(["user", "role"])
            .optional()
            .meta(
                doc(
                    "aws mode: `user` (an IAM user with an access key) or `role` (IRSA / pod identity); refused in s3-compatible mode.",
                    "user in aws mode",
                ),
            ),
        irsa: z
            .strictObject({
                oidcProviderArn: matching(
                    /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/.+$/,
                    "must be an IAM OIDC provider ARN",
                ).describe("The cluster's IAM OIDC provider."),
                oidcProviderUrl: matching(
                    /^[a-z0-9.-]+(\/[A-Za-z0-9._-]+)*$/,
                    "must be the provider's host and path without https://",
                ).describe("The same provider's URL without `https://`."),
            })
            .optional()
            .describe("aws mode with `identity: role`: the cluster's OIDC provider for IRSA; required there."),
        kmsDeletionWindowDays: z
            .number()
            .int()
            .min(7)
            .max(30)
            .default(30)
            .describe("aws mode: the KMS keys' deletion window in days."),
        protect: z
            .boolean()
            .default(true)
            .describe(
                "`protect` on the bucket, KMS keys and KV mounts (they are retained on delete regardless). Off is for throw-away stacks: the guard pack's mandatory storage-data-protected rule refuses an unprotected bucket or key unless the preview or up runs with `--policy-pack-config policies/guard/throwaway-stack.json` (that rule advisory; CI never passes it).",
            ),
        createBucket: z
            .boolean()
            .default(true)
            .describe(
                "false: use an existing bucket (e.g. made with `garage bucket create`), with no S3 resource and no aws.Provider (s3-compatible mode only).",
            ),
    })
    .describe("Vault's S3 storage.");

const unsealSchema = z
    .strictObject({
        mode: z
            .enum(["awskms", "shamir"])
            .optional()
            .meta(
                doc(
                    "`awskms`: Vault's AWS KMS seal; `shamir`: unseal keys in a Secret, submitted by the in-cluster unsealer.",
                    "awskms with aws storage, shamir otherwise",
                ),
            ),
        secretShares: z.number().int().min(1).max(255).default(5).describe("Shamir key shares (shamir mode)."),
        secretThreshold: z
            .number()
            .int()
            .min(1)
            .max(255)
            .default(3)
            .describe("Shamir shares needed to unseal; at most secretShares, and at least 2 when there are several."),
        recoveryShares: z.number().int().min(1).max(255).default(5).describe("Recovery key shares (awskms mode)."),
        recoveryThreshold: z
            .number()
            .int()
            .min(1)
            .max(255)
            .default(3)
            .describe("Recovery shares needed; at most recoveryShares, and at least 2 when there are several."),
        kmsKeyId: z
            .string()
            .min(1)
            .optional()
            .describe(
                "An existing KMS key for the seal: a key ARN in aws mode (so that Vault's IAM policy can name it); required for awskms with s3-compatible storage. Unset in aws mode: the program creates one.",
            ),
        kmsRegion: z
            .string()
            .min(1)
            .optional()
            .meta(
                doc(
                    "Region of the seal's KMS key; required for awskms with s3-compatible storage when kmsKeyId is not a key ARN.",
                    "the region in a kmsKeyId ARN, else storage.region",
                ),
            ),
        kmsSourceCidrs: z
            .array(cidr)
            .min(1)
            .optional()
            .describe(
                "aws mode with awskms: the public addresses (CIDRs) Vault reaches AWS KMS from, e.g. the cluster's NAT egress. Vault's IAM policy then allows the seal key only from them, so its keys, copied out of the cluster (a Secret, an etcd backup), cannot unseal a copy of the bucket elsewhere. Unset: from anywhere.",
            ),
        schedule: cron.default("* * * * *").describe("CronJob schedule of the unsealer (shamir mode)."),
        loop: z
            .strictObject({
                enabled: z.boolean().default(true).describe("Run the loop."),
                intervalSeconds: z
                    .number()
                    .int()
                    .min(1)
                    .max(3600)
                    .default(5)
                    .describe("How often the loop checks the seal status."),
            })
            .prefault({})
            .describe("The long-running unseal loop, for a shorter outage after a restart."),
        secretName: k8sName.default("vault-unseal-keys").describe("The Kubernetes Secret that holds the unseal keys."),
    })
    .describe("How Vault is unsealed after every start: the AWS KMS seal or Shamir keys.");

/** An image pinned by an exact tag, or by digest (`repository@sha256:...`, optionally with the tag before it). */
const pinnedImage = matching(
    /^[a-z0-9./_-]+(?::[A-Za-z0-9._-]+)?@sha256:[a-f0-9]{64}$|^[a-z0-9./_-]+:[A-Za-z0-9._-]+$/,
    "must be an image with an exact tag (repository:tag) or a digest (repository@sha256:<64 hex>)",
);

/** server.snapshots: the raft snapshot CronJob (resolve.ts defaults it with raft storage). */
export const snapshotsSchema = z.strictObject({
    enabled: z.boolean().default(true).describe("The raft snapshot CronJob."),
    schedule: cron.default("0 */6 * * *").describe("When the snapshot job runs."),
    prefix: matching(keyPrefixPattern, "must be a relative key prefix ending in '/' (e.g. snapshots/)")
        .default("snapshots/")
        .describe("Where snapshots land in the bucket, under storage.prefix."),
    image: pinnedImage
        .default(SNAPSHOT_UPLOAD_IMAGE)
        .describe(
            "The upload step's S3 CLI image, pinned by tag or, better, by digest (`repository@sha256:...`: a tag can be moved, a digest cannot). The save step uses the Vault image.",
        ),
});

/** Default image of the KV export step: Node (it runs the bundled components/kv-export.cjs; Alpine's busybox sh). */
export const BACKUP_EXPORT_IMAGE = "node:22.12.0-alpine3.20";

/**
 * The recipient a stack file may hold until the operator sets theirs: the
 * CronJob is then created suspended, and every preview/up warns.
 */
export const BACKUP_RECIPIENT_PLACEHOLDER = "age1-operator-public-key-not-set";

/** An age recipient: X25519 (`age1` + 58 bech32 characters) or post-quantum hybrid (`age1pq1...`). */
const ageRecipientPattern = /^age1(pq1)?[02-9ac-hj-np-z]{58,}$/;

const ageRecipient = z
    .string()
    .superRefine((v, ctx) => {
        if (v.toUpperCase().startsWith("AGE-SECRET-KEY-")) {
            // Never echo it (no input on the issue): it is a private key that just landed in a stack file.
            ctx.addIssue({
                code: "custom",
                input: undefined,
                message:
                    "is an age PRIVATE key (AGE-SECRET-KEY-...): remove it from the stack file now, keep it offline, and give its public key (age-keygen -y <key file>)",
            });
        } else if (v !== BACKUP_RECIPIENT_PLACEHOLDER && !ageRecipientPattern.test(v)) {
            ctx.addIssue({
                code: "custom",
                message: "must be an age public key (age1..., from age-keygen -y <key file>)",
            });
        }
    })
    .meta({ constraint: "must be an age public key (age1..., from age-keygen -y <key file>); never a private key" });

/** backup: the scheduled, encrypted logical export of the KV v2 mounts (components/kv-backup.ts). */
const backupSchema = z
    .strictObject({
        enabled: z
            .boolean()
            .default(false)
            .describe(
                "The KV export CronJob: every managed KV v2 mount, every kept version and its metadata, encrypted.",
            ),
        recipients: z
            .array(ageRecipient)
            .default([])
            .describe(
                `age public keys the export is encrypted to: the operator's, whose private keys never reach the cluster. Required while enabled; \`${BACKUP_RECIPIENT_PLACEHOLDER}\` holds the place (the CronJob is then created suspended).`,
            ),
        schedule: cron.default("30 */6 * * *").describe("When the export job runs."),
        bucket: bucketName
            .optional()
            .meta(doc("The bucket the exports go to (same S3 endpoint and keys as storage).", "storage.bucket")),
        prefix: matching(keyPrefixPattern, "must be a relative key prefix ending in '/' (e.g. kv-exports/)")
            .default("kv-exports/")
            .describe(
                "Key prefix of the exports, from the bucket's root (not under storage.prefix: with s3 storage that is Vault's own data).",
            ),
        keep: z
            .number()
            .int()
            .min(1)
            .max(1000)
            .default(28)
            .describe("Exports kept; older ones are deleted after each upload."),
        image: pinnedImage
            .default(BACKUP_EXPORT_IMAGE)
            .describe("The export step's Node image, pinned (Node 20 or later)."),
        uploadImage: pinnedImage.default(SNAPSHOT_UPLOAD_IMAGE).describe("The upload step's S3 CLI image, pinned."),
    })
    .describe(
        "Scheduled logical export of the KV v2 mounts this stack manages, encrypted to the operator's age keys (docs/disaster-recovery.md#kv-export-and-import).",
    );

const volumeSchema = (size: string, what: string) =>
    z
        .strictObject({
            size: quantity.default(size).describe("Size of the volume."),
            storageClass: z
                .string()
                .min(1)
                .optional()
                .meta(doc("StorageClass of the volume.", "the cluster's default class")),
        })
        .prefault({})
        .describe(what);

const serverSchema = z
    .strictObject({
        namespace: k8sName.default("vault").describe("Vault's namespace (created by this program)."),
        chartVersion: matching(semverPattern, "must be an exact chart version such as 0.34.1")
            .default("0.34.1")
            .describe("The `vault` chart version."),
        chartRepository: httpsUrl.default("https://helm.releases.hashicorp.com").describe("The chart repository."),
        image: z
            .strictObject({
                repository: z.string().min(1).default("hashicorp/vault").describe("Vault's image repository."),
                tag: matching(semverPattern, "must be an exact Vault version such as 2.0.4")
                    .default("2.0.4")
                    .describe("Vault's image tag."),
                digest: matching(/^sha256:[a-f0-9]{64}$/, "must be an image digest such as sha256:<64 hex>")
                    .optional()
                    .meta(
                        doc(
                            "Pins Vault's image by digest: the registry's digest of repository:tag, which you resolved and checked (docs/threat-model.md, images). Every container running the Vault image (server, sidecars, unsealer, snapshot save) then pulls `repository:tag@digest`.",
                            "none: pulled by tag, which the registry can move",
                        ),
                    ),
            })
            .prefault({})
            .describe("Vault's image."),
        storageBackend: z
            .enum(["s3", "raft"])
            .default("s3")
            .describe("`s3` (the bucket, standalone only) or `raft` (integrated storage, HA capable)."),
        replicas: z.number().int().min(1).default(1).describe("Vault pods: 1 with S3 storage; 1, 3 or 5 with raft."),
        antiAffinity: z
            .enum(["required", "preferred"])
            .default("required")
            .describe(
                "How Vault pods keep off each other's node. `required` (the chart's default) never schedules two on one node, so raft's quorum survives the loss of a node. `preferred` spreads them where it can and lets a cluster with fewer nodes than `replicas` (a single-node homelab) still run 3 or 5 raft pods: the rolling updates and the disruption budget then work as with `required`, but losing that node loses every pod at once.",
            ),
        resources: z
            .strictObject({
                requests: resourceMap.default({ cpu: "100m", memory: "256Mi" }).describe("Container requests."),
                limits: resourceMap.default({ memory: "512Mi" }).describe("Container limits."),
            })
            .prefault({})
            .describe("Resources of the Vault container."),
        tls: z
            .strictObject({
                mode: z
                    .enum(["ingress", "internal"])
                    .default("ingress")
                    .describe(
                        "`ingress`: TLS ends at the ingress, Vault listens in plain HTTP inside its default-deny namespace, so unseal shares, ESO's login token, synced values and users' tokens cross the pod network in clear: choose it only with a CNI that encrypts pod traffic (WireGuard/IPsec), as the threat model assumes. `internal`: Vault serves TLS itself (a certificate Secret, e.g. from cert-manager): every hop encrypted, at the cost of a certificate to issue and renew in the cluster.",
                    ),
                secretName: k8sName
                    .optional()
                    .describe("Secret with tls.crt and tls.key; required when tls.mode is internal."),
                caSecretName: k8sName
                    .optional()
                    .describe(
                        "Secret holding ca.crt when the certificate comes from a private CA (the store trusts it).",
                    ),
            })
            .prefault({})
            .describe("TLS of Vault's listener."),
        auditStorage: volumeSchema("2Gi", "The audit log volume."),
        dataStorage: volumeSchema("10Gi", "The raft data volume (raft only)."),
        logLevel: z
            .enum(["trace", "debug", "info", "warn", "error"])
            .default("info")
            .describe("Vault's log level (logs are JSON)."),
        metricsScrape: z
            .enum(["annotations", "serviceMonitor"])
            .optional()
            .meta(
                doc(
                    "How networkPolicy.monitoringNamespace scrapes the metrics listener: `annotations` (prometheus.io/* on the pods) or `serviceMonitor` (a Service and a Prometheus Operator ServiceMonitor). Needs networkPolicy.monitoringNamespace.",
                    "annotations, when networkPolicy.monitoringNamespace is set",
                ),
            ),
        // Unset here and defaulted in resolve.ts, so that setting it with s3 storage is refused.
        snapshots: snapshotsSchema
            .optional()
            .meta(
                doc(
                    "Scheduled raft snapshots to the storage bucket (raft only: setting it with s3 storage is an error; on by default with raft, since the bucket no longer holds the live data).",
                    "on with raft storage",
                ),
            ),
    })
    .describe("The Vault Helm release.");

const exposureSchema = z
    .strictObject({
        kind: z
            .enum(["ingress", "httproute", "none"])
            .default("ingress")
            .describe("`ingress`, `httproute` (Gateway API) or `none`."),
        host: hostname.optional().meta(doc("Host name of the UI and API.", "`vault.<cluster.domain>`")),
        className: z
            .string()
            .min(1)
            .optional()
            .describe(
                "The IngressClass: required with kind ingress (the Ingress that keeps the unauthenticated sys/ ceremonies off the host is built for its controller: `traefik`, or any other class).",
            ),
        tlsSecretName: k8sName.default("vault-tls").describe("The Ingress TLS Secret."),
        certManagerIssuer: z
            .string()
            .min(1)
            .optional()
            .describe("cert-manager issuer that signs the Ingress certificate; unset: no annotation."),
        certManagerIssuerKind: z
            .enum(["ClusterIssuer", "Issuer"])
            .default("ClusterIssuer")
            .describe("Kind of that issuer."),
        gateway: z
            .strictObject({
                name: k8sName.describe("The Gateway's name."),
                namespace: k8sName.describe("The Gateway's namespace."),
                sectionName: z.string().min(1).optional().describe("The Gateway listener to attach to."),
            })
            .optional()
            .describe("The parent Gateway of the HTTPRoute: required when kind is httproute, refused otherwise."),
    })
    .describe("UI and API exposure.");

const labelKey = matching(
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
    "must be a label key such as app.kubernetes.io/name",
);
const labelValue = matching(
    /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/,
    "must be a label value such as traefik",
);
/** An in-cluster peer: pods of a namespace (optionally only those with these labels), on their container ports. */
const egressNamespacePeer = z.strictObject({
    name: k8sName.describe("The peer's namespace."),
    podLabels: z.record(labelKey, labelValue).optional().describe("Only the pods with these labels."),
    ports: z.array(port).min(1).optional().meta(doc("The peer pods' container ports.", "the rule's ports")),
});
/** At least one of cidrs/namespaces: checked in rules/network-policy.ts, which names the key. */
const egressRule = (target: string) =>
    z
        .strictObject({
            cidrs: z.array(cidr).min(1).optional().describe("Addresses outside the cluster."),
            namespaces: z
                .array(egressNamespacePeer)
                .min(1)
                .optional()
                .describe("In-cluster peers (e.g. the ingress controller serving that name)."),
            ports: z.array(port).min(1).default([443]).describe("Destination ports."),
        })
        .optional()
        .describe(`Egress to ${target}: cidrs, namespaces, or both.`);

const networkPolicySchema = z
    .strictObject({
        enabled: z.boolean().default(true).describe("Default-deny NetworkPolicies plus the allow rules below."),
        ingressNamespace: k8sName
            .default("ingress-nginx")
            .describe("Namespace of the ingress controller or gateway that reaches Vault on 8200."),
        monitoringNamespace: k8sName
            .optional()
            .describe("Namespace of the metrics scraper (admitted to the metrics listener only); unset allows none."),
        extraIngressNamespaces: z
            .array(k8sName)
            .default([])
            .describe("Further namespaces allowed to reach Vault on 8200."),
        dnsNamespace: k8sName.default("kube-system").describe("Namespace of the cluster DNS."),
        egress: z
            .strictObject({
                s3: egressRule("the S3 endpoint"),
                kms: egressRule("AWS KMS"),
                oidc: egressRule("the OIDC issuer"),
                kubernetesApi: egressRule("the Kubernetes API (TokenReview, raft service registration)"),
            })
            .prefault({})
            .describe(
                "Egress Vault needs beyond DNS. While networkPolicy.enabled, every flow the config needs must have a rule (refused otherwise): s3 (s3 storage, or raft snapshots), kms (awskms seal), oidc (OIDC on) and kubernetesApi (always).",
            ),
    })
    .describe("NetworkPolicies of Vault's namespace.");

const trustSchema = z
    .strictObject({
        caBundle: caBundle
            .optional()
            .describe(
                "PEM bundle of the CA(s) that sign the cluster's private endpoints (Vault's address, the S3 endpoint, the OIDC issuer): every client this program configures trusts it. Unset: public roots only.",
            ),
    })
    .describe("Private CAs that sign the cluster's private endpoints.");

const vaultSchema = z
    .strictObject({
        address: httpUrl
            .optional()
            .meta(doc("Address this program and the Vault provider reach Vault at.", "`https://<exposure.host>`")),
        skipTlsVerify: z
            .boolean()
            .default(false)
            .describe("Skip TLS verification (only for a first bootstrap against a private CA)."),
        allowInsecure: z
            .boolean()
            .default(false)
            .describe(
                "Accepts plain http:// to a vault.address off this machine, or skipTlsVerify: the provider token and the unseal key shares then cross the network unverified (refused without it; a warning on every run with it).",
            ),
        movedFrom: httpUrl
            .optional()
            .describe(
                "Acknowledges that Vault moved: the address it had before. The unseal keys and the provider token go only to the Vault this stack recorded (address and CA); set this for the one `pulumi up` that moves them, then remove it.",
            ),
        acknowledgeCa: matching(/^[0-9a-f]{64}$/, "must be a SHA-256 digest: 64 lowercase hex digits")
            .optional()
            .describe(
                "Acknowledges a new trust.caBundle for Vault at the same address (a CA first added, rotated or removed): the SHA-256, lowercase hex, of the new bundle's text exactly as configured (of the empty string when removed); the refusal and the config check name the value. It approves only that bundle, never a move (vault.movedFrom), so leaving it set is harmless.",
            ),
        waitTimeoutSeconds: z
            .number()
            .int()
            .min(10)
            .max(3600)
            .default(600)
            .describe("Seconds bootstrap waits for Vault's API to answer."),
        providerTokenMaxAgeDays: z
            .number()
            .int()
            .min(1)
            .max(365)
            .default(30)
            .describe(
                "Days after which `pulumi up` re-mints the Vault provider's token and revokes the old one (by Vault's creation time of the token), so a state backup older than this plus the time between runs holds a dead token.",
            ),
    })
    .describe("How this program reaches Vault.");

const auditSchema = z
    .strictObject({
        enabled: z.boolean().default(true).describe("The file audit device."),
        target: z
            .enum(["file", "stdout"])
            .default("file")
            .describe("`file` writes to the audit volume, `stdout` to the pod log."),
        path: matching(mountPathPattern, "must be a mount path such as file")
            .default("file")
            .describe("The audit device's mount path."),
        rotation: z
            .strictObject({
                enabled: z
                    .boolean()
                    .default(true)
                    .describe("The audit-rotator sidecar (target file only): rename the log and SIGHUP Vault."),
                maxSizeMi: z
                    .number()
                    .int()
                    .min(1)
                    .default(400)
                    .describe("Rotate the log once it is above this many MiB (checked every 30 s)."),
                keep: z.number().int().min(1).max(100).default(3).describe("Rotated files kept on the volume."),
            })
            .prefault({})
            .describe(
                "Rotation of the file audit log on server.auditStorage: (keep + 1) × maxSizeMi must leave a fifth of the volume free (refused otherwise); docs/configuration.md has the arithmetic.",
            ),
    })
    .describe(
        "Vault's audit device. With `target: file` the log lives on `server.auditStorage` (2Gi by default), and Vault refuses every request once it cannot write it; so the `audit-rotator` sidecar (the Vault image) renames the log to `.1` once it is above `rotation.maxSizeMi`, shifts the older ones, deletes those past `rotation.keep`, and sends Vault SIGHUP, on which Vault opens a new file. Size arithmetic: the volume holds `keep` rotated files of about `maxSizeMi` each plus the live one, which may grow past `maxSizeMi` for one 30 s check, so (keep + 1) × maxSizeMi must stay within 80% of the volume (refused otherwise). The defaults: (3 + 1) × 400 MiB = 1600 MiB of 2048 MiB, leaving 448 MiB for 30 s of writes and the filesystem's overhead (an entry is about 1 to 3 KiB). Rotated files older than `keep` are deleted: if the log must be kept longer, collect it elsewhere (or use `target: stdout` and a log collector). Signalling Vault from a sidecar needs the pod's shared process namespace, as the TLS reloader does: the sidecar can then see Vault's process.",
    );

const kvSchema = z
    .strictObject({
        cluster: z
            .strictObject(kvMountSettings)
            .prefault({})
            .describe("Settings of the cluster's own mount (named after cluster.name)."),
        shared: z
            .array(
                z.strictObject({
                    name: matching(/^[a-z0-9][a-z0-9._-]*$/, "must be a mount name such as shared").describe(
                        "The mount's path.",
                    ),
                    description: z.string().optional().describe("The mount's description."),
                    ...kvMountSettings,
                    readablePaths: z
                        .array(
                            matching(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, "must be a relative path such as common"),
                        )
                        .default(["common"])
                        .describe("Paths in the mount this cluster's store may read."),
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
            ])
            .describe("Shared KV v2 mounts, and the paths in each that this cluster's store may read."),
    })
    .describe("KV v2 mounts: the cluster's own and the shared ones.");

const oidcSchema = z
    .strictObject({
        enabled: z.boolean().default(true).describe("OIDC login through Authelia."),
        issuer: httpsUrl.optional().describe("The issuer (e.g. `https://auth.amiya.akn`); required when enabled."),
        discoveryCaPem: pemCertificate
            .optional()
            .meta(
                doc(
                    "CA of the issuer's certificate when a private CA signed it; overrides trust.caBundle when Vault fetches the discovery document.",
                    "trust.caBundle, else Vault's system roots",
                ),
            ),
        clientId: z.string().min(1).default("vault").describe("The client registered in Authelia."),
        path: matching(mountPathPattern, "must be a mount path such as oidc")
            .default("oidc")
            .describe("The auth mount path."),
        defaultRole: matching(mountPathPattern, "must be a role name")
            .default("default")
            .describe("The role used when none is given."),
        groupsClaim: z.string().min(1).default("groups").describe("The claim holding SSO groups."),
        scopes: z
            .array(z.string().min(1))
            .default(["openid", "profile", "email", "groups"])
            .describe("Requested scopes; must include openid."),
        tokenTtl: duration.default("1h").describe("TTL of tokens issued by OIDC login; at most tokenMaxTtl."),
        tokenMaxTtl: duration.default("8h").describe("Maximum TTL of those tokens."),
        groups: z
            .record(z.string().min(1), z.array(z.string().min(1)).min(1, "must list at least one policy"))
            .default({})
            .describe("SSO group to Vault policy names (from policies/*.hcl, or `default`)."),
    })
    .describe("OIDC login through Authelia.");

const remoteCluster = z.strictObject({
    name: hostname.describe("The remote cluster's name."),
    host: httpsUrl.describe("Its API server."),
    caCert: pemCertificate.describe("Its API server's CA."),
    serviceAccount: k8sName
        .default("vault-login")
        .describe(
            "The remote stores' login ServiceAccount (no RBAC; in the remote manifests), never the ESO controller's.",
        ),
    namespace: k8sName.default("external-secrets").describe("That ServiceAccount's namespace."),
});

const kubernetesAuthSchema = z
    .strictObject({
        path: matching(/^[a-z0-9][a-z0-9._-]*$/, "must be a mount path")
            .optional()
            .meta(doc("The auth mount path.", "`kubernetes-<cluster.name>`")),
        host: httpsUrl
            .default("https://kubernetes.default.svc")
            .describe("The API server Vault sends TokenReviews to (Vault runs in this cluster)."),
        caCert: pemCertificate.optional().meta(doc("CA of that API server.", "the CA mounted in Vault's pod")),
        role: matching(mountPathPattern, "must be a role name")
            .default("external-secrets")
            .describe("The role External Secrets logs in with."),
        audience: matching(/^[A-Za-z0-9][A-Za-z0-9.:/_-]*$/, "must be a token audience such as vault")
            .default("vault")
            .describe(
                "The audience of the stores' login tokens: the stores request it (serviceAccountRef.audiences) and the Vault roles require it, so a token minted for the API server cannot log in.",
            ),
        tokenTtl: duration.default("10m").describe("TTL of the store's Vault tokens; at most tokenMaxTtl."),
        tokenMaxTtl: duration.default("20m").describe("Maximum TTL of those tokens."),
        remoteClusters: z
            .array(remoteCluster)
            .default([])
            .describe(
                "Other clusters whose External Secrets read from this Vault; each needs its JWT in remoteClusterReviewerJwts.",
            ),
    })
    .describe("Kubernetes auth for External Secrets.");

const externalSecretsSchema = z
    .strictObject({
        namespace: k8sName
            .default("external-secrets")
            .describe("External Secrets Operator's namespace; must differ from server.namespace."),
        serviceAccount: k8sName
            .default("vault-login")
            .describe(
                "The login ServiceAccount the stores name: made by this stack in ESO's namespace, with no RBAC and no mounted token; never the ESO controller's own.",
            ),
        storeName: k8sName
            .optional()
            .meta(doc("Name of the ClusterSecretStore.", "`vault-<cluster.name>` with '.' as '-'")),
        install: z.boolean().default(false).describe("Install External Secrets Operator from its chart here."),
        chartVersion: matching(semverPattern, "must be an exact chart version such as 2.9.0")
            .default("2.9.0")
            .describe("Its chart version."),
        chartRepository: httpsUrl.default("https://charts.external-secrets.io").describe("Its chart repository."),
        serverUrl: httpUrl.optional().meta(doc("Vault URL the store uses.", "the in-cluster service")),
        namespaceConditions: z
            .array(
                z.strictObject({
                    namespaces: z.array(k8sName).optional().describe("Namespaces allowed by name."),
                    namespaceSelector: z
                        .strictObject({
                            matchLabels: z.record(z.string(), z.string()).describe("Namespaces allowed by label."),
                        })
                        .optional()
                        .describe("Namespaces allowed by label."),
                }),
            )
            .optional()
            .meta(
                doc(
                    "ESO `conditions`: which namespaces may use the stores (by name or label); each condition sets one or both. Required unless allNamespaces.",
                    "unset: required unless allNamespaces",
                ),
            ),
        allNamespaces: z
            .boolean()
            .default(false)
            .describe(
                "Let every namespace use the stores (no `conditions`): anyone who may edit an ExternalSecret anywhere reads the whole cluster mount. The guard pack reports it (advisory).",
            ),
        tenants: z
            .array(
                z.strictObject({
                    name: k8sName.describe(
                        "The group's name: its store is `<storeName>-<name>`, its Vault role `<kubernetesAuth.role>-<name>`.",
                    ),
                    namespaces: z
                        .array(k8sName)
                        .min(1, "must list at least one namespace")
                        .describe(
                            "The group's namespaces: its store admits only them and reads only `<cluster>/data/<namespace>/*` of each.",
                        ),
                }),
            )
            .default([])
            .describe(
                "Per-namespace scoping: one store, Vault role and policy per group of namespaces, reading only their own paths of the cluster mount.",
            ),
        canary: z
            .boolean()
            .default(true)
            .describe(
                "The canary (docs/monitoring.md#the-canary), successor of the smoke test: a fixed, per-cluster value (not a credential) this stack writes to `<cluster.name>/canary/platform/check`, read back every minute by an ExternalSecret in the namespace `secret-platform-canary`; the first `pulumi up` waits for it, an alert watches its sync, and the synced Secret carries its SHA-256 to compare with the stack output canarySha256. false: none of it.",
            ),
    })
    .describe(
        "External Secrets Operator: the ClusterSecretStores that read from this Vault, and optionally the operator itself.",
    );

const monitoringSchema = z
    .strictObject({
        alerts: z
            .enum(["prometheusRule", "ruleFile", "off"])
            .optional()
            .meta(
                doc(
                    "The alert pack (docs/monitoring.md): `prometheusRule` (a Prometheus Operator PrometheusRule), `ruleFile` (a ConfigMap holding a plain Prometheus rule file, for a Prometheus without the operator) or `off`. Both go to networkPolicy.monitoringNamespace, which they need.",
                    "prometheusRule with server.metricsScrape serviceMonitor, ruleFile with annotations; off without networkPolicy.monitoringNamespace",
                ),
            ),
        ruleLabels: z
            .record(labelKey, labelValue)
            .default({})
            .describe(
                "Extra labels on the PrometheusRule or ConfigMap, for the Prometheus rule selector (e.g. `release: kube-prometheus-stack`).",
            ),
        vaultJob: z
            .string()
            .min(1)
            .optional()
            .meta(
                doc(
                    "The `job` label Prometheus gives Vault's metrics targets.",
                    "`vault-metrics` (the ServiceMonitor's Service) with serviceMonitor; `kubernetes-pods` with annotations",
                ),
            ),
        certificates: z
            .array(k8sName)
            .optional()
            .meta(
                doc(
                    "cert-manager Certificates in server.namespace whose expiry is alerted on (cert-manager's certmanager_certificate_expiration_timestamp_seconds).",
                    "[exposure.tlsSecretName] with exposure.kind ingress and exposure.certManagerIssuer; else none",
                ),
            ),
        certificateExpiryWarning: duration
            .default("168h")
            .describe("Alert when a watched certificate expires within this long."),
        syncStaleAfter: duration
            .default("2h")
            .describe(
                "Alert when an ExternalSecret had no successful sync for this long: at least its longest refreshInterval (ESO's default is 1h).",
            ),
    })
    .describe("The alert pack on Vault, its backups, certificates and External Secrets (docs/monitoring.md).");

const kubernetesSchema = z
    .strictObject({
        context: z.string().min(1).optional().meta(doc("kubeconfig context.", "the current context")),
    })
    .describe("The explicit Kubernetes provider every Kubernetes resource uses.");

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
    monitoring: monitoringSchema.prefault({}),
    kubernetes: kubernetesSchema.prefault({}),
    backup: backupSchema.prefault({}),
} as const;

/**
 * Keys that hold secrets, with their descriptions. They are top-level so that
 * marking one secret does not turn a whole object (and every output derived
 * from it) into a secret.
 */
export const SECRET_KEYS = {
    oidcClientSecret:
        "The OIDC client secret registered in Authelia. Unset with oidc.enabled: generated (random.RandomPassword), and the Authelia client definition with its digest is the secret output autheliaOidcClientConfig.",
    storageAccessKeyId: "Access key id of the S3-compatible storage; required in s3-compatible mode.",
    storageSecretAccessKey: "Secret access key of the S3-compatible storage; required in s3-compatible mode.",
    sealAccessKeyId: "AWS access key id for the awskms seal with s3-compatible storage; required there.",
    sealSecretAccessKey: "AWS secret access key for the awskms seal with s3-compatible storage; required there.",
    snapshotAccessKeyId:
        "The raft snapshot upload's own key id with s3-compatible storage: a key that may only write the bucket (Garage: bucket allow --write, no --read or --owner; docs/architecture/snapshots.md). Unset: the storage keys.",
    snapshotSecretAccessKey: "The secret key of snapshotAccessKeyId; set both or neither.",
    vaultToken:
        "Break-glass or adoption only: a root (or pulumi-policy) token bootstrap mints the Vault provider's own token with; a root token is revoked once used (docs/bootstrap.md).",
    remoteClusterReviewerJwts:
        "Object: remote cluster name to the token-reviewer JWT of that cluster; required with kubernetesAuth.remoteClusters.",
} as const;
export type SecretKey = keyof typeof SECRET_KEYS;

/** How to set a secret key: the CLI prompts for the value (on a command line it would land in shell history). */
export function setSecretCommand(key: SecretKey): string {
    return `pulumi config set --secret ${key} (it prompts for the value)`;
}

export type ObjectKey = keyof typeof CONFIG_SCHEMAS;
export const OBJECT_KEYS = Object.keys(CONFIG_SCHEMAS) as ObjectKey[];
/** The keys every stack must set; every other key has a default. */
export const REQUIRED_KEYS: readonly ObjectKey[] = ["cluster", "storage"];

/** Each key as the schema parsed it: its own defaults applied, none derived from other keys yet. */
export type Parsed = { [K in ObjectKey]: z.output<(typeof CONFIG_SCHEMAS)[K]> };
