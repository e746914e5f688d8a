/* eslint-disable @typescript-eslint/no-explicit-any -- resource props are untyped engine data; each rule narrows what it reads */
/**
 * The platform's security invariants as plain functions over the resources a
 * preview would register. policies.ts wraps them for @pulumi/policy; the
 * specs call them directly with synthetic resources and with the resources
 * the program produces under mocks.
 */
import { UNSEALER_NAME } from "../../components/lib/contracts";

/** What a rule sees of one resource: its type, name, inputs and options. */
export interface GuardResource {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    readonly props: Record<string, any>;
    readonly opts: { readonly protect: boolean };
    /** The resource's provider, when it has an explicit one. */
    readonly provider?: { readonly type: string; readonly props: Record<string, any> };
    /** The parent's URN (a Helm chart's rendered objects are its children). */
    readonly parent?: string;
}

export type Report = (message: string, urn?: string) => void;

export interface GuardRule {
    readonly name: string;
    readonly description: string;
    readonly enforcementLevel: "mandatory" | "advisory";
    /** Checks one resource (types it does not care about pass). */
    readonly validateResource?: (r: GuardResource, report: Report) => void;
    /** Checks relations across the whole stack. */
    readonly validateStack?: (resources: readonly GuardResource[], report: Report) => void;
}

const BUCKET = /^aws:s3\/bucket(V2)?:Bucket(V2)?$/;
const KMS_KEY = "aws:kms/key:Key";
const VERSIONING = /^aws:s3\/bucketVersioning(V2)?:/;
const ENCRYPTION = /^aws:s3\/bucketServerSideEncryptionConfiguration(V2)?:/;
const PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock";
const BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy";
const IAM_POLICIES = new Set([
    "aws:iam/policy:Policy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/rolePolicy:RolePolicy",
]);
const CHART = /^kubernetes:helm\.sh\/v[34]:(Chart|Release)$/;
const NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
const JWT_ROLE = "vault:jwt/authBackendRole:AuthBackendRole";
const K8S_ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole";
const MOUNT = "vault:index/mount:Mount";
const AUDIT = "vault:index/audit:Audit";
const STORE = /^kubernetes:external-secrets\.io\/v\d+\w*:(Cluster)?SecretStore$/;
const WORKLOADS = new Set(["kubernetes:batch/v1:CronJob", "kubernetes:apps/v1:Deployment"]);

/** The one plain-http redirect URI allowed: the Vault CLI's local callback. */
export const CLI_CALLBACK = "http://localhost:8250/oidc/callback";
/** Token TTLs above this are reported (advisory). */
export const MAX_TOKEN_TTL_SECONDS = 24 * 3600;

/**
 * Buckets on AWS itself. A bucket created through a provider with an S3
 * endpoint override lives on Garage/MinIO, which has no KMS, public access
 * block or bucket policies; the AWS hardening rules do not apply there.
 */
function awsBucketsOf(resources: readonly GuardResource[]): GuardResource[] {
    return resources.filter((r) => BUCKET.test(r.type) && !hasS3Endpoint(r));
}

function hasS3Endpoint(r: GuardResource): boolean {
    // Provider inputs reach the engine JSON-encoded: `endpoints` arrives as a string.
    const raw = r.provider?.props.endpoints;
    const endpoints = typeof raw === "string" ? (parseJson(raw) ?? []) : raw;
    return list(endpoints).some((e: any) => typeof e?.s3 === "string" && e.s3 !== "");
}

function parseJson(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return undefined;
    }
}

function bucketName(r: GuardResource): string {
    return String(r.props.bucket ?? r.name);
}

/** For each bucket, the resources of a kind that configure it (matched by bucket name). */
function forEachBucket(
    resources: readonly GuardResource[],
    kind: (r: GuardResource) => boolean,
    check: (bucket: GuardResource, configs: GuardResource[]) => string | undefined,
    report: Report,
): void {
    for (const bucket of awsBucketsOf(resources)) {
        const configs = resources.filter((r) => kind(r) && r.props.bucket === bucketName(bucket));
        const problem = check(bucket, configs);
        if (problem !== undefined) report(`bucket ${bucketName(bucket)}: ${problem}`, bucket.urn);
    }
}

function parseDocument(policy: unknown): { Statement?: any[] } | undefined {
    if (typeof policy === "string") return parseJson(policy) as { Statement?: any[] } | undefined;
    return typeof policy === "object" && policy !== null ? (policy as { Statement?: any[] }) : undefined;
}

const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * What the chart rules check of one Vault release. The real engine hands a
 * policy pack a `helm.sh/v4:Chart` (a remote component) with no props at all,
 * so the rules read its rendered children there (the StatefulSet, the config
 * ConfigMap, injector and CSI objects); under the mocks, and for a v3
 * Release, the Chart's own values.
 */
export interface VaultRelease {
    readonly urn: string;
    readonly name: string;
    /** Where the facts come from; "none" when the pack sees neither values nor rendered objects. */
    readonly source: "values" | "rendered" | "none";
    readonly namespace?: string;
    /** The chart version, when known. */
    readonly version?: string;
    readonly hcl: string;
    readonly devMode: boolean;
    readonly injector: boolean;
    readonly csi: boolean;
    /** HA mode: ha.enabled in the values, or more than one server replica rendered. */
    readonly ha: boolean;
    /** Paths of credential-like values (in the values, or in the rendered pods' env and ConfigMaps). */
    readonly credentials: string[];
}

const VAULT_CHART_LABEL = /^vault-(.+)$/;

/** Resources that look like the Vault chart: a v3/v4 Chart or Release named vault, or with children labelled vault-<version>. */
export function vaultReleases(resources: readonly GuardResource[]): VaultRelease[] {
    const out: VaultRelease[] = [];
    for (const r of resources.filter((x) => CHART.test(x.type))) {
        const children = resources.filter((c) => c.parent === r.urn);
        const rendered = children.filter((c) => VAULT_CHART_LABEL.test(String(labelsOf(c)["helm.sh/chart"] ?? "")));
        if (r.props.chart === "vault") out.push(fromValues(r));
        else if (rendered.length > 0) out.push(fromRendered(r, children, rendered));
        else if (Object.keys(r.props).length === 0 && children.length === 0) out.push(invisible(r));
    }
    return out;
}

function labelsOf(r: GuardResource): Record<string, unknown> {
    return (r.props.metadata?.labels ?? {}) as Record<string, unknown>;
}

function fromValues(r: GuardResource): VaultRelease {
    const values = (r.props.values ?? {}) as Record<string, any>;
    const server = values.server ?? {};
    const credentials: string[] = [];
    findCredentials(values, "", credentials);
    return {
        urn: r.urn,
        name: r.name,
        source: "values",
        namespace: r.props.namespace === undefined ? undefined : String(r.props.namespace),
        version: r.props.version === undefined ? undefined : String(r.props.version),
        hcl: String(server.ha?.raft?.config ?? server.ha?.config ?? server.standalone?.config ?? ""),
        devMode: server.dev?.enabled === true,
        injector: values.injector?.enabled !== false,
        csi: values.csi?.enabled === true,
        ha: server.ha?.enabled === true,
        credentials: credentials.map((path) => `Helm value ${path}`),
    };
}

function fromRendered(r: GuardResource, children: GuardResource[], rendered: GuardResource[]): VaultRelease {
    const kind = (c: GuardResource) => String(c.props.kind ?? c.type.split(":").pop());
    const label = String(labelsOf(rendered[0])["helm.sh/chart"]);
    const servers = children.filter(
        (c) => kind(c) === "StatefulSet" && labelsOf(c)["app.kubernetes.io/name"] !== undefined,
    );
    const configMaps = children.filter((c) => kind(c) === "ConfigMap");
    const hcl = configMaps
        .flatMap((c) => Object.entries((c.props.data ?? {}) as Record<string, unknown>))
        .filter(([key]) => key.endsWith(".hcl") || key.endsWith(".json"))
        .map(([, v]) => String(v))
        .join("\n");
    const containers = servers.flatMap((c) => list(c.props.spec?.template?.spec?.containers) as any[]);
    const devMode = containers.some(
        (c) =>
            [...list(c.args), ...list(c.command)].some((a) => /(^|\s)-dev(\s|$)/.test(String(a))) ||
            list(c.env).some((e: any) => e?.name === "VAULT_DEV_ROOT_TOKEN_ID"),
    );
    const named = (suffix: string) =>
        children.some((c) => String(labelsOf(c)["app.kubernetes.io/name"] ?? "").endsWith(suffix));
    const credentials: string[] = [];
    for (const c of containers) {
        for (const e of list(c.env) as any[]) {
            if (typeof e?.value !== "string" || e.value === "") continue;
            if (
                (CREDENTIAL_KEY.test(String(e.name)) && !REFERENCE_KEY.test(String(e.name))) ||
                CREDENTIAL_VALUE.test(e.value)
            )
                credentials.push(`env ${String(e.name)} of container ${String(c.name)}`);
        }
    }
    for (const c of configMaps) {
        for (const [key, v] of Object.entries((c.props.data ?? {}) as Record<string, unknown>)) {
            if (CREDENTIAL_VALUE.test(String(v)))
                credentials.push(`ConfigMap ${String(c.props.metadata?.name)} key ${key}`);
        }
    }
    return {
        urn: r.urn,
        name: r.name,
        source: "rendered",
        namespace: servers[0]?.props.metadata?.namespace ?? rendered[0].props.metadata?.namespace,
        version: (VAULT_CHART_LABEL.exec(label) as RegExpExecArray)[1],
        hcl,
        devMode,
        injector: named("-agent-injector"),
        csi: named("-csi-provider"),
        ha: servers.some((c) => Number(c.props.spec?.replicas ?? 1) > 1) || /ha_enabled\s*=\s*"?true/.test(hcl),
        credentials,
    };
}

function invisible(r: GuardResource): VaultRelease {
    return {
        urn: r.urn,
        name: r.name,
        source: "none",
        hcl: "",
        devMode: false,
        injector: false,
        csi: false,
        ha: false,
        credentials: [],
    };
}

/** The report every chart rule makes when it has nothing to look at. */
function nothingToCheck(rel: VaultRelease): string {
    return `${rel.name}: the policy pack sees neither the chart's values nor its rendered objects, so nothing was checked`;
}

/** A chart rule over every Vault release of the stack; an invisible release is a violation, never a pass. */
function chartRule(check: (rel: VaultRelease, report: (message: string) => void) => void) {
    return (resources: readonly GuardResource[], report: Report) => {
        for (const rel of vaultReleases(resources)) {
            if (rel.source === "none") report(nothingToCheck(rel), rel.urn);
            else check(rel, (message) => report(message, rel.urn));
        }
    };
}

/** Keys whose string value would be a credential; references (secretName/secretKey) are fine. */
const CREDENTIAL_KEY = /(token|secret|password|passwd|access.?key|private.?key|credential)/i;
const REFERENCE_KEY = /^(secretName|secretKey|existingSecret|.*SecretName|.*SecretRef|.*secretRef)$/;
const CREDENTIAL_VALUE = /(AKIA[0-9A-Z]{16}|hvs\.[A-Za-z0-9_-]{20,}|-----BEGIN [A-Z ]*PRIVATE KEY-----)/;

function findCredentials(value: unknown, path: string, found: string[]): void {
    if (typeof value === "string") {
        if (CREDENTIAL_VALUE.test(value)) found.push(path);
        return;
    }
    if (Array.isArray(value)) {
        value.forEach((v, i) => findCredentials(v, `${path}[${i}]`, found));
        return;
    }
    if (typeof value === "object" && value !== null) {
        for (const [k, v] of Object.entries(value)) {
            const child = path === "" ? k : `${path}.${k}`;
            if (typeof v === "string" && v !== "" && CREDENTIAL_KEY.test(k) && !REFERENCE_KEY.test(k))
                found.push(child);
            else findCredentials(v, child, found);
        }
    }
}

function durationSeconds(v: unknown): number | undefined {
    if (typeof v === "number") return v;
    const m = /^(\d+)(s|m|h|d)?$/.exec(String(v));
    if (m === null) return undefined;
    return Number(m[1]) * ({ s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[m[2] ?? "s"];
}

function podSpecOf(r: GuardResource): Record<string, any> | undefined {
    const spec = r.props.spec ?? {};
    return r.type === "kubernetes:batch/v1:CronJob" ? spec.jobTemplate?.spec?.template?.spec : spec.template?.spec;
}

function isUnsealer(r: GuardResource): boolean {
    const labels = r.props.metadata?.labels ?? {};
    return WORKLOADS.has(r.type) && labels["app.kubernetes.io/name"] === UNSEALER_NAME;
}

export const rules: readonly GuardRule[] = [
    {
        name: "storage-bucket-versioning",
        description: "Vault's storage bucket on AWS keeps object versions (the point-in-time restore window).",
        enforcementLevel: "mandatory",
        validateStack: (resources, report) =>
            forEachBucket(
                resources,
                (r) => VERSIONING.test(r.type),
                (_b, configs) =>
                    configs.some((c) => c.props.versioningConfiguration?.status === "Enabled")
                        ? undefined
                        : "versioning must be Enabled (a BucketVersioning with status Enabled)",
                report,
            ),
    },
    {
        name: "storage-bucket-sse-kms",
        description: "Vault's storage bucket encrypts by default with a customer-managed KMS key and bucket keys.",
        enforcementLevel: "mandatory",
        validateStack: (resources, report) =>
            forEachBucket(
                resources,
                (r) => ENCRYPTION.test(r.type),
                (_b, configs) => {
                    const ok = configs.some((c) =>
                        list(c.props.rules).some(
                            (rule: any) =>
                                rule?.applyServerSideEncryptionByDefault?.sseAlgorithm === "aws:kms" &&
                                typeof rule?.applyServerSideEncryptionByDefault?.kmsMasterKeyId === "string" &&
                                rule?.bucketKeyEnabled === true,
                        ),
                    );
                    return ok
                        ? undefined
                        : "default encryption must be SSE-KMS with a customer-managed key and bucket keys";
                },
                report,
            ),
    },
    {
        name: "storage-bucket-public-access-block",
        description: "All four public-access-block flags are on for Vault's storage bucket.",
        enforcementLevel: "mandatory",
        validateStack: (resources, report) =>
            forEachBucket(
                resources,
                (r) => r.type === PUBLIC_ACCESS_BLOCK,
                (_b, configs) => {
                    const flags = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"];
                    const ok = configs.some((c) => flags.every((f) => c.props[f] === true));
                    return ok ? undefined : `public access block must set ${flags.join(", ")} to true`;
                },
                report,
            ),
    },
    {
        name: "storage-bucket-tls-only",
        description: "Vault's storage bucket policy denies every request made without TLS.",
        enforcementLevel: "mandatory",
        validateStack: (resources, report) =>
            forEachBucket(
                resources,
                (r) => r.type === BUCKET_POLICY,
                (_b, configs) => {
                    const ok = configs.some((c) =>
                        list(parseDocument(c.props.policy)?.Statement).some(
                            (s: any) =>
                                s?.Effect === "Deny" && String(s?.Condition?.Bool?.["aws:SecureTransport"]) === "false",
                        ),
                    );
                    return ok ? undefined : "bucket policy must deny requests where aws:SecureTransport is false";
                },
                report,
            ),
    },
    {
        name: "storage-data-protected",
        description: "The storage bucket and KMS keys are protected: a destroy never deletes Vault's data or its keys.",
        enforcementLevel: "mandatory",
        validateResource: (r, report) => {
            if ((BUCKET.test(r.type) || r.type === KMS_KEY) && !r.opts.protect) {
                report(`${r.type} ${r.name} must be protected (protect: true)`);
            }
        },
    },
    {
        name: "iam-no-wildcards",
        description: "IAM policies grant named actions on named resources: no '*' action or resource.",
        enforcementLevel: "mandatory",
        validateResource: (r, report) => {
            if (!IAM_POLICIES.has(r.type)) return;
            const doc = parseDocument(r.props.policy);
            if (doc === undefined) {
                report(`${r.name}: policy document is not valid JSON`);
                return;
            }
            for (const s of list(doc.Statement) as any[]) {
                if (s?.Effect !== "Allow") continue;
                for (const action of list(s.Action).map(String)) {
                    // kms:GenerateDataKey* names a family (…WithoutPlaintext), not "everything".
                    const family = action === "kms:GenerateDataKey*";
                    if (action.includes("*") && !family) report(`${r.name}: wildcard action ${action}`);
                }
                for (const resource of list(s.Resource).map(String)) {
                    if (resource === "*") report(`${r.name}: wildcard resource * for ${list(s.Action).join(", ")}`);
                }
            }
        },
    },
    {
        name: "vault-chart-pinned",
        description: "The Vault chart is installed at an exact version.",
        enforcementLevel: "mandatory",
        validateStack: chartRule((rel, report) => {
            if (!/^\d+\.\d+\.\d+$/.test(rel.version ?? "")) {
                report(`${rel.name}: chart version must be pinned to an exact version, got ${String(rel.version)}`);
            }
        }),
    },
    {
        name: "vault-not-dev-mode",
        description: "Vault never runs in dev mode (in-memory, unsealed, with a known root token).",
        enforcementLevel: "mandatory",
        validateStack: chartRule((rel, report) => {
            if (rel.devMode) report(`${rel.name}: Vault runs in dev mode (server.dev.enabled)`);
        }),
    },
    {
        name: "vault-injector-off",
        description: "The agent injector (a mutating webhook on every pod) and the CSI provider stay off.",
        enforcementLevel: "mandatory",
        validateStack: chartRule((rel, report) => {
            if (rel.injector) report(`${rel.name}: the agent injector is on (injector.enabled must be false)`);
            if (rel.csi) report(`${rel.name}: the CSI provider is on (csi.enabled must not be true)`);
        }),
    },
    {
        name: "vault-no-ha-with-s3",
        description: "Vault's S3 storage backend has no HA: with it, one standalone replica.",
        enforcementLevel: "mandatory",
        validateStack: chartRule((rel, report) => {
            if (/storage\s+"s3"/.test(rel.hcl) && rel.ha) {
                report(`${rel.name}: HA mode with storage "s3" (the S3 backend has no HA; use raft)`);
            }
        }),
    },
    {
        name: "vault-values-no-credentials",
        description:
            "No credential-like value (token, secret, password, access key) in Vault's Helm values or rendered pods.",
        enforcementLevel: "mandatory",
        validateStack: chartRule((rel, report) => {
            for (const where of rel.credentials)
                report(`${rel.name}: ${where} looks like a credential; use a Secret reference`);
        }),
    },
    {
        name: "vault-namespace-default-deny",
        description: "Vault's namespace has a default-deny NetworkPolicy for ingress and egress.",
        enforcementLevel: "mandatory",
        validateStack: (resources, report) => {
            chartRule((rel, report) => {
                const ns = rel.namespace ?? "default";
                const denies = resources.some((r) => {
                    if (r.type !== NETWORK_POLICY || r.props.metadata?.namespace !== ns) return false;
                    const spec = r.props.spec ?? {};
                    const types = list(spec.policyTypes);
                    return (
                        Object.keys(spec.podSelector ?? {}).length === 0 &&
                        types.includes("Ingress") &&
                        types.includes("Egress") &&
                        list(spec.ingress).length === 0 &&
                        list(spec.egress).length === 0
                    );
                });
                if (!denies)
                    report(
                        `namespace ${ns}: no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)`,
                    );
            })(resources, report);
        },
    },
    {
        name: "oidc-redirect-https",
        description: "OIDC roles redirect only to https URIs, except the Vault CLI's localhost callback.",
        enforcementLevel: "mandatory",
        validateResource: (r, report) => {
            if (r.type !== JWT_ROLE) return;
            for (const uri of list(r.props.allowedRedirectUris).map(String)) {
                if (!uri.startsWith("https://") && uri !== CLI_CALLBACK)
                    report(`${r.name}: redirect URI ${uri} is not https`);
            }
        },
    },
    {
        name: "kv-version-2",
        description: "KV mounts are version 2 (versions, check-and-set, metadata).",
        enforcementLevel: "mandatory",
        validateResource: (r, report) => {
            if (r.type !== MOUNT) return;
            const type = String(r.props.type);
            if (type === "kv" && String(r.props.options?.version) !== "2")
                report(`${r.name}: KV mount ${String(r.props.path)} must be version 2`);
        },
    },
    {
        name: "eso-store-kubernetes-auth",
        description: "External Secrets stores authenticate to Vault with Kubernetes auth, never a static token.",
        enforcementLevel: "mandatory",
        validateResource: (r, report) => {
            if (!STORE.test(r.type)) return;
            const auth = r.props.spec?.provider?.vault?.auth ?? {};
            if (auth.tokenSecretRef !== undefined) report(`${r.name}: uses a static token (auth.tokenSecretRef)`);
            if (auth.kubernetes === undefined) report(`${r.name}: must use auth.kubernetes`);
        },
    },
    {
        name: "eso-store-namespaces",
        description:
            "Cluster-wide External Secrets stores admit only listed namespaces (spec.conditions); a store open to every namespace lets anyone who may edit an ExternalSecret read its whole mount.",
        enforcementLevel: "advisory",
        validateResource: (r, report) => {
            if (!STORE.test(r.type) || !r.type.endsWith(":ClusterSecretStore")) return;
            if (list(r.props.spec?.conditions).length === 0)
                report(
                    `${r.name}: no spec.conditions, every namespace may use it (externalSecrets.allNamespaces); list them in externalSecrets.namespaceConditions`,
                );
        },
    },
    {
        name: "eso-store-audience",
        description:
            "External Secrets stores log in with a token for Vault's audience (serviceAccountRef.audiences), not the API server's.",
        enforcementLevel: "mandatory",
        validateResource: (r, report) => {
            if (!STORE.test(r.type)) return;
            const ref = r.props.spec?.provider?.vault?.auth?.kubernetes?.serviceAccountRef;
            if (ref !== undefined && list(ref.audiences).length === 0)
                report(`${r.name}: serviceAccountRef has no audiences (kubernetesAuth.audience)`);
        },
    },
    {
        name: "unsealer-hardened",
        description: "Unsealer workloads have no API token and read unseal keys from mounted files, never env.",
        enforcementLevel: "mandatory",
        validateResource: (r, report) => {
            if (!isUnsealer(r)) return;
            const pod = podSpecOf(r) ?? {};
            if (pod.automountServiceAccountToken !== false)
                report(`${r.name}: automountServiceAccountToken must be false`);
            for (const c of list(pod.containers) as any[]) {
                for (const env of list(c?.env) as any[]) {
                    if (env?.valueFrom?.secretKeyRef !== undefined)
                        report(`${r.name}: env ${String(env.name)} reads a Secret; mount it as a file`);
                }
                if (list(c?.envFrom).some((e: any) => e?.secretRef !== undefined))
                    report(`${r.name}: envFrom reads a Secret; mount it as a file`);
            }
            if (!list(pod.volumes).some((v: any) => v?.secret !== undefined))
                report(`${r.name}: unseal keys must come from a mounted Secret volume`);
        },
    },
    {
        name: "token-ttl-bounded",
        description: "Tokens issued by login roles are short-lived.",
        enforcementLevel: "advisory",
        validateResource: (r, report) => {
            if (r.type !== JWT_ROLE && r.type !== K8S_ROLE) return;
            for (const key of ["tokenTtl", "tokenMaxTtl"]) {
                const seconds = durationSeconds(r.props[key]);
                if (seconds !== undefined && seconds > MAX_TOKEN_TTL_SECONDS) {
                    report(`${r.name}: ${key} of ${seconds}s is above ${MAX_TOKEN_TTL_SECONDS}s`);
                }
            }
        },
    },
    {
        name: "audit-device-present",
        description: "Vault has an audit device: every request leaves a trace.",
        enforcementLevel: "advisory",
        validateStack: (resources, report) => {
            const configured = resources.some((r) => r.type.startsWith("vault:"));
            if (configured && !resources.some((r) => r.type === AUDIT))
                report("no Vault audit device (vault.Audit) in the stack");
        },
    },
];
