/**
 * Reads a Pulumi.<stack>.yaml into the flat key/value form the engine hands a
 * program, for tools that run the program without the Pulumi CLI (tests, the
 * offline plan). Secrets are never read: `secure:` values and the secrets the
 * config requires but the file cannot hold become visible placeholders.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { CONFIG_NAMESPACE, ConfigSource, requiredSecretKeys } from "../components/config";

export const PROJECT_ROOT = path.join(__dirname, "..");

export interface StackFile {
    readonly stack: string;
    /** Project keys (without namespace) to their values. */
    readonly values: Record<string, unknown>;
    /** Secret keys to placeholders, never real values. */
    readonly secrets: Record<string, string>;
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
    if (!fs.existsSync(file)) {
        const known = listStacks(root);
        const stacks = known.length > 0 ? known.join(", ") : "none";
        throw new Error(`no stack file ${path.basename(file)} (stacks: ${stacks})`);
    }
    return parseStackFile(stack, fs.readFileSync(file, "utf8"));
}

export function parseStackFile(stack: string, text: string): StackFile {
    const doc = (parse(text) ?? {}) as { config?: Record<string, unknown> };
    const values: Record<string, unknown> = {};
    const secrets: Record<string, string> = {};
    const prefix = `${CONFIG_NAMESPACE}:`;
    for (const [fullKey, value] of Object.entries(doc.config ?? {})) {
        if (!fullKey.startsWith(prefix)) continue; // provider keys such as kubernetes:context
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
    for (const key of requiredSecretKeys(source)) {
        if (secrets[key] !== undefined) continue;
        secrets[key] =
            key === "remoteClusterReviewerJwts"
                ? JSON.stringify(
                      remoteNames(values).reduce((o, n) => ({ ...o, [n]: secretPlaceholder(`${key}.${n}`) }), {}),
                  )
                : secretPlaceholder(key);
    }
    return { stack, values, secrets };
}

function isSecure(value: unknown): boolean {
    return typeof value === "object" && value !== null && "secure" in value;
}

function remoteNames(values: Record<string, unknown>): string[] {
    const auth = values.kubernetesAuth as { remoteClusters?: { name?: string }[] } | undefined;
    return (auth?.remoteClusters ?? []).map((r) => String(r.name));
}
