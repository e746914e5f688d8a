/**
 * `npm run migrate -- [--dry-run] [--force] [--mapping map.yaml] [--mount m] [--find dir] <files...>`:
 * SOPS files into Vault KV v2 (docs/migration.md). Vault address and token come
 * from VAULT_ADDR / VAULT_TOKEN (or ~/.vault-token), never from argv. Paths are
 * relative to where the user ran npm (INIT_CWD), recorded relative to the git
 * repository there.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { failed, runCommand } from "../ops/command";
import { parseArgs, USAGE } from "../ops/migrate/args";
import { Mapping, mappingSchema, parseMapping } from "../ops/migrate/mapping";
import { migrate } from "../ops/migrate/run";
import { decryptFile, findSopsFiles } from "../ops/migrate/sops";
import { connectionFromEnv, KvClient } from "../ops/migrate/kv-client";
import { invocationDir } from "../ops/plan/cli";

/** The git repository holding `dir` (its top level), else `dir` itself. */
function repositoryOf(dir: string): string {
    const top = spawnSync("git", ["-C", dir, "rev-parse", "--show-toplevel"], { encoding: "utf8" });
    return top.status === 0 && top.stdout.trim() !== "" ? top.stdout.trim() : dir;
}

async function main(): Promise<number> {
    let opts;
    try {
        opts = parseArgs(process.argv.slice(2));
    } catch (err) {
        console.error(`migrate: ${(err as Error).message}\n\n${USAGE}`);
        return 2;
    }
    if (opts.help) {
        console.log(USAGE);
        return 0;
    }
    const cwd = invocationDir();
    try {
        let mapping: Mapping = mappingSchema.parse({});
        if (opts.mapping !== undefined) {
            const file = path.resolve(cwd, opts.mapping);
            if (!fs.existsSync(file)) throw new Error(`--mapping ${opts.mapping}: no such file`);
            mapping = parseMapping(fs.readFileSync(file, "utf8"), opts.mapping);
        }
        const found = opts.find.flatMap((dir) => findSopsFiles(path.resolve(cwd, dir)));
        const files = [...new Set([...opts.files.map((f) => path.resolve(cwd, f)), ...found])];
        if (files.length === 0) throw new Error(`--find ${opts.find.join(", ")}: no SOPS-encrypted file there`);
        const kv = new KvClient(connectionFromEnv(process.env, cwd));
        const result = await migrate({ ...opts, files }, mapping, {
            kv,
            decrypt: (file, format) => decryptFile(file, format),
            out: (line) => console.log(line),
            cwd,
            base: repositoryOf(cwd),
        });
        return result.exitCode;
    } catch (err) {
        return failed("migrate", err, "nothing written");
    }
}

runCommand("migrate", main);
