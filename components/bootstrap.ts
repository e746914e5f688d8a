import * as fs from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { PlatformConfig, PlatformSecrets } from "./config";
import { PULUMI_POLICY } from "./lib/policy-names";
import { PART_OF_LABELS, podApiUrl, serverPodName, UNSEALER_NAME, vaultImageRef, vaultScheme } from "./lib/contracts";
import { CONTAINER_SECURITY_CONTEXT, POD_SECURITY_CONTEXT } from "./lib/pod-security";
import { RenderedPolicy } from "./lib/policies";
import { readinessOf, Readiness } from "./lib/readiness";
import { inClusterVaultCa, TRUST_CA_KEY, TRUST_CA_POD_DIR, writeTrustCaFile } from "./lib/trust";
import { VaultInit, VaultProviderToken, VaultUnsealed } from "./lib/bootstrap-resources";
import { VaultServer } from "./server";

/** The unsealer script, shipped in a ConfigMap (it holds no secret). */
export const UNSEAL_SCRIPT_PATH = path.join(__dirname, "unseal.sh");

/** Where the unsealer pods see the unseal keys, one file a key. */
export const UNSEAL_KEYS_DIR = "/vault/unseal-keys";
const SCRIPT_DIR = "/vault/unsealer";
const CA_DIR = "/vault/tls-ca";

/** File name of the i-th (0-based) unseal key in the Secret and the mounted directory. */
export function unsealKeyFile(i: number): string {
    return `unseal-key-${i + 1}`;
}

/** The unseal keys Secret's stringData: one file a key share. */
export function unsealKeyFiles(keys: readonly string[]): Record<string, string> {
    return Object.fromEntries(keys.map((k, i) => [unsealKeyFile(i), k]));
}

/** Labels of every unsealer object; the server's NetworkPolicy admits `app.kubernetes.io/name: vault-unsealer`. */
export function unsealerLabels(component: "cronjob" | "loop" | "config"): Record<string, string> {
    return {
        "app.kubernetes.io/name": UNSEALER_NAME,
        "app.kubernetes.io/component": component,
        ...PART_OF_LABELS,
    };
}

/**
 * Each raft pod's own URL when several run (through the chart's headless
 * service, as the pods' retry_join uses them); undefined otherwise. Through
 * the `vault` Service the keys would land on random pods.
 */
export function raftPodUrls(c: Pick<PlatformConfig, "server">): string[] | undefined {
    if (c.server.storageBackend !== "raft" || c.server.replicas < 2) return undefined;
    const scheme = vaultScheme(c.server.tls);
    return Array.from({ length: c.server.replicas }, (_, i) => podApiUrl(scheme, serverPodName(i)));
}

/** What the unsealer pod spec is built from. */
export interface UnsealerPodOptions {
    /** The Vault image (`repository:tag`), which has sh and the vault CLI. */
    readonly image: string;
    /** VAULT_ADDR: Vault's in-cluster URL. */
    readonly vaultAddr: string;
    /** VAULT_ADDRS: each raft pod's own URL (HA); Shamir keys unseal one server at a time. */
    readonly podAddrs?: readonly string[];
    /** The Secret with the unseal key files. */
    readonly keysSecretName: string;
    /** The ConfigMap with unseal.sh. */
    readonly scriptConfigMap: string;
    /** Script arguments ([] for one check, ["--loop", "<s>"] for the loop). */
    readonly args: string[];
    /** A Secret whose ca.crt verifies an https VAULT_ADDR (internal TLS); none for http. */
    readonly caSecretName?: string;
    /** Instead: the ConfigMap with trust.caBundle (its ca.crt) that verifies an https VAULT_ADDR. */
    readonly caConfigMapName?: string;
}

/**
 * The unsealer's pod spec, shared by the CronJob and the loop Deployment:
 * restricted Pod Security, no API token, keys only as read-only files.
 */
export function unsealerPodSpec(o: UnsealerPodOptions): k8s.types.input.core.v1.PodSpec {
    const env: k8s.types.input.core.v1.EnvVar[] = [
        { name: "VAULT_ADDR", value: o.vaultAddr },
        ...(o.podAddrs === undefined ? [] : [{ name: "VAULT_ADDRS", value: o.podAddrs.join(" ") }]),
        { name: "UNSEAL_KEYS_DIR", value: UNSEAL_KEYS_DIR },
        // The vault CLI looks for ~/.vault-token; the read-only root has no home to write.
        { name: "HOME", value: "/tmp" },
    ];
    const mounts: k8s.types.input.core.v1.VolumeMount[] = [
        { name: "unseal-keys", mountPath: UNSEAL_KEYS_DIR, readOnly: true },
        { name: "script", mountPath: SCRIPT_DIR, readOnly: true },
        { name: "tmp", mountPath: "/tmp" },
    ];
    const volumes: k8s.types.input.core.v1.Volume[] = [
        { name: "unseal-keys", secret: { secretName: o.keysSecretName, defaultMode: 0o400 } },
        { name: "script", configMap: { name: o.scriptConfigMap, defaultMode: 0o555 } },
        { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
    ];
    if (o.caSecretName !== undefined) {
        env.push({ name: "VAULT_CACERT", value: `${CA_DIR}/ca.crt` });
        mounts.push({ name: "vault-ca", mountPath: CA_DIR, readOnly: true });
        // Only ca.crt is projected: the server's key never reaches the unsealer.
        volumes.push({
            name: "vault-ca",
            secret: { secretName: o.caSecretName, items: [{ key: "ca.crt", path: "ca.crt" }], defaultMode: 0o444 },
        });
    } else if (o.caConfigMapName !== undefined) {
        env.push({ name: "VAULT_CACERT", value: `${TRUST_CA_POD_DIR}/${TRUST_CA_KEY}` });
        mounts.push({ name: "trust-ca", mountPath: TRUST_CA_POD_DIR, readOnly: true });
        volumes.push({ name: "trust-ca", configMap: { name: o.caConfigMapName, defaultMode: 0o444 } });
    }
    return {
        serviceAccountName: UNSEALER_NAME,
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        // fsGroup makes the root-owned 0400 key files readable by the vault group.
        securityContext: POD_SECURITY_CONTEXT,
        containers: [
            {
                name: "unsealer",
                image: o.image,
                imagePullPolicy: "IfNotPresent",
                command: ["/bin/sh", `${SCRIPT_DIR}/unseal.sh`],
                args: o.args,
                env,
                volumeMounts: mounts,
                // Each `vault` CLI call maps ~170 MiB of its binary (file pages) and ~20 MiB anonymous.
                resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: "256Mi" } },
                securityContext: CONTAINER_SECURITY_CONTEXT,
            },
        ],
        volumes,
    };
}

/**
 * The config keys bootstrap reads: `unseal` (the mode decides what runs),
 * `vault` (the API it calls), `trust.caBundle`, `secrets.vaultToken` (adopt an
 * initialized Vault), and from `server` the image, replicas and TLS the
 * unsealer pods follow.
 */
export type BootstrapSlice = Pick<PlatformConfig, "unseal" | "vault" | "trust" | "server"> & {
    readonly secrets: Pick<PlatformSecrets, "vaultToken">;
};

/** What VaultBootstrap is built from; bootstrapArgs (platform-args.ts) makes it. */
export interface VaultBootstrapArgs {
    /** The slice of the validated stack config bootstrap reads. */
    readonly config: BootstrapSlice;
    /** From VaultServer: its namespace, identity and revision, internal URL, readiness and the trust.caBundle ConfigMap (when set). */
    readonly server: Pick<VaultServer, "namespace" | "identity" | "revision" | "internalUrl" | "ready" | "trustCa">;
    /** The rendered `pulumi` ACL policy the provider token carries (policies/pulumi.hcl). */
    readonly pulumiPolicy: RenderedPolicy;
    /** The cluster's explicit Kubernetes provider. */
    readonly provider: k8s.Provider;
}

/**
 * Initializes Vault once, keeps it unsealed, and hands out the Vault provider.
 *
 * Key material never vanishes: init's outputs (root token, key shares) are
 * persisted in the stack state as secrets the moment init succeeds, and the
 * unseal keys Secret is a resource fed from them, so a failed Secret write is
 * retried on the next update from the state. The Secret is created once and
 * never rewritten (immutable, ignoreChanges, retained on delete).
 */
export class VaultBootstrap extends pulumi.ComponentResource {
    /** The explicit Vault provider every configuration resource uses. */
    public readonly vaultProvider: vault.Provider;
    /** Readiness of Vault: initialized, unsealed, the provider's token minted; configuration waits for it. */
    public readonly ready: Readiness;
    /** The init resource. */
    public readonly init: VaultInit;
    /** The Vault provider's periodic token (the root token is revoked once it exists). */
    public readonly providerToken: VaultProviderToken;
    /** Whether Vault is initialized (not secret). */
    public readonly initialized: pulumi.Output<boolean>;
    /** The initial root token (secret; revoked by bootstrap; "" when an existing Vault was adopted). */
    public readonly rootToken: pulumi.Output<string>;
    /** Unseal (shamir) or recovery (awskms) key shares (secret). */
    public readonly keyShares: pulumi.Output<string[]>;
    /** `<namespace>/<name>` of the unseal keys Secret (shamir mode only). */
    public readonly unsealKeysSecret?: pulumi.Output<string>;

    constructor(name: string, args: VaultBootstrapArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secret-platform:bootstrap:VaultBootstrap", name, {}, opts);
        const c = args.config;
        const child = { parent: this };
        const k8sChild = { parent: this, provider: args.provider };
        const shamir = c.unseal.mode === "shamir";
        const namespace = args.server.namespace;
        const keysSecret = shamir ? pulumi.interpolate`${namespace}/${c.unseal.secretName}` : pulumi.output("");
        const api = {
            address: c.vault.address,
            skipTlsVerify: c.vault.skipTlsVerify,
            caBundle: c.trust.caBundle,
            waitTimeoutSeconds: c.vault.waitTimeoutSeconds,
            sealType: c.unseal.mode,
        };
        // Only when set: the inputs of a stack that never moved (or never rotated its CA) stay as they were.
        const acknowledged = {
            ...(c.vault.movedFrom === undefined ? {} : { movedFrom: c.vault.movedFrom }),
            ...(c.vault.acknowledgeCa === undefined ? {} : { acknowledgeCa: c.vault.acknowledgeCa }),
        };
        // Raft HA: vault.address reaches only initialized, unsealed pods (the HA readiness probe), and the pods
        // are unsealed one by one at their own addresses by the unsealer (or the seal), never through it.
        const ha = c.server.storageBackend === "raft" && c.server.replicas > 1;
        const raftHa = ha ? { raftHa: true as const } : {};

        this.init = new VaultInit(
            `${name}-init`,
            {
                ...api,
                shares: shamir ? c.unseal.secretShares : c.unseal.recoveryShares,
                threshold: shamir ? c.unseal.secretThreshold : c.unseal.recoveryThreshold,
                adoptExisting: c.secrets.vaultToken !== undefined,
                keysSecret,
                ...raftHa,
            },
            // Shamir: the keys also live in the retained Secret and delete does nothing, so the engine need
            // not ask. awskms: the state holds the only copy of the recovery keys (a Secret would hand any
            // cluster admin a root token through generate-root), so delete runs, and refuses (vault-init-provider).
            { ...child, dependsOn: args.server.ready, retainOnDelete: shamir },
        );
        this.initialized = this.init.initialized;
        this.rootToken = pulumi.secret(this.init.rootToken);
        this.keyShares = pulumi.secret(this.init.keys);

        const unsealDeps: pulumi.Resource[] = [this.init];
        if (shamir) {
            // The unseal keys outlive the stack: a destroy drops init's state copy,
            // so they are also in a Secret written once and retained in the
            // retained namespace, which the unsealer reads.
            const secret = new k8s.core.v1.Secret(
                `${name}-unseal-keys`,
                {
                    metadata: { name: c.unseal.secretName, namespace, labels: unsealerLabels("config") },
                    type: "Opaque",
                    // Kubernetes refuses to change an immutable Secret: keys are written once.
                    immutable: true,
                    stringData: this.keyShares.apply(unsealKeyFiles),
                },
                {
                    ...k8sChild,
                    // Never rewrite stored keys (e.g. with an adopted Vault's empty list), never delete them.
                    ignoreChanges: ["stringData", "data", "immutable"],
                    retainOnDelete: true,
                },
            );
            unsealDeps.push(secret);
            this.unsealKeysSecret = keysSecret;
            this.createUnsealer(name, args, secret, k8sChild);
        }

        // Shamir: submit the keys now, so configuration proceeds in this update.
        // awskms: wait for the auto-unseal. Checked again on every update.
        const unsealed = new VaultUnsealed(
            `${name}-unsealed`,
            {
                ...api,
                keys: shamir ? this.keyShares : [],
                keysSecret,
                serverIdentity: args.server.identity,
                serverRevision: args.server.revision,
                ...raftHa,
                ...acknowledged,
            },
            { ...child, dependsOn: unsealDeps },
        );

        // The provider's own token, minted with the root token (or the operator's
        // vaultToken), which is revoked at once: no valid root token outlives bootstrap.
        const pulumiPolicy = args.pulumiPolicy;
        this.providerToken = new VaultProviderToken(
            `${name}-provider-token`,
            {
                address: c.vault.address,
                skipTlsVerify: c.vault.skipTlsVerify,
                caBundle: c.trust.caBundle,
                policy: PULUMI_POLICY,
                policyText: pulumiPolicy.text,
                bootstrapToken: pulumi.secret(c.secrets.vaultToken ?? this.init.rootToken),
                bootstrapSource: c.secrets.vaultToken === undefined ? "root" : "vaultToken",
                maxAgeSeconds: c.vault.providerTokenMaxAgeDays * 86400,
                serverIdentity: args.server.identity,
                serverRevision: args.server.revision,
                // With raft HA the update waits for a pod that serves, as VaultUnsealed does.
                ...(ha
                    ? {
                          raftHa: {
                              waitTimeoutSeconds: c.vault.waitTimeoutSeconds,
                              sealType: c.unseal.mode,
                              keysSecret,
                          },
                      }
                    : {}),
                ...acknowledged,
            },
            { ...child, dependsOn: [this.init, unsealed] },
        );

        this.vaultProvider = new vault.Provider(
            `${name}-vault`,
            {
                address: c.vault.address,
                token: pulumi.secret(this.providerToken.token),
                skipTlsVerify: c.vault.skipTlsVerify,
                // The provider reads a CA only from a file (ca_cert_file); the path is relative and the same on
                // every machine (see trustCaFilePath). Written now, before the engine configures the provider.
                caCertFile: c.trust.caBundle === undefined ? undefined : writeTrustCaFile(c.trust.caBundle),
            },
            child,
        );
        this.ready = readinessOf([this.init, unsealed, this.providerToken]);
        this.registerOutputs({
            initialized: this.initialized,
            rootToken: this.rootToken,
            keyShares: this.keyShares,
            unsealKeysSecret: this.unsealKeysSecret,
        });
    }

    /** Shamir mode: the CronJob, the optional loop, their ServiceAccount and script. */
    private createUnsealer(
        name: string,
        args: VaultBootstrapArgs,
        secret: k8s.core.v1.Secret,
        k8sChild: pulumi.CustomResourceOptions,
    ): void {
        const c = args.config;
        const namespace = args.server.namespace;
        const sa = new k8s.core.v1.ServiceAccount(
            `${name}-unsealer`,
            {
                metadata: { name: UNSEALER_NAME, namespace, labels: unsealerLabels("config") },
                automountServiceAccountToken: false,
            },
            k8sChild,
        );
        const script = new k8s.core.v1.ConfigMap(
            `${name}-unsealer-script`,
            {
                metadata: { name: UNSEALER_NAME, namespace, labels: unsealerLabels("config") },
                data: { "unseal.sh": fs.readFileSync(UNSEAL_SCRIPT_PATH, "utf8") },
            },
            k8sChild,
        );
        const ca = inClusterVaultCa(c);
        const pod = (scriptArgs: string[]) =>
            unsealerPodSpec({
                image: vaultImageRef(c.server.image),
                vaultAddr: args.server.internalUrl,
                podAddrs: raftPodUrls(c),
                keysSecretName: c.unseal.secretName,
                scriptConfigMap: UNSEALER_NAME,
                args: scriptArgs,
                caSecretName: ca?.kind === "secret" ? ca.name : undefined,
                caConfigMapName: ca?.kind === "configMap" ? ca.name : undefined,
            });
        const deps = {
            ...k8sChild,
            dependsOn: [sa, script, secret, ...(args.server.trustCa === undefined ? [] : [args.server.trustCa])],
        };

        new k8s.batch.v1.CronJob(
            `${name}-unsealer`,
            {
                metadata: { name: UNSEALER_NAME, namespace, labels: unsealerLabels("cronjob") },
                spec: {
                    schedule: c.unseal.schedule,
                    concurrencyPolicy: "Forbid",
                    startingDeadlineSeconds: 120,
                    successfulJobsHistoryLimit: 1,
                    failedJobsHistoryLimit: 3,
                    jobTemplate: {
                        spec: {
                            backoffLimit: 0,
                            // A stuck check must not hold back the next run.
                            activeDeadlineSeconds: 50,
                            template: {
                                metadata: { labels: unsealerLabels("cronjob") },
                                spec: { ...pod([]), restartPolicy: "Never" },
                            },
                        },
                    },
                },
            },
            deps,
        );

        if (c.unseal.loop.enabled) {
            new k8s.apps.v1.Deployment(
                `${name}-unsealer-loop`,
                {
                    metadata: { name: UNSEALER_NAME, namespace, labels: unsealerLabels("loop") },
                    spec: {
                        replicas: 1,
                        selector: { matchLabels: unsealerLabels("loop") },
                        template: {
                            metadata: { labels: unsealerLabels("loop") },
                            spec: {
                                ...pod(["--loop", String(c.unseal.loop.intervalSeconds)]),
                                terminationGracePeriodSeconds: 10,
                            },
                        },
                    },
                },
                deps,
            );
        }
    }
}
