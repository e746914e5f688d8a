/**
 * `npm run bench:unseal --  [--interval S] [--runs N]`: how long a
 * sealed Vault stays sealed when the unsealer loop (components/unseal.sh --loop)
 * is running, measured against a real Vault server (scripts/build-vault.sh).
 *
 * The server is the test harness's (loopback, file storage), initialized with
 * the project's own init code and 3 shares / threshold 2. The loop runs as in
 * the pod: /bin/sh, the vault CLI on PATH, the keys as files, VAULT_ADDR. Each
 * run seals Vault through the API at a random moment of the loop's cycle and
 * polls seal-status every 10 ms until it reports unsealed. Expect about
 * interval/2 on average plus the cost of two `vault write` calls; the worst
 * case is one interval plus that cost. Nothing secret is printed.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { unsealKeyFiles, UNSEAL_SCRIPT_PATH } from "../../components/bootstrap";
import { ensureInitialized, ensureUnsealed } from "../../components/lib/vault-init";
import { initInputs } from "../support/bootstrap-inputs";
import { findTool, missingToolMessage } from "../support/tools";
import { startVault, vaultRequest } from "../support/vault-server";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: { interval: { type: "string", default: "5" }, runs: { type: "string", default: "10" } },
    });
    const interval = Number(values.interval);
    const runs = Number(values.runs);
    if (!Number.isInteger(interval) || interval < 1)
        throw new Error("--interval must be a whole number of seconds >= 1");
    if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be a whole number >= 1");
    const bin = findTool("vault");
    if (bin === undefined) throw new Error(missingToolMessage("vault"));

    const vault = await startVault();
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "secret-platform-bench-unseal-"));
    let loop: ReturnType<typeof spawn> | undefined;
    try {
        const state = await ensureInitialized(initInputs(vault.address, { keysSecret: "" }), () => undefined);
        await ensureUnsealed({ ...state, keys: state.keys }, { intervalMs: 50 });
        const keysDir = path.join(work, "unseal-keys");
        fs.mkdirSync(keysDir, { mode: 0o700 });
        for (const [file, key] of Object.entries(unsealKeyFiles(state.keys))) {
            fs.writeFileSync(path.join(keysDir, file), key, { mode: 0o400 });
        }
        fs.mkdirSync(path.join(work, "bin"));
        fs.symlinkSync(bin, path.join(work, "bin", "vault"));

        loop = spawn("/bin/sh", [UNSEAL_SCRIPT_PATH, "--loop", String(interval)], {
            env: {
                VAULT_ADDR: vault.address,
                UNSEAL_KEYS_DIR: keysDir,
                HOME: work,
                PATH: `${path.join(work, "bin")}:/usr/bin:/bin`,
            },
            stdio: "ignore",
        });

        console.log(`unseal loop every ${interval}s, ${runs} runs, Vault ${vault.address} (3 shares, threshold 2)`);
        const times: number[] = [];
        for (let i = 0; i < runs; i++) {
            // Seal at a random point of the loop's cycle.
            await sleep(Math.random() * interval * 1000);
            const res = await vaultRequest(vault.address, state.rootToken, "PUT", "sys/seal");
            if (res.status !== 204) throw new Error(`sys/seal: HTTP ${res.status}`);
            const sealedAt = performance.now();
            const deadline = sealedAt + (interval + 30) * 1000;
            for (;;) {
                const s = await vaultRequest(vault.address, undefined, "GET", "sys/seal-status");
                if (s.body?.sealed === false) break;
                if (performance.now() > deadline) throw new Error(`run ${i + 1}: still sealed after ${interval + 30}s`);
                await sleep(10);
            }
            const ms = performance.now() - sealedAt;
            times.push(ms);
            console.log(`  run ${String(i + 1).padStart(2)}: sealed -> unsealed in ${ms.toFixed(0)} ms`);
        }
        const sorted = [...times].sort((a, b) => a - b);
        const mean = times.reduce((a, b) => a + b, 0) / times.length;
        console.log(
            `sealed -> unsealed: min ${sorted[0].toFixed(0)} ms, median ${percentile(sorted, 50).toFixed(0)} ms, ` +
                `mean ${mean.toFixed(0)} ms, p95 ${percentile(sorted, 95).toFixed(0)} ms, max ${sorted[sorted.length - 1].toFixed(0)} ms`,
        );
    } finally {
        loop?.kill("SIGTERM");
        await vault.stop();
        fs.rmSync(work, { recursive: true, force: true });
    }
}

main().catch((e: Error) => {
    console.error(`bench-unseal: ${e.message}`);
    process.exit(1);
});
