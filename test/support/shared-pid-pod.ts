/**
 * A pod's shared PID namespace on the host, for the sidecar specs: Vault and
 * a sidecar's program in one fresh PID namespace (`unshare --pid`, standing in
 * for the pod's shareProcessNamespace), run by busybox with only the applets
 * the sidecar may use on PATH (the Vault image is Alpine busybox), so a
 * script that reaches for anything else fails here as it would in the pod.
 */
import { strict as assert } from "node:assert";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { onPath } from "./tools";
import { exited, waitForExit } from "./vault-server";

/** Polls `probe` every 200 ms until it returns a value; fails after `ms` with the last error. */
export async function until<T>(
    what: string,
    ms: number,
    probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
    const deadline = Date.now() + ms;
    let last: unknown;
    for (;;) {
        try {
            const value = await probe();
            if (value !== undefined) return value;
        } catch (e) {
            last = e;
        }
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last ?? "no match")}`);
        await new Promise((r) => setTimeout(r, 200));
    }
}

/** A dir `<root>/bin` holding only the given busybox applets. */
export function busyboxBin(root: string, busybox: string, applets: readonly string[]): string {
    const bin = path.join(root, "bin");
    fs.mkdirSync(bin);
    for (const applet of applets) fs.symlinkSync(busybox, path.join(bin, applet));
    return bin;
}

export interface SharedPidPod {
    readonly child: ChildProcess;
    /** What the namespace's processes wrote to stdout and stderr (Vault's own log goes to a file). */
    output(): string;
    stop(): Promise<void>;
}

/**
 * Runs `script` (busybox sh, its environment `env` and PATH `bin`) as the init of a new PID
 * namespace; the script starts Vault in the background and execs the sidecar, as the pod runs them.
 */
export function startSharedPidPod(busybox: string, bin: string, script: string, env: NodeJS.ProcessEnv): SharedPidPod {
    const unshare = onPath("unshare") ?? assert.fail("unshare (util-linux) is not on PATH");
    const userns = process.getuid?.() === 0 ? [] : ["--user", "--map-root-user"];
    const child = spawn(
        unshare,
        [...userns, "--pid", "--fork", "--mount-proc", "--kill-child", busybox, "sh", "-c", script],
        { env: { ...env, PATH: bin }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout?.on("data", (d) => (output += String(d)));
    child.stderr?.on("data", (d) => (output += String(d)));
    return {
        child,
        output: () => output,
        stop: async () => {
            if (exited(child)) return;
            child.kill("SIGTERM");
            if (!(await waitForExit(child, 5000))) child.kill("SIGKILL");
        },
    };
}
