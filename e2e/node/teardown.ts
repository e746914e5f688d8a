/**
 * Taking the node down so the machine is as it was: its processes stopped,
 * the pods' processes killed through their cgroups, containerd stopped, every
 * process left in the node's namespaces (containerd's shims) killed, the
 * kubepods cgroups removed, then the mount namespace (and with it every mount
 * the node made) and the network namespace (its bridge, veths, iptables
 * chains, ipsets, conntrack and sysctls) released. Each step runs even when
 * an earlier one failed; what failed is returned.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { RigProcess } from "../rig/processes";
import { run } from "./exec";
import { kubepodsCgroups } from "./host-safety";
import { NodeNamespaces, processesInNamespace } from "./netns";
import { NodeTools } from "./tools";

const KILL_WAIT_MS = 10_000;

/** What exists of the node so far (filled in as it starts, so a failed start is torn down too). */
export interface NodeParts {
    /** Node processes in start order (containerd among them). */
    processes: RigProcess[];
    containerd?: RigProcess;
    namespaces?: NodeNamespaces;
    netnsName?: string;
    /** The private bind mount that holds the mount namespace's file. */
    nsDir?: string;
    mntnsFile?: string;
    /** Whether this run created the kubepods cgroups (it refused to start when they existed). */
    ownsKubepods: boolean;
    /** Set when teardown begins: a start still under way (a signal came mid-start) must not go on. */
    stopping: boolean;
}

function killAll(pids: readonly number[]): void {
    for (const pid of pids) {
        try {
            process.kill(pid, "SIGKILL");
        } catch {
            // Gone meanwhile.
        }
    }
}

async function waitUntil(what: string, done: () => boolean): Promise<void> {
    const deadline = Date.now() + KILL_WAIT_MS;
    while (!done()) {
        if (Date.now() > deadline) throw new Error(`${what} after ${KILL_WAIT_MS} ms`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

/** Every cgroup dir under `root`, deepest first. */
function cgroupTree(root: string): string[] {
    const out: string[] = [];
    const walk = (dir: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            if (entry.isDirectory()) walk(path.join(dir, entry.name));
        }
        out.push(dir);
    };
    if (fs.existsSync(root)) walk(root);
    return out;
}

function pidsInCgroups(roots: readonly string[]): number[] {
    const pids = new Set<number>();
    for (const root of roots) {
        for (const dir of cgroupTree(root)) {
            try {
                for (const line of fs.readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n")) {
                    if (line !== "") pids.add(Number(line));
                }
            } catch {
                // Removed meanwhile.
            }
        }
    }
    return [...pids];
}

export async function teardownNode(tools: NodeTools, parts: NodeParts, log: (line: string) => void): Promise<string[]> {
    const errors: string[] = [];
    const step = async (what: string, fn: () => Promise<void>) => {
        try {
            await fn();
        } catch (err) {
            errors.push(`${what}: ${(err as Error).message}`);
        }
    };
    parts.stopping = true;
    const start = Date.now();
    // 1. The node's processes but containerd, last started first: nothing restarts a pod after this.
    for (const proc of [...parts.processes].reverse()) {
        if (proc !== parts.containerd) await step(`stop ${proc.name}`, () => proc.stop());
    }
    // 2. The pods' processes, through the cgroups the kubelet made for them.
    const killPods = async () => {
        killAll(pidsInCgroups(kubepodsCgroups()));
        await waitUntil("pods' processes still alive", () => {
            const left = pidsInCgroups(kubepodsCgroups());
            killAll(left);
            return left.length === 0;
        });
    };
    if (parts.ownsKubepods) await step("kill the pods' processes", killPods);
    // 3. containerd, then whatever is left in the node's namespaces (its shims, a relay).
    if (parts.containerd !== undefined) await step("stop containerd", () => parts.containerd!.stop());
    const ns = parts.namespaces;
    if (ns !== undefined) {
        await step("kill what is left in the node's namespaces", async () => {
            const left = () => [
                ...processesInNamespace("net", ns.netInode),
                ...processesInNamespace("mnt", ns.mntInode),
            ];
            killAll(left());
            await waitUntil("processes still in the node's namespaces", () => {
                const pids = left();
                killAll(pids);
                return pids.length === 0;
            });
        });
    }
    // 4. The kubepods cgroups, deepest first (each is empty now).
    if (parts.ownsKubepods) {
        await step("remove the kubepods cgroups", async () => {
            // Again: a kubelet whose start failed (so not stopped in step 1) may have started one meanwhile.
            await killPods();
            for (const root of kubepodsCgroups()) {
                for (const dir of cgroupTree(root)) {
                    // A cgroup whose last process just died may be busy for a moment.
                    for (let attempt = 1; ; attempt++) {
                        try {
                            fs.rmdirSync(dir);
                            break;
                        } catch (err) {
                            if (attempt >= 20) throw err;
                            await new Promise((r) => setTimeout(r, 100));
                        }
                    }
                }
            }
        });
    }
    // 5. The mount namespace: with no process left in it, its mounts go with it.
    if (parts.mntnsFile !== undefined) {
        const file = parts.mntnsFile;
        await step(`unmount ${file}`, () => run("umount", [file]).then(() => undefined));
    }
    if (parts.nsDir !== undefined) {
        const dir = parts.nsDir;
        await step(`unmount ${dir}`, () => run("umount", [dir]).then(() => undefined));
    }
    // 6. The network namespace: its links, iptables chains, ipsets and sysctls go with it.
    if (parts.netnsName !== undefined) {
        const name = parts.netnsName;
        await step(`delete netns ${name}`, () => run(tools.ip, ["netns", "delete", name]).then(() => undefined));
    }
    log(`  node torn down in ${Date.now() - start} ms${errors.length > 0 ? `, with ${errors.length} errors` : ""}`);
    return errors;
}

/**
 * The exit-time fallback (no awaiting possible at process exit): when a signal
 * came while the node was still starting, a part may exist that the
 * asynchronous teardown never saw. Kills what is in the node's namespaces and
 * cgroups and releases the namespaces, best effort; only what is still there.
 */
export function teardownNodeSync(tools: NodeTools, parts: NodeParts): void {
    const ns = parts.namespaces;
    const deadline = Date.now() + 3_000;
    for (;;) {
        const pids = [
            ...(ns === undefined
                ? []
                : [...processesInNamespace("net", ns.netInode), ...processesInNamespace("mnt", ns.mntInode)]),
            ...(parts.ownsKubepods ? pidsInCgroups(kubepodsCgroups()) : []),
        ];
        if (pids.length === 0 || Date.now() > deadline) break;
        killAll(pids);
        execFileSync("sleep", ["0.1"]);
    }
    const quiet = (bin: string, args: readonly string[]) => {
        try {
            execFileSync(bin, args, { stdio: "ignore" });
        } catch {
            // Best effort: the checks of a later run show what is left.
        }
    };
    if (parts.ownsKubepods) {
        for (const root of kubepodsCgroups()) for (const dir of cgroupTree(root)) quiet("rmdir", [dir]);
    }
    const mounted = fs.readFileSync("/proc/self/mountinfo", "utf8");
    for (const file of [parts.mntnsFile, parts.nsDir]) {
        if (file !== undefined && mounted.includes(` ${file} `)) quiet("umount", [file]);
    }
    if (parts.netnsName !== undefined && fs.existsSync(`/run/netns/${parts.netnsName}`)) {
        quiet(tools.ip, ["netns", "delete", parts.netnsName]);
    }
}
