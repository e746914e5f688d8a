/**
 * `npm run stack-config -- --stack <name>`: what CI adds to a stack's config
 * before `pulumi preview`/`up`, from the stack's GitHub environment, because
 * the committed Pulumi.<stack>.yaml does not hold it:
 * - STACK_SECRETS (an environment secret): a JSON object of secret keys
 *   (oidcClientSecret, storageAccessKeyId, ...) to their values;
 * - TRUST_CA_BUNDLE (an environment variable; a CA certificate is public):
 *   the PEM bundle for trust.caBundle.
 * Each is set with `pulumi config set`, the value on stdin: never in argv,
 * the environment of the CLI, or the log (only key names are printed).
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { SECRET_KEYS, SecretKey } from "../components/config";

export interface ConfigCommand {
    /** `pulumi` arguments: no value in them. */
    readonly args: readonly string[];
    /** The value, handed over on stdin. */
    readonly stdin: string;
    /** What is printed: the key, never the value. */
    readonly label: string;
}

export const USAGE = `usage: npm run stack-config -- --stack <name>

Sets the stack config CI keeps out of the repository, from the environment:
  STACK_SECRETS    JSON object, secret key -> value (e.g. {"storageAccessKeyId": "..."}): pulumi config set --secret
  TRUST_CA_BUNDLE  PEM bundle of the cluster's private CA: pulumi config set --path trust.caBundle
Each value goes to the pulumi CLI (PULUMI_BIN, default pulumi) on stdin; only key names are printed.
exit status: 0 done (or nothing to set), 1 pulumi failed, 2 a usage error or a malformed variable`;

/** The `pulumi config set` calls for a stack, from the environment; throws an Error naming what is malformed. */
export function configCommands(stack: string, env: NodeJS.ProcessEnv): ConfigCommand[] {
    const commands: ConfigCommand[] = [];
    const raw = env.STACK_SECRETS ?? "";
    if (raw.trim() !== "") {
        let parsed: unknown;
        try {
            parsed = JSON.parse(raw);
        } catch {
            // Never echo the text: it is the secrets.
            throw new Error("STACK_SECRETS is not JSON: it must be an object of secret key to value");
        }
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
            throw new Error("STACK_SECRETS must be a JSON object of secret key to value");
        }
        const known = Object.keys(SECRET_KEYS);
        for (const [key, value] of Object.entries(parsed)) {
            if (!known.includes(key)) {
                throw new Error(
                    `STACK_SECRETS: '${key}' is not a secret key of this project (known: ${known.join(", ")})`,
                );
            }
            if (typeof value !== "string" || value === "") {
                throw new Error(`STACK_SECRETS: ${key} must be a non-empty string`);
            }
            commands.push({
                args: ["config", "set", "--stack", stack, "--secret", key as SecretKey],
                stdin: value,
                label: `${key} (secret)`,
            });
        }
    }
    const bundle = env.TRUST_CA_BUNDLE ?? "";
    if (bundle.trim() !== "") {
        if (!bundle.includes("-----BEGIN CERTIFICATE-----")) {
            throw new Error("TRUST_CA_BUNDLE must be a PEM bundle (-----BEGIN CERTIFICATE-----)");
        }
        commands.push({
            args: ["config", "set", "--stack", stack, "--path", "trust.caBundle"],
            stdin: bundle,
            label: "trust.caBundle",
        });
    }
    return commands;
}

export function runStackConfig(
    argv: readonly string[],
    env: NodeJS.ProcessEnv = process.env,
): { code: number; stdout: string; stderr: string } {
    let stack: string | undefined;
    try {
        const { values } = parseArgs({ args: [...argv], options: { stack: { type: "string" } }, strict: true });
        stack = values.stack;
    } catch (e) {
        return { code: 2, stdout: "", stderr: `stack-config: ${(e as Error).message}\n${USAGE}\n` };
    }
    if (stack === undefined || stack === "")
        return { code: 2, stdout: "", stderr: `stack-config: --stack is required\n${USAGE}\n` };
    let commands: ConfigCommand[];
    try {
        commands = configCommands(stack, env);
    } catch (e) {
        return { code: 2, stdout: "", stderr: `stack-config: ${(e as Error).message}\n` };
    }
    const bin = env.PULUMI_BIN !== undefined && env.PULUMI_BIN !== "" ? env.PULUMI_BIN : "pulumi";
    // The CLI gets no copy of the variables that hold the values.
    const cliEnv = { ...env };
    delete cliEnv.STACK_SECRETS;
    delete cliEnv.TRUST_CA_BUNDLE;
    const out: string[] = [];
    for (const c of commands) {
        const res = spawnSync(bin, [...c.args], { input: c.stdin, env: cliEnv, encoding: "utf8" });
        if (res.status !== 0) {
            // The CLI's own message first (a CLI that exits without reading stdin also leaves EPIPE behind).
            const why = res.stderr?.trim() || res.error?.message || `exit ${String(res.status)}`;
            return { code: 1, stdout: out.join(""), stderr: `stack-config: setting ${c.label} failed: ${why}\n` };
        }
        out.push(`set ${c.label} on stack ${stack}\n`);
    }
    if (commands.length === 0)
        out.push(`nothing to set on stack ${stack} (STACK_SECRETS and TRUST_CA_BUNDLE are empty)\n`);
    return { code: 0, stdout: out.join(""), stderr: "" };
}
