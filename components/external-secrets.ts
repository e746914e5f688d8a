import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "./config";

export interface ExternalSecretsArgs {
    /** The validated stack config. */
    readonly config: PlatformConfig;
    /** The cluster's explicit Kubernetes provider. */
    readonly provider: k8s.Provider;
    /** Vault URL the store reads from (in-cluster service unless externalSecrets.serverUrl). */
    readonly vaultUrl: pulumi.Input<string>;
    /** Kubernetes auth mount path, from VaultConfiguration. */
    readonly kubernetesAuthPath: pulumi.Input<string>;
    /** Kubernetes auth role, from VaultConfiguration. */
    readonly role: pulumi.Input<string>;
    /** The Vault role and mounts the store needs to exist first. */
    readonly dependsOn: pulumi.Resource[];
}

/** The ClusterSecretStore that lets External Secrets Operator read from Vault. */
export class ExternalSecrets extends pulumi.ComponentResource {
    public readonly storeName: pulumi.Output<string>;

    constructor(name: string, args: ExternalSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secret-platform:eso:ExternalSecrets", name, {}, opts);
        this.storeName = pulumi.output(args.config.externalSecrets.storeName);
        this.registerOutputs({ storeName: this.storeName });
    }
}
