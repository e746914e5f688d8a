import * as fs from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "./config";
import { RAFT_SNAPSHOT_ROLE, SNAPSHOT_SERVICE_ACCOUNT } from "./vault-setup";
import {
    ACTIVE_SERVICE,
    PART_OF_LABELS,
    serviceApiUrl,
    SNAPSHOT_NAME,
    SNAPSHOT_POD_LABELS,
    vaultImageRef,
    vaultScheme,
} from "./lib/contracts";
import { awsSharedCredentialsFile, SHARED_CREDENTIALS_FILE } from "./lib/helm-values";
import { jobStepContainer, POD_SECURITY_CONTEXT } from "./lib/pod-security";
import { inClusterVaultCa, isHttpsUrl, TRUST_CA_CONFIGMAP, TRUST_CA_KEY, TRUST_CA_POD_DIR } from "./lib/trust";
import { after } from "./lib/readiness";
import { StorageBinding } from "./storage";

/**
 * The config keys the snapshot job reads: `server` (snapshots, image, TLS,
 * namespace), `storage.prefix` (the key prefix) and `trust.caBundle`.
 */
export type SnapshotsSlice = Pick<PlatformConfig, "server" | "trust"> & {
    readonly storage: Pick<PlatformConfig["storage"], "prefix">;
};

/** The snapshot script, shipped in a ConfigMap (it holds no secret). */
export const SNAPSHOT_SCRIPT_PATH = path.join(__dirname, "raft-snapshot.sh");

/** The Secret with the upload step's AWS shared credentials file. */
export const SNAPSHOT_CREDENTIALS_SECRET = "vault-snapshot-credentials";
/** Mount points inside the pod. */
export const SNAPSHOT_PATHS = {
    snapshots: "/snap",
    script: "/vault/snapshot",
    saToken: "/var/run/secrets/vault-snapshot",
    credentials: "/aws/credentials",
    caDir: "/vault/tls-ca",
} as const;
/** Lifetime of the projected ServiceAccount token (Kubernetes' minimum). */
export const SA_TOKEN_EXPIRY_SECONDS = 600;

/** Labels of every snapshot object; the server's NetworkPolicy admits SNAPSHOT_POD_LABELS. */
export function snapshotLabels(component: "cronjob" | "config"): Record<string, string> {
    return {
        ...SNAPSHOT_POD_LABELS,
        "app.kubernetes.io/component": component,
        ...PART_OF_LABELS,
    };
}

/**
 * The AWS CLI config file: region and, for S3-compatible servers, path-style
 * addressing (no environment variable sets that). No secret in it.
 */
export function awsCliConfig(region: string, forcePathStyle: boolean): string {
    // One PutObject per file, never multipart (5 GB is S3's single-PUT limit): with SSE-KMS,
    // multipart would need kms:Decrypt, which the snapshot uploader is not given.
    const lines = ["[default]", `region = ${region}`, "s3 =", "    multipart_threshold = 5GB"];
    if (forcePathStyle) lines.push("    addressing_style = path");
    return `${lines.join("\n")}\n`;
}

/**
 * The chart's `vault-active` Service (the raft leader only). A snapshot taken
 * through a standby fails ("incomplete snapshot", hashicorp/vault#15258), so
 * the job never goes through the `vault` Service, which spreads over all pods.
 */
export function activeVaultUrl(config: Pick<PlatformConfig, "server">): string {
    return serviceApiUrl(vaultScheme(config.server.tls), ACTIVE_SERVICE, config.server.namespace);
}

/** The bucket key prefix of the snapshots: snapshot prefix under the storage prefix. */
export function snapshotKeyPrefix(config: Pick<SnapshotsSlice, "server" | "storage">): string {
    return `${config.storage.prefix ?? ""}${config.server.snapshots?.prefix ?? ""}`;
}

/** What the snapshot pod spec is built from. */
export interface SnapshotPodOptions {
    /** The Vault image (`repository:tag`) of the save step. */
    readonly vaultImage: string;
    /** The S3 CLI image of the upload step. */
    readonly uploadImage: string;
    /** VAULT_ADDR: the active node's in-cluster URL. */
    readonly vaultAddr: string;
    /** The local Kubernetes auth mount path. */
    readonly authPath: string;
    /** Bucket and key prefix of the snapshots. */
    readonly bucket: string;
    readonly keyPrefix: string;
    /** S3-compatible endpoint; undefined on AWS. */
    readonly endpoint?: string;
    /** A Secret whose ca.crt verifies an https VAULT_ADDR (internal TLS); none for http. */
    readonly caSecretName?: string;
    /** Instead: the trust.caBundle ConfigMap (its ca.crt) verifies an https VAULT_ADDR. */
    readonly caConfigMapName?: string;
    /** The trust.caBundle ConfigMap's ca.crt verifies the https S3 endpoint (AWS_CA_BUNDLE of the upload). */
    readonly s3CaConfigMapName?: string;
}

/** raft-snapshot.sh in `step` mode: the command of each step of the snapshot pod. */
function stepCommand(step: "save" | "upload"): string[] {
    return ["/bin/sh", `${SNAPSHOT_PATHS.script}/raft-snapshot.sh`, step];
}

/**
 * The snapshot pod: the save step (init container, Vault image) writes the
 * snapshot to a memory-backed volume, the upload step (AWS CLI image) copies
 * it to the bucket. Restricted Pod Security; the ServiceAccount token is a
 * short-lived projected file seen by the save step only, the S3 keys a file
 * seen by the upload step only.
 */
export function snapshotPodSpec(o: SnapshotPodOptions): k8s.types.input.core.v1.PodSpec {
    const p = SNAPSHOT_PATHS;
    const saveEnv: k8s.types.input.core.v1.EnvVar[] = [
        { name: "VAULT_ADDR", value: o.vaultAddr },
        { name: "VAULT_AUTH_PATH", value: o.authPath },
        { name: "VAULT_ROLE", value: RAFT_SNAPSHOT_ROLE },
        { name: "SA_TOKEN_FILE", value: `${p.saToken}/token` },
        { name: "SNAPSHOT_DIR", value: p.snapshots },
        // The Vault token lives in $HOME/.vault-token on a private tmpfs.
        { name: "HOME", value: "/tmp" },
    ];
    const saveMounts: k8s.types.input.core.v1.VolumeMount[] = [
        { name: "snapshots", mountPath: p.snapshots },
        { name: "script", mountPath: p.script, readOnly: true },
        { name: "sa-token", mountPath: p.saToken, readOnly: true },
        { name: "save-tmp", mountPath: "/tmp" },
    ];
    const volumes: k8s.types.input.core.v1.Volume[] = [
        // Memory-backed: a snapshot never touches the node's disk. Sized for a secrets store.
        { name: "snapshots", emptyDir: { medium: "Memory", sizeLimit: "256Mi" } },
        { name: "script", configMap: { name: SNAPSHOT_NAME, defaultMode: 0o555 } },
        {
            name: "sa-token",
            projected: {
                defaultMode: 0o400,
                sources: [{ serviceAccountToken: { path: "token", expirationSeconds: SA_TOKEN_EXPIRY_SECONDS } }],
            },
        },
        { name: "save-tmp", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
        { name: "credentials", secret: { secretName: SNAPSHOT_CREDENTIALS_SECRET, defaultMode: 0o400 } },
        { name: "upload-tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
    ];
    if (o.caSecretName !== undefined) {
        saveEnv.push({ name: "VAULT_CACERT", value: `${p.caDir}/ca.crt` });
        saveMounts.push({ name: "vault-ca", mountPath: p.caDir, readOnly: true });
        // Only ca.crt is projected: the server's key never reaches the job.
        volumes.push({
            name: "vault-ca",
            secret: { secretName: o.caSecretName, items: [{ key: "ca.crt", path: "ca.crt" }], defaultMode: 0o444 },
        });
    } else if (o.caConfigMapName !== undefined) {
        saveEnv.push({ name: "VAULT_CACERT", value: `${TRUST_CA_POD_DIR}/${TRUST_CA_KEY}` });
        saveMounts.push({ name: "trust-ca", mountPath: TRUST_CA_POD_DIR, readOnly: true });
    }
    const trustVolume = o.caConfigMapName ?? o.s3CaConfigMapName;
    if (trustVolume !== undefined) {
        volumes.push({ name: "trust-ca", configMap: { name: trustVolume, defaultMode: 0o444 } });
    }
    const uploadEnv: k8s.types.input.core.v1.EnvVar[] = [
        { name: "SNAPSHOT_DIR", value: p.snapshots },
        { name: "SNAPSHOT_BUCKET", value: o.bucket },
        { name: "SNAPSHOT_KEY_PREFIX", value: o.keyPrefix },
        { name: "AWS_CONFIG_FILE", value: `${p.script}/aws-config` },
        { name: "AWS_SHARED_CREDENTIALS_FILE", value: `${p.credentials}/${SHARED_CREDENTIALS_FILE}` },
        { name: "HOME", value: "/tmp" },
    ];
    if (o.endpoint !== undefined) uploadEnv.push({ name: "S3_ENDPOINT", value: o.endpoint });
    const uploadMounts: k8s.types.input.core.v1.VolumeMount[] = [
        { name: "snapshots", mountPath: p.snapshots, readOnly: true },
        { name: "script", mountPath: p.script, readOnly: true },
        { name: "credentials", mountPath: p.credentials, readOnly: true },
        { name: "upload-tmp", mountPath: "/tmp" },
    ];
    if (o.s3CaConfigMapName !== undefined) {
        // The AWS CLI (botocore) verifies the endpoint against exactly this bundle.
        uploadEnv.push({ name: "AWS_CA_BUNDLE", value: `${TRUST_CA_POD_DIR}/${TRUST_CA_KEY}` });
        uploadMounts.push({ name: "trust-ca", mountPath: TRUST_CA_POD_DIR, readOnly: true });
    }
    return {
        serviceAccountName: SNAPSHOT_SERVICE_ACCOUNT,
        // The save step gets the projected token above; no legacy long-lived mount.
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        restartPolicy: "Never",
        securityContext: POD_SECURITY_CONTEXT,
        // The memory-backed snapshot (up to 256Mi) is charged to save's container, on top of the CLI.
        initContainers: [jobStepContainer("save", o.vaultImage, stepCommand("save"), saveEnv, saveMounts, "512Mi")],
        containers: [
            jobStepContainer("upload", o.uploadImage, stepCommand("upload"), uploadEnv, uploadMounts, "256Mi"),
        ],
        volumes,
    };
}

/** What RaftSnapshots is built from; snapshotsArgs (platform-args.ts) makes it. */
export interface RaftSnapshotsArgs {
    /** The slice of the validated stack config the job reads (server.storageBackend raft, server.snapshots on). */
    readonly config: SnapshotsSlice;
    /** Namespace Vault runs in (VaultServer.namespace). */
    readonly namespace: pulumi.Input<string>;
    /** The bucket and its credentials, from VaultStorage. */
    readonly storage: StorageBinding;
    /** The local Kubernetes auth mount path (VaultConfiguration.kubernetesAuthPath). */
    readonly kubernetesAuthPath: pulumi.Input<string>;
    /** Readiness of the raft-snapshot role and its policy (VaultConfiguration.snapshotReady). */
    readonly ready: pulumi.Input<pulumi.Resource[]>;
    /** The cluster's explicit Kubernetes provider. */
    readonly provider: k8s.Provider;
}

/**
 * Scheduled raft snapshots to the storage bucket: the open-source server has
 * no automated snapshots, and with raft the bucket no longer holds the live
 * data. A CronJob logs in through Kubernetes auth as `raft-snapshot` (which
 * may only read sys/storage/raft/snapshot), saves a snapshot and uploads it
 * under `<storage.prefix><server.snapshots.prefix>`.
 */
export class RaftSnapshots extends pulumi.ComponentResource {
    /** Name of the CronJob. */
    public readonly cronJobName: string;
    /** `s3://<bucket>/<prefix>` where the snapshots land. */
    public readonly destination: pulumi.Output<string>;

    constructor(name: string, args: RaftSnapshotsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secret-platform:snapshots:RaftSnapshots", name, {}, opts);
        const c = args.config;
        const snapshots = c.server.snapshots;
        if (c.server.storageBackend !== "raft" || snapshots?.enabled !== true) {
            throw new pulumi.ResourceError("RaftSnapshots needs server.storageBackend raft with snapshots on", this);
        }
        // aws mode: the uploader's write-only keys; s3-compatible: its own keys when set, else the bucket's
        // (docs/architecture/snapshots.md).
        const creds = args.storage.snapshotCredentials ?? args.storage.credentials;
        if (creds === undefined) {
            // loadConfig refuses snapshots with storage.identity role; any other mode has static keys.
            throw new pulumi.ResourceError("RaftSnapshots needs the storage binding's static credentials", this);
        }
        const k8sChild: pulumi.CustomResourceOptions = { parent: this, provider: args.provider };
        const namespace = args.namespace;

        const sa = new k8s.core.v1.ServiceAccount(
            `${name}-sa`,
            {
                metadata: { name: SNAPSHOT_SERVICE_ACCOUNT, namespace, labels: snapshotLabels("config") },
                automountServiceAccountToken: false,
            },
            k8sChild,
        );
        const config = new k8s.core.v1.ConfigMap(
            `${name}-script`,
            {
                metadata: { name: SNAPSHOT_NAME, namespace, labels: snapshotLabels("config") },
                data: {
                    "raft-snapshot.sh": fs.readFileSync(SNAPSHOT_SCRIPT_PATH, "utf8"),
                    "aws-config": awsCliConfig(args.storage.region, args.storage.forcePathStyle),
                },
            },
            k8sChild,
        );
        const credentials = new k8s.core.v1.Secret(
            `${name}-credentials`,
            {
                metadata: { name: SNAPSHOT_CREDENTIALS_SECRET, namespace, labels: snapshotLabels("config") },
                type: "Opaque",
                // The SDK's Secret marks data/stringData as secret outputs itself.
                stringData: pulumi.secret(
                    pulumi
                        .all([creds.accessKeyId, creds.secretAccessKey])
                        .apply(([id, key]) => ({ [SHARED_CREDENTIALS_FILE]: awsSharedCredentialsFile(id, key) })),
                ),
            },
            k8sChild,
        );

        const keyPrefix = snapshotKeyPrefix(c);
        const ca = inClusterVaultCa(c);
        const podSpec = pulumi.all([args.storage.bucket, args.kubernetesAuthPath]).apply(([bucket, authPath]) =>
            snapshotPodSpec({
                vaultImage: vaultImageRef(c.server.image),
                uploadImage: snapshots.image,
                vaultAddr: activeVaultUrl(c),
                authPath,
                bucket,
                keyPrefix,
                endpoint: args.storage.endpoint,
                caSecretName: ca?.kind === "secret" ? ca.name : undefined,
                caConfigMapName: ca?.kind === "configMap" ? ca.name : undefined,
                s3CaConfigMapName:
                    c.trust.caBundle !== undefined && isHttpsUrl(args.storage.endpoint)
                        ? TRUST_CA_CONFIGMAP
                        : undefined,
            }),
        );
        new k8s.batch.v1.CronJob(
            `${name}-cronjob`,
            {
                metadata: { name: SNAPSHOT_NAME, namespace, labels: snapshotLabels("cronjob") },
                spec: {
                    schedule: snapshots.schedule,
                    concurrencyPolicy: "Forbid",
                    startingDeadlineSeconds: 600,
                    successfulJobsHistoryLimit: 1,
                    failedJobsHistoryLimit: 3,
                    jobTemplate: {
                        spec: {
                            backoffLimit: 2,
                            // A hung save or upload must not outlive the ServiceAccount token by much.
                            activeDeadlineSeconds: 900,
                            template: { metadata: { labels: snapshotLabels("cronjob") }, spec: podSpec },
                        },
                    },
                },
            },
            { ...k8sChild, dependsOn: after(args.ready, sa, config, credentials) },
        );

        this.cronJobName = SNAPSHOT_NAME;
        this.destination = pulumi.interpolate`s3://${args.storage.bucket}/${keyPrefix}`;
        this.registerOutputs({ cronJobName: this.cronJobName, destination: this.destination });
    }
}
