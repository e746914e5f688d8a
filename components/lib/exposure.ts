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
            // The longer prefix wins over `/`; its only backend is a Service that never exists, which
            // makes the ref invalid, and the Gateway API requires a 500 for all traffic of such a rule (core).
            {
                matches: BLOCKED_SYS_PATHS.map((p) => ({ path: { type: "PathPrefix", value: p } })),
                backendRefs: [{ group: "", kind: "Service", name: SYS_BLOCK_NAME, port: API_PORT }],
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

/**
 * Unauthenticated `sys/` endpoints the exposed host never routes: root-token
 * generation, rekeying (unseal and recovery keys), and raft's join challenge.
 * Vault serves them without a token (the key shares are their only gate), so
 * on the LAN anyone could start, cancel or race a ceremony. The key holders
 * reach them through a port-forward (docs/bootstrap.md). Prefixes match whole
 * path segments (Ingress `Prefix`, Gateway `PathPrefix`), so `rekey` and
 * `rekey-recovery-key` are listed apart.
 *
 * `sys/init` and `sys/unseal` stay routed: bootstrap (on the operator's or
 * CI's machine) reaches Vault only through `vault.address`, which is this
 * route (docs/threat-model.md, "A host on the LAN", says what that leaves).
 */
export const BLOCKED_SYS_PATHS = [
    "/v1/sys/generate-root",
    "/v1/sys/generate-recovery-token",
    "/v1/sys/rekey",
    "/v1/sys/rekey-recovery-key",
    "/v1/sys/storage/raft/bootstrap",
] as const;

/** Name of the Ingress (and Traefik Middleware) that refuses BLOCKED_SYS_PATHS. */
export const SYS_BLOCK_NAME = `${RELEASE_NAME}-sys-blocked`;
/** A Service with no selector and so no endpoints: what ingress-nginx answers 503 for. */
export const UNROUTED_SERVICE = `${RELEASE_NAME}-unrouted`;
/** No client address is ever in this range: Traefik's ipAllowList answers 403 to all. */
const NOBODY = "255.255.255.255/32";

/**
 * The Ingress that refuses BLOCKED_SYS_PATHS on the exposed host (the longer
 * prefix wins over `/` of the main Ingress; controllers merge the host's
 * rules). Traefik: routed to Vault's Service but through a Middleware that
 * admits no client (Traefik drops a router whose Service has no endpoints, so
 * `/` would take the request); any other class: routed to a Service with no
 * endpoints (503) and ingress-nginx's deny-all annotation. Undefined unless
 * exposure.kind is ingress.
 */
export function buildSysBlockIngress(config: ExposureSlice):
    | {
          readonly annotations: Record<string, string>;
          readonly spec: Record<string, unknown>;
          /** The Traefik Middleware (traefik.io/v1alpha1) spec, with class traefik only. */
          readonly middleware?: Record<string, unknown>;
      }
    | undefined {
    const e = config.exposure;
    if (e.kind !== "ingress") return undefined;
    const traefik = e.className === TRAEFIK_CLASS;
    const annotations: Record<string, string> = traefik
        ? {
              "traefik.ingress.kubernetes.io/router.middlewares": `${config.server.namespace}-${SYS_BLOCK_NAME}@kubernetescrd`,
          }
        : { "nginx.ingress.kubernetes.io/denylist-source-range": "0.0.0.0/0,::/0" };
    const backend = { service: { name: traefik ? RELEASE_NAME : UNROUTED_SERVICE, port: { number: API_PORT } } };
    return {
        annotations,
        spec: {
            ...(e.className === undefined ? {} : { ingressClassName: e.className }),
            tls: [{ hosts: [e.host], secretName: e.tlsSecretName }],
            rules: [
                {
                    host: e.host,
                    http: { paths: BLOCKED_SYS_PATHS.map((p) => ({ path: p, pathType: "Prefix", backend })) },
                },
            ],
        },
        ...(traefik ? { middleware: { ipAllowList: { sourceRange: [NOBODY] } } } : {}),
    };
}

/** The spec of the Service with no endpoints that blocked paths go to (class other than traefik). */
export function unroutedServiceSpec(): Record<string, unknown> {
    return { type: "ClusterIP", ports: [{ name: "http", port: API_PORT, targetPort: API_PORT }] };
}
