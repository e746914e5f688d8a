/**
 * The plugin version an SDK package asks the engine for. Its own module, with
 * nothing but fs/path, so the vault stand-in plugin can read it at start-up
 * without loading the Automation API.
 */
import * as fs from "fs";
import * as path from "path";

/** The version in `<repo>/node_modules/<sdkPackage>/package.json`: `pulumi.version`, else `version`. */
export function sdkPluginVersion(repoRoot: string, sdkPackage: string): string {
    const pkg = JSON.parse(
        fs.readFileSync(path.join(repoRoot, "node_modules", ...sdkPackage.split("/"), "package.json"), "utf8"),
    ) as { version: string; pulumi?: { version?: string } };
    return pkg.pulumi?.version ?? pkg.version;
}
