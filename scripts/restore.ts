/**
 * `npm run restore -- --bucket <b> --prefix <p/> --to <ISO time> [--dry-run]
 * [--endpoint <url>] [--region <r>] [--force-path-style]`: rolls Vault's S3
 * storage prefix back to a point in time.
 * `npm run restore -- kv-import --file <export> --identity <key file> ...`:
 * replays an encrypted KV export into a Vault (docs/disaster-recovery.md).
 */
import { failed, runCommand } from "../ops/command";
import { KV_IMPORT_USAGE, parseKvImportArgs, runKvImport } from "../ops/backup/import-cli";
import { parseRestoreArgs, restore, RESTORE_USAGE, s3Client } from "../ops/restore";

async function kvImport(argv: string[]): Promise<number> {
    if (argv.includes("--help") || argv.includes("-h")) {
        console.log(KV_IMPORT_USAGE);
        return 0;
    }
    let opts;
    try {
        opts = parseKvImportArgs(argv);
    } catch (err) {
        console.error(`restore kv-import: ${(err as Error).message}\n\n${KV_IMPORT_USAGE}`);
        return 1;
    }
    try {
        return await runKvImport(opts, (line) => console.log(line));
    } catch (err) {
        return failed(
            "restore kv-import",
            err,
            "re-run after fixing it: secrets already imported are refused unless --skip-existing",
        );
    }
}

async function main(): Promise<number> {
    const argv = process.argv.slice(2);
    if (argv[0] === "kv-import") return kvImport(argv.slice(1));
    if (argv.includes("--help") || argv.includes("-h")) {
        console.log(`${RESTORE_USAGE}\n\n${KV_IMPORT_USAGE}`);
        return 0;
    }
    let opts;
    try {
        opts = parseRestoreArgs(argv);
    } catch (err) {
        console.error(`restore: ${(err as Error).message}\n\n${RESTORE_USAGE}\n\n${KV_IMPORT_USAGE}`);
        return 1;
    }
    try {
        return await restore(opts, s3Client(opts), (line) => console.log(line));
    } catch (err) {
        return failed("restore", err, "nothing changed");
    }
}

runCommand("restore", main);
