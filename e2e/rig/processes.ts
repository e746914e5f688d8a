/**
 * The rig's child processes and temp files: every server runs with its output
 * in a log file under one temp dir, readiness is polled against a deadline (a
 * timeout or an early exit fails with the log's tail), and everything the rig
 * started is stopped and removed on normal exit, on SIGINT/SIGTERM and on
 * failure. Secrets never go on a command line: callers pass file paths.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { exited, freePort, waitForExit } from "../../test/support/vault-server";

export { freePort };

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

function isZombie(pid: number): boolean {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
    } catch {
        return false;
    }
}

export function tailOf(file: string, lines = 40): string {
    try {
        return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
        return "(no log)";
    }
}

/** A process's command name (/proc/<pid>/comm), or "" once it is gone. */
function commandOf(pid: number): string {
    try {
        return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
        return "";
    }
}

/** Every live descendant of `root` (from /proc), parents before children, with its parent and process group. */
export function descendants(root: number): { pid: number; ppid: number; pgid: number }[] {
    const byParent = new Map<number, { pid: number; ppid: number; pgid: number }[]>();
    for (const name of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(name)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
            // Fields after the command's closing parenthesis: state, ppid, pgrp, ...
            const [state, ppid, pgid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            if (state === "Z") continue;
            const list = byParent.get(Number(ppid)) ?? [];
            list.push({ pid: Number(name), ppid: Number(ppid), pgid: Number(pgid) });
            byParent.set(Number(ppid), list);
        } catch {
            // Gone meanwhile.
        }
    }
    const out: { pid: number; ppid: number; pgid: number }[] = [];
    const walk = (pid: number) => {
        for (const child of byParent.get(pid) ?? []) {
            out.push(child);
            walk(child.pid);
        }
    };
    walk(root);
    return out;
}

/**
 * The Pulumi CLIs the Automation API spawned (children of this process named `pulumi`) and their
 * descendants (the plugins, the language host, the program). Only those: this process has other
 * children, such as tsx's esbuild service in a mocha worker, which a rig must never stop (killing it
 * failed every later spec file of that worker).
 */
export function pulumiTrees(): { pid: number; ppid: number; pgid: number }[] {
    return descendants(process.pid)
        .filter((p) => p.ppid === process.pid && commandOf(p.pid) === "pulumi")
        .flatMap((cli) => [cli, ...descendants(cli.pid)]);
}

function signalPids(pids: readonly number[], signal: NodeJS.Signals): void {
    for (const pid of pids) {
        try {
            process.kill(pid, signal);
        } catch {
            // Already gone.
        }
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
    private cleaning: Promise<void> | undefined;
    private readonly onExit = () => this.cleanupSync();
    private readonly onSignal = (signal: NodeJS.Signals) => {
        if (this.cleaning !== undefined) return; // A second Ctrl-C while stopping: the cleanup goes on.
        process.stderr.write(`e2e: ${signal}: stopping the rig\n`);
        void this.cleanup().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    };

    constructor(readonly keep = process.env.E2E_KEEP === "1") {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "secret-platform-e2e-"));
        fs.chmodSync(this.dir, 0o700);
        this.logDir = this.subdir("logs");
        process.on("exit", this.onExit);
        // Kept registered (not `once`) until cleanup: signal-exit, which the Automation API's execa uses to
        // kill the CLI on exit, re-raises a signal at once when it is the signal's only listener left, which
        // killed this process before the asynchronous cleanup could run (seen: every server left running).
        process.on("SIGINT", this.onSignal);
        process.on("SIGTERM", this.onSignal);
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

    /**
     * Stops the engine's processes (the CLI the Automation API spawned and its plugins: children of this
     * process that the rig did not start), then every rig process (last started first), then removes the
     * temp dir unless E2E_KEEP=1. Idempotent: a second call waits for the first.
     */
    cleanup(): Promise<void> {
        if (this.cleaned) return Promise.resolve();
        this.cleaning ??= this.doCleanup();
        return this.cleaning;
    }

    /** The Pulumi CLIs the Automation API spawned and their plugins, not in a group the rig started. */
    private strays(): number[] {
        const groups = new Set(this.processes.map(({ child }) => child.pid));
        return pulumiTrees()
            .filter((p) => !groups.has(p.pgid))
            .map((p) => p.pid);
    }

    private async stopStrays(): Promise<void> {
        // The whole tree is listed before any signal: a plugin whose CLI died first is no longer our descendant.
        const pids = this.strays();
        if (pids.length === 0) return;
        signalPids(pids, "SIGTERM");
        const deadline = Date.now() + STOP_GRACE_MS;
        const alive = () => pids.filter((pid) => fs.existsSync(`/proc/${pid}`) && !isZombie(pid));
        while (alive().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, POLL_MS));
        signalPids(alive(), "SIGKILL");
    }

    private async doCleanup(): Promise<void> {
        await this.stopStrays();
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
        signalPids(this.strays(), "SIGKILL");
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
