/**
 * Decrypts SOPS files with the real sops CLI and the user's own keys (age or
 * GPG, found by sops through SOPS_AGE_KEY_FILE, GNUPGHOME and its defaults).
 * The plaintext goes from sops' stdout into memory and nowhere else: no temp
 * file, and it never appears in an error message.
 */
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";

export type SopsFormat = "yaml" | "json" | "dotenv";

/** The file's format from its name: the last known extension wins (app.env.sops.yaml is YAML). */
export function detectFormat(file: string): SopsFormat {
    const parts = path.basename(file).toLowerCase().split(".").slice(1).reverse();
    for (const ext of parts) {
        if (ext === "yaml" || ext === "yml") return "yaml";
        if (ext === "json") return "json";
        if (ext === "env" || ext === "dotenv") return "dotenv";
    }
    throw new Error(`${file}: unknown format (expected a .yaml, .yml, .json or .env file)`);
}

/**
 * The format of a SOPS-encrypted file from its content (sops' own metadata),
 * or undefined when it holds none: a `sops:` mapping with a `mac` at the top of
 * a YAML or JSON document, or `sops_mac=` in a dotenv file.
 */
export function sopsFormatOf(text: string): SopsFormat | undefined {
    const hasMac = (doc: unknown) => {
        const meta = (doc as { sops?: unknown } | null)?.sops;
        return typeof meta === "object" && meta !== null && "mac" in meta;
    };
    const trimmed = text.trimStart();
    if (trimmed.startsWith("{")) {
        try {
            return hasMac(JSON.parse(text)) ? "json" : undefined;
        } catch {
            return undefined;
        }
    }
    if (/^sops_mac=/m.test(text)) return "dotenv";
    if (!/^sops:/m.test(text)) return undefined;
    try {
        return hasMac(parseYaml(text)) ? "yaml" : undefined;
    } catch {
        return undefined;
    }
}

/**
 * A SOPS file's format: from its name when that names one (as sops decides),
 * else from its content; an error when its content is not SOPS-encrypted at
 * all (sops would fail on it, or it is a plaintext file given by mistake).
 */
export function sopsFileFormat(file: string, text: string): SopsFormat {
    const fromContent = sopsFormatOf(text);
    if (fromContent === undefined) {
        throw new Error(`${file}: not a SOPS-encrypted file (no sops metadata in it)`);
    }
    try {
        return detectFormat(file);
    } catch {
        return fromContent;
    }
}

/** Files bigger than this are never SOPS secrets worth reading whole. */
const MAX_SOPS_FILE_BYTES = 4 * 1024 * 1024;

/**
 * The SOPS-encrypted files under `dir`, found by content as docs/migration.md's
 * inventory does: the files git tracks there when `dir` is in a git
 * repository (so nothing ignored or untracked), else every file below it
 * (skipping .git and node_modules). Paths are returned absolute, sorted.
 */
export function findSopsFiles(dir: string): string[] {
    const root = path.resolve(dir);
    if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new Error(`--find ${dir}: not a directory`);
    let candidates: string[];
    const listed = spawnSync("git", ["-C", root, "ls-files", "-z", "--", "."], { encoding: "utf8" });
    if (listed.status === 0) {
        candidates = listed.stdout
            .split("\0")
            .filter((f) => f !== "")
            .map((f) => path.join(root, f));
    } else {
        candidates = [];
        const walk = (d: string) => {
            for (const e of fs.readdirSync(d, { withFileTypes: true })) {
                if (e.name === ".git" || e.name === "node_modules") continue;
                const full = path.join(d, e.name);
                if (e.isDirectory()) walk(full);
                else if (e.isFile()) candidates.push(full);
            }
        };
        walk(root);
    }
    return candidates
        .filter((f) => {
            try {
                const stat = fs.statSync(f);
                if (!stat.isFile() || stat.size > MAX_SOPS_FILE_BYTES) return false;
                return sopsFormatOf(fs.readFileSync(f, "utf8")) !== undefined;
            } catch {
                return false;
            }
        })
        .sort();
}

/** The sops binary: SOPS_BIN when set, else `sops` on PATH. */
export function sopsBinary(env: NodeJS.ProcessEnv = process.env): string {
    const explicit = env.SOPS_BIN;
    return explicit !== undefined && explicit !== "" ? explicit : "sops";
}

/** Last lines of sops' stderr: its messages name files and keys, never decrypted values. */
function sopsMessage(stderr: string): string {
    const lines = stderr
        .trim()
        .split("\n")
        .filter((l) => l.trim() !== "");
    return lines
        .slice(-3)
        .map((l) => l.trim())
        .join(" ");
}

/**
 * Runs `sops --decrypt` with JSON output (for every input format) and returns
 * the parsed document. Rejects with a message naming the file and sops' error.
 */
export function decryptFile(file: string, format: SopsFormat, env: NodeJS.ProcessEnv = process.env): Promise<unknown> {
    if (!fs.existsSync(file)) return Promise.reject(new Error(`${file}: no such file`));
    const bin = sopsBinary(env);
    const args = ["--decrypt", "--input-type", format, "--output-type", "json", file];
    return new Promise((resolve, reject) => {
        execFile(bin, args, { env, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" }, (err, stdout, stderr) => {
            if (err !== null) {
                if ((err as NodeJS.ErrnoException).code === "ENOENT") {
                    reject(new Error(`sops not found (${bin}): install sops or set SOPS_BIN`));
                    return;
                }
                const why = sopsMessage(stderr);
                reject(new Error(`${file}: sops could not decrypt it${why === "" ? "" : `: ${why}`}`));
                return;
            }
            try {
                resolve(JSON.parse(stdout));
            } catch {
                // Never echo stdout: it is plaintext.
                reject(new Error(`${file}: sops output is not JSON`));
            }
        });
    });
}
