/**
 * CoreDNS as the cluster's DNS, a pod labelled k8s-app=kube-dns (the
 * project's NetworkPolicies admit DNS to such pods only) behind the kube-dns
 * Service, as kind runs it. It answers the cluster's names and nothing else:
 * the build has no forward plugin and the Corefile names none.
 */
import { Cluster } from "../rig/kube";
import { apply } from "./identity";
import { PodRef, RunningPod, waitPodRunning } from "./pods";
import { PROJECT_CONTAINER_SECURITY } from "./pods";

/**
 * CoreDNS listens on 53 itself, as in kubeadm, k3s and EKS: a NetworkPolicy
 * sees the pod's own port (after kube-proxy's DNAT), and the project's DNS
 * rules name 53. It runs without capabilities: the pod's (namespaced, safe)
 * sysctl net.ipv4.ip_unprivileged_port_start lets a non-root process bind 53.
 */
const DNS_PORT = 53;

export const COREFILE = (domain: string) => `.:${DNS_PORT} {
    errors
    health :8080
    ready :8181
    kubernetes ${domain} in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
    loadbalance
}
`;

export async function deployCoreDns(
    cluster: Cluster,
    opts: { image: string; clusterIp: string; domain: string },
): Promise<RunningPod & PodRef> {
    const ns = "kube-system";
    const rbac = "/apis/rbac.authorization.k8s.io/v1";
    await apply(cluster, `/api/v1/namespaces/${ns}/serviceaccounts/coredns`, {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name: "coredns", namespace: ns },
    });
    await apply(cluster, `${rbac}/clusterroles/system:coredns`, {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name: "system:coredns" },
        rules: [
            { apiGroups: [""], resources: ["endpoints", "services", "pods", "namespaces"], verbs: ["list", "watch"] },
            { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
        ],
    });
    await apply(cluster, `${rbac}/clusterrolebindings/system:coredns`, {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: "system:coredns" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:coredns" },
        subjects: [{ kind: "ServiceAccount", name: "coredns", namespace: ns }],
    });
    await apply(cluster, `/api/v1/namespaces/${ns}/configmaps/coredns`, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "coredns", namespace: ns },
        data: { Corefile: COREFILE(opts.domain) },
    });
    const labels = { "k8s-app": "kube-dns" };
    await apply(cluster, `/api/v1/namespaces/${ns}/services/kube-dns`, {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "kube-dns", namespace: ns, labels },
        spec: {
            selector: labels,
            clusterIP: opts.clusterIp,
            ports: [
                { name: "dns", port: 53, protocol: "UDP", targetPort: DNS_PORT },
                { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: DNS_PORT },
            ],
        },
    });
    const name = "coredns";
    await apply(cluster, `/api/v1/namespaces/${ns}/pods/${name}`, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: ns, labels },
        spec: {
            serviceAccountName: "coredns",
            // Its own resolv.conf is empty (the kubelet hands pods no host resolvers).
            dnsPolicy: "Default",
            priorityClassName: "system-cluster-critical",
            securityContext: {
                runAsNonRoot: true,
                runAsUser: 65532,
                seccompProfile: { type: "RuntimeDefault" },
                sysctls: [{ name: "net.ipv4.ip_unprivileged_port_start", value: String(DNS_PORT) }],
            },
            containers: [
                {
                    name: "coredns",
                    image: opts.image,
                    imagePullPolicy: "Never",
                    args: ["-conf", "/etc/coredns/Corefile"],
                    ports: [
                        { name: "dns", containerPort: DNS_PORT, protocol: "UDP" },
                        { name: "dns-tcp", containerPort: DNS_PORT, protocol: "TCP" },
                    ],
                    readinessProbe: { httpGet: { path: "/ready", port: 8181 }, periodSeconds: 1 },
                    livenessProbe: { httpGet: { path: "/health", port: 8080 }, periodSeconds: 10 },
                    securityContext: PROJECT_CONTAINER_SECURITY,
                    volumeMounts: [{ name: "config", mountPath: "/etc/coredns", readOnly: true }],
                },
            ],
            volumes: [{ name: "config", configMap: { name: "coredns" } }],
        },
    });
    const running = await waitPodRunning(cluster, { namespace: ns, name });
    return { ...running, namespace: ns, name };
}
