/**
 * A real single-node Kubernetes for the e2e, on this machine only: containerd,
 * the kubelet, kube-proxy and kube-router in a network namespace of their own
 * (no link to the host: the API server is relayed into it through a unix
 * socket) and a private mount namespace, kube-scheduler beside the rig's API
 * server, CoreDNS as a pod, every image built here. Start the control plane
 * with `nodeClusterOptions()`, then `startNode`; the node's teardown is
 * registered on the rig (success, failure, SIGINT, SIGTERM) and proves the
 * host is as it was.
 */
import { Cluster, ClusterOptions, SERVICE_CIDR } from "../rig/kube";
import { RigCa } from "../rig/pki";
import { Rig } from "../rig/processes";
import * as fs from "fs";
import * as path from "path";
import { startApiRelay } from "./api-relay";
import { KeyPair } from "../rig/pki";
import { freePort } from "../rig/processes";
import { Endpoint, relayIntoNode, relayOutOfNode, RelayOutOfNode } from "./relays";
import { Containerd, startContainerd } from "./containerd";
import { deployCoreDns } from "./coredns";
import { RunResult } from "./exec";
import { Check, checkNodeIsolation, compareHost, kubepodsCgroups, preflight, snapshotHost } from "./host-safety";
import { BuiltImage, busyboxImage, corednsImage, pauseImage } from "./images";
import { startKubeProxy } from "./kube-proxy";
import { startKubelet } from "./kubelet";
import { startKubeRouter } from "./kube-router";
import { createNamespaces, NodeNetwork } from "./netns";
import { execInContainer, PodRef, RunningPod, waitPodRunning } from "./pods";
import { startScheduler } from "./scheduler";
import { NodeParts, teardownNode, teardownNodeSync } from "./teardown";
import { missingNodeTools, NODE_VERSIONS, nodeTools } from "./tools";

/** The node's network: pods on its bridge, the node's address the bridge's first. */
export const NODE_NETWORK: NodeNetwork = { bridge: "spnode0", nodeIp: "10.244.0.1", podCidr: "10.244.0.0/24" };
/** The `kubernetes` Service's IP (the first of SERVICE_CIDR) and kube-dns's. */
export const KUBERNETES_SERVICE_IP = "10.96.0.1";
export const CLUSTER_DNS_IP = "10.96.0.10";
export const CLUSTER_DOMAIN = "cluster.local";

/**
 * Controllers pods need beside the rig's destroy set: nodelifecycle (the API server's NodeTaint admission
 * registers a node with the not-ready taint, and only this controller lifts it), Services' endpoints,
 * workloads, volumes.
 */
export const NODE_CONTROLLERS = [
    "nodelifecycle",
    "endpointslice",
    "endpoint",
    "deployment",
    "replicaset",
    "statefulset",
    "daemonset",
    "job",
    "cronjob",
    "persistentvolume-binder",
    "pv-protection",
    "pvc-protection",
    "ttl-after-finished",
    "podgc",
    "clusterrole-aggregation",
    // PodDisruptionBudgets' status: evictions are judged on it (the raft drills' budget with a sealed pod).
    "disruption",
];

/** What startCluster needs for a node: the API server's certificate names the addresses pods reach it at. */
export function nodeClusterOptions(): ClusterOptions {
    return { extraServingIps: [KUBERNETES_SERVICE_IP, NODE_NETWORK.nodeIp], extraControllers: NODE_CONTROLLERS };
}

export interface NodeOptions {
    readonly name?: string;
    readonly log?: (line: string) => void;
}

export interface NodeFigures {
    /** From the kubelet's start to the node's Ready condition. */
    readonly kubeletToReadyMs: number;
    /** From startNode's call to the node Ready with DNS serving. */
    readonly startMs: number;
    /** Building the pause, busybox and CoreDNS images with umoci and importing them. */
    readonly imagesMs: number;
    /** CoreDNS's pod from creation to Ready. */
    readonly corednsMs: number;
}

export interface Node {
    readonly name: string;
    readonly network: NodeNetwork;
    readonly serviceCidr: string;
    readonly clusterDnsIp: string;
    /** The API server as the node and its pods reach it (through the relay). */
    readonly apiServer: string;
    /** Images imported at start: pause (the sandbox), busybox (user 100:1000), CoreDNS. */
    readonly images: { readonly pause: string; readonly busybox: string; readonly coredns: string };
    readonly figures: NodeFigures;
    /** Imports an image built with images.ts's buildImage into containerd's k8s.io namespace. */
    loadImage(image: BuiltImage): Promise<void>;
    /** Waits until the pod runs with every container ready. */
    waitPodRunning(ref: PodRef, deadlineMs?: number): Promise<RunningPod>;
    /** containerd's record of a container, running or exited (Spec: the OCI spec its process ran with). */
    containerInfo(containerId: string): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    /** Runs argv in a pod's container (as the container's own user, capabilities and seccomp). */
    exec(ref: PodRef, container: string, argv: readonly string[], timeoutMs?: number): Promise<RunResult>;
    /** A service of the host for pods, at the node's address (a new port unless given); TLS ended there with `tls`. */
    relayIn(name: string, upstream: Endpoint, opts?: { port?: number; tls?: KeyPair }): Promise<Endpoint>;
    /** A Service inside the node on the host's loopback (TLS ended on the host with `tls`, on `port` when given); connect() names its target. */
    relayOut(name: string, opts?: { tls?: KeyPair; port?: number }): Promise<RelayOutOfNode>;
    /** The check that no route or link leads off the node's bridge (also run before CoreDNS starts). */
    checkIsolation(): Promise<string>;
    /** Peak memory so far: the node's daemons (each one's VmHWM, summed) and its pods (the kubepods cgroup's peak). */
    peakMemory(): { daemonsMiB: number; podsMiB: number };
    /** Tears the node down (idempotent; the rig's cleanup calls it too) and compares the host with its state before. */
    stop(): Promise<{ errors: string[]; checks: Check[] }>;
}

/** A process's peak resident set (VmHWM), 0 once it is gone. */
function peakRssKb(pid: number): number {
    try {
        return Number(/^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
        return 0;
    }
}

/** The kubepods cgroup's peak memory (cgroup v1: memory.max_usage_in_bytes; v2: memory.peak). */
function kubepodsPeakBytes(): number {
    for (const file of [
        "/sys/fs/cgroup/memory/kubepods/memory.max_usage_in_bytes",
        "/sys/fs/cgroup/kubepods/memory.peak",
    ]) {
        try {
            return Number(fs.readFileSync(file, "utf8").trim());
        } catch {
            // Not this hierarchy.
        }
    }
    return 0;
}

/** Starts the node against `cluster` (started with nodeClusterOptions()); resolves when it is Ready with DNS serving. */
export async function startNode(rig: Rig, ca: RigCa, cluster: Cluster, opts: NodeOptions = {}): Promise<Node> {
    const log = opts.log ?? console.log;
    const started = Date.now();
    const tools = nodeTools();
    const missing = missingNodeTools(tools);
    if (missing.length > 0) {
        throw new Error(`node: missing tools (bash scripts/build-node-tools.sh): ${missing.join(", ")}`);
    }
    const name = opts.name ?? "e2e-node";
    const network = NODE_NETWORK;
    const dir = rig.subdir("node");

    await preflight(tools, [network.podCidr, SERVICE_CIDR]);
    const before = await snapshotHost(tools);
    const parts: NodeParts = { processes: [], ownsKubepods: true, stopping: false };
    // Between steps: a teardown that began meanwhile (SIGINT, SIGTERM) stops the start here.
    const alive = () => {
        if (parts.stopping) throw new Error("node: torn down while starting");
    };
    let stopping: Promise<{ errors: string[]; checks: Check[] }> | undefined;
    const stop = () => {
        stopping ??= (async () => {
            forgetSignals();
            const errors = await teardownNode(tools, parts, log);
            return { errors, checks: await compareHost(tools, before) };
        })();
        return stopping;
    };
    rig.onCleanup(async () => {
        const { errors } = await stop();
        if (errors.length > 0) throw new Error(`node teardown: ${errors.join("; ")}`);
    });
    // A signal mid-start: stop starting at the next step; and whatever the asynchronous teardown could not
    // see (a part made after it ran) goes at exit.
    const onSignal = () => {
        parts.stopping = true;
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("exit", () => teardownNodeSync(tools, parts));
    // Once the teardown runs, signals are the rig's alone again (its handler decides how the process ends).
    const forgetSignals = () => {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
    };

    alive();
    const ns = await createNamespaces(tools, path.join(dir, "namespaces"), network, parts);
    parts.namespaces = ns;
    // The node's own processes (the rig's relay out of the node) reach Service IPs as pods do: a route on the
    // bridge gives their packets a way, then kube-proxy's OUTPUT rules rewrite them to a pod.
    await ns.run(tools.ip, ["route", "add", SERVICE_CIDR, "dev", network.bridge, "src", network.nodeIp]);
    log(
        `  node: netns ${ns.name} (bridge ${network.bridge} ${network.nodeIp}, pods ${network.podCidr}), private mount namespace`,
    );
    log(`  node: isolation before start: ${await checkNodeIsolation(ns.run, tools, network.bridge)}`);

    const imagesStart = Date.now();
    const imageDir = rig.subdir("node/images");
    const [pause, busybox, coredns] = [
        await pauseImage(tools, imageDir),
        await busyboxImage(tools, imageDir),
        await corednsImage(tools, imageDir, NODE_VERSIONS.coredns),
    ];
    const built = Date.now() - imagesStart;

    alive();
    const containerd: Containerd = await startContainerd(rig, tools, ns, {
        dir: rig.subdir("node/containerd"),
        network,
        serviceCidr: SERVICE_CIDR,
        pauseImage: pause.ref,
    });
    parts.containerd = containerd.process;
    parts.processes.push(containerd.process);
    const loadImage = async (image: BuiltImage) => {
        await containerd.ctr(
            ["images", "import", "--base-name", image.ref.replace(/:[^:/]+$/, ""), image.tar],
            120_000,
        );
        const listed = await containerd.ctr(["images", "list", "--quiet"]);
        if (!listed.split("\n").includes(image.ref))
            throw new Error(`node: ${image.ref} not in containerd after import`);
    };
    for (const image of [pause, busybox, coredns]) await loadImage(image);
    const imagesMs = Date.now() - imagesStart;
    log(
        `  node: images built with umoci in ${built} ms, imported in ${imagesMs - built} ms: ${pause.ref}, ${busybox.ref}, ${coredns.ref}`,
    );

    alive();
    const relay = await startApiRelay(rig, tools, ns, cluster, rig.subdir("node/relay"), network.nodeIp);
    parts.processes.push(...relay.processes);
    alive();
    const scheduler = await startScheduler(
        rig,
        ca,
        tools,
        { dir: rig.subdir("node/scheduler"), server: cluster.server },
        log,
    );
    parts.processes.push(scheduler);

    if (kubepodsCgroups().length > 0) throw new Error("node: kubepods cgroups appeared before the kubelet started");
    alive();
    const kubelet = await startKubelet(
        rig,
        ca,
        tools,
        ns,
        cluster,
        {
            dir: rig.subdir("node/kubelet"),
            nodeName: name,
            network,
            server: relay.server,
            containerdSocket: containerd.socket,
            clusterDns: CLUSTER_DNS_IP,
            clusterDomain: CLUSTER_DOMAIN,
        },
        log,
    );
    parts.processes.push(kubelet.process);
    alive();
    const proxy = await startKubeProxy(
        rig,
        ca,
        tools,
        ns,
        { dir: rig.subdir("node/kube-proxy"), nodeName: name, server: relay.server, network },
        log,
    );
    parts.processes.push(proxy);
    alive();
    const router = await startKubeRouter(
        rig,
        ca,
        tools,
        ns,
        cluster,
        { dir: rig.subdir("node/kube-router"), nodeName: name, server: relay.server, serviceCidr: SERVICE_CIDR },
        log,
    );
    parts.processes.push(router);

    // The last check before any pod: nothing the kubelet, kube-proxy or kube-router did leads off the bridge.
    const checkIsolation = () => checkNodeIsolation(ns.run, tools, network.bridge);
    log(`  node: isolation before the first pod: ${await checkIsolation()}`);
    alive();
    const dns = await deployCoreDns(cluster, { image: coredns.ref, clusterIp: CLUSTER_DNS_IP, domain: CLUSTER_DOMAIN });
    log(
        `  node: CoreDNS pod ${dns.namespace}/${dns.name} Ready at ${dns.podIp} in ${dns.ms} ms (Service ${CLUSTER_DNS_IP})`,
    );

    const ctrArgv = (args: readonly string[]) =>
        ns.enter(tools.ctr, ["--address", containerd.socket, "--namespace", "k8s.io", ...args]);
    return {
        name,
        network,
        serviceCidr: SERVICE_CIDR,
        clusterDnsIp: CLUSTER_DNS_IP,
        apiServer: relay.server,
        images: { pause: pause.ref, busybox: busybox.ref, coredns: coredns.ref },
        figures: { kubeletToReadyMs: kubelet.readyMs, startMs: Date.now() - started, imagesMs, corednsMs: dns.ms },
        loadImage,
        waitPodRunning: (ref, deadlineMs) => waitPodRunning(cluster, ref, deadlineMs),
        containerInfo: async (id) =>
            JSON.parse(await containerd.ctr(["containers", "info", id.replace(/^containerd:\/\//, "")])),
        exec: async (ref, container, argv, timeoutMs) => {
            const pod = await waitPodRunning(cluster, ref, 1_000);
            const id = pod.containerIds[container];
            if (id === undefined || id === "")
                throw new Error(`node: pod ${ref.namespace}/${ref.name} has no container ${container}`);
            return execInContainer(ctrArgv, id, argv, timeoutMs);
        },
        relayIn: async (relay, upstream, o = {}) => {
            const r = await relayIntoNode(rig, tools, ns, {
                name: relay,
                dir: rig.subdir("node/relay"),
                at: { host: network.nodeIp, port: o.port ?? (await freePort()) },
                upstream,
                tls: o.tls,
            });
            parts.processes.push(...r.processes);
            return r.at;
        },
        relayOut: async (relay, o = {}) => {
            const r = await relayOutOfNode(rig, tools, ns, {
                name: relay,
                dir: rig.subdir("node/relay"),
                tls: o.tls,
                port: o.port,
            });
            parts.processes.push(...r.processes);
            return {
                ...r,
                connect: (target) => {
                    const p = r.connect(target);
                    parts.processes.push(p);
                    return p;
                },
            };
        },
        checkIsolation,
        peakMemory: () => ({
            daemonsMiB: Math.round(parts.processes.map((p) => peakRssKb(p.pid)).reduce((a, b) => a + b, 0) / 1024),
            podsMiB: Math.round(kubepodsPeakBytes() / 2 ** 20),
        }),
        stop,
    };
}
