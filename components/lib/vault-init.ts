/**
 * Vault's init and unseal lifecycle over its HTTP API (./vault-api), as plain
 * functions: the bootstrap's dynamic provider runs them inside `pulumi up`, and
 * tests and scripts call them directly against a real server.
 *
 * Serialization: Pulumi captures these functions by value into the dynamic
 * provider's closure. So the module imports nothing at top level but
 * ./vault-api (captured by value as well, and just as spare); Node's modules are
 * required inside the function that uses them.
 *
 * Secrets: the root token and key shares are returned, never logged, and every
 * error message is passed through `redact` with the secrets in play.
 */
import * as vaultApiModule from "./vault-api";
import type { ApiResponse, VaultEndpoint } from "./vault-api";

// Bound once at load, so a serialized closure captures these functions
// themselves, not ./vault-api's module object (under tsx, its export getters).
const { apiErrors, redact, vaultApi } = vaultApiModule;

/** The seal types bootstrap knows: Shamir key shares, or the awskms auto-unseal. */
export type SealType = "shamir" | "awskms";

/** `GET /v1/sys/seal-status`, the fields bootstrap reads. */
export interface SealStatus {
    readonly type: string;
    readonly initialized: boolean;
    readonly sealed: boolean;
    /** Threshold. */
    readonly t: number;
    /** Shares. */
    readonly n: number;
    /** Shares submitted so far in the current unseal attempt. */
    readonly progress: number;
}

/** What bootstrap asks of Vault; the dynamic resource's inputs. */
export interface BootstrapInputs {
    readonly address: string;
    readonly skipTlsVerify: boolean;
    /** PEM bundle of the private CAs (secret-platform:trust.caBundle); "" or unset for none. */
    readonly caBundle?: string;
    /** Seconds to wait for the API to answer (secret-platform:vault.waitTimeoutSeconds). */
    readonly waitTimeoutSeconds: number;
    readonly sealType: SealType;
    /** secret_shares (shamir) or recovery_shares (awskms). */
    readonly shares: number;
    /** secret_threshold (shamir) or recovery_threshold (awskms). */
    readonly threshold: number;
    /** The operator supplied a token (secret-platform:vaultToken): an initialized Vault may be adopted. */
    readonly adoptExisting: boolean;
    /** `<namespace>/<name>` of the unseal keys Secret (shamir), for messages; "" otherwise. */
    readonly keysSecret: string;
    /** Raft HA (server.replicas > 1): vault.address reaches only pods that are initialized and unsealed. */
    readonly raftHa?: boolean;
}

/** What bootstrap keeps after init; root token and keys become secret outputs. */
export interface BootstrapState extends BootstrapInputs {
    readonly initialized: boolean;
    /** True when Vault was initialized elsewhere and this stack holds no key material. */
    readonly adopted: boolean;
    /** The initial root token ("" when adopted). */
    readonly rootToken: string;
    /** Unseal key shares (shamir) or recovery key shares (awskms), hex ([] when adopted). */
    readonly keys: string[];
}

function asSealStatus(res: ApiResponse): SealStatus | undefined {
    const b = res.body;
    if (res.status !== 200 || b === undefined || typeof b.initialized !== "boolean" || typeof b.sealed !== "boolean") {
        return undefined;
    }
    return {
        type: String(b.type ?? ""),
        initialized: b.initialized,
        sealed: b.sealed,
        t: Number(b.t ?? 0),
        n: Number(b.n ?? 0),
        progress: Number(b.progress ?? 0),
    };
}

/** One `GET /v1/sys/seal-status`; throws when there is no usable answer. */
export async function sealStatus(ep: VaultEndpoint): Promise<SealStatus> {
    const res = await vaultApi(ep, "GET", "sys/seal-status");
    const status = asSealStatus(res);
    if (status === undefined) {
        throw new Error(`GET ${ep.address}/v1/sys/seal-status: HTTP ${res.status}${apiErrors(res)}`);
    }
    return status;
}

/**
 * Node's codes for a certificate the client cannot verify. Waiting does not
 * fix any of them: they are reported at once, not after the wait timeout.
 */
export const TLS_VERIFY_ERROR_CODES: readonly string[] = [
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "UNABLE_TO_GET_ISSUER_CERT",
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "SELF_SIGNED_CERT_IN_CHAIN",
    "DEPTH_ZERO_SELF_SIGNED_CERT",
    "CERT_HAS_EXPIRED",
    "CERT_NOT_YET_VALID",
    "CERT_UNTRUSTED",
    "CERT_REJECTED",
    "CERT_SIGNATURE_FAILURE",
    "INVALID_CA",
    "ERR_TLS_CERT_ALTNAME_INVALID",
];

/** Whether an error from vaultApi is a certificate verification failure. */
export function isTlsVerifyError(e: unknown): boolean {
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    return typeof code === "string" && TLS_VERIFY_ERROR_CODES.includes(code);
}

/** The message for a certificate the bootstrap client cannot verify. */
export function untrustedCertificateMessage(address: string, cause: string): string {
    return (
        `Vault API at ${address}: its TLS certificate cannot be verified (${cause}). ` +
        "Set secret-platform:trust.caBundle to the PEM bundle of the CA that signed it " +
        `(pulumi config set --path 'trust.caBundle' -- "$(cat ca.crt)"), ` +
        "or, insecurely, both secret-platform:vault.skipTlsVerify true and secret-platform:vault.allowInsecure true."
    );
}

/** Options of the polling helpers; tests shorten the interval. */
export interface PollOptions {
    /** Pause between attempts in milliseconds; default 2000. */
    readonly intervalMs?: number;
    /** What the caller's user should check when Vault never answers; default: the stack's vault.* config keys. */
    readonly whatToCheck?: string;
    /** Wait past an answer until this accepts it (returns undefined), else it says what was wrong; default: any answer. */
    readonly accept?: (status: SealStatus) => string | undefined;
}

const CHECK_STACK_CONFIG =
    "Check secret-platform:vault.address, that the Vault pod is running and reachable from here " +
    "(and secret-platform:trust.caBundle for a certificate from a private CA); " +
    "secret-platform:vault.waitTimeoutSeconds sets how long to wait.";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls seal-status until Vault answers (a refused connection, DNS failure,
 * TLS error or 5xx from an ingress all mean "not yet"), for at most
 * `timeoutSeconds`. Throws a message naming the address and the last error.
 */
export async function waitForApi(
    ep: VaultEndpoint,
    timeoutSeconds: number,
    opts: PollOptions = {},
): Promise<SealStatus> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    const interval = opts.intervalMs ?? 2000;
    let last = "no attempt";
    for (;;) {
        try {
            const status = await sealStatus({
                ...ep,
                requestTimeoutMs: Math.min(ep.requestTimeoutMs ?? 10_000, interval * 5),
            });
            const refused = opts.accept?.(status);
            if (refused === undefined) return status;
            last = refused;
        } catch (e) {
            if (isTlsVerifyError(e)) throw new Error(untrustedCertificateMessage(ep.address, (e as Error).message));
            last = (e as Error).message;
        }
        if (Date.now() + interval > deadline) {
            const what = opts.accept === undefined ? "answer" : "answer initialized and unsealed";
            throw new Error(
                `Vault API at ${ep.address} did not ${what} within ${timeoutSeconds}s (last error: ${last}). ` +
                    (opts.whatToCheck ?? CHECK_STACK_CONFIG),
            );
        }
        await sleep(interval);
    }
}

/**
 * Runs `attempt` again while Vault cannot serve it for a moment: no answer, or
 * an HTTP 5xx (an error carrying `status`): a pod restarting sealed, or a raft
 * election after the active pod left. Any other failure, and the last one
 * after `timeoutSeconds`, is thrown as it is.
 */
export async function retryWhileUnavailable<T>(
    attempt: () => Promise<T>,
    timeoutSeconds: number,
    opts: Pick<PollOptions, "intervalMs"> = {},
): Promise<T> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    const interval = opts.intervalMs ?? 2000;
    for (;;) {
        try {
            return await attempt();
        } catch (e) {
            const status = (e as { status?: unknown }).status;
            const noAnswer = typeof (e as { reason?: unknown }).reason === "string" && !isTlsVerifyError(e);
            const unavailable = typeof status === "number" ? status >= 500 : noAnswer;
            if (!unavailable || Date.now() + interval > deadline) throw e;
        }
        await sleep(interval);
    }
}

/** The init request body: secret shares for Shamir, recovery shares for an auto-unseal. */
export function initRequest(sealType: SealType, shares: number, threshold: number): Record<string, number> {
    return sealType === "shamir"
        ? { secret_shares: shares, secret_threshold: threshold }
        : { recovery_shares: shares, recovery_threshold: threshold };
}

/**
 * How long `PUT /v1/sys/init` may take. Its answer is the only copy of the
 * keys: a client that stops waiting while Vault finishes leaves Vault
 * initialized with keys nobody holds. With raft, init returns only once the
 * node has won its first election (5 to 10 s with Vault's default timing, more
 * on a loaded node: the e2e's raft drill saw 10.0 s), so the usual 10 s is too
 * short. Longer than Vault's own max_request_duration (90 s): Vault answers
 * first, with the keys or its own error.
 */
export const INIT_REQUEST_TIMEOUT_MS = 120_000;

/**
 * `PUT /v1/sys/init`. Returns the root token and the key shares that matter
 * for the seal (unseal keys for Shamir, recovery keys for awskms), hex.
 */
export async function initVault(
    ep: VaultEndpoint,
    sealType: SealType,
    shares: number,
    threshold: number,
): Promise<{ rootToken: string; keys: string[] }> {
    const res = await vaultApi(
        { ...ep, requestTimeoutMs: INIT_REQUEST_TIMEOUT_MS },
        "PUT",
        "sys/init",
        initRequest(sealType, shares, threshold),
    );
    if (res.status !== 200 || res.body === undefined) {
        throw new Error(`PUT ${ep.address}/v1/sys/init: HTTP ${res.status}${apiErrors(res)}`);
    }
    const keys = (sealType === "shamir" ? res.body.keys : res.body.recovery_keys) as string[] | undefined;
    const rootToken = res.body.root_token as string | undefined;
    if (typeof rootToken !== "string" || !Array.isArray(keys) || keys.length !== shares) {
        // Vault answered 200, so it IS initialized now: say so, the operator must act.
        throw new Error(
            `PUT ${ep.address}/v1/sys/init answered 200 without a root token and ${shares} ${sealType === "shamir" ? "unseal" : "recovery"} keys; ` +
                "Vault is now initialized and its keys are not known to this stack (see docs/bootstrap.md, lost keys).",
        );
    }
    return { rootToken, keys };
}

/**
 * Submits unseal key shares one by one until Vault reports unsealed. Returns
 * the last seal status (sealed when the shares ran out before the threshold).
 */
export async function submitUnsealKeys(ep: VaultEndpoint, keys: readonly string[]): Promise<SealStatus> {
    let status = await sealStatus(ep);
    for (const key of keys) {
        if (!status.sealed) break;
        const res = await vaultApi(ep, "PUT", "sys/unseal", { key });
        const next = asSealStatus(res);
        if (next === undefined) {
            throw new Error(redact(`PUT ${ep.address}/v1/sys/unseal: HTTP ${res.status}${apiErrors(res)}`, keys));
        }
        status = next;
    }
    return status;
}

/** The message when Vault is initialized and this stack has no record of it. */
export function alreadyInitializedMessage(inputs: BootstrapInputs): string {
    const keys =
        inputs.sealType === "shamir" && inputs.keysSecret !== ""
            ? ` The unsealer keeps using the keys already in Secret ${inputs.keysSecret}, which is never overwritten (see docs/bootstrap.md, adopting an initialized Vault).`
            : "";
    return (
        `Vault at ${inputs.address} is already initialized, but this stack has no record of its initialization ` +
        "(a new stack, or lost state). Bootstrap never re-initializes Vault and never overwrites stored keys. " +
        "Restore the stack's state from a backup, or adopt this Vault by supplying an admin token: " +
        `pulumi config set --secret vaultToken (it prompts for the token; never put it on the command line).${keys}`
    );
}

/**
 * The message when `pulumi destroy` reaches the init resource of an awskms
 * Vault: the state holds the only copy of the recovery keys, so the destroy
 * stops until an operator has taken them out and dropped the resource from
 * the state on purpose.
 */
export function recoveryKeysDestroyRefusal(address: string): string {
    return (
        `pulumi destroy stops here: this stack's state holds the only copy of the recovery keys of the awskms Vault ` +
        `at ${address}, and Vault's data stays. Without those keys no root token can ever be generated for it. ` +
        "Hand the keys to their holders first (pulumi stack export --show-secrets | jq '.deployment.resources[] | " +
        'select(.type | endswith(":VaultInit")) | .outputs.keys\'), then drop this resource from the state on purpose ' +
        "(pulumi state delete <its URN, from pulumi stack --show-urns>) and run pulumi destroy again (docs/bootstrap.md)."
    );
}

/** The message when Vault reports uninitialized although this stack initialized it. */
export function wipedStorageMessage(address: string): string {
    return (
        `Vault at ${address} reports that it is NOT initialized, but this stack initialized it: its storage was ` +
        "wiped or replaced (wrong bucket or prefix, deleted data). Bootstrap will not re-initialize on its own, " +
        "because new keys would orphan the data and the stored keys. Fix the storage binding, or put Vault's objects " +
        "back under the prefix from the bucket's object versions or a copy (docs/disaster-recovery.md, wiped storage); " +
        "to start over on purpose follow docs/bootstrap.md (starting over)."
    );
}

/** Where the raft HA runbooks are, for messages. */
const RAFT_HA_DOCS = "docs/bootstrap.md, Raft HA: bootstrap with one replica, then scale";

/** The refusal when a new Vault would be initialized with server.replicas above 1 (raft HA). */
export function raftHaInitMessage(address: string): string {
    return (
        `Vault at ${address} cannot be initialized with secret-platform:server.replicas above 1: with raft HA, ` +
        "vault.address reaches only pods that are initialized and unsealed, so a new Vault has no pod that answers. " +
        "Set server.replicas to 1 for the first pulumi up (pulumi config set --path server.replicas 1), then to 3 " +
        `or 5 and pulumi up again (${RAFT_HA_DOCS}).`
    );
}

/** A raft HA seal status that vault.address should not have routed: why it is not serving yet; undefined when it is. */
export function notServing(status: SealStatus): string | undefined {
    if (!status.initialized) return "it answered not initialized";
    return status.sealed ? "it answered sealed" : undefined;
}

/** What to check when no raft HA pod serves within the wait. */
export function raftHaWhatToCheck(inputs: Pick<UnsealInputs, "sealType" | "keysSecret">): string {
    const unsealer =
        inputs.sealType === "awskms"
            ? "each pod's log for KMS errors (the awskms seal unseals every pod)"
            : `that the unsealer unseals each pod (its CronJob and loop read Secret ${inputs.keysSecret})`;
    return (
        "With raft HA (secret-platform:server.replicas above 1) vault.address reaches only pods that are " +
        `initialized and unsealed: check that Vault's pods run, and ${unsealer}. If every pod lost its raft data, ` +
        "restore a snapshot (docs/disaster-recovery.md, HA (raft) mode: snapshots). " +
        "secret-platform:vault.waitTimeoutSeconds sets how long to wait."
    );
}

/**
 * The create step: wait for the API, then initialize an uninitialized Vault,
 * adopt an initialized one when the operator supplied a token, or refuse.
 * Nothing that can fail runs after a successful init: the keys always reach
 * the caller, which persists them.
 */
export async function ensureInitialized(
    inputs: BootstrapInputs,
    log: (msg: string) => void = () => undefined,
    opts: PollOptions = {},
): Promise<BootstrapState> {
    // Nothing to wait for: no pod of a new raft HA Vault is ever Ready, so none answers at vault.address.
    if (inputs.raftHa === true && !inputs.adoptExisting) throw new Error(raftHaInitMessage(inputs.address));
    const ep: VaultEndpoint = {
        address: inputs.address,
        skipTlsVerify: inputs.skipTlsVerify,
        caBundle: inputs.caBundle,
    };
    const status = await waitForApi(ep, inputs.waitTimeoutSeconds, opts);
    if (status.initialized) {
        if (!inputs.adoptExisting) throw new Error(alreadyInitializedMessage(inputs));
        log(`vault-init: ${inputs.address} is already initialized; adopting it without key material`);
        return { ...inputs, initialized: true, adopted: true, rootToken: "", keys: [] };
    }
    if (status.type !== "" && status.type !== inputs.sealType) {
        throw new Error(
            `Vault at ${inputs.address} reports seal type '${status.type}' but secret-platform:unseal.mode is ` +
                `'${inputs.sealType}': the server's seal stanza and the unseal mode must agree before init.`,
        );
    }
    const { rootToken, keys } = await initVault(ep, inputs.sealType, inputs.shares, inputs.threshold);
    log(
        `vault-init: initialized ${inputs.address} (${inputs.sealType}, ${inputs.shares} shares, threshold ${inputs.threshold})`,
    );
    return { ...inputs, initialized: true, adopted: false, rootToken, keys };
}

/** What the unseal step needs. */
export interface UnsealInputs {
    readonly address: string;
    readonly skipTlsVerify: boolean;
    /** PEM bundle of the private CAs (secret-platform:trust.caBundle); "" or unset for none. */
    readonly caBundle?: string;
    readonly waitTimeoutSeconds: number;
    readonly sealType: SealType;
    /** Unseal key shares (shamir); [] for awskms or an adopted Vault. */
    readonly keys: string[];
    /** `<namespace>/<name>` of the unseal keys Secret (shamir), for messages. */
    readonly keysSecret: string;
    /** The uid of Vault's namespace (VaultServer.identity), recorded so a diff can tell a new server from a silent one. */
    readonly serverIdentity?: string;
    /** The chart's digest (VaultServer.revision), recorded so a diff can tell pods rolled in this update. */
    readonly serverRevision?: string;
    /** Raft HA (server.replicas > 1): vault.address reaches only pods that are initialized and unsealed. */
    readonly raftHa?: boolean;
}

/**
 * The readiness step: Vault initialized and unsealed. Shamir with keys:
 * submit them. Otherwise (awskms, or an adopted Vault without keys here) wait
 * for the seal or the unsealer to do it, up to the wait timeout.
 */
export async function ensureUnsealed(inputs: UnsealInputs, opts: PollOptions = {}): Promise<SealStatus> {
    const ep: VaultEndpoint = {
        address: inputs.address,
        skipTlsVerify: inputs.skipTlsVerify,
        caBundle: inputs.caBundle,
    };
    if (inputs.raftHa === true) {
        // The unsealer (or the seal) unseals each pod at its own address; key shares sent to vault.address would
        // land on whichever pod answers. So wait for a pod that serves: the Service routes to no other.
        return waitForApi(ep, inputs.waitTimeoutSeconds, {
            ...opts,
            accept: notServing,
            whatToCheck: raftHaWhatToCheck(inputs),
        });
    }
    const deadline = Date.now() + inputs.waitTimeoutSeconds * 1000;
    let status = await waitForApi(ep, inputs.waitTimeoutSeconds, opts);
    if (!status.initialized) throw new Error(wipedStorageMessage(inputs.address));
    if (!status.sealed) return status;
    if (inputs.sealType === "shamir" && inputs.keys.length > 0) {
        status = await submitUnsealKeys(ep, inputs.keys);
        if (status.sealed) {
            throw new Error(
                `Vault at ${inputs.address} is still sealed after all ${inputs.keys.length} stored unseal keys ` +
                    `(progress ${status.progress}/${status.t}): the keys do not belong to this Vault's storage.`,
            );
        }
        return status;
    }
    const interval = opts.intervalMs ?? 2000;
    while (status.sealed) {
        if (Date.now() + interval > deadline) {
            throw new Error(
                inputs.sealType === "awskms"
                    ? `Vault at ${inputs.address} did not auto-unseal with awskms within ${inputs.waitTimeoutSeconds}s: check the Vault pod's log for KMS errors (key id, region, credentials).`
                    : `Vault at ${inputs.address} is sealed and this stack holds no unseal keys (adopted); the unsealer reads them from Secret ${inputs.keysSecret}, or unseal by hand: vault operator unseal.`,
            );
        }
        await sleep(interval);
        status = await sealStatus(ep);
    }
    return status;
}

/** Outcome of a refresh: still initialized, or unreachable (nothing can be said). */
export type RefreshOutcome = "initialized" | "unreachable";

/**
 * The read step: one seal-status call. Throws the wiped-storage message when
 * Vault answers uninitialized; an unreachable Vault proves nothing.
 */
export async function checkStillInitialized(ep: VaultEndpoint): Promise<RefreshOutcome> {
    let status: SealStatus;
    try {
        status = await sealStatus(ep);
    } catch (e) {
        // An untrusted certificate is a config problem to fix, not a Vault that is down.
        if (isTlsVerifyError(e)) throw new Error(untrustedCertificateMessage(ep.address, (e as Error).message));
        return "unreachable";
    }
    if (!status.initialized) throw new Error(wipedStorageMessage(ep.address));
    return "initialized";
}

/** Pulumi's wire form of an input not known yet: in a preview, an output that this update's create will make. */
export const UNKNOWN_INPUT = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/**
 * What the recorded and the new `serverIdentity` (the uid of Vault's namespace,
 * VaultServer.identity) say of Vault's server: `new` when this update creates
 * it (unknown in the preview, a new uid in the update itself: a new cluster, a
 * namespace created again), `unrecorded` when the state predates the input,
 * `same` otherwise (and when the inputs carry none, nothing can be told).
 */
export function serverChange(recorded: unknown, next: unknown): "same" | "new" | "unrecorded" {
    if (next === UNKNOWN_INPUT) return "new";
    if (typeof next !== "string") return "same";
    if (typeof recorded !== "string") return "unrecorded";
    return recorded === next ? "same" : "new";
}

/** The line a diff prints when this update renders Vault's chart anew, so the update, not the diff, checks Vault. */
export function serverRolledPreviewMessage(what: "vault-unsealed" | "vault-token", address: string): string {
    const then =
        what === "vault-unsealed"
            ? "waits for Vault to answer unsealed (the pods may roll)"
            : "checks the provider token once Vault answers unsealed";
    return `${what}: this update changes Vault's chart (its values or version); the update ${then} at ${address}`;
}

/** The line a diff prints when Vault's server is created in this update, so a Vault that does not answer yet is expected. */
export function serverCreatedPreviewMessage(what: "vault-unsealed" | "vault-token", address: string): string {
    const then =
        what === "vault-unsealed"
            ? "waits for it to answer (secret-platform:vault.waitTimeoutSeconds) and unseals it"
            : "checks the provider token once Vault is unsealed";
    return `${what}: Vault's server is created in this update (its namespace is new to this stack); the update ${then} at ${address}`;
}

/** What a preview can say of a running Vault's seal. */
export type PreviewSealState = "unsealed" | "sealed";

/** The message when a preview (the readiness resource's diff) cannot reach Vault. */
export function unreachableForPreviewMessage(address: string, cause: string, raftHa = false): string {
    return (
        `Vault at ${address} did not answer (${cause}), so this run cannot tell whether it is unsealed. ` +
        "Run the preview where secret-platform:vault.address is reachable (it needs Vault's API), or fix that address." +
        (raftHa
            ? " With raft HA (server.replicas above 1) it reaches only pods that are initialized and unsealed: " +
              "if every pod is sealed, check the unsealer."
            : "")
    );
}

/**
 * The readiness resource's look at Vault in a diff: unsealed (no change) or
 * sealed (the update unseals it). No answer, an untrusted certificate and
 * wiped storage are errors that name the cause: a phantom change would hide
 * them, and would fail every `pulumi preview --expect-no-changes`.
 */
export async function previewSealState(ep: VaultEndpoint, raftHa = false): Promise<PreviewSealState> {
    let status: SealStatus;
    try {
        status = await sealStatus(ep);
    } catch (e) {
        if (isTlsVerifyError(e)) throw new Error(untrustedCertificateMessage(ep.address, (e as Error).message));
        throw new Error(unreachableForPreviewMessage(ep.address, (e as Error).message, raftHa));
    }
    if (!status.initialized) throw new Error(wipedStorageMessage(ep.address));
    return status.sealed ? "sealed" : "unsealed";
}

/** The line a preview prints when the readiness resource will unseal Vault. */
export function sealedPreviewMessage(inputs: UnsealInputs): string {
    const how =
        inputs.raftHa === true
            ? "the update waits until a pod answers unsealed (the unsealer or the seal unseals each pod)"
            : inputs.sealType === "shamir" && inputs.keys.length > 0
              ? "the update submits the stack's unseal keys"
              : inputs.sealType === "awskms"
                ? "the update waits for the awskms auto-unseal"
                : `the update waits for the unsealer (keys in Secret ${inputs.keysSecret})`;
    return `vault-unsealed: Vault at ${inputs.address} is sealed; ${how}`;
}

/** Who Vault is to this stack: where it answers and whom its certificate must chain to. */
export interface VaultIdentity {
    readonly address: string;
    readonly skipTlsVerify: boolean;
    /** The PEM bundle pinned for it (trust.caBundle); undefined: public roots. */
    readonly caBundle?: string;
}

/** The config key that acknowledges a move of Vault to another address or CA. */
export const MOVED_FROM_KEY = "secret-platform:vault.movedFrom";

/** The config key that acknowledges a new CA for Vault at the same address. */
export const ACKNOWLEDGE_CA_KEY = "secret-platform:vault.acknowledgeCa";

/** What the new inputs acknowledge (secret-platform:vault.movedFrom, vault.acknowledgeCa), when set. */
export interface IdentityAcknowledgements {
    readonly movedFrom?: string;
    readonly acknowledgeCa?: string;
}

/**
 * The value vault.acknowledgeCa takes for a CA bundle: the SHA-256, lowercase
 * hex, of its text exactly as configured ("" when there is none). It names
 * one bundle, so a value left in the config approves that bundle only.
 */
export function caBundleDigest(caBundle: string | undefined): string {
    const crypto = require("node:crypto") as typeof import("node:crypto");
    return crypto
        .createHash("sha256")
        .update(caBundle ?? "", "utf8")
        .digest("hex");
}

/**
 * What changed between the identity this stack recorded for Vault and the one
 * in the new inputs, in words (never a certificate or secret), or undefined
 * when it is the same Vault to this stack.
 */
export function identityChange(recorded: VaultIdentity, next: VaultIdentity): string | undefined {
    const changes: string[] = [];
    if (recorded.address !== next.address) changes.push(`address ${recorded.address} -> ${next.address}`);
    if ((recorded.caBundle ?? "") !== (next.caBundle ?? "")) changes.push("the CA pinned for it (trust.caBundle)");
    if (recorded.skipTlsVerify !== next.skipTlsVerify) changes.push(`skipTlsVerify ${next.skipTlsVerify}`);
    return changes.length === 0 ? undefined : changes.join(", ");
}

/**
 * The refusal when Vault's identity changed without the acknowledgement:
 * nothing secret (a token, a key share) goes to a Vault this stack has not
 * been told is the same one.
 */
export function identityMoveRefusal(what: string, recordedAddress: string, change: string): string {
    return (
        `refusing to send ${what} to a Vault this stack did not initialize: ${change}. ` +
        `If Vault really moved, set ${MOVED_FROM_KEY} to ${recordedAddress} for the pulumi up that moves it ` +
        "(pulumi config set --path vault.movedFrom ...), then remove it. Otherwise revert the change."
    );
}

/**
 * The refusal when only the CA pinned for Vault changed (same address, same
 * skipTlsVerify) without vault.acknowledgeCa naming the new bundle. The
 * digest of a CA bundle is public, so the message gives the exact value.
 */
export function caChangeRefusal(what: string, address: string, caBundle: string | undefined): string {
    const digest = caBundleDigest(caBundle);
    const bundle = (caBundle ?? "") === "" ? "no trust.caBundle (public roots)" : "the new trust.caBundle";
    return (
        `refusing to send ${what} to a Vault this stack did not initialize: the CA pinned for it (trust.caBundle) ` +
        `at ${address} changed. If Vault's certificate really is now verified with ${bundle}, set ` +
        `${ACKNOWLEDGE_CA_KEY} to ${digest} (the SHA-256 of that bundle) for the pulumi up that rotates it ` +
        `(pulumi config set --path vault.acknowledgeCa ${digest}); removing it afterwards is optional, since it ` +
        "approves only this bundle at this address. Otherwise revert the change."
    );
}

/** Whether only the CA pinned for Vault changed: the same address and skipTlsVerify. */
function caOnlyChange(recorded: VaultIdentity, next: VaultIdentity): boolean {
    return recorded.address === next.address && recorded.skipTlsVerify === next.skipTlsVerify;
}

/**
 * Why the update may not send `what` to the Vault of the new inputs, or
 * undefined when it may: the identity is the recorded one, or the change is
 * acknowledged. A move (address or skipTlsVerify) needs vault.movedFrom to be
 * the recorded address; a CA change alone also passes with vault.acknowledgeCa
 * equal to the new bundle's digest, which never approves a move.
 */
export function identityRefusal(
    what: string,
    recorded: VaultIdentity,
    next: VaultIdentity,
    ack: IdentityAcknowledgements,
): string | undefined {
    const change = identityChange(recorded, next);
    if (change === undefined || ack.movedFrom === recorded.address) return undefined;
    if (!caOnlyChange(recorded, next)) return identityMoveRefusal(what, recorded.address, change);
    return ack.acknowledgeCa === caBundleDigest(next.caBundle)
        ? undefined
        : caChangeRefusal(what, next.address, next.caBundle);
}

/** What a preview says the update needs for this identity change: the acknowledgement that approves it. */
export function identityAcknowledgementNeeded(recorded: VaultIdentity, next: VaultIdentity): string {
    return caOnlyChange(recorded, next)
        ? `vault.acknowledgeCa is ${caBundleDigest(next.caBundle)} (the SHA-256 of the new trust.caBundle)`
        : `vault.movedFrom is ${recorded.address}`;
}

/** The message when another Vault (another cluster id) answers at this stack's address. */
export function otherVaultMessage(address: string, seen: string, recorded: string): string {
    return (
        `Vault at ${address} reports cluster id ${seen}, but this stack's Vault has cluster id ${recorded}: ` +
        "another Vault (re-initialized, or another server at this address) answers there, so the provider token is " +
        "not sent to it. See docs/bootstrap.md (Vault's identity)."
    );
}

/** `GET /v1/sys/health`'s cluster id (reported while unsealed), or undefined. */
export async function clusterId(ep: VaultEndpoint): Promise<string | undefined> {
    const res = await vaultApi(ep, "GET", "sys/health?standbyok=true&perfstandbyok=true&sealedcode=200&uninitcode=200");
    const id = res.body?.cluster_id;
    return typeof id === "string" && id !== "" ? id : undefined;
}
