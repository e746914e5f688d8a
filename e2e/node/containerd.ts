/**
 * containerd (Debian's 1.6) as the node's runtime, in the node's namespaces,
 * every path under the rig's dir. Its CRI plugin is set for this machine:
 * cgroupfs (the host has hybrid cgroup v1), restrict_oom_score_adj (its
 * processes lack CAP_SYS_RESOURCE, so no sandbox would start otherwise), pod
 * network namespaces mounted under its own state dir, the pause image built
 * here, and the CNI config below: the pods' bridge with no default route and
 * no masquerading.
 */
import * as fs from "fs";
import * as path from "path";
import { Rig, RigProcess } from "../rig/processes";
import { NodeNamespaces, NodeNetwork } from "./netns";
import { NodeTools } from "./tools";

const CONTAINERD_READY_MS = 60_000;
/** The CRI's containerd namespace (where the kubelet's containers and images live, as kind loads them). */
export const K8S_NAMESPACE = "k8s.io";

export interface Containerd {
    readonly socket: string;
    /** runc's state dir (for containers the teardown must find). */
    readonly runcRoot: string;
    readonly process: RigProcess;
    /** `ctr -n k8s.io args` in the node's namespaces; its stdout. */
    ctr(args: readonly string[], timeoutMs?: number): Promise<string>;
}

export interface ContainerdOptions {
    readonly dir: string;
    readonly network: NodeNetwork;
    /** The Services' range: the one route pods get besides their own subnet. */
    readonly serviceCidr: string;
    /** The sandbox image's name (imported before the first pod). */
    readonly pauseImage: string;
}

function cniConfig(dir: string, network: NodeNetwork, serviceCidr: string): string {
    return JSON.stringify(
        {
            cniVersion: "1.0.0",
            name: "secret-platform-node",
            plugins: [
                {
                    type: "bridge",
                    bridge: network.bridge,
                    // The bridge is the pods' gateway for the Services' range only: no default route.
                    isGateway: true,
                    isDefaultGateway: false,
                    ipMasq: false,
                    hairpinMode: true,
                    ipam: {
                        type: "host-local",
                        ranges: [[{ subnet: network.podCidr, gateway: network.nodeIp }]],
                        routes: [{ dst: serviceCidr, gw: network.nodeIp }],
                        dataDir: path.join(dir, "cni-ipam"),
                    },
                },
                { type: "portmap", capabilities: { portMappings: true }, snat: false },
            ],
        },
        null,
        2,
    );
}

function containerdConfig(tools: NodeTools, dir: string, opts: ContainerdOptions, runcRoot: string): string {
    const q = (s: string) => JSON.stringify(s);
    const cri = 'plugins."io.containerd.grpc.v1.cri"';
    return [
        "version = 2",
        `root = ${q(path.join(dir, "root"))}`,
        `state = ${q(path.join(dir, "state"))}`,
        // Snapshotters and plugins this node does not use (and that would probe the host).
        'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]',
        "[grpc]",
        `  address = ${q(path.join(dir, "containerd.sock"))}`,
        "[ttrpc]",
        `  address = ${q(path.join(dir, "containerd.sock.ttrpc"))}`,
        `[plugins."io.containerd.internal.v1.opt"]`,
        `  path = ${q(path.join(dir, "opt"))}`,
        `[${cri}]`,
        `  sandbox_image = ${q(opts.pauseImage)}`,
        "  restrict_oom_score_adj = true",
        "  netns_mounts_under_state_dir = true",
        '  stream_server_address = "127.0.0.1"',
        `[${cri}.containerd]`,
        '  snapshotter = "overlayfs"',
        '  default_runtime_name = "runc"',
        `[${cri}.containerd.runtimes.runc]`,
        '  runtime_type = "io.containerd.runc.v2"',
        `[${cri}.containerd.runtimes.runc.options]`,
        `  BinaryName = ${q(tools.runc)}`,
        `  Root = ${q(runcRoot)}`,
        "  SystemdCgroup = false",
        `[${cri}.cni]`,
        `  bin_dir = ${q(tools.cniDir)}`,
        `  conf_dir = ${q(path.join(dir, "net.d"))}`,
        "  max_conf_num = 1",
        "",
    ].join("\n");
}

export async function startContainerd(
    rig: Rig,
    tools: NodeTools,
    ns: NodeNamespaces,
    opts: ContainerdOptions,
): Promise<Containerd> {
    const dir = opts.dir;
    fs.mkdirSync(path.join(dir, "net.d"), { recursive: true, mode: 0o700 });
    fs.writeFileSync(
        path.join(dir, "net.d", "10-secret-platform-node.conflist"),
        cniConfig(dir, opts.network, opts.serviceCidr),
    );
    const runcRoot = path.join(dir, "runc");
    const config = path.join(dir, "config.toml");
    fs.writeFileSync(config, containerdConfig(tools, dir, opts, runcRoot));
    const socket = path.join(dir, "containerd.sock");
    const e = ns.enter(tools.containerd, ["--config", config, "--log-level", "warn"]);
    const proc = rig.start("containerd", e.bin, e.args, {
        env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: dir },
    });
    const ctr = (args: readonly string[], timeoutMs?: number) =>
        ns.run(tools.ctr, ["--address", socket, "--namespace", K8S_NAMESPACE, ...args], timeoutMs);
    await rig.waitReady(
        proc,
        `an answer on ${socket}`,
        async () => {
            await ctr(["version"], 5_000);
            return true;
        },
        CONTAINERD_READY_MS,
    );
    return { socket, runcRoot, process: proc, ctr };
}
