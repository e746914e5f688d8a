/**
 * Which vault provider plugin the engine runs. The official one is installed
 * the way Pulumi ships it (`pulumi plugin install resource vault <version>`,
 * the version @pulumi/vault asks for); where that cannot be had (no network
 * to Pulumi's plugin downloads, as on this project's CI machine), the
 * stand-in written in this repository (e2e/vault-stand-in/) is installed
 * under the same name and version, and every line about it says so.
 *
 *   --vault-plugin=auto       official when it installs, else the stand-in (default)
 *   --vault-plugin=official   the official plugin or a failure (the GitHub e2e workflow)
 *   --vault-plugin=stand-in   the stand-in, without trying the download
 */
import { execFile } from "child_process";
import * as util from "util";
import { writeStandInLauncher } from "../vault-stand-in/install";
import { Rig } from "./processes";
import { Engine } from "./pulumi";
import { sdkPluginVersion } from "./sdk-plugin-version";

const run = util.promisify(execFile);

export type VaultPluginChoice = "auto" | "official" | "stand-in";
export const VAULT_PLUGIN_CHOICES: readonly VaultPluginChoice[] = ["auto", "official", "stand-in"];

export interface VaultPlugin {
    readonly kind: "official" | "stand-in";
    readonly version: string;
    /** How it names itself in every line of the e2e. */
    readonly label: string;
}

/** A plugin download that has not answered in this long is taken as "cannot be had here". */
const DOWNLOAD_TIMEOUT_MS = 120_000;

async function pluginInstall(engine: Engine, args: readonly string[]): Promise<void> {
    await run(engine.command.command, ["plugin", "install", "resource", "vault", ...args], {
        env: { ...engine.envVars, HOME: engine.pulumiHome },
        timeout: DOWNLOAD_TIMEOUT_MS,
    });
}

function reason(err: unknown): string {
    const e = err as { stderr?: string; message: string };
    const text = (e.stderr ?? "").trim() || e.message;
    return text.split("\n").filter(Boolean).slice(-1)[0] ?? text;
}

/** Installs the vault plugin into the engine's PULUMI_HOME, as `choice` says. */
export async function installVaultPlugin(
    rig: Rig,
    engine: Engine,
    repoRoot: string,
    choice: VaultPluginChoice,
    log = console.log,
): Promise<VaultPlugin> {
    const version = sdkPluginVersion(repoRoot, "@pulumi/vault");
    if (choice !== "stand-in") {
        try {
            await pluginInstall(engine, [version]);
            log(
                `  vault plugin ${version}: the official plugin, installed by \`pulumi plugin install resource vault ${version}\``,
            );
            return { kind: "official", version, label: `the official vault plugin ${version}` };
        } catch (err) {
            if (choice === "official") {
                throw new Error(`pulumi plugin install resource vault ${version} failed: ${reason(err)}`);
            }
            log(`  vault plugin ${version}: the official plugin cannot be had here (${reason(err)})`);
        }
    }
    const launcher = writeStandInLauncher(repoRoot, rig.subdir("vault-stand-in"));
    try {
        await pluginInstall(engine, [version, "--file", launcher]);
    } catch (err) {
        throw new Error(`pulumi plugin install resource vault ${version} --file ${launcher}: ${reason(err)}`);
    }
    log(
        `  vault plugin ${version}: the STAND-IN (e2e/vault-stand-in/, this repository's TypeScript plugin on the real Vault API), ` +
            `installed as the version @pulumi/vault asks for; not the official provider`,
    );
    return { kind: "stand-in", version, label: `the vault stand-in plugin (as ${version})` };
}
