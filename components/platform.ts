import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "./config";
import { VaultBootstrap } from "./bootstrap";
import { VaultConfiguration } from "./configuration";
import { ExternalSecrets } from "./external-secrets";
import { validateExternalSecretsConfig } from "./lib/eso-objects";
import { VaultServer } from "./server";
import { RaftSnapshots } from "./snapshots";
import { VaultStorage } from "./storage";

export interface SecretPlatformArgs {
    /** The validated stack config, from loadConfig(). */
    readonly config: PlatformConfig;
}

/**
 * The whole secret platform of one cluster. Data flows one way, each arrow an
 * Output passed as an argument: storage -> server -> bootstrap ->
 * configuration -> External Secrets store.
 */
export class SecretPlatform extends pulumi.ComponentResource {
    public readonly storage: VaultStorage;
    public readonly server: VaultServer;
    public readonly bootstrap: VaultBootstrap;
    public readonly configuration: VaultConfiguration;
    public readonly externalSecrets: ExternalSecrets;
    /** The raft snapshot CronJob (raft with server.snapshots on only). */
    public readonly snapshots?: RaftSnapshots;

    constructor(name: string, args: SecretPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secret-platform:index:SecretPlatform", name, {}, opts);
        const config = args.config;
        const child = { parent: this };

        const kubernetes = new k8s.Provider(
            `${name}-k8s`,
            { context: config.kubernetes.context, enableServerSideApply: true },
            child,
        );

        this.storage = new VaultStorage(`${name}-storage`, { config }, child);
        this.server = new VaultServer(
            `${name}-server`,
            { config, storage: this.storage.binding, provider: kubernetes },
            child,
        );
        this.bootstrap = new VaultBootstrap(
            `${name}-bootstrap`,
            { config, server: this.server, storage: this.storage.binding, provider: kubernetes },
            child,
        );
        this.configuration = new VaultConfiguration(
            `${name}-configuration`,
            { config, provider: this.bootstrap.vaultProvider, dependsOn: this.bootstrap.ready },
            child,
        );
        if (config.server.snapshots?.enabled === true) {
            this.snapshots = new RaftSnapshots(
                `${name}-snapshots`,
                {
                    config,
                    namespace: this.server.namespace,
                    storage: this.storage.binding,
                    kubernetesAuthPath: this.configuration.kubernetesAuthPath,
                    dependsOn: this.configuration.snapshotRole === undefined ? [] : [this.configuration.snapshotRole],
                    provider: kubernetes,
                },
                child,
            );
        }
        this.externalSecrets = new ExternalSecrets(
            `${name}-external-secrets`,
            {
                config,
                provider: kubernetes,
                vaultUrl: config.externalSecrets.serverUrl ?? this.server.internalUrl,
                // The config's own values, not the Vault resources' outputs: those are unknown in the preview of a
                // new stack, which made the stores' whole spec unknown, so the guard pack could not check it (seen
                // under the real engine: eso-store-kubernetes-auth downgraded to "can't run during preview").
                // The order stays: the stores wait for configuration.ready (the roles and the mounts).
                kubernetesAuthPath: config.kubernetesAuth.path,
                role: config.kubernetesAuth.role,
                clusterMount: config.cluster.name,
                dependsOn: this.configuration.ready,
            },
            child,
        );

        this.registerOutputs({
            bucket: this.storage.binding.bucket,
            vaultNamespace: this.server.namespace,
            clusterSecretStore: this.externalSecrets.storeName,
        });
    }
}

/**
 * Builds the platform for a config; the stack entry point and the tests share
 * it. Component-level config checks run here, before the first resource
 * registers, so a bad config never leaves a half-registered graph.
 */
export function buildPlatform(
    config: PlatformConfig,
    opts?: pulumi.ComponentResourceOptions,
    name: string = "platform",
): SecretPlatform {
    validateExternalSecretsConfig(config);
    return new SecretPlatform(name, { config }, opts);
}
