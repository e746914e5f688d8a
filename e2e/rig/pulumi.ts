/**
 * The real Pulumi engine, offline: the CLI from the tool cache, a private
 * PULUMI_HOME with the locally built provider plugins installed under the
 * versions the SDKs ask for, launchers for the Node dynamic provider, the
 * guard policy pack and the Node language host, a file:// backend and a
 * generated passphrase in the rig's temp dir. Nothing reaches for the
 * network: plugin acquisition and the update check are off.
 *
 * A platform stack runs its project's own program as `pulumi up` does: the
 * CLI starts `pulumi-language-nodejs`, which runs the SDK's `cmd/run` in a
 * process of its own with Pulumi.yaml's runtime options. No registry
 * reachable here serves that Go binary, so the launcher starts the rig's
 * TypeScript stand-in (language-host.ts). Probe stacks run inline programs
 * (the Automation API's own language host, in this process).
 */
import { execFile } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as util from "util";
import * as YAML from "yaml";
import { LocalWorkspace, PulumiCommand, PulumiFn, Stack } from "@pulumi/pulumi/automation";
import { recordProgramRuns } from "../figures";
import { Rig } from "./processes";
import { sdkPluginVersion } from "./sdk-plugin-version";

const run = util.promisify(execFile);

export const PROJECT_NAME = "secret-platform";

export interface PluginBinary {
    /** The plugin's package name (kubernetes, vault). */
    readonly name: string;
    /** The locally built binary. */
    readonly file: string;
    /** The version the binary was built as. */
    readonly builtVersion: string;
    /** The npm SDK package that asks the engine for a version (@pulumi/kubernetes). */
    readonly sdkPackage: string;
}

export interface EngineOptions {
    readonly repoRoot: string;
    /** The CLI's install root (holds bin/pulumi). */
    readonly cliRoot: string;
    readonly plugins: readonly PluginBinary[];
    /** The CA every https client of the engine and its plugins trusts (SSL_CERT_FILE). */
    readonly caFile?: string;
    readonly kubeconfig?: string;
    /** The policy pack folder the launcher runs (default <repo>/policies/guard). */
    readonly policyPackDir?: string;
}

export interface Engine {
    readonly command: PulumiCommand;
    /** The engine's environment, passed to every CLI run (holds the passphrase: never print it). */
    readonly envVars: Readonly<Record<string, string>>;
    /** An executable the CLI runs as the guard pack (give it as a policy pack path). */
    readonly policyPack: string;
    readonly pulumiHome: string;
    /** The language host's log (the stand-in's lines, each naming it so). */
    readonly languageHostLog: string;
    /** One JSON line per program the language host ran (language-host.ts ProgramRunReport). */
    readonly programRuns: string;
    /** What was installed, e.g. "kubernetes plugin 4.25.0 installed as 4.34.2". */
    readonly substitutions: readonly string[];
}

function writeLauncher(file: string, lines: readonly string[]): string {
    fs.writeFileSync(file, ["#!/bin/sh", ...lines, ""].join("\n"), { mode: 0o755 });
    return file;
}

/** A shell-quoted argument (paths only; no secret ever goes into a launcher). */
function q(arg: string): string {
    return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The stand-in language host as JavaScript in the rig's dir, beside a link to the repository's
 * node_modules: the CLI starts it once for every operation, and node starts it in well under a
 * second where tsx took about two. Transpiled only (the typecheck is `npm test`'s), in a child
 * process so the compiler does not stay in this one.
 */
async function compileLanguageHost(rig: Rig, repoRoot: string): Promise<string> {
    const dir = rig.subdir("language-host");
    const source = path.join(repoRoot, "e2e", "rig", "language-host.ts");
    const out = path.join(dir, "language-host.js");
    fs.symlinkSync(fs.realpathSync(path.join(repoRoot, "node_modules")), path.join(dir, "node_modules"));
    const script = [
        `const ts = require("typescript"), fs = require("fs");`,
        `const [source, out] = process.argv.slice(1);`,
        `const options = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true };`,
        `const js = ts.transpileModule(fs.readFileSync(source, "utf8"), { compilerOptions: options, fileName: source });`,
        `fs.writeFileSync(out, js.outputText);`,
    ].join("\n");
    await run(process.execPath, ["-e", script, source, out], { cwd: dir });
    return out;
}

/** Prepares PULUMI_HOME, the launchers and the backend; installs the plugins. */
export async function prepareEngine(rig: Rig, opts: EngineOptions, log = console.log): Promise<Engine> {
    const pulumiHome = rig.subdir("pulumi-home");
    const launchers = rig.subdir("pulumi-launchers");
    const backend = rig.subdir("pulumi-state");
    const node = process.execPath;
    const pulumiPkg = path.join(opts.repoRoot, "node_modules", "@pulumi", "pulumi");

    // The engine runs dynamic providers as `pulumi-resource-pulumi-nodejs` from PATH.
    writeLauncher(path.join(launchers, "pulumi-resource-pulumi-nodejs"), [
        `exec ${q(node)} ${q(path.join(pulumiPkg, "cmd", "dynamic-provider"))} "$@"`,
    ]);
    // A pack given as an executable is launched with the engine's address as $1.
    // run-policy-pack compiles the pack with its vendored ts-node (type-checked):
    // --pwd makes it use the repository's tsconfig.json, as `npm run typecheck` does.
    const policyPack = writeLauncher(path.join(launchers, "guard-policy-pack"), [
        `exec ${q(node)} ${q(path.join(pulumiPkg, "cmd", "run-policy-pack"))} --pwd ${q(opts.repoRoot)} "$1" ${q(
            opts.policyPackDir ?? path.join(opts.repoRoot, "policies", "guard"),
        )}`,
    ]);

    // The Go language host is not to be had here: this launcher runs the rig's stand-in. It is installed
    // below as the nodejs language plugin of PULUMI_HOME, not put on PATH, where the CLI would warn on every
    // operation that a pulumi-language-nodejs from $PATH stands in for the one it ships with.
    const languageHost = await compileLanguageHost(rig, opts.repoRoot);
    const languageHostLauncher = writeLauncher(path.join(path.dirname(languageHost), "pulumi-language-nodejs"), [
        `exec ${q(node)} ${q(languageHost)} "$@"`,
    ]);
    const languageHostLog = path.join(rig.logDir, "language-host.log");
    const programRuns = path.join(rig.logDir, "program-runs.jsonl");
    fs.writeFileSync(programRuns, "", { mode: 0o600 });
    recordProgramRuns(programRuns);

    const envVars: Record<string, string> = {
        PATH: [
            path.join(opts.cliRoot, "bin"),
            launchers,
            path.dirname(node),
            "/usr/local/bin",
            "/usr/bin",
            "/bin",
        ].join(path.delimiter),
        PULUMI_HOME: pulumiHome,
        PULUMI_BACKEND_URL: `file://${backend}`,
        PULUMI_CONFIG_PASSPHRASE: crypto.randomBytes(24).toString("base64url"),
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        E2E_LANGUAGE_HOST_LOG: languageHostLog,
        E2E_LANGUAGE_HOST_REPORT: programRuns,
        ...(opts.caFile === undefined ? {} : { SSL_CERT_FILE: opts.caFile }),
        ...(opts.kubeconfig === undefined ? {} : { KUBECONFIG: opts.kubeconfig }),
    };

    const command = await PulumiCommand.get({ root: opts.cliRoot });
    const cli = path.join(opts.cliRoot, "bin", "pulumi");
    const substitutions: string[] = [];
    // The CLI finds a bundled plugin next to itself, then in PULUMI_HOME; `plugin install` takes one with PULUMI_DEV.
    const cliVersion = command.version?.version ?? "0.0.0";
    try {
        await run(cli, ["plugin", "install", "language", "nodejs", cliVersion, "--file", languageHostLauncher], {
            env: { ...envVars, HOME: pulumiHome, PULUMI_DEV: "true" },
        });
    } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`pulumi plugin install language nodejs ${cliVersion}: ${(e.stderr ?? e.message).trim()}`);
    }
    log(`  nodejs language plugin ${cliVersion}: the rig's stand-in (rig/language-host.ts), not the Go host`);
    for (const plugin of opts.plugins) {
        const asked = sdkPluginVersion(opts.repoRoot, plugin.sdkPackage);
        try {
            await run(cli, ["plugin", "install", "resource", plugin.name, asked, "--file", plugin.file], {
                env: { ...envVars, HOME: pulumiHome },
            });
        } catch (err) {
            const e = err as { stderr?: string; message: string };
            throw new Error(
                `pulumi plugin install resource ${plugin.name} ${asked}: ${(e.stderr ?? e.message).trim()}`,
            );
        }
        const line =
            asked === plugin.builtVersion
                ? `${plugin.name} plugin ${asked} installed`
                : `${plugin.name} plugin ${plugin.builtVersion} installed as ${asked} (the version ${plugin.sdkPackage} asks for)`;
        substitutions.push(line);
        log(`  ${line}`);
    }
    return { command, envVars, policyPack, pulumiHome, substitutions, languageHostLog, programRuns };
}

/** The plugins PULUMI_HOME holds, as `name version` lines (from `pulumi plugin ls --json`). */
export async function installedPlugins(engine: Engine): Promise<string[]> {
    const { stdout } = await run(engine.command.command, ["plugin", "ls", "--json"], {
        env: { ...engine.envVars, HOME: engine.pulumiHome },
    });
    return (JSON.parse(stdout) as { name: string; kind: string; version: string }[])
        .map((p) => `${p.kind} ${p.name} ${p.version}`)
        .sort();
}

export interface StackOptions {
    readonly stackName: string;
    /**
     * An inline program, run in this process by the Automation API (probe stacks). Without one, the
     * CLI runs workDir's own program (Pulumi.yaml's `main:`) through the Node language host, in a
     * process of its own, as `pulumi up` does.
     */
    readonly program?: PulumiFn;
    /** Where Pulumi.yaml is read (and Pulumi.<stack>.yaml written): a project copy for the real program. */
    readonly workDir: string;
    /** The project name when workDir has no Pulumi.yaml (inline probe stacks only). */
    readonly projectName?: string;
    /**
     * Non-secret stack config written as Pulumi.<stack>.yaml in workDir (removed on cleanup);
     * keys are full (`secret-platform:cluster`), values any YAML.
     */
    readonly config?: Readonly<Record<string, unknown>>;
    /** More environment for this stack's CLI runs, and so for its program's process (the engine's wins). */
    readonly envVars?: Readonly<Record<string, string>>;
}

/** Creates (or selects) a stack on the rig's backend: an inline program, or workDir's own program. */
export async function createStack(rig: Rig, engine: Engine, opts: StackOptions): Promise<Stack> {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(opts.stackName)) throw new Error(`bad stack name ${opts.stackName}`);
    const stackFile = path.join(opts.workDir, `Pulumi.${opts.stackName}.yaml`);
    if (opts.config !== undefined) {
        if (fs.existsSync(stackFile)) throw new Error(`${stackFile} exists: refusing to overwrite a stack file`);
        rig.removeOnCleanup(stackFile);
        fs.writeFileSync(stackFile, YAML.stringify({ config: opts.config }), { mode: 0o600 });
    }
    const workspace = {
        workDir: opts.workDir,
        envVars: { ...opts.envVars, ...engine.envVars },
        pulumiCommand: engine.command,
        pulumiHome: engine.pulumiHome,
    };
    if (opts.program === undefined) {
        if (opts.projectName !== undefined) throw new Error("a local program's project is its Pulumi.yaml's");
        if (!fs.existsSync(path.join(opts.workDir, "Pulumi.yaml")))
            throw new Error(`no Pulumi.yaml in ${opts.workDir}`);
        return LocalWorkspace.createOrSelectStack({ stackName: opts.stackName, workDir: opts.workDir }, workspace);
    }
    return LocalWorkspace.createOrSelectStack(
        { stackName: opts.stackName, projectName: opts.projectName ?? PROJECT_NAME, program: opts.program },
        workspace,
    );
}
