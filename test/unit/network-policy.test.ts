/**
 * The NetworkPolicies buildNetworkPolicies makes, document by document: the
 * exact allow rules for each config (VaultServer's spec checks only that it
 * registers what this builder makes).
 */
import { strict as assert } from "node:assert";
import { buildNetworkPolicies } from "../../components/lib/network-policy";
import { awsStack, homelabStack } from "../support/fixtures";
import { configOf, StackConfig } from "../support/program";

// kubernetes-models (CommonJS): the Kubernetes OpenAPI schema of the object.
const { NetworkPolicy } = require("kubernetes-models/networking.k8s.io/v1/NetworkPolicy");

type Spec = Record<string, any>;

/** The built policies' specs by object name. */
function policiesOf(stack: StackConfig): Record<string, Spec> {
    return Object.fromEntries(buildNetworkPolicies(configOf(stack)).map((p) => [p.name, p.spec as Spec]));
}

/** Each built spec is a valid NetworkPolicy (the schema rejects unknown fields). */
function validateAll(built: Record<string, Spec>): void {
    for (const [name, spec] of Object.entries(built)) new NetworkPolicy({ metadata: { name }, spec }).validate();
}

const SERVER_SELECTOR = {
    matchLabels: { "app.kubernetes.io/name": "vault", "app.kubernetes.io/instance": "vault", component: "server" },
};
const UNSEALER_PEER = { podSelector: { matchLabels: { "app.kubernetes.io/name": "vault-unsealer" } } };
/** The API-port ingress rule of the homelab fixture: the client namespaces and the unsealer. */
const homelabApiIngress = (namespaces: string[], ...morePeers: object[]) => ({
    from: [
        {
            namespaceSelector: {
                matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: namespaces }],
            },
        },
        UNSEALER_PEER,
        ...morePeers,
    ],
    ports: [{ protocol: "TCP", port: 8200 }],
});
/** Egress to the cluster DNS, every pod's first rule. */
const DNS_EGRESS = {
    to: [
        {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
            podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
        },
    ],
    ports: [
        { protocol: "UDP", port: 53 },
        { protocol: "TCP", port: 53 },
    ],
};

/** The egress rules the homelab fixture's networkPolicy.egress renders to (s3, oidc, kubernetesApi). */
const HOMELAB_EGRESS = [
    { to: [{ ipBlock: { cidr: "192.168.10.20/32" } }], ports: [{ protocol: "TCP", port: 3900 }] },
    { to: [{ ipBlock: { cidr: "192.168.10.21/32" } }], ports: [{ protocol: "TCP", port: 443 }] },
    { to: [{ ipBlock: { cidr: "192.168.10.10/32" } }], ports: [{ protocol: "TCP", port: 6443 }] },
];

describe("buildNetworkPolicies", () => {
    it("homelab: default deny, then only the needed flows; each validates", () => {
        const built = policiesOf(homelabStack());
        const pols = built;
        assert.deepEqual(Object.keys(pols).sort(), ["default-deny", "vault-server", "vault-unsealer"]);
        assert.deepEqual(pols["default-deny"], {
            podSelector: {},
            policyTypes: ["Ingress", "Egress"],
        });
        const server = pols["vault-server"];
        assert.deepEqual(server.podSelector, SERVER_SELECTOR);
        assert.deepEqual(server.ingress, [homelabApiIngress(["external-secrets", "ingress-nginx"])]);
        // DNS, then the fixture's egress rules (the config refuses a needed flow without one).
        assert.deepEqual(server.egress, [DNS_EGRESS, ...HOMELAB_EGRESS]);
        const unsealer = pols["vault-unsealer"];
        assert.deepEqual(unsealer.podSelector, UNSEALER_PEER.podSelector);
        assert.deepEqual(unsealer.policyTypes, ["Egress"]);
        assert.deepEqual(unsealer.egress, [
            DNS_EGRESS,
            { to: [{ podSelector: SERVER_SELECTOR }], ports: [{ protocol: "TCP", port: 8200 }] },
        ]);
        validateAll(built);
    });

    it("egress CIDRs, monitoring and extra namespaces become exact allow rules", async () => {
        const s = homelabStack();
        s.values.networkPolicy = {
            monitoringNamespace: "monitoring",
            extraIngressNamespaces: ["argocd", "external-secrets"],
            egress: {
                s3: { cidrs: ["10.0.10.5/32"], ports: [443, 3900] },
                oidc: { cidrs: ["10.0.10.6/32"] },
                kubernetesApi: { cidrs: ["10.0.0.0/24"], ports: [6443] },
            },
        };
        const built = policiesOf(s);
        const spec = built["vault-server"];
        assert.deepEqual(spec.ingress, [
            homelabApiIngress(["argocd", "external-secrets", "ingress-nginx"]),
            // The scraper reaches the metrics listener only, never the API port the Ingress serves.
            {
                from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }],
                ports: [{ protocol: "TCP", port: 8202 }],
            },
        ]);
        assert.deepEqual(spec.egress, [
            DNS_EGRESS,
            {
                to: [{ ipBlock: { cidr: "10.0.10.5/32" } }],
                ports: [
                    { protocol: "TCP", port: 443 },
                    { protocol: "TCP", port: 3900 },
                ],
            },
            { to: [{ ipBlock: { cidr: "10.0.10.6/32" } }], ports: [{ protocol: "TCP", port: 443 }] },
            { to: [{ ipBlock: { cidr: "10.0.0.0/24" } }], ports: [{ protocol: "TCP", port: 6443 }] },
        ]);
        validateAll(built);
    });

    it("egress namespace peers: a namespaceSelector by name, pod labels when given, the peer's container ports", async () => {
        const s = homelabStack();
        s.values.networkPolicy = {
            egress: {
                s3: {
                    cidrs: ["192.168.10.20/32"],
                    namespaces: [
                        { name: "traefik", podLabels: { "app.kubernetes.io/name": "traefik" }, ports: [8443] },
                    ],
                    ports: [3900],
                },
                oidc: { namespaces: [{ name: "authelia" }], ports: [9091] },
                kubernetesApi: { cidrs: ["10.0.0.0/24"], ports: [6443] },
            },
        };
        const built = policiesOf(s);
        const spec = built["vault-server"];
        assert.deepEqual(spec.egress, [
            DNS_EGRESS,
            { to: [{ ipBlock: { cidr: "192.168.10.20/32" } }], ports: [{ protocol: "TCP", port: 3900 }] },
            {
                to: [
                    {
                        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "traefik" } },
                        podSelector: { matchLabels: { "app.kubernetes.io/name": "traefik" } },
                    },
                ],
                ports: [{ protocol: "TCP", port: 8443 }],
            },
            {
                to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "authelia" } } }],
                ports: [{ protocol: "TCP", port: 9091 }],
            },
            { to: [{ ipBlock: { cidr: "10.0.0.0/24" } }], ports: [{ protocol: "TCP", port: 6443 }] },
        ]);
        validateAll(built);
    });

    it("awskms seal: no unsealer runs, so no NetworkPolicy admits or serves one", async () => {
        const built = policiesOf(awsStack());
        const pols = built;
        assert.deepEqual(Object.keys(pols).sort(), ["default-deny", "vault-server"]);
        const server = pols["vault-server"];
        assert.ok(!JSON.stringify(server.ingress).includes("vault-unsealer"), "the server still admits unsealer pods");
    });

    it("raft HA: peers may talk on 8200/8201, and the snapshot job reaches the API", () => {
        const s = homelabStack();
        s.values.server = { storageBackend: "raft", replicas: 3 };
        const built = policiesOf(s);
        const spec = built["vault-server"];
        assert.deepEqual(spec.podSelector, SERVER_SELECTOR);
        const peers = { podSelector: SERVER_SELECTOR };
        const ports = [
            { protocol: "TCP", port: 8200 },
            { protocol: "TCP", port: 8201 },
        ];
        assert.deepEqual(spec.ingress, [
            // Raft snapshots are on by default with raft: the snapshot job's pods reach the API too.
            homelabApiIngress(["external-secrets", "ingress-nginx"], {
                podSelector: { matchLabels: { "app.kubernetes.io/name": "vault-snapshot" } },
            }),
            { from: [peers], ports },
        ]);
        assert.deepEqual(spec.egress, [DNS_EGRESS, { to: [peers], ports }, ...HOMELAB_EGRESS]);
        validateAll(built);
    });

    it("raft snapshots: the job reaches DNS, the server's API and S3 only; the server admits it", () => {
        const s = homelabStack();
        s.values.server = { storageBackend: "raft", replicas: 3 };
        s.values.networkPolicy.egress.s3 = { cidrs: ["192.0.2.50/32"], ports: [443] };
        const built = policiesOf(s);
        assert.deepEqual(built["vault-snapshot"], {
            podSelector: { matchLabels: { "app.kubernetes.io/name": "vault-snapshot" } },
            policyTypes: ["Egress"],
            egress: [
                DNS_EGRESS,
                { to: [{ podSelector: SERVER_SELECTOR }], ports: [{ protocol: "TCP", port: 8200 }] },
                { to: [{ ipBlock: { cidr: "192.0.2.50/32" } }], ports: [{ protocol: "TCP", port: 443 }] },
            ],
        });
        assert.deepEqual(
            built["vault-server"].ingress[0],
            homelabApiIngress(["external-secrets", "ingress-nginx"], {
                podSelector: { matchLabels: { "app.kubernetes.io/name": "vault-snapshot" } },
            }),
        );
        validateAll(built);
    });

    it("networkPolicy.enabled false: none", () => {
        const s = homelabStack();
        s.values.networkPolicy = { enabled: false };
        assert.deepEqual(buildNetworkPolicies(configOf(s)), []);
    });
});
