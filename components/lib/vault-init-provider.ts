/**
 * The CRUD of Vault's init and unseal as Pulumi dynamic providers. The logic
 * lives in ./vault-init (plain functions); these objects only map Pulumi's
 * calls onto it. They are not registered on their own: ./bootstrap-resources
 * serializes one provider for every bootstrap resource, which dispatches to
 * these (see there for the closure and its cost).
 */
import type * as pulumi from "@pulumi/pulumi";
import * as vaultInit from "./vault-init";
import type { BootstrapInputs, UnsealInputs } from "./vault-init";

// Bound once at load, so the serialized closure captures these functions
// themselves rather than the module object (under tsx its export getters, each
// a function to serialize, and through them every export of ./vault-init).
const {
    checkStillInitialized,
    ensureInitialized,
    ensureUnsealed,
    identityAcknowledgementNeeded,
    identityChange,
    identityRefusal,
    previewSealState,
    recoveryKeysDestroyRefusal,
    sealedPreviewMessage,
    serverChange,
    serverCreatedPreviewMessage,
    serverRolledPreviewMessage,
} = vaultInit;

/** The inputs VaultInit and VaultUnsealed share, picked from what the engine passes (it adds __provider). */
function sharedInputsOf(raw: Record<string, unknown>): Omit<UnsealInputs, "keys"> {
    return {
        address: String(raw.address),
        skipTlsVerify: raw.skipTlsVerify === true,
        // Only when set: a stack without trust.caBundle keeps the inputs (and state) it had before the key existed.
        ...(typeof raw.caBundle === "string" && raw.caBundle !== "" ? { caBundle: raw.caBundle } : {}),
        waitTimeoutSeconds: Number(raw.waitTimeoutSeconds),
        sealType: raw.sealType === "awskms" ? "awskms" : "shamir",
        keysSecret: String(raw.keysSecret ?? ""),
        // Only when set, like caBundle: a stack that is not raft HA keeps the inputs it had.
        ...(raw.raftHa === true ? { raftHa: true } : {}),
    };
}

/** The inputs of a VaultInit. */
function initInputsOf(raw: Record<string, unknown>): BootstrapInputs {
    return {
        ...sharedInputsOf(raw),
        shares: Number(raw.shares),
        threshold: Number(raw.threshold),
        adoptExisting: raw.adoptExisting === true,
    };
}

/** The inputs of a VaultUnsealed. */
function unsealInputsOf(raw: Record<string, unknown>): UnsealInputs {
    return {
        ...sharedInputsOf(raw),
        keys: Array.isArray(raw.keys) ? raw.keys.map(String) : [],
        // Only when given: a state from before the input keeps the outputs it had.
        ...(typeof raw.serverIdentity === "string" ? { serverIdentity: raw.serverIdentity } : {}),
        ...(typeof raw.serverRevision === "string" ? { serverRevision: raw.serverRevision } : {}),
    };
}

/** What changed in Vault's identity since the state recorded it; undefined when it did not, or nothing was recorded. */
function identityChangeOf(olds: Record<string, unknown>, news: Record<string, unknown>): string | undefined {
    return typeof olds.address === "string" ? identityChange(sharedInputsOf(olds), sharedInputsOf(news)) : undefined;
}

/** The acknowledgements the inputs carry (secret-platform:vault.movedFrom, vault.acknowledgeCa), each when set. */
function acknowledgementsOf(raw: Record<string, unknown>): { movedFrom?: string; acknowledgeCa?: string } {
    return {
        ...(typeof raw.movedFrom === "string" && raw.movedFrom !== "" ? { movedFrom: raw.movedFrom } : {}),
        ...(typeof raw.acknowledgeCa === "string" && raw.acknowledgeCa !== ""
            ? { acknowledgeCa: raw.acknowledgeCa }
            : {}),
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
 * (sealed means a change; no answer is an error, unless this update creates
 * Vault's server: then a change), create/update unseal or wait.
 * The key shares go only to the Vault this stack recorded (address and pinned
 * CA of the state) unless vault.movedFrom acknowledges a move, or
 * vault.acknowledgeCa a new CA at the same address.
 */
export const vaultUnsealProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
        const u = unsealInputsOf(inputs);
        await ensureUnsealed(u);
        return { id: `vault-unsealed:${u.address}`, outs: { ...u, unsealed: true } };
    },

    async diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        const change = identityChangeOf(olds, news);
        if (change !== undefined) {
            console.log(
                `vault-unsealed: Vault's identity changed (${change}); the update sends the key shares nowhere ` +
                    `unless ${identityAcknowledgementNeeded(sharedInputsOf(olds), sharedInputsOf(news))}`,
            );
            return { changes: true, replaces: [] };
        }
        if (changedInputs(olds, news, UNSEAL_INPUTS).length > 0) return { changes: true, replaces: [] };
        const u = unsealInputsOf(news);
        // Vault's server is created in this update (a new cluster): that it does not answer yet is expected,
        // and the update waits for it as create does.
        const server = serverChange(olds.serverIdentity, news.serverIdentity);
        if (server === "new") {
            console.log(serverCreatedPreviewMessage("vault-unsealed", u.address));
            return { changes: true, replaces: [] };
        }
        // The chart changes in this update: its pods may be rolling when the engine gets here, sealed or not
        // joined yet, so the update (which waits) checks Vault, not this diff.
        const chart = serverChange(olds.serverRevision, news.serverRevision);
        if (chart === "new") {
            console.log(serverRolledPreviewMessage("vault-unsealed", u.address));
            return { changes: true, replaces: [] };
        }
        // Unsealed: no change (but a state without the server's identity or revision records it). Sealed: an
        // update, and the preview says why. Unreachable, untrusted or wiped: an error naming the cause, never a
        // phantom change.
        const state = await previewSealState(
            { address: u.address, skipTlsVerify: u.skipTlsVerify, caBundle: u.caBundle, requestTimeoutMs: 5000 },
            u.raftHa === true,
        );
        if (state === "sealed") console.log(sealedPreviewMessage(u));
        return { changes: state === "sealed" || server === "unrecorded" || chart === "unrecorded", replaces: [] };
    },

    async update(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        const u = unsealInputsOf(news);
        const refusal =
            typeof olds.address === "string"
                ? identityRefusal("the unseal key shares", sharedInputsOf(olds), u, acknowledgementsOf(news))
                : undefined;
        if (refusal !== undefined) throw new Error(`vault-unsealed: ${refusal}`);
        await ensureUnsealed(u);
        return { outs: { ...u, unsealed: true } };
    },

    async delete() {
        // A readiness check: nothing to undo.
    },
};
