/**
 * The KV backup end to end on real servers: a Vault on the S3 backend
 * (gofakes3, as Garage), seeded with many secrets, several versions each,
 * custom metadata, deleted and destroyed versions and pruned ones; the export
 * step run as the pod runs it (`node components/kv-export.cjs`, the committed
 * bundle, with the CronJob's env) logging in through Kubernetes auth (a fake
 * TokenReview API) as the program's kv-backup role; the real `age` CLI
 * decrypts it with the operator's key and refuses another; the source is
 * wiped; `npm run restore -- kv-import` replays it into a fresh raft Vault;
 * every version and metadata field is compared with the source.
 *
 * SECRET_PLATFORM_KV_BACKUP_SECRETS sets the number of secrets (default 40;
 * .ci/run sets 300).
 * Skips without vault, gofakes3, age or openssl, except under CI=true.
 */
import { strict as assert } from "node:assert";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { buildPlatform } from "../../components/platform";
import { BACKUP_BUNDLE_PATH, BACKUP_SCRIPT_PATH } from "../../components/kv-backup";
import { parseKvImportArgs, runKvImport } from "../../ops/backup/import-cli";
import { mapLimit } from "../../ops/backup/kv-backup";
import { homelabStack } from "../support/fixtures";
import { at, listAt, objectAt, only, stringAt } from "../support/inputs";
import { runProgram } from "../support/program";
import { requireTool } from "../support/tools";
import { Account, FakeKubeApi, serviceAccountJwt, startFakeKubeApi } from "../support/fake-kube-api";
import { freePort, initAndUnseal, startVault, vaultRequest, VaultServer } from "../support/vault-server";

const ROOT = path.join(__dirname, "..", "..");
const TSX_HOOK = require.resolve("tsx/cjs");
const BACKUP_SA: Account = { namespace: "vault", name: "vault-kv-backup", uid: "uid-vault-kv-backup" };
// 40 keeps `npm test` near a minute; .ci/run runs the 300 (about 40 s on two cores).
const COUNT = Number(process.env.SECRET_PLATFORM_KV_BACKUP_SECRETS ?? 40);
const MOUNTS = ["amiya.akn", "shared"];

function run(
    cmd: string,
    args: string[],
    env: Record<string, string>,
    input?: Buffer,
): Promise<{ status: number | null; stdout: Buffer; stderr: string }> {
    return new Promise((resolve) => {
        const child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
        const out: Buffer[] = [];
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => out.push(c));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        child.on("close", (status) => resolve({ status, stdout: Buffer.concat(out), stderr }));
        child.stdin.end(input);
    });
}

function envOf(container: unknown): Record<string, string> {
    return Object.fromEntries(listAt(container, "env").map((e) => [stringAt(e, "name"), stringAt(e, "value")]));
}

/** What a secret looks like through the API, minus what a replay cannot keep (times). */
interface Observed {
    current_version: number;
    oldest_version: number;
    max_versions: number;
    cas_required: boolean;
    delete_version_after: string;
    custom_metadata: Record<string, string> | null;
    versions: Record<string, { destroyed: boolean; deleted: boolean; data?: unknown }>;
}

async function observe(address: string, token: string, mount: string, secret: string): Promise<Observed> {
    const m = await vaultRequest(address, token, "GET", `${mount}/metadata/${secret}`);
    assert.equal(m.status, 200, `${mount}/${secret}: ${m.status}`);
    const d = m.body.data;
    const versions: Observed["versions"] = {};
    for (const [n, v] of Object.entries(d.versions as Record<string, Record<string, unknown>>)) {
        const deleted = v.deletion_time !== "" && new Date(String(v.deletion_time)).getTime() <= Date.now();
        const entry: Observed["versions"][string] = { destroyed: v.destroyed === true, deleted };
        if (!entry.destroyed && !deleted) {
            const r = await vaultRequest(address, token, "GET", `${mount}/data/${secret}?version=${n}`);
            assert.equal(r.status, 200, `${mount}/${secret} v${n}: ${r.status}`);
            entry.data = r.body.data.data;
        }
        versions[n] = entry;
    }
    return {
        current_version: d.current_version,
        oldest_version: Math.min(...Object.keys(d.versions).map(Number)),
        max_versions: d.max_versions,
        cas_required: d.cas_required,
        delete_version_after: d.delete_version_after,
        custom_metadata: d.custom_metadata,
        versions,
    };
}

describe("KV backup: export through the job's identity, wipe, restore into a fresh raft Vault", function () {
    this.timeout(180_000);
    const bucket = "vault-amiya";
    const creds = { AWS_ACCESS_KEY_ID: "GKtestaccesskey", AWS_SECRET_ACCESS_KEY: "test-storage-secret-key" };
    let root: string;
    let s3proc: ChildProcess | undefined;
    let s3: S3Client;
    let source: VaultServer | undefined;
    let target: VaultServer | undefined;
    let api: FakeKubeApi | undefined;
    let sourceRoot: string;
    let exportEnv: Record<string, string>;
    let uploadEnv: Record<string, string>;
    let ageBin: string;
    let identityFile: string;
    let otherIdentityFile: string;
    let exportFile: string;
    const truth = new Map<string, Observed>();
    const jwt = serviceAccountJwt(BACKUP_SA);
    const secretName = (i: number) => `app${i % 7}/cat${i % 3}/secret-${i}`;
    const mountOf = (i: number) => MOUNTS[i % 5 === 0 ? 1 : 0];

    before(async function () {
        const vaultBin = requireTool(this, "vault");
        const fakes3 = requireTool(this, "gofakes3") as string;
        ageBin = requireTool(this, "age") as string;
        const keygen = requireTool(this, "age-keygen") as string;
        void vaultBin;
        api = await startFakeKubeApi(new Map([[jwt, BACKUP_SA]]));
        if (api === undefined) {
            if (process.env.CI === "true") throw new Error("openssl is required for the fake TokenReview API");
            this.skip();
        }
        root = fs.mkdtempSync(path.join(os.tmpdir(), "kv-backup-"));
        // The operator's key pair (stays here, never near the job), and someone else's.
        identityFile = path.join(root, "operator.key");
        otherIdentityFile = path.join(root, "other.key");
        for (const f of [identityFile, otherIdentityFile]) {
            const r = spawnSync(keygen, ["-o", f], { encoding: "utf8" });
            assert.equal(r.status, 0, r.stderr);
        }
        const recipient = spawnSync(keygen, ["-y", identityFile], { encoding: "utf8" }).stdout.trim();
        assert.match(recipient, /^age1[0-9a-z]{58}$/);

        // gofakes3 as Garage, and the source Vault on the S3 backend under vault/.
        const port = await freePort();
        const endpoint = `http://127.0.0.1:${port}`;
        s3proc = spawn(fakes3, ["-backend", "memory", "-host", `127.0.0.1:${port}`, "-initialbucket", bucket], {
            stdio: "ignore",
        });
        s3 = new S3Client({
            endpoint,
            region: "garage",
            forcePathStyle: true,
            credentials: { accessKeyId: creds.AWS_ACCESS_KEY_ID, secretAccessKey: creds.AWS_SECRET_ACCESS_KEY },
        });
        const deadline = Date.now() + 10_000;
        for (;;) {
            try {
                await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
                break;
            } catch (err) {
                if (Date.now() > deadline) throw new Error(`gofakes3 did not come up: ${(err as Error).message}`);
                await new Promise((r) => setTimeout(r, 50));
            }
        }
        source = await startVault({
            storageHcl: [
                `storage "s3" {`,
                `  bucket = "${bucket}"`,
                `  endpoint = "${endpoint}"`,
                `  region = "garage"`,
                `  s3_force_path_style = "true"`,
                `  path = "vault/"`,
                `}`,
            ].join("\n"),
            env: creds,
        });
        sourceRoot = (await initAndUnseal(source.address)).rootToken;

        // The program's own inputs: the amiya-like stack with the export on.
        const s = homelabStack();
        s.values.kv = {
            cluster: { maxVersions: 4 },
            shared: [{ name: "shared", maxVersions: 6, readablePaths: ["common"] }],
        };
        s.values.backup = { enabled: true, recipients: [recipient], keep: 2 };
        const p = await runProgram(s, buildPlatform);
        const policy = p.find("vault:index/policy:Policy", "platform-configuration-policy-kv-backup").inputs;
        const role = p.find(
            "vault:kubernetes/authBackendRole:AuthBackendRole",
            "platform-configuration-k8s-auth-kv-backup-role",
        ).inputs;
        const pod = objectAt(
            p.find("kubernetes:batch/v1:CronJob", "platform-backup-cronjob").inputs,
            "spec",
            "jobTemplate",
            "spec",
            "template",
            "spec",
        );
        exportEnv = envOf(only(listAt(pod, "initContainers"), "init containers"));
        uploadEnv = envOf(only(listAt(pod, "containers"), "containers"));
        const authPath = stringAt(role, "backend");
        const call = async (method: string, apiPath: string, body?: unknown) => {
            const res = await vaultRequest(source!.address, sourceRoot, method, apiPath, body);
            assert.ok(res.status < 300, `${method} ${apiPath}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
            return res;
        };
        await call("PUT", `sys/policies/acl/${stringAt(policy, "name")}`, { policy: stringAt(policy, "policy") });
        await call("POST", `sys/auth/${authPath}`, { type: "kubernetes" });
        await call("POST", `auth/${authPath}/config`, {
            kubernetes_host: api?.host,
            kubernetes_ca_cert: api?.ca,
            disable_local_ca_jwt: true,
        });
        await call("POST", `auth/${authPath}/role/${stringAt(role, "roleName")}`, {
            bound_service_account_names: listAt(role, "boundServiceAccountNames"),
            bound_service_account_namespaces: listAt(role, "boundServiceAccountNamespaces"),
            token_policies: listAt(role, "tokenPolicies"),
            token_ttl: at(role, "tokenTtl"),
            token_max_ttl: at(role, "tokenMaxTtl"),
            token_no_default_policy: at(role, "tokenNoDefaultPolicy"),
        });
        // The mounts with the settings the job's env declares (what VaultConfiguration sets).
        for (const m of JSON.parse(exportEnv.BACKUP_MOUNTS) as {
            path: string;
            maxVersions: number;
            casRequired: boolean;
        }[]) {
            await call("POST", `sys/mounts/${m.path}`, { type: "kv", options: { version: "2" } });
            await call("POST", `${m.path}/config`, { max_versions: m.maxVersions, cas_required: m.casRequired });
        }

        // Seed: 1-6 versions each (the cluster mount keeps 4: some are pruned), custom metadata,
        // deleted and destroyed versions, per-secret settings.
        await mapLimit(
            Array.from({ length: COUNT }, (_, i) => i),
            16,
            async (i) => {
                const mount = mountOf(i);
                const name = secretName(i);
                const versions = 1 + (i % 6);
                for (let v = 1; v <= versions; v++) {
                    await call("POST", `${mount}/data/${name}`, {
                        data: { value: `value-${i}-v${v}-${"x".repeat(i % 17)}`, n: v, nested: { i, tag: `t${v}` } },
                    });
                }
                await call("POST", `${mount}/metadata/${name}`, {
                    custom_metadata: { owner: `team-${i % 4}`, index: String(i), "note with space": "é ü" },
                    ...(i % 11 === 0 ? { cas_required: true } : {}),
                    ...(i % 13 === 0 ? { delete_version_after: "8760h" } : {}),
                    ...(i % 9 === 0 ? { max_versions: 3 } : {}),
                });
                if (versions >= 2 && i % 4 === 1)
                    await call("POST", `${mount}/delete/${name}`, { versions: [versions - 1] });
                if (versions >= 3 && i % 4 === 2)
                    await call("POST", `${mount}/destroy/${name}`, { versions: [versions - 2] });
                if (i % 10 === 3) await call("DELETE", `${mount}/data/${name}`); // the current version soft-deleted
            },
        );
        // The truth, read with the root token before anything else happens.
        await mapLimit(
            Array.from({ length: COUNT }, (_, i) => i),
            16,
            async (i) =>
                truth.set(
                    `${mountOf(i)}/${secretName(i)}`,
                    await observe(source!.address, sourceRoot, mountOf(i), secretName(i)),
                ),
        );
    });

    after(async () => {
        await api?.close();
        await source?.stop();
        await target?.stop();
        s3proc?.kill("SIGKILL");
        if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
    });

    it("the seed has what a replay must keep: pruned, deleted and destroyed versions, per-secret settings", () => {
        const all = [...truth.values()];
        assert.equal(all.length, COUNT);
        assert.ok(
            all.some((o) => o.oldest_version > 1),
            "some versions were pruned by max_versions",
        );
        assert.ok(all.some((o) => Object.values(o.versions).some((v) => v.destroyed)));
        assert.ok(all.some((o) => Object.values(o.versions).some((v) => v.deleted)));
        assert.ok(all.some((o) => o.cas_required) && all.some((o) => o.delete_version_after === "8760h0m0s"));
        assert.ok(all.reduce((n, o) => n + Object.keys(o.versions).length, 0) > COUNT * 2);
    });

    it("export: the bundled step logs in as kv-backup from the token file and writes only ciphertext", async () => {
        const dir = path.join(root, "exports");
        fs.mkdirSync(dir);
        const saFile = path.join(root, "sa-token");
        fs.writeFileSync(saFile, jwt, { mode: 0o400 });
        const started = Date.now();
        const r = await run(process.execPath, [BACKUP_BUNDLE_PATH], {
            ...exportEnv,
            PATH: "/usr/bin:/bin",
            VAULT_ADDR: source!.address,
            SA_TOKEN_FILE: saFile,
            BACKUP_DIR: dir,
            // Must be ignored: the job logs in itself.
            VAULT_TOKEN: sourceRoot,
        });
        const out = `${r.stdout.toString()}${r.stderr}`;
        assert.equal(r.status, 0, out);
        console.log(`      export of ${COUNT} secrets: ${Date.now() - started} ms`);
        const name = fs.readFileSync(path.join(dir, "name"), "utf8").trim();
        assert.match(name, /^kv-export-\d{8}T\d{6}Z\.jsonl\.gz\.age$/);
        exportFile = path.join(dir, name);
        const bytes = fs.readFileSync(exportFile);
        assert.equal(bytes.subarray(0, 22).toString(), "age-encryption.org/v1\n");
        assert.equal(fs.statSync(exportFile).mode & 0o077, 0);
        assert.deepEqual(fs.readdirSync(dir).sort(), [name, "latest.json", "name"].sort());
        const marker = JSON.parse(fs.readFileSync(path.join(dir, "latest.json"), "utf8"));
        assert.equal(marker.object, name);
        assert.equal(marker.secrets, COUNT);
        assert.equal(marker.bytes, bytes.length);
        assert.match(marker.completedAt, /^\d{4}-\d{2}-\d{2}T/);
        assert.equal(marker.completedAtUnix, Math.floor(Date.parse(marker.completedAt) / 1000));
        assert.match(
            out,
            new RegExp(`exported ${COUNT} secrets \\(\\d+ versions\\) of amiya\\.akn, shared to ${name}`),
        );
        for (const secret of [jwt, sourceRoot, "value-7-v"])
            assert.ok(!out.includes(secret) && !bytes.includes(secret));
    });

    it("export: waits while Vault's address refuses connections (a new pod's NetworkPolicy not yet in place), then exports", async () => {
        const dir = fs.mkdtempSync(path.join(root, "late-"));
        const saFile = path.join(root, "sa-token");
        const port = await freePort();
        const upstream = new URL(source!.address);
        // Nothing listens on the port for the first 3 s: each connection is refused, as on the e2e node.
        let proxy: net.Server | undefined;
        const opens = setTimeout(() => {
            proxy = net.createServer((client) => {
                const server = net.connect(Number(upstream.port), upstream.hostname);
                client.pipe(server).pipe(client);
                client.on("error", () => server.destroy());
                server.on("error", () => client.destroy());
            });
            proxy.listen(port, "127.0.0.1");
        }, 3000);
        try {
            const r = await run(process.execPath, [BACKUP_BUNDLE_PATH], {
                ...exportEnv,
                PATH: "/usr/bin:/bin",
                VAULT_ADDR: `http://127.0.0.1:${port}`,
                VAULT_WAIT_SECONDS: "30",
                SA_TOKEN_FILE: saFile,
                BACKUP_DIR: dir,
            });
            assert.equal(r.status, 0, `${r.stdout.toString()}${r.stderr}`);
            assert.match(r.stdout.toString(), new RegExp(`exported ${COUNT} secrets `));
            assert.deepEqual(fs.readdirSync(dir).sort().slice(1), ["latest.json", "name"]);
        } finally {
            clearTimeout(opens);
            await new Promise((done) => (proxy === undefined ? done(undefined) : proxy.close(done)));
        }
    });

    it("export: a Vault that never answers fails after VAULT_WAIT_SECONDS, naming the address and the pods' labels", async () => {
        const dir = fs.mkdtempSync(path.join(root, "never-"));
        const address = `http://127.0.0.1:${await freePort()}`;
        const r = await run(process.execPath, [BACKUP_BUNDLE_PATH], {
            ...exportEnv,
            PATH: "/usr/bin:/bin",
            VAULT_ADDR: address,
            VAULT_WAIT_SECONDS: "1",
            SA_TOKEN_FILE: path.join(root, "sa-token"),
            BACKUP_DIR: dir,
        });
        assert.equal(r.status, 1);
        assert.equal(
            r.stderr.trim(),
            `vault-kv-backup: Vault API at ${address} did not answer within 1s (last error: GET ${address}/v1/sys/seal-status: ` +
                `connect ECONNREFUSED 127.0.0.1:${new URL(address).port}). Check VAULT_ADDR, that Vault's pods run, and that a ` +
                "NetworkPolicy lets this job's pods (app.kubernetes.io/name=vault-kv-backup) reach Vault's API port.",
        );
        assert.deepEqual(fs.readdirSync(dir), []);
    });

    it("export: VAULT_WAIT_SECONDS that is not a positive number is a usage error", async () => {
        const r = await run(process.execPath, [BACKUP_BUNDLE_PATH], {
            ...exportEnv,
            PATH: "/usr/bin:/bin",
            VAULT_ADDR: source!.address,
            VAULT_WAIT_SECONDS: "soon",
            SA_TOKEN_FILE: path.join(root, "sa-token"),
            BACKUP_DIR: root,
        });
        assert.equal(r.status, 2);
        assert.equal(r.stderr.trim(), "vault-kv-backup: VAULT_WAIT_SECONDS must be a positive number of seconds");
    });

    it("the export is unreadable without the operator's private key, and the real age CLI reads it with it", async () => {
        const wrong = await run(ageBin, ["-d", "-i", otherIdentityFile, exportFile], { PATH: "/usr/bin:/bin" });
        assert.notEqual(wrong.status, 0);
        assert.match(wrong.stderr, /no identity matched any of the recipients/);
        assert.equal(wrong.stdout.length, 0);
        const right = await run(ageBin, ["-d", "-i", identityFile, exportFile], { PATH: "/usr/bin:/bin" });
        assert.equal(right.status, 0, right.stderr);
        const lines = zlib.gunzipSync(right.stdout).toString("utf8").trimEnd().split("\n");
        assert.equal(JSON.parse(lines[0]).format, "secret-platform.kv-export");
        assert.equal(lines.length, COUNT + 2);
        assert.deepEqual(JSON.parse(lines[lines.length - 1]).secrets, COUNT);
    });

    it("upload: the export, then latest.json, then retention keeps the newest backup.keep", async () => {
        const stubDir = path.join(root, "stub-bin");
        fs.mkdirSync(stubDir);
        const log = path.join(root, "aws-calls");
        const existing = [
            "kv-exports/kv-export-20250101T000000Z.jsonl.gz.age",
            "kv-exports/kv-export-20250102T000000Z.jsonl.gz.age",
        ];
        const name = path.basename(exportFile);
        fs.writeFileSync(
            path.join(stubDir, "aws"),
            `#!/bin/sh\nprintf '%s\\n' "$*" >> ${JSON.stringify(log)}\n` +
                `case "$*" in *list-objects-v2*) printf '%s\\t%s\\t%s\\n' ${existing.map((k) => JSON.stringify(k)).join(" ")} "kv-exports/${name}";; esac\n`,
            { mode: 0o755 },
        );
        const home = path.join(root, "upload-home");
        fs.mkdirSync(home);
        const r = await run("/bin/sh", [BACKUP_SCRIPT_PATH, "upload"], {
            ...uploadEnv,
            PATH: `${stubDir}:/usr/bin:/bin`,
            BACKUP_DIR: path.dirname(exportFile),
            HOME: home,
        });
        assert.equal(r.status, 0, `${r.stdout.toString()}${r.stderr}`);
        assert.deepEqual(fs.readFileSync(log, "utf8").trimEnd().split("\n"), [
            `--endpoint-url https://s3.amiya.akn s3 cp ${exportFile} s3://vault-amiya/kv-exports/${name} --only-show-errors`,
            `--endpoint-url https://s3.amiya.akn s3 cp ${path.dirname(exportFile)}/latest.json s3://vault-amiya/kv-exports/latest.json --only-show-errors`,
            `--endpoint-url https://s3.amiya.akn s3api list-objects-v2 --bucket vault-amiya --prefix kv-exports/kv-export- --query Contents[].Key --output text`,
            `--endpoint-url https://s3.amiya.akn s3 rm s3://vault-amiya/${existing[0]} --only-show-errors`,
        ]);
    });

    it("wipe the source, then kv-import (the CLI) replays every version and metadata field into a fresh raft Vault", async () => {
        await source?.stop();
        source = undefined;
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "vault/" }));
        const keys = (listed.Contents ?? []).map((c) => ({ Key: c.Key as string }));
        for (let i = 0; i < keys.length; i += 500) {
            await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 500) } }));
        }
        target = await startVault({ storage: "raft" });
        const targetRoot = (await initAndUnseal(target.address)).rootToken;
        const started = Date.now();
        const r = spawnSync(
            process.execPath,
            [
                "--require",
                TSX_HOOK,
                path.join(ROOT, "scripts", "restore.ts"),
                "kv-import",
                "--file",
                exportFile,
                "--identity",
                identityFile,
            ],
            {
                encoding: "utf8",
                env: {
                    PATH: process.env.PATH,
                    HOME: root,
                    NODE_NO_WARNINGS: "1",
                    VAULT_ADDR: target.address,
                    VAULT_TOKEN: targetRoot,
                },
            },
        );
        assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
        console.log(`      import of ${COUNT} secrets: ${Date.now() - started} ms`);
        assert.match(
            r.stdout,
            new RegExp(
                `imported ${COUNT} secrets \\(\\d+ versions replayed\\) into ${target.address}; created amiya\\.akn, shared`,
            ),
        );
        assert.ok(!r.stdout.includes("value-") && !r.stderr.includes(targetRoot));

        const mismatches: string[] = [];
        await mapLimit([...truth.keys()], 16, async (key) => {
            const [mount, ...rest] = key.split("/");
            const got = await observe(target!.address, targetRoot, mount, rest.join("/"));
            try {
                assert.deepEqual(got, truth.get(key));
            } catch {
                mismatches.push(`${key}: ${JSON.stringify(got)} != ${JSON.stringify(truth.get(key))}`);
            }
        });
        assert.deepEqual(mismatches.slice(0, 3), []);
        for (const m of MOUNTS) {
            const cfg = await vaultRequest(target.address, targetRoot, "GET", `${m}/config`);
            assert.deepEqual(
                { max_versions: cfg.body.data.max_versions, cas_required: cfg.body.data.cas_required },
                { max_versions: m === "shared" ? 6 : 4, cas_required: false },
            );
        }

        // Run again (in this process: the CLI's start-up costs seconds): every secret exists now, so
        // nothing is written and the command says why.
        const lines: string[] = [];
        await assert.rejects(
            runKvImport(parseKvImportArgs(["--file", exportFile, "--identity", identityFile]), (l) => lines.push(l), {
                VAULT_ADDR: target.address,
                VAULT_TOKEN: targetRoot,
            }),
            new RegExp(
                `^Error: ${COUNT} secret\\(s\\) already exist in the target \\(amiya\\.akn/.*: nothing imported\\. `,
            ),
        );
    });
});
