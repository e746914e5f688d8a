/**
 * JWT/OIDC auth: the auth method with its config and tune
 * (vault_jwt_auth_backend) and its roles (vault_jwt_auth_backend_role).
 */
import { ArgSpecs } from "../arguments";
import { Body, Vault } from "../connection";
import { isObject, PropertyMap, Value } from "../properties";
import {
    apiPath,
    arg,
    bodyOf,
    dataOf,
    emptyFor,
    intField,
    listField,
    LiveState,
    ResourceKind,
    roleApiPath,
    roleId,
    parseRoleId,
    stringField,
} from "./kind";
import { enableAuth, readAuthMount, tuneAuthDescription } from "./sys";

/** The `tune` block the program sets (the provider's has more fields; those are refused). */
const tuneArgs: ArgSpecs = {
    listingVisibility: { kind: "string" },
    defaultLeaseTtl: { kind: "duration" },
    maxLeaseTtl: { kind: "duration" },
    tokenType: { kind: "string" },
};

const TUNE_FIELDS = {
    listingVisibility: "listing_visibility",
    defaultLeaseTtl: "default_lease_ttl",
    maxLeaseTtl: "max_lease_ttl",
    tokenType: "token_type",
};

const CONFIG_FIELDS = {
    oidcDiscoveryUrl: "oidc_discovery_url",
    oidcDiscoveryCaPem: "oidc_discovery_ca_pem",
    oidcClientId: "oidc_client_id",
    oidcClientSecret: "oidc_client_secret",
    defaultRole: "default_role",
};

const backendArgs: ArgSpecs = {
    path: { kind: "string", replaces: true, default: "jwt" },
    type: { kind: "string", replaces: true, default: "jwt" },
    description: { kind: "string" },
    oidcDiscoveryUrl: { kind: "string" },
    oidcDiscoveryCaPem: { kind: "string" },
    oidcClientId: { kind: "string" },
    /** Vault never returns it. */
    oidcClientSecret: { kind: "string", secret: true, writeOnly: true },
    defaultRole: { kind: "string" },
    tune: { kind: "object", fields: tuneArgs },
};

/** The config endpoint replaces the whole config on each write: every argument is sent. */
async function writeConfig(vault: Vault, path: string, args: PropertyMap): Promise<void> {
    await vault.call("POST", `auth/${apiPath(path)}/config`, bodyOf(CONFIG_FIELDS, args));
}

async function writeTune(vault: Vault, path: string, tune: Value | undefined): Promise<void> {
    if (!isObject(tune)) return;
    await vault.call("POST", `sys/auth/${apiPath(path)}/tune`, bodyOf(TUNE_FIELDS, tune));
}

/** Vault answers a TTL in seconds (0: the system default); the program's form is a duration string. */
function ttlOf(body: Body, field: string): string {
    return `${intField(body, field)}s`;
}

export const authBackend: ResourceKind = {
    token: "vault:jwt/authBackend:AuthBackend",
    args: backendArgs,
    computed: ["accessor"],
    identity: (args) => arg(args, "path"),
    async create(vault, args) {
        const path = arg(args, "path");
        await enableAuth(vault, path, args);
        try {
            await writeConfig(vault, path, args);
            await writeTune(vault, path, args.tune);
        } catch (err) {
            // Half an auth method is worse than none: a retry would find the path taken.
            await vault.call("DELETE", `sys/auth/${apiPath(path)}`).catch(() => undefined);
            throw err;
        }
        return path;
    },
    async read(vault, id): Promise<LiveState | undefined> {
        const auth = await readAuthMount(vault, id);
        if (auth === undefined) return undefined;
        // A method whose config was never written answers 404: every config field is then empty.
        const config = dataOf((await vault.read(`auth/${apiPath(id)}/config`)) ?? {});
        const tune = dataOf(await vault.call("GET", `sys/auth/${apiPath(id)}/tune`));
        return {
            args: {
                ...auth.args,
                oidcDiscoveryUrl: stringField(config, "oidc_discovery_url"),
                oidcDiscoveryCaPem: stringField(config, "oidc_discovery_ca_pem"),
                oidcClientId: stringField(config, "oidc_client_id"),
                defaultRole: stringField(config, "default_role"),
                tune: {
                    listingVisibility: stringField(tune, "listing_visibility"),
                    defaultLeaseTtl: ttlOf(tune, "default_lease_ttl"),
                    maxLeaseTtl: ttlOf(tune, "max_lease_ttl"),
                    tokenType: stringField(tune, "token_type"),
                },
            },
            computed: { accessor: auth.accessor },
        };
    },
    async update(vault, id, olds, news) {
        await tuneAuthDescription(vault, id, olds, news);
        await writeConfig(vault, id, news);
        // Like the provider's tune (Optional+Computed), removing the block leaves Vault's tune as it is.
        await writeTune(vault, id, news.tune);
    },
    async delete(vault, id) {
        await vault.call("DELETE", `sys/auth/${apiPath(id)}`);
    },
};

const roleArgs: ArgSpecs = {
    backend: { kind: "string", replaces: true, default: "jwt" },
    roleName: { kind: "string", required: true, replaces: true },
    roleType: { kind: "string" },
    userClaim: { kind: "string", required: true },
    groupsClaim: { kind: "string" },
    boundAudiences: { kind: "set" },
    oidcScopes: { kind: "set" },
    allowedRedirectUris: { kind: "set" },
    tokenPolicies: { kind: "set" },
    tokenTtl: { kind: "int" },
    tokenMaxTtl: { kind: "int" },
};

const ROLE_FIELDS = {
    roleType: "role_type",
    userClaim: "user_claim",
    groupsClaim: "groups_claim",
    boundAudiences: "bound_audiences",
    oidcScopes: "oidc_scopes",
    allowedRedirectUris: "allowed_redirect_uris",
    tokenPolicies: "token_policies",
    tokenTtl: "token_ttl",
    tokenMaxTtl: "token_max_ttl",
};

export const authBackendRole: ResourceKind = {
    token: "vault:jwt/authBackendRole:AuthBackendRole",
    args: roleArgs,
    computed: [],
    identity: roleId,
    async create(vault, args) {
        const id = roleId(args);
        await vault.call("POST", roleApiPath(id), bodyOf(ROLE_FIELDS, args));
        return id;
    },
    async read(vault, id): Promise<LiveState | undefined> {
        const body = await vault.read(roleApiPath(id));
        if (body === undefined) return undefined;
        const data = dataOf(body);
        return {
            args: {
                ...parseRoleId(id),
                roleType: stringField(data, "role_type"),
                userClaim: stringField(data, "user_claim"),
                groupsClaim: stringField(data, "groups_claim"),
                boundAudiences: listField(data, "bound_audiences"),
                oidcScopes: listField(data, "oidc_scopes"),
                allowedRedirectUris: listField(data, "allowed_redirect_uris"),
                tokenPolicies: listField(data, "token_policies"),
                tokenTtl: intField(data, "token_ttl"),
                tokenMaxTtl: intField(data, "token_max_ttl"),
            },
            computed: {},
        };
    },
    async update(vault, id, olds, news) {
        await vault.call("POST", roleApiPath(id), bodyOf(ROLE_FIELDS, news, olds, emptyFor(roleArgs)));
    },
    async delete(vault, id) {
        await vault.call("DELETE", roleApiPath(id));
    },
};
