/**
 * Reads the stack config and runs the one pass of checks: every key's schema,
 * then the defaults resolved from other keys, then the rules between them.
 * Nothing is created before this returns.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { PlatformConfig, resolveDefaults, SecretValues } from "./resolve";
import { checkRules, requiredSecrets } from "./rules";
import {
    CONFIG_NAMESPACE,
    CONFIG_SCHEMAS,
    OBJECT_KEYS,
    ObjectKey,
    Parsed,
    REQUIRED_KEYS,
    SECRET_KEYS,
    SecretKey,
    setSecretCommand,
} from "./schema";

/** Thrown by loadConfig with one line a problem. */
export class ConfigError extends Error {
    constructor(readonly problems: readonly string[]) {
        super(
            `invalid stack config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  ${problems.join("\n  ")}`,
        );
        this.name = "ConfigError";
    }
}

/** Where loadConfig reads raw values; the default is the running stack's config. */
export interface ConfigSource {
    /** Raw string value of `secret-platform:<key>`, or undefined. */
    get(key: string): string | undefined;
    /** Whether the key was set with --secret. */
    isSecret(key: string): boolean;
    /** Every key set in this project's namespace. */
    keys(): string[];
    /**
     * Every other key set on the stack, in full (`<namespace>:<key>`, or a key
     * with no namespace at all): a misspelled namespace hides a key from the
     * program, so the loader looks for near misses among them.
     */
    foreignKeys?(): string[];
}

/** The running program's config, as the Pulumi engine handed it over. */
export function stackConfigSource(): ConfigSource {
    // isConfigSecret is not in the SDK's typings; it is what Config.get uses to warn.
    const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(k: string): boolean };
    const prefix = `${CONFIG_NAMESPACE}:`;
    return {
        get: (key) => pulumi.runtime.getConfig(prefix + key),
        isSecret: (key) => runtimeConfig.isConfigSecret(prefix + key),
        keys: () =>
            Object.keys(pulumi.runtime.allConfig())
                .filter((k) => k.startsWith(prefix))
                .map((k) => k.slice(prefix.length)),
        foreignKeys: () => Object.keys(pulumi.runtime.allConfig()).filter((k) => !k.startsWith(prefix)),
    };
}

function formatPath(segments: readonly PropertyKey[]): string {
    return segments.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? String(s) : `.${String(s)}`)).join("");
}

/** A value as the error echoes it: JSON, cut short. Only ever called for keys that hold no secret. */
export function echo(value: unknown): string {
    const text = JSON.stringify(value) ?? String(value);
    const oneLine = text.replace(/\\n/g, " ");
    return oneLine.length > 60 ? `${oneLine.slice(0, 57)}...` : oneLine;
}

/** Levenshtein distance, case-insensitive: how far a misspelling is from a known name. */
function distance(a: string, b: string): number {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    let row = Array.from({ length: y.length + 1 }, (_, j) => j);
    for (let i = 1; i <= x.length; i++) {
        const next = [i];
        for (let j = 1; j <= y.length; j++) {
            next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
        }
        row = next;
    }
    return row[y.length];
}

/** The known name closest to `name`, when it is a plausible misspelling of it. */
export function nearest(name: string, known: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const candidate of known) {
        const d = distance(name, candidate);
        if (d < bestDistance) [best, bestDistance] = [candidate, d];
    }
    const allowed = Math.max(2, Math.floor((best?.length ?? 0) / 3));
    return best !== undefined && bestDistance <= allowed ? best : undefined;
}

/** ", did you mean 'x'?" for a near miss, else "". */
function didYouMean(name: string, known: readonly string[], quote = "'"): string {
    const hit = nearest(name, known);
    return hit === undefined ? "" : ` (did you mean ${quote}${hit}${quote}?)`;
}

/** The field names of the object schema at `path` under `schema` (optional, default and array wrappers seen through). */
function fieldsAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
    let node: unknown = schema;
    const unwrap = (n: unknown): unknown => {
        for (;;) {
            const def = (n as { _zod?: { def?: { innerType?: unknown; in?: unknown } } })._zod?.def;
            if (def?.innerType !== undefined) n = def.innerType;
            else if (def?.in !== undefined) n = def.in;
            else return n;
        }
    };
    for (const segment of path) {
        node = unwrap(node);
        if (node instanceof z.ZodObject) node = (node.shape as Record<string, unknown>)[String(segment)];
        else if (node instanceof z.ZodArray) node = node.element;
        else if (node instanceof z.ZodRecord) node = node.valueType;
        else return [];
    }
    node = unwrap(node);
    return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}

function describeIssue(issue: z.core.$ZodIssue, schema: z.ZodType): string {
    // What the user wrote, when the issue carries it (reportInput): the object keys hold no secret.
    const got = "input" in issue && issue.input !== undefined ? ` (got ${echo(issue.input)})` : "";
    switch (issue.code) {
        case "invalid_type":
            return issue.input === undefined ? "is required" : `must be ${article(issue.expected)}${got}`;
        case "unrecognized_keys": {
            const fields = fieldsAt(schema, issue.path);
            const named = issue.keys.map((k) => `'${k}'${didYouMean(k, fields)}`);
            return `unknown key${issue.keys.length > 1 ? "s" : ""} ${named.join(", ")}`;
        }
        case "invalid_value":
            return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}${got}`;
        case "too_small":
            return (
                (issue.origin === "array" || issue.origin === "string"
                    ? issue.message.startsWith("must")
                        ? issue.message
                        : `must have at least ${String(issue.minimum)} ${issue.origin === "array" ? "item(s)" : "character(s)"}`
                    : `must be at least ${String(issue.minimum)}`) + got
            );
        case "too_big":
            return `must be at most ${String(issue.maximum)}${got}`;
        case "invalid_key":
            // A record key that fails its own schema (e.g. a label key): that schema's message.
            return issue.issues[0]?.message ?? issue.message;
        default:
            return `${issue.message}${got}`;
    }
}

function article(type: string): string {
    const names: Record<string, string> = {
        string: "a string",
        number: "a number",
        int: "an integer",
        boolean: "true or false",
        object: "an object",
        array: "a list",
        record: "an object",
    };
    return names[type] ?? type;
}

function parseJsonValue(raw: string): unknown {
    try {
        return JSON.parse(raw);
    } catch {
        return raw; // a plain string value: the schema reports the type
    }
}

/** Whether the stack's own values (before defaults) hold the dotted path. */
function isGiven(values: Record<string, unknown>, path: string): boolean {
    let value: unknown = values;
    for (const segment of path.split(".")) {
        if (typeof value !== "object" || value === null || !Object.hasOwn(value, segment)) return false;
        value = (value as Record<string, unknown>)[segment];
    }
    return value !== undefined;
}

/** Whether a secret key is set: "" and {} are the project's declared defaults (Pulumi.yaml) and mean unset. */
function secretIsSet(source: ConfigSource, key: SecretKey): boolean {
    return !["", "{}", undefined].includes(source.get(key));
}

/**
 * Reads the whole stack config, validates every key, resolves the defaults
 * that depend on other keys, checks the rules between them, and returns the
 * typed config. Throws one ConfigError that lists every problem.
 */
export function loadConfig(source: ConfigSource = stackConfigSource()): PlatformConfig {
    const problems: string[] = [];
    const fail = (key: string, message: string) => problems.push(`${CONFIG_NAMESPACE}:${key}: ${message}`);

    const known = [...OBJECT_KEYS, ...Object.keys(SECRET_KEYS)].sort();
    for (const key of source.keys()) {
        if (known.includes(key)) continue;
        const hint = nearest(key, known);
        fail(
            key,
            hint === undefined
                ? `unknown key (known keys: ${known.join(", ")})`
                : `unknown key (did you mean '${hint}'?)`,
        );
    }
    problems.push(...namespaceProblems(source.foreignKeys?.() ?? [], known));

    const parsed: Partial<Parsed> = {};
    const given: Record<string, unknown> = {};
    /** Keys that did not parse: the rules that read them (or a default derived from them) do not run. */
    const broken = new Set<ObjectKey>();
    for (const key of OBJECT_KEYS) {
        const raw = source.get(key);
        if (raw === undefined && REQUIRED_KEYS.includes(key)) {
            fail(key, "is required (see docs/configuration.md)");
            broken.add(key);
            continue;
        }
        given[key] = raw === undefined ? undefined : parseJsonValue(raw);
        const result = CONFIG_SCHEMAS[key].safeParse(given[key], { reportInput: true });
        if (result.success) {
            (parsed as Record<string, unknown>)[key] = result.data;
        } else {
            broken.add(key);
            for (const issue of result.error.issues) {
                fail(formatPath([key, ...issue.path]), describeIssue(issue, CONFIG_SCHEMAS[key]));
            }
        }
    }

    // Secret keys: present only with --secret; the value never leaves an Output, nor an error message.
    const isSet = (key: SecretKey) => secretIsSet(source, key);
    const values: Record<string, unknown> = {};
    for (const key of Object.keys(SECRET_KEYS) as SecretKey[]) {
        if (!isSet(key)) continue;
        if (!source.isSecret(key))
            fail(key, `must be set as a secret, not written in plain text: ${setSecretCommand(key)}`);
        values[key] = source.get(key);
    }
    let reviewerJwtNames: string[] | undefined;
    if (isSet("remoteClusterReviewerJwts")) {
        const value = parseJsonValue(source.get("remoteClusterReviewerJwts") ?? "");
        const shape = z.record(z.string(), z.string().min(1)).safeParse(value);
        if (shape.success) {
            reviewerJwtNames = Object.keys(shape.data);
            values.remoteClusterReviewerJwts = shape.data;
        } else {
            fail("remoteClusterReviewerJwts", "must be an object of remote cluster name to JWT string");
        }
    }

    // The rules read resolved values. A key that did not parse gets a stand-in, and every rule that reads
    // it, or a default derived from it, is skipped: one run reports the rules of the keys that parsed too.
    const withStandIns = { ...standIns(broken), ...parsed } as Parsed;
    const resolved = resolveDefaults(withStandIns, values as SecretValues);
    checkRules(resolved, { isSet, reviewerJwtNames, given: (path) => isGiven(given, path) }, fail, taintedBy(broken));
    if (problems.length > 0) throw new ConfigError(problems);

    // The rules have checked every guarantee PlatformConfig's per-mode unions state.
    return resolved as PlatformConfig;
}

/** The keys resolve.ts derives defaults of from each key. */
const DERIVED_FROM: Readonly<Partial<Record<ObjectKey, readonly ObjectKey[]>>> = {
    cluster: ["exposure", "vault", "kubernetesAuth", "externalSecrets"],
    storage: ["unseal"],
    exposure: ["vault"],
};

/** The broken keys and every key whose resolved value derives from one of them. */
function taintedBy(broken: ReadonlySet<ObjectKey>): Set<string> {
    const out = new Set<string>(broken);
    let grew = true;
    while (grew) {
        grew = false;
        for (const [from, derived] of Object.entries(DERIVED_FROM)) {
            if (!out.has(from)) continue;
            for (const key of derived ?? []) {
                if (!out.has(key)) [grew] = [true, out.add(key)];
            }
        }
    }
    return out;
}

/** Values of the right shape for keys that did not parse; no rule reads them (they are tainted). */
function standIns(broken: ReadonlySet<ObjectKey>): Partial<Parsed> {
    const out: Record<string, unknown> = {};
    for (const key of broken) {
        if (key === "cluster") out.cluster = { name: "invalid.invalid", domain: "invalid.invalid" };
        else if (key === "storage") {
            out.storage = CONFIG_SCHEMAS.storage.parse({
                mode: "s3-compatible",
                bucket: "stand-in",
                region: "stand-in",
                endpoint: "https://stand-in.invalid",
            });
        } else out[key] = CONFIG_SCHEMAS[key].parse(undefined);
    }
    return out as Partial<Parsed>;
}

/** The namespaces of the providers a stack file may legitimately configure. */
const OTHER_NAMESPACES = ["aws", "kubernetes", "vault", "random", "pulumi"];

/**
 * Keys outside the project's namespace that look like its own: a key with no
 * namespace, a near miss of the namespace, or a foreign namespace on one of
 * the project's key names. The program never reads them, so they would be
 * dropped without a word.
 */
function namespaceProblems(foreign: readonly string[], known: readonly string[]): string[] {
    const problems: string[] = [];
    for (const full of foreign) {
        const at = full.indexOf(":");
        if (at < 0) {
            const name = known.includes(full) ? full : (nearest(full, known) ?? full);
            problems.push(
                `${full}: has no namespace, and Pulumi reads stack keys only as <namespace>:<key>: write ${CONFIG_NAMESPACE}:${name}`,
            );
            continue;
        }
        const namespace = full.slice(0, at);
        const key = full.slice(at + 1);
        const nearNamespace =
            !OTHER_NAMESPACES.includes(namespace) && nearest(namespace, [CONFIG_NAMESPACE]) !== undefined;
        const ownKey = known.includes(key) && !OTHER_NAMESPACES.includes(namespace);
        if (!nearNamespace && !ownKey) continue;
        const name = known.includes(key) ? key : (nearest(key, known) ?? key);
        problems.push(
            `${full}: namespace '${namespace}' is not this project's, so the program never reads this key (did you mean ${CONFIG_NAMESPACE}:${name}?)`,
        );
    }
    return problems;
}

/** What a stack's non-secret config asks of the secret keys. */
export interface SecretNeeds {
    /** The keys it requires, each with the reason. */
    readonly required: readonly (readonly [SecretKey, string])[];
    /** The keys the program generates when they are unset (oidcClientSecret with OIDC on). */
    readonly generated: readonly SecretKey[];
}

/**
 * The secret keys a stack's non-secret config requires (and those the
 * program generates when unset), for tools that fill placeholders or report
 * on a stack file (the offline plan, tests). An optional key that does not
 * parse counts as its defaults; empty when the cluster or storage does not
 * parse. loadConfig reports those.
 */
export function secretNeeds(source: ConfigSource): SecretNeeds {
    const parsed: Record<string, unknown> = {};
    for (const key of OBJECT_KEYS) {
        const raw = source.get(key);
        const result = CONFIG_SCHEMAS[key].safeParse(raw === undefined ? undefined : parseJsonValue(raw));
        if (result.success) parsed[key] = result.data;
        // An optional key that does not parse counts as its defaults here (loadConfig reports it);
        // without the cluster or the storage nothing can be said.
        else if (REQUIRED_KEYS.includes(key)) return { required: [], generated: [] };
        else parsed[key] = CONFIG_SCHEMAS[key].parse(undefined);
    }
    const resolved = resolveDefaults(parsed as Parsed);
    return { required: requiredSecrets(resolved), generated: resolved.oidc.enabled ? ["oidcClientSecret"] : [] };
}

/** The secret keys a stack's non-secret config requires (secretNeeds' required keys). */
export function requiredSecretKeys(source: ConfigSource): SecretKey[] {
    return secretNeeds(source).required.map(([key]) => key);
}
