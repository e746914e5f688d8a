/**
 * kube-router as a NetworkPolicy firewall only (--run-firewall=true
 * --run-router=false --run-service-proxy=false): no BGP, no service proxy, no
 * CNI config of its own, so the advisories reported for v2.1.0 (about its
 * BGP and service-proxy controllers) concern code this mode leaves off. Its
 * chains and ipsets are in the node's network namespace only.
 */
import { Cluster } from "../rig/kube";
import { RigCa } from "../rig/pki";
import { Rig, RigProcess } from "../rig/processes";
import { apply, bindClusterRole, clientKubeconfig } from "./identity";
import { NodeNamespaces } from "./netns";
import { NodeTools } from "./tools";

const ROUTER_READY_MS = 90_000;

export async function startKubeRouter(
    rig: Rig,
    ca: RigCa,
    tools: NodeTools,
    ns: NodeNamespaces,
    cluster: Cluster,
    opts: { dir: string; nodeName: string; server: string; serviceCidr: string },
    log: (line: string) => void,
): Promise<RigProcess> {
    // What its informers watch (it starts them all, whichever controllers run).
    await apply(cluster, "/apis/rbac.authorization.k8s.io/v1/clusterroles/secret-platform-node:kube-router", {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name: "secret-platform-node:kube-router" },
        rules: [
            {
                apiGroups: [""],
                resources: ["namespaces", "pods", "services", "nodes", "endpoints"],
                verbs: ["get", "list", "watch"],
            },
            { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["get", "list", "watch"] },
            { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
            { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
        ],
    });
    await bindClusterRole(
        cluster,
        "secret-platform-node:kube-router",
        "secret-platform-node:kube-router",
        "system:kube-router",
    );
    const kubeconfig = await clientKubeconfig(ca, opts.dir, "kube-router", opts.server, {
        commonName: "system:kube-router",
    });
    const e = ns.enter(tools.kubeRouter, [
        `--kubeconfig=${kubeconfig}`,
        `--hostname-override=${opts.nodeName}`,
        "--run-firewall=true",
        "--run-router=false",
        "--run-service-proxy=false",
        "--enable-cni=false",
        "--enable-ipv6=false",
        `--service-cluster-ip-range=${opts.serviceCidr}`,
        "--metrics-port=0",
        "--v=1",
    ]);
    const proc = rig.start("kube-router", e.bin, e.args, {
        env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: opts.dir },
    });
    const ms = await rig.waitReady(
        proc,
        "its KUBE-ROUTER-FORWARD chain in the node's filter table",
        async () => (await ns.run(tools.iptablesSave, ["-t", "filter"])).includes(":KUBE-ROUTER-FORWARD"),
        ROUTER_READY_MS,
    );
    log(`  kube-router (firewall only): policy chains in place in ${ms} ms`);
    return proc;
}
