/**
 * The rig's S3 key check (e2e/rig/s3-guard.ts) with an independent signer:
 * the real Vault's S3 storage (aws-sdk-go v1 inside it) through the guard in
 * front of a real gofakes3, the storage-key rotation of
 * docs/credential-rotation.md at process scale. Vault on the old key works;
 * the new key added beside it; Vault restarted on the new key reads what the
 * old one wrote; the old key revoked: a Vault on it no longer starts
 * (InvalidAccessKeyId), nor one with the new id and a guessed secret
 * (SignatureDoesNotMatch), while the running Vault on the new key writes and
 * reads on. The e2e's drill 6 runs the same on pods.
 */
import { strict as assert } from "node:assert";
import { ChildProcess, spawn } from "node:child_process";
import { S3Guard, startS3Guard } from "../../e2e/rig/s3-guard";
import { requireTool } from "../support/tools";
import { freePort, initAndUnseal, startVault, unseal, vaultRequest, VaultServer } from "../support/vault-server";

const BUCKET = "vault-rotation";
const OLD = { AWS_ACCESS_KEY_ID: "GKold0123456789", AWS_SECRET_ACCESS_KEY: "old-storage-secret-0123456789abcdef" };
const NEW = { AWS_ACCESS_KEY_ID: "GKnew0123456789", AWS_SECRET_ACCESS_KEY: "new-storage-secret-0123456789abcdef" };

describe("integration: the rig's S3 key check under the real Vault's S3 client (storage-key rotation)", function () {
    this.timeout(120_000);
    let s3: ChildProcess | undefined;
    let guard: S3Guard;
    let storageHcl: string;
    const running: VaultServer[] = [];

    before(async function () {
        requireTool(this, "vault");
        const bin = requireTool(this, "gofakes3") as string;
        const port = await freePort();
        s3 = spawn(bin, ["-backend", "memory", "-host", `127.0.0.1:${port}`, "-initialbucket", BUCKET], {
            stdio: "ignore",
        });
        const deadline = Date.now() + 10_000;
        for (;;) {
            try {
                await fetch(`http://127.0.0.1:${port}/${BUCKET}`, { signal: AbortSignal.timeout(1_000) });
                break;
            } catch (err) {
                if (Date.now() > deadline) throw new Error(`gofakes3 did not come up: ${(err as Error).message}`);
                await new Promise((r) => setTimeout(r, 50));
            }
        }
        guard = await startS3Guard({ host: "127.0.0.1", port });
        guard.enforce(new Map([[OLD.AWS_ACCESS_KEY_ID, OLD.AWS_SECRET_ACCESS_KEY]]));
        storageHcl = [
            `storage "s3" {`,
            `  bucket = "${BUCKET}"`,
            `  endpoint = "http://${guard.endpoint.host}:${guard.endpoint.port}"`,
            `  region = "garage"`,
            `  s3_force_path_style = "true"`,
            `  path = "vault/"`,
            `}`,
        ].join("\n");
    });
    after(async () => {
        for (const v of running) await v.stop();
        await guard?.close();
        s3?.kill("SIGKILL");
    });

    const start = async (env: Record<string, string>) => {
        const v = await startVault({ storageHcl, env });
        running.push(v);
        return v;
    };
    const ok = async (v: VaultServer, token: string, method: string, p: string, body?: unknown) => {
        const res = await vaultRequest(v.address, token, method, p, body);
        assert.ok(res.status < 300, `${method} ${p}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
        return res;
    };
    const refusedStart = async (env: Record<string, string>, code: string) => {
        await assert.rejects(start(env), (err: Error) => {
            assert.match(err.message, /vault server exited/);
            assert.match(err.message, new RegExp(`unable to access bucket "${BUCKET}"[\\s\\S]*${code}`));
            return true;
        });
    };

    it("rotates: old key, both keys, new key; after the revocation the old key and a guessed secret are refused", async () => {
        // Before: Vault on the old key only; the new key is refused (it does not exist yet).
        await refusedStart(NEW, "InvalidAccessKeyId");
        const first = await start(OLD);
        const init = await initAndUnseal(first.address);
        await ok(first, init.rootToken, "POST", "sys/mounts/kv", { type: "kv", options: { version: "2" } });
        await ok(first, init.rootToken, "POST", "kv/data/app", { data: { value: "before-rotation" } });
        const afterOld = guard.counts();
        assert.ok((afterOld.accepted[OLD.AWS_ACCESS_KEY_ID] ?? 0) > 0, JSON.stringify(afterOld));
        assert.deepEqual(afterOld.refused, { [NEW.AWS_ACCESS_KEY_ID]: { InvalidAccessKeyId: 1 } });

        // Runbook steps 1-2: the new key beside the old one; Vault restarted on the new key (the pod's new env).
        guard.allow(NEW.AWS_ACCESS_KEY_ID, NEW.AWS_SECRET_ACCESS_KEY);
        await first.stop();
        running.splice(running.indexOf(first), 1);
        const second = await start(NEW);
        await unseal(second.address, init.keys);
        const read = await ok(second, init.rootToken, "GET", "kv/data/app");
        assert.equal(read.body.data.data.value, "before-rotation");
        const oldCount = guard.counts().accepted[OLD.AWS_ACCESS_KEY_ID];
        assert.ok((guard.counts().accepted[NEW.AWS_ACCESS_KEY_ID] ?? 0) > 0);

        // Step 4: the old key revoked once the new Vault is unsealed.
        guard.revoke(OLD.AWS_ACCESS_KEY_ID);
        await refusedStart(OLD, "InvalidAccessKeyId");
        await refusedStart({ ...NEW, AWS_SECRET_ACCESS_KEY: "guessed-secret" }, "SignatureDoesNotMatch");
        // Positive control: the running Vault on the new key still writes to and reads from the bucket.
        const newBefore = guard.counts().accepted[NEW.AWS_ACCESS_KEY_ID];
        await ok(second, init.rootToken, "POST", "kv/data/app", { data: { value: "after-rotation" } });
        assert.equal((await ok(second, init.rootToken, "GET", "kv/data/app")).body.data.data.value, "after-rotation");
        const end = guard.counts();
        assert.ok(end.accepted[NEW.AWS_ACCESS_KEY_ID] > newBefore, JSON.stringify(end));
        assert.equal(end.accepted[OLD.AWS_ACCESS_KEY_ID], oldCount, "nothing signed with the old key got through");
        assert.deepEqual(end.refused[OLD.AWS_ACCESS_KEY_ID], { InvalidAccessKeyId: 1 });
        assert.deepEqual(end.refused[NEW.AWS_ACCESS_KEY_ID], { InvalidAccessKeyId: 1, SignatureDoesNotMatch: 1 });
        assert.equal(end.unchecked, 0);
    });
});
