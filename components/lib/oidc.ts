/**
 * Pure builders for OIDC login through Authelia: the redirect URIs, the Vault
 * role's inputs, and the matching client definition for Authelia's
 * `identity_providers.oidc.clients` list. No secret passes through here.
 */
import { durationSeconds, PlatformConfig } from "../config";
import { autheliaSecretDigest } from "./authelia-digest";

/** The keys the OIDC builders read. */
export type OidcSlice = Pick<PlatformConfig, "oidc" | "exposure" | "cluster">;

/** Where the Vault CLI's `vault login -method=oidc` listens for the callback. */
export const CLI_REDIRECT_URI = "http://localhost:8250/oidc/callback";

/** The claim Vault names the identity alias after; Authelia sends it with the profile scope. */
export const USER_CLAIM = "preferred_username";

/** Redirect URIs Vault may use: the web UI's callback on the public host, then the CLI's. */
export function oidcRedirectUris(config: OidcSlice): string[] {
    return [`https://${config.exposure.host}/ui/vault/auth/${config.oidc.path}/oidc/callback`, CLI_REDIRECT_URI];
}

/** The OIDC role's inputs (vault.jwt.AuthBackendRole, without the backend). */
export interface OidcRoleInputs {
    readonly roleName: string;
    readonly roleType: "oidc";
    readonly userClaim: string;
    readonly groupsClaim: string;
    readonly boundAudiences: string[];
    readonly oidcScopes: string[];
    readonly allowedRedirectUris: string[];
    readonly tokenPolicies: string[];
    readonly tokenTtl: number;
    readonly tokenMaxTtl: number;
}

export function oidcRoleInputs(config: OidcSlice): OidcRoleInputs {
    const o = config.oidc;
    return {
        roleName: o.defaultRole,
        roleType: "oidc",
        userClaim: USER_CLAIM,
        groupsClaim: o.groupsClaim,
        boundAudiences: [o.clientId],
        // Vault always requests openid itself; the role lists only the scopes beyond it.
        oidcScopes: o.scopes.filter((s) => s !== "openid"),
        allowedRedirectUris: oidcRedirectUris(config),
        // Everything beyond `default` comes from the external groups (SSO group -> policies).
        tokenPolicies: ["default"],
        tokenTtl: durationSeconds(o.tokenTtl),
        tokenMaxTtl: durationSeconds(o.tokenMaxTtl),
    };
}

/** The auth mount's tune: shown on the UI's login page, token TTLs from config. */
export function oidcTune(config: OidcSlice) {
    return {
        listingVisibility: "unauth",
        defaultLeaseTtl: config.oidc.tokenTtl,
        maxLeaseTtl: config.oidc.tokenMaxTtl,
        tokenType: "default-service",
    };
}

/**
 * One entry of Authelia's `identity_providers.oidc.clients`, matching the
 * Vault side, without its `client_secret` (so it is no secret: the stack
 * output `autheliaOidcClient`, and the offline plan shows it).
 * `AutheliaClientConfig` adds the secret's digest.
 */
export interface AutheliaClient {
    readonly client_id: string;
    readonly client_name: string;
    readonly public: false;
    readonly authorization_policy: "two_factor";
    readonly redirect_uris: string[];
    readonly scopes: string[];
    readonly grant_types: ["authorization_code"];
    readonly response_types: ["code"];
    readonly response_modes: ["query"];
    readonly token_endpoint_auth_method: "client_secret_basic";
}

export function autheliaClient(config: OidcSlice): AutheliaClient {
    return {
        client_id: config.oidc.clientId,
        client_name: `Vault (${config.cluster.name})`,
        public: false,
        authorization_policy: "two_factor",
        redirect_uris: oidcRedirectUris(config),
        scopes: [...config.oidc.scopes],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        // Vault's oidc_response_mode default.
        response_modes: ["query"],
        token_endpoint_auth_method: "client_secret_basic",
    };
}

/**
 * The whole client entry: `client_secret` is the digest of the client secret
 * in the form Authelia's `client_secret` accepts (`$pbkdf2-sha512$...`), so
 * the operator pastes the entry into Authelia's configuration as it is. Only
 * ever handed out as a secret Output (the stack output autheliaOidcClientConfig).
 */
export type AutheliaClientConfig = AutheliaClient & { readonly client_secret: string };

export function autheliaClientConfig(config: OidcSlice, clientSecret: string): AutheliaClientConfig {
    return { ...autheliaClient(config), client_secret: autheliaSecretDigest(clientSecret) };
}
