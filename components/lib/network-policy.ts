/**
 * NetworkPolicies of Vault's namespace, as plain objects: default deny for
 * every pod, then the few flows the platform needs. No Pulumi here; the specs
 * validate each policy against the Kubernetes schema.
 */
import { PlatformConfig } from "../config";
import {
    API_PORT,
    BACKUP_NAME,
    BACKUP_POD_LABELS,
    CLUSTER_PORT,
    METRICS_PORT,
    SERVER_POD_LABELS,
    SNAPSHOT_NAME,
    SNAPSHOT_POD_LABELS,
    UNSEALER_NAME,
    UNSEALER_POD_LABELS,
} from "./contracts";

/** The keys the NetworkPolicies read: the flows they open follow the storage, seal, OIDC and ESO settings. */
export type NetworkPolicySlice = Pick<PlatformConfig, "networkPolicy" | "server" | "unseal"> & {
    readonly oidc: Pick<PlatformConfig["oidc"], "enabled">;
    readonly backup: Pick<PlatformConfig["backup"], "enabled">;
    readonly externalSecrets: Pick<PlatformConfig["externalSecrets"], "namespace">;
};

/** The label every namespace carries (Kubernetes >= 1.21), so selection needs no custom labels. */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

/** The cluster DNS pods' label (CoreDNS in kubeadm, k3s, EKS). */
export const DNS_POD_LABELS = { "k8s-app": "kube-dns" } as const;

type Labels = Record<string, string>;

export interface PolicyPort {
    readonly protocol: "TCP" | "UDP";
    readonly port: number;
}

export interface PolicyPeer {
    readonly podSelector?: { readonly matchLabels: Labels };
    readonly namespaceSelector?:
        | { readonly matchLabels: Labels }
        | {
              readonly matchExpressions: {
                  readonly key: string;
                  readonly operator: "In";
                  readonly values: string[];
              }[];
          };
    readonly ipBlock?: { readonly cidr: string };
}

export interface NetworkPolicySpec {
    readonly podSelector: { readonly matchLabels?: Labels };
    readonly policyTypes: ("Ingress" | "Egress")[];
    readonly ingress?: { readonly from: PolicyPeer[]; readonly ports: PolicyPort[] }[];
    readonly egress?: { readonly to: PolicyPeer[]; readonly ports: PolicyPort[] }[];
}

export interface NamedPolicy {
    /** Suffix of the Pulumi logical name. */
    readonly id: string;
    /** Kubernetes object name. */
    readonly name: string;
    readonly spec: NetworkPolicySpec;
}

const tcp = (...ports: number[]): PolicyPort[] => ports.map((port) => ({ protocol: "TCP", port }));
const serverPods: PolicyPeer = { podSelector: { matchLabels: { ...SERVER_POD_LABELS } } };
const unsealerPods: PolicyPeer = { podSelector: { matchLabels: { ...UNSEALER_POD_LABELS } } };
const snapshotPods: PolicyPeer = { podSelector: { matchLabels: { ...SNAPSHOT_POD_LABELS } } };
const backupPods: PolicyPeer = { podSelector: { matchLabels: { ...BACKUP_POD_LABELS } } };

/** Namespaces allowed to call Vault on 8200, sorted and without duplicates (the scraper has its own port). */
export function ingressNamespaces(config: NetworkPolicySlice): string[] {
    const np = config.networkPolicy;
    const names = [config.externalSecrets.namespace, np.ingressNamespace, ...np.extraIngressNamespaces];
    return [...new Set(names)].sort();
}

function dnsRule(config: NetworkPolicySlice) {
    return {
        to: [
            {
                namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: config.networkPolicy.dnsNamespace } },
                podSelector: { matchLabels: { ...DNS_POD_LABELS } },
            },
        ],
        ports: [
            { protocol: "UDP" as const, port: 53 },
            { protocol: "TCP" as const, port: 53 },
        ],
    };
}

const EGRESS_TARGETS = ["s3", "kms", "oidc", "kubernetesApi"] as const;

type EgressRule = PlatformConfig["networkPolicy"]["egress"]["s3"];

/**
 * The egress rules of one networkPolicy.egress target: its CIDRs on its ports,
 * then each namespace peer on its own ports (default: the rule's). A name that
 * resolves to a LoadBalancer of this cluster is DNAT-ed by kube-proxy to a pod
 * IP and port before the CNI applies egress policy, so only a pod peer on the
 * container port matches it.
 */
export function egressRules(rule: EgressRule): { to: PolicyPeer[]; ports: PolicyPort[] }[] {
    if (rule === undefined) return [];
    const rules: { to: PolicyPeer[]; ports: PolicyPort[] }[] = [];
    if (rule.cidrs !== undefined) {
        rules.push({ to: rule.cidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: tcp(...rule.ports) });
    }
    for (const peer of rule.namespaces ?? []) {
        rules.push({
            to: [
                {
                    namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: peer.name } },
                    ...(peer.podLabels === undefined ? {} : { podSelector: { matchLabels: { ...peer.podLabels } } }),
                },
            ],
            ports: tcp(...(peer.ports ?? rule.ports)),
        });
    }
    return rules;
}

/** The NetworkPolicies of Vault's namespace; none when networkPolicy.enabled is false. */
export function buildNetworkPolicies(config: NetworkPolicySlice): NamedPolicy[] {
    const np = config.networkPolicy;
    if (!np.enabled) return [];
    const raft = config.server.storageBackend === "raft";
    const snapshots = config.server.snapshots?.enabled === true;
    const backup = config.backup.enabled;
    // The unsealer runs only with Shamir keys; the awskms seal needs no pod to reach Vault.
    const unsealer = config.unseal.mode === "shamir";

    const serverIngress: NonNullable<NetworkPolicySpec["ingress"]> = [
        {
            from: [
                {
                    namespaceSelector: {
                        matchExpressions: [
                            { key: NAMESPACE_NAME_LABEL, operator: "In", values: ingressNamespaces(config) },
                        ],
                    },
                },
                ...(unsealer ? [unsealerPods] : []),
                ...(snapshots ? [snapshotPods] : []),
                ...(backup ? [backupPods] : []),
            ],
            ports: tcp(API_PORT),
        },
    ];
    if (np.monitoringNamespace !== undefined) {
        // The scraper reaches only the metrics listener, never the API port.
        serverIngress.push({
            from: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: np.monitoringNamespace } } }],
            ports: tcp(METRICS_PORT),
        });
    }
    const serverEgress: NonNullable<NetworkPolicySpec["egress"]> = [dnsRule(config)];
    if (raft) {
        // retry_join talks to the leader's API port; raft and forwarding use the cluster port.
        serverIngress.push({ from: [serverPods], ports: tcp(API_PORT, CLUSTER_PORT) });
        serverEgress.push({ to: [serverPods], ports: tcp(API_PORT, CLUSTER_PORT) });
    }
    for (const target of EGRESS_TARGETS) serverEgress.push(...egressRules(np.egress[target]));

    const policies: NamedPolicy[] = [
        {
            id: "default-deny",
            name: "default-deny",
            spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
        },
        {
            id: "server",
            name: "vault-server",
            spec: {
                podSelector: { matchLabels: { ...SERVER_POD_LABELS } },
                policyTypes: ["Ingress", "Egress"],
                ingress: serverIngress,
                egress: serverEgress,
            },
        },
    ];
    if (unsealer) {
        policies.push({
            id: "unsealer",
            name: UNSEALER_NAME,
            spec: {
                podSelector: { matchLabels: { ...UNSEALER_POD_LABELS } },
                policyTypes: ["Egress"],
                egress: [dnsRule(config), { to: [serverPods], ports: tcp(API_PORT) }],
            },
        });
    }
    if (snapshots) {
        // Save through Vault's API, upload to the bucket; nothing else (the token is a projected file).
        const s3 = np.egress.s3;
        policies.push({
            id: "snapshot",
            name: SNAPSHOT_NAME,
            spec: {
                podSelector: { matchLabels: { ...SNAPSHOT_POD_LABELS } },
                policyTypes: ["Egress"],
                egress: [dnsRule(config), { to: [serverPods], ports: tcp(API_PORT) }, ...egressRules(s3)],
            },
        });
    }
    if (backup) {
        // Export through Vault's API, upload to the bucket (same S3 endpoint); nothing else.
        policies.push({
            id: "kv-backup",
            name: BACKUP_NAME,
            spec: {
                podSelector: { matchLabels: { ...BACKUP_POD_LABELS } },
                policyTypes: ["Egress"],
                egress: [dnsRule(config), { to: [serverPods], ports: tcp(API_PORT) }, ...egressRules(np.egress.s3)],
            },
        });
    }
    return policies;
}

/** The slice requiredEgress reads: what runs and what it must reach. */
export interface EgressNeedsSlice {
    readonly networkPolicy: Pick<PlatformConfig["networkPolicy"], "enabled" | "egress">;
    readonly server: {
        readonly storageBackend: PlatformConfig["server"]["storageBackend"];
        readonly snapshots?: { readonly enabled: boolean };
    };
    readonly unseal: Pick<PlatformConfig["unseal"], "mode">;
    readonly oidc: Pick<PlatformConfig["oidc"], "enabled">;
    readonly backup: Pick<PlatformConfig["backup"], "enabled">;
}

/** One egress flow the config needs, and what fails without it. */
export interface EgressNeed {
    readonly target: (typeof EGRESS_TARGETS)[number];
    /** Completes "without it, ...". */
    readonly breaks: string;
}

/**
 * The egress flows the config needs while NetworkPolicies are on (default
 * deny drops every other flow), each with what fails without it. Empty when
 * NetworkPolicies are off. The config rules refuse a needed flow that has no
 * rule (components/config/rules/network-policy.ts).
 */
export function requiredEgress(config: EgressNeedsSlice): EgressNeed[] {
    if (!config.networkPolicy.enabled) return [];
    const needs: EgressNeed[] = [];
    if (config.server.storageBackend === "s3") {
        needs.push({ target: "s3", breaks: "Vault cannot reach its S3 storage and does not start" });
    } else if (config.server.snapshots?.enabled === true) {
        needs.push({ target: "s3", breaks: "the raft snapshot job cannot upload snapshots to the bucket" });
    } else if (config.backup.enabled) {
        needs.push({ target: "s3", breaks: "the KV export job cannot upload exports to the bucket" });
    }
    if (config.unseal.mode === "awskms") {
        needs.push({ target: "kms", breaks: "the awskms seal cannot reach KMS and Vault stays sealed" });
    }
    if (config.oidc.enabled) {
        needs.push({
            target: "oidc",
            breaks: "Vault cannot fetch the OIDC issuer's discovery document, and `pulumi up` fails configuring OIDC login",
        });
    }
    // Kubernetes auth (the External Secrets stores, the snapshot job) is always configured.
    needs.push({
        target: "kubernetesApi",
        breaks:
            "Kubernetes auth logins fail (Vault cannot call TokenReview), so no ClusterSecretStore works" +
            (config.server.storageBackend === "raft" ? ", and raft service registration fails" : ""),
    });
    return needs;
}
