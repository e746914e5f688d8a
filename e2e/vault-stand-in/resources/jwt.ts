/**
 * JWT/OIDC auth: the auth method with its config and tune
 * (vault_jwt_auth_backend) and its roles (vault_jwt_auth_backend_role).
 */
import { ArgSpecs } from "../arguments";
import { Vault } from "../connection";
import { isObject, PropertyMap, Value } from "../properties";
import { apiPath, bodyOf, dataOf, fieldsOf, LiveState, readFields, ResourceKind, roleKind } from "./kind";
import * as sys from "./sys";

/** The `tune` block the program sets (the provider's has more fields; those are refused). */
const tuneArgs: ArgSpecs = {
    listingVisibility: { kind: "string" },
    defaultLeaseTtl: { kind: "duration" },
    maxLeaseTtl: { kind: "duration" },
    tokenType: { kind: "string" },
};

const TUNE_FIELDS = fieldsOf(tuneArgs);

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

/** What the config endpoint holds: every argument but the auth method's own and its tune. */
const CONFIG_FIELDS = fieldsOf(backendArgs, ["path", "type", "description", "tune"]);

/** The config endpoint replaces the whole config on each write: every argument is sent. */
async function writeConfig(vault: Vault, path: string, args: PropertyMap): Promise<void> {
    await vault.call("POST", `auth/${apiPath(path)}/config`, bodyOf(CONFIG_FIELDS, args));
}

async function writeTune(vault: Vault, path: string, tune: Value | undefined): Promise<void> {
    if (!isObject(tune)) return;
    await vault.call("POST", `sys/auth/${apiPath(path)}/tune`, bodyOf(TUNE_FIELDS, tune));
}

/** An auth method (as vault_auth_backend) with its config and tune. */
export const authBackend: ResourceKind = {
    ...sys.authBackend,
    token: "vault:jwt/authBackend:AuthBackend",
    args: backendArgs,
    async create(vault, args) {
        const path = await sys.authBackend.create(vault, args);
        try {
            await writeConfig(vault, path, args);
            await writeTune(vault, path, args.tune);
        } catch (err) {
            // Half an auth method is worse than none: a retry would find the path taken.
            await sys.authBackend.delete(vault, path, args).catch(() => undefined);
            throw err;
        }
        return path;
    },
    async read(vault, id): Promise<LiveState | undefined> {
        const auth = await sys.authBackend.read(vault, id);
        if (auth === undefined) return undefined;
        // A method whose config was never written answers 404: every config field is then empty.
        const config = dataOf((await vault.read(`auth/${apiPath(id)}/config`)) ?? {});
        const tune = dataOf(await vault.call("GET", `sys/auth/${apiPath(id)}/tune`));
        return {
            args: {
                ...auth.args,
                ...readFields(config, backendArgs, CONFIG_FIELDS),
                tune: readFields(tune, tuneArgs, TUNE_FIELDS),
            },
            computed: auth.computed,
        };
    },
    async update(vault, id, olds, news) {
        await sys.authBackend.update(vault, id, olds, news);
        await writeConfig(vault, id, news);
        // Like the provider's tune (Optional+Computed), removing the block leaves Vault's tune as it is.
        await writeTune(vault, id, news.tune);
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

export const authBackendRole = roleKind("vault:jwt/authBackendRole:AuthBackendRole", roleArgs);
