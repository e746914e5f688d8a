/**
 * The Helm values of the official `vault` chart, built from the typed config
 * and plain (already resolved) storage facts. No Pulumi here: the specs check
 * every key path against the chart's values.yaml and the whole against its
 * values.schema.json.
 *
 * Secrets never pass through this function: it only learns the *names* of the
 * Kubernetes Secrets that hold credentials, and refers to them.
 */
import { PlatformConfig } from "../config";
import {
    API_PORT,
    METRICS_PORT,
    podApiUrl,
    RELEASE_NAME,
    SERVER_POD_LABELS,
    serviceApiUrl,
    vaultScheme,
} from "./contracts";
import { renderServerHcl, USERCONFIG_DIR } from "./server-hcl";
import { CONTAINER_SECURITY_CONTEXT, POD_SECURITY_CONTEXT } from "./pod-security";
import { TRUST_CA_CONFIGMAP, TRUST_CA_KEY, trustBundle, vaultPodS3UsesBundle } from "./trust";
import { tlsReloaderContainer } from "./tls-reloader";
import { auditRotatorContainer } from "./audit-rotator";
import { AUDIT_FILE_PATH, AUDIT_MOUNT_PATH, vaultImageRef, vaultImageTag } from "./contracts";

export { SEAL_KEY_FILES } from "./server-hcl";

/** Secret with the S3 backend's static keys (and the seal's, when they are the same identity). */
export const STORAGE_CREDENTIALS_SECRET = `${RELEASE_NAME}-storage-credentials`;
/** Secret with the awskms seal's own keys as files (s3-compatible storage with an AWS KMS seal). */
export const SEAL_CREDENTIALS_SECRET = `${RELEASE_NAME}-seal-credentials`;
/** File name of the AWS shared credentials file in the storage Secret (`sharedFile` delivery). */
export const SHARED_CREDENTIALS_FILE = "credentials";
/**
 * The env vars the chart's StatefulSet defines before VAULT_API_ADDR, in order:
 * the only ones `server.ha.apiAddr` may reference as $(VAR).
 */
export const CHART_ENV_BEFORE_API_ADDR = [
    "HOST_IP",
    "POD_IP",
    "VAULT_K8S_POD_NAME",
    "VAULT_K8S_NAMESPACE",
    "VAULT_ADDR",
] as const;
/** The chart's env var holding the pod name (fieldRef metadata.name), defined before VAULT_API_ADDR. */
export const CHART_POD_NAME_ENV = "VAULT_K8S_POD_NAME";
/** Health endpoint answering 200/204 when active, standby, sealed or uninitialized. */
export const HEALTH_PATH = "/v1/sys/health?standbyok=true&sealedcode=204&uninitcode=204";
/**
 * Readiness of raft HA pods: only an initialized, unsealed pod (active or
 * standby) is Ready. A sealed pod, or one that has not joined the cluster yet
 * (it answers "not initialized"), answers 503: the PodDisruptionBudget counts
 * it as unavailable (no drain evicts an unsealed voter while another is
 * sealed), and the Services that publish only Ready pods send it no traffic.
 */
export const HA_READINESS_PATH = "/v1/sys/health?standbyok=true&sealedcode=503&uninitcode=503";

/** What the values need to know about storage and seal, with Outputs already resolved. */
export interface ServerStorageFacts {
    readonly bucket: string;
    readonly region: string;
    readonly endpoint?: string;
    readonly forcePathStyle: boolean;
    readonly prefix?: string;
    /** SSE-KMS key of the bucket (aws mode). */
    readonly storageKmsKeyId?: string;
    /** The awskms seal, when unseal.mode is awskms. */
    readonly seal?: { readonly kmsKeyId: string; readonly region: string };
    /**
     * Static S3 credentials, by Secret name: `env` sets AWS_ACCESS_KEY_ID /
     * AWS_SECRET_ACCESS_KEY from the Secret's keys of those names;
     * `sharedFile` mounts the Secret and points AWS_SHARED_CREDENTIALS_FILE at
     * its `credentials` file (used when the seal has its own keys: Vault lets
     * AWS_* env vars override the seal stanza, so they must stay unset).
     */
    readonly storageCredentials?: { readonly secretName: string; readonly delivery: "env" | "sharedFile" };
    /** Name of the Secret with the seal's own key files; unset when the seal shares the storage identity. */
    readonly sealCredentialsSecret?: string;
    /** IAM role for IRSA; annotates the service account. */
    readonly roleArn?: string;
}

// A loose JSON value type: the chart's values are free-form YAML.
type Values = { [key: string]: unknown };

/** The in-cluster URL of the Vault Service (contract: `http(s)://vault.<ns>.svc:8200`). */
export function internalUrl(config: Pick<PlatformConfig, "server">): string {
    return serviceApiUrl(vaultScheme(config.server.tls), RELEASE_NAME, config.server.namespace);
}

/** The IngressClass name this program treats as Traefik (amiya's; k3s's bundled controller). */
export const TRAEFIK_CLASS = "traefik";
/** The Traefik ServersTransport that verifies Vault's own certificate (in Vault's namespace). */
export const SERVERS_TRANSPORT_NAME = `${RELEASE_NAME}-backend-tls`;

/** True when Traefik routes an Ingress to a Vault that serves TLS itself. */
export function traefikBackendTls(config: Pick<PlatformConfig, "server" | "exposure">): boolean {
    return (
        config.exposure.kind === "ingress" &&
        config.exposure.className === TRAEFIK_CLASS &&
        config.server.tls.mode === "internal"
    );
}

/**
 * Annotations of the chart's `vault` Service (the Ingress backend): with
 * Traefik and internal TLS, speak https to the pods through the
 * ServersTransport that trusts Vault's CA. Empty otherwise.
 */
export function serviceAnnotations(config: Pick<PlatformConfig, "server" | "exposure">): Record<string, string> {
    if (!traefikBackendTls(config)) return {};
    return {
        "traefik.ingress.kubernetes.io/service.serversscheme": "https",
        // <namespace>-<name>@kubernetescrd: the CRD provider's name of the ServersTransport.
        "traefik.ingress.kubernetes.io/service.serverstransport": `${config.server.namespace}-${SERVERS_TRANSPORT_NAME}@kubernetescrd`,
    };
}

/**
 * `required`: the chart's default, made explicit (never two Vault pods on one node).
 * `preferred`: the same term as a preference, so fewer nodes than replicas still schedule.
 */
function serverAffinity(mode: "required" | "preferred") {
    const term = { labelSelector: { matchLabels: { ...SERVER_POD_LABELS } }, topologyKey: "kubernetes.io/hostname" };
    return {
        podAntiAffinity:
            mode === "required"
                ? { requiredDuringSchedulingIgnoredDuringExecution: [term] }
                : { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] },
    };
}

function probe(initialDelaySeconds: number, path: string = HEALTH_PATH) {
    return {
        enabled: true,
        path,
        port: API_PORT,
        failureThreshold: 3,
        initialDelaySeconds,
        periodSeconds: 10,
        successThreshold: 1,
        timeoutSeconds: 5,
    };
}

/** How the monitoring namespace scrapes Vault's metrics listener; undefined when none is set. */
export function metricsScrape(
    config: Pick<PlatformConfig, "networkPolicy" | "server">,
): "annotations" | "serviceMonitor" | undefined {
    if (config.networkPolicy.monitoringNamespace === undefined) return undefined;
    return config.server.metricsScrape ?? "annotations";
}

/** The pod annotations Prometheus' usual `kubernetes-pods` job reads (it sends an OpenMetrics Accept header, which Vault answers in Prometheus format). */
export function scrapeAnnotations(config: Pick<PlatformConfig, "server">): Record<string, string> {
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": String(METRICS_PORT),
        "prometheus.io/path": "/v1/sys/metrics",
        "prometheus.io/scheme": vaultScheme(config.server.tls),
    };
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
    return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The keys the chart's values are built from (storage: whether Vault's S3 client needs trust.caBundle). */
export type VaultValuesSlice = Pick<
    PlatformConfig,
    "server" | "unseal" | "networkPolicy" | "exposure" | "trust" | "audit"
> & {
    readonly storage: Pick<PlatformConfig["storage"], "mode" | "endpoint">;
};

/** The chart's values for this config. Throws when the storage facts contradict the config. */
export function buildVaultValues(config: VaultValuesSlice, storage: ServerStorageFacts): Values {
    const server = config.server;
    const raft = server.storageBackend === "raft";
    const internalTls = server.tls.mode === "internal";
    const scheme = vaultScheme(server.tls);
    const haReadiness = raft && server.replicas > 1;

    if (config.unseal.mode === "awskms" && storage.seal === undefined) {
        throw new Error("buildVaultValues: unseal.mode is awskms but the storage binding has no seal key");
    }
    if (storage.sealCredentialsSecret !== undefined && storage.storageCredentials?.delivery === "env") {
        // Vault maps AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY over the seal stanza's keys (configutil.AWSKMSEnvVars).
        throw new Error("buildVaultValues: a seal with its own credentials needs the storage keys as a file, not env");
    }

    // Secrets mounted as files under /vault/userconfig/<name>/, read-only, group-readable by vault.
    const volumes: Values[] = [{ name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } }];
    // The chart copies the config to /tmp before sed-ing it; the root filesystem is read-only.
    const volumeMounts: Values[] = [{ name: "tmp", mountPath: "/tmp" }];
    const mountSecret = (volume: string, secretName: string) => {
        volumes.push({ name: volume, secret: { secretName, defaultMode: 0o440 } });
        volumeMounts.push({ name: volume, mountPath: `${USERCONFIG_DIR}/${secretName}`, readOnly: true });
        return `${USERCONFIG_DIR}/${secretName}`;
    };

    let tls: { certDir: string; caFile?: string } | undefined;
    let tlsReloader: Values | undefined;
    const extraEnvironmentVars: Record<string, string> = {};
    if (server.tls.mode === "internal") {
        const certDir = mountSecret("tls", server.tls.secretName);
        tlsReloader = tlsReloaderContainer({
            image: vaultImageRef(server.image),
            volumeMounts: volumeMounts.filter((m) => m.name === "tls"),
            files: [`${certDir}/tls.crt`, `${certDir}/tls.key`],
        });
        const ca = server.tls.caSecretName;
        const caDir = ca === undefined ? undefined : ca === server.tls.secretName ? certDir : mountSecret("tls-ca", ca);
        tls = { certDir, caFile: caDir === undefined ? undefined : `${caDir}/ca.crt` };
        // The vault CLI inside the pod (and `kubectl exec` operators) talks to https://127.0.0.1:8200.
        if (tls.caFile !== undefined) extraEnvironmentVars.VAULT_CACERT = tls.caFile;
    }

    const rotation = config.audit.rotation;
    const auditRotator =
        config.audit.enabled && config.audit.target === "file" && rotation.enabled
            ? auditRotatorContainer({
                  image: vaultImageRef(server.image),
                  file: AUDIT_FILE_PATH,
                  mountPath: AUDIT_MOUNT_PATH,
                  maxSizeMi: rotation.maxSizeMi,
                  keep: rotation.keep,
              })
            : undefined;
    const sidecars = [tlsReloader, auditRotator].filter((c) => c !== undefined);

    const sealCredentialsDir =
        storage.sealCredentialsSecret === undefined
            ? undefined
            : mountSecret("seal-credentials", storage.sealCredentialsSecret);

    const creds = storage.storageCredentials;
    const extraSecretEnvironmentVars =
        creds?.delivery === "env"
            ? ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].map((key) => ({
                  envName: key,
                  secretName: creds.secretName,
                  secretKey: key,
              }))
            : [];
    if (trustBundle(config) !== undefined) {
        // The private CA bundle (a ConfigMap: a CA is public). Vault's S3 backend builds its client with
        // aws-sdk-go v1's session.NewSession, which reads AWS_CA_BUNDLE (session.loadCustomCABundle) and
        // trusts exactly that file, so it is set only when the backend's endpoint is the private one.
        const dir = `${USERCONFIG_DIR}/${TRUST_CA_CONFIGMAP}`;
        volumes.push({ name: "trust-ca", configMap: { name: TRUST_CA_CONFIGMAP, defaultMode: 0o444 } });
        volumeMounts.push({ name: "trust-ca", mountPath: dir, readOnly: true });
        if (vaultPodS3UsesBundle(config)) extraEnvironmentVars.AWS_CA_BUNDLE = `${dir}/${TRUST_CA_KEY}`;
    }
    if (creds?.delivery === "sharedFile") {
        // The S3 backend's AWS credential chain reads the default profile of this file (no AWS_* key env set).
        const dir = mountSecret("storage-credentials", creds.secretName);
        extraEnvironmentVars.AWS_SHARED_CREDENTIALS_FILE = `${dir}/${SHARED_CREDENTIALS_FILE}`;
    }

    const hcl = renderServerHcl({
        s3: raft
            ? undefined
            : {
                  bucket: storage.bucket,
                  region: storage.region,
                  endpoint: storage.endpoint,
                  forcePathStyle: storage.forcePathStyle,
                  prefix: storage.prefix,
                  kmsKeyId: storage.storageKmsKeyId,
              },
        raft: raft ? { replicas: server.replicas } : undefined,
        seal:
            config.unseal.mode === "awskms" && storage.seal !== undefined
                ? { region: storage.seal.region, kmsKeyId: storage.seal.kmsKeyId, credentialsDir: sealCredentialsDir }
                : undefined,
        tls,
        apiAddr: internalUrl(config),
        logLevel: server.logLevel,
        metricsListener: metricsScrape(config) !== undefined,
    });

    const requests = withoutUndefined(server.resources.requests);
    const limits = withoutUndefined(server.resources.limits);
    const resources = withoutUndefined({
        requests: Object.keys(requests).length > 0 ? requests : undefined,
        limits: Object.keys(limits).length > 0 ? limits : undefined,
    });

    const storageVolume = (s: { size: string; storageClass?: string }, mountPath: string, enabled: boolean) =>
        withoutUndefined({
            enabled,
            size: s.size,
            storageClass: s.storageClass,
            mountPath,
            accessMode: "ReadWriteOnce",
        });

    // Raft HA: a Service of only Ready pods may rightly have none for a while (every pod sealed or not joined
    // yet); pulumi must not await its endpoints. Bootstrap waits for a pod that serves itself.
    const skipAwait = haReadiness ? { "pulumi.com/skipAwait": "true" } : {};
    const serviceAnnotationValues = {
        ...(traefikBackendTls(config) ? serviceAnnotations(config) : {}),
        ...skipAwait,
    };
    const service = withoutUndefined({
        // Traefik reads its backend scheme and transport from the Service the Ingress points at.
        annotations: Object.keys(serviceAnnotationValues).length === 0 ? undefined : serviceAnnotationValues,
        // Raft HA: `vault` (the Ingress, bootstrap, ESO, the KV export) and `vault-active` route only to Ready
        // pods, initialized and unsealed, never to one restarting sealed or not joined yet. The unsealer and
        // raft's retry_join use each pod's own name on `vault-internal`, which always publishes every pod.
        // One replica keeps the chart default: its pod is reached while sealed, to unseal it.
        publishNotReadyAddresses: haReadiness ? false : undefined,
    });

    return {
        global: { enabled: true, tlsDisable: !internalTls },
        injector: { enabled: false },
        csi: { enabled: false },
        ui: {
            enabled: true,
            serviceType: "ClusterIP",
            ...(haReadiness ? { publishNotReadyAddresses: false, annotations: skipAwait } : {}),
        },
        server: {
            enabled: true,
            image: {
                repository: server.image.repository,
                tag: vaultImageTag(server.image),
                pullPolicy: "IfNotPresent",
            },
            // A changed pod template (HCL, credentials checksum) rolls the pods. Raft HA rolls one pod at a
            // time, highest ordinal first (vault-0, usually the active node, last): a restarted pod is not Ready
            // until the unsealer unseals it (HA_READINESS_PATH), so the next one waits and quorum holds.
            updateStrategyType: "RollingUpdate",
            // A config checksum on the pod template, so a changed HCL is a changed pod spec.
            includeConfigAnnotation: true,
            annotations: metricsScrape(config) === "annotations" ? scrapeAnnotations(config) : {},
            logLevel: server.logLevel,
            logFormat: "json",
            resources,
            ...(Object.keys(service).length === 0 ? {} : { service }),
            // Exposure is this program's own Ingress/HTTPRoute, typed and validated; not the chart's.
            ingress: { enabled: false },
            httproute: { enabled: false },
            route: { enabled: false },
            // Kubernetes auth needs TokenReview: a ClusterRoleBinding to system:auth-delegator.
            authDelegator: { enabled: true },
            // Liveness never restarts a sealed pod (restarting only seals it again).
            readinessProbe: probe(5, haReadiness ? HA_READINESS_PATH : HEALTH_PATH),
            livenessProbe: probe(60),
            extraEnvironmentVars,
            extraSecretEnvironmentVars,
            volumes,
            volumeMounts,
            // SIGHUP from a sidecar: a renewed internal-TLS certificate (tls-reloader.ts), a rotated audit
            // log (audit-rotator.ts). Only a shared process namespace lets one container signal another.
            ...(sidecars.length === 0 ? {} : { shareProcessNamespace: true, extraContainers: sidecars }),
            affinity: serverAffinity(server.antiAffinity),
            // This program writes its own NetworkPolicies (default deny + allows).
            networkPolicy: { enabled: false },
            statefulSet: {
                // Sealed HA pods are not Ready, and only the unsealer or bootstrap (both after the chart) unseal
                // them: pulumi must not await the StatefulSet's readiness. Bootstrap waits for the API itself.
                ...(haReadiness ? { annotations: skipAwait } : {}),
                securityContext: { pod: POD_SECURITY_CONTEXT, container: CONTAINER_SECURITY_CONTEXT },
            },
            auditStorage: storageVolume(server.auditStorage, AUDIT_MOUNT_PATH, true),
            dataStorage: storageVolume(server.dataStorage, "/vault/data", raft),
            // Raft data and audit logs outlive a deleted or scaled-down StatefulSet.
            persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
            serviceAccount: {
                create: true,
                annotations: storage.roleArn === undefined ? {} : { "eks.amazonaws.com/role-arn": storage.roleArn },
                // Raft's service_registration "kubernetes" labels pods active/standby; standalone needs no API write.
                serviceDiscovery: { enabled: raft },
            },
            standalone: raft ? { enabled: false } : { enabled: true, config: hcl },
            ha: raft
                ? {
                      enabled: true,
                      replicas: server.replicas,
                      // The chart's VAULT_API_ADDR env wins over api_addr in the HCL: keep them equal.
                      // Kubernetes expands $(VAR) only from env vars defined earlier in the container: the
                      // chart defines HOSTNAME after VAULT_API_ADDR (hashicorp/vault-helm#993), so
                      // $(HOSTNAME) would stay literal; VAULT_K8S_POD_NAME (the pod name) comes before it.
                      apiAddr: podApiUrl(scheme, `$(${CHART_POD_NAME_ENV})`),
                      raft: { enabled: true, setNodeId: true, config: hcl },
                      // Keeps quorum through node drains; a single raft node has no quorum to keep, and a
                      // budget of zero would block every drain.
                      disruptionBudget:
                          server.replicas > 1
                              ? { enabled: true, maxUnavailable: Math.floor((server.replicas - 1) / 2) }
                              : { enabled: false },
                  }
                : { enabled: false, apiAddr: internalUrl(config) },
        },
    };
}

/**
 * An AWS shared credentials file with one `[default]` profile. Surrounding
 * whitespace (a pasted newline) is dropped; a line break inside a value would
 * end the entry early, so it is refused.
 */
export function awsSharedCredentialsFile(accessKeyId: string, secretAccessKey: string): string {
    const line = (what: string, v: string) => {
        const t = v.trim();
        if (t === "" || /[\r\n]/.test(t)) throw new Error(`secret-platform:${what}: must be a single-line key`);
        return t;
    };
    return (
        `[default]\naws_access_key_id = ${line("storageAccessKeyId", accessKeyId)}\n` +
        `aws_secret_access_key = ${line("storageSecretAccessKey", secretAccessKey)}\n`
    );
}

/** The HCL inside a values object (standalone or raft), for specs and diagnostics. */
export function serverHclOf(values: Values): string {
    const server = values.server as { standalone: { config?: string }; ha: { raft?: { config?: string } } };
    const hcl = server.standalone.config ?? server.ha.raft?.config;
    if (hcl === undefined) throw new Error("values carry no server HCL");
    return hcl;
}
