/**
 * components/unseal.sh with VAULT_ADDRS, as the unsealer runs for raft HA: Shamir
 * keys unseal one server at a time, so it walks every pod's own address. Two
 * real Vault servers share the same key shares (the second starts on a copy of
 * the first's storage, as raft replicas share one cluster's keys); a third is
 * uninitialized, as a raft pod is before it joins.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { UNSEAL_SCRIPT_PATH } from "../../components/bootstrap";
import { initAndUnseal, startVault, vaultRequest, VaultInit, VaultServer } from "../support/vault-server";
import { requireTool } from "../support/tools";

describe("integration: unseal.sh walks every raft pod (VAULT_ADDRS)", function () {
    this.timeout(60_000);
    const servers: VaultServer[] = [];
    let work: string;
    let init: VaultInit;
    let first: VaultServer;
    let second: VaultServer;
    let joining: VaultServer;

    const sealed = async (s: VaultServer) =>
        (await vaultRequest(s.address, undefined, "GET", "sys/seal-status")).body.sealed;

    before(async function () {
        const vaultBin = requireTool(this, "vault");
        work = fs.mkdtempSync(path.join(os.tmpdir(), "secret-platform-unseal-pods-"));
        fs.mkdirSync(path.join(work, "bin"));
        fs.mkdirSync(path.join(work, "keys"));
        fs.symlinkSync(vaultBin, path.join(work, "bin", "vault"));

        first = await startVault();
        servers.push(first);
        init = await initAndUnseal(first.address, { shares: 3, threshold: 2 });
        const res = await vaultRequest(first.address, init.rootToken, "PUT", "sys/seal");
        assert.equal(res.status, 204);
        // A second server on a copy of the sealed storage: same keys, its own process.
        const copy = path.join(work, "storage-copy");
        fs.cpSync(first.storageDir, copy, { recursive: true });
        second = await startVault({ storageDir: copy });
        servers.push(second);
        joining = await startVault();
        servers.push(joining);
        init.keys.forEach((k, i) =>
            fs.writeFileSync(path.join(work, "keys", `unseal-key-${i + 1}`), `${k}\n`, { mode: 0o400 }),
        );
    });

    after(async () => {
        await Promise.all(servers.map((s) => s.stop()));
        if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
    });

    it("unseals each sealed pod, skips the one not yet joined, exits 0 and prints no key", async () => {
        assert.equal(await sealed(first), true);
        assert.equal(await sealed(second), true);
        const addrs = [first.address, joining.address, second.address];
        const r = spawnSync("/bin/sh", [UNSEAL_SCRIPT_PATH], {
            env: {
                VAULT_ADDR: "http://vault.vault.svc:8200", // the Service: unused when VAULT_ADDRS is set
                VAULT_ADDRS: addrs.join(" "),
                UNSEAL_KEYS_DIR: path.join(work, "keys"),
                HOME: work,
                PATH: `${path.join(work, "bin")}:/usr/bin:/bin`,
            },
            encoding: "utf8",
            timeout: 60_000,
        });
        const output = `${r.stdout}${r.stderr}`;
        assert.equal(r.status, 0, output);
        assert.equal(await sealed(first), false);
        assert.equal(await sealed(second), false);
        assert.match(output, new RegExp(`Vault at ${joining.address} is not initialized`));
        for (const secret of [...init.keys, ...init.keysBase64, init.rootToken]) assert.ok(!output.includes(secret));
    });
});
