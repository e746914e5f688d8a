/**
 * The dynamic resources that put Vault's bootstrap into the graph (VaultInit,
 * VaultUnsealed, VaultProviderToken) and the one provider they share.
 *
 * Serialization: Pulumi serializes a dynamic resource's provider object, with
 * everything its methods reference, into the resource's `__provider` input; the
 * dynamic provider host loads that text to run the CRUD. The SDK caches the
 * text per provider object, and each serialization costs a walk of the whole
 * closure (every function parsed, every captured value inspected): with one
 * provider per resource the program serialized the shared ./vault-init code
 * three times, most of its own run time. So the three resources register one
 * module-level provider object, serialized once per process, which dispatches
 * each call to the CRUD of the resource's kind (./vault-init-provider,
 * ./vault-token-provider).
 *
 * The host passes a provider only the properties (never the type or URN), so
 * the provider tells the kinds apart by the inputs each one alone has (kept in
 * its outputs too, which read and delete get): a token's `bootstrapSource`,
 * init's `shares`, the unseal check's `keysSecret` without `shares`. No input
 * is added for it, so the program's inputs and every diff are what they were
 * with three providers; a stack updated from then sees only `__provider`'s new
 * text, which the host never diffs. Outputs last written by the old providers
 * keep the old text, so their refresh and delete run the code that wrote them.
 */
import * as pulumi from "@pulumi/pulumi";
import * as initProviders from "./vault-init-provider";
import * as tokenProviders from "./vault-token-provider";

// Bound once at load: the closure captures the provider objects, not the modules (see ./vault-init-provider).
const { vaultInitProvider, vaultUnsealProvider } = initProviders;
const { vaultTokenProvider } = tokenProviders;

/** The bootstrap resources' kinds, one CRUD each. */
export type BootstrapKind = "init" | "unsealed" | "token";

const KINDS: readonly BootstrapKind[] = ["init", "unsealed", "token"];

/** The kind a property bag (inputs, or the stored outputs: they hold the inputs) belongs to. */
export function bootstrapKindOf(props: Record<string, unknown>): BootstrapKind {
    if (props.bootstrapSource !== undefined) return "token";
    if (props.shares !== undefined) return "init";
    if (props.keysSecret !== undefined) return "unsealed";
    throw new Error(
        `secret-platform bootstrap provider: properties ${JSON.stringify(Object.keys(props).sort())} are none of ${KINDS.join(", ")} (no bootstrapSource, shares or keysSecret)`,
    );
}

/** The CRUD of each kind; an absent method (VaultUnsealed and VaultProviderToken have no read) behaves as the host's default. */
const CRUD: Record<BootstrapKind, pulumi.dynamic.ResourceProvider> = {
    init: vaultInitProvider,
    unsealed: vaultUnsealProvider,
    token: vaultTokenProvider,
};

/**
 * The one provider of the bootstrap resources. Diff and update dispatch on the
 * new inputs. A method a kind lacks answers as the host does when a provider
 * has none (read: the properties as they are).
 */
export const bootstrapProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
        return CRUD[bootstrapKindOf(inputs)].create(inputs);
    },

    async diff(id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        const diff = CRUD[bootstrapKindOf(news)].diff;
        return diff === undefined ? {} : diff(id, olds, news);
    },

    async update(id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        const update = CRUD[bootstrapKindOf(news)].update;
        return update === undefined ? {} : update(id, olds, news);
    },

    async read(id: string, props: Record<string, unknown>) {
        const read = CRUD[bootstrapKindOf(props)].read;
        return read === undefined ? { id, props } : read(id, props);
    },

    async delete(id: string, props: Record<string, unknown>) {
        const del = CRUD[bootstrapKindOf(props)].delete;
        if (del !== undefined) await del(id, props);
    },
};

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
}

/** Vault initialized once; the root token and key shares as secret outputs. */
export class VaultInit extends pulumi.dynamic.Resource {
    declare public readonly initialized: pulumi.Output<boolean>;
    /** True when Vault was initialized elsewhere; no key material then. */
    declare public readonly adopted: pulumi.Output<boolean>;
    /** The initial root token (secret). */
    declare public readonly rootToken: pulumi.Output<string>;
    /** Unseal (shamir) or recovery (awskms) key shares, hex (secret). */
    declare public readonly keys: pulumi.Output<string[]>;

    constructor(name: string, args: VaultInitArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            bootstrapProvider,
            name,
            {
                ...args,
                initialized: undefined,
                adopted: undefined,
                rootToken: undefined,
                keys: undefined,
            },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["rootToken", "keys"] }),
            "secret-platform",
            "VaultInit",
        );
    }
}

/** Inputs of VaultUnsealed. */
export interface VaultUnsealedArgs extends VaultApiArgs {
    /** Seconds to wait for the API and, without keys, for the unseal (secret-platform:vault.waitTimeoutSeconds). */
    readonly waitTimeoutSeconds: pulumi.Input<number>;
    /** The seal (secret-platform:unseal.mode): shamir submits keys, awskms waits for the auto-unseal. */
    readonly sealType: pulumi.Input<"shamir" | "awskms">;
    /** Unseal key shares to submit (shamir); [] to wait for the seal or the unsealer. */
    readonly keys: pulumi.Input<string[]>;
    /** `<namespace>/<name>` of the unseal keys Secret, for messages. */
    readonly keysSecret: pulumi.Input<string>;
}

/** Vault initialized and unsealed, checked on every update. */
export class VaultUnsealed extends pulumi.dynamic.Resource {
    declare public readonly unsealed: pulumi.Output<boolean>;

    constructor(name: string, args: VaultUnsealedArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            bootstrapProvider,
            name,
            { ...args, unsealed: undefined },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["keys"] }),
            "secret-platform",
            "VaultUnsealed",
        );
    }
}

/** Inputs of VaultProviderToken. */
export interface VaultProviderTokenArgs extends VaultApiArgs {
    /** The machine-only policy the token carries. */
    readonly policy: pulumi.Input<string>;
    /** That policy's rendered HCL (bootstrap writes it before minting). */
    readonly policyText: pulumi.Input<string>;
    /** The token to mint with: init's root token, or secret-platform:vaultToken (secret). */
    readonly bootstrapToken: pulumi.Input<string>;
    /** Which of the two bootstrapToken is, for messages and re-minting. */
    readonly bootstrapSource: pulumi.Input<"root" | "vaultToken">;
}

/** The Vault provider's periodic, orphan token with the `pulumi` policy (secret). */
export class VaultProviderToken extends pulumi.dynamic.Resource {
    declare public readonly token: pulumi.Output<string>;
    declare public readonly accessor: pulumi.Output<string>;
    /** Whether the root token it was minted with was revoked. */
    declare public readonly rootRevoked: pulumi.Output<boolean>;

    constructor(name: string, args: VaultProviderTokenArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            bootstrapProvider,
            name,
            { ...args, token: undefined, accessor: undefined, rootRevoked: undefined },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["token", "bootstrapToken"] }),
            "secret-platform",
            "VaultProviderToken",
        );
    }
}
