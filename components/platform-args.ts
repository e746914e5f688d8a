/**
 * Config -> args, in one place: each function takes the validated stack
 * config (and the Outputs of the components built before) and returns one
 * component's Args, holding only the keys that component reads. The platform
 * calls them in order; the specs call them to build a component alone.
 */
import * as k8s from "@pulumi/kubernetes";
import { PlatformConfig } from "./config";
import { VaultBootstrap, VaultBootstrapArgs } from "./bootstrap";
import { ExternalSecretsArgs } from "./external-secrets";
import { alertsMode, buildAlertRules } from "./lib/alert-rules";
import { MonitoringAlertsArgs } from "./monitoring";
import { PULUMI_POLICY } from "./lib/policy-names";
import { renderPolicies } from "./lib/policies";
import { tenantRoleName } from "./lib/secret-store-manifests";
import { VaultServer, VaultServerArgs } from "./server";
import { KvBackupArgs } from "./kv-backup";
import { RaftSnapshotsArgs, snapshotKeyPrefix } from "./snapshots";
import { StorageBinding, VaultStorageArgs } from "./storage";
import { VaultConfiguration, VaultConfigurationArgs } from "./vault-setup";

/** A copy of `config` with only these keys: a component is handed its slice, not the whole config. */
export function pick<K extends keyof PlatformConfig>(config: PlatformConfig, ...keys: K[]): Pick<PlatformConfig, K> {
    return Object.fromEntries(keys.map((k) => [k, config[k]])) as Pick<PlatformConfig, K>;
}

/** VaultStorage: the bucket, the seal key, and the static keys from the secret config. */
export function storageArgs(config: PlatformConfig): VaultStorageArgs {
    const s = config.secrets;
    const keys = (accessKeyId: typeof s.storageAccessKeyId, secretAccessKey: typeof s.storageAccessKeyId) =>
        accessKeyId === undefined || secretAccessKey === undefined ? undefined : { accessKeyId, secretAccessKey };
    return {
        storage: config.storage,
        unseal: config.unseal,
        clusterName: config.cluster.name,
        vaultNamespace: config.server.namespace,
        credentials: keys(s.storageAccessKeyId, s.storageSecretAccessKey),
        sealCredentials: keys(s.sealAccessKeyId, s.sealSecretAccessKey),
        snapshotCredentials: keys(s.snapshotAccessKeyId, s.snapshotSecretAccessKey),
        caBundle: config.trust.caBundle,
        ...(config.server.storageBackend === "raft" && config.server.snapshots?.enabled === true
            ? { snapshotKeyPrefix: snapshotKeyPrefix(config) }
            : {}),
    };
}

/** VaultServer: the chart and its neighbours over the storage binding. */
export function serverArgs(config: PlatformConfig, storage: StorageBinding, provider: k8s.Provider): VaultServerArgs {
    return {
        config: {
            ...pick(config, "server", "unseal", "exposure", "networkPolicy", "trust", "audit"),
            // Of these only the fields the NetworkPolicies and the trust wiring read (no OIDC client secret).
            storage: { mode: config.storage.mode, endpoint: config.storage.endpoint },
            oidc: { enabled: config.oidc.enabled },
            externalSecrets: { namespace: config.externalSecrets.namespace },
            backup: { enabled: config.backup.enabled },
        },
        storage,
        provider,
    };
}

/** VaultBootstrap: init, unseal and the provider token, after the server is ready. */
export function bootstrapArgs(
    config: PlatformConfig,
    server: VaultBootstrapArgs["server"],
    provider: k8s.Provider,
): VaultBootstrapArgs {
    const pulumiPolicy = renderPolicies(config).find((p) => p.name === PULUMI_POLICY);
    if (pulumiPolicy === undefined) throw new Error(`policies/${PULUMI_POLICY}.hcl is missing`);
    return {
        // Of the secrets, only the operator's token (adopting an initialized Vault).
        config: {
            ...pick(config, "unseal", "vault", "trust", "server"),
            secrets: { vaultToken: config.secrets.vaultToken },
        },
        server,
        pulumiPolicy,
        provider,
    };
}

/** VaultConfiguration: Vault's own setup, through bootstrap's provider once bootstrap is ready. */
export function setupArgs(
    config: PlatformConfig,
    bootstrap: Pick<VaultBootstrap, "vaultProvider" | "ready">,
): VaultConfigurationArgs {
    return {
        config: {
            ...pick(config, "cluster", "kv", "oidc", "exposure", "kubernetesAuth", "audit", "trust", "server"),
            backup: { enabled: config.backup.enabled },
            storage: { protect: config.storage.protect },
            externalSecrets: {
                serviceAccount: config.externalSecrets.serviceAccount,
                namespace: config.externalSecrets.namespace,
                canary: config.externalSecrets.canary,
                tenants: config.externalSecrets.tenants,
            },
        },
        provider: bootstrap.vaultProvider,
        ready: bootstrap.ready,
    };
}

/** RaftSnapshots: the CronJob, once the raft-snapshot role is ready (raft with server.snapshots on). */
export function snapshotsArgs(
    config: PlatformConfig,
    server: Pick<VaultServer, "namespace">,
    storage: StorageBinding,
    configuration: Pick<VaultConfiguration, "kubernetesAuthPath" | "snapshotReady">,
    provider: k8s.Provider,
): RaftSnapshotsArgs {
    return {
        config: { ...pick(config, "server", "trust"), storage: { prefix: config.storage.prefix } },
        namespace: server.namespace,
        storage,
        kubernetesAuthPath: configuration.kubernetesAuthPath,
        ready: configuration.snapshotReady ?? [],
        provider,
    };
}

/** KvBackup: the export CronJob, once the kv-backup role and the mounts are ready (backup.enabled). */
export function backupArgs(
    config: PlatformConfig,
    server: Pick<VaultServer, "namespace">,
    storage: StorageBinding,
    configuration: Pick<VaultConfiguration, "kubernetesAuthPath" | "backupReady">,
    provider: k8s.Provider,
): KvBackupArgs {
    return {
        config: {
            ...pick(config, "cluster", "kv", "server", "trust", "backup"),
            kubernetesAuth: { remoteClusters: config.kubernetesAuth.remoteClusters },
        },
        namespace: server.namespace,
        storage,
        kubernetesAuthPath: configuration.kubernetesAuthPath,
        ready: configuration.backupReady ?? [],
        provider,
    };
}

/** ExternalSecrets: the stores over this cluster's Kubernetes auth, once the roles and mounts are ready. */
export function externalSecretsArgs(
    config: PlatformConfig,
    server: Pick<VaultServer, "internalUrl">,
    configuration: Pick<VaultConfiguration, "ready" | "canaryReady">,
    provider: k8s.Provider,
): ExternalSecretsArgs {
    return {
        config: pick(config, "externalSecrets", "kv", "server", "trust", "cluster", "kubernetesAuth", "vault"),
        provider,
        // externalSecrets.serverUrl overrides the in-cluster Service (default).
        vaultUrl: config.externalSecrets.serverUrl ?? server.internalUrl,
        // The config's own values, not the Vault resources' outputs: those are unknown in the preview of a
        // new stack, which made the stores' whole spec unknown, so the guard pack could not check it (seen
        // under the real engine: eso-store-kubernetes-auth downgraded to "can't run during preview").
        // The order stays: the stores wait for configuration.ready (the roles and the mounts).
        kubernetesAuthPath: config.kubernetesAuth.path,
        role: config.kubernetesAuth.role,
        tenantRoles: Object.fromEntries(
            config.externalSecrets.tenants.map((t) => [t.name, tenantRoleName(config.kubernetesAuth.role, t.name)]),
        ),
        clusterMount: config.cluster.name,
        ready: configuration.ready,
        canaryReady: configuration.canaryReady,
    };
}

/** MonitoringAlerts: the alert pack in the monitoring namespace; undefined when it is off. */
export function alertsArgs(config: PlatformConfig, provider: k8s.Provider): MonitoringAlertsArgs | undefined {
    const mode = alertsMode(config);
    const namespace = config.networkPolicy.monitoringNamespace;
    if (mode === undefined || namespace === undefined) return undefined;
    return {
        mode,
        groups: buildAlertRules(
            pick(
                config,
                "monitoring",
                "networkPolicy",
                "server",
                "exposure",
                "audit",
                "externalSecrets",
                "kv",
                "backup",
            ),
        ),
        namespace,
        labels: config.monitoring.ruleLabels,
        provider,
    };
}
