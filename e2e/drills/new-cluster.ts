/**
 * The cluster lost and a new one made (drill 4), on the rig: what
 * docs/disaster-recovery.md calls the cluster goes (the node with its
 * containerd, kubelet and volume state, then etcd's data, the API server and
 * the controller manager), what it says to keep stays (the bucket, the
 * Pulumi state, the key shares: none of them lives in the cluster), and a
 * new cluster takes its place: a new etcd, API server and node, reached
 * under the same kubeconfig file and context name, with what a cluster the
 * stack deploys to has before it (ESO's CRDs; the services outside the
 * cluster relayed in at the addresses the stack names).
 */
import * as fs from "fs";
import * as path from "path";
import { installCrds, KubeBinaries, startCluster } from "../rig/kube";
import { RigCa } from "../rig/pki";
import { Rig } from "../rig/processes";
import { BuiltImage } from "../node/images";
import { nodeClusterOptions, startNode } from "../node/node";
import { PodRig } from "../scenario";

/** What making a cluster needs beside the rig: the control plane's binaries, ESO's CRDs, the Vault image. */
export interface ClusterMaker {
    readonly bins: KubeBinaries;
    readonly crdFiles: readonly string[];
    readonly vaultImage: BuiltImage;
}

/**
 * Takes the cluster down for good: the node torn down (the host compared with
 * its state before the node), the control plane stopped, and their dirs
 * (etcd's data, the kubelet's and containerd's state, the volumes) moved out
 * of the rig's reach (kept for a look under E2E_KEEP=1). The images built
 * here stay: a registry outlives a cluster.
 */
export async function loseCluster(rig: Rig, r: PodRig, log: (m: string) => void): Promise<void> {
    const { errors, checks } = await r.node.stop();
    const left = [...errors, ...checks.filter((c) => !c.ok).map((c) => `${c.what}: ${c.detail}`)];
    if (left.length > 0) throw new Error(`the lost node's teardown left the host changed: ${left.join("; ")}`);
    for (const proc of [...r.cluster.processes].reverse()) await proc.stop();
    const lost = rig.subdir(`lost-cluster-${Date.now()}`);
    for (const dir of ["kube", "node"]) fs.renameSync(path.join(rig.dir, dir), path.join(lost, dir));
    fs.renameSync(path.join(lost, "node", "images"), path.join(rig.subdir("node"), "images"));
    log(
        `  cluster lost: the node torn down (host as before it: ${checks.length} checks), etcd, kube-apiserver and ` +
            `kube-controller-manager stopped, their data and the node's state moved to ${path.basename(lost)}/`,
    );
}

/**
 * A new cluster in the lost one's place: a new control plane (its kubeconfig
 * written over the old file, the context name the same), ESO's CRDs, a new
 * node with the Vault image imported, and the rig's outside services (S3,
 * OIDC, the unlisted port) relayed in at the same addresses as before.
 */
export async function newCluster(
    rig: Rig,
    ca: RigCa,
    make: ClusterMaker,
    old: PodRig,
    log: (m: string) => void,
): Promise<PodRig> {
    const cluster = await startCluster(rig, ca, make.bins, log, nodeClusterOptions());
    if (cluster.kubeconfig !== old.cluster.kubeconfig || cluster.context !== old.cluster.context) {
        throw new Error(
            `the new cluster's kubeconfig ${cluster.kubeconfig} (${cluster.context}) is not the old one's (${old.cluster.kubeconfig}, ${old.cluster.context})`,
        );
    }
    await installCrds(cluster, make.crdFiles);
    const node = await startNode(rig, ca, cluster, { log });
    await node.loadImage(make.vaultImage);
    const nodeIp = node.network.nodeIp;
    const s3Tls = await ca.issueServer("s3", { ips: [nodeIp] });
    const s3At = await node.relayIn("s3", old.s3.server.guard.endpoint, { tls: s3Tls, port: old.s3.at.port });
    const hydra = { host: "127.0.0.1", port: old.hydra.publicPort };
    const oidcAt = await node.relayIn("oidc", hydra, { port: old.oidcAt.port });
    const unlisted = await node.relayIn("unlisted", hydra, { port: old.unlisted.port });
    log(
        `  new cluster: kube-apiserver at ${cluster.server} under the same kubeconfig and context ${cluster.context}, ` +
            `ESO's CRDs, node ${node.name} Ready, S3 and OIDC relayed in at ${s3At.host}:${s3At.port} and ${oidcAt.host}:${oidcAt.port}`,
    );
    return { ...old, cluster, node, s3: { server: old.s3.server, at: s3At }, oidcAt, unlisted };
}
