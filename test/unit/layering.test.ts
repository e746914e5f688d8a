/**
 * The product (the Pulumi program, ops/, scripts/, policies/) never depends on
 * test code: test/ and e2e/ may import the product, not the other way round.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";

const root = path.join(__dirname, "..", "..");
/** Test code: may import anything. Everything else under the root is product code. */
const TEST_DIRS = ["test", "e2e"];
const SKIPPED = new Set(["node_modules", "bin", ".git", ...TEST_DIRS]);

function productFiles(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) return SKIPPED.has(entry.name) && dir === root ? [] : productFiles(full);
        return /\.(ts|js|mjs|cjs)$/.test(entry.name) && !entry.name.endsWith(".d.ts") ? [full] : [];
    });
}

/** Module specifiers of import/export ... from, import(), require(). */
function specifiers(source: string): string[] {
    const found: string[] = [];
    const patterns = [
        /\bfrom\s+["']([^"']+)["']/g,
        /\bimport\s*\(\s*["']([^"']+)["']/g,
        /\brequire\s*\(\s*["']([^"']+)["']/g,
    ];
    for (const p of patterns) for (const m of source.matchAll(p)) found.push(m[1]);
    // import "x"; (side effects only)
    for (const m of source.matchAll(/^\s*import\s+["']([^"']+)["']/gm)) found.push(m[1]);
    return found;
}

function isTestCode(file: string): boolean {
    const rel = path.relative(root, file).split(path.sep);
    return rel[0] !== ".." && TEST_DIRS.includes(rel[0]);
}

describe("layering", () => {
    it("finds the product's files", () => {
        const files = productFiles(root).map((f) => path.relative(root, f));
        for (const expected of ["index.ts", path.join("ops", "plan", "record.ts"), path.join("scripts", "plan.ts")]) {
            assert.ok(files.includes(expected), `${expected} is not among the product files`);
        }
    });

    it("no product file imports test code (test/, e2e/)", () => {
        const offending: string[] = [];
        for (const file of productFiles(root)) {
            for (const spec of specifiers(fs.readFileSync(file, "utf8"))) {
                if (!spec.startsWith(".")) continue;
                if (isTestCode(path.resolve(path.dirname(file), spec))) {
                    offending.push(`${path.relative(root, file)} imports ${spec}`);
                }
            }
        }
        assert.deepEqual(offending, [], "the product must not depend on test code: move what it needs out of test/");
    });
});
