/**
 * Locates the upstream reference data (the vault chart, ESO's CRDs) that
 * scripts/install-reference.sh (part of `npm run tools`) puts in the tool
 * cache, one folder per pinned version. Missing data skips a suite with a
 * hint locally and fails it under CI=true, as for the real tools.
 */
import * as fs from "fs";
import * as path from "path";
import { toolCacheDir, toolsRequired } from "./tools";

/** The reference folders the specs use, at the versions the program pins. */
export type ReferenceName = "vault-helm-0.34.1" | "external-secrets-2.9.0";

/** Where the set-up puts a reference folder. */
export function referenceDir(name: ReferenceName): string {
    return path.join(toolCacheDir(), "reference", name);
}

/**
 * The reference folder for a mocha before hook: skips the suite with a hint
 * when it is missing, except under CI=true where that is a failure.
 */
export function requireReference(ctx: Mocha.Context, name: ReferenceName): string {
    const dir = referenceDir(name);
    if (fs.existsSync(dir)) return dir;
    const message =
        `reference data ${name} not found at ${dir}: run \`npm run tools\` ` +
        "(with SECRET_PLATFORM_REFERENCE=<dir> to copy it from a local folder instead of downloading)";
    if (toolsRequired()) throw new Error(`${message} (CI=true: reference specs are mandatory)`);
    console.warn(`    skipped: ${message}`);
    ctx.skip();
}
