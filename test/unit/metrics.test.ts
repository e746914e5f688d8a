/**
 * The metrics Service and ServiceMonitor buildMetricsScrape makes, document by
 * document, for each way of scraping (VaultServer's spec checks only that it
 * registers what this builder makes, with names, parents and ordering).
 */
import { strict as assert } from "node:assert";
import { buildMetricsScrape } from "../../components/lib/metrics";
import { homelabStack } from "../support/fixtures";
import { configOf, StackConfig } from "../support/program";

// kubernetes-models (CommonJS): the Kubernetes OpenAPI schema of the Service.
const { Service } = require("kubernetes-models/v1/Service");

type Stack = StackConfig & { values: Record<string, unknown> };

/** The homelab fixture scraped from `monitoring`, with server settings on top. */
function scraped(server?: Record<string, unknown>): Stack {
    const s = homelabStack();
    s.values.networkPolicy.monitoringNamespace = "monitoring";
    if (server !== undefined) s.values.server = server;
    return s;
}

const SERVICE_SPEC = {
    type: "ClusterIP",
    selector: { "app.kubernetes.io/name": "vault", "app.kubernetes.io/instance": "vault", component: "server" },
    publishNotReadyAddresses: true,
    ports: [{ name: "metrics", port: 8202, targetPort: 8202, protocol: "TCP" }],
};
const LABELS = { "app.kubernetes.io/name": "vault-metrics", "app.kubernetes.io/instance": "vault" };
const ENDPOINT = { port: "metrics", path: "/v1/sys/metrics", params: { format: ["prometheus"] }, interval: "30s" };

describe("buildMetricsScrape", () => {
    it("nothing without a monitoring namespace, nor with the annotations (the chart's values carry those)", () => {
        assert.equal(buildMetricsScrape(configOf(homelabStack())), undefined);
        assert.equal(buildMetricsScrape(configOf(scraped())), undefined);
        assert.equal(buildMetricsScrape(configOf(scraped({ metricsScrape: "annotations" }))), undefined);
    });

    it("serviceMonitor with internal TLS: https, verifying the CA in the TLS Secret, for the Service's name", () => {
        const built = buildMetricsScrape(
            configOf(
                scraped({ metricsScrape: "serviceMonitor", tls: { mode: "internal", secretName: "vault-server-tls" } }),
            ),
        );
        assert.deepEqual(built, {
            service: { labels: LABELS, spec: SERVICE_SPEC },
            serviceMonitor: {
                spec: {
                    selector: { matchLabels: LABELS },
                    namespaceSelector: { matchNames: ["vault"] },
                    endpoints: [
                        {
                            ...ENDPOINT,
                            scheme: "https",
                            tlsConfig: {
                                ca: { secret: { name: "vault-server-tls", key: "ca.crt" } },
                                serverName: "vault.vault.svc",
                            },
                        },
                    ],
                },
            },
        });
        new Service({ metadata: { name: "vault-metrics", labels: LABELS }, spec: built?.service.spec }).validate();
    });

    it("serviceMonitor with internal TLS and a CA Secret of its own: the CA from that Secret", () => {
        const built = buildMetricsScrape(
            configOf(
                scraped({
                    metricsScrape: "serviceMonitor",
                    tls: { mode: "internal", secretName: "vault-server-tls", caSecretName: "vault-ca" },
                }),
            ),
        );
        assert.deepEqual(built?.serviceMonitor.spec.endpoints, [
            {
                ...ENDPOINT,
                scheme: "https",
                tlsConfig: { ca: { secret: { name: "vault-ca", key: "ca.crt" } }, serverName: "vault.vault.svc" },
            },
        ]);
    });

    it("serviceMonitor with TLS ended at the ingress: plain http inside the cluster, no tlsConfig", () => {
        const built = buildMetricsScrape(configOf(scraped({ metricsScrape: "serviceMonitor" })));
        assert.deepEqual(built?.service, { labels: LABELS, spec: SERVICE_SPEC });
        assert.deepEqual(built?.serviceMonitor.spec.endpoints, [{ ...ENDPOINT, scheme: "http" }]);
    });
});
