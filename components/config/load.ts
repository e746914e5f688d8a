/**
 * Reads the stack config and runs the one pass of checks: every key's schema,
 * then the defaults resolved from other keys, then the rules between them.
 * Nothing is created before this returns.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { PlatformConfig, resolveDefaults, ResolvedConfig, SecretValues } from "./resolve";
import { checkRules, requiredSecrets } from "./rules";
import { CONFIG_NAMESPACE, CONFIG_SCHEMAS, OBJECT_KEYS, Parsed, REQUIRED_KEYS, SECRET_KEYS, SecretKey } from "./schema";

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
    };
}

function formatPath(segments: readonly PropertyKey[]): string {
    return segments.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? String(s) : `.${String(s)}`)).join("");
}

function describeIssue(issue: z.core.$ZodIssue): string {
    switch (issue.code) {
        case "invalid_type":
            return issue.input === undefined ? "is required" : `must be ${article(issue.expected)}`;
        case "unrecognized_keys":
            return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `'${k}'`).join(", ")}`;
        case "invalid_value":
            return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
        case "too_small":
            return issue.origin === "array" || issue.origin === "string"
                ? issue.message.startsWith("must")
                    ? issue.message
                    : `must have at least ${String(issue.minimum)} ${issue.origin === "array" ? "item(s)" : "character(s)"}`
                : `must be at least ${String(issue.minimum)}`;
        case "too_big":
            return `must be at most ${String(issue.maximum)}`;
        case "invalid_key":
            // A record key that fails its own schema (e.g. a label key): that schema's message.
            return issue.issues[0]?.message ?? issue.message;
        default:
            return issue.message;
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

    const known = new Set<string>([...OBJECT_KEYS, ...Object.keys(SECRET_KEYS)]);
    for (const key of source.keys()) {
        if (!known.has(key)) fail(key, `unknown key (known keys: ${[...known].sort().join(", ")})`);
    }

    const parsed: Partial<Parsed> = {};
    const given: Record<string, unknown> = {};
    for (const key of OBJECT_KEYS) {
        const raw = source.get(key);
        if (raw === undefined && REQUIRED_KEYS.includes(key)) {
            fail(key, "is required (see docs/configuration.md)");
            continue;
        }
        given[key] = raw === undefined ? undefined : parseJsonValue(raw);
        const result = CONFIG_SCHEMAS[key].safeParse(given[key], { reportInput: true });
        if (result.success) {
            (parsed as Record<string, unknown>)[key] = result.data;
        } else {
            for (const issue of result.error.issues) {
                fail(formatPath([key, ...issue.path]), describeIssue(issue));
            }
        }
    }

    // Secret keys: present only with --secret; the value never leaves an Output.
    const isSet = (key: SecretKey) => secretIsSet(source, key);
    const values: Record<string, unknown> = {};
    for (const key of Object.keys(SECRET_KEYS) as SecretKey[]) {
        if (!isSet(key)) continue;
        if (!source.isSecret(key)) fail(key, `must be set as a secret: pulumi config set --secret ${key} <value>`);
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

    // The rules read resolved values, so they only run on a config whose every key parsed.
    let resolved: ResolvedConfig | undefined;
    if (problems.length === 0) {
        resolved = resolveDefaults(parsed as Parsed, values as SecretValues);
        checkRules(resolved, { isSet, reviewerJwtNames, given: (path) => isGiven(given, path) }, fail);
    }
    if (problems.length > 0 || resolved === undefined) throw new ConfigError(problems);

    // The rules have checked every guarantee PlatformConfig's per-mode unions state.
    return resolved as PlatformConfig;
}

/**
 * The secret keys a stack's non-secret config requires, for tools that fill
 * placeholders (the offline plan, tests). Empty when a key's own config is
 * invalid: loadConfig reports those.
 */
export function requiredSecretKeys(source: ConfigSource): SecretKey[] {
    const parsed: Record<string, unknown> = {};
    for (const key of OBJECT_KEYS) {
        const raw = source.get(key);
        const result = CONFIG_SCHEMAS[key].safeParse(raw === undefined ? undefined : parseJsonValue(raw));
        if (!result.success) return [];
        parsed[key] = result.data;
    }
    return requiredSecrets(resolveDefaults(parsed as Parsed)).map(([key]) => key);
}
