/**
 * The node's own namespaces. A network namespace holds the whole node (its
 * bridge, the pods' veths, kube-proxy's and kube-router's iptables chains and
 * ipsets, conntrack, its sysctls such as ip_forward): it has no link to the
 * host at all, so nothing in it can send a packet off this machine, and
 * deleting it removes all of that at once. A persistent mount namespace (a
 * private copy of the host's mounts) holds every mount the node makes
 * (containerd's snapshots, pod network namespaces, volumes), and in it plain
 * files are bind-mounted over the global sysctls the kubelet sets, and rig
 * dirs over /run, /var/lib and /var/log, so the host's values and files never
 * change.
 */
import * as fs from "fs";
import * as path from "path";
import { run } from "./exec";
import { NodeTools } from "./tools";

/** Global (not per network namespace) sysctls the kubelet writes (setupKernelTunables) or kube-proxy may. */
export const SHADOWED_SYSCTLS = [
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "vm/overcommit_memory",
    "vm/panic_on_oom",
] as const;

/** Host paths the node's processes see as rig dirs (the kubelet makes /var/log/containers, CNI /var/lib/cni, ...). */
const SHADOWED_DIRS = ["/run", "/var/lib", "/var/log"] as const;

export interface NodeNetwork {
    /** The bridge the pods' veths hang on, with the node's address. */
    readonly bridge: string;
    /** The node's address on the bridge (the pods' gateway, --node-ip). */
    readonly nodeIp: string;
    /** The pods' range (the bridge's subnet). */
    readonly podCidr: string;
}

export interface NodeNamespaces {
    /** The network namespace's name (`ip netns`). */
    readonly name: string;
    readonly netnsFile: string;
    readonly mntnsFile: string;
    /** The namespaces' inode numbers (what /proc/<pid>/ns/{net,mnt} link to). */
    readonly netInode: number;
    readonly mntInode: number;
    /** Each shadowed /proc/sys entry's file and the dir each shadowed host dir is in the node. */
    readonly shadows: readonly { readonly target: string; readonly source: string }[];
    /** nsenter's argv prefix that runs a command in both namespaces. */
    enter(bin: string, args: readonly string[]): { bin: string; args: string[] };
    /** Runs a command in both namespaces; its stdout. */
    run(bin: string, args: readonly string[], timeoutMs?: number): Promise<string>;
}

/** A name of the netns unique to this run (a leftover of another run is never taken for ours). */
export function netnsName(): string {
    return `spnode-${process.pid}`;
}

/**
 * Creates the network namespace (lo up, the bridge with the node's address,
 * bridged traffic through iptables so NetworkPolicy and Services apply to it)
 * and the mount namespace. Each part is written into `parts` as soon as it
 * exists, so a failure half-way is still torn down (teardown.ts).
 */
export async function createNamespaces(
    tools: NodeTools,
    dir: string,
    network: NodeNetwork,
    parts: { netnsName?: string; nsDir?: string; mntnsFile?: string },
): Promise<NodeNamespaces> {
    const name = netnsName();
    const netnsFile = `/run/netns/${name}`;
    if (fs.existsSync(netnsFile)) throw new Error(`node: netns ${name} exists already`);
    await run(tools.ip, ["netns", "add", name]);
    parts.netnsName = name;
    const inNet = (args: readonly string[]) => run(tools.ip, ["netns", "exec", name, ...args]);
    await inNet([tools.ip, "link", "set", "lo", "up"]);
    await inNet([tools.ip, "link", "add", network.bridge, "type", "bridge"]);
    const prefix = network.podCidr.split("/")[1];
    await inNet([tools.ip, "addr", "add", `${network.nodeIp}/${prefix}`, "dev", network.bridge]);
    await inNet([tools.ip, "link", "set", network.bridge, "up"]);
    // Per network namespace since Linux 5.3: the host's values are untouched.
    for (const [key, value] of [
        ["net/bridge/bridge-nf-call-iptables", "1"],
        ["net/ipv4/ip_forward", "1"],
    ]) {
        await inNet(["/bin/sh", "-c", `echo ${value} > /proc/sys/${key}`]);
    }

    // The mount namespace is kept by a bind mount of its nsfs file, which must sit on a private mount.
    const nsDir = path.join(dir, "ns");
    fs.mkdirSync(nsDir, { recursive: true, mode: 0o700 });
    await run("mount", ["--bind", nsDir, nsDir]);
    parts.nsDir = nsDir;
    await run("mount", ["--make-private", nsDir]);
    const mntnsFile = path.join(nsDir, "mnt");
    fs.writeFileSync(mntnsFile, "");
    await run(tools.unshare, [`--mount=${mntnsFile}`, "--propagation", "private", "true"]);
    parts.mntnsFile = mntnsFile;
    const inMnt = (args: readonly string[]) => run(tools.nsenter, [`--mount=${mntnsFile}`, "--", ...args]);

    const shadows: { target: string; source: string }[] = [];
    const sysctlDir = path.join(dir, "sysctl");
    fs.mkdirSync(sysctlDir, { recursive: true, mode: 0o700 });
    for (const key of SHADOWED_SYSCTLS) {
        const target = `/proc/sys/${key}`;
        const source = path.join(sysctlDir, key.replace(/\//g, "."));
        // A plain file with the host's value: the kubelet reads it, writes it, and the host never sees the write.
        fs.writeFileSync(source, fs.readFileSync(target, "utf8"));
        await inMnt(["mount", "--bind", source, target]);
        shadows.push({ target, source });
    }
    for (const target of SHADOWED_DIRS) {
        const source = path.join(dir, "host", target.slice(1).replace(/\//g, "-"));
        fs.mkdirSync(source, { recursive: true, mode: 0o755 });
        await inMnt(["mount", "--bind", source, target]);
        shadows.push({ target, source });
    }

    const enter = (bin: string, args: readonly string[]) => ({
        bin: tools.nsenter,
        args: [`--net=${netnsFile}`, `--mount=${mntnsFile}`, "--", bin, ...args],
    });
    return {
        name,
        netnsFile,
        mntnsFile,
        netInode: fs.statSync(netnsFile).ino,
        mntInode: fs.statSync(mntnsFile).ino,
        shadows,
        enter,
        run: (bin, args, timeoutMs) => {
            const e = enter(bin, args);
            return run(e.bin, e.args, { timeoutMs });
        },
    };
}

/** Pids of live processes in the given namespace (`kind` net or mnt, by inode). */
export function processesInNamespace(kind: "net" | "mnt", inode: number): number[] {
    const pids: number[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            if (fs.readlinkSync(`/proc/${entry}/ns/${kind}`) === `${kind}:[${inode}]`) pids.push(Number(entry));
        } catch {
            // Gone meanwhile, or a kernel thread.
        }
    }
    return pids;
}
