import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { markdownPages, readPage } from "../support/docs";

const root = path.join(__dirname, "..", "..");
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");

/** The lines of a page outside fenced code blocks. */
function prose(text: string): string[] {
    let fenced = false;
    return text.split("\n").filter((line) => {
        if (line.startsWith("```")) fenced = !fenced;
        return !fenced && !line.startsWith("```");
    });
}

/** The relative link targets of a page (no URLs, no mail), as written. */
function relativeLinks(text: string): string[] {
    return prose(text)
        .flatMap((line) => [...line.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]))
        .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** GitHub's anchors of a page's headings (code marks and punctuation dropped, repeats numbered). */
function anchors(text: string): Set<string> {
    const seen = new Map<string, number>();
    const out = new Set<string>();
    for (const line of prose(text)) {
        const heading = /^#{1,6} (.*)$/.exec(line);
        if (heading === null) continue;
        const base = heading[1]
            .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
            .toLowerCase()
            .replace(/[^\p{L}\p{N}\s_-]/gu, "")
            .replace(/ /g, "-");
        const n = seen.get(base) ?? 0;
        seen.set(base, n + 1);
        out.add(n === 0 ? base : `${base}-${n}`);
    }
    return out;
}

/** Where a link from `page` points: a repository path (posix) and its anchor, if any. */
function resolve(page: string, target: string): { file: string; anchor?: string } {
    const [file, anchor] = target.split("#", 2);
    const resolved = file === "" ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), file));
    return { file: resolved.replace(/\/$/, ""), anchor };
}

describe("README", () => {
    it("is read in ten minutes: at most 250 lines", () => {
        const lines = readme.split("\n").length - (readme.endsWith("\n") ? 1 : 0);
        assert.ok(lines <= 250, `README.md has ${lines} lines`);
    });

    it("links every docs/ page, from its index or from a page the index links", () => {
        const linked = (page: string) =>
            relativeLinks(readPage(page))
                .map((target) => resolve(page, target).file)
                .filter((file) => file.endsWith(".md"));
        const first = linked("README.md");
        const reached = new Set([...first, ...first.filter((f) => fs.existsSync(path.join(root, f))).flatMap(linked)]);
        const pages = markdownPages().filter((p) => p.startsWith("docs/") || p === "CONTRIBUTING.md");
        assert.deepEqual(
            pages.filter((p) => !reached.has(p)),
            [],
        );
    });

    it("keeps the quick start in the order a user runs it, with the two set-up commands CI uses", () => {
        // install, the stack file, its offline plan, the state and secrets, then up.
        const order = [
            "\nnpm ci\n",
            "npm run new-stack -- ",
            "\nnpm run plan -- --stack amiya\n",
            "export PULUMI_CONFIG_PASSPHRASE=",
            "pulumi login file://",
            "pulumi stack init amiya",
            "pulumi config set --stack amiya --secret",
            "\npulumi up --stack amiya\n",
        ].map((step) => readme.indexOf(step));
        assert.ok(
            order.every((at) => at > 0),
            `every step is in the README: ${order.join(", ")}`,
        );
        assert.deepEqual(
            order,
            [...order].sort((a, b) => a - b),
        );
        // No secret value on a command line: the CLI prompts for it.
        const commands = readme.split("\n").filter((l) => l.startsWith("pulumi config set") && l.includes("--secret"));
        assert.ok(commands.length >= 2);
        for (const line of commands) {
            assert.match(line, /--secret \w+(\s+#.*)?$/, `a value on the command line: ${line}`);
        }
        assert.match(readme, /\nnpm test\n|`npm test`/);
        const ci = fs.readFileSync(path.join(root, ".ci", "run"), "utf8");
        assert.match(ci, /^npm ci\b/m);
        assert.match(ci, /^npm test$/m);
    });

    it("has a prerequisites checklist before the quick start", () => {
        const prerequisites = readme.indexOf("## Prerequisites");
        const quickStart = readme.indexOf("## Quick start");
        assert.ok(prerequisites > 0 && prerequisites < quickStart);
        const checklist = readme.slice(prerequisites, quickStart);
        for (const item of [
            "StorageClass",
            "NetworkPolicy",
            "ingress controller",
            "cert-manager",
            "External Secrets Operator",
            "OIDC provider",
            "DNS name",
        ]) {
            assert.ok(checklist.includes(item), `the checklist does not name ${item}`);
        }
        assert.ok((checklist.match(/^- \[ \] /gm) ?? []).length >= 8);
    });
});

/**
 * The secret values a `pulumi config set --secret` on this line would take from the command line (where they
 * land in shell history and the process list): its words past the key, flags and their values left out.
 */
function secretValuesOnCommandLine(line: string): string[] {
    const values: string[] = [];
    for (const m of line.matchAll(/pulumi config set([^`#(;|]*)/g)) {
        const words = m[1]
            .trim()
            .split(/\s+/)
            .filter((w) => w !== "");
        if (!words.includes("--secret")) continue;
        const positional: string[] = [];
        for (let i = 0; i < words.length; i++) {
            if (words[i] === "--stack" || words[i] === "-s") i++;
            else if (!words[i].startsWith("-")) positional.push(words[i]);
        }
        values.push(...positional.slice(1));
    }
    // A token in an env assignment, or generate-root's encoded token (with the OTP: the root token), as arguments.
    values.push(...[...line.matchAll(/\bVAULT_TOKEN=([^\s`]+)/g)].map((m) => m[1]));
    values.push(...[...line.matchAll(/generate-root\b[^`#]*-decode=([^-\s`][^\s`]*)/g)].map((m) => m[1]));
    return values;
}

describe("secrets on the command line (#23 item 7)", () => {
    it("no page or stack file puts a secret value, a Vault token or an encoded root token on a command line", () => {
        // Positive controls: the check sees a value, with or without --stack, and lets a prompted key through.
        assert.deepEqual(secretValuesOnCommandLine("Set with `pulumi config set --secret <key> <value>`;"), [
            "<value>",
        ]);
        assert.deepEqual(secretValuesOnCommandLine("pulumi config set --stack amiya --secret vaultToken s.abc"), [
            "s.abc",
        ]);
        assert.deepEqual(
            secretValuesOnCommandLine("pulumi config set --secret vaultToken --stack amiya   # prompts"),
            [],
        );
        assert.deepEqual(secretValuesOnCommandLine("`VAULT_TOKEN=<root token> vault operator raft snapshot restore`"), [
            "<root",
        ]);
        assert.deepEqual(secretValuesOnCommandLine("vault operator generate-root -decode=<encoded> -otp=<otp>"), [
            "<encoded>",
        ]);
        assert.deepEqual(secretValuesOnCommandLine("vault operator generate-root -decode=- -otp=<otp>"), []);
        const offenders = [...markdownPages(), "Pulumi.amiya.yaml"].flatMap((page) =>
            readPage(page)
                .split("\n")
                .filter((line) => secretValuesOnCommandLine(line).length > 0)
                .map((line) => `${page}: ${line.trim()}`),
        );
        assert.deepEqual(offenders, []);
    });
});

describe("links between the pages", () => {
    for (const page of markdownPages()) {
        it(`${page}: every relative link names a file that exists (and a heading it has)`, () => {
            const broken = relativeLinks(readPage(page)).filter((target) => {
                const { file, anchor } = resolve(page, target);
                const full = path.join(root, file);
                if (!fs.existsSync(full)) return true;
                if (anchor === undefined || !file.endsWith(".md")) return false;
                return !anchors(fs.readFileSync(full, "utf8")).has(anchor);
            });
            assert.deepEqual(broken, []);
        });
    }
});

describe("docs/threat-model.md", () => {
    const text = fs.readFileSync(path.join(root, "docs", "threat-model.md"), "utf8").replace(/\s*\n\s*/g, " ");

    it('names tests that exist: every `file`: "title" reference is a spec with that title', () => {
        const refs = [...text.matchAll(/`(test\/[\w/.-]+\.ts)`: ((?:"[^"]+"(?:, )?)+)/g)];
        assert.ok(refs.length >= 8, `only ${refs.length} test references`);
        for (const [, file, titles] of refs) {
            const spec = fs.readFileSync(path.join(root, file), "utf8").replace(/\s*\n\s*/g, " ");
            for (const [, title] of titles.matchAll(/"([^"]+)"/g)) {
                // A title cut short with "…" must match the start of a real one.
                const wanted = title.replace(/\s*…$/, "");
                assert.ok(spec.includes(wanted), `${file} has no test "${wanted}"`);
            }
        }
    });
});
