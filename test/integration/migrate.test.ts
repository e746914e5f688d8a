/**
 * The migration end to end, with nothing faked: age keys made by the real
 * age-keygen in a temp dir, fixtures (YAML Kubernetes Secret, nested JSON,
 * dotenv, a mapped shared file) encrypted by the real sops, `npm run migrate`'s
 * entry point run as a child process against a real Vault server. Values read
 * back byte for byte; a second run writes nothing; a Vault-side edit is a
 * conflict left alone until --force; no output ever contains a value.
 *
 * No plaintext or key is committed: everything secret is generated here and
 * removed with the temp dir.
 */
import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { parseArgs } from "../../ops/migrate/args";
import { parseMapping } from "../../ops/migrate/mapping";
import { migrate as migrateRun } from "../../ops/migrate/run";
import { decryptFile } from "../../ops/migrate/sops";
import { connectionFromEnv, KvClient } from "../../ops/migrate/kv-client";
import { requireTool } from "../support/tools";
import { initAndUnseal, startVault, VaultInit, vaultRequest, VaultServer } from "../support/vault-server";

const ROOT = path.join(__dirname, "..", "..");
const MAPPING = path.join(ROOT, "test", "fixtures", "sops", "mapping.yaml");
// One node process with tsx's require hook (the CLI would spawn a second one).
const TSX_HOOK = require.resolve("tsx/cjs");

/** Values with the characters that break naive handling: quotes, newlines, unicode, tabs, `=`. */
const run = `${process.pid}-${Date.now()}`;
const grafanaPassword = `gr@fana-"pw"-${run}\nsecond line ✓`;
const apiToken = `tok\\en\t${run}=x==`;
const dbUrl = `postgres://api:p4ss=${run}@db.amiya.akn:5432/api?sslmode=require`;
const registryPassword = `ghp_${run}_registry`;

function fixtures(apiTokenValue: string): Record<string, { format: string; text: string }> {
    return {
        // The usual ArgoCD shape: a Secret manifest with data (base64) and stringData.
        "apps/grafana/secrets/admin.sops.yaml": {
            format: "yaml",
            text: stringify({
                apiVersion: "v1",
                kind: "Secret",
                metadata: { name: "grafana-admin", namespace: "monitoring" },
                type: "Opaque",
                stringData: { "admin-user": "admin" },
                data: { "admin-password": Buffer.from(grafanaPassword).toString("base64") },
            }),
        },
        "apps/api/config.sops.json": {
            format: "json",
            text: JSON.stringify({ token: apiTokenValue, oauth: { client_id: "api", client_secret: `cs-${run}` } }),
        },
        "apps/api/db.sops.env": { format: "dotenv", text: `DATABASE_URL=${dbUrl}\nPOOL_SIZE=10\n` },
        "shared/registry/ghcr.sops.yaml": {
            format: "yaml",
            text: stringify({ DOCKER_USERNAME: "amiya-bot", DOCKER_PASSWORD: registryPassword, NOTE: "not migrated" }),
        },
    };
}

/** What each file must become in Vault (mount/path -> data), per the mapping fixture. */
function expected(apiTokenValue: string): Record<string, Record<string, string>> {
    return {
        "amiya.akn/monitoring/default/grafana-admin": { "admin-user": "admin", "admin-password": grafanaPassword },
        "amiya.akn/api/default/config": {
            token: apiTokenValue,
            "oauth.client_id": "api",
            "oauth.client_secret": `cs-${run}`,
        },
        "amiya.akn/api/database/db": { DATABASE_URL: dbUrl, POOL_SIZE: "10" },
        "shared/common/registry/ghcr": { username: "amiya-bot", password: registryPassword },
    };
}
const SECRETS = [grafanaPassword, apiToken, dbUrl, registryPassword, `cs-${run}`, "second line"];

function dataPath(mountAndPath: string): string {
    const [mount, ...rest] = mountAndPath.split("/");
    return `${mount}/data/${rest.join("/")}`;
}
function metaPath(mountAndPath: string): string {
    const [mount, ...rest] = mountAndPath.split("/");
    return `${mount}/metadata/${rest.join("/")}`;
}

describe("integration: migrate SOPS files into a real Vault", function () {
    this.timeout(60_000);
    let vault: VaultServer;
    let init: VaultInit;
    let tmp: string;
    let repo: string;
    let sops: string;
    let keyFile: string;
    let recipient: string;
    const outputs: string[] = [];

    function encryptAll(files: Record<string, { format: string; text: string }>): void {
        for (const [file, { format, text }] of Object.entries(files)) {
            const abs = path.join(repo, file);
            fs.mkdirSync(path.dirname(abs), { recursive: true });
            fs.writeFileSync(abs, text, { mode: 0o600 });
            // In place: the plaintext is replaced by the encrypted file at once.
            execFileSync(
                sops,
                ["--encrypt", "--age", recipient, "--input-type", format, "--output-type", format, "--in-place", abs],
                {
                    env: { PATH: process.env.PATH, HOME: tmp },
                    stdio: ["ignore", "ignore", "pipe"],
                },
            );
            assert.match(fs.readFileSync(abs, "utf8"), /ENC\[AES256_GCM,/);
        }
    }

    function toolEnv(env: Record<string, string>): Record<string, string> {
        return {
            PATH: process.env.PATH ?? "",
            HOME: tmp,
            VAULT_ADDR: vault.address,
            VAULT_TOKEN: init.rootToken,
            SOPS_BIN: sops,
            SOPS_AGE_KEY_FILE: keyFile,
            ...env,
        };
    }

    /** `npm run migrate`'s entry point as a child process: argv, env, exit status, stdout and stderr. */
    function migrateCli(args: string[], env: Record<string, string> = {}) {
        const script = path.join(ROOT, "scripts", "migrate.ts");
        const res = spawnSync(process.execPath, ["--require", TSX_HOOK, script, ...args], {
            cwd: repo,
            encoding: "utf8",
            env: toolEnv(env),
        });
        const out = `${res.stdout}${res.stderr}`;
        outputs.push(out);
        return { code: res.status, out };
    }

    /** The same run in this process (real sops, real Vault; saves a node start per run). */
    async function migrate(args: string[], env: Record<string, string> = {}) {
        const e = toolEnv(env);
        const lines: string[] = [];
        const opts = parseArgs(args);
        const mapping = parseMapping(fs.readFileSync(opts.mapping as string, "utf8"), opts.mapping as string);
        const res = await migrateRun(opts, mapping, {
            kv: new KvClient(connectionFromEnv(e)),
            decrypt: (file, format) => decryptFile(file, format, e),
            out: (l) => lines.push(l),
            cwd: repo,
        });
        const out = lines.join("\n");
        outputs.push(out);
        return { code: res.exitCode, out };
    }

    const files = Object.keys(fixtures(apiToken));
    const allArgs = () => ["--mapping", MAPPING, ...files];

    async function readBack(p: string) {
        const res = await vaultRequest(vault.address, init.rootToken, "GET", dataPath(p));
        assert.equal(res.status, 200, `read ${p}`);
        return res.body.data.data;
    }
    async function currentVersion(p: string): Promise<number> {
        const res = await vaultRequest(vault.address, init.rootToken, "GET", metaPath(p));
        return res.status === 404 ? 0 : res.body.data.current_version;
    }
    async function versions(): Promise<Record<string, number>> {
        const out: Record<string, number> = {};
        for (const p of Object.keys(expected(apiToken))) out[p] = await currentVersion(p);
        return out;
    }

    before(async function () {
        const vaultBin = requireTool(this, "vault");
        sops = requireTool(this, "sops");
        const ageKeygen = requireTool(this, "age-keygen");
        void vaultBin;
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "migrate-it-"));
        repo = path.join(tmp, "gitops");
        fs.mkdirSync(repo);
        keyFile = path.join(tmp, "age", "keys.txt");
        fs.mkdirSync(path.dirname(keyFile), { mode: 0o700 });
        execFileSync(ageKeygen, ["-o", keyFile], { stdio: "ignore" });
        recipient = execFileSync(ageKeygen, ["-y", keyFile], { encoding: "utf8" }).trim();
        assert.match(recipient, /^age1[0-9a-z]+$/);
        encryptAll(fixtures(apiToken));

        vault = await startVault();
        init = await initAndUnseal(vault.address);
        for (const mount of ["amiya.akn", "shared"]) {
            const res = await vaultRequest(vault.address, init.rootToken, "POST", `sys/mounts/${mount}`, {
                type: "kv",
                options: { version: "2" },
            });
            assert.equal(res.status, 204);
        }
    });

    after(async function () {
        await vault?.stop();
        if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("dry run prints the plan for every file and writes nothing", async function () {
        const { code, out } = await migrate(["--dry-run", ...allArgs()]);
        assert.equal(code, 0, out);
        for (const p of Object.keys(expected(apiToken)))
            assert.match(out, new RegExp(`plan ${p.replace(/\./g, "\\.")} \\(.*\\): create - new secret`));
        assert.match(
            out,
            /dry run, nothing written: written 0, metadata 0, unchanged 0, planned 4, conflicts 0, failed 0/,
        );
        assert.deepEqual(Object.values(await versions()), [0, 0, 0, 0]);
    });

    it("migrates every file; values read back byte for byte with the import recorded in custom metadata", async function () {
        const { code, out } = migrateCli(allArgs());
        assert.equal(code, 0, out);
        assert.match(out, /written 4, metadata 0, unchanged 0, planned 0, conflicts 0, failed 0/);
        for (const [p, data] of Object.entries(expected(apiToken))) {
            assert.deepEqual(await readBack(p), data, p);
        }
        const meta = await vaultRequest(vault.address, init.rootToken, "GET", metaPath("shared/common/registry/ghcr"));
        const blob = execFileSync("git", ["hash-object", path.join(repo, "shared/registry/ghcr.sops.yaml")], {
            encoding: "utf8",
        }).trim();
        assert.deepEqual(meta.body.data.custom_metadata, {
            "migrated-from": "shared/registry/ghcr.sops.yaml",
            "import-source": blob,
            "import-version": "1",
            "imported-by": "secret-platform migrate",
            owner: "infra",
        });
        const grafana = await vaultRequest(
            vault.address,
            init.rootToken,
            "GET",
            metaPath("amiya.akn/monitoring/default/grafana-admin"),
        );
        assert.equal(grafana.body.data.custom_metadata.owner, "platform-team");
    });

    it("a second run on unchanged input writes nothing (versions unchanged)", async function () {
        const before = await versions();
        const { code, out } = await migrate(allArgs());
        assert.equal(code, 0, out);
        assert.match(out, /written 0, metadata 0, unchanged 4, planned 0, conflicts 0, failed 0/);
        assert.deepEqual(await versions(), before);
        assert.deepEqual(Object.values(before), [1, 1, 1, 1]);
    });

    it("a secret edited in Vault since the import is a conflict left alone; --force overwrites it", async function () {
        const edited = `hand-edited-${run}`;
        const w = await vaultRequest(vault.address, init.rootToken, "POST", dataPath("amiya.akn/api/default/config"), {
            data: { token: edited },
        });
        assert.equal(w.status, 200);
        // The source changes too: without the conflict rule the import would overwrite the edit.
        const newToken = `${apiToken}-rotated`;
        encryptAll({ "apps/api/config.sops.json": fixtures(newToken)["apps/api/config.sops.json"] });

        let r = migrateCli(allArgs());
        assert.equal(r.code, 3, r.out);
        assert.match(
            r.out,
            /plan amiya\.akn\/api\/default\/config \(3: oauth\.client_id,oauth\.client_secret,token\): conflict - changed in Vault since the import \(now v2, imported v1\); left alone \(--force overwrites\)/,
        );
        assert.match(r.out, /written 0, metadata 0, unchanged 3, planned 0, conflicts 1, failed 0/);
        assert.deepEqual(await readBack("amiya.akn/api/default/config"), { token: edited });
        assert.ok(!r.out.includes(edited));

        r = await migrate(["--force", ...allArgs()]);
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /amiya\.akn\/api\/default\/config: written v3 \(forced\)/);
        assert.deepEqual(
            await readBack("amiya.akn/api/default/config"),
            expected(newToken)["amiya.akn/api/default/config"],
        );
        SECRETS.push(newToken);

        // And the next plain run is quiet again.
        r = await migrate(allArgs());
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /unchanged 4/);
    });

    it("a file sops cannot decrypt (wrong key) fails before any write and exits 1", async function () {
        const other = path.join(tmp, "age", "other.txt");
        execFileSync(requireTool(this, "age-keygen"), ["-o", other], { stdio: "ignore" });
        const before = await versions();
        const { code, out } = migrateCli(allArgs(), { SOPS_AGE_KEY_FILE: other });
        assert.equal(code, 1, out);
        assert.match(out, /error: apps\/grafana\/secrets\/admin\.sops\.yaml: sops could not decrypt it/);
        assert.match(out, /nothing written: 4 problem\(s\) before any write/);
        assert.deepEqual(await versions(), before);
    });

    it("refuses a mount that does not exist or is not KV v2, before any write", async function () {
        const before = await versions();
        let r = await migrate(["--mount", "nope", ...allArgs()]);
        assert.equal(r.code, 1, r.out);
        assert.match(
            r.out,
            /error: mount nope does not exist, or this token may not use it \(GET sys\/internal\/ui\/mounts\/nope: HTTP 403\)/,
        );
        const v1 = await vaultRequest(vault.address, init.rootToken, "POST", "sys/mounts/legacy", {
            type: "kv",
            options: { version: "1" },
        });
        assert.equal(v1.status, 204);
        r = await migrate(["--mount", "legacy", ...allArgs()]);
        assert.equal(r.code, 1, r.out);
        assert.match(
            r.out,
            /error: mount legacy is not a KV v2 mount \(type kv, version 1\)\nnothing written: 1 problem\(s\) before any write/,
        );
        assert.deepEqual(await versions(), before);
    });

    it("never printed a secret value in any run", function () {
        assert.ok(outputs.length >= 6);
        const all = outputs.join("\n");
        for (const v of SECRETS) assert.ok(!all.includes(v), `a value reached the output`);
        for (const line of grafanaPassword.split("\n")) assert.ok(!all.includes(line));
    });
});
