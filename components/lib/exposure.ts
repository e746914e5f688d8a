/**
 * The UI/API route to the Vault Service: an Ingress or a Gateway API
 * HTTPRoute, as plain objects. No Pulumi here; the specs validate both
 * against their Kubernetes schemas.
 */
import { PlatformConfig } from "../config";
import { API_PORT, RELEASE_NAME } from "./helm-values";

/** The ingress object's metadata and spec; undefined unless exposure.kind is ingress. */
export function buildIngress(config: PlatformConfig):
    | {
          readonly annotations: Record<string, string>;
          readonly spec: Record<string, unknown>;
      }
    | undefined {
    const e = config.exposure;
    if (e.kind !== "ingress") return undefined;
    const annotations: Record<string, string> = {};
    if (e.certManagerIssuer !== undefined) {
        const key = e.certManagerIssuerKind === "ClusterIssuer" ? "cluster-issuer" : "issuer";
        annotations[`cert-manager.io/${key}`] = e.certManagerIssuer;
    }
    if (config.server.tls.mode === "internal") {
        // Vault serves TLS itself: ingress-nginx must speak HTTPS to the backend (other controllers ignore this).
        annotations["nginx.ingress.kubernetes.io/backend-protocol"] = "HTTPS";
    }
    return {
        annotations,
        spec: {
            ...(e.className === undefined ? {} : { ingressClassName: e.className }),
            tls: [{ hosts: [e.host], secretName: e.tlsSecretName }],
            rules: [
                {
                    host: e.host,
                    http: {
                        paths: [
                            {
                                path: "/",
                                pathType: "Prefix",
                                backend: { service: { name: RELEASE_NAME, port: { number: API_PORT } } },
                            },
                        ],
                    },
                },
            ],
        },
    };
}

/** The HTTPRoute spec; undefined unless exposure.kind is httproute. */
export function buildHttpRoute(config: PlatformConfig): Record<string, unknown> | undefined {
    const e = config.exposure;
    if (e.kind !== "httproute") return undefined;
    if (e.gateway === undefined) {
        throw new Error("secret-platform:exposure.gateway: is required when exposure.kind is httproute");
    }
    return {
        parentRefs: [
            {
                group: "gateway.networking.k8s.io",
                kind: "Gateway",
                name: e.gateway.name,
                namespace: e.gateway.namespace,
                ...(e.gateway.sectionName === undefined ? {} : { sectionName: e.gateway.sectionName }),
            },
        ],
        hostnames: [e.host],
        rules: [
            {
                matches: [{ path: { type: "PathPrefix", value: "/" } }],
                backendRefs: [{ group: "", kind: "Service", name: RELEASE_NAME, port: API_PORT }],
            },
        ],
    };
}
