/**
 * Vault's system backend: audit devices (vault_audit), secrets engine mounts
 * (vault_mount), ACL policies (vault_policy) and auth methods
 * (vault_auth_backend). A mount or auth method is found in Vault's listing
 * (sys/mounts, sys/auth), as the real provider reads it.
 */
import { ArgSpecs } from "../arguments";
import { Body, Vault } from "../connection";
import { PropertyMap } from "../properties";
import { apiPath, arg, bodyOf, dataOf, LiveState, mapField, ResourceKind, stringField } from "./kind";

/** One entry of a listing keyed by `<path>/` (sys/mounts, sys/auth, sys/audit); undefined when absent. */
export async function listedEntry(vault: Vault, listing: string, path: string): Promise<Body | undefined> {
    const entries = dataOf(await vault.call("GET", listing));
    const entry = entries[`${path.replace(/^\/+|\/+$/g, "")}/`];
    return typeof entry === "object" && entry !== null ? (entry as Body) : undefined;
}

const auditArgs: ArgSpecs = {
    type: { kind: "string", required: true, replaces: true },
    path: { kind: "string", replaces: true, defaultFrom: "type" },
    description: { kind: "string", replaces: true },
    options: { kind: "map", replaces: true },
};

/** vault_audit: every argument is ForceNew, so there is no update. */
export const audit: ResourceKind = {
    token: "vault:index/audit:Audit",
    args: auditArgs,
    computed: [],
    identity: (args) => arg(args, "path"),
    async create(vault, args) {
        const path = arg(args, "path");
        await vault.call(
            "PUT",
            `sys/audit/${apiPath(path)}`,
            bodyOf({ type: "type", description: "description", options: "options" }, args),
        );
        return path;
    },
    async read(vault, id): Promise<LiveState | undefined> {
        const entry = await listedEntry(vault, "sys/audit", id);
        if (entry === undefined) return undefined;
        return {
            args: {
                type: stringField(entry, "type"),
                path: id,
                description: stringField(entry, "description"),
                options: mapField(entry, "options"),
            },
            computed: {},
        };
    },
    update() {
        return Promise.reject(
            new Error("vault stand-in plugin: an audit device has no in-place update (every argument replaces it)"),
        );
    },
    async delete(vault, id) {
        await vault.call("DELETE", `sys/audit/${apiPath(id)}`);
    },
};

const mountArgs: ArgSpecs = {
    path: { kind: "string", required: true, replaces: true },
    type: { kind: "string", required: true, replaces: true },
    description: { kind: "string" },
    options: { kind: "map" },
};

/** The parts of a mount or auth method a tune changes: description and options. */
function tuneBody(news: PropertyMap, olds: PropertyMap, withOptions: boolean): Body {
    const fields: Record<string, string> = withOptions
        ? { description: "description", options: "options" }
        : { description: "description" };
    return bodyOf(fields, news, olds, (key) => (key === "options" ? {} : ""));
}

/** vault_mount: a secrets engine. Description and options are tuned in place. */
export const mount: ResourceKind = {
    token: "vault:index/mount:Mount",
    args: mountArgs,
    computed: ["accessor"],
    identity: (args) => arg(args, "path"),
    async create(vault, args) {
        const path = arg(args, "path");
        await vault.call(
            "POST",
            `sys/mounts/${apiPath(path)}`,
            bodyOf({ type: "type", description: "description", options: "options" }, args),
        );
        return path;
    },
    async read(vault, id): Promise<LiveState | undefined> {
        const entry = await listedEntry(vault, "sys/mounts", id);
        if (entry === undefined) return undefined;
        return {
            args: {
                path: id,
                type: stringField(entry, "type"),
                description: stringField(entry, "description"),
                options: mapField(entry, "options"),
            },
            computed: { accessor: stringField(entry, "accessor") },
        };
    },
    async update(vault, id, olds, news) {
        await vault.call("POST", `sys/mounts/${apiPath(id)}/tune`, tuneBody(news, olds, true));
    },
    async delete(vault, id) {
        await vault.call("DELETE", `sys/mounts/${apiPath(id)}`);
    },
};

/** vault_policy: an ACL policy; its text is rewritten in place. */
export const policy: ResourceKind = {
    token: "vault:index/policy:Policy",
    args: {
        name: { kind: "string", required: true, replaces: true },
        policy: { kind: "string", required: true },
    },
    computed: [],
    identity: (args) => arg(args, "name"),
    async create(vault, args) {
        const name = arg(args, "name");
        await vault.call("PUT", `sys/policies/acl/${apiPath(name)}`, { policy: arg(args, "policy") });
        return name;
    },
    async read(vault, id): Promise<LiveState | undefined> {
        const body = await vault.read(`sys/policies/acl/${apiPath(id)}`);
        if (body === undefined) return undefined;
        return { args: { name: id, policy: stringField(dataOf(body), "policy") }, computed: {} };
    },
    async update(vault, id, _olds, news) {
        await vault.call("PUT", `sys/policies/acl/${apiPath(id)}`, { policy: arg(news, "policy") });
    },
    async delete(vault, id) {
        await vault.call("DELETE", `sys/policies/acl/${apiPath(id)}`);
    },
};

/** An auth method's entry in sys/auth, in the program's terms. */
async function readAuthMount(vault: Vault, path: string): Promise<{ args: PropertyMap; accessor: string } | undefined> {
    const entry = await listedEntry(vault, "sys/auth", path);
    if (entry === undefined) return undefined;
    return {
        args: { path, type: stringField(entry, "type"), description: stringField(entry, "description") },
        accessor: stringField(entry, "accessor"),
    };
}

/** Enables an auth method. */
async function enableAuth(vault: Vault, path: string, args: PropertyMap): Promise<void> {
    await vault.call("POST", `sys/auth/${apiPath(path)}`, bodyOf({ type: "type", description: "description" }, args));
}

/** Changes an auth method's description in place (sys/auth/<path>/tune). */
async function tuneAuthDescription(vault: Vault, path: string, olds: PropertyMap, news: PropertyMap): Promise<void> {
    if (arg(olds, "description") === arg(news, "description")) return;
    await vault.call("POST", `sys/auth/${apiPath(path)}/tune`, tuneBody(news, olds, false));
}

/** vault_auth_backend: an auth method (path defaults to the type); its description is tuned in place. */
export const authBackend: ResourceKind = {
    token: "vault:index/authBackend:AuthBackend",
    args: {
        type: { kind: "string", required: true, replaces: true },
        path: { kind: "string", replaces: true, defaultFrom: "type" },
        description: { kind: "string" },
    },
    computed: ["accessor"],
    identity: (args) => arg(args, "path"),
    async create(vault, args) {
        const path = arg(args, "path");
        await enableAuth(vault, path, args);
        return path;
    },
    async read(vault, id): Promise<LiveState | undefined> {
        const auth = await readAuthMount(vault, id);
        return auth === undefined ? undefined : { args: auth.args, computed: { accessor: auth.accessor } };
    },
    async update(vault, id, olds, news) {
        await tuneAuthDescription(vault, id, olds, news);
    },
    async delete(vault, id) {
        await vault.call("DELETE", `sys/auth/${apiPath(id)}`);
    },
};
