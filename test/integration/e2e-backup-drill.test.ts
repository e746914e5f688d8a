/**
 * The e2e KV export drill's own checks (e2e/backup-drill.ts), on a real Vault
 * and Debian's age, so that the rig's run can be trusted when it passes: the
 * state the drill reads from Vault with plain KV v2 calls equals the state of
 * an export the product's code made of that Vault (decrypted with `age -d`),
 * versions, deleted versions and custom metadata included; a changed value,
 * a missing version or a missing secret in the export is named; another
 * identity cannot decrypt. Skips without vault or age, except under CI=true.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { vaultClient } from "../../e2e/rig/vault";
import { ageKeyPair, decryptWithAge, difference, exportState, vaultState } from "../../e2e/backup-drill";
import { BackupVault, encryptExport, exportMounts, MountSettings, serializeExport } from "../../ops/backup/kv-backup";
import { requireTool } from "../support/tools";
import { initAndUnseal, startVault, vaultRequest, VaultServer } from "../support/vault-server";

const MOUNTS: MountSettings[] = [
    { path: "amiya.akn", maxVersions: 5, casRequired: false, deleteVersionAfter: 0 },
    { path: "shared", maxVersions: 10, casRequired: false, deleteVersionAfter: 0 },
];

describe("e2e KV export drill: its checks against a real Vault and age", function () {
    this.timeout(60_000);
    let server: VaultServer;
    let token = "";
    let dir = "";

    before(async function () {
        requireTool(this, "vault");
        requireTool(this, "age");
        requireTool(this, "age-keygen");
        server = await startVault();
        token = (await initAndUnseal(server.address)).rootToken;
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-backup-drill-"));
        const call = async (method: string, p: string, body?: unknown, ok = [200, 204]) => {
            const res = await vaultRequest(server.address, token, method, p, body);
            assert.ok(ok.includes(res.status), `${method} ${p}: ${res.status}`);
        };
        for (const m of MOUNTS) {
            await call("POST", `sys/mounts/${m.path}`, { type: "kv", options: { version: "2" } });
            await call("POST", `${m.path}/config`, { max_versions: m.maxVersions });
        }
        for (const v of ["one", "two", "three"]) await call("POST", "amiya.akn/data/app/db", { data: { password: v } });
        await call("POST", "amiya.akn/delete/app/db", { versions: [2] });
        await call("POST", "amiya.akn/metadata/app/db", { custom_metadata: { owner: "db-team" } });
        await call("POST", "shared/data/common/registry", { data: { token: "r-1", user: "ci" } });
    });

    after(async () => {
        await server?.stop();
        if (dir !== "") fs.rmSync(dir, { recursive: true, force: true });
    });

    it("reads the same state from Vault and from the decrypted export, and names every difference", async () => {
        const vault = vaultClient(server.address, "");
        const state = await vaultState(vault, token, ["amiya.akn", "shared"]);
        assert.deepEqual(state.secrets["amiya.akn:app/db"], {
            customMetadata: { owner: "db-team" },
            currentVersion: 3,
            versions: {
                1: { state: "data", data: { password: "one" } },
                2: { state: "deleted" },
                3: { state: "data", data: { password: "three" } },
            },
        });
        assert.deepEqual(Object.keys(state.secrets).sort(), ["amiya.akn:app/db", "shared:common/registry"]);

        const key = await ageKeyPair(dir, "operator");
        const e = await exportMounts(new BackupVault({ address: server.address }, token), MOUNTS);
        const file = path.join(dir, "kv-export.jsonl.gz.age");
        fs.writeFileSync(file, await encryptExport(serializeExport(e), [key.recipient]));
        const text = await decryptWithAge(key.identityFile, file);
        const exported = exportState(text);
        assert.equal(difference(state, exported), undefined);
        assert.deepEqual(Object.keys(exported.mounts).sort(), ["amiya.akn", "shared"]);

        // Negative controls: each kind of loss in an export is named.
        const changed = exportState(text.replace('"password":"three"', '"password":"THREE"'));
        assert.match(difference(state, changed) ?? "", /^amiya\.akn:app\/db: .*"three".* vs .*"THREE"/);
        const lines = text.split("\n");
        const db = lines.findIndex((l) => l.includes('"path":"app/db"'));
        const rec = JSON.parse(lines[db]);
        const withoutVersion = [...lines];
        withoutVersion[db] = JSON.stringify({
            ...rec,
            versions: rec.versions.filter((v: { version: number }) => v.version !== 2),
        });
        const t = JSON.parse(lines[lines.length - 2]);
        withoutVersion[lines.length - 2] = JSON.stringify({ ...t, versions: t.versions - 1 });
        assert.match(
            difference(state, exportState(withoutVersion.join("\n"))) ?? "",
            /^amiya\.akn:app\/db: .*"deleted"/,
        );
        const i = lines.findIndex((l) => l.includes('"path":"common/registry"'));
        const withoutSecret = [...lines.slice(0, i), ...lines.slice(i + 1)];
        const trailer = JSON.parse(withoutSecret[withoutSecret.length - 2]);
        withoutSecret[withoutSecret.length - 2] = JSON.stringify({
            ...trailer,
            secrets: 1,
            versions: trailer.versions - 1,
        });
        assert.match(difference(state, exportState(withoutSecret.join("\n"))) ?? "", /^shared:common\/registry: /);

        const other = await ageKeyPair(dir, "another");
        await assert.rejects(decryptWithAge(other.identityFile, file), /no identity matched any of the recipients/);
    });
});
