import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "./config";
import { StorageBinding } from "./storage";

export interface VaultServerArgs {
    /** The validated stack config. */
    readonly config: PlatformConfig;
    /** Storage and seal, from VaultStorage. */
    readonly storage: StorageBinding;
    /** The cluster's explicit Kubernetes provider. */
    readonly provider: k8s.Provider;
}

/** Vault from the official Helm chart, its namespace, NetworkPolicy and UI exposure. */
export class VaultServer extends pulumi.ComponentResource {
    /** Namespace Vault runs in. */
    public readonly namespace: pulumi.Output<string>;
    /** In-cluster URL of the active Vault service (e.g. http://vault.vault.svc:8200). */
    public readonly internalUrl: string;
    /** Resources later steps must wait for (the chart). */
    public readonly ready: pulumi.Resource[];

    constructor(name: string, args: VaultServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secret-platform:server:VaultServer", name, {}, opts);
        const c = args.config;
        const scheme = c.server.tls.mode === "internal" ? "https" : "http";
        this.namespace = pulumi.output(c.server.namespace);
        this.internalUrl = `${scheme}://vault.${c.server.namespace}.svc:8200`;
        this.ready = [];
        this.registerOutputs({ namespace: this.namespace });
    }
}
