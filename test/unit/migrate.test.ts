/**
 * The migration tool's pure parts (argv, mapping, decisions) and its run
 * against an in-memory KV v2 fake that keeps versions and check-and-set like
 * Vault. The real sops + Vault path is test/integration/migrate.test.ts.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "../../ops/migrate/args";
import {
    appFromFile,
    flatten,
    gitBlobId,
    globToRegExp,
    mapFile,
    mappingSchema,
    parseMapping,
    secretNameFromFile,
} from "../../ops/migrate/mapping";
import { decide, META, TOOL_NAME } from "../../ops/migrate/plan";
import { KvApi, migrate } from "../../ops/migrate/run";
import { detectFormat, findSopsFiles, sopsFileFormat, sopsFormatOf } from "../../ops/migrate/sops";
import { spawnSync } from "node:child_process";
import { connectionFromEnv, KvMetadata, VaultError } from "../../ops/migrate/kv-client";

const DEFAULTS = mappingSchema.parse({});

/** What sops writes, as far as the tool reads it: its metadata (a `sops:` mapping with a mac, or `sops_mac=`). */
function sopsText(file: string): string {
    if (file.endsWith(".env")) return `KEY=ENC[AES256_GCM,data:x,type:str]\nsops_mac=ENC[AES256_GCM,data:${file}]\n`;
    if (file.endsWith(".json")) return `${JSON.stringify({ k: "ENC[AES256_GCM,data:x]", sops: { mac: file } })}\n`;
    return `k: ENC[AES256_GCM,data:x]\nsops:\n    mac: ENC[AES256_GCM,data:${file}]\n`;
}

describe("migrate: arguments", () => {
    it("parses flags, values and files", () => {
        assert.deepEqual(
            parseArgs([
                "--dry-run",
                "--mapping",
                "m.yaml",
                "--mount=amiya.akn",
                "a.yaml",
                "--force",
                "--",
                "--odd.env",
            ]),
            {
                dryRun: true,
                force: true,
                help: false,
                files: ["a.yaml", "--odd.env"],
                find: [],
                mapping: "m.yaml",
                mount: "amiya.akn",
                owner: undefined,
            },
        );
    });
    it("rejects a token on the command line, unknown flags, missing values and no files", () => {
        assert.throws(
            () => parseArgs(["--token", "s.x", "a.yaml"]),
            /^Error: --token: pass the token in VAULT_TOKEN \(or ~\/\.vault-token\), never on the command line$/,
        );
        assert.throws(() => parseArgs(["--bogus", "a.yaml"]), /^Error: unknown option --bogus$/);
        assert.throws(() => parseArgs(["a.yaml", "--mount"]), /^Error: --mount needs a value$/);
        assert.throws(() => parseArgs(["--mount", "--force", "a.yaml"]), /^Error: --mount needs a value$/);
        assert.throws(() => parseArgs(["--dry-run"]), /^Error: no SOPS files given \(name them, or --find <dir>\)$/);
        assert.deepEqual(parseArgs(["--find", "apps", "--find=infra"]).find, ["apps", "infra"]);
        assert.equal(parseArgs(["--help"]).help, true);
    });
    it("takes Vault's address and token from the environment only", () => {
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "home-"));
        try {
            assert.throws(() => connectionFromEnv({ HOME: home }), /^Error: VAULT_ADDR is not set/);
            assert.throws(
                () => connectionFromEnv({ HOME: home, VAULT_ADDR: "http://127.0.0.1:8200" }),
                /^Error: no Vault token: set VAULT_TOKEN or run `vault login` \(~\/\.vault-token\)$/,
            );
            fs.writeFileSync(path.join(home, ".vault-token"), "hvs.file\n");
            assert.deepEqual(connectionFromEnv({ HOME: home, VAULT_ADDR: "http://127.0.0.1:8200/" }), {
                address: "http://127.0.0.1:8200",
                token: "hvs.file",
                namespace: undefined,
                caBundle: undefined,
            });
            // VAULT_CACERT, as the vault CLI reads it: relative to where the command ran, a PEM file.
            fs.writeFileSync(
                path.join(home, "ca.pem"),
                "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            );
            const withCa = { HOME: home, VAULT_ADDR: "https://v", VAULT_TOKEN: "t", VAULT_CACERT: "ca.pem" };
            assert.equal(connectionFromEnv(withCa, home).caBundle?.startsWith("-----BEGIN CERTIFICATE-----"), true);
            assert.throws(
                () => connectionFromEnv({ ...withCa, VAULT_CACERT: "nope.pem" }, home),
                /^Error: VAULT_CACERT nope\.pem: no such file$/,
            );
            assert.equal(
                connectionFromEnv({ HOME: home, VAULT_ADDR: "https://v", VAULT_TOKEN: "hvs.env" }).token,
                "hvs.env",
            );
            assert.throws(
                () => connectionFromEnv({ VAULT_ADDR: "vault:8200", VAULT_TOKEN: "t" }),
                /must be an http\(s\) URL/,
            );
        } finally {
            fs.rmSync(home, { recursive: true, force: true });
        }
    });
});

describe("migrate: mapping", () => {
    it("detects the format from the last known extension", () => {
        assert.equal(detectFormat("apps/grafana/admin.sops.yaml"), "yaml");
        assert.equal(detectFormat("x/app.env.sops.json"), "json");
        assert.equal(detectFormat("x/.env"), "dotenv");
        assert.equal(detectFormat("x/prod.enc.env"), "dotenv");
        assert.throws(
            () => detectFormat("x/key.pem"),
            /^Error: x\/key\.pem: unknown format \(expected a \.yaml, \.yml, \.json or \.env file\)$/,
        );
    });
    it("derives app and secret from the path, category from the defaults", () => {
        assert.equal(appFromFile("apps/grafana/secrets/admin.sops.yaml"), "grafana");
        assert.equal(appFromFile("admin.sops.yaml"), undefined);
        assert.equal(secretNameFromFile("apps/grafana/admin-creds.enc.yaml"), "admin-creds");
        assert.equal(secretNameFromFile("apps/api/.env"), "env");
        const t = mapFile(
            "apps/grafana/secrets/admin.sops.yaml",
            { user: "admin", pass: "s3cr3t" },
            DEFAULTS,
            "amiya.akn",
            "ops",
        );
        assert.deepEqual(t, {
            file: "apps/grafana/secrets/admin.sops.yaml",
            mount: "amiya.akn",
            path: "grafana/default/admin",
            owner: "ops",
            data: { user: "admin", pass: "s3cr3t" },
        });
    });
    it("flattens nested maps with dots and keeps non-strings as JSON text", () => {
        assert.deepEqual(
            flatten({ db: { user: "u", port: 5432, tls: true }, list: [1, "a"], none: null, s: "x" }, "f"),
            {
                "db.user": "u",
                "db.port": "5432",
                "db.tls": "true",
                list: '[1,"a"]',
                none: "",
                s: "x",
            },
        );
        assert.throws(
            () => flatten({ "a.b": "1", a: { b: "2" } }, "f.yaml"),
            /^Error: f\.yaml: key a\.b appears twice after flattening nested maps$/,
        );
    });
    it("reads a Kubernetes Secret manifest: namespace, name, stringData and decoded data", () => {
        const doc = {
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: "grafana-admin", namespace: "monitoring" },
            type: "Opaque",
            data: { password: Buffer.from("pä$$\nword").toString("base64"), user: Buffer.from("x").toString("base64") },
            stringData: { user: "admin" },
        };
        const t = mapFile("clusters/amiya/monitoring/grafana.sops.yaml", doc, DEFAULTS, "amiya.akn");
        assert.equal(t.path, "monitoring/default/grafana-admin");
        assert.deepEqual(t.data, { password: "pä$$\nword", user: "admin" });
        const binary = {
            ...doc,
            data: { key: Buffer.from([0xff, 0xfe, 0x00]).toString("base64") },
            stringData: undefined,
        };
        assert.throws(
            () => mapFile("s.yaml", binary, DEFAULTS, "m"),
            /^Error: s\.yaml: data\.key is binary \(not UTF-8\); KV v2 holds text: add it by hand$/,
        );
    });
    it("applies the first matching rule: path parts, mount, owner, key renames", () => {
        const mapping = parseMapping(
            [
                "mount: amiya.akn",
                "owner: platform",
                "category: app",
                "rules:",
                "  - match: 'shared/**/*.sops.yaml'",
                "    mount: shared",
                "    app: common",
                "    category: registry",
                "    owner: infra",
                "    keys: { DOCKER_PASSWORD: password, DOCKER_USER: username }",
                "  - match: 'apps/*/db.env'",
                "    category: database",
            ].join("\n"),
            "map.yaml",
        );
        const a = mapFile("shared/x/y/ghcr.sops.yaml", { DOCKER_PASSWORD: "p", DOCKER_USER: "u", OTHER: "o" }, mapping);
        assert.deepEqual(a, {
            file: "shared/x/y/ghcr.sops.yaml",
            mount: "shared",
            path: "common/registry/ghcr",
            owner: "infra",
            data: { password: "p", username: "u" },
        });
        const b = mapFile("apps/api/db.env", { URL: "postgres://" }, mapping, undefined, undefined);
        assert.equal(`${b.mount}/${b.path}`, "amiya.akn/api/database/db");
        assert.equal(b.owner, "platform");
        // --mount beats the file's default, not a rule's mount.
        assert.equal(mapFile("apps/api/db.env", { URL: "x" }, mapping, "other").mount, "other");
        assert.equal(
            mapFile("shared/ghcr.sops.yaml", { DOCKER_PASSWORD: "p", DOCKER_USER: "u" }, mapping, "other").mount,
            "shared",
        );
        assert.throws(
            () => mapFile("shared/ghcr.sops.yaml", { DOCKER_USER: "u" }, mapping),
            /^Error: shared\/ghcr\.sops\.yaml: mapping rule 'shared\/\*\*\/\*\.sops\.yaml' names key DOCKER_PASSWORD, which the file lacks$/,
        );
    });
    it("says what cannot be derived, and rejects bad segments and bad mapping files", () => {
        assert.throws(
            () => mapFile("admin.yaml", { a: "1" }, DEFAULTS, "m"),
            /^Error: admin\.yaml: cannot derive the app: set app in a mapping rule$/,
        );
        assert.throws(
            () => mapFile("apps/x/a.yaml", { a: "1" }, DEFAULTS),
            /^Error: apps\/x\/a\.yaml: cannot derive the mount: pass --mount <cluster name> or set mount in the mapping file$/,
        );
        assert.throws(
            () => mapFile("apps/x y/a.yaml", { a: "1" }, DEFAULTS, "m"),
            /^Error: apps\/x y\/a\.yaml: app 'x y' must be one path segment/,
        );
        assert.throws(() => mapFile("apps/x/a.yaml", ["a"], DEFAULTS, "m"), /is not a map of keys/);
        assert.throws(
            () => mapFile("apps/x/a.yaml", {}, DEFAULTS, "m"),
            /^Error: apps\/x\/a\.yaml: no keys to migrate$/,
        );
        assert.throws(
            () => parseMapping("mount: a/b\nrules:\n  - match: x\n    colour: red\n", "m.yaml"),
            (err: Error) =>
                /m\.yaml: mount: must be one path segment/.test(err.message) &&
                /m\.yaml: rules\.0: Unrecognized key: "colour"/.test(err.message),
        );
    });
    it("matches globs like a shell, ** across directories", () => {
        assert.ok(globToRegExp("apps/*/x.yaml").test("apps/a/x.yaml"));
        assert.ok(!globToRegExp("apps/*/x.yaml").test("apps/a/b/x.yaml"));
        assert.ok(globToRegExp("apps/**/x.yaml").test("apps/x.yaml"));
        assert.ok(globToRegExp("apps/**/x.yaml").test("apps/a/b/x.yaml"));
        assert.ok(!globToRegExp("a.yaml").test("aXyaml"));
    });
    it("records the encrypted file's git blob id", () => {
        // `printf 'hello\n' | git hash-object --stdin`
        assert.equal(gitBlobId(Buffer.from("hello\n")), "ce013625030ba8dba906f756967f9e9ca394464a");
    });
});

function meta(version: number, custom: Record<string, string>, deleted = false): KvMetadata {
    return { currentVersion: version, currentDeleted: deleted, customMetadata: custom };
}

describe("migrate: decisions", () => {
    const want = { a: "1", b: "2" };
    const wantMeta = { [META.origin]: "f.yaml", [META.source]: "abc", [META.tool]: TOOL_NAME };
    const imported = (v: number) => ({ ...wantMeta, [META.version]: String(v) });

    it("creates a new secret with cas 0", () => {
        assert.deepEqual(decide(want, wantMeta, undefined, undefined, false), {
            action: "create",
            cas: 0,
            reason: "new secret",
        });
    });
    it("leaves equal data alone; records missing or stale import metadata without a new version", () => {
        assert.equal(decide(want, wantMeta, meta(3, imported(3)), { b: "2", a: "1" }, false).action, "unchanged");
        assert.deepEqual(decide(want, wantMeta, meta(3, {}), { a: "1", b: "2" }, false), {
            action: "metadata",
            reason: "same data (v3); import metadata recorded",
        });
        assert.equal(
            decide(want, wantMeta, meta(3, { ...imported(3), [META.source]: "new" }), want, false).action,
            "metadata",
        );
    });
    it("updates with cas = the current version when Vault still holds the imported version", () => {
        assert.deepEqual(decide(want, wantMeta, meta(3, imported(3)), { a: "1", b: "old" }, false), {
            action: "update",
            cas: 3,
            reason: "v3 -> v4",
        });
    });
    it("reports conflicts (changed, deleted, hand-made, non-string) and overrides them only with --force", () => {
        assert.deepEqual(decide(want, wantMeta, meta(4, imported(3)), { a: "edited", b: "2" }, false), {
            action: "conflict",
            reason: "changed in Vault since the import (now v4, imported v3); left alone (--force overwrites)",
        });
        assert.deepEqual(decide(want, wantMeta, meta(4, imported(3)), { a: "edited", b: "2" }, true), {
            action: "update",
            cas: 4,
            reason: "changed in Vault since the import (now v4, imported v3); --force",
            forced: true,
        });
        assert.equal(
            decide(want, wantMeta, meta(3, imported(3), true), undefined, false).reason,
            "v3 deleted in Vault; left alone (--force overwrites)",
        );
        assert.equal(
            decide(want, wantMeta, meta(1, {}), { a: "x" }, false).reason,
            "exists in Vault (v1), not imported by this tool; left alone (--force overwrites)",
        );
        assert.equal(decide({ n: "1" }, wantMeta, meta(1, {}), { n: 1 }, false).action, "conflict");
    });
});

/** An in-memory KV v2 with versions, check-and-set and custom metadata, like Vault's. */
class FakeKv implements KvApi {
    readonly secrets = new Map<string, { versions: Record<string, string>[]; custom: Record<string, string> }>();
    readonly calls: string[] = [];
    failWrite?: string;
    mounts = new Set(["amiya.akn"]);

    async checkKv2Mount(mount: string) {
        this.calls.push(`mount ${mount}`);
        if (!this.mounts.has(mount)) throw new Error(`mount ${mount} is not a KV v2 mount (type ?, version ?)`);
    }
    async readMetadata(mount: string, p: string) {
        const s = this.secrets.get(`${mount}/${p}`);
        return s === undefined ? undefined : meta(s.versions.length, { ...s.custom });
    }
    async readData(mount: string, p: string) {
        const s = this.secrets.get(`${mount}/${p}`);
        return s === undefined ? undefined : { ...s.versions[s.versions.length - 1] };
    }
    async write(mount: string, p: string, data: Record<string, string>, cas: number) {
        this.calls.push(`write ${mount}/${p} cas=${cas}`);
        if (this.failWrite === p) throw new VaultError(`POST ${mount}/data/${p}: HTTP 500: internal error`, 500);
        const key = `${mount}/${p}`;
        const s = this.secrets.get(key) ?? { versions: [], custom: {} };
        if (cas !== s.versions.length) {
            throw new VaultError(
                `POST ${mount}/data/${p}: HTTP 400: check-and-set parameter did not match the current version`,
                400,
            );
        }
        s.versions.push({ ...data });
        this.secrets.set(key, s);
        return s.versions.length;
    }
    async patchCustomMetadata(mount: string, p: string, custom: Record<string, string>) {
        this.calls.push(`metadata ${mount}/${p}`);
        const s = this.secrets.get(`${mount}/${p}`);
        if (s === undefined) throw new Error("no such secret");
        Object.assign(s.custom, custom);
    }
}

describe("migrate: run", () => {
    let dir: string;
    let kv: FakeKv;
    let lines: string[];
    const docs: Record<string, unknown> = {
        "apps/grafana/admin.sops.yaml": { user: "admin", password: "VALUE-grafana-pw" },
        "apps/api/db.sops.env": { DB_URL: "VALUE-postgres://u:p@db/api" },
    };
    const files = Object.keys(docs);
    const secretValues = ["VALUE-grafana-pw", "VALUE-postgres://u:p@db/api"];

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "migrate-"));
        for (const f of files) {
            fs.mkdirSync(path.join(dir, path.dirname(f)), { recursive: true });
            fs.writeFileSync(path.join(dir, f), sopsText(f));
        }
        kv = new FakeKv();
        lines = [];
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const run = (extra: Partial<Parameters<typeof parseArgs>[0]> = [], docsOverride = docs) =>
        migrate(parseArgs(["--mount", "amiya.akn", "--owner", "team-a", ...(extra as string[]), ...files]), DEFAULTS, {
            kv,
            cwd: dir,
            out: (l) => lines.push(l),
            decrypt: async (file) => {
                const rel = path.relative(dir, file);
                if (!(rel in docsOverride)) throw new Error(`${rel}: sops could not decrypt it: no key`);
                return structuredClone(docsOverride[rel]);
            },
        });

    const assertNoValues = () => {
        for (const v of secretValues) assert.ok(!lines.join("\n").includes(v), `output contains a value: ${v}`);
    };

    it("dry run: reads, prints the plan and a table, writes nothing", async () => {
        const res = await run(["--dry-run"]);
        assert.equal(res.exitCode, 0);
        assert.deepEqual(kv.calls, ["mount amiya.akn"]);
        assert.equal(kv.secrets.size, 0);
        assert.ok(lines.includes("plan amiya.akn/grafana/default/admin (2: password,user): create - new secret"));
        assert.ok(lines.includes("plan amiya.akn/api/default/db (1: DB_URL): create - new secret"));
        assert.equal(
            lines[lines.length - 1],
            "dry run, nothing written: written 0, metadata 0, unchanged 0, planned 2, conflicts 0, failed 0",
        );
        assertNoValues();
    });

    it("writes with cas 0 and records the import metadata; a second run writes nothing", async () => {
        const first = await run();
        assert.equal(first.exitCode, 0);
        assert.deepEqual(
            kv.calls.filter((c) => c.startsWith("write")),
            ["write amiya.akn/grafana/default/admin cas=0", "write amiya.akn/api/default/db cas=0"],
        );
        const s = kv.secrets.get("amiya.akn/grafana/default/admin");
        assert.deepEqual(s?.versions, [{ user: "admin", password: "VALUE-grafana-pw" }]);
        assert.deepEqual(s?.custom, {
            "migrated-from": "apps/grafana/admin.sops.yaml",
            "import-source": gitBlobId(Buffer.from(sopsText("apps/grafana/admin.sops.yaml"))),
            "imported-by": "secret-platform migrate",
            owner: "team-a",
            "import-version": "1",
        });
        assert.ok(lines.includes("[1/2] amiya.akn/grafana/default/admin: written v1"));
        assert.match(lines.find((l) => l.startsWith("PATH")) ?? "", /^PATH\s+KEYS\s+PLAN\s+RESULT\s+FILE$/);
        assertNoValues();

        kv.calls.length = 0;
        lines = [];
        const second = await run();
        assert.equal(second.exitCode, 0);
        assert.deepEqual(kv.calls, ["mount amiya.akn"]);
        assert.equal(lines[lines.length - 1], "written 0, metadata 0, unchanged 2, planned 0, conflicts 0, failed 0");
    });

    it("updates a changed file with cas; a Vault-side edit is a conflict (exit 2) until --force", async () => {
        await run();
        const changed = { ...docs, "apps/grafana/admin.sops.yaml": { user: "admin", password: "VALUE-grafana-pw2" } };
        lines = [];
        assert.equal((await run([], changed)).exitCode, 0);
        assert.ok(lines.includes("[1/1] amiya.akn/grafana/default/admin: written v2"));

        // Someone edits the secret in Vault.
        await kv.write("amiya.akn", "grafana/default/admin", { user: "admin", password: "VALUE-hand-edit" }, 2);
        kv.calls.length = 0;
        lines = [];
        const res = await run([], changed);
        assert.equal(res.exitCode, 3);
        assert.deepEqual(
            kv.calls.filter((c) => c.startsWith("write")),
            [],
        );
        assert.ok(
            lines.includes(
                "plan amiya.akn/grafana/default/admin (2: password,user): conflict - changed in Vault since the import (now v3, imported v2); left alone (--force overwrites)",
            ),
        );
        assert.equal(
            lines[lines.length - 1],
            "conflicts left alone: review them, then re-run with --force to overwrite",
        );
        assert.ok(!lines.join("\n").includes("VALUE-hand-edit"));

        kv.calls.length = 0;
        lines = [];
        assert.equal((await run(["--force"], changed)).exitCode, 0);
        assert.deepEqual(
            kv.calls.filter((c) => c.startsWith("write")),
            ["write amiya.akn/grafana/default/admin cas=3"],
        );
        assert.deepEqual(kv.secrets.get("amiya.akn/grafana/default/admin")?.versions[3], {
            user: "admin",
            password: "VALUE-grafana-pw2",
        });
        assert.ok(
            lines.some((l) =>
                /^amiya\.akn\/grafana\/default\/admin\s+2: password,user\s+update \(forced\)\s+written: written v4/.test(
                    l,
                ),
            ),
        );
    });

    it("writes nothing when any file fails to decrypt or map, and says so", async () => {
        const res = await run([], { "apps/grafana/admin.sops.yaml": docs["apps/grafana/admin.sops.yaml"] });
        assert.equal(res.exitCode, 1);
        assert.deepEqual(res.planErrors, ["apps/api/db.sops.env: sops could not decrypt it: no key"]);
        assert.deepEqual(kv.calls, []);
        assert.deepEqual(lines.slice(-2), [
            "error: apps/api/db.sops.env: sops could not decrypt it: no key",
            "nothing written: 1 problem(s) before any write",
        ]);
    });

    it("refuses two files mapping to one path and a mount that is not KV v2", async () => {
        kv.mounts = new Set();
        const res = await run();
        assert.deepEqual(res.planErrors, ["mount amiya.akn is not a KV v2 mount (type ?, version ?)"]);
        assert.equal(kv.secrets.size, 0);

        fs.mkdirSync(path.join(dir, "a/x"), { recursive: true });
        fs.mkdirSync(path.join(dir, "b/x"), { recursive: true });
        fs.writeFileSync(path.join(dir, "a/x/s.yaml"), sopsText("a/x/s.yaml"));
        fs.writeFileSync(path.join(dir, "b/x/s.json"), sopsText("b/x/s.json"));
        const dup = migrate(parseArgs(["--mount", "amiya.akn", "a/x/s.yaml", "b/x/s.json"]), DEFAULTS, {
            kv,
            cwd: dir,
            out: () => undefined,
            decrypt: async () => ({ k: "v" }),
        });
        assert.deepEqual((await dup).planErrors, [
            "b/x/s.json and a/x/s.yaml both map to amiya.akn/x/default/s: add a mapping rule",
        ]);
    });

    it("exits 1 on a failed write and lists what was and was not written", async () => {
        kv.failWrite = "api/default/db";
        const res = await run();
        assert.equal(res.exitCode, 1);
        assert.deepEqual(
            res.items.map((i) => [i.target.path, i.outcome, i.detail]),
            [
                ["grafana/default/admin", "written", "written v1"],
                [
                    "api/default/db",
                    "failed",
                    "not written: POST amiya.akn/data/api/default/db: HTTP 500: internal error",
                ],
            ],
        );
        assert.equal(lines[lines.length - 1], "FAILED: see the table for what was and was not written");
        assertNoValues();
    });
});

describe("migrate: from the user's GitOps repository", () => {
    let repo: string;
    beforeEach(() => {
        repo = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-"));
    });
    afterEach(() => fs.rmSync(repo, { recursive: true, force: true }));
    const put = (file: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
        fs.writeFileSync(path.join(repo, file), text);
    };

    it("knows a SOPS file by its content, whatever its name, and refuses a plaintext one", () => {
        assert.equal(sopsFormatOf(sopsText("x.yaml")), "yaml");
        assert.equal(sopsFormatOf(sopsText("x.json")), "json");
        assert.equal(sopsFormatOf(sopsText("x.env")), "dotenv");
        // Not SOPS: plaintext, and a document that merely has a `sops` key without sops' mac.
        assert.equal(sopsFormatOf("password: hunter2\n"), undefined);
        assert.equal(sopsFormatOf("sops:\n    note: not metadata\n"), undefined);
        assert.equal(sopsFormatOf('{"sops": "no"}'), undefined);
        // The name decides when it names a format (as sops does), else the content.
        assert.equal(sopsFileFormat("secret.txt", sopsText("x.json")), "json");
        assert.equal(sopsFileFormat("values.yaml", sopsText("x.yaml")), "yaml");
        assert.throws(
            () => sopsFileFormat("apps/db.sops.yaml", "password: hunter2\n"),
            /^Error: apps\/db\.sops\.yaml: not a SOPS-encrypted file \(no sops metadata in it\)$/,
        );
    });

    it("--find lists the SOPS files git tracks there by content, not by a *.sops.* name", () => {
        put("apps/grafana/admin.yaml", sopsText("a.yaml")); // no .sops. in its name
        put("apps/api/db.sops.env", sopsText("db.env"));
        put("apps/api/values.yaml", "replicas: 2\n"); // plaintext: not found
        put("infra/token.json", sopsText("t.json"));
        put("untracked/s.yaml", sopsText("u.yaml")); // not tracked: not found
        const git = (...args: string[]) => {
            const r = spawnSync("git", ["-C", repo, ...args], { encoding: "utf8" });
            assert.equal(r.status, 0, r.stderr);
        };
        git("init", "-q");
        git("add", "apps", "infra");
        assert.deepEqual(
            findSopsFiles(repo).map((f) => path.relative(repo, f)),
            ["apps/api/db.sops.env", "apps/grafana/admin.yaml", "infra/token.json"],
        );
        assert.deepEqual(
            findSopsFiles(path.join(repo, "apps")).map((f) => path.relative(repo, f)),
            ["apps/api/db.sops.env", "apps/grafana/admin.yaml"],
        );
        assert.throws(() => findSopsFiles(path.join(repo, "nope")), /not a directory/);
    });

    it("run from a subdirectory: paths start there, and each secret records its file relative to the repository", async () => {
        put("clusters/amiya/apps/grafana/admin.yaml", sopsText("admin.yaml"));
        const kv = new FakeKv();
        const lines: string[] = [];
        const cwd = path.join(repo, "clusters", "amiya");
        const res = await migrate(parseArgs(["--mount", "amiya.akn", "apps/grafana/admin.yaml"]), DEFAULTS, {
            kv,
            cwd,
            base: repo,
            out: (l) => lines.push(l),
            decrypt: async () => ({ user: "admin" }),
        });
        assert.equal(res.exitCode, 0, lines.join("\n"));
        assert.equal(res.items[0].target.file, "clusters/amiya/apps/grafana/admin.yaml");
        assert.equal(
            kv.secrets.get("amiya.akn/grafana/default/admin")?.custom[META.origin],
            "clusters/amiya/apps/grafana/admin.yaml",
        );
        // A file outside the repository is refused, naming it as given.
        const outside = await migrate(parseArgs(["--mount", "amiya.akn", "../../../elsewhere.yaml"]), DEFAULTS, {
            kv,
            cwd,
            base: repo,
            out: () => undefined,
            decrypt: async () => ({}),
        });
        assert.deepEqual(outside.planErrors, [
            `../../../elsewhere.yaml: outside the repository ${repo}: run the migration from the repository that holds it`,
        ]);
    });

    it("the command: exit 2 on a usage error, and --help says how to trust a private CA", function () {
        this.timeout(90000);
        const tsx = require.resolve("tsx/cli");
        const script = path.join(__dirname, "..", "..", "scripts", "migrate.ts");
        const bad = spawnSync(process.execPath, [tsx, script, "--bogus", "a.yaml"], {
            encoding: "utf8",
            env: { PATH: process.env.PATH },
        });
        assert.equal(bad.status, 2);
        assert.match(bad.stderr, /^migrate: unknown option --bogus\n\nusage: npm run migrate/);
        const help = spawnSync(process.execPath, [tsx, script, "--help"], {
            encoding: "utf8",
            env: { PATH: process.env.PATH },
        });
        assert.equal(help.status, 0);
        assert.match(
            help.stdout,
            /VAULT_CACERT \(a PEM file: Vault's certificate must chain to it, e\.g\. your cluster's\n\s+private CA/,
        );
        assert.match(help.stdout, /2 a usage error \(nothing read\), 3 conflicts left alone/);
    });
});
