/**
 * Entry of the vault stand-in plugin (`pulumi-resource-vault`, see
 * install.ts): serves Pulumi's provider protocol on a free loopback port and
 * prints that port as the first line on stdout, which is how the engine
 * finds a plugin. The engine passes its own address as the first argument;
 * the stand-in never calls back, so it is not used. It runs until the
 * engine kills it.
 */
import * as path from "node:path";
import { standInPluginVersion } from "./install";
import { log, serve, StandInProvider } from "./server";

async function main(): Promise<void> {
    const repoRoot = path.resolve(__dirname, "..", "..");
    const version = standInPluginVersion(repoRoot);
    const { port } = await serve(new StandInProvider(version));
    // A string, so that Node does not colour it: the engine parses this line as the port.
    process.stdout.write(`${port}\n`);
    log(`version ${version} serving on 127.0.0.1:${port} (pid ${process.pid})`);
}

main().catch((err: unknown) => {
    log(`failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
});
