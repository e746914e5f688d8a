/**
 * The Pulumi dynamic resources that put Vault's init and unseal into the
 * graph. The CRUD logic lives in ./vault-init (plain functions); these
 * providers only map Pulumi's calls onto it.
 *
 * Serialization: Pulumi serializes each provider object (and what its methods
 * reference) into the state and runs it in a separate process. The methods
 * reference only ./vault-init's functions (captured by value; that module
 * imports nothing at top level) and plain data, so the captured closure stays
 * small and serializing it is fast. The providers are module-level singletons:
 * the SDK caches the serialized text per provider object.
 */
import * as pulumi from "@pulumi/pulumi";
import {
    BootstrapInputs,
    checkStillInitialized,
    ensureInitialized,
    ensureUnsealed,
    previewSealState,
    recoveryKeysDestroyRefusal,
    sealedPreviewMessage,
    UnsealInputs,
} from "./vault-init";

/** The inputs of a VaultInit, picked from what the engine passes (it adds __provider). */
function initInputsOf(raw: Record<string, unknown>): BootstrapInputs {
    return {
        address: String(raw.address),
        skipTlsVerify: raw.skipTlsVerify === true,
        // Only when set: a stack without trust.caBundle keeps the inputs (and state) it had before the key existed.
        ...(typeof raw.caBundle === "string" && raw.caBundle !== "" ? { caBundle: raw.caBundle } : {}),
        waitTimeoutSeconds: Number(raw.waitTimeoutSeconds),
        sealType: raw.sealType === "awskms" ? "awskms" : "shamir",
        shares: Number(raw.shares),
        threshold: Number(raw.threshold),
        adoptExisting: raw.adoptExisting === true,
        keysSecret: String(raw.keysSecret ?? ""),
    };
}

function unsealInputsOf(raw: Record<string, unknown>): UnsealInputs {
    return {
        address: String(raw.address),
        skipTlsVerify: raw.skipTlsVerify === true,
        // Only when set: a stack without trust.caBundle keeps the inputs (and state) it had before the key existed.
        ...(typeof raw.caBundle === "string" && raw.caBundle !== "" ? { caBundle: raw.caBundle } : {}),
        waitTimeoutSeconds: Number(raw.waitTimeoutSeconds),
        sealType: raw.sealType === "awskms" ? "awskms" : "shamir",
        keys: Array.isArray(raw.keys) ? raw.keys.map(String) : [],
        keysSecret: String(raw.keysSecret ?? ""),
    };
}

/** Names of the inputs whose values differ (keys compared as JSON). */
function changedInputs(olds: Record<string, unknown>, news: Record<string, unknown>, names: string[]): string[] {
    return names.filter((n) => JSON.stringify(olds[n]) !== JSON.stringify(news[n]));
}

const INIT_INPUTS = [
    "address",
    "skipTlsVerify",
    "caBundle",
    "waitTimeoutSeconds",
    "sealType",
    "shares",
    "threshold",
    "adoptExisting",
    "keysSecret",
];
const UNSEAL_INPUTS = ["address", "skipTlsVerify", "caBundle", "waitTimeoutSeconds", "sealType", "keys", "keysSecret"];

/**
 * Init: create initializes (or adopts, or refuses); nothing ever replaces it,
 * updates only record new settings, read reports wiped storage, delete
 * leaves Vault alone.
 */
export const vaultInitProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
        const state = await ensureInitialized(initInputsOf(inputs), (m) => console.log(m));
        return { id: `vault-init:${state.address}`, outs: state };
    },

    async diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        // Never a replacement: a second create would find Vault initialized.
        return { changes: changedInputs(olds, news, INIT_INPUTS).length > 0, replaces: [] };
    },

    async update(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        // Shares and threshold only apply at init (later: vault operator rekey);
        // the root token and keys are kept exactly as they were.
        const changed = changedInputs(olds, news, ["sealType", "shares", "threshold"]);
        if (changed.length > 0) {
            console.log(
                `vault-init: ${changed.join(", ")} changed after init; Vault keeps its keys (rekey by hand, see docs/bootstrap.md)`,
            );
        }
        return {
            outs: {
                ...initInputsOf(news),
                initialized: olds.initialized,
                adopted: olds.adopted,
                rootToken: olds.rootToken,
                keys: olds.keys,
            },
        };
    },

    async read(id: string, props: Record<string, unknown>) {
        const inputs = initInputsOf(props);
        const outcome = await checkStillInitialized({
            address: inputs.address,
            skipTlsVerify: inputs.skipTlsVerify,
            caBundle: inputs.caBundle,
        });
        if (outcome === "unreachable") console.log(`vault-init: ${inputs.address} unreachable; state kept as it was`);
        return { id, props };
    },

    async delete(_id: string, props: Record<string, unknown>) {
        // awskms: the state is the recovery keys' only copy; a destroy must not drop it silently.
        const keys = Array.isArray(props.keys) ? props.keys : [];
        if (props.sealType === "awskms" && props.adopted !== true && keys.length > 0) {
            throw new Error(recoveryKeysDestroyRefusal(String(props.address)));
        }
        console.log(
            `vault-init: leaving Vault at ${String(props.address)} initialized; its data and keys are not touched`,
        );
    },
};

/**
 * Unsealed: a readiness check that runs on every update. diff asks Vault
 * (sealed means a change; no answer is an error), create/update unseal or wait.
 */
export const vaultUnsealProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
        const u = unsealInputsOf(inputs);
        await ensureUnsealed(u);
        return { id: `vault-unsealed:${u.address}`, outs: { ...u, unsealed: true } };
    },

    async diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        if (changedInputs(olds, news, UNSEAL_INPUTS).length > 0) return { changes: true, replaces: [] };
        // Unsealed: no change. Sealed: an update, and the preview says why.
        // Unreachable, untrusted or wiped: an error naming the cause, never a phantom change.
        const u = unsealInputsOf(news);
        const state = await previewSealState({
            address: u.address,
            skipTlsVerify: u.skipTlsVerify,
            caBundle: u.caBundle,
            requestTimeoutMs: 5000,
        });
        if (state === "sealed") console.log(sealedPreviewMessage(u));
        return { changes: state === "sealed", replaces: [] };
    },

    async update(_id: string, _olds: Record<string, unknown>, news: Record<string, unknown>) {
        const u = unsealInputsOf(news);
        await ensureUnsealed(u);
        return { outs: { ...u, unsealed: true } };
    },

    async delete() {
        // A readiness check: nothing to undo.
    },
};

/** Inputs of VaultInit. */
export interface VaultInitArgs {
    /** Vault's API address as this program reaches it (secret-platform:vault.address). */
    readonly address: pulumi.Input<string>;
    /** Skip TLS verification (secret-platform:vault.skipTlsVerify). */
    readonly skipTlsVerify: pulumi.Input<boolean>;
    /** PEM bundle of the private CAs that may sign Vault's certificate (secret-platform:trust.caBundle); unset for none. */
    readonly caBundle?: pulumi.Input<string>;
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
            vaultInitProvider,
            name,
            { ...args, initialized: undefined, adopted: undefined, rootToken: undefined, keys: undefined },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["rootToken", "keys"] }),
            "secret-platform",
            "VaultInit",
        );
    }
}

/** Inputs of VaultUnsealed. */
export interface VaultUnsealedArgs {
    /** Vault's API address as this program reaches it (secret-platform:vault.address). */
    readonly address: pulumi.Input<string>;
    /** Skip TLS verification (secret-platform:vault.skipTlsVerify). */
    readonly skipTlsVerify: pulumi.Input<boolean>;
    /** PEM bundle of the private CAs that may sign Vault's certificate (secret-platform:trust.caBundle); unset for none. */
    readonly caBundle?: pulumi.Input<string>;
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
            vaultUnsealProvider,
            name,
            { ...args, unsealed: undefined },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["keys"] }),
            "secret-platform",
            "VaultUnsealed",
        );
    }
}
