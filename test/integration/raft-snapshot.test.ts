/**
 * The raft snapshot job for real: a Vault server with `storage "raft"`, the
 * `raft-snapshot` policy and Kubernetes auth role exactly as the program
 * registers them (raft stack under the mocks), a fake TokenReview API, and
 * components/raft-snapshot.sh run by /bin/sh with the env of the CronJob's two
 * containers. The save step must log in with the ServiceAccount token file
 * and write a non-empty snapshot; the upload step is pointed at a stub `aws`
 * that records its argv. On the same server the policy's capabilities are
 * checked with sys/capabilities-self and real requests.
 * Skips without the Vault binary (or openssl), except under CI=true.
 */
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { buildPlatform } from "../../components/platform";
import { SNAPSHOT_SCRIPT_PATH } from "../../components/snapshots";
import { homelabStack } from "../support/fixtures";
import { at, listAt, objectAt, only, stringAt } from "../support/inputs";
import { runProgram } from "../support/program";
import { requireTool } from "../support/tools";
import { Account, FakeKubeApi, serviceAccountJwt, startFakeKubeApi } from "../support/fake-kube-api";
import { freePort, initAndUnseal, startVault, vaultRequest, VaultServer } from "../support/vault-server";

const SNAPSHOT_SA: Account = { namespace: "vault", name: "vault-snapshot", uid: "uid-vault-snapshot" };
const OTHER_SA: Account = { namespace: "vault", name: "vault-unsealer", uid: "uid-vault-unsealer" };

/**
 * Runs the script with /bin/sh (POSIX sh, dash on Debian) asynchronously: the
 * fake TokenReview API lives in this process and must keep answering.
 */
function runScript(
    step: string,
    env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        const child = spawn("/bin/sh", [SNAPSHOT_SCRIPT_PATH, step], { env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
}

/** Env of a registered container, as name -> value (plain values only: the job passes no secret as env). */
function envOf(container: unknown): Record<string, string> {
    return Object.fromEntries(listAt(container, "env").map((e) => [stringAt(e, "name"), stringAt(e, "value")]));
}

describe("raft snapshot job on a real raft Vault (components/raft-snapshot.sh)", function () {
    this.timeout(60_000);
    let root: string;
    let server: VaultServer | undefined;
    let address: string;
    let rootToken: string;
    let api: FakeKubeApi | undefined;
    let saveEnv: Record<string, string>;
    let uploadEnv: Record<string, string>;
    let authPath: string;
    let vaultBinDir: string;
    const jwt = serviceAccountJwt(SNAPSHOT_SA);
    const otherJwt = serviceAccountJwt(OTHER_SA);

    before(async function () {
        const bin = requireTool(this, "vault");
        vaultBinDir = path.dirname(bin);
        api = await startFakeKubeApi(
            new Map([
                [jwt, SNAPSHOT_SA],
                [otherJwt, OTHER_SA],
            ]),
        );
        if (api === undefined) {
            if (process.env.CI === "true") throw new Error("openssl is required for the fake TokenReview API");
            console.warn("    skipped: openssl not found (it makes the fake Kubernetes API's certificate)");
            this.skip();
        }
        root = fs.mkdtempSync(path.join(os.tmpdir(), "raft-snapshot-"));
        server = await startVault({ storage: "raft" });
        address = server.address;
        rootToken = (await initAndUnseal(address)).rootToken;

        // The program's own inputs for the raft stack: policy, role, CronJob containers.
        const s = homelabStack();
        s.values.server = { storageBackend: "raft", replicas: 3 };
        const p = await runProgram(s, buildPlatform);
        const policy = p.find("vault:index/policy:Policy", "platform-configuration-policy-raft-snapshot").inputs;
        const role = p.find(
            "vault:kubernetes/authBackendRole:AuthBackendRole",
            "platform-configuration-k8s-auth-raft-snapshot-role",
        ).inputs;
        const cronJob = p.find("kubernetes:batch/v1:CronJob", "platform-snapshots-cronjob").inputs;
        const pod = objectAt(cronJob, "spec", "jobTemplate", "spec", "template", "spec");
        saveEnv = envOf(only(listAt(pod, "initContainers"), "init containers"));
        uploadEnv = envOf(only(listAt(pod, "containers"), "containers"));
        authPath = stringAt(role, "backend");

        const call = async (method: string, apiPath: string, body?: unknown) => {
            const res = await vaultRequest(address, rootToken, method, apiPath, body);
            assert.ok(res.status < 300, `${method} ${apiPath}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
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
        await call("POST", "sys/mounts/amiya.akn", { type: "kv", options: { version: "2" } });
        await call("POST", "amiya.akn/data/app/db/password", { data: { value: "s3cr3t" } });
    });

    after(async () => {
        await api?.close();
        await server?.stop();
        if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
    });

    const login = async (token: string) =>
        vaultRequest(address, undefined, "PUT", `auth/${authPath}/login`, { role: "raft-snapshot", jwt: token });

    it("the role logs in vault/vault-snapshot only, with the raft-snapshot policy alone for 5 minutes", async () => {
        const ok = await login(jwt);
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
        assert.deepEqual(ok.body.auth.policies, ["raft-snapshot"]);
        assert.equal(ok.body.auth.lease_duration, 300);
        const other = await login(otherJwt);
        assert.equal(other.status, 403);
    });

    it("the role's token cannot even look itself up (no default policy)", async () => {
        const token = (await login(jwt)).body.auth.client_token as string;
        assert.equal((await vaultRequest(address, token, "GET", "auth/token/lookup-self")).status, 403);
    });

    it("the policy allows read on sys/storage/raft/snapshot and denies KV reads, sys/seal and restores", async () => {
        const token = (await login(jwt)).body.auth.client_token as string;
        // The role's tokens lack the default policy (no capabilities-self): ask with the root token.
        const caps = await vaultRequest(address, rootToken, "POST", "sys/capabilities", {
            token,
            paths: [
                "sys/storage/raft/snapshot",
                "sys/storage/raft/snapshot-force",
                "amiya.akn/data/app/db/password",
                "sys/seal",
                "sys/storage/raft/configuration",
                "sys/policies/acl/raft-snapshot",
            ],
        });
        assert.equal(caps.status, 200);
        const paths = Object.keys(caps.body.data ?? caps.body).filter(
            (k) => k.startsWith("sys/") || k.includes("/data/"),
        );
        const table = Object.fromEntries(paths.sort().map((k) => [k, (caps.body.data ?? caps.body)[k]]));
        assert.deepEqual(table, {
            "sys/storage/raft/snapshot": ["read"],
            "sys/storage/raft/snapshot-force": ["deny"],
            "amiya.akn/data/app/db/password": ["deny"],
            "sys/seal": ["deny"],
            "sys/storage/raft/configuration": ["deny"],
            "sys/policies/acl/raft-snapshot": ["deny"],
        });
        // What the table means, for real.
        assert.equal((await vaultRequest(address, token, "GET", "amiya.akn/data/app/db/password")).status, 403);
        assert.equal((await vaultRequest(address, token, "PUT", "sys/seal")).status, 403);
        const snap = await fetch(`${address}/v1/sys/storage/raft/snapshot`, { headers: { "X-Vault-Token": token } });
        assert.equal(snap.status, 200);
        assert.ok((await snap.arrayBuffer()).byteLength > 0);
    });

    it("save: logs in from the token file and writes a non-empty snapshot, no token left or logged", async () => {
        const dir = path.join(root, "snap");
        const home = path.join(root, "home");
        fs.mkdirSync(dir);
        fs.mkdirSync(home, { mode: 0o700 });
        const saFile = path.join(root, "sa-token");
        fs.writeFileSync(saFile, jwt, { mode: 0o400 });
        const run = await runScript("save", {
            ...saveEnv,
            PATH: `${vaultBinDir}:/usr/bin:/bin`,
            VAULT_ADDR: address,
            SA_TOKEN_FILE: saFile,
            SNAPSHOT_DIR: dir,
            HOME: home,
            // Must be ignored: the script logs in itself.
            VAULT_TOKEN: rootToken,
        });
        assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
        assert.equal(saveEnv.VAULT_AUTH_PATH, authPath);
        const name = fs.readFileSync(path.join(dir, "name"), "utf8").trim();
        assert.match(name, /^raft-\d{8}T\d{6}Z\.snap$/);
        const snapshot = fs.readFileSync(path.join(dir, name));
        assert.ok(snapshot.length > 0);
        assert.deepEqual([...snapshot.subarray(0, 2)], [0x1f, 0x8b], "a raft snapshot is a gzip archive");
        assert.equal(fs.statSync(path.join(dir, name)).mode & 0o077, 0, "the snapshot is private to its owner");
        assert.ok(!fs.existsSync(path.join(home, ".vault-token")), "the Vault token file is removed");
        const out = run.stdout + run.stderr;
        assert.match(out, new RegExp(`vault-snapshot: saved ${name} \\(\\d+ bytes\\)`));
        assert.ok(!out.includes(jwt) && !out.includes(rootToken) && !out.includes("hvs."));
    });

    it("save: a ServiceAccount the role does not bind is refused, and no snapshot is written", async () => {
        const dir = path.join(root, "snap-refused");
        const home = path.join(root, "home-refused");
        fs.mkdirSync(dir);
        fs.mkdirSync(home);
        const saFile = path.join(root, "other-token");
        fs.writeFileSync(saFile, otherJwt, { mode: 0o400 });
        const run = await runScript("save", {
            ...saveEnv,
            PATH: `${vaultBinDir}:/usr/bin:/bin`,
            VAULT_ADDR: address,
            SA_TOKEN_FILE: saFile,
            SNAPSHOT_DIR: dir,
            HOME: home,
        });
        assert.equal(run.status, 1);
        assert.match(run.stderr, /login to auth\/kubernetes-amiya\.akn as role raft-snapshot failed/);
        assert.deepEqual(fs.readdirSync(dir), []);
        assert.ok(!run.stderr.includes(otherJwt));
    });

    /** A save run against `vaultAddr` with a fresh snapshot dir and home; `wait` is CONNECT_WAIT_SECONDS. */
    const saveAt = async (name: string, vaultAddr: string, wait: string) => {
        const dir = path.join(root, `snap-${name}`);
        const home = path.join(root, `home-${name}`);
        fs.mkdirSync(dir);
        fs.mkdirSync(home, { mode: 0o700 });
        const saFile = path.join(root, `sa-token-${name}`);
        fs.writeFileSync(saFile, jwt, { mode: 0o400 });
        const run = await runScript("save", {
            ...saveEnv,
            PATH: `${vaultBinDir}:/usr/bin:/bin`,
            VAULT_ADDR: vaultAddr,
            SA_TOKEN_FILE: saFile,
            SNAPSHOT_DIR: dir,
            HOME: home,
            CONNECT_WAIT_SECONDS: wait,
        });
        return { run, dir };
    };

    it("save: waits for a Vault that refuses connections at first (a new pod's NetworkPolicy not yet programmed)", async () => {
        // Vault's address refuses connections for 4 s, then forwards to the real server.
        const port = await freePort();
        const upstream = new URL(address);
        const proxy = net.createServer((client) => {
            const up = net.connect(Number(upstream.port), upstream.hostname);
            client.pipe(up).pipe(client);
            const close = () => (client.destroy(), up.destroy());
            client.on("error", close);
            up.on("error", close);
        });
        const opened = new Promise<void>((resolve) => setTimeout(() => proxy.listen(port, "127.0.0.1", resolve), 4000));
        try {
            const { run, dir } = await saveAt("late", `${upstream.protocol}//127.0.0.1:${port}`, "60");
            await opened;
            assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
            assert.match(run.stdout + run.stderr, /not reachable yet; retrying in 3 s/);
            const name = fs.readFileSync(path.join(dir, "name"), "utf8").trim();
            assert.ok(fs.statSync(path.join(dir, name)).size > 0);
        } finally {
            await opened;
            await new Promise((resolve) => proxy.close(resolve));
        }
    });

    it("save: gives up on an unreachable Vault after CONNECT_WAIT_SECONDS, naming the cause", async () => {
        const port = await freePort();
        const start = Date.now();
        const { run, dir } = await saveAt("never", `http://127.0.0.1:${port}`, "2");
        assert.equal(run.status, 1);
        assert.match(
            run.stderr,
            /login to auth\/kubernetes-amiya\.akn as role raft-snapshot failed: Vault unreachable for 2 s: .*connection refused/,
        );
        assert.ok(Date.now() - start < 20_000, "it stops after the wait");
        assert.deepEqual(fs.readdirSync(dir), []);
        assert.ok(!(run.stdout + run.stderr).includes(jwt));
    });

    it("upload: copies the snapshot to the bucket key under the prefixes, credentials only as a file", async () => {
        const dir = path.join(root, "snap");
        const name = fs.readFileSync(path.join(dir, "name"), "utf8").trim();
        const stubDir = path.join(root, "stub-bin");
        fs.mkdirSync(stubDir);
        const argvFile = path.join(root, "aws-argv");
        fs.writeFileSync(
            path.join(stubDir, "aws"),
            // One argv per call (one argument a line), and the marker's content when it is copied.
            `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done >> ${JSON.stringify(argvFile)}\n` +
                `echo @@ >> ${JSON.stringify(argvFile)}\n` +
                `case "$5" in */latest.json) cp "$5" ${JSON.stringify(argvFile + ".marker")};; esac\n` +
                `env > ${JSON.stringify(argvFile + ".env")}\n`,
            { mode: 0o755 },
        );
        const creds = path.join(root, "credentials");
        fs.writeFileSync(creds, "[default]\naws_access_key_id = AKIASTUBKEY\naws_secret_access_key = stubsecret\n");
        const run = await runScript("upload", {
            ...uploadEnv,
            PATH: `${stubDir}:/usr/bin:/bin`,
            SNAPSHOT_DIR: dir,
            AWS_SHARED_CREDENTIALS_FILE: creds,
            HOME: path.join(root, "home"),
        });
        assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
        const calls = fs
            .readFileSync(argvFile, "utf8")
            .split("@@\n")
            .filter((c) => c !== "")
            .map((c) => c.trimEnd().split("\n"));
        const argv = calls[0];
        assert.deepEqual(calls, [
            [
                "--endpoint-url",
                "https://s3.amiya.akn",
                "s3",
                "cp",
                path.join(dir, name),
                `s3://vault-amiya/vault/snapshots/${name}`,
                "--only-show-errors",
            ],
            [
                "--endpoint-url",
                "https://s3.amiya.akn",
                "s3",
                "cp",
                path.join(root, "home", "latest.json"),
                "s3://vault-amiya/vault/snapshots/latest.json",
                "--only-show-errors",
            ],
        ]);
        // The last good snapshot, for the age-of-last-snapshot alert and for people.
        const marker = JSON.parse(fs.readFileSync(argvFile + ".marker", "utf8"));
        assert.deepEqual(Object.keys(marker), ["object", "completedAt", "completedAtUnix", "bytes"]);
        assert.equal(marker.object, name);
        assert.equal(marker.completedAtUnix, Date.parse(marker.completedAt) / 1000);
        assert.equal(marker.bytes, fs.statSync(path.join(dir, name)).size);
        const env = fs.readFileSync(argvFile + ".env", "utf8");
        for (const secret of ["AKIASTUBKEY", "stubsecret"]) {
            assert.ok(!argv.join(" ").includes(secret) && !env.includes(secret), `${secret} leaked`);
        }
        assert.match(env, new RegExp(`^AWS_SHARED_CREDENTIALS_FILE=${creds}$`, "m"));
        assert.match(run.stdout, new RegExp(`uploaded s3://vault-amiya/vault/snapshots/${name}`));
    });

    it("upload: fails without a snapshot from the save step", async () => {
        const run = await runScript("upload", {
            ...uploadEnv,
            PATH: "/usr/bin:/bin",
            SNAPSHOT_DIR: path.join(root, "snap-refused"),
        });
        assert.equal(run.status, 1);
        assert.match(run.stderr, /no snapshot to upload/);
    });
});
