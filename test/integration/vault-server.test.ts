/**
 * Proves test/support/vault-server.ts against the real Vault binary: a new
 * server is uninitialized and sealed, init+unseal works, KV v2 reads back what
 * was written, and a restart on the same storage comes back initialized,
 * sealed, and with its data. One server for the file; the cases run in order
 * and build on each other, as an operator's first day would.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as util from "util";
import { requireTool } from "../support/tools";
import { buildVaultValues, serverHclOf } from "../../components/lib/helm-values";
import { METRICS_PORT } from "../../components/lib/contracts";
import { homelabStack } from "../support/fixtures";
import { configOf } from "../support/program";
import {
    freePort,
    initAndUnseal,
    startVault,
    unseal,
    VaultInit,
    vaultRequest,
    VaultServer,
} from "../support/vault-server";

describe("integration: real Vault server (test/support/vault-server)", function () {
    let vault: VaultServer;
    let init: VaultInit;
    const secretPath = "amiya.akn/data/grafana/admin/credentials";
    const secretValue = { username: "admin", password: `pw-${process.pid}-${Date.now()}` };

    before(async function () {
        requireTool(this, "vault");
        vault = await startVault();
    });

    after(async function () {
        await vault?.stop();
    });

    it("starts uninitialized and sealed on fresh file storage, on loopback without TLS", async function () {
        assert.match(vault.address, /^http:\/\/127\.0\.0\.1:\d+$/);
        const health = await vaultRequest(vault.address, undefined, "GET", "sys/health");
        assert.strictEqual(health.status, 501, "501 = not initialized");
        assert.strictEqual(health.body.initialized, false);
        assert.strictEqual(health.body.sealed, true);
        assert.match(health.body.version, /^1\.21\.4\b/);
        const seal = await vaultRequest(vault.address, undefined, "GET", "sys/seal-status");
        assert.strictEqual(seal.body.type, "shamir");
        assert.strictEqual(seal.body.initialized, false);
        assert.ok(fs.statSync(vault.storageDir).isDirectory());
    });

    it("initAndUnseal initializes with the requested shares and threshold and unseals", async function () {
        init = await initAndUnseal(vault.address, { shares: 3, threshold: 2 });
        assert.strictEqual(init.keys.length, 3);
        assert.strictEqual(init.keysBase64.length, 3);
        assert.match(init.rootToken, /^hvs\./);

        const seal = await vaultRequest(vault.address, undefined, "GET", "sys/seal-status");
        assert.deepStrictEqual(
            { initialized: seal.body.initialized, sealed: seal.body.sealed, t: seal.body.t, n: seal.body.n },
            { initialized: true, sealed: false, t: 2, n: 3 },
        );
        assert.strictEqual((await vaultRequest(vault.address, undefined, "GET", "sys/health")).status, 200);
        const self = await vaultRequest(vault.address, init.rootToken, "GET", "auth/token/lookup-self");
        assert.strictEqual(self.status, 200);
        assert.deepStrictEqual(self.body.data.policies, ["root"]);
        // Storage is really on disk in the given dir (not in memory).
        assert.ok(fs.readdirSync(vault.storageDir).includes("core"));
    });

    it("never shows the root token or key shares when the init result is printed", function () {
        const shown = util.inspect(init);
        assert.ok(!shown.includes(init.rootToken));
        for (const key of [...init.keys, ...init.keysBase64]) assert.ok(!shown.includes(key));
        assert.strictEqual(shown, "VaultInit { rootToken: <redacted>, keys: <3 redacted> }");
    });

    it("mounts KV v2, writes a secret and reads it back; without a token the read is refused", async function () {
        const mount = await vaultRequest(vault.address, init.rootToken, "POST", "sys/mounts/amiya.akn", {
            type: "kv",
            options: { version: "2" },
        });
        assert.strictEqual(mount.status, 204);
        const mounts = await vaultRequest(vault.address, init.rootToken, "GET", "sys/mounts");
        assert.strictEqual(mounts.body.data["amiya.akn/"].type, "kv");
        assert.strictEqual(mounts.body.data["amiya.akn/"].options.version, "2");

        const write = await vaultRequest(vault.address, init.rootToken, "POST", secretPath, { data: secretValue });
        assert.strictEqual(write.status, 200);
        assert.strictEqual(write.body.data.version, 1);

        const read = await vaultRequest(vault.address, init.rootToken, "GET", secretPath);
        assert.strictEqual(read.status, 200);
        assert.deepStrictEqual(read.body.data.data, secretValue);
        assert.strictEqual((await vaultRequest(vault.address, undefined, "GET", secretPath)).status, 403);
    });

    it("restart on the same storage is a new process that comes back initialized, sealed, with its data", async function () {
        const firstLog = vault.logFile;
        await vault.restart();
        assert.notStrictEqual(vault.logFile, firstLog, "a new process with a fresh log");

        const seal = await vaultRequest(vault.address, undefined, "GET", "sys/seal-status");
        assert.deepStrictEqual(
            { initialized: seal.body.initialized, sealed: seal.body.sealed, progress: seal.body.progress },
            { initialized: true, sealed: true, progress: 0 },
        );
        assert.strictEqual((await vaultRequest(vault.address, init.rootToken, "GET", secretPath)).status, 503);
        await assert.rejects(unseal(vault.address, init.keys.slice(0, 1)), {
            message: "sys/unseal: still sealed after 1 key share(s)",
        });

        await unseal(vault.address, init.keys.slice(1, 2));
        const read = await vaultRequest(vault.address, init.rootToken, "GET", secretPath);
        assert.strictEqual(read.status, 200);
        assert.deepStrictEqual(read.body.data.data, secretValue);
    });

    it("fails to start with the server's own error from the log tail when the config is bad", async function () {
        await assert.rejects(startVault({ extraConfig: 'storage "inmem" {}' }), (err: Error) => {
            assert.match(
                err.message,
                /^vault server exited \(code 1, signal null\) before answering; last log lines:\n/,
            );
            assert.match(err.message, /error parsing 'storage': only one "storage" block is permitted$/);
            return true;
        });
    });
});

describe("integration: the metrics listener of the program's HCL on a real Vault server", function () {
    let vault: VaultServer;
    let metricsAddress: string;

    before(async function () {
        requireTool(this, "vault");
        const stack = homelabStack();
        stack.values.networkPolicy.monitoringNamespace = "monitoring";
        const config = configOf(stack);
        const hcl = serverHclOf(
            buildVaultValues(config, {
                bucket: "vault-amiya",
                region: "garage",
                endpoint: "https://s3.amiya.akn",
                forcePathStyle: true,
            }),
        );
        // The program's own metrics listener and telemetry stanzas, bound to loopback instead of [::].
        const blocks = hcl.split(/\n(?=[a-z])/).filter((b) => /^listener "tcp"|^telemetry/.test(b));
        const metrics = blocks.filter((b) => b.includes(`:${METRICS_PORT}"`) || b.startsWith("telemetry"));
        assert.equal(metrics.length, 2, `the metrics listener and telemetry stanzas of:\n${hcl}`);
        const port = await freePort();
        metricsAddress = `http://127.0.0.1:${port}`;
        vault = await startVault({
            extraConfig: metrics.join("\n").replace(`[::]:${METRICS_PORT}`, `127.0.0.1:${port}`),
        });
        await initAndUnseal(vault.address);
    });

    after(async () => {
        await vault?.stop();
    });

    it("serves Prometheus metrics without a token on the metrics port only; the API port asks for one", async function () {
        const prometheus = { Accept: "application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5" };
        const scraped = await fetch(`${metricsAddress}/v1/sys/metrics`, { headers: prometheus });
        assert.equal(scraped.status, 200);
        assert.match(await scraped.text(), /^# (HELP|TYPE) vault_/m);
        const api = await fetch(`${vault.address}/v1/sys/metrics`, { headers: prometheus });
        assert.equal(api.status, 403, "the listener the Ingress exposes serves no unauthenticated metrics");
    });
});
