/**
 * The kubelet, in the node's namespaces, set for this machine: cgroupfs and
 * failCgroupV1 false (hybrid cgroup v1; containerd 1.6 does not answer
 * RuntimeConfig), no iptables utility chains of its own, oomScoreAdj 0 (no
 * CAP_SYS_RESOURCE), no host resolv.conf handed to pods, image GC off (the
 * images are built here and cannot be pulled again), every dir under the rig.
 * It authenticates with a certificate from the rig CA; RBAC alone authorizes
 * it (the API server runs without the Node authorizer), through the
 * system:node role.
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { Cluster, expectStatus } from "../rig/kube";
import { RigCa } from "../rig/pki";
import { Rig, RigProcess } from "../rig/processes";
import { bindClusterRole, clientKubeconfig } from "./identity";
import { NodeNamespaces, NodeNetwork } from "./netns";
import { NodeTools } from "./tools";

const NODE_READY_MS = 120_000;

export interface KubeletOptions {
    readonly dir: string;
    readonly nodeName: string;
    readonly network: NodeNetwork;
    /** The API server as the node reaches it. */
    readonly server: string;
    readonly containerdSocket: string;
    readonly clusterDns: string;
    readonly clusterDomain: string;
}

interface NodeCondition {
    type: string;
    status: string;
    reason?: string;
    message?: string;
}

export interface Kubelet {
    readonly process: RigProcess;
    /** Milliseconds from the kubelet's start to the node's Ready condition. */
    readonly readyMs: number;
    readonly rootDir: string;
}

export async function startKubelet(
    rig: Rig,
    ca: RigCa,
    tools: NodeTools,
    ns: NodeNamespaces,
    cluster: Cluster,
    opts: KubeletOptions,
    log: (line: string) => void,
): Promise<Kubelet> {
    const dir = opts.dir;
    const user = `system:node:${opts.nodeName}`;
    await bindClusterRole(cluster, "secret-platform-node:kubelet", "system:node", user);
    const kubeconfig = await clientKubeconfig(ca, dir, "kubelet", opts.server, {
        commonName: user,
        organizations: ["system:nodes"],
    });
    const rootDir = path.join(dir, "root");
    fs.mkdirSync(rootDir, { recursive: true, mode: 0o700 });
    const config = {
        apiVersion: "kubelet.config.k8s.io/v1beta1",
        kind: "KubeletConfiguration",
        containerRuntimeEndpoint: `unix://${opts.containerdSocket}`,
        cgroupDriver: "cgroupfs",
        failCgroupV1: false,
        makeIPTablesUtilChains: false,
        oomScoreAdj: 0,
        protectKernelDefaults: false,
        address: opts.network.nodeIp,
        readOnlyPort: 0,
        healthzBindAddress: "127.0.0.1",
        healthzPort: 10248,
        authentication: {
            anonymous: { enabled: false },
            webhook: { enabled: true },
            x509: { clientCAFile: ca.cert },
        },
        authorization: { mode: "Webhook" },
        clusterDomain: opts.clusterDomain,
        clusterDNS: [opts.clusterDns],
        // Pods never get the host's resolvers: DNS is the cluster's only.
        resolvConf: "",
        volumePluginDir: path.join(dir, "volume-plugins"),
        failSwapOn: false,
        // The node's images are built here and cannot be pulled again: never collect them.
        imageGCHighThresholdPercent: 100,
        imageGCLowThresholdPercent: 99,
        evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%" },
        serializeImagePulls: false,
        registerNode: true,
        rotateCertificates: false,
        serverTLSBootstrap: false,
        staticPodPath: "",
        syncFrequency: "10s",
        nodeStatusUpdateFrequency: "5s",
    };
    const configFile = path.join(dir, "kubelet.yaml");
    fs.writeFileSync(configFile, YAML.stringify(config));
    const e = ns.enter(tools.kubelet, [
        `--config=${configFile}`,
        `--kubeconfig=${kubeconfig}`,
        `--root-dir=${rootDir}`,
        `--cert-dir=${path.join(dir, "pki")}`,
        `--node-ip=${opts.network.nodeIp}`,
        `--hostname-override=${opts.nodeName}`,
        "--v=1",
    ]);
    const proc = rig.start("kubelet", e.bin, e.args, { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: dir } });

    let cidrSet = false;
    const readyMs = await rig.waitReady(
        proc,
        `node ${opts.nodeName} Ready`,
        async () => {
            const res = await cluster.request("GET", `/api/v1/nodes/${opts.nodeName}`);
            if (res.status === 404) return false;
            expectStatus(`get node ${opts.nodeName}`, res);
            if (!cidrSet) {
                // No node IPAM controller runs: the node's pod range is set here, once (kube-proxy and kube-router read it).
                if (res.body.spec?.podCIDR === undefined) {
                    expectStatus(
                        `set node ${opts.nodeName}'s podCIDR`,
                        await cluster.request(
                            "PATCH",
                            `/api/v1/nodes/${opts.nodeName}`,
                            { spec: { podCIDR: opts.network.podCidr, podCIDRs: [opts.network.podCidr] } },
                            "application/merge-patch+json",
                        ),
                    );
                }
                cidrSet = true;
            }
            const conditions: NodeCondition[] = res.body.status?.conditions ?? [];
            const ready = conditions.find((c) => c.type === "Ready");
            if (ready?.status === "True") return true;
            throw new Error(`Ready ${ready?.status ?? "absent"}: ${ready?.reason ?? ""} ${ready?.message ?? ""}`);
        },
        NODE_READY_MS,
    );
    log(`  kubelet: node ${opts.nodeName} Ready in ${readyMs} ms after the kubelet started`);
    return { process: proc, readyMs, rootDir };
}
