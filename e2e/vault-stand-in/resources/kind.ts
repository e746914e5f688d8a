/**
 * One kind of Vault object the stand-in manages (a Pulumi resource type):
 * its arguments, what names it in Vault, and its create/read/update/delete
 * against Vault's HTTP API. Every `args` a kind receives is plain (secrets
 * revealed, defaults filled in by Check); the server keeps secrets secret.
 * Also the typed reads of Vault's JSON answers the kinds share.
 */
import { ArgKind, ArgSpecs } from "../arguments";
import { Body, Vault } from "../connection";
import { isSet, PropertyMap, Value } from "../properties";

/** An object as Vault has it now. */
export interface LiveState {
    /** Every argument Vault returns, in the program's terms (write-only ones left out). */
    readonly args: PropertyMap;
    /** Outputs Vault computes (e.g. an accessor). */
    readonly computed: PropertyMap;
}

export interface ResourceKind {
    /** The Pulumi type token, e.g. vault:index/mount:Mount. */
    readonly token: string;
    readonly args: ArgSpecs;
    /** Outputs Vault computes: unknown in a preview of a create. */
    readonly computed: readonly string[];
    /**
     * What names the object in Vault. A replace that keeps it (only a
     * ForceNew argument such as a mount's type changed) must delete first.
     */
    identity(args: PropertyMap): string;
    /** Creates the object; resolves with its ID as the real provider forms it. */
    create(vault: Vault, args: PropertyMap): Promise<string>;
    /** The object behind `id`, or undefined when it is gone. */
    read(vault: Vault, id: string): Promise<LiveState | undefined>;
    /** Applies in-place changes (never called for a replace). */
    update(vault: Vault, id: string, olds: PropertyMap, news: PropertyMap): Promise<void>;
    delete(vault: Vault, id: string, args: PropertyMap): Promise<void>;
}

function fail(field: string, expected: string): never {
    throw new Error(`vault stand-in plugin: Vault's answer: field "${field}" is not ${expected}`);
}

/** The `data` object of an answer (most Vault reads wrap their fields in it). */
export function dataOf(body: Body): Body {
    const data = body.data;
    return typeof data === "object" && data !== null && !Array.isArray(data) ? (data as Body) : body;
}

export function stringField(body: Body, field: string): string {
    const value = body[field];
    if (value === undefined || value === null) return "";
    return typeof value === "string" ? value : fail(field, "a string");
}

export function boolField(body: Body, field: string): boolean {
    const value = body[field];
    if (value === undefined || value === null) return false;
    return typeof value === "boolean" ? value : fail(field, "a boolean");
}

export function intField(body: Body, field: string): number {
    const value = body[field];
    if (value === undefined || value === null) return 0;
    return typeof value === "number" ? value : fail(field, "a number");
}

export function listField(body: Body, field: string): string[] {
    const value = body[field];
    if (value === undefined || value === null) return [];
    // Vault answers a comma-separated string for some list fields of older roles.
    if (typeof value === "string") return value === "" ? [] : value.split(",");
    if (!Array.isArray(value) || !value.every((item) => typeof item === "string"))
        return fail(field, "a list of strings");
    return value;
}

export function mapField(body: Body, field: string): Record<string, string> {
    const value = body[field];
    if (value === undefined || value === null) return {};
    if (typeof value !== "object" || Array.isArray(value)) return fail(field, "a map");
    const out: Record<string, string> = {};
    for (const [key, item] of Object.entries(value as Body)) {
        out[key] = typeof item === "string" ? item : fail(`${field}.${key}`, "a string");
    }
    return out;
}

/** A string argument (Check made sure of its kind). */
export function arg(args: PropertyMap, key: string): string {
    const value = args[key];
    return typeof value === "string" ? value : "";
}

/** A mount or backend path as the API wants it: no leading or trailing slash, each segment URL-encoded. */
export function apiPath(value: string): string {
    return value
        .replace(/^\/+|\/+$/g, "")
        .split("/")
        .map((segment) => encodeURIComponent(segment))
        .join("/");
}

/**
 * A request body from arguments: `fields` maps each argument to Vault's
 * field. An argument absent from `news` but present in `olds` was removed:
 * Vault gets its empty value (these endpoints keep a field not sent).
 */
export function bodyOf(
    fields: Readonly<Record<string, string>>,
    news: PropertyMap,
    olds: PropertyMap = {},
    emptyOf: (key: string) => Value = () => "",
): Body {
    const body: Body = {};
    for (const [key, field] of Object.entries(fields)) {
        if (isSet(news[key])) body[field] = news[key];
        else if (isSet(olds[key])) body[field] = emptyOf(key);
    }
    return body;
}

/** The empty value of each argument kind, for bodyOf. */
export function emptyFor(specs: ArgSpecs): (key: string) => Value {
    return (key) => {
        switch (specs[key]?.kind) {
            case "bool":
                return false;
            case "int":
                return 0;
            case "list":
            case "set":
                return [];
            case "map":
            case "object":
                return {};
            default:
                return "";
        }
    };
}

/** `auth/<backend>/role/<name>`: the ID the provider gives a role, and its API path. */
export function roleId(args: PropertyMap): string {
    return `auth/${arg(args, "backend").replace(/^\/+|\/+$/g, "")}/role/${arg(args, "roleName")}`;
}

/** backend and role name from a role ID. */
export function parseRoleId(id: string): { backend: string; roleName: string } {
    const match = /^auth\/(.+)\/role\/([^/]+)$/.exec(id);
    if (match === null) throw new Error(`vault stand-in plugin: ${id} is not a role ID (auth/<backend>/role/<name>)`);
    return { backend: match[1], roleName: match[2] };
}

export function roleApiPath(id: string): string {
    const { backend, roleName } = parseRoleId(id);
    return `auth/${apiPath(backend)}/role/${encodeURIComponent(roleName)}`;
}

/** A program's argument name (camelCase) as Vault's field (snake_case). */
function snakeCase(key: string): string {
    return key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** For bodyOf and readFields: each argument of `specs` (but those in `except`) to its snake_case field. */
export function fieldsOf(specs: ArgSpecs, except: readonly string[] = []): Record<string, string> {
    return Object.fromEntries(
        Object.keys(specs)
            .filter((key) => !except.includes(key))
            .map((key) => [key, snakeCase(key)]),
    );
}

function fieldValue(body: Body, field: string, kind: ArgKind): Value {
    switch (kind) {
        case "string":
            return stringField(body, field);
        case "bool":
            return boolField(body, field);
        case "int":
            return intField(body, field);
        // Vault answers a TTL in seconds (0: the system default); the program's form is a duration string.
        case "duration":
            return `${intField(body, field)}s`;
        case "list":
        case "set":
            return listField(body, field);
        case "map":
            return mapField(body, field);
        default:
            throw new Error(`vault stand-in plugin: no read of an argument of kind ${kind} (field "${field}")`);
    }
}

/** The arguments `fields` maps, read from Vault's answer as their kind in `specs` says (write-only ones left out). */
export function readFields(body: Body, specs: ArgSpecs, fields: Readonly<Record<string, string>>): PropertyMap {
    const args: PropertyMap = {};
    for (const [key, field] of Object.entries(fields)) {
        const spec = specs[key];
        if (spec.writeOnly === true) continue;
        args[key] = fieldValue(body, field, spec.kind);
    }
    return args;
}

/** The object at `path` (its fields in the answer's `data`, read by readFields), or undefined when it is gone. */
export async function readObject(
    vault: Vault,
    path: string,
    specs: ArgSpecs,
    fields: Readonly<Record<string, string>>,
): Promise<LiveState | undefined> {
    const body = await vault.read(path);
    if (body === undefined) return undefined;
    return { args: readFields(dataOf(body), specs, fields), computed: {} };
}

/**
 * An auth method's role, named `auth/<backend>/role/<name>` by its backend and
 * roleName arguments; every other argument of `specs` is its snake_case field.
 */
export function roleKind(token: string, specs: ArgSpecs): ResourceKind {
    const fields = fieldsOf(specs, ["backend", "roleName"]);
    return {
        token,
        args: specs,
        computed: [],
        identity: roleId,
        async create(vault, args) {
            const id = roleId(args);
            await vault.call("POST", roleApiPath(id), bodyOf(fields, args));
            return id;
        },
        async read(vault, id) {
            const live = await readObject(vault, roleApiPath(id), specs, fields);
            return live === undefined ? undefined : { args: { ...parseRoleId(id), ...live.args }, computed: {} };
        },
        async update(vault, id, olds, news) {
            await vault.call("POST", roleApiPath(id), bodyOf(fields, news, olds, emptyFor(specs)));
        },
        async delete(vault, id) {
            await vault.call("DELETE", roleApiPath(id));
        },
    };
}
