/**
 * The docs name files of the repository (`components/unseal.sh`,
 * `ops/plan/mocks.ts`, ...): every such path must exist, so a move or a
 * rename that forgets a page fails here instead of misleading a reader.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";

const root = path.join(__dirname, "..", "..");
/** The top-level folders whose paths the docs name. */
const TOP = ["components/", "ops/", "scripts/", "test/", "docs/", "policies/", "e2e/", ".github/", ".ci/"];

function markdownFiles(): string[] {
    const walk = (dir: string): string[] =>
        fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
            const full = path.join(dir, e.name);
            return e.isDirectory() ? walk(full) : e.name.endsWith(".md") ? [full] : [];
        });
    const top = fs.readdirSync(root).filter((f) => f.endsWith(".md"));
    return [...top.map((f) => path.join(root, f)), ...walk(path.join(root, "docs"))];
}

describe("docs name only paths that exist", () => {
    it("every `path` in backticks under a top-level folder exists (placeholders and globs aside)", () => {
        const missing: string[] = [];
        for (const file of markdownFiles()) {
            fs.readFileSync(file, "utf8")
                .split("\n")
                .forEach((line, i) => {
                    for (const m of line.matchAll(/`([^`\s]+)`/g)) {
                        const named = m[1];
                        if (!TOP.some((t) => named.startsWith(t)) || /[<>*{}$]/.test(named)) continue;
                        const target = named.replace(/[:#].*$/, "");
                        if (!fs.existsSync(path.join(root, target))) {
                            missing.push(`${path.relative(root, file)}:${i + 1}: ${named}`);
                        }
                    }
                });
        }
        assert.deepEqual(missing, []);
    });
});
