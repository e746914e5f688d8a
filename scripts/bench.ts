/**
 * `npm run bench [-- --runs N]`: how long the program takes compared with the
 * Pulumi SDKs it cannot avoid, and how it grows with the config.
 *   (a) the floor: a fresh process that imports the four Pulumi SDKs only;
 *   (b) a fresh process that evaluates the amiya stack's program under the mocks;
 *   (c) the same program with synthetic configs of 1, 10 and 100 remote clusters
 *       and as many extra ACL policies;
 *   (d) the SDK's own cost of registering as many plain resources as (b) under the
 *       same mocks, with no program: what (b) pays the SDK per resource.
 * Each figure is the median of N runs, after one unmeasured warm-up run of
 * every variant (tsx compiles each file once into its cache). The synthetic
 * stacks run from a temporary copy of the program whose policies/ holds the
 * extra policy files (the policy directory is fixed next to components/).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { parse, stringify } from "yaml";
import { CONFIG_NAMESPACE } from "../components/config";
import type { WorkerTimes } from "./bench-worker";
import { PROJECT_ROOT, readStackFile } from "../ops/stack-file";

const WORKER = path.join("scripts", "bench-worker.ts");
/** What the temporary copy needs to run the program under the mocks. */
const COPIED = ["components", "ops", "policies", "scripts", "tsconfig.json", "package.json", "Pulumi.yaml"];
/** Not a real certificate: the config only checks the PEM armour, nothing parses it under the mocks. */
const FAKE_CA = "-----BEGIN CERTIFICATE-----\nMIIBbench\n-----END CERTIFICATE-----\n";

interface Variant {
    readonly label: string;
    readonly root: string;
    readonly args: string[];
}

interface Sample extends WorkerTimes {
    readonly wallMs: number;
}

function runWorker(v: Variant, env: Record<string, string> = {}): Sample {
    const tsxLoader = require.resolve("tsx/cjs");
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, ["--require", tsxLoader, WORKER, ...v.args], {
        cwd: v.root,
        encoding: "utf8",
        env: { ...process.env, ...env },
    });
    const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== 0) throw new Error(`${v.label}: worker failed (exit ${r.status}):\n${r.stderr}`);
    const times = JSON.parse(r.stdout.trim().split("\n").pop() as string) as WorkerTimes;
    return { ...times, wallMs };
}

/** A copy of the program with `extraPolicies` more policy files and a stack of `remotes` remote clusters. */
function syntheticCopy(scale: number): Variant {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `secret-platform-bench-x${scale}-`));
    for (const entry of COPIED) {
        fs.cpSync(path.join(PROJECT_ROOT, entry), path.join(root, entry), { recursive: true });
    }
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(root, "node_modules"), "dir");
    for (let i = 1; i <= scale; i++) {
        const id = String(i).padStart(3, "0");
        fs.writeFileSync(
            path.join(root, "policies", `bench-${id}.hcl`),
            `# Synthetic policy ${id} for npm run bench.\npath "shared/data/bench-${id}/*" {\n  capabilities = ["read", "list"]\n}\n`,
        );
    }
    const doc = parse(fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.amiya.yaml"), "utf8")) as {
        config: Record<string, unknown>;
    };
    const key = `${CONFIG_NAMESPACE}:kubernetesAuth`;
    const auth = (doc.config[key] ?? {}) as Record<string, unknown>;
    doc.config[key] = {
        ...auth,
        remoteClusters: Array.from({ length: scale }, (_, i) => ({
            name: `remote-${String(i + 1).padStart(3, "0")}.bench`,
            host: `https://api.remote-${String(i + 1).padStart(3, "0")}.bench:6443`,
            caCert: FAKE_CA,
        })),
    };
    // readStackFile fills remoteClusterReviewerJwts with one placeholder per remote cluster.
    fs.writeFileSync(path.join(root, `Pulumi.bench-x${scale}.yaml`), stringify(doc));
    return { label: `x${scale}`, root, args: ["program", configFile(root, `bench-x${scale}`, root)] };
}

/**
 * The stack's config as the engine hands it to a program (values and secrets, JSON), written
 * to `dir`: the worker reads that, not the YAML, so the stack file's parsing is not measured.
 */
function configFile(dir: string, stack: string, root: string = PROJECT_ROOT): string {
    const { values, secrets } = readStackFile(stack, root);
    const file = path.join(dir, `${stack}.config.json`);
    fs.writeFileSync(file, JSON.stringify({ values, secrets }));
    return file;
}

const NAMES: Record<string, string> = {
    sdk: "(a) SDK imports only",
    "sdk-used": "(a') SDK modules amiya loads",
    floor: "(d) SDK registering as many",
    amiya: "(b) amiya",
    x1: "(c) 1 remote, +1 policy",
    x10: "(c) 10 remotes, +10 policies",
    x100: "(c) 100 remotes, +100 policies",
};

function median(values: number[]): number {
    const s = [...values].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const ms = (v: number) => `${Math.round(v)}`;
const pad = (s: string, n: number) => s.padStart(n);

function main(): void {
    const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
    const runs = Number(values.runs);
    if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be a positive integer");

    const scales = [1, 10, 100];
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "secret-platform-bench-"));
    const modulesList = path.join(scratch, "sdk-used.json");
    const amiya: Variant = { label: "amiya", root: PROJECT_ROOT, args: ["program", configFile(scratch, "amiya")] };
    const copies = scales.map(syntheticCopy);
    try {
        // The warm-up run of amiya also lists the SDK module files the program loads, for (a'),
        // and counts its resources, for (d).
        const amiyaResources = runWorker(amiya, { BENCH_MODULES_OUT: modulesList }).resources ?? 0;
        const variants: Variant[] = [
            { label: "sdk", root: PROJECT_ROOT, args: ["sdk"] },
            { label: "sdk-used", root: PROJECT_ROOT, args: ["sdk-used", modulesList] },
            { label: "floor", root: PROJECT_ROOT, args: ["floor", String(amiyaResources)] },
            amiya,
            ...copies,
        ];
        const cpus = os.cpus();
        console.log(
            `machine: ${cpus[0]?.model ?? "unknown CPU"}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
                `node ${process.version}, ${os.platform()} ${os.arch()}; load average ${os
                    .loadavg()
                    .map((l) => l.toFixed(1))
                    .join(" ")}`,
        );
        console.log(`${runs} runs of each variant after one warm-up run; medians in ms\n`);
        for (const v of variants) if (v !== amiya) runWorker(v); // warm-up: tsx's compile cache, the OS file cache
        const samples = new Map<string, Sample[]>(variants.map((v) => [v.label, []]));
        for (let i = 0; i < runs; i++) {
            // Interleaved, so a burst of load on the machine spreads over every variant.
            for (const v of variants) samples.get(v.label)?.push(runWorker(v));
        }
        const med = (label: string, f: (s: Sample) => number | undefined) =>
            median((samples.get(label) ?? []).map((s) => f(s) ?? 0));

        const wall = (l: string) => med(l, (s) => s.wallMs);
        const cpu = (l: string) => med(l, (s) => s.cpuMs);
        const cols = ["wall", "cpu", "sdk", "sdk cpu", "load", "run", "prog cpu", "resources", "wall/(a)", "cpu/(a)"];
        console.log(`${"variant".padEnd(31)}${cols.map((c) => pad(c, 10)).join("")}`);
        for (const v of variants) {
            const l = v.label;
            const p = !l.startsWith("sdk");
            const cells = [
                ms(wall(l)),
                ms(cpu(l)),
                ms(med(l, (s) => s.sdkMs)),
                ms(med(l, (s) => s.sdkCpuMs)),
                p ? ms(med(l, (s) => s.loadMs)) : "",
                p ? ms(med(l, (s) => s.runMs)) : "",
                p ? ms(med(l, (s) => s.programCpuMs)) : "",
                p ? String(med(l, (s) => s.resources)) : "",
                (wall(l) / wall("sdk")).toFixed(2),
                (cpu(l) / cpu("sdk")).toFixed(2),
            ];
            console.log(`${NAMES[l].padEnd(31)}${cells.map((c) => pad(c, 10)).join("")}`);
        }
        const progCpu = (l: string) => med(l, (s) => s.programCpuMs);
        const res = (l: string) => med(l, (s) => s.resources);
        const sdkCpu = (l: string) => med(l, (s) => s.sdkCpuMs);
        const own = cpu("amiya") - cpu("sdk-used");
        const ownOverFloor = cpu("amiya") - cpu("floor");
        console.log(
            `\n(b)/(a): wall ${(wall("amiya") / wall("sdk")).toFixed(2)}, cpu ${(cpu("amiya") / cpu("sdk")).toFixed(2)}. ` +
                `(b)/(a'): wall ${(wall("amiya") / wall("sdk-used")).toFixed(2)}, cpu ${(cpu("amiya") / cpu("sdk-used")).toFixed(2)}.`,
        );
        console.log(
            `the program's own CPU, (b) - (a'): ${ms(own)} ms, ${((100 * own) / cpu("sdk-used")).toFixed(0)}% of (a') ` +
                `(the SDK imports alone: ${ms(sdkCpu("sdk"))} ms; with the submodules the program uses: ${ms(sdkCpu("sdk-used"))} ms).`,
        );
        console.log(
            `(b)/(d): cpu ${(cpu("amiya") / cpu("floor")).toFixed(2)}; the program's CPU beyond the SDK's for as many ` +
                `plain resources, (b) - (d): ${ms(ownOverFloor)} ms (the SDK registering them: ${ms(progCpu("floor"))} ms).`,
        );
        const growth = scales.map((n) => `x${n}`);
        console.log(
            `growth ${scales.join(" -> ")}: program cpu (load + run) ${growth.map((l) => ms(progCpu(l))).join(" -> ")} ms, ` +
                `resources ${growth.map((l) => res(l)).join(" -> ")}, ` +
                `cpu per resource ${growth.map((l) => (progCpu(l) / res(l)).toFixed(1)).join(" -> ")} ms`,
        );
    } finally {
        for (const c of copies) fs.rmSync(c.root, { recursive: true, force: true });
        fs.rmSync(scratch, { recursive: true, force: true });
    }
}

main();
