/**
 * `node --import tsx e2e/compare-vault-state.ts <a.json> <b.json>`: compares
 * two of the e2e's Vault snapshots (e2e/vault-state.ts) object by object,
 * prints each object that differs with both sides, and exits 1 when any does.
 * The GitHub e2e workflow compares the stand-in's run with the official
 * plugin's.
 */
import * as fs from "fs";
import { differingObjects, VaultObjects } from "./vault-state";

function main(argv: readonly string[]): number {
    if (argv.length !== 2) {
        console.error("usage: node --import tsx e2e/compare-vault-state.ts <a.json> <b.json>");
        return 2;
    }
    const [a, b] = argv.map((f) => JSON.parse(fs.readFileSync(f, "utf8")) as VaultObjects);
    const differing = differingObjects(a, b);
    for (const p of differing) {
        console.log(`differs: ${p}\n  ${argv[0]}: ${JSON.stringify(a[p])}\n  ${argv[1]}: ${JSON.stringify(b[p])}`);
    }
    console.log(
        `compare-vault-state: ${Object.keys(a).length} and ${Object.keys(b).length} objects, ${differing.length} differing`,
    );
    return differing.length === 0 ? 0 : 1;
}

process.exit(main(process.argv.slice(2)));
