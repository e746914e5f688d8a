/**
 * `npm run restore -- --bucket <b> --prefix <p/> --to <ISO time> [--dry-run]
 * [--endpoint <url>] [--region <r>] [--force-path-style]`: rolls Vault's S3
 * storage prefix back to a point in time (docs/disaster-recovery.md).
 */
import { failed, runCommand } from "../ops/command";
import { parseRestoreArgs, restore, RESTORE_USAGE, s3Client } from "../ops/restore";

async function main(): Promise<number> {
    const argv = process.argv.slice(2);
    if (argv.includes("--help") || argv.includes("-h")) {
        console.log(RESTORE_USAGE);
        return 0;
    }
    let opts;
    try {
        opts = parseRestoreArgs(argv);
    } catch (err) {
        console.error(`restore: ${(err as Error).message}\n\n${RESTORE_USAGE}`);
        return 1;
    }
    try {
        return await restore(opts, s3Client(opts), (line) => console.log(line));
    } catch (err) {
        return failed("restore", err, "nothing changed");
    }
}

runCommand("restore", main);
