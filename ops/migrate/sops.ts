/**
 * Decrypts SOPS files with the real sops CLI and the user's own keys (age or
 * GPG, found by sops through SOPS_AGE_KEY_FILE, GNUPGHOME and its defaults).
 * The plaintext goes from sops' stdout into memory and nowhere else: no temp
 * file, and it never appears in an error message.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

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
