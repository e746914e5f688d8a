import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { PlatformConfig } from "./config";

export interface VaultConfigurationArgs {
    /** The validated stack config. */
    readonly config: PlatformConfig;
    /** The explicit Vault provider from VaultBootstrap. */
    readonly provider: vault.Provider;
    /** Bootstrap readiness: nothing is configured before Vault is initialized and unsealed. */
    readonly dependsOn: pulumi.Resource[];
}

/** Audit, KV v2 mounts, ACL policies, OIDC login and Kubernetes auth, through the Vault provider. */
export class VaultConfiguration extends pulumi.ComponentResource {
    /** Mount path of this cluster's Kubernetes auth backend. */
    public readonly kubernetesAuthPath: pulumi.Output<string>;
    /** Kubernetes auth role External Secrets logs in with. */
    public readonly externalSecretsRole: pulumi.Output<string>;
    /** This cluster's KV v2 mount. */
    public readonly clusterMount: pulumi.Output<string>;
    /** Resources the External Secrets store must wait for (the role). */
    public readonly ready: pulumi.Resource[];

    constructor(name: string, args: VaultConfigurationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secret-platform:configuration:VaultConfiguration", name, {}, opts);
        const c = args.config;
        this.kubernetesAuthPath = pulumi.output(c.kubernetesAuth.path);
        this.externalSecretsRole = pulumi.output(c.kubernetesAuth.role);
        this.clusterMount = pulumi.output(c.cluster.name);
        this.ready = [];
        this.registerOutputs({});
    }
}
