/**
 * `npm run migrate -- [--dry-run] [--force] [--mapping map.yaml] [--mount m] <files...>`:
 * SOPS files into Vault KV v2 (docs/migration.md). Vault address and token come
 * from VAULT_ADDR / VAULT_TOKEN (or ~/.vault-token), never from argv.
 */
import * as fs from "node:fs";
import { failed, runCommand } from "../ops/command";
import { parseArgs, USAGE } from "../ops/migrate/args";
import { Mapping, mappingSchema, parseMapping } from "../ops/migrate/mapping";
import { migrate } from "../ops/migrate/run";
import { decryptFile } from "../ops/migrate/sops";
import { connectionFromEnv, KvClient } from "../ops/migrate/kv-client";

async function main(): Promise<number> {
    let opts;
    try {
        opts = parseArgs(process.argv.slice(2));
    } catch (err) {
        console.error(`migrate: ${(err as Error).message}\n\n${USAGE}`);
        return 1;
    }
    if (opts.help) {
        console.log(USAGE);
        return 0;
    }
    try {
        let mapping: Mapping = mappingSchema.parse({});
        if (opts.mapping !== undefined) {
            if (!fs.existsSync(opts.mapping)) throw new Error(`--mapping ${opts.mapping}: no such file`);
            mapping = parseMapping(fs.readFileSync(opts.mapping, "utf8"), opts.mapping);
        }
        const kv = new KvClient(connectionFromEnv());
        const result = await migrate(opts, mapping, {
            kv,
            decrypt: (file, format) => decryptFile(file, format),
            out: (line) => console.log(line),
        });
        return result.exitCode;
    } catch (err) {
        return failed("migrate", err, "nothing written");
    }
}

runCommand("migrate", main);
