/**
 * Bootstrap against a real Vault server (test/support/vault-server: `vault
 * server` on loopback with file storage, uninitialized and sealed like a new
 * production server). The project's own code runs here exactly as it runs in
 * production: the dynamic providers in their serialized form (the text Pulumi
 * stores and its dynamic provider host loads), and components/unseal.sh under
 * /bin/sh with the keys as files and VAULT_ADDR, as in the unsealer pod.
 *
 * One server for the file; the cases build on each other in order: first
 * `pulumi up`, second `pulumi up`, a sealed Vault, the loop, wiped storage.
 * Everything the code prints is captured and checked for keys and tokens.
 */
import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { unsealKeyFiles, UNSEAL_SCRIPT_PATH } from "../../components/bootstrap";
import {
    alreadyInitializedMessage,
    BootstrapInputs,
    sealedPreviewMessage,
    unreachableForPreviewMessage,
    wipedStorageMessage,
} from "../../components/lib/vault-init";
import { initInputs } from "../support/bootstrap-inputs";
import { hostLoaded, Provider } from "../support/dynamic-provider";
import { requireTool } from "../support/tools";
import { freePort, startVault, vaultRequest, VaultServer } from "../support/vault-server";

describe("integration: bootstrap against a real Vault server", function () {
    let vault: VaultServer;
    let vaultBin: string;
    let work: string;
    let init: Provider;
    let unseal: Provider;
    let inputs: BootstrapInputs;
    let state: Record<string, any>;
    let podShell: string;
    let podPath: string;
    /** Everything the project's code printed (provider logs, script output). */
    const printed: string[] = [];

    /** Runs fn with process stdout/stderr captured into `printed` (and still shown). */
    async function capturing<T>(fn: () => Promise<T>): Promise<T> {
        const out = process.stdout.write.bind(process.stdout);
        const err = process.stderr.write.bind(process.stderr);
        const tap =
            (write: typeof out) =>
            (chunk: any, ...rest: any[]): boolean => {
                printed.push(String(chunk));
                return write(chunk, ...rest);
            };
        process.stdout.write = tap(out) as typeof process.stdout.write;
        process.stderr.write = tap(err) as typeof process.stderr.write;
        try {
            return await fn();
        } finally {
            process.stdout.write = out;
            process.stderr.write = err;
        }
    }

    const keysDir = () => path.join(work, "unseal-keys");

    /** The unsealer pod's environment: VAULT_ADDR, the key dir, the Vault image's CLI on PATH, nothing else. */
    function podEnv(): NodeJS.ProcessEnv {
        return {
            VAULT_ADDR: vault.address,
            UNSEAL_KEYS_DIR: keysDir(),
            HOME: path.join(work, "home"),
            PATH: podPath,
        };
    }

    /** components/unseal.sh once, as the CronJob runs it. */
    function runUnsealScript(args: string[] = []): { status: number | null; output: string } {
        const r = spawnSync(podShell, [UNSEAL_SCRIPT_PATH, ...args], {
            env: podEnv(),
            encoding: "utf8",
            timeout: 60_000,
        });
        const output = `${r.stdout}${r.stderr}`;
        printed.push(output);
        return { status: r.status, output };
    }

    async function sealStatus(): Promise<{ initialized: boolean; sealed: boolean; progress: number }> {
        return (await vaultRequest(vault.address, undefined, "GET", "sys/seal-status")).body;
    }

    async function sealVault(): Promise<void> {
        const res = await vaultRequest(vault.address, state.rootToken, "PUT", "sys/seal");
        assert.equal(res.status, 204, `sys/seal: HTTP ${res.status}`);
        assert.equal((await sealStatus()).sealed, true);
    }

    before(async function () {
        vaultBin = requireTool(this, "vault");
        [init, unseal] = await Promise.all([hostLoaded("init"), hostLoaded("unsealed")]);
        vault = await startVault();
        work = fs.mkdtempSync(path.join(os.tmpdir(), "secret-platform-bootstrap-"));
        fs.mkdirSync(path.join(work, "bin"));
        fs.mkdirSync(path.join(work, "home"));
        // The image has `vault` on PATH; so does this fake pod.
        fs.symlinkSync(vaultBin, path.join(work, "bin", "vault"));
        // The Vault image is Alpine: BusyBox sh and applets. With busybox installed, the script gets exactly
        // that and nothing from /usr/bin; otherwise the system's POSIX /bin/sh and tools.
        const busybox = ["/usr/bin/busybox", "/bin/busybox"].find((f) => fs.existsSync(f));
        if (busybox !== undefined) {
            for (const applet of ["sh", "sed", "date", "basename", "sleep", "cat"]) {
                fs.symlinkSync(busybox, path.join(work, "bin", applet));
            }
            podShell = path.join(work, "bin", "sh");
            podPath = path.join(work, "bin");
        } else {
            podShell = "/bin/sh";
            podPath = `${path.join(work, "bin")}:/usr/bin:/bin`;
        }
        inputs = initInputs(vault.address);
    });

    after(async function () {
        await vault?.stop();
        if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
    });

    it("first pulumi up: init creates the root token and 3 key shares, then the readiness step unseals", async function () {
        const fresh = await sealStatus();
        assert.deepEqual([fresh.initialized, fresh.sealed], [false, true]);
        const created = await capturing(() => init.create(inputs));
        state = created.outs;
        assert.equal(created.id, `vault-init:${vault.address}`);
        assert.equal(state.initialized, true);
        assert.equal(state.adopted, false);
        assert.match(state.rootToken, /^hvs\./);
        assert.equal(state.keys.length, 3);
        for (const k of state.keys) assert.match(k, /^[0-9a-f]{66}$/);
        assert.deepEqual(
            { ...state, rootToken: "", keys: [] },
            // The outputs keep the inputs, and the kind the shared provider dispatches a delete or refresh on.
            { ...inputs, initialized: true, adopted: false, rootToken: "", keys: [] },
        );
        const status = await sealStatus();
        assert.deepEqual([status.initialized, status.sealed], [true, true]);

        const ready = await capturing(() =>
            unseal.create({ ...inputs, keys: state.keys, keysSecret: inputs.keysSecret }),
        );
        assert.equal(ready.outs.unsealed, true);
        assert.equal((await sealStatus()).sealed, false);
        const self = await vaultRequest(vault.address, state.rootToken, "GET", "auth/token/lookup-self");
        assert.equal(self.status, 200);
        assert.deepEqual(self.body.data.policies, ["root"]);
    });

    it("second pulumi up: no diff, an update keeps the same token and keys, Vault is never re-initialized", async function () {
        const diff = await init.diff("id", state, inputs);
        assert.deepEqual(diff, { changes: false, replaces: [] });
        // A settings change is an in-place update that keeps the key material.
        const updated = await capturing(() =>
            init.update("id", state, { ...inputs, waitTimeoutSeconds: 45, __provider: "x" }),
        );
        assert.deepEqual(updated.outs, { ...state, waitTimeoutSeconds: 45 });
        // Refresh of a healthy Vault keeps the state as it is.
        assert.deepEqual(await init.read("id", state), { id: "id", props: state });
        // A create without state (lost state) refuses and names what to supply.
        await assert.rejects(
            capturing(() => init.create(inputs)),
            { message: alreadyInitializedMessage(inputs) },
        );
        // ...and with the operator's token it adopts without key material.
        const adopted = await capturing(() => init.create({ ...inputs, adoptExisting: true }));
        assert.deepEqual(adopted.outs, {
            ...inputs,
            adoptExisting: true,
            initialized: true,
            adopted: true,
            rootToken: "",
            keys: [],
        });
        // The first run's token still works: nothing was re-initialized.
        const self = await vaultRequest(vault.address, state.rootToken, "GET", "auth/token/lookup-self");
        assert.equal(self.status, 200);
        // The readiness resource has nothing to do on an unsealed Vault.
        assert.deepEqual(await unseal.diff("id", { ...inputs, keys: state.keys }, { ...inputs, keys: state.keys }), {
            changes: false,
            replaces: [],
        });
    });

    it("after sys/seal, components/unseal.sh unseals with the keys as files, as the CronJob runs it", async function () {
        fs.mkdirSync(keysDir(), { mode: 0o700 });
        for (const [file, key] of Object.entries(unsealKeyFiles(state.keys))) {
            fs.writeFileSync(path.join(keysDir(), file), key, { mode: 0o400 });
        }
        await sealVault();
        // A preview of the sealed Vault: an update, and a line that says why (the plugin's output is shown).
        const before = printed.length;
        const withKeys = { ...inputs, keys: state.keys };
        assert.deepEqual(await capturing(() => unseal.diff("id", withKeys, withKeys)), {
            changes: true,
            replaces: [],
        });
        assert.equal(printed.slice(before).join(""), `${sealedPreviewMessage({ ...withKeys, keysSecret: "" })}\n`);
        assert.match(printed.slice(before).join(""), /is sealed; the update submits the stack's unseal keys\n$/);

        const run = runUnsealScript();
        assert.equal(run.status, 0, run.output);
        assert.match(
            run.output,
            /vault-unsealer: Vault at http:\/\/127\.0\.0\.1:\d+ is sealed; submitting unseal keys from /,
        );
        assert.match(run.output, /vault-unsealer: unsealed after 2 key\(s\)\n$/);
        assert.equal((await sealStatus()).sealed, false);

        const again = runUnsealScript();
        assert.equal(again.status, 0);
        assert.match(again.output, /^\S+ vault-unsealer: Vault at http:\/\/127\.0\.0\.1:\d+ is unsealed\n$/);
    });

    it("unseal.sh fails (exit 1) and says why when the key files do not unseal", async function () {
        await sealVault();
        const empty = path.join(work, "no-keys");
        fs.mkdirSync(empty);
        const r = spawnSync(podShell, [UNSEAL_SCRIPT_PATH], {
            env: { ...podEnv(), UNSEAL_KEYS_DIR: empty },
            encoding: "utf8",
        });
        printed.push(`${r.stdout}${r.stderr}`);
        assert.equal(r.status, 1);
        assert.match(r.stdout, /vault-unsealer: no usable unseal key files in .*no-keys\n$/);
        assert.equal(runUnsealScript(["--loop"]).status, 2, "--loop needs an interval");
    });

    it("the loop (--loop 1) unseals a sealed Vault and stops cleanly on SIGTERM", async function () {
        assert.equal((await sealStatus()).sealed, true);
        const child = spawn(podShell, [UNSEAL_SCRIPT_PATH, "--loop", "1"], { env: podEnv() });
        let output = "";
        child.stdout.on("data", (c) => (output += c));
        child.stderr.on("data", (c) => (output += c));
        const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
        try {
            const deadline = Date.now() + 20_000;
            while ((await sealStatus()).sealed) {
                assert.ok(Date.now() < deadline, `still sealed after 20s; loop output:\n${output}`);
                await new Promise((r) => setTimeout(r, 50));
            }
            // Sealed again while the loop runs: the next pass unseals it again.
            await sealVault();
            while ((await sealStatus()).sealed) {
                assert.ok(Date.now() < deadline, `not unsealed again; loop output:\n${output}`);
                await new Promise((r) => setTimeout(r, 50));
            }
        } finally {
            child.kill("SIGTERM");
        }
        assert.equal(await exited, 0);
        printed.push(output);
        assert.match(output, /vault-unsealer: checking http:\/\/127\.0\.0\.1:\d+ every 1s\n/);
        assert.match(output, /vault-unsealer: stopping\n$/);
    });

    it("wiped storage: refresh, the readiness step and the unsealer all report it; nothing re-initializes", async function () {
        // Same process config, empty storage: what a wiped or swapped bucket looks like to Vault.
        for (const entry of fs.readdirSync(vault.storageDir)) {
            fs.rmSync(path.join(vault.storageDir, entry), { recursive: true, force: true });
        }
        await vault.restart();
        await assert.rejects(init.read("id", state), { message: wipedStorageMessage(vault.address) });
        // A preview says so too, instead of planning an update that would fail.
        await assert.rejects(unseal.diff("id", { ...inputs, keys: state.keys }, { ...inputs, keys: state.keys }), {
            message: wipedStorageMessage(vault.address),
        });
        await assert.rejects(unseal.update("id", {}, { ...inputs, address: vault.address, keys: state.keys }), {
            message: wipedStorageMessage(vault.address),
        });
        const r = spawnSync(podShell, [UNSEAL_SCRIPT_PATH], {
            env: { ...podEnv(), VAULT_ADDR: vault.address },
            encoding: "utf8",
        });
        printed.push(`${r.stdout}${r.stderr}`);
        assert.equal(r.status, 3);
        assert.match(r.stdout, /is not initialized; nothing to unseal \(bootstrap initializes it\)\n$/);
        assert.equal((await sealStatus()).initialized, false, "nobody initialized it behind the operator's back");
        // delete never touches Vault.
        await capturing(() => init.delete("id", state));
        assert.equal((await sealStatus()).initialized, false);
    });

    it("a preview that cannot reach Vault fails naming the address and the cause, never a phantom change", async function () {
        const port = await freePort();
        const address = `http://127.0.0.1:${port}`;
        const unreachable = { ...inputs, address, keys: state.keys };
        await assert.rejects(unseal.diff("id", unreachable, unreachable), {
            message: unreachableForPreviewMessage(
                address,
                `GET ${address}/v1/sys/seal-status: connect ECONNREFUSED 127.0.0.1:${port}`,
            ),
        });
    });

    it("printed no key share and no token anywhere", function () {
        const all = printed.join("");
        assert.ok(all.includes("vault-init: initialized"), "the capture saw the provider's own log line");
        const base64 = state.keys.map((k: string) => Buffer.from(k, "hex").toString("base64"));
        for (const secret of [state.rootToken, ...state.keys, ...base64]) {
            assert.ok(!all.includes(secret), "a key share or the root token was printed");
        }
    });
});
