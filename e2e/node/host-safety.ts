/**
 * The machine's safety around the node: what the host looks like before the
 * node starts (so teardown can prove it left it as it found it), the refusals
 * before anything starts (a leftover /kubepods, a host route into the node's
 * ranges), and the check before pods start that the node's network namespace
 * has no way off this machine.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import { run } from "./exec";
import { SHADOWED_SYSCTLS } from "./netns";
import { NodeTools } from "./tools";

/** Host sysctls the node could change if it were not in its own namespaces. */
export const WATCHED_SYSCTLS = [
    "net/ipv4/ip_forward",
    "net/bridge/bridge-nf-call-iptables",
    ...SHADOWED_SYSCTLS,
] as const;

/** Process names (comm, 15 characters at most) of the node's parts. */
export const NODE_PROCESS_NAMES = [
    "kubelet",
    "containerd",
    "containerd-shim",
    "kube-proxy",
    "kube-router",
    "kube-scheduler",
    "coredns",
    "pause",
] as const;

export interface HostSnapshot {
    readonly sysctls: Readonly<Record<string, string>>;
    readonly links: readonly string[];
    readonly netns: readonly string[];
    readonly mounts: readonly string[];
    readonly kubepods: readonly string[];
    /** Pids of processes named as the node's parts (a host may run its own containerd). */
    readonly processes: readonly string[];
    /** A digest of the host's iptables rules (counters left out) and the rule count. */
    readonly iptables: { readonly digest: string; readonly rules: number };
    readonly ipsets: readonly string[];
    readonly routes: readonly string[];
}

export interface Check {
    readonly what: string;
    readonly ok: boolean;
    readonly detail: string;
}

/** cgroup dirs named kubepods directly under each hierarchy (the kubelet's default cgroup root). */
export function kubepodsCgroups(): string[] {
    const root = "/sys/fs/cgroup";
    return fs
        .readdirSync(root)
        .map((h) => `${root}/${h}/kubepods`)
        .filter((d) => fs.existsSync(d));
}

function nodeProcesses(): string[] {
    const out: string[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const comm = fs.readFileSync(`/proc/${entry}/comm`, "utf8").trim();
            // A zombie has exited already (a shim killed a moment ago, not yet reaped by init).
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
            if ((NODE_PROCESS_NAMES as readonly string[]).includes(comm)) out.push(`${comm}[${entry}]`);
        } catch {
            // Gone meanwhile.
        }
    }
    return out.sort();
}

function mountPoints(): string[] {
    return fs
        .readFileSync("/proc/self/mountinfo", "utf8")
        .trim()
        .split("\n")
        .map((line) => line.split(" ")[4])
        .sort();
}

export async function snapshotHost(tools: NodeTools): Promise<HostSnapshot> {
    const sysctls: Record<string, string> = {};
    for (const key of WATCHED_SYSCTLS) {
        try {
            sysctls[key] = fs.readFileSync(`/proc/sys/${key}`, "utf8").trim();
        } catch {
            sysctls[key] = "(absent)";
        }
    }
    const links = (await run(tools.ip, ["-o", "link", "show"]))
        .trim()
        .split("\n")
        .map((l) => l.split(":")[1].trim().split("@")[0])
        .sort();
    const netns = (await run(tools.ip, ["netns", "list"]))
        .trim()
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => l.split(" ")[0])
        .sort();
    const rules = (await run(tools.iptablesSave, []))
        .split("\n")
        .filter((l) => l !== "" && !l.startsWith("#"))
        .map((l) => l.replace(/\[\d+:\d+\]/g, ""));
    const ipsets = (await run(tools.ipset, ["list", "-n"]))
        .trim()
        .split("\n")
        .filter((l) => l !== "")
        .sort();
    const routes = (await run(tools.ip, ["route", "show", "table", "all"])).trim().split("\n").sort();
    return {
        sysctls,
        links,
        netns,
        mounts: mountPoints(),
        kubepods: kubepodsCgroups(),
        processes: nodeProcesses(),
        iptables: {
            digest: crypto.createHash("sha256").update(rules.join("\n")).digest("hex").slice(0, 16),
            rules: rules.filter((l) => l.startsWith("-A")).length,
        },
        ipsets,
        routes,
    };
}

const same = (a: readonly string[], b: readonly string[]) => a.join("\n") === b.join("\n");
const diff = (before: readonly string[], after: readonly string[]) => {
    const added = after.filter((x) => !before.includes(x));
    const removed = before.filter((x) => !after.includes(x));
    return [...added.map((x) => `+${x}`), ...removed.map((x) => `-${x}`)].join(", ");
};

/** Compares the host now with `before`, one check per kind of thing the node could have left. */
export async function compareHost(tools: NodeTools, before: HostSnapshot): Promise<Check[]> {
    const now = await snapshotHost(tools);
    const checks: Check[] = [];
    const list = (what: string, a: readonly string[], b: readonly string[], shown: string) =>
        checks.push({ what, ok: same(a, b), detail: same(a, b) ? shown : diff(a, b) });
    list(
        `processes named ${NODE_PROCESS_NAMES.join("/")}`,
        before.processes,
        now.processes,
        now.processes.length === 0 ? "none" : `only the host's own: ${now.processes.join(" ")}`,
    );
    list("network namespaces (ip netns)", before.netns, now.netns, `${now.netns.length} as before`);
    list("links (ip link)", before.links, now.links, now.links.join(" "));
    list("mounts (/proc/self/mountinfo)", before.mounts, now.mounts, `${now.mounts.length} mount points as before`);
    list("cgroups /sys/fs/cgroup/*/kubepods", before.kubepods, now.kubepods, "none");
    list("routes (all tables)", before.routes, now.routes, `${now.routes.length} as before`);
    list("ipsets", before.ipsets, now.ipsets, `${now.ipsets.length} as before`);
    checks.push({
        what: "host iptables rules",
        ok: before.iptables.digest === now.iptables.digest,
        detail: `${now.iptables.rules} rules, digest ${now.iptables.digest} (before ${before.iptables.digest})`,
    });
    for (const key of WATCHED_SYSCTLS) {
        const a = before.sysctls[key];
        const b = now.sysctls[key];
        checks.push({ what: `sysctl ${key.replace(/\//g, ".")}`, ok: a === b, detail: a === b ? b : `${a} -> ${b}` });
    }
    return checks;
}

/** [first, last] of an IPv4 CIDR as numbers. */
function ipv4Range(cidr: string): [number, number] {
    const [addr, bitsText] = cidr.split("/");
    const bits = bitsText === undefined ? 32 : Number(bitsText);
    const n = addr.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
    const size = 2 ** (32 - bits);
    const first = Math.floor(n / size) * size;
    return [first, first + size - 1];
}

export function cidrsOverlap(a: string, b: string): boolean {
    const [a0, a1] = ipv4Range(a);
    const [b0, b1] = ipv4Range(b);
    return a0 <= b1 && b0 <= a1;
}

/**
 * Refusals before anything starts: kubepods cgroups that are not ours, and a
 * host route (other than the default route) into one of the node's ranges:
 * such a range is a real network on this host, and the node must not shadow it.
 */
export async function preflight(tools: NodeTools, ranges: readonly string[]): Promise<void> {
    const pods = kubepodsCgroups();
    if (pods.length > 0) {
        throw new Error(`node: refusing to start: ${pods.join(", ")} exist (another kubelet, or a leftover)`);
    }
    const routes: { dst: string; dev?: string }[] = JSON.parse(
        await run(tools.ip, ["-j", "-4", "route", "show", "table", "all"]),
    );
    for (const route of routes) {
        if (route.dst === "default" || !/^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(route.dst)) continue;
        for (const range of ranges) {
            if (cidrsOverlap(route.dst, range)) {
                throw new Error(
                    `node: refusing to start: the host routes ${route.dst} (dev ${route.dev ?? "?"}), inside the node's range ${range}`,
                );
            }
        }
    }
}

interface IpLink {
    ifname: string;
    link_type?: string;
    master?: string;
    linkinfo?: { info_kind?: string };
}
interface IpRoute {
    dst: string;
    dev?: string;
    gateway?: string;
    table?: string;
    type?: string;
}

/**
 * Inside the node's network namespace: every link is the loopback, the bridge
 * or a pod's veth on the bridge; every route goes through the loopback or the
 * bridge; there is no default route. So no packet of a pod or of the node can
 * reach an outside interface. Throws with what it found otherwise; returns a
 * one-line summary.
 */
export async function checkNodeIsolation(
    runInNode: (bin: string, args: readonly string[]) => Promise<string>,
    tools: NodeTools,
    bridge: string,
): Promise<string> {
    const links: IpLink[] = JSON.parse(await runInNode(tools.ip, ["-j", "-d", "link", "show"]));
    const bad = links.filter(
        (l) => !(l.ifname === "lo" || l.ifname === bridge || (l.linkinfo?.info_kind === "veth" && l.master === bridge)),
    );
    if (bad.length > 0) {
        throw new Error(
            `node: refusing: links in the node's netns not on its bridge: ${bad.map((l) => l.ifname).join(", ")}`,
        );
    }
    const problems: string[] = [];
    let count = 0;
    for (const family of ["-4", "-6"]) {
        const routes: IpRoute[] = JSON.parse(
            await runInNode(tools.ip, ["-j", family, "route", "show", "table", "all"]),
        );
        for (const r of routes) {
            count += 1;
            if (r.dev !== "lo" && r.dev !== bridge && !(r.dev ?? "").startsWith("veth")) {
                problems.push(`${r.dst} dev ${r.dev ?? "?"}`);
            }
            if (r.dst === "default") problems.push(`default route via ${r.gateway ?? r.dev ?? "?"}`);
        }
    }
    if (problems.length > 0) throw new Error(`node: refusing: routes off the bridge: ${problems.join("; ")}`);
    const veths = links.filter((l) => l.linkinfo?.info_kind === "veth").length;
    return `${links.length} links (lo, ${bridge}, ${veths} pod veths on it), ${count} routes all on lo/${bridge}, no default route`;
}
