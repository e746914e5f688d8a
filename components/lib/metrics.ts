/**
 * How the monitoring namespace scrapes Vault, as plain objects: with
 * `server.metricsScrape: serviceMonitor`, a Service on the metrics listener
 * and a Prometheus Operator ServiceMonitor for it (the chart's own
 * ServiceMonitor targets the API port, which needs a token). The annotations
 * variant lives in the chart values (helm-values.ts).
 */
import { PlatformConfig } from "../config";
import { METRICS_PORT, RELEASE_NAME, SERVER_POD_LABELS, serviceHost, vaultScheme } from "./contracts";
import { metricsScrape } from "./helm-values";

/** Name of the metrics Service and ServiceMonitor. */
export const METRICS_SERVICE = `${RELEASE_NAME}-metrics`;

export interface MetricsScrapeObjects {
    readonly service: { readonly labels: Record<string, string>; readonly spec: Record<string, unknown> };
    readonly serviceMonitor: { readonly spec: Record<string, unknown> };
}

/** The Service and ServiceMonitor; undefined unless the config asks for a ServiceMonitor. */
export function buildMetricsScrape(
    config: Pick<PlatformConfig, "server" | "networkPolicy">,
): MetricsScrapeObjects | undefined {
    if (metricsScrape(config) !== "serviceMonitor") return undefined;
    const internalTls = config.server.tls.mode === "internal";
    const labels = { "app.kubernetes.io/name": METRICS_SERVICE, "app.kubernetes.io/instance": RELEASE_NAME };
    const caSecret = config.server.tls.caSecretName ?? config.server.tls.secretName;
    return {
        service: {
            labels,
            spec: {
                type: "ClusterIP",
                selector: { ...SERVER_POD_LABELS },
                // Sealed and standby pods have metrics too.
                publishNotReadyAddresses: true,
                ports: [{ name: "metrics", port: METRICS_PORT, targetPort: METRICS_PORT, protocol: "TCP" }],
            },
        },
        serviceMonitor: {
            spec: {
                selector: { matchLabels: labels },
                namespaceSelector: { matchNames: [config.server.namespace] },
                endpoints: [
                    {
                        port: "metrics",
                        path: "/v1/sys/metrics",
                        params: { format: ["prometheus"] },
                        interval: "30s",
                        scheme: vaultScheme(config.server.tls),
                        ...(internalTls && caSecret !== undefined
                            ? {
                                  tlsConfig: {
                                      ca: { secret: { name: caSecret, key: "ca.crt" } },
                                      serverName: serviceHost(RELEASE_NAME, config.server.namespace),
                                  },
                              }
                            : {}),
                    },
                ],
            },
        },
    };
}
