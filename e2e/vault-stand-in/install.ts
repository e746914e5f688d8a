/**
 * How the vault stand-in plugin is installed: a `pulumi-resource-vault`
 * launcher (a shell script that runs main.ts under tsx with this machine's
 * node), which `pulumi plugin install resource vault <version> --file
 * <launcher>` copies into PULUMI_HOME (the CLI takes an executable that is
 * not a tarball as the plugin binary itself). Everything the launcher names
 * is an absolute path, so it runs from any working directory: the engine
 * starts plugins in the program's directory.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { sdkPluginVersion } from "../rig/sdk-plugin-version";

/** The plugin binary's name: the engine looks for `pulumi-resource-<package>`. */
export const STAND_IN_BINARY = "pulumi-resource-vault";

/** The vault plugin version the installed @pulumi/vault SDK asks the engine for: the version the stand-in reports. */
export function standInPluginVersion(repoRoot: string): string {
    return sdkPluginVersion(repoRoot, "@pulumi/vault");
}

/** A single-quoted shell word (paths only: no secret ever goes into the launcher). */
function shellQuote(word: string): string {
    return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Writes `<dir>/pulumi-resource-vault` (mode 0755) and returns its path. It
 * runs `<repoRoot>/e2e/vault-stand-in/main.ts` with tsx's CommonJS hook
 * (the project compiles to CommonJS), passing the engine's arguments on.
 */
export function writeStandInLauncher(repoRoot: string, dir: string): string {
    const root = path.resolve(repoRoot);
    const tsx = require.resolve("tsx/cjs", { paths: [root] });
    const main = path.join(root, "e2e", "vault-stand-in", "main.ts");
    if (!fs.existsSync(main)) throw new Error(`vault stand-in plugin: ${main} not found`);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, STAND_IN_BINARY);
    const script = [
        "#!/bin/sh",
        "# vault stand-in plugin (secret-platform e2e): not the real pulumi-vault provider.",
        `exec ${shellQuote(process.execPath)} --require ${shellQuote(tsx)} ${shellQuote(main)} "$@"`,
        "",
    ].join("\n");
    fs.writeFileSync(file, script, { mode: 0o755 });
    fs.chmodSync(file, 0o755); // writeFileSync's mode is masked by the umask and ignored for an existing file
    return file;
}
