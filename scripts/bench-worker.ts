/**
 * One measured run for `npm run bench`, in a fresh process:
 *   bench-worker.ts sdk              imports the five Pulumi SDKs, nothing else (the floor)
 *   bench-worker.ts sdk-used <list>  imports them and every SDK module file in <list> (a JSON
 *                                    array): the SDK modules a program run loaded, without the program
 *   bench-worker.ts program <config> imports them, then the program and the mocks, and runs the
 *                                    program under the mocks with the config in <config> (a JSON
 *                                    file: values and secrets, as the engine hands a program its
 *                                    config; the parent reads the stack file); with
 *                                    BENCH_MODULES_OUT set, writes there the SDK module files it loaded
 *   bench-worker.ts floor <n>        imports them and the mocks, then registers n plain resources
 *                                    (ConfigMaps in components of five, one Output each): the SDK's
 *                                    own cost of registering as many resources, with no program
 * Prints one JSON line of milliseconds since the process started. Modules are
 * loaded with require() in order, so each phase is timed on its own.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";

export interface WorkerTimes {
    /** Node start-up and the TypeScript loader, before the first import. */
    readonly bootMs: number;
    /** Importing @pulumi/pulumi, aws, kubernetes, vault and random. */
    readonly sdkMs: number;
    /** Importing the mocks, the config loader and the components (program mode). */
    readonly loadMs?: number;
    /** Running the program under the mocks until every resource is registered (program mode). */
    readonly runMs?: number;
    readonly resources?: number;
    /** CPU time (user + system) of the whole process, less sensitive than wall time to a busy machine. */
    readonly cpuMs: number;
    /** CPU time of the SDK imports. */
    readonly sdkCpuMs: number;
    /** CPU time of load + run (program mode). */
    readonly programCpuMs?: number;
}

/**
 * n plain resources, grouped as a program groups them (a provider, then components of five
 * ConfigMaps, each ConfigMap with one Output), resolved when every URN is known.
 */
async function registerPlainResources(count: number): Promise<void> {
    const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
    const k8s = require("@pulumi/kubernetes") as typeof import("@pulumi/kubernetes");
    const all: import("@pulumi/pulumi").Resource[] = [new k8s.Provider("floor", {})];
    const provider = all[0] as import("@pulumi/kubernetes").Provider;
    while (all.length < count) {
        const group = new pulumi.ComponentResource("bench:floor:Group", `group-${all.length}`, {}, {});
        all.push(group);
        for (let i = 0; i < 5 && all.length < count; i++) {
            const name = `cm-${all.length}`;
            const data = { value: pulumi.output(name).apply((v) => `${v}-data`) };
            const metadata = { name, namespace: "vault", labels: { "app.kubernetes.io/name": "bench" } };
            all.push(new k8s.core.v1.ConfigMap(name, { metadata, data }, { parent: group, provider }));
        }
    }
    await Promise.all(all.map((r) => new Promise((resolve) => r.urn.apply(resolve))));
}

function cpuMs(): number {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
}

export const SDKS = ["@pulumi/pulumi", "@pulumi/aws", "@pulumi/kubernetes", "@pulumi/vault"];

async function main(): Promise<WorkerTimes> {
    const [mode, stack] = process.argv.slice(2);
    const t0 = performance.now();
    const c0 = cpuMs();
    for (const sdk of SDKS) require(sdk);
    const t1 = performance.now();
    const c1 = cpuMs();
    if (mode === "sdk") return { bootMs: t0, sdkMs: t1 - t0, cpuMs: c1, sdkCpuMs: c1 - c0 };
    if (mode === "sdk-used" && stack !== undefined) {
        for (const file of JSON.parse(fs.readFileSync(stack, "utf8")) as string[]) require(file);
        const t2 = performance.now();
        const c2 = cpuMs();
        return { bootMs: t0, sdkMs: t2 - t0, cpuMs: c2, sdkCpuMs: c2 - c0 };
    }
    if (mode === "floor" && stack !== undefined) {
        const { registrations } = require("../ops/plan/mocks") as typeof import("../ops/plan/mocks");
        const t2 = performance.now();
        await registerPlainResources(Number(stack));
        const t3 = performance.now();
        const c3 = cpuMs();
        return {
            bootMs: t0,
            sdkMs: t1 - t0,
            loadMs: t2 - t1,
            runMs: t3 - t2,
            resources: registrations.length,
            cpuMs: c3,
            sdkCpuMs: c1 - c0,
            programCpuMs: c3 - c1,
        };
    }
    if (mode !== "program" || stack === undefined) {
        throw new Error("usage: bench-worker.ts sdk | sdk-used <list.json> | program <config.json> | floor <n>");
    }

    require("../ops/plan/mocks");
    const { runProgram } = require("../ops/plan/program") as typeof import("../ops/plan/program");
    const { buildPlatform } = require("../components/platform") as typeof import("../components/platform");
    const t2 = performance.now();
    const config = JSON.parse(fs.readFileSync(stack, "utf8")) as import("../ops/plan/program").StackConfig;
    const program = await runProgram(config, buildPlatform);
    const t3 = performance.now();
    const c3 = cpuMs();
    const out = process.env.BENCH_MODULES_OUT;
    if (out !== undefined) {
        const sdkFiles = Object.keys(require.cache).filter((f) => f.includes(`${path.sep}@pulumi${path.sep}`));
        fs.writeFileSync(out, JSON.stringify(sdkFiles));
    }
    return {
        bootMs: t0,
        sdkMs: t1 - t0,
        loadMs: t2 - t1,
        runMs: t3 - t2,
        resources: program.resources.length,
        cpuMs: c3,
        sdkCpuMs: c1 - c0,
        programCpuMs: c3 - c1,
    };
}

main().then(
    (times) => process.stdout.write(`${JSON.stringify(times)}\n`, () => process.exit(0)),
    (e: Error) => {
        process.stderr.write(`${e.stack ?? e.message}\n`);
        process.exit(1);
    },
);
