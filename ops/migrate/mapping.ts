/**
 * Maps a decrypted SOPS file to one KV v2 secret following the project's path
 * convention {cluster}/{app}/{category}/{secret} (mount = the cluster, e.g.
 * amiya.akn; path inside it = app/category/secret).
 *
 * Default mapping, when no rule of the mapping file matches:
 * - a Kubernetes Secret manifest (apiVersion v1, kind Secret, the usual shape
 *   of ArgoCD-synced SOPS files): app = metadata.namespace, secret =
 *   metadata.name, keys = stringData plus base64-decoded data;
 * - any other document: app = the nearest directory that is not named
 *   secret(s), secret = the file name without .sops/.enc/.secret(s) and the
 *   format extension, keys = the top-level keys (nested maps flattened with
 *   dots, other non-strings as their JSON text);
 * - category = the mapping file's `category`, default "default".
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import { parse } from "yaml";
import { z } from "zod";

export const DEFAULT_CATEGORY = "default";

const segment = z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, "must be one path segment of letters, digits, '.', '_' or '-'")
    .refine((s) => s !== "." && s !== "..", "must not be '.' or '..'");

const ruleSchema = z
    .object({
        /** Glob on the file path relative to the repository the migration runs in (`*`, `**`, `?`). */
        match: z.string().min(1),
        /** Overrides of the derived path parts. */
        app: segment.optional(),
        category: segment.optional(),
        secret: segment.optional(),
        /** KV v2 mount for these files (e.g. a shared mount). */
        mount: segment.optional(),
        /** Owner recorded in custom metadata. */
        owner: z.string().min(1).max(256).optional(),
        /** Keep only these keys, renamed: source key -> KV key. */
        keys: z.record(z.string().min(1), z.string().min(1)).optional(),
    })
    .strict();

export const mappingSchema = z
    .object({
        /** Default KV v2 mount (the cluster mount). */
        mount: segment.optional(),
        /** Default owner. */
        owner: z.string().min(1).max(256).optional(),
        /** Default category. */
        category: segment.default(DEFAULT_CATEGORY),
        /** First matching rule wins. */
        rules: z.array(ruleSchema).default([]),
    })
    .strict();

export type Mapping = z.infer<typeof mappingSchema>;
export type MappingRule = z.infer<typeof ruleSchema>;

/** Parses a mapping file's text; the error lists every problem with its key. */
export function parseMapping(text: string, source: string): Mapping {
    let doc: unknown;
    try {
        doc = parse(text) ?? {};
    } catch (err) {
        throw new Error(`${source}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
    }
    const result = mappingSchema.safeParse(doc);
    if (!result.success) {
        const problems = result.error.issues.map(
            (i) => `${source}: ${i.path.length > 0 ? i.path.join(".") : "(root)"}: ${i.message}`,
        );
        throw new Error(problems.join("\n"));
    }
    return result.data;
}

/** Glob to RegExp: `**` crosses directories, `*` and `?` do not. */
export function globToRegExp(glob: string): RegExp {
    let re = "";
    for (let i = 0; i < glob.length; i++) {
        const c = glob[i];
        if (c === "*" && glob[i + 1] === "*") {
            // `**/` also matches no directory at all.
            if (glob[i + 2] === "/") {
                re += "(?:.*/)?";
                i += 2;
            } else {
                re += ".*";
                i += 1;
            }
        } else if (c === "*") re += "[^/]*";
        else if (c === "?") re += "[^/]";
        else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
    return new RegExp(`^${re}$`);
}

/** The git blob id of the encrypted file: `git log --find-object=<id>` finds the commit it came from. */
export function gitBlobId(content: Buffer): string {
    return createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}

/** One KV v2 secret the migration wants to exist. */
export interface SecretTarget {
    /** The file as given, relative to the working directory (posix separators). */
    readonly file: string;
    readonly mount: string;
    /** app/category/secret inside the mount. */
    readonly path: string;
    readonly owner?: string;
    /** Key -> value; values stay in memory only. */
    readonly data: Readonly<Record<string, string>>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Flattens a decrypted document to string values (nested maps joined with dots). */
export function flatten(doc: Record<string, unknown>, file: string): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (obj: Record<string, unknown>, prefix: string): void => {
        for (const [k, v] of Object.entries(obj)) {
            const key = prefix === "" ? k : `${prefix}.${k}`;
            if (isRecord(v) && Object.keys(v).length > 0) walk(v, key);
            else {
                const value = typeof v === "string" ? v : v === null ? "" : JSON.stringify(v);
                if (key in out) throw new Error(`${file}: key ${key} appears twice after flattening nested maps`);
                out[key] = value;
            }
        }
    };
    walk(doc, "");
    return out;
}

interface K8sSecret {
    readonly namespace?: string;
    readonly name?: string;
    readonly data: Record<string, string>;
}

/** A v1 Secret manifest's keys (stringData wins over data, as in the API server). */
function k8sSecret(doc: Record<string, unknown>, file: string): K8sSecret | undefined {
    if (doc.apiVersion !== "v1" || doc.kind !== "Secret") return undefined;
    const meta = isRecord(doc.metadata) ? doc.metadata : {};
    const data: Record<string, string> = {};
    if (isRecord(doc.data)) {
        for (const [k, v] of Object.entries(doc.data)) {
            if (typeof v !== "string") throw new Error(`${file}: data.${k} is not a base64 string`);
            try {
                data[k] = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(v, "base64"));
            } catch {
                throw new Error(`${file}: data.${k} is binary (not UTF-8); KV v2 holds text: add it by hand`);
            }
        }
    }
    if (isRecord(doc.stringData)) {
        for (const [k, v] of Object.entries(doc.stringData)) {
            data[k] = typeof v === "string" ? v : JSON.stringify(v);
        }
    }
    return {
        namespace: typeof meta.namespace === "string" ? meta.namespace : undefined,
        name: typeof meta.name === "string" ? meta.name : undefined,
        data,
    };
}

const GENERIC_DIRS = new Set(["secret", "secrets", ".", ""]);

/** The secret name from the file name: grafana.sops.yaml -> grafana. */
export function secretNameFromFile(file: string): string {
    let base = path.posix.basename(file).replace(/^\.+/, "");
    // Strip a suffix only when a name remains (.env -> env).
    for (const suffix of [/\.(ya?ml|json|env|dotenv)$/i, /\.(sops|enc|encrypted|secrets?)$/i]) {
        const stripped = base.replace(suffix, "");
        if (stripped !== "") base = stripped;
    }
    return base;
}

/** The app from the directories: the nearest one not named secret(s). */
export function appFromFile(file: string): string | undefined {
    const dirs = path.posix.dirname(file).split("/").reverse();
    return dirs.find((d) => !GENERIC_DIRS.has(d.toLowerCase()) && d !== "..");
}

/**
 * The target of one decrypted file. `mountOverride`/`ownerOverride` are the
 * command-line --mount/--owner (they beat the mapping file, not a rule).
 */
export function mapFile(
    file: string,
    doc: unknown,
    mapping: Mapping,
    mountOverride?: string,
    ownerOverride?: string,
): SecretTarget {
    if (!isRecord(doc)) throw new Error(`${file}: the decrypted document is not a map of keys`);
    const rule = mapping.rules.find((r) => globToRegExp(r.match).test(file));
    const k8s = k8sSecret(doc, file);
    let data = k8s !== undefined ? k8s.data : flatten(doc, file);

    if (rule?.keys !== undefined) {
        const renamed: Record<string, string> = {};
        for (const [from, to] of Object.entries(rule.keys)) {
            if (!(from in data))
                throw new Error(`${file}: mapping rule '${rule.match}' names key ${from}, which the file lacks`);
            renamed[to] = data[from];
        }
        data = renamed;
    }
    if (Object.keys(data).length === 0) throw new Error(`${file}: no keys to migrate`);

    const app = rule?.app ?? k8s?.namespace ?? appFromFile(file);
    const secret = rule?.secret ?? k8s?.name ?? secretNameFromFile(file);
    const category = rule?.category ?? mapping.category;
    const mount = rule?.mount ?? mountOverride ?? mapping.mount;
    const owner = rule?.owner ?? ownerOverride ?? mapping.owner;

    const parts: [string, string | undefined][] = [
        ["app", app],
        ["category", category],
        ["secret", secret],
        ["mount", mount],
    ];
    for (const [what, value] of parts) {
        if (value === undefined || value === "") {
            const hint =
                what === "mount"
                    ? "pass --mount <cluster name> or set mount in the mapping file"
                    : `set ${what} in a mapping rule`;
            throw new Error(`${file}: cannot derive the ${what}: ${hint}`);
        }
        const ok = segment.safeParse(value);
        if (!ok.success) throw new Error(`${file}: ${what} '${value}' ${ok.error.issues[0].message}`);
    }
    return { file, mount: mount as string, path: `${app}/${category}/${secret}`, owner, data };
}
