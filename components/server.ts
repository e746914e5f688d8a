import { createHash } from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import stableStringify from "fast-json-stable-stringify";
import { StorageBinding } from "./storage";
import {
    buildHttpRoute,
    buildIngress,
    buildServersTransport,
    buildSysBlockIngress,
    ExposureSlice,
    SYS_BLOCK_NAME,
    UNROUTED_SERVICE,
    unroutedServiceSpec,
} from "./lib/exposure";
import {
    awsSharedCredentialsFile,
    buildVaultValues,
    internalUrl,
    SEAL_CREDENTIALS_SECRET,
    SEAL_KEY_FILES,
    SHARED_CREDENTIALS_FILE,
    STORAGE_CREDENTIALS_SECRET,
    VaultValuesSlice,
} from "./lib/helm-values";
import { MANAGED_LABELS, RELEASE_NAME } from "./lib/contracts";
import { buildMetricsScrape, METRICS_SERVICE } from "./lib/metrics";
import { buildNetworkPolicies, NetworkPolicySlice } from "./lib/network-policy";
import { readinessOf, Readiness } from "./lib/readiness";
import { TRUST_CA_CONFIGMAP, TRUST_CA_KEY, trustBundle, vaultPodS3UsesBundle } from "./lib/trust";

/**
 * The config keys the server reads: its own (`server`), the seal mode, the
 * route (`exposure`), the NetworkPolicies (`networkPolicy`, and the storage,
 * OIDC and ESO settings whose flows they open), and `trust.caBundle`.
 */
export type ServerSlice = VaultValuesSlice & NetworkPolicySlice & ExposureSlice;

/** What VaultServer is built from; serverArgs (platform-args.ts) makes it. */
export interface VaultServerArgs {
    /** The slice of the validated stack config the server reads. */
    readonly config: ServerSlice;
    /** Storage and seal, from VaultStorage. */
    readonly storage: StorageBinding;
    /** The cluster's explicit Kubernetes provider. */
    readonly provider: k8s.Provider;
}

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
 * How the S3 backend's static keys reach the pod, if at all. `env` (the
 * common case) when the S3 backend uses them, or when the awskms seal shares
 * that identity (aws mode with an IAM user). `sharedFile` when the seal has
 * keys of its own: Vault maps AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY onto the
 * seal stanza, so with two identities no key may be in the env.
 */
function storageDelivery(config: ServerSlice, storage: StorageBinding): "env" | "sharedFile" | undefined {
    if (storage.credentials === undefined) return undefined;
    const sealUsesStorageIdentity = config.unseal.mode === "awskms" && storage.sealCredentials === undefined;
    if (config.server.storageBackend !== "s3" && !sealUsesStorageIdentity) return undefined;
    return storage.sealCredentials === undefined ? "env" : "sharedFile";
}

/** Pod-template annotation with the digest of the credential Secrets' contents. */
export const CREDENTIALS_CHECKSUM_ANNOTATION = "vault-platform/start-inputs-checksum";

function withCredentialsChecksum(values: Record<string, unknown>, checksum: string): Record<string, unknown> {
    const server = values.server as { annotations?: Record<string, string> };
    // Next to the pod annotations the builder set (the metrics scrape annotations).
    const annotations = { ...server.annotations, [CREDENTIALS_CHECKSUM_ANNOTATION]: checksum };
    return { ...values, server: { ...server, annotations } };
}

/** Vault from the official Helm chart, its namespace, NetworkPolicy and UI exposure. */
export class VaultServer extends pulumi.ComponentResource {
    /** Namespace Vault runs in (resolves once the Namespace exists). */
    public readonly namespace: pulumi.Output<string>;
    /**
     * Vault's server in its cluster, as bootstrap tells it apart: the namespace's uid. A new cluster (or the
     * namespace created again) gives a new one, unknown in the preview of the update that creates it.
     */
    public readonly identity: pulumi.Output<string>;
    /**
     * A digest of the chart's version, repository and values: a new one means this update renders the server
     * anew, which replaces its pods when their template changed. Bootstrap then checks Vault in the update,
     * after the roll has begun, never in the middle of it from a diff.
     */
    public readonly revision: pulumi.Output<string>;
    /** In-cluster URL of the Vault service (e.g. http://vault.vault.svc:8200). */
    public readonly internalUrl: string;
    /** Name of Vault's service account (the chart's, named after the release). */
    public readonly serviceAccountName: string;
    /** The chart: every rendered object is a resource of this stack, so a refresh sees drift. */
    public readonly chart: k8s.helm.v4.Chart;
    /** Readiness of the server: the chart, and the policies that let traffic in. */
    public readonly ready: Readiness;
    /** The ConfigMap with trust.caBundle (when set), mounted by the pods that talk to private endpoints. */
    public readonly trustCa?: k8s.core.v1.ConfigMap;

    constructor(name: string, args: VaultServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secret-platform:server:VaultServer", name, {}, opts);
        const c = args.config;
        const storage = args.storage;

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
            // Never deleted by the stack, whatever storage.protect says: it holds the key
            // shares Secret, the audit PVC and (raft) the data PVCs; deleting it deletes them.
            { ...child, retainOnDelete: true },
        );
        const namespace = ns.metadata.name;

        const credentialSecrets: k8s.core.v1.Secret[] = [];
        // What Vault reads at start from Secrets, for the pod-template checksum below.
        const credentialContents: pulumi.Output<unknown>[] = [];
        const secret = (
            suffix: string,
            secretName: string,
            data: pulumi.Input<Record<string, pulumi.Input<string>>>,
        ) => {
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
            credentialContents.push(pulumi.output(data));
            return s;
        };
        const delivery = storageDelivery(c, storage);
        const creds = storage.credentials;
        if (delivery !== undefined && creds !== undefined) {
            const keys = pulumi.all([creds.accessKeyId, creds.secretAccessKey]);
            secret(
                "storage-credentials",
                STORAGE_CREDENTIALS_SECRET,
                delivery === "env"
                    ? keys.apply(([id, key]) => ({ AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: key }))
                    : keys.apply(([id, key]) => ({ [SHARED_CREDENTIALS_FILE]: awsSharedCredentialsFile(id, key) })),
            );
        }
        const sealCreds = storage.sealCredentials;
        if (sealCreds !== undefined) {
            // Vault reads file:// values byte for byte: no stray newline may reach the KMS signature.
            secret(
                "seal-credentials",
                SEAL_CREDENTIALS_SECRET,
                pulumi.all([sealCreds.accessKeyId, sealCreds.secretAccessKey]).apply(([id, key]) => ({
                    [SEAL_KEY_FILES.accessKeyId]: id.trim(),
                    [SEAL_KEY_FILES.secretAccessKey]: key.trim(),
                })),
            );
        }

        // trust.caBundle for the pods (Vault's S3 client, the unsealer, the snapshot job): public, so a ConfigMap.
        const bundle = trustBundle(c);
        const trustCa =
            bundle === undefined
                ? undefined
                : new k8s.core.v1.ConfigMap(
                      `${name}-trust-ca`,
                      {
                          metadata: { name: TRUST_CA_CONFIGMAP, namespace, labels: MANAGED_LABELS },
                          data: { [TRUST_CA_KEY]: bundle },
                      },
                      child,
                  );
        if (vaultPodS3UsesBundle(c) && c.unseal.mode === "awskms") {
            // aws-sdk-go's AWS_CA_BUNDLE replaces the system roots for every AWS client in the pod, the seal's too.
            pulumi.log.warn(
                "secret-platform:trust.caBundle: Vault's AWS SDK then trusts only this bundle, for the awskms seal too: " +
                    "it must also hold the roots of the KMS endpoint (for AWS, Amazon Root CA 1)",
                this,
            );
        }

        const policies = buildNetworkPolicies(c).map(
            (p) =>
                new k8s.networking.v1.NetworkPolicy(
                    `${name}-netpol-${p.id}`,
                    { metadata: { name: p.name, namespace, labels: MANAGED_LABELS }, spec: p.spec },
                    child,
                ),
        );

        // A rotated key must roll the pods (the chart's checksum covers only the HCL). Only a SHA-256 digest
        // leaves the secret Output: the inputs are access keys (>=128 bits of entropy for Garage/AWS keys),
        // so the digest reveals nothing guessable; a low-entropy key would be guessable from it.
        const credentialsChecksum = pulumi.unsecret(
            pulumi
                .all(credentialContents)
                .apply((contents) => createHash("sha256").update(JSON.stringify(contents)).digest("hex")),
        );
        const values = pulumi
            .all([
                storage.bucket,
                storage.storageKmsKeyId,
                storage.seal?.kmsKeyId,
                storage.roleArn,
                credentialsChecksum,
            ])
            .apply(([bucket, storageKmsKeyId, sealKeyId, roleArn, checksum]) =>
                withCredentialsChecksum(
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
                        storageCredentials:
                            delivery === undefined ? undefined : { secretName: STORAGE_CREDENTIALS_SECRET, delivery },
                        sealCredentialsSecret:
                            storage.sealCredentials === undefined ? undefined : SEAL_CREDENTIALS_SECRET,
                        roleArn,
                    }),
                    checksum,
                ),
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
                dependsOn: [ns, ...credentialSecrets, ...policies, ...(trustCa === undefined ? [] : [trustCa])],
            },
        );

        // The unauthenticated ceremonies (generate-root, rekey, raft join) off the exposed host.
        const blocked = buildSysBlockIngress(c);
        let sysBlocked: k8s.networking.v1.Ingress | undefined;
        if (blocked !== undefined) {
            const guard =
                blocked.middleware === undefined
                    ? new k8s.core.v1.Service(
                          `${name}-unrouted`,
                          {
                              metadata: { name: UNROUTED_SERVICE, namespace, labels: MANAGED_LABELS },
                              spec: unroutedServiceSpec(),
                          },
                          child,
                      )
                    : new k8s.apiextensions.CustomResource(
                          `${name}-sys-blocked-middleware`,
                          {
                              apiVersion: "traefik.io/v1alpha1",
                              kind: "Middleware",
                              metadata: { name: SYS_BLOCK_NAME, namespace, labels: MANAGED_LABELS },
                              spec: blocked.middleware,
                          },
                          child,
                      );
            sysBlocked = new k8s.networking.v1.Ingress(
                `${name}-sys-blocked`,
                {
                    metadata: {
                        name: SYS_BLOCK_NAME,
                        namespace,
                        labels: MANAGED_LABELS,
                        annotations: blocked.annotations,
                    },
                    spec: blocked.spec,
                },
                // The refusal exists before the paths are routed to it.
                { ...child, dependsOn: [guard] },
            );
        }
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
                // `/` is routed only once the ceremonies' paths are refused.
                { ...child, dependsOn: sysBlocked === undefined ? [] : [sysBlocked] },
            );
        }
        const transport = buildServersTransport(c);
        if (transport !== undefined) {
            new k8s.apiextensions.CustomResource(
                `${name}-servers-transport`,
                {
                    apiVersion: "traefik.io/v1alpha1",
                    kind: "ServersTransport",
                    metadata: { name: transport.name, namespace, labels: MANAGED_LABELS },
                    spec: transport.spec,
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

        const scrape = buildMetricsScrape(c);
        if (scrape !== undefined) {
            const service = new k8s.core.v1.Service(
                `${name}-metrics`,
                {
                    metadata: {
                        name: METRICS_SERVICE,
                        namespace,
                        labels: { ...MANAGED_LABELS, ...scrape.service.labels },
                    },
                    spec: scrape.service.spec,
                },
                child,
            );
            new k8s.apiextensions.CustomResource(
                `${name}-service-monitor`,
                {
                    apiVersion: "monitoring.coreos.com/v1",
                    kind: "ServiceMonitor",
                    metadata: { name: METRICS_SERVICE, namespace, labels: MANAGED_LABELS },
                    spec: scrape.serviceMonitor.spec,
                },
                { ...child, dependsOn: [service] },
            );
        }

        this.namespace = namespace;
        this.identity = ns.metadata.uid;
        this.revision = values.apply((v) =>
            createHash("sha256")
                // Keys sorted: the digest follows the values, not the order a builder wrote them in.
                .update(
                    stableStringify({ chart: c.server.chartVersion, repository: c.server.chartRepository, values: v }),
                )
                .digest("hex"),
        );
        this.internalUrl = internalUrl(c);
        this.serviceAccountName = RELEASE_NAME;
        this.ready = readinessOf([this.chart, ...policies]);
        this.trustCa = trustCa;
        this.registerOutputs({
            namespace: this.namespace,
            internalUrl: this.internalUrl,
            serviceAccountName: this.serviceAccountName,
        });
    }
}
