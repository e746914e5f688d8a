/**
 * Locates the real binaries the integration tests run (Vault server, sops,
 * age, actionlint, the gofakes3 S3 server, promtool, the hydra OIDC provider) and decides what a spec does when one is missing: skip with
 * a hint locally, fail under CI=true (CI installs them with `npm run tools`,
 * so a missing tool there is a broken pipeline, not an optional test).
 *
 * Lookup order per tool: its env override (an explicit path; a wrong one is an
 * error, never a silent fallback), then the per-user cache that
 * scripts/install-tools.sh fills, then PATH.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** The Vault version scripts/build-vault.sh builds by default; keep the two in step. */
export const VAULT_VERSION = process.env.VAULT_VERSION ?? "v1.21.4";

/** The hydra version scripts/build-e2e-tools.sh builds (the e2e's VERSIONS.hydra); keep the two in step. */
export const HYDRA_VERSION = "v2.3.0";

/** The Prometheus version whose promtool scripts/install-tools.sh unpacks from Debian's package; keep the two in step. */
export const PROMETHEUS_VERSION = "2.42.0";

export type ToolName =
    "vault" | "sops" | "age" | "age-keygen" | "actionlint" | "gofakes3" | "helm" | "busybox" | "promtool" | "hydra";

/** Env variable that overrides each tool's location. */
export const TOOL_ENV: Readonly<Record<ToolName, string>> = {
    vault: "VAULT_BIN",
    sops: "SOPS_BIN",
    age: "AGE_BIN",
    "age-keygen": "AGE_KEYGEN_BIN",
    actionlint: "ACTIONLINT_BIN",
    gofakes3: "GOFAKES3_BIN",
    helm: "HELM_BIN",
    busybox: "BUSYBOX_BIN",
    promtool: "PROMTOOL_BIN",
    hydra: "HYDRA_BIN",
};

/** The per-user tool cache (same rule as the scripts: never inside the repository). */
export function toolCacheDir(): string {
    const explicit = process.env.SECRET_PLATFORM_CACHE;
    if (explicit !== undefined && explicit !== "") return explicit;
    const xdg = process.env.XDG_CACHE_HOME;
    const base = xdg !== undefined && xdg !== "" ? xdg : path.join(os.homedir(), ".cache");
    return path.join(base, "secret-platform");
}

/** Where scripts/install-tools.sh puts each tool; age and busybox come from OS packages (PATH only). */
function cachePath(name: ToolName): string | undefined {
    switch (name) {
        case "vault":
            return path.join(toolCacheDir(), `vault-${VAULT_VERSION}`, "bin", "vault");
        case "sops":
        case "actionlint":
        case "gofakes3":
        case "helm":
            return path.join(toolCacheDir(), "bin", name);
        case "promtool":
            return path.join(toolCacheDir(), `prometheus-${PROMETHEUS_VERSION}`, "bin", "promtool");
        case "hydra":
            return path.join(toolCacheDir(), `hydra-${HYDRA_VERSION}`, "bin", "hydra");
        default:
            return undefined;
    }
}

/** Whether a path is an executable regular file. */
export function isExecutable(file: string): boolean {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

/** The first executable of that name on PATH. */
export function onPath(name: string): string | undefined {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
        if (dir === "") continue;
        const candidate = path.join(dir, name);
        if (isExecutable(candidate)) return candidate;
    }
    return undefined;
}

/**
 * The path of a tool, or undefined when it is not installed. Throws when the
 * env override names something that is not an executable file.
 */
export function findTool(name: ToolName): string | undefined {
    const envName = TOOL_ENV[name];
    const override = process.env[envName];
    if (override !== undefined && override !== "") {
        if (!isExecutable(override)) {
            throw new Error(`${envName}=${override} is not an executable file (unset it to use the cached ${name})`);
        }
        return override;
    }
    const cached = cachePath(name);
    if (cached !== undefined && isExecutable(cached)) return cached;
    return onPath(name);
}

/** Whether a missing tool fails the run instead of skipping (CI=true). */
export function toolsRequired(): boolean {
    return process.env.CI === "true";
}

/** The message for a missing tool: what is missing and how to get it. */
export function missingToolMessage(name: ToolName): string {
    return (
        `${name} not found (looked at $${TOOL_ENV[name]}, ${cachePath(name) ?? "the OS package"}, PATH): ` +
        (name === "hydra"
            ? "run `bash scripts/build-e2e-tools.sh` to build it (the e2e's OIDC provider)"
            : "run `npm run tools` to install the real tools the integration tests use")
    );
}

/**
 * Returns the tool's path for a mocha test or hook. When the tool is missing
 * the test (or, from a before hook, the whole suite) is skipped with a hint,
 * except under CI=true where it fails with the same hint.
 */
export function requireTool(ctx: Mocha.Context, name: ToolName): string {
    const found = findTool(name);
    if (found !== undefined) return found;
    const message = missingToolMessage(name);
    if (toolsRequired()) throw new Error(`${message} (CI=true: real-tool tests are mandatory)`);
    console.warn(`    skipped: ${message}`);
    ctx.skip();
}
