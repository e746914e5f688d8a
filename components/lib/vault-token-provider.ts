/**
 * The CRUD of the Vault provider's token as a Pulumi dynamic provider: minted
 * (and the root token revoked) on create, checked by every preview, renewed
 * by `pulumi up` when half its period is gone, re-minted from an operator's
 * token when it was lost, re-minted (and the old one revoked) by `pulumi up`
 * once older than vault.providerTokenMaxAgeDays, revoked on destroy. The logic lives in
 * ./vault-token; this maps Pulumi's calls onto it. ./bootstrap-resources
 * serializes it inside the one provider of the bootstrap resources.
 *
 * The token is root-equivalent, so it goes only to the Vault this stack
 * recorded: the address and pinned CA of the state (a preview never sends it
 * to the new inputs' address), and the cluster id Vault reported when the
 * token was minted. A move needs `vault.movedFrom`, a new CA at the same
 * address `vault.acknowledgeCa` (./vault-init identityRefusal).
 */
import type * as pulumi from "@pulumi/pulumi";
import * as vaultInit from "./vault-init";
import * as vaultToken from "./vault-token";

// Bound once at load: the closure captures the functions, not the modules (see ./vault-init-provider).
const {
    clusterId,
    identityAcknowledgementNeeded,
    identityChange,
    identityRefusal,
    notServing,
    otherVaultMessage,
    previewSealState,
    raftHaWhatToCheck,
    retryWhileUnavailable,
    serverChange,
    serverCreatedPreviewMessage,
    serverRolledPreviewMessage,
    waitForApi,
} = vaultInit;
const {
    checkProviderToken,
    lookupSelf,
    mintProviderToken,
    providerTokenInvalidMessage,
    providerTokenState,
    renewProviderToken,
    revokeProviderToken,
    rotateProviderToken,
    tokenAgeSeconds,
} = vaultToken;

/** The inputs as the engine passes them (it adds __provider). */
function inputsOf(raw: Record<string, unknown>) {
    return {
        address: String(raw.address),
        skipTlsVerify: raw.skipTlsVerify === true,
        caBundle: typeof raw.caBundle === "string" && raw.caBundle !== "" ? raw.caBundle : undefined,
        policy: String(raw.policy),
        policyText: String(raw.policyText),
        bootstrapToken: String(raw.bootstrapToken ?? ""),
        bootstrapSource: raw.bootstrapSource === "vaultToken" ? ("vaultToken" as const) : ("root" as const),
        // Only when set, like caBundle: a stack that never moved keeps the inputs it had.
        ...(typeof raw.movedFrom === "string" && raw.movedFrom !== "" ? { movedFrom: raw.movedFrom } : {}),
        ...(typeof raw.acknowledgeCa === "string" && raw.acknowledgeCa !== ""
            ? { acknowledgeCa: raw.acknowledgeCa }
            : {}),
        // States from before the maximum age have none: such a token is never re-minted by age.
        ...(typeof raw.maxAgeSeconds === "number" ? { maxAgeSeconds: raw.maxAgeSeconds } : {}),
        // The uid of Vault's namespace, only when given (./vault-init serverChange).
        ...(typeof raw.serverIdentity === "string" ? { serverIdentity: raw.serverIdentity } : {}),
        // The chart's digest, only when given (./vault-init serverChange).
        ...(typeof raw.serverRevision === "string" ? { serverRevision: raw.serverRevision } : {}),
        // Raft HA only: how long the update waits for a pod that serves (VaultUnsealed's wait).
        ...(typeof raw.raftHa === "object" && raw.raftHa !== null
            ? { ha: raftHaWaitOf(raw.raftHa as Record<string, unknown>) }
            : {}),
    };
}

/** The raft HA wait's inputs (RaftHaWait). */
function raftHaWaitOf(raw: Record<string, unknown>) {
    return {
        waitTimeoutSeconds: Number(raw.waitTimeoutSeconds),
        keysSecret: String(raw.keysSecret ?? ""),
        sealType: raw.sealType === "awskms" ? ("awskms" as const) : ("shamir" as const),
    };
}

/** The age past which the update re-mints the token (none: never). */
function maxAgeOf(i: { maxAgeSeconds?: number }): number {
    return i.maxAgeSeconds ?? Number.POSITIVE_INFINITY;
}

/** The cluster id recorded with the token (states from before it was recorded have none). */
function recordedClusterId(props: Record<string, unknown>): string | undefined {
    return typeof props.clusterId === "string" && props.clusterId !== "" ? props.clusterId : undefined;
}

type Inputs = ReturnType<typeof inputsOf>;

async function mint(i: Inputs) {
    const ep = { address: i.address, skipTlsVerify: i.skipTlsVerify, caBundle: i.caBundle };
    const minted = await mintProviderToken(ep, i.bootstrapToken, i.bootstrapSource, i);
    console.log(
        `vault-token: minted the provider token (accessor ${minted.accessor}, policy ${i.policy})` +
            (minted.rootRevoked ? "; the root token it was made with is revoked" : ""),
    );
    const id = await clusterId(ep);
    return {
        ...i,
        token: minted.token,
        accessor: minted.accessor,
        rootRevoked: minted.rootRevoked,
        ...(id === undefined ? {} : { clusterId: id }),
    };
}

export const vaultTokenProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
        const outs = await mint(inputsOf(inputs));
        return { id: `vault-token:${outs.accessor}`, outs };
    },

    async diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        const o = inputsOf(olds);
        const n = inputsOf(news);
        const change = typeof olds.address === "string" ? identityChange(o, n) : undefined;
        if (change !== undefined) {
            // The new address is not asked anything: the update decides, with the acknowledgement or not.
            console.log(
                `vault-token: Vault's identity changed (${change}); the preview sends the provider token nowhere, ` +
                    `and the update refuses unless ${identityAcknowledgementNeeded(o, n)}`,
            );
            return { changes: true, replaces: [] };
        }
        // Vault's server is created in this update (a new cluster): nothing to ask yet; the update checks the
        // token after VaultUnsealed (which it depends on) has waited for Vault and unsealed it.
        const server = serverChange(olds.serverIdentity, news.serverIdentity);
        if (server === "new") {
            console.log(serverCreatedPreviewMessage("vault-token", n.address));
            return { changes: true, replaces: [] };
        }
        // The chart changes in this update: the pods may be rolling; the update checks the token once one serves.
        const chart = serverChange(olds.serverRevision, news.serverRevision);
        if (chart === "new") {
            console.log(serverRolledPreviewMessage("vault-token", n.address));
            return { changes: true, replaces: [] };
        }
        // The recorded Vault: the state's address and CA (equal to the new ones here).
        const ep = { address: o.address, skipTlsVerify: o.skipTlsVerify, caBundle: o.caBundle, requestTimeoutMs: 5000 };
        if ((await previewSealState(ep, n.ha !== undefined)) === "sealed") {
            console.log(
                `vault-token: Vault at ${n.address} is sealed; the update checks the provider token after the unseal`,
            );
            return { changes: true, replaces: [] };
        }
        const stored = { token: String(olds.token ?? ""), accessor: String(olds.accessor ?? "") };
        const recorded = recordedClusterId(olds);
        const seen = await clusterId(ep);
        if (recorded !== undefined && seen !== undefined && seen !== recorded) {
            throw new Error(otherVaultMessage(o.address, seen, recorded));
        }
        let state: "valid" | "renew" | "rotate";
        try {
            state = await checkProviderToken(ep, stored, maxAgeOf(n));
        } catch (e) {
            // A refused token with a new operator token in the config: the update re-mints with it.
            if (n.bootstrapSource === "vaultToken" && n.bootstrapToken !== o.bootstrapToken) {
                console.log(`vault-token: the provider token was refused; the update mints a new one with vaultToken`);
                return { changes: true, replaces: [] };
            }
            throw e;
        }
        if (state === "renew")
            console.log(`vault-token: the provider token is past half its period; the update renews it`);
        if (state === "rotate")
            console.log(
                `vault-token: the provider token (accessor ${stored.accessor}) is older than ` +
                    `vault.providerTokenMaxAgeDays; the update mints a new one and revokes it`,
            );
        // A state from before cluster ids (or the server's identity or revision) were recorded: the update records it.
        const unrecorded =
            (recorded === undefined && seen !== undefined) || server === "unrecorded" || chart === "unrecorded";
        return { changes: state !== "valid" || o.policy !== n.policy || unrecorded, replaces: [] };
    },

    async update(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        const o = inputsOf(olds);
        const n = inputsOf(news);
        const refusal = typeof olds.address === "string" ? identityRefusal("the provider token", o, n, n) : undefined;
        if (refusal !== undefined) throw new Error(`vault-token: ${refusal}`);
        const ep = { address: n.address, skipTlsVerify: n.skipTlsVerify, caBundle: n.caBundle };
        // Raft HA: the pods may still be rolling; ask only once a pod serves, and again through an election.
        const ha = n.ha;
        const whileRolling = <T>(attempt: () => Promise<T>) =>
            ha === undefined ? attempt() : retryWhileUnavailable(attempt, ha.waitTimeoutSeconds);
        if (ha !== undefined) {
            await waitForApi(ep, ha.waitTimeoutSeconds, { accept: notServing, whatToCheck: raftHaWhatToCheck(ha) });
        }
        // At the same address (a new CA too) the same Vault answers: the cluster id recorded with the token must match.
        const recorded = o.address === n.address ? recordedClusterId(olds) : undefined;
        const seen = await clusterId(ep);
        if (recorded !== undefined && seen !== undefined && seen !== recorded) {
            throw new Error(otherVaultMessage(n.address, seen, recorded));
        }
        const stored = { token: String(olds.token ?? ""), accessor: String(olds.accessor ?? "") };
        const self = await whileRolling(() => lookupSelf(ep, stored.token));
        if (self === undefined) {
            if (n.bootstrapSource !== "vaultToken")
                throw new Error(providerTokenInvalidMessage(n.address, stored.accessor));
            return { outs: await mint(n) };
        }
        const state = providerTokenState(self, maxAgeOf(n));
        if (state === "renew") await renewProviderToken(ep, stored);
        // Past the maximum age: a new token, the old one revoked, so old state backups hold a dead token.
        const kept = state === "rotate" ? await rotateProviderToken(ep, stored, n) : stored;
        if (state === "rotate")
            console.log(
                `vault-token: minted a new provider token (accessor ${kept.accessor}) and revoked the one ` +
                    `${Math.floor(tokenAgeSeconds(self) / 86400)} days old (accessor ${stored.accessor})`,
            );
        const id = seen ?? recorded;
        return {
            outs: {
                ...n,
                ...kept,
                rootRevoked: olds.rootRevoked === true,
                ...(id === undefined ? {} : { clusterId: id }),
            },
        };
    },

    async delete(_id: string, props: Record<string, unknown>) {
        const i = inputsOf(props);
        const stored = { token: String(props.token ?? ""), accessor: String(props.accessor ?? "") };
        const revoked = await revokeProviderToken(
            { address: i.address, skipTlsVerify: i.skipTlsVerify, caBundle: i.caBundle },
            stored,
        ).catch(() => false);
        console.log(
            revoked
                ? `vault-token: revoked the provider token (accessor ${stored.accessor})`
                : `vault-token: could not revoke the provider token (accessor ${stored.accessor}); revoke it by accessor`,
        );
    },
};
