/**
 * kube-proxy in iptables mode, in the node's network namespace only (its
 * chains live and die with it), for Services: a pod reaches the API server at
 * the `kubernetes` Service's IP and CoreDNS at kube-dns's. It leaves every
 * conntrack sysctl as it is (the global ones are the host's) and binds its
 * health and metrics to the namespace's loopback. No NodePort on localhost
 * (that would need route_localnet).
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { RigCa } from "../rig/pki";
import { Rig, RigProcess } from "../rig/processes";
import { clientKubeconfig } from "./identity";
import { NodeNamespaces, NodeNetwork } from "./netns";
import { NodeTools } from "./tools";

const PROXY_READY_MS = 60_000;

export async function startKubeProxy(
    rig: Rig,
    ca: RigCa,
    tools: NodeTools,
    ns: NodeNamespaces,
    opts: { dir: string; nodeName: string; server: string; network: NodeNetwork },
    log: (line: string) => void,
): Promise<RigProcess> {
    // system:kube-proxy is bound to system:node-proxier by the RBAC bootstrap policy.
    const kubeconfig = await clientKubeconfig(ca, opts.dir, "kube-proxy", opts.server, {
        commonName: "system:kube-proxy",
    });
    const config = {
        apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
        kind: "KubeProxyConfiguration",
        clientConnection: { kubeconfig },
        mode: "iptables",
        hostnameOverride: opts.nodeName,
        bindAddress: opts.network.nodeIp,
        healthzBindAddress: "127.0.0.1:10256",
        metricsBindAddress: "127.0.0.1:10249",
        clusterCIDR: opts.network.podCidr,
        detectLocalMode: "ClusterCIDR",
        nodePortAddresses: [`${opts.network.nodeIp}/32`],
        oomScoreAdj: 0,
        iptables: { masqueradeAll: false, localhostNodePorts: false, syncPeriod: "30s", minSyncPeriod: "0s" },
        conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
    };
    const file = path.join(opts.dir, "kube-proxy.yaml");
    fs.writeFileSync(file, YAML.stringify(config));
    const e = ns.enter(tools.kubeProxy, [`--config=${file}`, "--v=1"]);
    const proc = rig.start("kube-proxy", e.bin, e.args, {
        env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: opts.dir },
    });
    // Ready when the `kubernetes` Service has its rules in the namespace's nat table.
    const ms = await rig.waitReady(
        proc,
        "the kubernetes Service's rules in the node's nat table",
        async () => (await ns.run(tools.iptablesSave, ["-t", "nat"])).includes('"default/kubernetes:https"'),
        PROXY_READY_MS,
    );
    log(`  kube-proxy: Services programmed in ${ms} ms`);
    return proc;
}
