/**
 * The Vault provider's own token, over Vault's HTTP API, as plain functions:
 * minted in the same `pulumi up` that initializes Vault, from the initial root
 * token (or an operator-supplied one), which is then revoked. Afterwards no
 * valid root token exists anywhere, and later runs need none: the provider's
 * token is periodic and renewed by `pulumi up`.
 *
 * Serialization: like ./vault-init, captured by value into a dynamic
 * provider, so nothing is imported at top level but the functions of the one
 * HTTP client, ./vault-api. Tokens are returned, never logged.
 */
import * as vaultApiModule from "./vault-api";
import type { VaultEndpoint } from "./vault-api";

// Bound once at load, so a serialized closure captures these functions
// themselves, not ./vault-api's module object (under tsx, its export getters).
const { apiErrors, redact, vaultApi } = vaultApiModule;

/** The provider token's period: renewed by any `pulumi up` within it. */
export const PROVIDER_TOKEN_PERIOD_SECONDS = 768 * 3600;
/** Its display name in Vault's token store and audit log. */
export const PROVIDER_TOKEN_DISPLAY_NAME = "pulumi-secret-platform";

/** What minting the provider's token needs. */
export interface ProviderTokenRequest {
    /** The machine-only policy the token carries (`pulumi`). */
    readonly policy: string;
    /** That policy's HCL: written first, so the token works before the configuration runs. */
    readonly policyText: string;
}

/** The provider's token and its accessor (the accessor names it in messages and audit logs). */
export interface ProviderToken {
    readonly token: string;
    readonly accessor: string;
}

/** What `auth/token/lookup-self` tells of a token. */
export interface TokenSelf {
    readonly policies: string[];
    /** Seconds left. */
    readonly ttl: number;
    readonly accessor: string;
    /** When Vault created it (Unix seconds); renewals do not move it. */
    readonly creationTime: number;
}

/** `auth/token/lookup-self`: the token's policies, remaining TTL and creation time, or undefined when Vault refuses it. */
export async function lookupSelf(ep: VaultEndpoint, token: string): Promise<TokenSelf | undefined> {
    const res = await vaultApi(ep, "GET", "auth/token/lookup-self", undefined, token);
    if (res.status === 403) return undefined;
    const data = res.body?.data as Record<string, unknown> | undefined;
    if (res.status !== 200 || data === undefined) {
        // The status travels with the error: a 5xx is worth asking again (retryWhileUnavailable), a 4xx is not.
        throw Object.assign(
            new Error(
                redact(`GET ${ep.address}/v1/auth/token/lookup-self: HTTP ${res.status}${apiErrors(res)}`, [token]),
            ),
            { status: res.status },
        );
    }
    return {
        policies: Array.isArray(data.policies) ? data.policies.map(String) : [],
        ttl: Number(data.ttl ?? 0),
        accessor: String(data.accessor ?? ""),
        creationTime: Number(data.creation_time ?? 0),
    };
}

/** The token's age in whole seconds, by Vault's own record of its creation. */
export function tokenAgeSeconds(self: TokenSelf, nowMs: number = Date.now()): number {
    return Math.floor(nowMs / 1000) - self.creationTime;
}

/** The message when the token bootstrap would mint with is not valid. */
export function bootstrapTokenRefusedMessage(address: string, source: "root" | "vaultToken"): string {
    return source === "root"
        ? `Vault at ${address} refused this stack's initial root token (it was revoked, as bootstrap does once the ` +
              "provider's token exists), and this stack holds no valid provider token. " +
              providerTokenRecovery()
        : `Vault at ${address} refused secret-platform:vaultToken (expired or revoked). ` + providerTokenRecovery();
}

/** How to get a provider token again: a root token from the key holders, handed to bootstrap once. */
export function providerTokenRecovery(): string {
    return (
        "To recover, generate a root token with the key holders (vault operator generate-root, docs/bootstrap.md), " +
        "then run `pulumi config set --secret vaultToken` (it prompts for the token: never on the command line) and `pulumi up`: bootstrap mints a new " +
        "provider token with it and revokes that root token. Then `pulumi config rm vaultToken`."
    );
}

/** The message when the stored provider token is no longer valid. */
export function providerTokenInvalidMessage(address: string, accessor: string): string {
    return (
        `Vault at ${address} refused the Vault provider's token (accessor ${accessor}): it expired ` +
        `(not renewed by a pulumi up within ${PROVIDER_TOKEN_PERIOD_SECONDS / 3600}h) or was revoked. ` +
        providerTokenRecovery()
    );
}

/**
 * Mints the provider's token with `bootstrapToken`: writes the policy, then
 * an orphan periodic token carrying only it (orphan, so revoking the root
 * token does not revoke it). When the bootstrap token is a root token it is
 * revoked last; if that fails, the new token is revoked again so that no
 * second powerful token is left behind, and the error is thrown (the root
 * token is still valid then, and the next `pulumi up` tries again).
 */
export async function mintProviderToken(
    ep: VaultEndpoint,
    bootstrapToken: string,
    source: "root" | "vaultToken",
    req: ProviderTokenRequest,
): Promise<ProviderToken & { rootRevoked: boolean }> {
    const secrets = [bootstrapToken];
    const fail = (what: string, res: { status: number; body: Record<string, unknown> | undefined }) =>
        new Error(redact(`${what} at ${ep.address}: HTTP ${res.status}${apiErrors(res)}`, secrets));

    const self = await lookupSelf(ep, bootstrapToken);
    if (self === undefined) throw new Error(bootstrapTokenRefusedMessage(ep.address, source));
    const policy = await vaultApi(
        ep,
        "PUT",
        `sys/policies/acl/${req.policy}`,
        { policy: req.policyText },
        bootstrapToken,
    );
    if (policy.status !== 204 && policy.status !== 200) throw fail(`writing policy ${req.policy}`, policy);
    const created = await vaultApi(
        ep,
        "PUT",
        "auth/token/create-orphan",
        {
            policies: [req.policy],
            period: `${PROVIDER_TOKEN_PERIOD_SECONDS}s`,
            renewable: true,
            display_name: PROVIDER_TOKEN_DISPLAY_NAME,
        },
        bootstrapToken,
    );
    const auth = created.body?.auth as Record<string, unknown> | undefined;
    if (created.status !== 200 || typeof auth?.client_token !== "string")
        throw fail("creating the provider token", created);
    const minted = { token: auth.client_token, accessor: String(auth.accessor ?? "") };
    secrets.push(minted.token);

    if (!self.policies.includes("root")) return { ...minted, rootRevoked: false };
    const revoked = await vaultApi(ep, "PUT", "auth/token/revoke-self", {}, bootstrapToken);
    if (revoked.status !== 204) {
        await vaultApi(ep, "PUT", "auth/token/revoke-accessor", { accessor: minted.accessor }, bootstrapToken);
        throw fail("revoking the root token", revoked);
    }
    return { ...minted, rootRevoked: true };
}

/** What a preview says of the provider token: fine, due for renewal, or old enough to be replaced by the update. */
export type ProviderTokenState = "valid" | "renew" | "rotate";

/** The update's course for a valid token: re-mint past the maximum age, else renew past half its period. */
export function providerTokenState(self: TokenSelf, maxAgeSeconds: number, nowMs?: number): ProviderTokenState {
    if (tokenAgeSeconds(self, nowMs) >= maxAgeSeconds) return "rotate";
    return self.ttl * 2 < PROVIDER_TOKEN_PERIOD_SECONDS ? "renew" : "valid";
}

/**
 * The preview's look at the provider token: valid, due for renewal (less
 * than half its period left), or older than maxAgeSeconds (the update
 * re-mints it and revokes this one, so an old state backup holds a dead
 * token). A refused token is an error that says how to recover, never a
 * silent change.
 */
export async function checkProviderToken(
    ep: VaultEndpoint,
    stored: ProviderToken,
    maxAgeSeconds: number,
): Promise<ProviderTokenState> {
    const self = await lookupSelf(ep, stored.token);
    if (self === undefined) throw new Error(providerTokenInvalidMessage(ep.address, stored.accessor));
    return providerTokenState(self, maxAgeSeconds);
}

/**
 * Replaces the provider token: a new one minted with the old (the policy
 * rewritten first, so the new token carries the current text), then the old
 * one revoked. If that revocation fails, the new token is revoked and the
 * error thrown: the state keeps the old token, and no second live token is
 * left behind.
 */
export async function rotateProviderToken(
    ep: VaultEndpoint,
    stored: ProviderToken,
    req: ProviderTokenRequest,
): Promise<ProviderToken> {
    const minted = await mintProviderToken(ep, stored.token, "vaultToken", req);
    const revoked = await vaultApi(ep, "PUT", "auth/token/revoke-self", {}, stored.token);
    if (revoked.status !== 204) {
        await vaultApi(ep, "PUT", "auth/token/revoke-self", {}, minted.token);
        throw new Error(
            redact(
                `revoking the old provider token (accessor ${stored.accessor}) at ${ep.address}: HTTP ${revoked.status}${apiErrors(revoked)}`,
                [stored.token, minted.token],
            ),
        );
    }
    return { token: minted.token, accessor: minted.accessor };
}

/** `auth/token/renew-self`: a full period again. */
export async function renewProviderToken(ep: VaultEndpoint, stored: ProviderToken): Promise<void> {
    const res = await vaultApi(ep, "PUT", "auth/token/renew-self", {}, stored.token);
    if (res.status === 403) throw new Error(providerTokenInvalidMessage(ep.address, stored.accessor));
    if (res.status !== 200) {
        throw new Error(
            redact(`PUT ${ep.address}/v1/auth/token/renew-self: HTTP ${res.status}${apiErrors(res)}`, [stored.token]),
        );
    }
}

/** Revokes the provider token (stack destroy: no standing power is left behind). */
export async function revokeProviderToken(ep: VaultEndpoint, stored: ProviderToken): Promise<boolean> {
    const res = await vaultApi(ep, "PUT", "auth/token/revoke-self", {}, stored.token);
    return res.status === 204;
}
