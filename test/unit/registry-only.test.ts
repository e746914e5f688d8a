/**
 * The project builds and runs only what the package registries serve (npm,
 * the Go module proxy, Debian) and data files from the reference folder. No
 * tracked file may name a source archive or the variable that once pointed at
 * a folder of them: a script step, a doc line or a CI setting that would
 * build code taken from a repository snapshot fails here.
 *
 * The patterns are assembled from parts, so this file does not name what it
 * forbids.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..");

/** What a recipe for building from a source archive looks like, each with why it is refused. */
const FORBIDDEN: readonly { pattern: RegExp; what: string }[] = [
    { pattern: new RegExp(["SECRET", "PLATFORM", "SOURCES"].join("_")), what: "the source-archive folder variable" },
    { pattern: new RegExp(["shared", "sources"].join("/")), what: "the shared source-archive folder" },
    { pattern: new RegExp(["archive", "refs", "(tags|heads)"].join("/")), what: "a repository's tag archive URL" },
    { pattern: new RegExp(["codeload", "github", "com"].join("\\.")), what: "a repository's archive host" },
    {
        pattern: new RegExp(`(pulumi-vault|external-secrets|terraform-provider-vault)-v?[0-9.]+\\.(tar\\.gz|tgz|zip)`),
        what: "a source archive of a tool with no registry route",
    },
];

/** Files git tracks, text only (the lock file is npm's registry record, not a recipe). */
function trackedTextFiles(): string[] {
    return execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" })
        .split("\0")
        .filter((f) => f !== "" && f !== "package-lock.json" && fs.existsSync(path.join(ROOT, f)))
        .filter((f) => !fs.readFileSync(path.join(ROOT, f)).includes(0));
}

/** Every line of `files` that matches a forbidden pattern, as `file:line: what`. */
export function forbiddenLines(files: readonly string[], read: (f: string) => string): string[] {
    const found: string[] = [];
    for (const file of files) {
        read(file)
            .split("\n")
            .forEach((line, i) => {
                for (const { pattern, what } of FORBIDDEN) {
                    if (pattern.test(line)) found.push(`${file}:${i + 1}: ${what}`);
                }
            });
    }
    return found;
}

describe("registry-only builds: no tracked file names a source archive", () => {
    it("finds none in the repository", () => {
        const files = trackedTextFiles();
        assert.ok(files.length > 100, `expected the repository's files, got ${files.length}`);
        assert.deepEqual(
            forbiddenLines(files, (f) => fs.readFileSync(path.join(ROOT, f), "utf8")),
            [],
        );
    });

    it("names each kind of recipe it refuses (so the check above can fail)", () => {
        const planted: Record<string, string> = {
            "a.sh": `tar -xzf "$${["SECRET", "PLATFORM", "SOURCES"].join("_")}/x.tar.gz"`,
            "b.md": `copy it from ../${["shared", "sources"].join("/")}/`,
            "c.sh": `curl -O https://github.com/o/r/${["archive", "refs", "tags"].join("/")}/v1.tar.gz`,
            "d.yml": `url: https://${["codeload", "github", "com"].join(".")}/o/r/tar.gz/v1`,
            "e.sh": `tar -xzf ${"external-secrets"}-2.9.0.tar.gz`,
            "f.ts": `const fine = "npm ci --no-audit"; // a registry install is fine`,
        };
        assert.deepEqual(
            forbiddenLines(Object.keys(planted), (f) => planted[f]),
            [
                "a.sh:1: the source-archive folder variable",
                "b.md:1: the shared source-archive folder",
                "c.sh:1: a repository's tag archive URL",
                "d.yml:1: a repository's archive host",
                "e.sh:1: a source archive of a tool with no registry route",
            ],
        );
    });
});
