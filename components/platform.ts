import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { configWarnings, PlatformConfig } from "./config";
import { VaultBootstrap } from "./bootstrap";
import { VaultConfiguration } from "./vault-setup";
import { ExternalSecrets } from "./external-secrets";
import { VaultServer } from "./server";
import { KvBackup } from "./kv-backup";
import { RaftSnapshots } from "./snapshots";
import { VaultStorage } from "./storage";
import { MonitoringAlerts } from "./monitoring";
import {
    alertsArgs,
    backupArgs,
    bootstrapArgs,
    externalSecretsArgs,
    serverArgs,
    setupArgs,
    snapshotsArgs,
    storageArgs,
} from "./platform-args";

export interface SecretPlatformArgs {
    /** The validated stack config, from loadConfig(). */
    readonly config: PlatformConfig;
}

/**
 * The whole secret platform of one cluster. Data flows one way, each arrow an
 * Output passed as an argument: storage -> server -> bootstrap ->
 * configuration -> External Secrets store. Each component gets its Args from
 * platform-args.ts, the one place config becomes args; readiness travels as
 * each component's `ready` Output.
 */
export class SecretPlatform extends pulumi.ComponentResource {
    public readonly storage: VaultStorage;
    public readonly server: VaultServer;
    public readonly bootstrap: VaultBootstrap;
    public readonly configuration: VaultConfiguration;
    public readonly externalSecrets: ExternalSecrets;
    /** The raft snapshot CronJob (raft with server.snapshots on only). */
    public readonly snapshots?: RaftSnapshots;
    /** The KV export CronJob (backup.enabled only). */
    public readonly backup?: KvBackup;
    /** The alert pack (with networkPolicy.monitoringNamespace, unless monitoring.alerts is off). */
    public readonly alerts?: MonitoringAlerts;

    constructor(name: string, args: SecretPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secret-platform:index:SecretPlatform", name, {}, opts);
        const config = args.config;
        const child = { parent: this };
        for (const warning of configWarnings(config)) pulumi.log.warn(warning, this);

        const kubernetes = new k8s.Provider(
            `${name}-k8s`,
            { context: config.kubernetes.context, enableServerSideApply: true },
            child,
        );

        this.storage = new VaultStorage(`${name}-storage`, storageArgs(config), child);
        const storage = this.storage.binding;
        this.server = new VaultServer(`${name}-server`, serverArgs(config, storage, kubernetes), child);
        this.bootstrap = new VaultBootstrap(`${name}-bootstrap`, bootstrapArgs(config, this.server, kubernetes), child);
        this.configuration = new VaultConfiguration(`${name}-configuration`, setupArgs(config, this.bootstrap), child);
        if (config.server.snapshots?.enabled === true) {
            this.snapshots = new RaftSnapshots(
                `${name}-snapshots`,
                snapshotsArgs(config, this.server, storage, this.configuration, kubernetes),
                child,
            );
        }
        if (config.backup.enabled) {
            this.backup = new KvBackup(
                `${name}-backup`,
                backupArgs(config, this.server, storage, this.configuration, kubernetes),
                child,
            );
        }
        this.externalSecrets = new ExternalSecrets(
            `${name}-external-secrets`,
            externalSecretsArgs(config, this.server, this.configuration, kubernetes),
            child,
        );

        const alerts = alertsArgs(config, kubernetes);
        if (alerts !== undefined) this.alerts = new MonitoringAlerts(`${name}-alerts`, alerts, child);

        this.registerOutputs({
            bucket: this.storage.binding.bucket,
            vaultNamespace: this.server.namespace,
            clusterSecretStore: this.externalSecrets.storeName,
        });
    }
}

/**
 * Builds the platform for a config; the stack entry point and the tests share
 * it. Every config check has run in loadConfig, before the first resource
 * registers, so a bad config never leaves a half-registered graph.
 */
export function buildPlatform(
    config: PlatformConfig,
    opts?: pulumi.ComponentResourceOptions,
    name: string = "platform",
): SecretPlatform {
    return new SecretPlatform(name, { config }, opts);
}
