/**
 * The API server, seen from inside the node's network namespace. That
 * namespace has no link to the host, so the API server (on the host's
 * loopback) is relayed through a unix socket, which crosses network
 * namespaces: socat on the host forwards the socket to the API server, socat
 * in the node listens on the node's address and forwards to the socket. TLS
 * passes through untouched (the serving certificate names the node's address
 * and the `kubernetes` Service IP). The `kubernetes` Service's endpoint is set
 * to that address, so pods reach the API server through kube-proxy.
 */
import { Cluster, expectStatus } from "../rig/kube";
import { Rig, RigProcess } from "../rig/processes";
import { NodeNamespaces } from "./netns";
import { relayIntoNode } from "./relays";
import { NodeTools } from "./tools";

/** The port the API server answers on at the node's address. */
export const NODE_API_PORT = 6443;

export interface ApiRelay {
    /** https://<node address>:6443 */
    readonly server: string;
    readonly processes: readonly RigProcess[];
}

export async function startApiRelay(
    rig: Rig,
    tools: NodeTools,
    ns: NodeNamespaces,
    cluster: Cluster,
    dir: string,
    nodeIp: string,
): Promise<ApiRelay> {
    const upstream = new URL(cluster.server);
    const relay = await relayIntoNode(rig, tools, ns, {
        name: "api",
        dir,
        at: { host: nodeIp, port: NODE_API_PORT },
        upstream: { host: upstream.hostname, port: Number(upstream.port) },
    });
    const server = `https://${nodeIp}:${NODE_API_PORT}`;
    await pointKubernetesService(cluster, nodeIp);
    return { server, processes: relay.processes };
}

/** The `kubernetes` Service's endpoints (the API server runs with --endpoint-reconciler-type=none). */
async function pointKubernetesService(cluster: Cluster, nodeIp: string): Promise<void> {
    const port = { name: "https", port: NODE_API_PORT, protocol: "TCP" };
    expectStatus(
        "apply the kubernetes EndpointSlice",
        await cluster.request(
            "PATCH",
            "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes?fieldManager=secret-platform-node&force=true",
            {
                apiVersion: "discovery.k8s.io/v1",
                kind: "EndpointSlice",
                metadata: {
                    name: "kubernetes",
                    namespace: "default",
                    labels: {
                        "kubernetes.io/service-name": "kubernetes",
                        "endpointslice.kubernetes.io/managed-by": "secret-platform-node",
                    },
                },
                addressType: "IPv4",
                endpoints: [{ addresses: [nodeIp], conditions: { ready: true } }],
                ports: [port],
            },
            "application/apply-patch+yaml",
        ),
    );
}
