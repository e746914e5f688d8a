/**
 * The dynamic resources that put Vault's bootstrap into the graph (VaultInit,
 * VaultUnsealed, VaultProviderToken), all served by one provider
 * (./bootstrap-provider).
 *
 * They are registered as `pulumi.dynamic.Resource` registers one (the type
 * `pulumi-nodejs:dynamic/<module>:<type>`, the provider's text in the
 * `__provider` input, which the dynamic provider host loads to run the CRUD),
 * but with the text the SDK serialized ahead of time and committed
 * (./serialized-provider): `pulumi.dynamic.Resource` would serialize the
 * provider on every run, a walk of its whole closure that cost more CPU than
 * the rest of the program.
 */
import * as pulumi from "@pulumi/pulumi";
import { bootstrapProvider } from "./bootstrap-provider";
import { serializedProviderText } from "./serialized-provider";

const providerText = serializedProviderText(bootstrapProvider, "bootstrap-provider");

/** A bootstrap resource: `pulumi.dynamic.Resource`'s registration, with the committed provider text. */
abstract class BootstrapResource extends pulumi.CustomResource {
    protected constructor(type: string, name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions) {
        super(`pulumi-nodejs:dynamic/secret-platform:${type}`, name, { ...props, __provider: providerText() }, opts);
    }
}

/** How every bootstrap resource reaches Vault's API. */
export interface VaultApiArgs {
    /** Vault's API address as this program reaches it (secret-platform:vault.address). */
    readonly address: pulumi.Input<string>;
    /** Skip TLS verification (secret-platform:vault.skipTlsVerify). */
    readonly skipTlsVerify: pulumi.Input<boolean>;
    /** PEM bundle of the private CAs that may sign Vault's certificate (secret-platform:trust.caBundle); unset for none. */
    readonly caBundle?: pulumi.Input<string>;
}

/** Inputs of VaultInit. */
export interface VaultInitArgs extends VaultApiArgs {
    /** Seconds to wait for the API (secret-platform:vault.waitTimeoutSeconds). */
    readonly waitTimeoutSeconds: pulumi.Input<number>;
    /** The seal (secret-platform:unseal.mode). */
    readonly sealType: pulumi.Input<"shamir" | "awskms">;
    /** Key shares: unseal.secretShares (shamir) or unseal.recoveryShares (awskms). */
    readonly shares: pulumi.Input<number>;
    /** Threshold: unseal.secretThreshold (shamir) or unseal.recoveryThreshold (awskms). */
    readonly threshold: pulumi.Input<number>;
    /** Whether an already-initialized Vault may be adopted (the operator set vaultToken). */
    readonly adoptExisting: pulumi.Input<boolean>;
    /** `<namespace>/<name>` of the unseal keys Secret, for messages; "" in awskms mode. */
    readonly keysSecret: pulumi.Input<string>;
    /** Raft HA (server.replicas above 1), set only then: a new Vault is refused, it has no pod that answers. */
    readonly raftHa?: true;
}

/** Vault initialized once; the root token and key shares as secret outputs. */
export class VaultInit extends BootstrapResource {
    declare public readonly initialized: pulumi.Output<boolean>;
    /** True when Vault was initialized elsewhere; no key material then. */
    declare public readonly adopted: pulumi.Output<boolean>;
    /** The initial root token (secret). */
    declare public readonly rootToken: pulumi.Output<string>;
    /** Unseal (shamir) or recovery (awskms) key shares, hex (secret). */
    declare public readonly keys: pulumi.Output<string[]>;

    constructor(name: string, args: VaultInitArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            "VaultInit",
            name,
            {
                ...args,
                initialized: undefined,
                adopted: undefined,
                rootToken: undefined,
                keys: undefined,
            },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["rootToken", "keys"] }),
        );
    }
}

/** How the bootstrap resources that ask Vault in a diff tell a server this update creates from a silent one. */
export interface ServerIdentityArgs {
    /**
     * The uid of Vault's namespace (VaultServer.identity). Unknown in the preview of an update that creates
     * Vault's server (a new cluster) and new in that update: Vault not answering is then a pending change, not
     * an error (./vault-init serverChange).
     */
    readonly serverIdentity: pulumi.Input<string>;
    /**
     * The chart's digest (VaultServer.revision). New in an update that renders the chart anew, when the pods
     * may be rolling: the update checks Vault, not the diff.
     */
    readonly serverRevision: pulumi.Input<string>;
}

/** Inputs of VaultUnsealed. */
export interface VaultUnsealedArgs extends VaultApiArgs, ServerIdentityArgs {
    /** Seconds to wait for the API and, without keys, for the unseal (secret-platform:vault.waitTimeoutSeconds). */
    readonly waitTimeoutSeconds: pulumi.Input<number>;
    /** The seal (secret-platform:unseal.mode): shamir submits keys, awskms waits for the auto-unseal. */
    readonly sealType: pulumi.Input<"shamir" | "awskms">;
    /** Unseal key shares to submit (shamir); [] to wait for the seal or the unsealer. */
    readonly keys: pulumi.Input<string[]>;
    /** `<namespace>/<name>` of the unseal keys Secret, for messages. */
    readonly keysSecret: pulumi.Input<string>;
    /** The address Vault had before a move (secret-platform:vault.movedFrom): the acknowledgement that lets the shares follow it. */
    readonly movedFrom?: pulumi.Input<string>;
    /** The SHA-256 of a new trust.caBundle at the same address (secret-platform:vault.acknowledgeCa): lets the shares follow a CA rotation. */
    readonly acknowledgeCa?: pulumi.Input<string>;
    /** Raft HA (server.replicas above 1), set only then: the update waits for a pod that serves, and submits no keys. */
    readonly raftHa?: true;
}

/** Vault initialized and unsealed, checked on every update. */
export class VaultUnsealed extends BootstrapResource {
    declare public readonly unsealed: pulumi.Output<boolean>;

    constructor(name: string, args: VaultUnsealedArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            "VaultUnsealed",
            name,
            { ...args, unsealed: undefined },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["keys"] }),
        );
    }
}

/** Inputs of VaultProviderToken. */
export interface VaultProviderTokenArgs extends VaultApiArgs, ServerIdentityArgs {
    /** The machine-only policy the token carries. */
    readonly policy: pulumi.Input<string>;
    /** That policy's rendered HCL (bootstrap writes it before minting). */
    readonly policyText: pulumi.Input<string>;
    /** The token to mint with: init's root token, or secret-platform:vaultToken (secret). */
    readonly bootstrapToken: pulumi.Input<string>;
    /** Which of the two bootstrapToken is, for messages and re-minting. */
    readonly bootstrapSource: pulumi.Input<"root" | "vaultToken">;
    /** Age (seconds, by Vault's creation time) past which `pulumi up` re-mints the token and revokes the old one. */
    readonly maxAgeSeconds: pulumi.Input<number>;
    /** The address Vault had before a move (secret-platform:vault.movedFrom): the acknowledgement that lets the token follow it. */
    readonly movedFrom?: pulumi.Input<string>;
    /** The SHA-256 of a new trust.caBundle at the same address (secret-platform:vault.acknowledgeCa): lets the token follow a CA rotation. */
    readonly acknowledgeCa?: pulumi.Input<string>;
    /** Raft HA (server.replicas above 1), set only then: what the update's wait for a pod that serves needs. */
    readonly raftHa?: pulumi.Input<RaftHaWait>;
}

/** How the provider token's update waits for a raft HA pod that serves (VaultUnsealed's inputs of the same names). */
export interface RaftHaWait {
    readonly waitTimeoutSeconds: number;
    readonly sealType: "shamir" | "awskms";
    readonly keysSecret: pulumi.Input<string>;
}

/** The Vault provider's periodic, orphan token with the `pulumi` policy (secret). */
export class VaultProviderToken extends BootstrapResource {
    declare public readonly token: pulumi.Output<string>;
    declare public readonly accessor: pulumi.Output<string>;
    /** Whether the root token it was minted with was revoked. */
    declare public readonly rootRevoked: pulumi.Output<boolean>;

    constructor(name: string, args: VaultProviderTokenArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            "VaultProviderToken",
            name,
            { ...args, token: undefined, accessor: undefined, rootRevoked: undefined },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["token", "bootstrapToken"] }),
        );
    }
}
