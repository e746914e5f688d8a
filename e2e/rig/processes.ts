/**
 * The rig's child processes and temp files: every server runs with its output
 * in a log file under one temp dir, readiness is polled against a deadline (a
 * timeout or an early exit fails with the log's tail), and everything the rig
 * started is stopped and removed on normal exit, on SIGINT/SIGTERM and on
 * failure. Secrets never go on a command line: callers pass file paths.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { exited, waitForExit } from "../../test/support/vault-server";

const STOP_GRACE_MS = 5_000;
const POLL_MS = 200;

export interface StartOptions {
    /** The child's whole environment (nothing of the caller's leaks in unless passed). */
    readonly env?: NodeJS.ProcessEnv;
    readonly cwd?: string;
}

export interface RigProcess {
    readonly name: string;
    readonly logFile: string;
    readonly pid: number;
    /** True once the process has exited (on its own or stopped). */
    exited(): boolean;
    /** How it exited ("code 3", "signal SIGKILL"), or "running". */
    exitStatus(): string;
    /** Last lines of the log. */
    logTail(lines?: number): string;
    stop(): Promise<void>;
}

/** A port that was free a moment ago on loopback. */
export async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

export function tailOf(file: string, lines = 40): string {
    try {
        return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
        return "(no log)";
    }
}

/** Signals the child's whole process group (it was spawned detached, as its own group). */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
    if (child.pid === undefined || exited(child)) return;
    try {
        process.kill(-child.pid, signal);
    } catch {
        try {
            child.kill(signal);
        } catch {
            // Already gone.
        }
    }
}

/**
 * One temp dir and the processes started in it. Construct one per run; call
 * cleanup() when done (it is also wired to exit, SIGINT, SIGTERM and uncaught
 * failures, so an interrupted run leaves nothing behind).
 */
export class Rig {
    readonly dir: string;
    readonly logDir: string;
    private readonly processes: { proc: RigProcess; child: ChildProcess }[] = [];
    private readonly extraPaths: string[] = [];
    private readonly hooks: (() => Promise<void>)[] = [];
    private cleaned = false;
    private readonly onExit = () => this.cleanupSync();
    private readonly onSignal = (signal: NodeJS.Signals) => {
        process.stderr.write(`e2e: ${signal}: stopping the rig\n`);
        void this.cleanup().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    };

    constructor(readonly keep = process.env.E2E_KEEP === "1") {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "secret-platform-e2e-"));
        fs.chmodSync(this.dir, 0o700);
        this.logDir = this.subdir("logs");
        process.on("exit", this.onExit);
        process.once("SIGINT", this.onSignal);
        process.once("SIGTERM", this.onSignal);
    }

    /** A fresh 0700 dir under the rig's temp dir. */
    subdir(name: string): string {
        const dir = path.join(this.dir, name);
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        return dir;
    }

    /** A file or dir outside the temp dir that cleanup must also remove (e.g. a stack settings file). */
    removeOnCleanup(file: string): void {
        this.extraPaths.push(file);
    }

    /** An in-process server (e.g. the Helm repository) to close on cleanup, before the processes stop. */
    onCleanup(hook: () => Promise<void>): void {
        this.hooks.push(hook);
    }

    /** Starts `bin args` detached, stdout and stderr to logs/<name>.log. */
    start(name: string, bin: string, args: readonly string[], opts: StartOptions = {}): RigProcess {
        if (this.cleaned) throw new Error(`rig: cannot start ${name}: the rig was cleaned up`);
        const logFile = path.join(this.logDir, `${name}.log`);
        const fd = fs.openSync(logFile, "a", 0o600);
        const child = spawn(bin, args, {
            stdio: ["ignore", fd, fd],
            env: opts.env ?? { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: this.dir },
            cwd: opts.cwd ?? this.dir,
            detached: true,
        });
        fs.closeSync(fd);
        // A spawn failure (ENOENT, EACCES) is reported by exited() and the log.
        child.on("error", (err) => fs.appendFileSync(logFile, `\nrig: could not start ${bin}: ${err.message}\n`));
        const proc: RigProcess = {
            name,
            logFile,
            pid: child.pid ?? -1,
            exited: () => exited(child) || child.pid === undefined,
            exitStatus: () =>
                child.signalCode !== null
                    ? `signal ${child.signalCode}`
                    : child.exitCode !== null
                      ? `code ${child.exitCode}`
                      : child.pid === undefined
                        ? "not started"
                        : "running",
            logTail: (lines?: number) => tailOf(logFile, lines),
            stop: async () => {
                signalGroup(child, "SIGTERM");
                if (!(await waitForExit(child, STOP_GRACE_MS))) {
                    signalGroup(child, "SIGKILL");
                    await waitForExit(child, STOP_GRACE_MS);
                }
            },
        };
        this.processes.push({ proc, child });
        return proc;
    }

    /**
     * Polls `check` until it returns true. Fails when the process exits first
     * or the deadline passes, with the log's tail and the last check error.
     */
    async waitReady(
        proc: RigProcess,
        what: string,
        check: () => Promise<boolean>,
        deadlineMs: number,
    ): Promise<number> {
        const start = Date.now();
        let lastError = "";
        for (;;) {
            if (proc.exited()) {
                throw new Error(
                    `${proc.name} exited (${proc.exitStatus()}) before ${what}; last lines of ${proc.logFile}:\n${proc.logTail()}`,
                );
            }
            try {
                if (await check()) return Date.now() - start;
                lastError = "";
            } catch (err) {
                lastError = (err as Error).message;
            }
            if (Date.now() - start > deadlineMs) {
                throw new Error(
                    `${proc.name}: no ${what} within ${deadlineMs} ms` +
                        (lastError === "" ? "" : ` (last check: ${lastError})`) +
                        `; last lines of ${proc.logFile}:\n${proc.logTail()}`,
                );
            }
            await new Promise((r) => setTimeout(r, POLL_MS));
        }
    }

    /** Each process's status and the tail of its log (for a failed run's report, before cleanup removes them). */
    describe(lines = 15): string {
        return this.processes
            .map(
                ({ proc }) => `--- ${proc.name} (${proc.exitStatus()}), last lines of its log:\n${proc.logTail(lines)}`,
            )
            .join("\n");
    }

    /** Stops every process (last started first), then removes the temp dir unless E2E_KEEP=1. */
    async cleanup(): Promise<void> {
        if (this.cleaned) return;
        for (const hook of [...this.hooks].reverse()) {
            try {
                await hook();
            } catch (err) {
                process.stderr.write(`e2e: cleanup: ${(err as Error).message}\n`);
            }
        }
        for (const { proc } of [...this.processes].reverse()) await proc.stop();
        this.removeFiles();
    }

    /** The exit-time fallback: no awaiting possible, so SIGKILL whatever is left. */
    private cleanupSync(): void {
        if (this.cleaned) return;
        for (const { child } of this.processes) signalGroup(child, "SIGKILL");
        this.removeFiles();
    }

    private removeFiles(): void {
        this.cleaned = true;
        process.off("exit", this.onExit);
        process.off("SIGINT", this.onSignal);
        process.off("SIGTERM", this.onSignal);
        for (const file of this.extraPaths) fs.rmSync(file, { recursive: true, force: true });
        if (this.keep) {
            process.stderr.write(`e2e: E2E_KEEP=1: kept ${this.dir}\n`);
        } else {
            fs.rmSync(this.dir, { recursive: true, force: true });
        }
    }
}
