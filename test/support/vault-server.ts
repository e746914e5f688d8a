/**
 * A real Vault server for integration tests: `vault server` (not dev mode) on
 * loopback with TLS off, file storage in a fresh temp dir, and no UI. It starts
 * uninitialized and sealed, exactly like a new production server, so specs
 * exercise init/unseal, restarts and restores for real.
 *
 * Secrets hygiene: unseal keys and tokens are never printed. The server's own
 * log goes to a file in the temp dir; its tail is shown only when the server
 * fails to come up. Every server still running is killed when the test
 * process exits.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as util from "util";
import { ApiResponse, NoAnswerError, vaultApi } from "../../components/lib/vault-api";
import { findTool, missingToolMessage } from "./tools";

const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;

export interface StartVaultOptions {
    /**
     * Use this storage dir (e.g. a restored copy) instead of a fresh one. It is
     * left in place on stop(); a fresh one is removed with the temp dir.
     */
    readonly storageDir?: string;
    /** Extra HCL appended to the generated server config. */
    readonly extraConfig?: string;
    /** The storage backend: `file` (default), or integrated `raft` (one node, for raft-only APIs such as snapshots). */
    readonly storage?: "file" | "raft";
    /** Instead of `storage`: this storage stanza verbatim (e.g. `storage "s3" { ... }`). */
    readonly storageHcl?: string;
    /** Serve TLS with this certificate and key (PEM files); the address is then https. */
    readonly tls?: { readonly certFile: string; readonly keyFile: string };
    /** Extra environment of the server process (e.g. what a pod spec gives Vault); nothing else leaks in. */
    readonly env?: Readonly<Record<string, string>>;
}

export interface RestartOptions {
    /** Extra HCL for the new process (replaces the previous run's extraConfig). */
    readonly extraConfig?: string;
    /** Listen on a new free port instead of the previous one. */
    readonly newPort?: boolean;
    /** Runs after the old process is gone and before the new one starts: what happens while no Vault answers. */
    readonly whileDown?: () => Promise<void>;
}

export interface VaultServer {
    /** `http(s)://127.0.0.1:<port>` of the current process (https with the tls option). */
    readonly address: string;
    /** The file storage backend's directory; survives restart(). */
    readonly storageDir: string;
    /** The current process's log file (config, startup, errors; never keys or tokens). */
    readonly logFile: string;
    /** Last lines of the current log, for a failing test's message. */
    logTail(lines?: number): string;
    /** Stops the process and removes everything it created except a caller-provided storageDir. */
    stop(): Promise<void>;
    /**
     * Stops the process and starts a new one on the same storage with a fresh
     * config and log (a DR drill: everything but storage is thrown away). The
     * new server comes back sealed; unseal it again.
     */
    restart(opts?: RestartOptions): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
    for (const child of live) child.kill("SIGKILL");
});

/** A port that was free a moment ago on loopback (nothing listens on it now). */
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

function tail(file: string, lines: number): string {
    try {
        return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
        return "(no log)";
    }
}

/** HCL for one run; only paths and ports are interpolated, all generated here. */
function serverConfig(
    storage: "file" | "raft" | { readonly hcl: string },
    storageDir: string,
    port: number,
    clusterPort: number,
    extra: string,
    tls?: { readonly certFile: string; readonly keyFile: string },
): string {
    const listenerTls =
        tls === undefined
            ? [`  tls_disable     = true`]
            : [
                  `  tls_cert_file   = ${JSON.stringify(tls.certFile)}`,
                  `  tls_key_file    = ${JSON.stringify(tls.keyFile)}`,
              ];
    const scheme = tls === undefined ? "http" : "https";
    const backend =
        typeof storage === "object"
            ? [storage.hcl]
            : storage === "raft"
              ? [
                    `storage "raft" {`,
                    `  path    = ${JSON.stringify(storageDir)}`,
                    `  node_id = "vault-0"`,
                    // Faster leader election on one node (production tuning is irrelevant here).
                    `  performance_multiplier = 1`,
                    `}`,
                ]
              : [`storage "file" {`, `  path = ${JSON.stringify(storageDir)}`, `}`];
    return [
        ...backend,
        `listener "tcp" {`,
        `  address         = "127.0.0.1:${port}"`,
        `  cluster_address = "127.0.0.1:${clusterPort}"`,
        ...listenerTls,
        `}`,
        `api_addr      = "${scheme}://127.0.0.1:${port}"`,
        `cluster_addr  = "http://127.0.0.1:${clusterPort}"`,
        `disable_mlock = true`,
        `ui            = false`,
        `log_level     = "info"`,
        extra,
        ``,
    ].join("\n");
}

/** Whether a child process has exited or been killed. */
export function exited(child: ChildProcess): boolean {
    return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves true once the child exits, false after `ms`. */
export async function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
    if (exited(child)) return true;
    return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), ms);
        child.once("exit", () => {
            clearTimeout(timer);
            resolve(true);
        });
    });
}

/** Whether /v1/sys/health answers at all; over https the certificate is not checked (only "is it up"). */
async function answers(address: string): Promise<boolean> {
    try {
        await vaultApi({ address, skipTlsVerify: true, requestTimeoutMs: 1_000 }, "GET", "sys/health");
        return true;
    } catch {
        return false; // Not listening yet.
    }
}

/** Resolves once /v1/sys/health answers at all (501 uninitialized, 503 sealed, 200 active). */
async function waitUntilListening(child: ChildProcess, address: string, logFile: string): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
        if (exited(child)) {
            throw new Error(
                `vault server exited (code ${child.exitCode}, signal ${child.signalCode}) before answering; ` +
                    `last log lines:\n${tail(logFile, 30)}`,
            );
        }
        if (await answers(address)) return;
        if (Date.now() > deadline) {
            child.kill("SIGKILL");
            throw new Error(
                `vault server did not answer ${address}/v1/sys/health within ${READY_TIMEOUT_MS} ms; ` +
                    `last log lines:\n${tail(logFile, 30)}`,
            );
        }
        await new Promise((r) => setTimeout(r, 50));
    }
}

/** Starts a real Vault server; throws (with the log tail) when it does not come up. */
export async function startVault(opts: StartVaultOptions = {}): Promise<VaultServer> {
    const bin = findTool("vault");
    if (bin === undefined) throw new Error(missingToolMessage("vault"));

    const root = fs.mkdtempSync(path.join(os.tmpdir(), "secret-platform-vault-"));
    const storageDir = opts.storageDir ?? path.join(root, "storage");
    fs.mkdirSync(storageDir, { recursive: true, mode: 0o700 });

    let run = 0;
    let port = 0;
    let clusterPort = 0;
    let child: ChildProcess | undefined;
    let logFile = "";
    let address = "";
    let stopped = false;

    const launchOnce = async (extra: string): Promise<void> => {
        run += 1;
        // A fresh run dir each time: only storage carries over between processes.
        const runDir = path.join(root, `run-${run}`);
        fs.mkdirSync(runDir, { mode: 0o700 });
        const configFile = path.join(runDir, "config.hcl");
        const storage = opts.storageHcl !== undefined ? { hcl: opts.storageHcl } : (opts.storage ?? "file");
        fs.writeFileSync(configFile, serverConfig(storage, storageDir, port, clusterPort, extra, opts.tls), {
            mode: 0o600,
        });
        logFile = path.join(runDir, "vault.log");
        const logFd = fs.openSync(logFile, "a", 0o600);
        address = `${opts.tls === undefined ? "http" : "https"}://127.0.0.1:${port}`;
        // A minimal env: no VAULT_TOKEN/VAULT_ADDR or other secrets of the caller leak in.
        const proc = spawn(bin, ["server", `-config=${configFile}`], {
            stdio: ["ignore", logFd, logFd],
            env: { ...opts.env, PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: runDir },
        });
        fs.closeSync(logFd);
        live.add(proc);
        proc.once("exit", () => live.delete(proc));
        child = proc;
        await waitUntilListening(proc, address, logFile);
    };

    const launch = async (extra: string, newPort: boolean): Promise<void> => {
        for (let attempt = 1; ; attempt++) {
            if (newPort || port === 0 || attempt > 1) {
                port = await freePort();
                clusterPort = await freePort();
            }
            try {
                return await launchOnce(extra);
            } catch (err) {
                // Another process may grab the free port before Vault binds it: try new ports.
                const raced = (err as Error).message.includes("address already in use");
                if (!raced || attempt >= 3) throw err;
            }
        }
    };

    const kill = async (): Promise<void> => {
        const proc = child;
        child = undefined;
        if (proc === undefined || exited(proc)) return;
        proc.kill("SIGTERM");
        if (!(await waitForExit(proc, STOP_GRACE_MS))) {
            proc.kill("SIGKILL");
            await waitForExit(proc, STOP_GRACE_MS);
        }
    };

    try {
        await launch(opts.extraConfig ?? "", true);
    } catch (err) {
        await kill();
        fs.rmSync(root, { recursive: true, force: true });
        throw err;
    }

    return {
        get address() {
            return address;
        },
        storageDir,
        get logFile() {
            return logFile;
        },
        logTail: (lines = 30) => tail(logFile, lines),
        stop: async () => {
            stopped = true;
            await kill();
            // A caller-provided storageDir lives outside root and is kept.
            fs.rmSync(root, { recursive: true, force: true });
        },
        restart: async (r: RestartOptions = {}) => {
            if (stopped) throw new Error("restart(): this Vault server was stopped for good");
            await kill();
            await r.whileDown?.();
            await launch(r.extraConfig ?? "", r.newPort ?? false);
        },
    };
}

/** A response: HTTP status and the parsed JSON body (undefined for 204 or an empty body). */
export interface VaultResponse {
    readonly status: number;
    readonly body: any;
}

/**
 * One Vault HTTP API call (through the product's client, vault-api.ts).
 * `apiPath` is relative to /v1 (e.g. "sys/health").
 * Does not throw on HTTP errors: specs assert the status. The token goes only
 * in the X-Vault-Token header and is never part of an error message.
 */
export async function vaultRequest(
    address: string,
    token: string | undefined,
    method: string,
    apiPath: string,
    body?: unknown,
): Promise<VaultResponse> {
    const relative = apiPath.replace(/^\/+/, "").replace(/^v1\//, "");
    let res: ApiResponse;
    try {
        res = await vaultApi({ address, requestTimeoutMs: REQUEST_TIMEOUT_MS }, method, relative, body, token);
    } catch (err) {
        throw new Error(`${method} ${address}/v1/${relative} failed: ${(err as NoAnswerError).reason}`);
    }
    // A body that is not JSON (e.g. Prometheus text) comes back as text.
    return { status: res.status, body: res.body ?? (res.text === "" ? undefined : res.text) };
}

/** What init returned. util.inspect (console.log, assertion diffs) shows it redacted. */
export interface VaultInit {
    readonly rootToken: string;
    /** Unseal key shares, hex. */
    readonly keys: readonly string[];
    /** The same shares, base64 (the form `vault operator unseal` also accepts). */
    readonly keysBase64: readonly string[];
}

function redacted(init: VaultInit): VaultInit {
    Object.defineProperty(init, util.inspect.custom, {
        enumerable: false,
        value: () => `VaultInit { rootToken: <redacted>, keys: <${init.keys.length} redacted> }`,
    });
    return init;
}

function statusError(what: string, res: VaultResponse): Error {
    // Vault's error bodies carry only messages, never the request's secrets.
    const errors = Array.isArray(res.body?.errors) ? res.body.errors.join("; ") : "";
    return new Error(`${what}: HTTP ${res.status}${errors === "" ? "" : `: ${errors}`}`);
}

/** Submits unseal key shares until the server reports unsealed; throws if it stays sealed. */
export async function unseal(address: string, keys: readonly string[]): Promise<void> {
    for (const key of keys) {
        const res = await vaultRequest(address, undefined, "PUT", "sys/unseal", { key });
        if (res.status !== 200) throw statusError("sys/unseal", res);
        if (res.body.sealed === false) {
            await waitUntilActive(address);
            return;
        }
    }
    throw new Error(`sys/unseal: still sealed after ${keys.length} key share(s)`);
}

/** Waits until sys/health says active (200): an unsealed server needs a moment to take over. */
async function waitUntilActive(address: string): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
        const res = await vaultRequest(address, undefined, "GET", "sys/health");
        if (res.status === 200) return;
        if (Date.now() > deadline) throw statusError("sys/health after unseal never became active", res);
        await new Promise((r) => setTimeout(r, 25));
    }
}

/** Initializes (Shamir) and unseals a fresh server; returns the root token and key shares. */
export async function initAndUnseal(
    address: string,
    opts: { shares: number; threshold: number } = { shares: 1, threshold: 1 },
): Promise<VaultInit> {
    const res = await vaultRequest(address, undefined, "PUT", "sys/init", {
        secret_shares: opts.shares,
        secret_threshold: opts.threshold,
    });
    if (res.status !== 200) throw statusError("sys/init", res);
    const init = redacted({ rootToken: res.body.root_token, keys: res.body.keys, keysBase64: res.body.keys_base64 });
    await unseal(address, init.keys.slice(0, opts.threshold));
    return init;
}
