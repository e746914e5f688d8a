/**
 * A stand-in for `pulumi-language-nodejs`, the Go language host that a
 * user's `pulumi up` starts: no registry reachable here serves it, so the
 * e2e rig runs this TypeScript host instead, on the SDK's generated gRPC
 * stubs. The CLI launches it as the `pulumi-language-nodejs` plugin it finds
 * on PATH (the rig's launcher, e2e/rig/pulumi.ts) with the engine's address
 * as its argument; it prints its port and serves the LanguageRuntime service
 * for `preview`, `up`, `refresh` and `destroy` of a local program.
 *
 * Run starts `node [nodeargs] <sdk>/cmd/run --monitor ... <entry point>` as
 * the Go host does (sdk/nodejs/cmd/pulumi-language-nodejs/main.go): the same
 * arguments, PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS, the runtime options
 * `typescript` (PULUMI_NODEJS_TYPESCRIPT), `tsconfig`
 * (PULUMI_NODEJS_TSCONFIG_PATH) and `nodeargs`, the program's output on this
 * host's stdout and stderr (the CLI shows them), the monitor proxied through
 * this host, and the same error texts, bail on exit code 32 and out-of-memory
 * hint. What it does differently is listed in docs/e2e.md; in short: no bun
 * runtime, no debugger attach, no tracing, no synchronous-invoke pipes (the
 * SDK no longer opens them), no package installs, and it watches its parent
 * instead of the engine's health endpoint.
 *
 * For the e2e's figures, each program run is appended as one JSON line to
 * $E2E_LANGUAGE_HOST_REPORT (when set): the time from starting the program's
 * process to its first resource registration, and the process's peak RSS.
 * Its log lines go to $E2E_LANGUAGE_HOST_LOG (else stderr), each naming it a
 * stand-in for the Go language host.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as grpc from "@grpc/grpc-js";
import * as emptyPb from "google-protobuf/google/protobuf/empty_pb";
import * as langGrpc from "@pulumi/pulumi/proto/language_grpc_pb";
import * as langPb from "@pulumi/pulumi/proto/language_pb";
import * as pluginPb from "@pulumi/pulumi/proto/plugin_pb";
import * as resourceGrpc from "@pulumi/pulumi/proto/resource_grpc_pb";
import * as resourcePb from "@pulumi/pulumi/proto/resource_pb";

const WHO = "pulumi-language-nodejs stand-in (e2e/rig/language-host.ts, in place of the Go language host)";

/** The SDK's `cmd/run`, resolved from the program's directory (PULUMI_LANGUAGE_NODEJS_RUN_PATH overrides it). */
const DEFAULT_RUN_PATH = "@pulumi/pulumi/cmd/run";
/** `cmd/run` exits with this code after it has shown the user an actionable message: the CLI bails quietly. */
const EXITED_AFTER_USER_ACTIONABLE_MESSAGE = 32;
/** As rpcutil.GrpcChannelOptions: the engine's messages (a whole chart's values) may be large. */
const MAX_MESSAGE = 400 * 1024 * 1024;
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
    "grpc.max_receive_message_length": MAX_MESSAGE,
    "grpc.max_send_message_length": MAX_MESSAGE,
};
/** After a cancel, the program gets SIGINT, then SIGKILL this much later (the Go host's cmd.WaitDelay). */
const KILL_DELAY_MS = 5_000;
const OOM_MESSAGE =
    "Detected a possible out of memory error. Consider increasing the memory available to the nodejs process " +
    "by setting the `nodeargs` runtime option in Pulumi.yaml to `nodeargs: --max-old-space-size=<size>` where " +
    "`<size>` is the maximum memory in megabytes that can be allocated to nodejs. " +
    "See https://www.pulumi.com/docs/concepts/projects/project-file/#runtime-options";

function log(line: string): void {
    const text = `${new Date().toISOString()} ${WHO}: ${line}\n`;
    const file = process.env.E2E_LANGUAGE_HOST_LOG;
    if (file === undefined || file === "") process.stderr.write(text);
    else fs.appendFileSync(file, text, { mode: 0o600 });
}

/** A gRPC error with the stand-in named in its text. */
function rpcError(code: grpc.status, message: string): grpc.ServiceError {
    return Object.assign(new Error(message), {
        code,
        details: `${message} [${WHO}]`,
        metadata: new grpc.Metadata(),
    });
}

// ---------------------------------------------------------------------------------------------
// Runtime options (Pulumi.yaml `runtime.options`), as the Go host's parseOptions reads them.

export interface NodeOptions {
    /** Run the program under the SDK's ts-node (default true). */
    readonly typescript: boolean;
    readonly tsconfigpath: string;
    /** Arguments for the node process, split as a shell would (google/shlex). */
    readonly nodeargs: string;
    readonly packagemanager: "auto" | "npm" | "yarn" | "pnpm" | "bun";
    readonly production: boolean;
}

const PACKAGE_MANAGERS = ["auto", "npm", "yarn", "pnpm", "bun"] as const;

export function parseOptions(options: Readonly<Record<string, unknown>>): NodeOptions {
    const typed = <T>(key: string, type: string, fallback: T, message: string): T => {
        const value = options[key];
        if (value === undefined) return fallback;
        if (typeof value !== type) throw new Error(message);
        return value as T;
    };
    const packagemanager = typed<string>("packagemanager", "string", "auto", "packagemanager option must be a string");
    if (!(PACKAGE_MANAGERS as readonly string[]).includes(packagemanager)) {
        throw new Error(`packagemanager option must be one of auto, npm, yarn, pnpm or bun, got "${packagemanager}"`);
    }
    return {
        typescript: typed("typescript", "boolean", true, "typescript option must be a boolean"),
        tsconfigpath: typed("tsconfig", "string", "", "tsconfigpath option must be a string"),
        nodeargs: typed("nodeargs", "string", "", "nodeargs option must be a string"),
        packagemanager: packagemanager as NodeOptions["packagemanager"],
        production: typed("production", "boolean", false, "production option must be a boolean"),
    };
}

/**
 * Splits `nodeargs` into words as google/shlex does: blanks separate words,
 * single quotes keep everything, double quotes keep all but a backslash
 * escape, a backslash outside quotes escapes the next character, and a `#`
 * at the start of a word comments out the rest.
 */
export function shellSplit(text: string): string[] {
    const words: string[] = [];
    let word: string | undefined;
    let i = 0;
    const take = (c: string) => (word = (word ?? "") + c);
    while (i < text.length) {
        const c = text[i++];
        if (/\s/.test(c)) {
            if (word !== undefined) words.push(word);
            word = undefined;
        } else if (c === "#" && word === undefined) {
            while (i < text.length && text[i] !== "\n") i++;
        } else if (c === "\\") {
            if (i >= text.length) throw new Error("EOF found after escape character");
            take(text[i++]);
        } else if (c === "'") {
            const end = text.indexOf("'", i);
            if (end < 0) throw new Error("EOF found when expecting closing quote");
            take(text.slice(i, end));
            i = end + 1;
        } else if (c === '"') {
            take("");
            for (;;) {
                if (i >= text.length) throw new Error("EOF found when expecting closing quote");
                const d = text[i++];
                if (d === '"') break;
                if (d === "\\") {
                    if (i >= text.length) throw new Error("EOF found after escape character");
                    take(text[i++]);
                } else take(d);
            }
        } else take(c);
    }
    if (word !== undefined) words.push(word);
    return words;
}

// ---------------------------------------------------------------------------------------------
// Run's command line and environment (constructArguments, constructConfig, constructConfigSecretKeys).

/** `cmd/run`'s arguments for a RunRequest, in the Go host's order. */
export function runArguments(
    req: langPb.RunRequest,
    runPath: string,
    monitorAddress: string,
    engineAddress: string,
): string[] {
    const info = req.getInfo();
    const args = [runPath];
    const maybe = (flag: string, value: string | undefined) => {
        if (value !== undefined && value !== "") args.push(`--${flag}`, value);
    };
    maybe("monitor", monitorAddress);
    maybe("engine", engineAddress);
    // --sync: not passed. The Go host creates two FIFOs for synchronous invokes; the SDK no longer opens them.
    maybe("organization", req.getOrganization());
    maybe("project", req.getProject());
    maybe("root-directory", info?.getRootDirectory());
    maybe("stack", req.getStack());
    maybe("pwd", info?.getProgramDirectory());
    if (req.getDryrun()) args.push("--dry-run");
    maybe("parallel", String(req.getParallel()));
    // --tracing: the stand-in has no tracing.
    // The engine always names an entry point, "." at least.
    args.push(info?.getEntryPoint() ?? ".");
    args.push(...req.getArgsList());
    return args;
}

/** A config key as the Go host parses it: `<namespace>:<name>`, or the old `<namespace>:config:<name>`. */
function parseConfigKey(key: string): { namespace: string; name: string } {
    const parts = key.split(":");
    if (parts.length === 2 && parts[0] !== "" && parts[1] !== "") return { namespace: parts[0], name: parts[1] };
    if (parts.length === 3 && parts[1] === "config" && parts[0] !== "" && parts[2] !== "") {
        return { namespace: parts[0], name: parts[2] };
    }
    throw new Error(
        `could not parse ${key} as a configuration key (configuration keys should be of the form \`<namespace>:<name>\`)`,
    );
}

/** PULUMI_CONFIG: the config bag with keys in the old `<namespace>:config:<name>` form the SDK reads. */
export function configJson(req: langPb.RunRequest): string {
    const out: Record<string, string> = {};
    for (const [key, value] of req.getConfigMap().entries()) {
        const k = parseConfigKey(key);
        out[`${k.namespace}:config:${k.name}`] = value;
    }
    return JSON.stringify(Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

// ---------------------------------------------------------------------------------------------
// GetRequiredPackages: every node_modules package whose package.json says `pulumi.resource: true`.

interface PulumiPluginJson {
    resource?: boolean;
    name?: string;
    version?: string;
    server?: string;
    parameterization?: { name?: string; version?: string; value?: string };
}

interface RequiredPackage {
    readonly name: string;
    readonly version: string;
    readonly server: string;
    readonly parameterization?: { name: string; version: string; value: string };
}

const POLICY_PACK_FILES = ["PulumiPolicy.json", "PulumiPolicy.yaml", "PulumiPolicy.yml"];

/**
 * Walks `dir` deeply as the Go host does (symlinks followed once, policy
 * packs skipped) and lists the resource plugins its node_modules packages
 * ask for, with the @pulumi/pulumi versions seen. Unreadable entries are
 * collected as errors, not fatal.
 */
export function requiredPackages(dir: string): {
    packages: RequiredPackage[];
    sdkVersions: Map<string, string>;
    errors: string[];
} {
    const packages: RequiredPackage[] = [];
    const sdkVersions = new Map<string, string>();
    const errors: string[] = [];
    const visited = new Set<string>();
    const walk = (d: string, inNodeModules: boolean) => {
        const abs = path.resolve(d);
        if (visited.has(abs)) return;
        visited.add(abs);
        let entries: fs.Dirent[];
        try {
            entries = fs.readdirSync(abs, { withFileTypes: true });
        } catch (err) {
            errors.push(`reading plugin dir ${abs}: ${(err as Error).message}`);
            return;
        }
        for (const entry of entries) {
            let curr = path.join(abs, entry.name);
            let isDir = entry.isDirectory();
            if (entry.isSymbolicLink()) {
                try {
                    curr = fs.realpathSync(curr);
                    isDir = fs.statSync(curr).isDirectory();
                } catch (err) {
                    errors.push(`resolving link in plugin dir ${curr}: ${(err as Error).message}`);
                    continue;
                }
            }
            if (isDir) {
                if (POLICY_PACK_FILES.some((f) => fs.existsSync(path.join(curr, f)))) continue;
                walk(curr, inNodeModules || path.basename(abs) === "node_modules");
            } else if (inNodeModules && entry.name === "package.json") {
                let info: { name?: string; version?: string; pulumi?: PulumiPluginJson };
                try {
                    info = JSON.parse(fs.readFileSync(curr, "utf8"));
                } catch (err) {
                    errors.push(`unmarshaling package.json ${curr}: ${(err as Error).message}`);
                    continue;
                }
                if (info.name === "@pulumi/pulumi" && typeof info.version === "string") {
                    sdkVersions.set(curr, info.version);
                }
                if (info.pulumi?.resource !== true) continue;
                let name = info.pulumi.name ?? "";
                if (name === "") {
                    if (info.name?.startsWith("@pulumi/")) name = info.name.slice("@pulumi/".length);
                    else {
                        errors.push(
                            `Missing property "name" for the third-party plugin '${info.name}' inside package.json under the "pulumi" section.`,
                        );
                        continue;
                    }
                }
                const version = info.pulumi.version ?? info.version ?? "";
                if (version === "") {
                    errors.push(`unmarshaling package.json ${curr}: Missing expected "version" property`);
                    continue;
                }
                const p = info.pulumi.parameterization;
                packages.push({
                    name,
                    version: version.startsWith("v") ? version : `v${version}`,
                    server: info.pulumi.server ?? "",
                    ...(p === undefined
                        ? {}
                        : { parameterization: { name: p.name ?? "", version: p.version ?? "", value: p.value ?? "" } }),
                });
            }
        }
    };
    walk(dir, false);
    return { packages, sdkVersions, errors };
}

/** The Go host's rule: @pulumi/pulumi copies of different major versions (past 2) do not mix. */
function compatibleSdkVersions(a: string, b: string): string | undefined {
    const [am, an] = a.split(".").map(Number);
    const [bm, bn] = b.split(".").map(Number);
    if (am === 0 && bm === 0) return an === bn ? undefined : "Differing major or minor versions are not supported.";
    if (am >= 1 && am <= 2 && bm >= 1 && bm <= 2) return undefined;
    if (am > 2 || bm > 2) return am === bm ? undefined : "Differing major versions are not supported.";
    if ((am === 1 && bm === 0 && bn === 17) || (bm === 1 && am === 0 && an === 17)) return undefined;
    return "Differing major or minor versions are not supported.";
}

// ---------------------------------------------------------------------------------------------
// The monitor proxy: the program talks to this host, which forwards every call to the engine's monitor.

/** What the proxy saw of a program's registrations, in ms since the program's process started. */
interface Registrations {
    count: number;
    stackMs?: number;
    firstResourceMs?: number;
    firstResourceType?: string;
}

const passThrough = (b: Buffer) => b;

/**
 * Serves the ResourceMonitor service on loopback and forwards each call,
 * bytes unchanged, to the engine's monitor (as the Go host's monitorProxy;
 * RegisterResource carries the `pulumi-runtime: nodejs` header it adds).
 */
async function startMonitorProxy(
    target: string,
    onRegister: (request: Buffer) => void,
): Promise<{ address: string; close: () => void }> {
    const client = new grpc.Client(target, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    const server = new grpc.Server(CHANNEL_OPTIONS);
    const definition: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const [name, method] of Object.entries(resourceGrpc.ResourceMonitorService)) {
        const m = method as grpc.MethodDefinition<unknown, unknown>;
        if (m.requestStream || m.responseStream) throw new Error(`${m.path}: streaming methods are not proxied`);
        definition[name] = {
            path: m.path,
            requestStream: false,
            responseStream: false,
            requestSerialize: passThrough,
            requestDeserialize: passThrough,
            responseSerialize: passThrough,
            responseDeserialize: passThrough,
        };
        implementation[name] = (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
            const metadata = new grpc.Metadata();
            if (name === "registerResource") {
                metadata.add("pulumi-runtime", "nodejs");
                onRegister(call.request);
            }
            const forwarded = client.makeUnaryRequest<Buffer, Buffer>(
                m.path,
                passThrough,
                passThrough,
                call.request,
                metadata,
                { deadline: call.getDeadline() },
                (err, response) => (err ? callback(err) : callback(null, response)),
            );
            call.on("cancelled", () => forwarded.cancel());
        };
    }
    server.addService(definition, implementation);
    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
            err ? reject(err) : resolve(p),
        ),
    );
    return {
        address: `127.0.0.1:${port}`,
        close: () => {
            server.forceShutdown();
            client.close();
        },
    };
}

// ---------------------------------------------------------------------------------------------
// Run.

/** One program run, as appended to $E2E_LANGUAGE_HOST_REPORT. */
export interface ProgramRunReport {
    readonly project: string;
    readonly stack: string;
    readonly dryRun: boolean;
    readonly pid: number;
    /** node's arguments before cmd/run (nodeargs) and whether the SDK's ts-node was on. */
    readonly nodeargs: readonly string[];
    readonly typescript: boolean;
    /** ms from starting the program's process to the registration of the root stack resource. */
    readonly startToStackMs?: number;
    /** ms from starting the program's process to its first registration of any other resource. */
    readonly startToFirstResourceMs?: number;
    readonly firstResourceType?: string;
    readonly registrations: number;
    /** The process's peak RSS (VmHWM, sampled every 50 ms while it ran), in MiB. */
    readonly peakRssMiB: number;
    readonly wallMs: number;
    /** The exit code, or -1 when a signal ended it (as Go's ExitCode) or it was still running. */
    readonly exitCode: number;
    /** How it ended: `exited <code>`, `ended by <signal>`, or still running when this host was stopped. */
    readonly outcome: string;
}

function findOnPath(name: string): string | undefined {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
        if (dir === "") continue;
        const file = path.join(dir, name);
        try {
            fs.accessSync(file, fs.constants.X_OK);
            if (fs.statSync(file).isFile()) return file;
        } catch {
            // Not here.
        }
    }
    return undefined;
}

/** VmHWM (the peak RSS so far) of a live process, in kB. */
function peakRssKb(pid: number): number | undefined {
    try {
        const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
        return m === null ? undefined : Number(m[1]);
    } catch {
        return undefined; // Gone.
    }
}

class LanguageHost {
    /** The programs running, each with the function that writes its report (once). */
    private readonly running = new Map<ChildProcess, (outcome: string) => void>();
    /** The programs sent SIGINT already (a Cancel, the call's end and this host's own stop may all ask). */
    private readonly stopping = new WeakSet<ChildProcess>();

    constructor(private engineAddress: string) {}

    handshake(req: langPb.LanguageHandshakeRequest): langPb.LanguageHandshakeResponse {
        this.engineAddress = req.getEngineAddress();
        log(`handshake: engine at ${this.engineAddress}`);
        return new langPb.LanguageHandshakeResponse();
    }

    getRequiredPackages(req: langPb.GetRequiredPackagesRequest): langPb.GetRequiredPackagesResponse {
        const dir = req.getInfo()?.getProgramDirectory() ?? ".";
        const start = Date.now();
        const found = requiredPackages(dir);
        const versions = [...found.sdkVersions.entries()];
        for (const [file, version] of versions.slice(1)) {
            const why = compatibleSdkVersions(version, versions[0][1]);
            if (why !== undefined) {
                process.stderr.write(
                    `Found incompatible versions of @pulumi/pulumi. ${why}\n` +
                        `  Version ${versions[0][1]} referenced at ${versions[0][0]}\n  Version ${version} referenced at ${file}\n`,
                );
                break;
            }
        }
        for (const e of found.errors) log(`while discovering plugins: ${e}`);
        log(
            `GetRequiredPackages(${dir}) in ${Date.now() - start} ms: ` +
                (found.packages.length === 0 ? "none" : found.packages.map((p) => `${p.name} ${p.version}`).join(", ")),
        );
        const response = new langPb.GetRequiredPackagesResponse();
        response.setPackagesList(
            found.packages.map((p) => {
                const dep = new pluginPb.PackageDependency()
                    .setName(p.name)
                    .setKind("resource")
                    .setVersion(p.version)
                    .setServer(p.server);
                if (p.parameterization !== undefined) {
                    dep.setParameterization(
                        new pluginPb.PackageParameterization()
                            .setName(p.parameterization.name)
                            .setVersion(p.parameterization.version)
                            .setValue(Buffer.from(p.parameterization.value, "base64")),
                    );
                }
                return dep;
            }),
        );
        return response;
    }

    async run(req: langPb.RunRequest, call: grpc.ServerUnaryCall<langPb.RunRequest, unknown>) {
        const failed = (error: string) => {
            log(`Run ${req.getProject()}/${req.getStack()}: ${error}`);
            return new langPb.RunResponse().setError(error);
        };
        if (this.engineAddress === "") {
            throw rpcError(grpc.status.UNKNOWN, "when debugging or running explicitly, must call Handshake before Run");
        }
        const info = req.getInfo();
        const programDir = info?.getProgramDirectory() ?? process.cwd();
        if (req.getAttachDebugger()) return failed("the stand-in language host cannot attach a debugger");

        const nodeBin = findOnPath("node");
        if (nodeBin === undefined) {
            return failed('could not find node on the $PATH: exec: "node": executable file not found in $PATH');
        }
        const override = process.env.PULUMI_LANGUAGE_NODEJS_RUN_PATH ?? "";
        const runModule = override === "" ? DEFAULT_RUN_PATH : override;
        let runPath: string;
        try {
            // The Go host asks `node -e "require.resolve(...)"` in the program's directory; the same lookup here.
            runPath = require.resolve(runModule, { paths: [programDir] });
        } catch (err) {
            return failed(
                (err as { code?: string }).code === "MODULE_NOT_FOUND"
                    ? "It looks like the Pulumi SDK has not been installed. Have you run pulumi install?\n"
                    : `${(err as Error).message}\n`,
            );
        }
        let opts: NodeOptions;
        let nodeargs: string[];
        let config: string;
        try {
            opts = parseOptions((info?.getOptions()?.toJavaScript() ?? {}) as Record<string, unknown>);
            nodeargs = shellSplit(opts.nodeargs);
        } catch (err) {
            return failed((err as Error).message);
        }
        try {
            config = configJson(req);
        } catch (err) {
            return failed(`failed to serialize configuration: ${(err as Error).message}`);
        }
        const env: NodeJS.ProcessEnv = {
            ...process.env,
            PULUMI_CONFIG: config,
            PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(req.getConfigsecretkeysList()),
        };
        if (opts.typescript) env.PULUMI_NODEJS_TYPESCRIPT = "true";
        if (opts.tsconfigpath !== "") env.PULUMI_NODEJS_TSCONFIG_PATH = opts.tsconfigpath;

        const registrations: Registrations = { count: 0 };
        let started = 0;
        const proxy = await startMonitorProxy(req.getMonitorAddress(), (request) => {
            registrations.count++;
            if (registrations.firstResourceMs !== undefined) return;
            const type = resourcePb.RegisterResourceRequest.deserializeBinary(request).getType();
            const ms = Math.round(performance.now() - started);
            if (type === "pulumi:pulumi:Stack") registrations.stackMs ??= ms;
            else {
                registrations.firstResourceMs = ms;
                registrations.firstResourceType = type;
            }
        });
        try {
            const args = [...nodeargs, ...runArguments(req, runPath, proxy.address, this.engineAddress)];
            log(
                `Run ${req.getProject()}/${req.getStack()}${req.getDryrun() ? " (preview)" : ""}: ${nodeBin} ${args.join(" ")}` +
                    `${opts.typescript ? " with PULUMI_NODEJS_TYPESCRIPT=true" : ""}` +
                    `${opts.tsconfigpath !== "" ? ` PULUMI_NODEJS_TSCONFIG_PATH=${opts.tsconfigpath}` : ""}`,
            );
            started = performance.now();
            const child = spawn(nodeBin, args, { env, stdio: ["ignore", "pipe", "pipe"] });
            let peakKb = 0;
            const sample = () => {
                if (child.pid !== undefined) peakKb = Math.max(peakKb, peakRssKb(child.pid) ?? 0);
            };
            const sampler = setInterval(sample, 50);
            // The program's output goes to this host's, which the CLI shows; stderr is also read for an OOM.
            child.stdout?.on("data", (chunk: Buffer) => process.stdout.write(chunk));
            let oom = false;
            let stderrTail = "";
            child.stderr?.on("data", (chunk: Buffer) => {
                process.stderr.write(chunk);
                stderrTail = (stderrTail + chunk.toString("utf8")).slice(-4096);
                if (
                    stderrTail.includes("<--- Last few GCs --->") ||
                    stderrTail.includes("Check failed: needs_context && current_scope_ == closure_scope_")
                ) {
                    oom = true;
                }
            });
            // Written once: when the program ends, or when this host is stopped first (the CLI stops a
            // language host's whole process group after a failed operation).
            let reported = false;
            const writeReport = (outcome: string, exitCode: number) => {
                if (reported) return;
                reported = true;
                sample();
                const report: ProgramRunReport = {
                    project: req.getProject(),
                    stack: req.getStack(),
                    dryRun: req.getDryrun(),
                    pid: child.pid ?? -1,
                    nodeargs,
                    typescript: opts.typescript,
                    startToStackMs: registrations.stackMs,
                    startToFirstResourceMs: registrations.firstResourceMs,
                    firstResourceType: registrations.firstResourceType,
                    registrations: registrations.count,
                    peakRssMiB: Math.round(peakKb / 1024),
                    wallMs: Math.round(performance.now() - started),
                    exitCode,
                    outcome,
                };
                const reportFile = process.env.E2E_LANGUAGE_HOST_REPORT;
                if (reportFile !== undefined && reportFile !== "") {
                    fs.appendFileSync(reportFile, `${JSON.stringify(report)}\n`, { mode: 0o600 });
                }
                log(
                    `Run ${req.getProject()}/${req.getStack()}: program pid ${report.pid} ${outcome} after ${report.wallMs} ms; ` +
                        `first resource registered at ${report.startToFirstResourceMs ?? "-"} ms (${report.firstResourceType ?? "none"}), ` +
                        `stack at ${report.startToStackMs ?? "-"} ms, ${report.registrations} registrations, peak RSS ${report.peakRssMiB} MiB`,
                );
            };
            this.running.set(child, (outcome) => writeReport(outcome, -1));
            const cancel = () => this.stop(child);
            call.on("cancelled", cancel);
            const outcome = await new Promise<{ code: number; error?: Error }>((resolve) => {
                child.on("error", (error) => resolve({ code: -1, error }));
                // "close": the process has exited and its stdout and stderr are drained.
                child.on("close", (code) => resolve({ code: code ?? -1 }));
            });
            clearInterval(sampler);
            call.removeListener("cancelled", cancel);
            this.running.delete(child);
            writeReport(
                child.signalCode !== null ? `ended by ${child.signalCode}` : `exited ${outcome.code}`,
                outcome.code,
            );
            if (outcome.error !== undefined) {
                return failed(`Problem executing program (could not run language executor): ${outcome.error.message}`);
            }
            switch (outcome.code) {
                case 0:
                    return new langPb.RunResponse();
                case EXITED_AFTER_USER_ACTIONABLE_MESSAGE:
                    return new langPb.RunResponse().setBail(true);
                default:
                    return failed(
                        `Program exited with non-zero exit code: ${outcome.code}` + (oom ? `. ${OOM_MESSAGE}` : ""),
                    );
            }
        } finally {
            proxy.close();
        }
    }

    /** SIGINT to a program, SIGKILL if it is still there KILL_DELAY_MS later. */
    stop(child: ChildProcess): void {
        if (child.exitCode !== null || child.signalCode !== null || this.stopping.has(child)) return;
        this.stopping.add(child);
        log(`stopping program pid ${child.pid}`);
        child.kill("SIGINT");
        const timer = setTimeout(() => {
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        }, KILL_DELAY_MS);
        timer.unref();
        child.once("exit", () => clearTimeout(timer));
    }

    cancel(): void {
        log(`Cancel: ${this.running.size} program(s) running`);
        for (const child of this.running.keys()) this.stop(child);
    }

    /** This host is stopping: each running program is reported as it stands, then stopped. */
    stopAll(why: string): void {
        for (const [child, report] of this.running) {
            report(`still running when the language host got ${why}`);
            this.stop(child);
        }
    }
}

/** `npm ls`'s view of the program's dependencies, read from package.json, node_modules and package-lock.json. */
function programDependencies(dir: string, transitive: boolean): langPb.DependencyInfo[] {
    const out = new Map<string, string>();
    if (transitive) {
        const lock = JSON.parse(fs.readFileSync(path.join(dir, "package-lock.json"), "utf8")) as {
            packages?: Record<string, { version?: string }>;
        };
        for (const [key, entry] of Object.entries(lock.packages ?? {})) {
            const i = key.lastIndexOf("node_modules/");
            if (i >= 0 && entry.version !== undefined) out.set(key.slice(i + "node_modules/".length), entry.version);
        }
    } else {
        const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as {
            dependencies?: Record<string, string>;
            devDependencies?: Record<string, string>;
        };
        for (const name of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })) {
            try {
                const file = path.join(dir, "node_modules", ...name.split("/"), "package.json");
                out.set(name, (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version);
            } catch {
                // Not installed: npm ls lists it as missing, with no version.
            }
        }
    }
    return [...out.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, version]) => new langPb.DependencyInfo().setName(name).setVersion(version));
}

function commandOutput(bin: string, args: readonly string[], cwd?: string): Promise<string | undefined> {
    return new Promise((resolve) => {
        const child = spawn(bin, args, { cwd, stdio: ["ignore", "pipe", "ignore"] });
        let out = "";
        child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
        child.on("error", () => resolve(undefined));
        child.on("close", (code) => resolve(code === 0 ? out.trim() : undefined));
    });
}

/** The SDK's version: what GetPluginInfo reports (the Go host reports the version it was built as). */
function sdkVersion(): string {
    return (require("@pulumi/pulumi/package.json") as { version: string }).version;
}

function unary<Req, Res>(
    what: string,
    fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
        if (!["Run", "GetRequiredPackages", "Cancel"].includes(what)) log(what); // Those log their own lines.
        Promise.resolve()
            .then(() => fn(call.request, call))
            .then(
                (response) => callback(null, response),
                (err: Error & { code?: number }) => {
                    log(`${what} failed: ${err.message}`);
                    callback(typeof err.code === "number" ? err : rpcError(grpc.status.UNKNOWN, err.message));
                },
            );
    };
}

function unimplemented<Req, Res>(what: string): grpc.handleUnaryCall<Req, Res> {
    return (_call, callback) => {
        log(`${what}: not implemented by the stand-in`);
        callback(rpcError(grpc.status.UNIMPLEMENTED, `method ${what} not implemented`));
    };
}

function serviceImplementation(host: LanguageHost): langGrpc.ILanguageRuntimeServer {
    return {
        handshake: unary("Handshake", (req) => host.handshake(req)),
        getPluginInfo: unary("GetPluginInfo", () => new pluginPb.PluginInfo().setVersion(sdkVersion())),
        // As the Go host: GetRequiredPlugins is gone, the engine asks GetRequiredPackages.
        getRequiredPlugins: unimplemented("GetRequiredPlugins"),
        getRequiredPackages: unary("GetRequiredPackages", (req) => host.getRequiredPackages(req)),
        run: unary("Run", (req, call) => host.run(req, call)),
        installDependencies: (call) => {
            // Nothing to install: the rig runs on the repository's node_modules.
            const write = (text: string) =>
                call.write(new langPb.InstallDependenciesResponse().setStdout(Buffer.from(text)));
            log(`InstallDependencies(${call.request.getInfo()?.getProgramDirectory()}): nothing to install`);
            write("Installing dependencies...\n\n");
            write(`${WHO}: the dependencies are installed already; nothing to do\n`);
            write("Finished installing dependencies\n\n");
            call.end();
        },
        runtimeOptionsPrompts: unary("RuntimeOptionsPrompts", (req) => {
            const response = new langPb.RuntimeOptionsResponse();
            const options = (req.getInfo()?.getOptions()?.toJavaScript() ?? {}) as Record<string, unknown>;
            if (options.packagemanager === undefined) {
                const STRING = langPb.RuntimeOptionPrompt.RuntimeOptionType.STRING;
                const found = ["npm", "pnpm", "yarn", "bun"].map((pm) => ({ pm, found: findOnPath(pm) !== undefined }));
                found.sort((a, b) => Number(b.found) - Number(a.found));
                response.setPromptsList([
                    new langPb.RuntimeOptionPrompt()
                        .setKey("packagemanager")
                        .setDescription("The package manager to use for installing dependencies")
                        .setPrompttype(STRING)
                        .setChoicesList(
                            found.map((c) =>
                                new langPb.RuntimeOptionPrompt.RuntimeOptionValue()
                                    .setPrompttype(STRING)
                                    .setStringvalue(c.pm)
                                    .setDisplayname(c.found ? c.pm : `${c.pm} [not found]`),
                            ),
                        )
                        .setDefault(
                            new langPb.RuntimeOptionPrompt.RuntimeOptionValue()
                                .setPrompttype(STRING)
                                .setStringvalue("npm"),
                        ),
                ]);
            }
            return response;
        }),
        template: unary("Template", () => new langPb.TemplateResponse()),
        about: unary("About", async (req) => {
            const dir = req.getInfo()?.getProgramDirectory() ?? process.cwd();
            const node = findOnPath("node");
            if (node === undefined) throw new Error('could not find executable "node"');
            const [version, npmVersion, tsVersion] = await Promise.all([
                commandOutput(node, ["--version"]),
                commandOutput("npm", ["--version"], dir),
                commandOutput(node, ["-e", "console.log(require('typescript/package.json').version)"], dir),
            ]);
            const response = new langPb.AboutResponse().setExecutable(node).setVersion(version ?? "");
            response.getMetadataMap().set("packagemanager", "npm");
            response.getMetadataMap().set("packagemanagerVersion", npmVersion ?? "");
            if (tsVersion !== undefined) response.getMetadataMap().set("typescriptVersion", tsVersion);
            return response;
        }),
        getProgramDependencies: unary("GetProgramDependencies", (req) => {
            const dir = req.getInfo()?.getProgramDirectory() ?? process.cwd();
            return new langPb.GetProgramDependenciesResponse().setDependenciesList(
                programDependencies(dir, req.getTransitivedependencies()),
            );
        }),
        runPlugin: (call) => {
            log("RunPlugin: not implemented by the stand-in");
            call.destroy(rpcError(grpc.status.UNIMPLEMENTED, "method RunPlugin not implemented"));
        },
        generateProgram: unimplemented("GenerateProgram"),
        generateProject: unimplemented("GenerateProject"),
        generatePackage: unimplemented("GeneratePackage"),
        pack: unimplemented("Pack"),
        link: unimplemented("Link"),
        cancel: unary("Cancel", () => {
            host.cancel();
            return new emptyPb.Empty();
        }),
    };
}

/** The Go host's flags: -tracing, -runtime (nodejs only here), -version; then the engine's address. */
function parseFlags(argv: readonly string[]): { engineAddress: string; showVersion: boolean } {
    let showVersion = false;
    let i = 0;
    for (; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--" || a === "-") {
            if (a === "--") i++;
            break;
        }
        if (!a.startsWith("-")) break;
        const [flag, inline] = a.replace(/^--?/, "").split(/=(.*)/s, 2);
        const value = () => inline ?? argv[++i];
        if (flag === "version") showVersion = inline === undefined || inline === "true";
        else if (flag === "tracing") value();
        else if (flag === "runtime") {
            const runtime = value();
            if (runtime !== "nodejs")
                throw new Error(`unsupported runtime: ${runtime} (the stand-in runs nodejs only)`);
        } else throw new Error(`flag provided but not defined: -${flag}`);
    }
    return { engineAddress: argv[i] ?? "", showVersion };
}

async function main(): Promise<void> {
    const flags = parseFlags(process.argv.slice(2));
    if (flags.showVersion) {
        process.stdout.write(`${sdkVersion()}\n`);
        return;
    }
    const host = new LanguageHost(flags.engineAddress);
    const server = new grpc.Server(CHANNEL_OPTIONS);
    server.addService(langGrpc.LanguageRuntimeService, serviceImplementation(host));
    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
            err ? reject(err) : resolve(p),
        ),
    );
    // The one line the CLI reads from a plugin's stdout before it dials.
    process.stdout.write(`${port}\n`);
    log(
        `serving on 127.0.0.1:${port} (pid ${process.pid}), engine ${flags.engineAddress === "" ? "(none yet)" : flags.engineAddress}`,
    );

    const shutdown = (why: string) => {
        log(`${why}: stopping`);
        host.stopAll(why);
        server.tryShutdown(() => process.exit(0));
        setTimeout(() => process.exit(0), KILL_DELAY_MS + 1000).unref();
    };
    process.on("SIGINT", () => shutdown("SIGINT"));
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    // The Go host exits when the engine's health check fails; this one when its parent (the CLI) is gone.
    const parent = process.ppid;
    setInterval(() => {
        if (process.ppid !== parent) shutdown(`parent ${parent} gone`);
    }, 1000).unref();
}

if (require.main === module) {
    main().catch((err: Error) => {
        process.stderr.write(`${WHO}: ${err.message}\n`);
        process.exit(err.message.startsWith("flag provided") ? 2 : 1);
    });
}
