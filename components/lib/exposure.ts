/**
 * The UI/API route to the Vault Service: an Ingress or a Gateway API
 * HTTPRoute, as plain objects. No Pulumi here; the specs validate both
 * against their Kubernetes schemas.
 */
import { PlatformConfig } from "../config";
import { API_PORT, RELEASE_NAME, serviceHost } from "./contracts";
import { SERVERS_TRANSPORT_NAME, traefikBackendTls, TRAEFIK_CLASS } from "./helm-values";

/** The keys the exposure builders read. */
export type ExposureSlice = Pick<PlatformConfig, "exposure" | "server">;

/** The ingress object's metadata and spec; undefined unless exposure.kind is ingress. */
export function buildIngress(config: ExposureSlice):
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
    if (config.server.tls.mode === "internal" && e.className !== TRAEFIK_CLASS) {
        // Vault serves TLS itself: ingress-nginx must speak HTTPS to the backend (Traefik: buildServersTransport).
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
export function buildHttpRoute(config: ExposureSlice): Record<string, unknown> | undefined {
    const e = config.exposure;
    if (e.kind !== "httproute") return undefined;
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

/**
 * The Traefik ServersTransport (traefik.io/v1alpha1) of an Ingress with class
 * traefik in front of a Vault that serves TLS itself: Traefik verifies the
 * pod's certificate against the Secret's ca.crt (not public roots) for the
 * in-cluster Service name the certificate carries. Undefined otherwise.
 * `rootCAs` (entries `{ secret }`) is the Traefik v3 field; v3 still reads the
 * deprecated `rootCAsSecrets` of v2, which is not used here.
 */
export function buildServersTransport(
    config: ExposureSlice,
): { readonly name: string; readonly spec: Record<string, unknown> } | undefined {
    const tls = config.server.tls;
    if (!traefikBackendTls(config) || tls.mode !== "internal") return undefined;
    const caSecret = tls.caSecretName ?? tls.secretName;
    return {
        name: SERVERS_TRANSPORT_NAME,
        spec: {
            serverName: serviceHost(RELEASE_NAME, config.server.namespace),
            rootCAs: [{ secret: caSecret }],
        },
    };
}
