/**
 * Cluster-loss drill on a real Vault server (docs/disaster-recovery.md):
 * initialize through the project's init code (components/lib/vault-init.ts),
 * write a few hundred secrets across two KV v2 mounts, stop the server and
 * throw away everything but its storage dir and the key material (the unseal
 * key files of the Secret, the admin token), start a brand-new server on the
 * same storage, and let the project's adopt-and-unseal path bring it back:
 * vault-init adopts the initialized Vault (never re-initializes), the pod's
 * unsealer (components/unseal.sh, keys read from files) unseals it. Every secret
 * must read back equal. The recovery wall time is printed: the runbook's
 * recovery figure.
 */
import { strict as assert } from "node:assert";
import { ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
    alreadyInitializedMessage,
    BootstrapInputs,
    ensureInitialized,
    ensureUnsealed,
    sealStatus,
} from "../../components/lib/vault-init";
import { unsealKeyFiles, UNSEAL_SCRIPT_PATH } from "../../components/bootstrap";
import { initInputs } from "../support/bootstrap-inputs";
import { requireTool } from "../support/tools";
import { startVault, vaultRequest, VaultServer } from "../support/vault-server";

const UNSEAL_SH = UNSEAL_SCRIPT_PATH;
const MOUNTS: Record<string, number> = { "amiya.akn": 200, shared: 100 };

describe("integration: disaster-recovery drill (cluster loss, same storage, adopt and unseal)", function () {
    this.timeout(120_000);
    let vaultBin: string;
    let root: string;
    let storageDir: string;
    let keysDir: string;
    let vault: VaultServer | undefined;
    let unsealer: ChildProcess | undefined;
    let unsealerLog = "";
    let adminToken = "";
    let keys: string[] = [];
    let accessors: Record<string, string> = {};
    const expected = new Map<string, Record<string, string>>();

    const inputs = (address: string, adoptExisting: boolean): BootstrapInputs =>
        initInputs(address, { shares: 5, threshold: 3, adoptExisting });

    async function mountAccessors(address: string): Promise<Record<string, string>> {
        const res = await vaultRequest(address, adminToken, "GET", "sys/mounts");
        assert.equal(res.status, 200);
        return Object.fromEntries(Object.keys(MOUNTS).map((m) => [m, res.body.data[`${m}/`]?.accessor as string]));
    }

    before(async function () {
        vaultBin = requireTool(this, "vault");
        root = fs.mkdtempSync(path.join(os.tmpdir(), "dr-drill-"));
        storageDir = path.join(root, "storage");
        keysDir = path.join(root, "unseal-keys");
        fs.mkdirSync(keysDir, { mode: 0o700 });

        // Day one: a new Vault initialized by the project's bootstrap code.
        vault = await startVault({ storageDir });
        const state = await ensureInitialized(inputs(vault.address, false));
        assert.equal(state.adopted, false);
        assert.equal(state.keys.length, 5);
        keys = state.keys;
        adminToken = state.rootToken;
        // The unseal Secret as the unsealer pod sees it: one key a file.
        for (const [file, key] of Object.entries(unsealKeyFiles(keys))) {
            fs.writeFileSync(path.join(keysDir, file), key, { mode: 0o600 });
        }
        assert.deepEqual(fs.readdirSync(keysDir).sort(), [
            "unseal-key-1",
            "unseal-key-2",
            "unseal-key-3",
            "unseal-key-4",
            "unseal-key-5",
        ]);
        await ensureUnsealed({ ...inputs(vault.address, false), keys });

        for (const mount of Object.keys(MOUNTS)) {
            const res = await vaultRequest(vault.address, adminToken, "POST", `sys/mounts/${mount}`, {
                type: "kv",
                options: { version: "2" },
            });
            assert.equal(res.status, 204);
        }
        for (const [mount, count] of Object.entries(MOUNTS)) {
            for (let i = 0; i < count; i++) {
                const p = `${mount}/app-${i % 10}/category-${i % 3}/secret-${i}`;
                expected.set(p, {
                    value: randomBytes(24).toString("base64"),
                    index: String(i),
                    note: `ü ${mount} ${i}`,
                });
            }
        }
        const all = [...expected.entries()];
        for (let i = 0; i < all.length; i += 25) {
            await Promise.all(
                all.slice(i, i + 25).map(async ([p, data]) => {
                    const [mount, ...rest] = p.split("/");
                    const res = await vaultRequest(
                        vault!.address,
                        adminToken,
                        "POST",
                        `${mount}/data/${rest.join("/")}`,
                        {
                            data,
                        },
                    );
                    assert.equal(res.status, 200, `write ${p}`);
                }),
            );
        }
        accessors = await mountAccessors(vault.address);

        // The cluster is lost: the process, its config, its logs and its port go. Storage and key material stay.
        await vault.stop();
        vault = undefined;
        assert.ok(fs.readdirSync(storageDir).includes("core"));
    });

    after(async function () {
        unsealer?.kill("SIGTERM");
        await vault?.stop();
        if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
    });

    it("a new server on the same storage is adopted and unsealed by the project's path; every secret reads back", async function () {
        const t0 = Date.now();
        vault = await startVault({ storageDir });
        const address = vault.address;

        const fresh = await sealStatus({ address });
        assert.deepEqual({ initialized: fresh.initialized, sealed: fresh.sealed }, { initialized: true, sealed: true });
        // Bootstrap refuses to touch an initialized Vault it has no record of...
        await assert.rejects(ensureInitialized(inputs(address, false)), {
            message: alreadyInitializedMessage(inputs(address, false)),
        });
        // ...and adopts it when the operator supplies a token: no init, no new keys.
        const adopted = await ensureInitialized(inputs(address, true));
        assert.deepEqual(
            {
                adopted: adopted.adopted,
                initialized: adopted.initialized,
                keys: adopted.keys,
                rootToken: adopted.rootToken,
            },
            { adopted: true, initialized: true, keys: [], rootToken: "" },
        );

        // The unsealer pod: components/unseal.sh in loop mode, keys from the mounted files.
        unsealer = spawn("sh", [UNSEAL_SH, "--loop", "1"], {
            env: {
                PATH: `${path.dirname(vaultBin)}:${process.env.PATH}`,
                HOME: root,
                VAULT_ADDR: address,
                UNSEAL_KEYS_DIR: keysDir,
            },
            stdio: ["ignore", "pipe", "pipe"],
        });
        unsealer.stdout?.on("data", (d) => (unsealerLog += d));
        unsealer.stderr?.on("data", (d) => (unsealerLog += d));
        // Bootstrap's readiness step with no keys of its own waits for the unsealer.
        const status = await ensureUnsealed({ ...inputs(address, true), keys: [] }, { intervalMs: 100 });
        assert.equal(status.sealed, false);
        // The unsealer logs its success right after its last key: let it finish that line.
        for (let i = 0; i < 200 && !/unsealed after/.test(unsealerLog); i++)
            await new Promise((r) => setTimeout(r, 25));
        unsealer.kill("SIGTERM");
        for (let i = 0; i < 200; i++) {
            if ((await vaultRequest(address, undefined, "GET", "sys/health")).status === 200) break;
            await new Promise((r) => setTimeout(r, 25));
        }

        let checked = 0;
        const all = [...expected.entries()];
        for (let i = 0; i < all.length; i += 50) {
            await Promise.all(
                all.slice(i, i + 50).map(async ([p, data]) => {
                    const [mount, ...rest] = p.split("/");
                    const res = await vaultRequest(address, adminToken, "GET", `${mount}/data/${rest.join("/")}`);
                    assert.equal(res.status, 200, `read ${p}`);
                    assert.deepEqual(res.body.data.data, data, p);
                    assert.equal(res.body.data.metadata.version, 1, p);
                    checked += 1;
                }),
            );
        }
        const ms = Date.now() - t0;
        assert.equal(checked, 300);
        console.log(
            `      DR drill: new server on the old storage, adopted, unsealed by unseal.sh, ${checked} secrets verified in ${ms} ms`,
        );

        // Nothing re-initialized: same barrier (mount accessors), same token, init reports initialized.
        assert.deepEqual(await mountAccessors(address), accessors);
        assert.deepEqual((await vaultRequest(address, undefined, "GET", "sys/init")).body, { initialized: true });
        assert.equal((await vaultRequest(address, adminToken, "GET", "auth/token/lookup-self")).status, 200);
        assert.match(unsealerLog, /unsealed after 3 key\(s\)/);
        for (const k of keys) assert.ok(!unsealerLog.includes(k), "a key reached the unsealer log");
    });
});
