// `npm run backup:bundle`: writes components/kv-export.cjs, the KV backup
// job's export step as one file (ops/backup/bundle.ts). Run it after changing
// ops/backup/ or components/lib/vault-api.ts, and commit the result.
import * as fs from "node:fs";
import * as path from "node:path";
import { BUNDLE_FILE, bundleExportJob } from "../ops/backup/bundle";

async function main(): Promise<void> {
    const next = await bundleExportJob();
    const same = fs.existsSync(BUNDLE_FILE) && fs.readFileSync(BUNDLE_FILE, "utf8") === next;
    if (!same) fs.writeFileSync(BUNDLE_FILE, next);
    console.log(
        `${path.relative(process.cwd(), BUNDLE_FILE)}: ${same ? "unchanged" : "written"} (${next.length} bytes)`,
    );
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
});
