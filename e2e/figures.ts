/**
 * The run's figures (a benchmark, not an assertion): wall time of an engine
 * operation, and the memory of the engine and its plugins, sampled from
 * /proc while it runs. The CLI is a child of this process (the Automation
 * API spawns `pulumi`); its process tree holds the provider plugins, the
 * Node dynamic provider, the policy pack, the language host and the
 * program's own process (`node .../cmd/run`, started by the language host).
 * For the program, the language host reports the time from starting its
 * process to its first resource registration and its peak RSS (VmHWM), one
 * JSON line a run (rig/language-host.ts); an operation's figure carries the
 * runs it made. This process (the harness and the inline probe programs) is
 * reported apart.
 */
import * as fs from "fs";
import * as path from "path";
import { pulumiTrees } from "./rig/processes";

const SAMPLE_MS = 100;

interface ProcInfo {
    readonly pid: number;
    readonly rssKb: number;
    readonly label: string;
}

function readProc(pid: number): ProcInfo | undefined {
    try {
        const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
        const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
        const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
        if (argv.length === 0) return undefined; // A zombie (exited, not yet reaped): no memory left.
        return { pid, rssKb: rss === null ? 0 : Number(rss[1]), label: labelOf(argv) };
    } catch {
        return undefined; // Gone between the listing and the read.
    }
}

/** A readable name: the binary, or for node the script it runs (dynamic-provider, run-policy-pack, run). */
function labelOf(argv: readonly string[]): string {
    const bin = path.basename(argv[0] ?? "?");
    if (bin === "node" || bin === "sh") {
        if (argv.some((a) => /\/language-host\.[jt]s$/.test(a))) return "language host (stand-in)";
        const script = argv.slice(1).find((a) => a.includes("/cmd/"));
        if (script !== undefined)
            return /\/cmd\/run(\/index\.js)?$/.test(script)
                ? "program (node cmd/run)"
                : `node ${path.basename(script)}`;
    }
    return bin;
}

export interface MemoryFigures {
    /** The largest sum of RSS over the CLI's process tree at one sample, in MiB. */
    readonly peakTreeMiB: number;
    /** Per kind of process (label), the largest RSS of its processes summed at one sample, in MiB. */
    readonly peakByLabelMiB: Readonly<Record<string, number>>;
    /** This process (the harness, and the inline programs of the probe stacks), its largest RSS seen, in MiB. */
    readonly peakSelfMiB: number;
    readonly samples: number;
}

/** Samples the RSS of every `pulumi` child of this process and its descendants until stopped. */
export class TreeSampler {
    private peakTreeKb = 0;
    private peakSelfKb = 0;
    private readonly peakByLabel = new Map<string, number>();
    private samples = 0;
    private readonly timer: NodeJS.Timeout;

    constructor() {
        this.timer = setInterval(() => this.sample(), SAMPLE_MS);
        this.sample();
    }

    private sample(): void {
        const tree = pulumiTrees().flatMap((p) => readProc(p.pid) ?? []);
        const sum = tree.reduce((s, p) => s + p.rssKb, 0);
        this.peakTreeKb = Math.max(this.peakTreeKb, sum);
        // Several processes may share a label (two CLI runs never overlap here; launchers exec their node).
        const byLabel = new Map<string, number>();
        for (const p of tree) byLabel.set(p.label, (byLabel.get(p.label) ?? 0) + p.rssKb);
        for (const [label, kb] of byLabel) this.peakByLabel.set(label, Math.max(this.peakByLabel.get(label) ?? 0, kb));
        this.peakSelfKb = Math.max(this.peakSelfKb, Math.round(process.memoryUsage().rss / 1024));
        this.samples++;
    }

    stop(): MemoryFigures {
        clearInterval(this.timer);
        this.sample();
        const mib = (kb: number) => Math.round(kb / 1024);
        return {
            peakTreeMiB: mib(this.peakTreeKb),
            peakByLabelMiB: Object.fromEntries(
                [...this.peakByLabel.entries()].sort((a, b) => b[1] - a[1]).map(([l, kb]) => [l, mib(kb)]),
            ),
            peakSelfMiB: mib(this.peakSelfKb),
            samples: this.samples,
        };
    }
}

/** A program run as the language host reports it (rig/language-host.ts ProgramRunReport, the fields read here). */
export interface ProgramRun {
    readonly stack: string;
    readonly dryRun: boolean;
    /** node's arguments before cmd/run (Pulumi.yaml's nodeargs), and whether the SDK's ts-node ran. */
    readonly nodeargs: readonly string[];
    readonly typescript: boolean;
    /** ms from starting the program's process to its first registration of a resource other than the stack. */
    readonly startToFirstResourceMs?: number;
    /** ms from starting the program's process to the registration of the stack itself. */
    readonly startToStackMs?: number;
    readonly registrations: number;
    /** The program process's peak RSS (VmHWM), in MiB. */
    readonly peakRssMiB: number;
    readonly wallMs: number;
    readonly exitCode: number;
    /** How it ended (`exited 0`, ...). */
    readonly outcome: string;
}

let programRunsFile: string | undefined;

/** Where the language host appends its program runs (set by the rig's prepareEngine); measured() reads it. */
export function recordProgramRuns(file: string): void {
    programRunsFile = file;
}

/** The program runs appended to the runs file since `offset` (its size before an operation). */
function programRunsSince(offset: number): ProgramRun[] {
    if (programRunsFile === undefined || !fs.existsSync(programRunsFile)) return [];
    const text = fs.readFileSync(programRunsFile).subarray(offset).toString("utf8");
    return text
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as ProgramRun);
}

function runsFileSize(): number {
    return programRunsFile !== undefined && fs.existsSync(programRunsFile) ? fs.statSync(programRunsFile).size : 0;
}

export interface Figure {
    readonly what: string;
    readonly wallMs: number;
    readonly memory: MemoryFigures;
    /** The programs the language host ran during the operation (none for an inline program). */
    readonly programs: readonly ProgramRun[];
}

/** Runs `op` with a sampler around it; returns its result and its figure. */
export async function measured<T>(what: string, op: () => Promise<T>): Promise<{ result: T; figure: Figure }> {
    const runsBefore = runsFileSize();
    const sampler = new TreeSampler();
    const start = Date.now();
    let memory: MemoryFigures | undefined;
    try {
        const result = await op();
        const wallMs = Date.now() - start;
        memory = sampler.stop();
        return { result, figure: { what, wallMs, memory, programs: programRunsSince(runsBefore) } };
    } finally {
        if (memory === undefined) sampler.stop();
    }
}

/** A program run in a few words: its start-up (to the first registration) and its peak RSS. */
export function formatProgramRun(p: ProgramRun): string {
    const loader = p.typescript ? "the SDK's ts-node" : p.nodeargs.length > 0 ? `node ${p.nodeargs.join(" ")}` : "node";
    const first = p.startToFirstResourceMs === undefined ? "no resource registered" : `${p.startToFirstResourceMs} ms`;
    return (
        `program start to first resource registration ${first}, peak RSS ${p.peakRssMiB} MiB ` +
        `(its own process under ${loader}; ${p.registrations} registrations, ${p.outcome} after ${(p.wallMs / 1000).toFixed(1)} s)`
    );
}

export function formatFigure(f: Figure): string {
    const parts = Object.entries(f.memory.peakByLabelMiB)
        .map(([l, m]) => `${l} ${m}`)
        .join(", ");
    const programs = f.programs.map((p) => `; ${formatProgramRun(p)}`).join("");
    return (
        `${f.what}: ${(f.wallMs / 1000).toFixed(1)} s wall${programs}; engine + plugins peak RSS ${f.memory.peakTreeMiB} MiB ` +
        `(per kind of process, its processes summed, MiB: ${parts}); this process (harness, inline probes) ${f.memory.peakSelfMiB} MiB`
    );
}

/** A time the scenario measures itself (not an engine operation): what, and how long. */
export interface Timing {
    readonly what: string;
    readonly ms: number;
}

export function formatTiming(t: Timing): string {
    return `${t.what}: ${(t.ms / 1000).toFixed(1)} s`;
}
