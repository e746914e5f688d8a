import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "./config";
import { StorageBinding } from "./storage";
import { buildHttpRoute, buildIngress } from "./lib/exposure";
import {
    buildVaultValues,
    internalUrl,
    RELEASE_NAME,
    SEAL_CREDENTIALS_SECRET,
    STORAGE_CREDENTIALS_SECRET,
} from "./lib/helm-values";
import { buildNetworkPolicies, missingEgress } from "./lib/network-policy";

export interface VaultServerArgs {
    /** The validated stack config. */
    readonly config: PlatformConfig;
    /** Storage and seal, from VaultStorage. */
    readonly storage: StorageBinding;
    /** The cluster's explicit Kubernetes provider. */
    readonly provider: k8s.Provider;
}

/** Labels this program puts on the objects it writes itself. */
const MANAGED_LABELS = { "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "secret-platform" };

/** Pod Security Admission: Vault's and the unsealer's pods meet `restricted`, so enforce it. */
export const PSA_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/audit-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/warn-version": "latest",
};

/**
 * Whether the S3 credentials go into the pod as AWS_* env vars: when the S3
 * backend uses them, or when the awskms seal reads the same identity from the
 * standard AWS chain (aws mode with an IAM user).
 */
function storageEnvNeeded(config: PlatformConfig, storage: StorageBinding): boolean {
    if (storage.credentials === undefined) return false;
    const sealUsesEnv = config.unseal.mode === "awskms" && storage.sealCredentials === undefined;
    return config.server.storageBackend === "s3" || sealUsesEnv;
}

/** Vault from the official Helm chart, its namespace, NetworkPolicy and UI exposure. */
export class VaultServer extends pulumi.ComponentResource {
    /** Namespace Vault runs in (resolves once the Namespace exists). */
    public readonly namespace: pulumi.Output<string>;
    /** In-cluster URL of the Vault service (e.g. http://vault.vault.svc:8200). */
    public readonly internalUrl: string;
    /** Name of Vault's service account (the chart's, named after the release). */
    public readonly serviceAccountName: string;
    /** The chart: every rendered object is a resource of this stack, so a refresh sees drift. */
    public readonly chart: k8s.helm.v4.Chart;
    /** Resources later steps must wait for (the chart, and the policies that let traffic in). */
    public readonly ready: pulumi.Resource[];

    constructor(name: string, args: VaultServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secret-platform:server:VaultServer", name, {}, opts);
        const c = args.config;
        const storage = args.storage;
        const raft = c.server.storageBackend === "raft";

        if (c.unseal.mode === "awskms" && storage.seal === undefined) {
            throw new pulumi.ResourceError(
                "unseal.mode is awskms but the storage binding has no seal key (VaultStorage must provide one)",
                this,
            );
        }
        if (storage.sealCredentials !== undefined && c.unseal.mode !== "awskms") {
            throw new pulumi.ResourceError("seal credentials were given but unseal.mode is not awskms", this);
        }

        const trusted = storage.serviceAccount;
        if (trusted !== undefined && (trusted.namespace !== c.server.namespace || trusted.name !== RELEASE_NAME)) {
            // The chart's service account is named after the release; IRSA would silently fail to assume the role.
            throw new pulumi.ResourceError(
                `the storage IAM role trusts service account ${trusted.namespace}/${trusted.name}, but Vault runs as ${c.server.namespace}/${RELEASE_NAME}`,
                this,
            );
        }

        const child: pulumi.CustomResourceOptions = { parent: this, provider: args.provider };

        const ns = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            { metadata: { name: c.server.namespace, labels: { ...MANAGED_LABELS, ...PSA_LABELS } } },
            // With raft the data lives in the namespace's PVCs: deleting the stack must not delete it.
            { ...child, retainOnDelete: raft && c.storage.protect },
        );
        const namespace = ns.metadata.name;

        const credentialSecrets: k8s.core.v1.Secret[] = [];
        const secret = (suffix: string, secretName: string, data: Record<string, pulumi.Output<string>>) => {
            const s = new k8s.core.v1.Secret(
                `${name}-${suffix}`,
                {
                    metadata: { name: secretName, namespace, labels: MANAGED_LABELS },
                    type: "Opaque",
                    stringData: pulumi.secret(data),
                },
                // The SDK's Secret adds additionalSecretOutputs data/stringData itself.
                child,
            );
            credentialSecrets.push(s);
            return s;
        };
        const useStorageEnv = storageEnvNeeded(c, storage);
        if (useStorageEnv && storage.credentials !== undefined) {
            secret("storage-credentials", STORAGE_CREDENTIALS_SECRET, {
                AWS_ACCESS_KEY_ID: storage.credentials.accessKeyId,
                AWS_SECRET_ACCESS_KEY: storage.credentials.secretAccessKey,
            });
        }
        if (storage.sealCredentials !== undefined) {
            // File names referenced by the seal stanza's file:// paths (see lib/server-hcl.ts).
            secret("seal-credentials", SEAL_CREDENTIALS_SECRET, {
                "access-key-id": storage.sealCredentials.accessKeyId,
                "secret-access-key": storage.sealCredentials.secretAccessKey,
            });
        }

        const policies = buildNetworkPolicies(c).map(
            (p) =>
                new k8s.networking.v1.NetworkPolicy(
                    `${name}-netpol-${p.id}`,
                    { metadata: { name: p.name, namespace, labels: MANAGED_LABELS }, spec: p.spec },
                    child,
                ),
        );
        for (const warning of missingEgress(c)) pulumi.log.warn(warning, this);

        const values = pulumi
            .all([storage.bucket, storage.storageKmsKeyId, storage.seal?.kmsKeyId, storage.roleArn])
            .apply(([bucket, storageKmsKeyId, sealKeyId, roleArn]) =>
                buildVaultValues(c, {
                    bucket,
                    region: storage.region,
                    endpoint: storage.endpoint,
                    forcePathStyle: storage.forcePathStyle,
                    prefix: storage.prefix,
                    storageKmsKeyId,
                    seal:
                        storage.seal === undefined || sealKeyId === undefined
                            ? undefined
                            : { kmsKeyId: sealKeyId, region: storage.seal.region },
                    credentialsSecret: useStorageEnv ? STORAGE_CREDENTIALS_SECRET : undefined,
                    sealCredentialsSecret: storage.sealCredentials === undefined ? undefined : SEAL_CREDENTIALS_SECRET,
                    roleArn,
                }),
            );

        this.chart = new k8s.helm.v4.Chart(
            `${name}-chart`,
            {
                chart: "vault",
                version: c.server.chartVersion,
                repositoryOpts: { repo: c.server.chartRepository },
                name: RELEASE_NAME,
                namespace,
                values,
            },
            {
                parent: this,
                provider: args.provider,
                // Credentials and the deny-by-default policies exist before the first pod starts.
                dependsOn: [ns, ...credentialSecrets, ...policies],
            },
        );

        const ingress = buildIngress(c);
        if (ingress !== undefined) {
            new k8s.networking.v1.Ingress(
                `${name}-ingress`,
                {
                    metadata: {
                        name: RELEASE_NAME,
                        namespace,
                        labels: MANAGED_LABELS,
                        annotations: ingress.annotations,
                    },
                    spec: ingress.spec,
                },
                child,
            );
        }
        const route = buildHttpRoute(c);
        if (route !== undefined) {
            new k8s.apiextensions.CustomResource(
                `${name}-httproute`,
                {
                    apiVersion: "gateway.networking.k8s.io/v1",
                    kind: "HTTPRoute",
                    metadata: { name: RELEASE_NAME, namespace, labels: MANAGED_LABELS },
                    spec: route,
                },
                child,
            );
        }

        this.namespace = namespace;
        this.internalUrl = internalUrl(c);
        this.serviceAccountName = RELEASE_NAME;
        this.ready = [this.chart, ...policies];
        this.registerOutputs({
            namespace: this.namespace,
            internalUrl: this.internalUrl,
            serviceAccountName: this.serviceAccountName,
        });
    }
}
