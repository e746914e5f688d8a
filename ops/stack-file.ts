/**
 * Reads a Pulumi.<stack>.yaml into the flat key/value form the engine hands a
 * program, for tools that run the program without the Pulumi CLI (tests, the
 * offline plan). Secrets are never read: `secure:` values and the secrets the
 * config requires but the file cannot hold become visible placeholders.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { CONFIG_NAMESPACE, ConfigSource, SECRET_KEYS, SecretKey, secretNeeds } from "../components/config";

export const PROJECT_ROOT = path.join(__dirname, "..");

export interface StackFile {
    readonly stack: string;
    /** Where it was read from (absolute), or a label for a text parsed in memory. */
    readonly path: string;
    /**
     * Project keys (without namespace) to their values. A secret key written
     * in plain text stays here, not among the secrets, so the config loader
     * refuses it as `pulumi up` does (its value is never shown).
     */
    readonly values: Record<string, unknown>;
    /** Secret keys to placeholders, never real values. */
    readonly secrets: Record<string, string>;
    /** Keys of other namespaces (in full), and keys with none: the loader looks for near misses of its own. */
    readonly foreign: Record<string, unknown>;
    /** Each secret key the stack sets or needs, and how it stands in this file. */
    readonly secretStatus: readonly SecretStatus[];
}

/** How one secret key stands in a stack file. */
export interface SecretStatus {
    readonly key: SecretKey;
    /**
     * `set`: a `secure:` value; `plaintext`: written in plain text (refused);
     * `missing`: required and not set (the plan runs on a placeholder, `pulumi up`
     * refuses); `generated`: not set, and the program generates it.
     */
    readonly status: "set" | "plaintext" | "missing" | "generated";
    /** Why the config needs it (required keys), or what happens when unset. */
    readonly why?: string;
}

/** The placeholder that stands for a secret in tests and plans. */
export function secretPlaceholder(key: string): string {
    return `placeholder-for-${key}`;
}

export function stackFilePath(stack: string, root: string = PROJECT_ROOT): string {
    return path.join(root, `Pulumi.${stack}.yaml`);
}

/** The stacks of the project: one per Pulumi.<stack>.yaml file. */
export function listStacks(root: string = PROJECT_ROOT): string[] {
    return fs
        .readdirSync(root)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

export function readStackFile(stack: string, root: string = PROJECT_ROOT): StackFile {
    const file = stackFilePath(stack, root);
    if (!fs.existsSync(root)) throw new Error(`no stack file ${path.basename(file)}: there is no directory ${root}`);
    if (!fs.existsSync(file)) {
        const known = listStacks(root);
        const stacks = known.length > 0 ? known.join(", ") : "none";
        throw new Error(`no stack file ${path.basename(file)} (stacks: ${stacks})`);
    }
    return parseStackFile(stack, fs.readFileSync(file, "utf8"), path.resolve(file));
}

export function parseStackFile(stack: string, text: string, where: string = `Pulumi.${stack}.yaml`): StackFile {
    const doc = (parse(text) ?? {}) as { config?: Record<string, unknown> };
    const values: Record<string, unknown> = {};
    const secrets: Record<string, string> = {};
    const foreign: Record<string, unknown> = {};
    const prefix = `${CONFIG_NAMESPACE}:`;
    for (const [fullKey, value] of Object.entries(doc.config ?? {})) {
        if (!fullKey.startsWith(prefix)) {
            // Provider keys such as kubernetes:context, and mistakes such as secret-platfrom:exposure.
            foreign[fullKey] = value;
            continue;
        }
        const key = fullKey.slice(prefix.length);
        if (isSecure(value)) secrets[key] = secretPlaceholder(key);
        else values[key] = value;
    }
    const source: ConfigSource = {
        get: (key) => {
            const v = values[key];
            return v === undefined ? undefined : typeof v === "string" ? v : JSON.stringify(v);
        },
        isSecret: () => false,
        keys: () => Object.keys(values),
    };
    const needs = secretNeeds(source);
    const secretStatus: SecretStatus[] = [];
    for (const key of Object.keys(SECRET_KEYS) as SecretKey[]) {
        const why = needs.required.find(([k]) => k === key)?.[1];
        const required = why === undefined ? undefined : `required ${why}`;
        if (secrets[key] !== undefined) secretStatus.push({ key, status: "set", why: required });
        else if (values[key] !== undefined) secretStatus.push({ key, status: "plaintext", why: required });
        else if (required !== undefined) secretStatus.push({ key, status: "missing", why: required });
        else if (needs.generated.includes(key)) {
            secretStatus.push({
                key,
                status: "generated",
                why: "the program generates it (its Authelia client entry, with the digest, is the secret output autheliaOidcClientConfig)",
            });
        }
    }
    for (const [key] of needs.required) {
        if (secrets[key] !== undefined || values[key] !== undefined) continue;
        secrets[key] =
            key === "remoteClusterReviewerJwts"
                ? JSON.stringify(
                      remoteNames(values).reduce((o, n) => ({ ...o, [n]: secretPlaceholder(`${key}.${n}`) }), {}),
                  )
                : secretPlaceholder(key);
    }
    return { stack, path: where, values, secrets, foreign, secretStatus };
}

function isSecure(value: unknown): boolean {
    return typeof value === "object" && value !== null && "secure" in value;
}

function remoteNames(values: Record<string, unknown>): string[] {
    const auth = values.kubernetesAuth as { remoteClusters?: { name?: string }[] } | undefined;
    return (auth?.remoteClusters ?? []).map((r) => String(r.name));
}
