import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseHcl } from "@cdktf/hcl2json";
import Ajv, { ValidateFunction } from "ajv";
import { parse as parseYaml } from "yaml";
import { loadConfig, PlatformConfig } from "../../components/config";
import { CONTAINER_SECURITY_CONTEXT, POD_SECURITY_CONTEXT } from "../../components/lib/pod-security";
import {
    CHART_ENV_BEFORE_API_ADDR,
    awsSharedCredentialsFile,
    buildVaultValues,
    HA_READINESS_PATH,
    HEALTH_PATH,
    internalUrl,
    serverHclOf,
    ServerStorageFacts,
} from "../../components/lib/helm-values";
import { USERCONFIG_DIR } from "../../components/lib/server-hcl";
import { AUDIT_ROTATE_SCRIPT } from "../../components/lib/audit-rotator";
import { TLS_RELOAD_SCRIPT } from "../../components/lib/tls-reloader";
import { requiredEgress } from "../../components/lib/network-policy";
import { readStackFile } from "../../ops/stack-file";
import { awsStack, homelabStack, KMS_EGRESS } from "../support/fixtures";
import { requireReference } from "../support/reference";
import { requireTool } from "../support/tools";
import { at, listAt, objectAt, only, stringAt } from "../support/inputs";

// The chart's own files at the pinned version, from the tool cache (`npm run tools`); loaded in a before hook.
let valuesYamlText = "";
let chartDefaults: Record<string, unknown> = {};
let validateValues: ValidateFunction;

/** The anti-affinity term over Vault's server pods, per node (the chart's default, required or preferred). */
const SERVER_POD_NODE_TERM = {
    labelSelector: {
        matchLabels: { "app.kubernetes.io/name": "vault", "app.kubernetes.io/instance": "vault", component: "server" },
    },
    topologyKey: "kubernetes.io/hostname",
};

type Stack = { values: Record<string, any>; secrets: Record<string, any> };

/** The typed config of a fixture stack, through the real loader (no engine needed). */
function configOf(stack: Stack): PlatformConfig {
    const raw: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...stack.values, ...stack.secrets })) {
        raw[k] = typeof v === "string" ? v : JSON.stringify(v);
    }
    return loadConfig({
        get: (k) => raw[k],
        isSecret: (k) => k in stack.secrets,
        keys: () => Object.keys(raw),
    });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Keys the chart's templates read that values.yaml only documents in a
 * comment (e.g. `# path: /v1/sys/health?standbyok=true` under readinessProbe).
 * Each one is checked to really sit commented in its parent block.
 */
const DOCUMENTED_IN_COMMENTS = ["server.readinessProbe.path"];

/** Whether `# <last>:` is a commented line inside the block of `a.b` in values.yaml. */
function documentedInComment(keyPath: string): boolean {
    const segments = keyPath.split(".");
    const lines = valuesYamlText.split("\n");
    let start = 0;
    let indent = -2;
    for (const seg of segments.slice(0, -1)) {
        indent += 2;
        const re = new RegExp(`^ {${indent}}${seg}:`);
        const at = lines.findIndex((l, i) => i >= start && re.test(l));
        if (at < 0) return false;
        start = at + 1;
    }
    const last = segments[segments.length - 1];
    for (let i = start; i < lines.length; i++) {
        const line = lines[i];
        const own = line.length - line.trimStart().length;
        if (line.trim() !== "" && !line.trimStart().startsWith("#") && own <= indent) break;
        if (new RegExp(`^\\s*#\\s*${last}:`).test(line)) return true;
    }
    return false;
}

/**
 * Every key path set in `values` that the chart does not know. A path is
 * known when values.yaml has it, or it sits under a free-form map (a default
 * of `{}`), or under a non-map default (a string/list the chart renders as a
 * whole), or is one of the keys documented in comments.
 */
function unknownKeyPaths(values: unknown, defaults: unknown = chartDefaults, prefix = ""): string[] {
    if (!isObject(values)) return [];
    const unknown: string[] = [];
    for (const [key, value] of Object.entries(values)) {
        const keyPath = prefix === "" ? key : `${prefix}.${key}`;
        const known = isObject(defaults) && key in defaults;
        if (!known) {
            if (!(DOCUMENTED_IN_COMMENTS.includes(keyPath) && documentedInComment(keyPath))) unknown.push(keyPath);
            continue;
        }
        const def = (defaults as Record<string, unknown>)[key];
        if (isObject(value) && isObject(def) && Object.keys(def).length > 0) {
            unknown.push(...unknownKeyPaths(value, def, keyPath));
        }
    }
    return unknown;
}

/** Helm's coalesce of user values over the chart defaults: maps merge, everything else replaces. */
function coalesce(defaults: unknown, values: unknown): unknown {
    if (!isObject(defaults) || !isObject(values)) return values === undefined ? defaults : values;
    const out: Record<string, unknown> = { ...defaults };
    for (const [k, v] of Object.entries(values)) out[k] = coalesce(defaults[k], v);
    return out;
}

const ajv = new Ajv({ strict: false, allErrors: true });
// The chart's schema names draft-07 by its https URL; it is ajv's draft-07 meta-schema.
ajv.addMetaSchema({
    ...require("ajv/dist/refs/json-schema-draft-07.json"),
    $id: "https://json-schema.org/draft-07/schema#",
});

function garageFacts(): ServerStorageFacts {
    return {
        bucket: "vault-amiya",
        region: "garage",
        endpoint: "https://s3.amiya.akn",
        forcePathStyle: true,
        prefix: "vault/",
        storageCredentials: { secretName: "vault-storage-credentials", delivery: "env" },
    };
}

function awsFacts(): ServerStorageFacts {
    return {
        bucket: "prod-example-vault",
        region: "eu-west-1",
        forcePathStyle: false,
        storageKmsKeyId: "arn:aws:kms:eu-west-1:123456789012:key/storage",
        seal: { kmsKeyId: "arn:aws:kms:eu-west-1:123456789012:key/seal", region: "eu-west-1" },
        storageCredentials: { secretName: "vault-storage-credentials", delivery: "env" },
    };
}

interface Case {
    readonly name: string;
    readonly stack: () => Stack;
    readonly facts: () => ServerStorageFacts;
}

function homelabRaftTls(): Stack {
    const s = homelabStack();
    s.values.server = {
        storageBackend: "raft",
        replicas: 3,
        tls: { mode: "internal", secretName: "vault-server-tls", caSecretName: "vault-ca" },
        dataStorage: { size: "20Gi", storageClass: "longhorn" },
    };
    return s;
}

function garageWithKmsSeal(): Stack {
    const s = homelabStack();
    s.values.unseal = { mode: "awskms", kmsKeyId: "arn:aws:kms:eu-central-1:123456789012:key/abc" };
    s.values.networkPolicy.egress.kms = KMS_EGRESS;
    s.secrets.sealAccessKeyId = "AKIASEALTEST";
    s.secrets.sealSecretAccessKey = "seal-secret-test";
    return s;
}

function awsIrsa(): Stack {
    const s = awsStack();
    s.values.storage.identity = "role";
    s.values.storage.irsa = {
        oidcProviderArn: "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC",
        oidcProviderUrl: "oidc.eks.eu-west-1.amazonaws.com/id/ABC",
    };
    return s;
}

/** The real amiya stack file (its secrets are placeholders). */
function amiyaStack(): Stack {
    const file = readStackFile("amiya");
    return { values: { ...file.values }, secrets: { ...(file.secrets ?? {}) } };
}

const cases: Case[] = [
    { name: "the amiya stack file (Pulumi.amiya.yaml)", stack: amiyaStack, facts: garageFacts },
    { name: "homelab: Garage, Shamir, TLS at the ingress", stack: homelabStack, facts: garageFacts },
    { name: "aws: IAM user, SSE-KMS, awskms seal", stack: awsStack, facts: awsFacts },
    {
        name: "aws: IRSA role",
        stack: awsIrsa,
        facts: () => ({ ...awsFacts(), storageCredentials: undefined, roleArn: "arn:aws:iam::123456789012:role/v" }),
    },
    { name: "homelab: raft HA with internal TLS", stack: homelabRaftTls, facts: garageFacts },
    {
        name: "homelab: Garage with an AWS KMS seal and its own keys",
        stack: garageWithKmsSeal,
        facts: () => ({
            ...garageFacts(),
            seal: { kmsKeyId: "arn:aws:kms:eu-central-1:123456789012:key/abc", region: "garage" },
            storageCredentials: { secretName: "vault-storage-credentials", delivery: "sharedFile" },
            sealCredentialsSecret: "vault-seal-credentials",
        }),
    },
];

describe("buildVaultValues against the real chart (vault-helm 0.34.1)", () => {
    before(function () {
        const chartDir = requireReference(this, "vault-helm-0.34.1");
        valuesYamlText = fs.readFileSync(path.join(chartDir, "values.yaml"), "utf8");
        chartDefaults = parseYaml(valuesYamlText) as Record<string, unknown>;
        validateValues = ajv.compile(JSON.parse(fs.readFileSync(path.join(chartDir, "values.schema.json"), "utf8")));
    });

    it("the detector itself: catches a misspelled key and a key under a known map", () => {
        assert.deepEqual(unknownKeyPaths({ server: { standalone: { enabld: true }, readinesProbe: {} } }), [
            "server.standalone.enabld",
            "server.readinesProbe",
        ]);
        assert.deepEqual(unknownKeyPaths({ server: { livenessProbe: { paht: "/" } } }), ["server.livenessProbe.paht"]);
        // Free-form maps accept any key; commented keys only where values.yaml documents them.
        assert.deepEqual(unknownKeyPaths({ server: { resources: { anything: 1 } } }), []);
        assert.equal(documentedInComment("server.readinessProbe.path"), true);
        assert.equal(documentedInComment("server.livenessProbe.command"), false);
    });

    it("the schema check itself rejects a wrong type", () => {
        assert.equal(validateValues(coalesce(chartDefaults, { server: { ha: { replicas: "3" } } })), false);
    });

    for (const c of cases) {
        describe(c.name, () => {
            const values = buildVaultValues(configOf(c.stack()), c.facts());

            it("sets only key paths the chart knows", () => {
                assert.deepEqual(unknownKeyPaths(values), []);
            });

            it("validates against values.schema.json, merged over the defaults as Helm does", () => {
                const ok = validateValues(coalesce(chartDefaults, values));
                assert.ok(ok, JSON.stringify(validateValues.errors, null, 2));
            });

            it("carries a server HCL that parses", async () => {
                const hcl = (await parseHcl("server.hcl", serverHclOf(values))) as Record<string, unknown>;
                assert.ok(hcl.listener !== undefined && hcl.storage !== undefined);
            });
        });
    }
});

describe("buildVaultValues: the settings", () => {
    it("homelab default: standalone S3, hardened pod, probes tolerant of sealed/uninit/standby", () => {
        const config = configOf(homelabStack());
        const v = buildVaultValues(config, garageFacts());
        assert.deepEqual(at(v, "global"), { enabled: true, tlsDisable: true });
        assert.deepEqual(at(v, "injector"), { enabled: false });
        assert.deepEqual(at(v, "csi"), { enabled: false });
        assert.deepEqual(at(v, "ui"), { enabled: true, serviceType: "ClusterIP" });
        assert.deepEqual(at(v, "server", "image"), {
            repository: "hashicorp/vault",
            tag: "2.0.4",
            pullPolicy: "IfNotPresent",
        });
        assert.equal(at(v, "server", "standalone", "enabled"), true);
        assert.equal(at(v, "server", "ha", "enabled"), false);
        assert.equal(at(v, "server", "ha", "apiAddr"), "http://vault.vault.svc:8200");
        assert.deepEqual(at(v, "server", "authDelegator"), { enabled: true });
        assert.deepEqual(at(v, "server", "ingress"), { enabled: false });
        assert.deepEqual(at(v, "server", "networkPolicy"), { enabled: false });
        assert.equal(at(v, "server", "logFormat"), "json");
        assert.equal(at(v, "server", "logLevel"), "info");
        assert.deepEqual(at(v, "server", "resources"), {
            requests: { cpu: "100m", memory: "256Mi" },
            limits: { memory: "512Mi" },
        });
        assert.deepEqual(at(v, "server", "statefulSet", "securityContext"), {
            pod: {
                runAsNonRoot: true,
                runAsUser: 100,
                runAsGroup: 1000,
                fsGroup: 1000,
                seccompProfile: { type: "RuntimeDefault" },
            },
            container: {
                runAsNonRoot: true,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
            },
        });
        assert.equal(HEALTH_PATH, "/v1/sys/health?standbyok=true&sealedcode=204&uninitcode=204");
        for (const probe of [objectAt(v, "server", "readinessProbe"), objectAt(v, "server", "livenessProbe")]) {
            assert.equal(probe.enabled, true);
            assert.equal(probe.path, HEALTH_PATH);
            assert.equal(probe.port, 8200);
        }
        // Standalone: a sealed pod stays Ready, and pulumi awaits the StatefulSet as usual.
        assert.equal(at(v, "server", "statefulSet", "annotations"), undefined);
        assert.deepEqual(at(v, "server", "auditStorage"), {
            enabled: true,
            size: "2Gi",
            mountPath: "/vault/audit",
            accessMode: "ReadWriteOnce",
        });
        assert.equal(at(v, "server", "dataStorage", "enabled"), false);
        assert.deepEqual(at(v, "server", "serviceAccount"), {
            create: true,
            annotations: {},
            serviceDiscovery: { enabled: false },
        });
        // Credentials by reference only.
        assert.deepEqual(at(v, "server", "extraSecretEnvironmentVars"), [
            { envName: "AWS_ACCESS_KEY_ID", secretName: "vault-storage-credentials", secretKey: "AWS_ACCESS_KEY_ID" },
            {
                envName: "AWS_SECRET_ACCESS_KEY",
                secretName: "vault-storage-credentials",
                secretKey: "AWS_SECRET_ACCESS_KEY",
            },
        ]);
        assert.deepEqual(at(v, "server", "extraEnvironmentVars"), {});
        // The read-only root needs a writable /tmp (the chart copies the config there).
        assert.deepEqual(at(v, "server", "volumes"), [
            { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
        ]);
        assert.deepEqual(at(v, "server", "volumeMounts"), [{ name: "tmp", mountPath: "/tmp" }]);
        assert.deepEqual(at(v, "server", "affinity"), {
            podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [SERVER_POD_NODE_TERM] },
        });
        assert.equal(at(v, "server", "updateStrategyType"), "RollingUpdate");
        assert.deepEqual(at(v, "server", "persistentVolumeClaimRetentionPolicy"), {
            whenDeleted: "Retain",
            whenScaled: "Retain",
        });
    });

    it("the amiya stack file: standalone S3, every egress flow it needs has a CIDR", () => {
        const config = configOf(amiyaStack());
        const v = buildVaultValues(config, garageFacts());
        assert.equal(at(v, "server", "standalone", "enabled"), true);
        // Every flow it needs has a rule (the loader refuses a config where one has none).
        assert.deepEqual(
            requiredEgress(config).map((n) => [n.target, config.networkPolicy.egress[n.target] !== undefined]),
            [
                ["s3", true],
                ["oidc", true],
                ["kubernetesApi", true],
            ],
        );
    });

    it("exports the same security contexts it sets", () => {
        const v = buildVaultValues(configOf(homelabStack()), garageFacts());
        assert.equal(at(v, "server", "statefulSet", "securityContext", "pod"), POD_SECURITY_CONTEXT);
        assert.equal(at(v, "server", "statefulSet", "securityContext", "container"), CONTAINER_SECURITY_CONTEXT);
    });

    it("raft HA: replicas, PDB, node ids, per-pod api_addr, data volume, TLS mounts", async () => {
        const config = configOf(homelabRaftTls());
        const v = buildVaultValues(config, garageFacts());
        assert.deepEqual(at(v, "server", "standalone"), { enabled: false });
        assert.equal(at(v, "server", "ha", "enabled"), true);
        assert.equal(at(v, "server", "ha", "replicas"), 3);
        assert.equal(at(v, "server", "ha", "apiAddr"), "https://$(VAULT_K8S_POD_NAME).vault-internal:8200");
        // Kubernetes expands $(VAR) only from env vars defined before it; the chart sets HOSTNAME after
        // VAULT_API_ADDR (hashicorp/vault-helm#993), so only these may appear in ha.apiAddr.
        for (const [, ref] of String(at(v, "server", "ha", "apiAddr")).matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
            assert.ok(
                (CHART_ENV_BEFORE_API_ADDR as readonly string[]).includes(ref),
                `ha.apiAddr references $(${ref}), which the chart defines after VAULT_API_ADDR`,
            );
        }
        assert.equal(at(v, "server", "ha", "raft", "enabled"), true);
        assert.equal(at(v, "server", "ha", "raft", "setNodeId"), true);
        assert.deepEqual(at(v, "server", "ha", "disruptionBudget"), { enabled: true, maxUnavailable: 1 });
        assert.deepEqual(at(v, "server", "dataStorage"), {
            enabled: true,
            size: "20Gi",
            storageClass: "longhorn",
            mountPath: "/vault/data",
            accessMode: "ReadWriteOnce",
        });
        assert.deepEqual(at(v, "global"), { enabled: true, tlsDisable: false });
        assert.equal(at(v, "server", "updateStrategyType"), "RollingUpdate");
        assert.equal(at(v, "server", "shareProcessNamespace"), true);
        assert.deepEqual(at(v, "server", "extraContainers"), [
            {
                name: "tls-reloader",
                image: "hashicorp/vault:2.0.4",
                imagePullPolicy: "IfNotPresent",
                command: [
                    "/bin/sh",
                    "-c",
                    TLS_RELOAD_SCRIPT,
                    "tls-reloader",
                    "/vault/userconfig/vault-server-tls/tls.crt",
                    "/vault/userconfig/vault-server-tls/tls.key",
                ],
                env: [{ name: "RELOAD_INTERVAL_SECONDS", value: "30" }],
                securityContext: CONTAINER_SECURITY_CONTEXT,
                resources: { requests: { cpu: "5m", memory: "8Mi" }, limits: { memory: "32Mi" } },
                volumeMounts: [{ name: "tls", mountPath: "/vault/userconfig/vault-server-tls", readOnly: true }],
            },
            // The audit log's rotation (audit.rotation defaults), on the chart's audit volume.
            {
                name: "audit-rotator",
                image: "hashicorp/vault:2.0.4",
                imagePullPolicy: "IfNotPresent",
                command: ["/bin/sh", "-c", AUDIT_ROTATE_SCRIPT, "audit-rotator", "/vault/audit/vault-audit.log"],
                env: [
                    { name: "MAX_BYTES", value: String(400 * 1024 * 1024) },
                    { name: "KEEP", value: "3" },
                    { name: "CHECK_INTERVAL_SECONDS", value: "30" },
                ],
                securityContext: CONTAINER_SECURITY_CONTEXT,
                resources: { requests: { cpu: "5m", memory: "8Mi" }, limits: { memory: "32Mi" } },
                volumeMounts: [{ name: "audit", mountPath: "/vault/audit" }],
            },
        ]);
        assert.deepEqual(at(v, "server", "serviceAccount", "serviceDiscovery"), { enabled: true });
        assert.deepEqual(at(v, "server", "volumes"), [
            { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
            { name: "tls", secret: { secretName: "vault-server-tls", defaultMode: 0o440 } },
            { name: "tls-ca", secret: { secretName: "vault-ca", defaultMode: 0o440 } },
        ]);
        assert.deepEqual(at(v, "server", "volumeMounts"), [
            { name: "tmp", mountPath: "/tmp" },
            { name: "tls", mountPath: "/vault/userconfig/vault-server-tls", readOnly: true },
            { name: "tls-ca", mountPath: "/vault/userconfig/vault-ca", readOnly: true },
        ]);
        assert.deepEqual(at(v, "server", "extraEnvironmentVars"), {
            VAULT_CACERT: "/vault/userconfig/vault-ca/ca.crt",
        });
        // The raft HCL's api_addr matches the env the chart sets from ha.apiAddr (HOSTNAME is sed-filled).
        const hcl = objectAt(await parseHcl("server.hcl", stringAt(v, "server", "ha", "raft", "config")));
        assert.equal(hcl.api_addr, "https://HOSTNAME.vault-internal:8200");
        assert.equal(listAt(only(at(hcl, "storage", "raft"), "storage.raft"), "retry_join").length, 3);
        assert.equal(
            at(only(at(hcl, "listener", "tcp"), "listener.tcp"), "tls_cert_file"),
            "/vault/userconfig/vault-server-tls/tls.crt",
        );
        assert.equal(internalUrl(config), "https://vault.vault.svc:8200");
    });

    it("the audit-rotator sidecar runs only for a file audit log with rotation on", () => {
        const containers = (change: (s: ReturnType<typeof homelabStack>) => void) => {
            const s = homelabStack();
            change(s);
            const v = buildVaultValues(configOf(s), garageFacts());
            return {
                names: ((at(v, "server", "extraContainers") ?? []) as { name: string }[]).map((c) => c.name),
                shared: at(v, "server", "shareProcessNamespace"),
            };
        };
        assert.deepEqual(
            containers(() => undefined),
            { names: ["audit-rotator"], shared: true },
        );
        const off = { names: [], shared: undefined };
        assert.deepEqual(
            containers((s) => (s.values.audit = { target: "stdout" })),
            off,
        );
        assert.deepEqual(
            containers((s) => (s.values.audit = { enabled: false })),
            off,
        );
        assert.deepEqual(
            containers((s) => (s.values.audit = { rotation: { enabled: false } })),
            off,
        );
    });

    it("raft with 5 replicas tolerates two unavailable pods", () => {
        const s = homelabRaftTls();
        s.values.server.replicas = 5;
        const v = buildVaultValues(configOf(s), garageFacts());
        assert.deepEqual(at(v, "server", "ha", "disruptionBudget"), { enabled: true, maxUnavailable: 2 });
        assert.equal(at(v, "server", "ha", "replicas"), 5);
    });

    it("raft on fewer nodes than replicas: antiAffinity preferred turns the chart's required term into a preference, and nothing else", () => {
        const s = homelabRaftTls();
        const required = buildVaultValues(configOf(s), garageFacts());
        s.values.server.antiAffinity = "preferred";
        const v = buildVaultValues(configOf(s), garageFacts());
        const term = SERVER_POD_NODE_TERM;
        assert.deepEqual(at(required, "server", "affinity"), {
            podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] },
        });
        assert.deepEqual(at(v, "server", "affinity"), {
            podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }],
            },
        });
        // The budget, the replicas and everything else stay as with required.
        const rest = (values: object) => {
            const copy = JSON.parse(JSON.stringify(values));
            delete copy.server.affinity;
            return copy;
        };
        assert.deepEqual(rest(v), rest(required));
        assert.deepEqual(at(v, "server", "ha", "disruptionBudget"), { enabled: true, maxUnavailable: 1 });
    });

    it("raft with a single node: no PodDisruptionBudget (a budget of zero would block every drain)", () => {
        const s = homelabRaftTls();
        s.values.server.replicas = 1;
        const v = buildVaultValues(configOf(s), garageFacts());
        assert.deepEqual(at(v, "server", "ha", "disruptionBudget"), { enabled: false });
        assert.equal(at(v, "server", "ha", "replicas"), 1);
    });

    it("raft HA: only an initialized, unsealed pod is Ready and routed; liveness unchanged, no await on the StatefulSet", function () {
        const chartDir = requireReference(this, "vault-helm-0.34.1");
        const chartDefaults = parseYaml(fs.readFileSync(path.join(chartDir, "values.yaml"), "utf8"));
        const v = buildVaultValues(configOf(homelabRaftTls()), garageFacts());
        assert.equal(HA_READINESS_PATH, "/v1/sys/health?standbyok=true&sealedcode=503&uninitcode=503");
        assert.equal(at(v, "server", "readinessProbe", "path"), HA_READINESS_PATH);
        assert.equal(at(v, "server", "livenessProbe", "path"), HEALTH_PATH);
        assert.deepEqual(at(v, "server", "statefulSet", "annotations"), { "pulumi.com/skipAwait": "true" });
        // `vault`, `vault-active`, `vault-standby` and the UI route only to Ready pods (the chart publishes
        // not-ready ones by default); the unsealer and retry_join use `vault-internal`, which lists every pod.
        // Such a Service may rightly have no endpoint for a while (every pod sealed): pulumi does not await it.
        assert.deepEqual(at(v, "server", "service"), {
            annotations: { "pulumi.com/skipAwait": "true" },
            publishNotReadyAddresses: false,
        });
        assert.equal(at(v, "ui", "publishNotReadyAddresses"), false);
        assert.deepEqual(at(v, "ui", "annotations"), { "pulumi.com/skipAwait": "true" });
        assert.equal(at(chartDefaults, "server", "service", "publishNotReadyAddresses"), true);
        assert.equal(at(chartDefaults, "ui", "publishNotReadyAddresses"), true);
        const template = (name: string) => fs.readFileSync(path.join(chartDir, "templates", name), "utf8");
        for (const svc of ["server-service.yaml", "server-ha-active-service.yaml", "server-ha-standby-service.yaml"]) {
            assert.match(
                template(svc),
                /publishNotReadyAddresses: \{\{ \.Values\.server\.service\.publishNotReadyAddresses \}\}/,
            );
        }
        assert.match(
            template("ui-service.yaml"),
            /publishNotReadyAddresses: \{\{ \.Values\.ui\.publishNotReadyAddresses \}\}/,
        );
        assert.match(template("server-headless-service.yaml"), /publishNotReadyAddresses: true/);
        // server.statefulSet.annotations lands on the StatefulSet's own metadata, where pulumi reads skipAwait.
        assert.match(
            template("server-statefulset.yaml"),
            /kind: StatefulSet\n[\s\S]*?\{\{- template "vault\.statefulSet\.annotations" \. \}\}\nspec:/,
        );
    });

    it("raft with a single node: sealed stays Ready (no budget to protect), the StatefulSet is awaited", () => {
        const s = homelabRaftTls();
        s.values.server.replicas = 1;
        const v = buildVaultValues(configOf(s), garageFacts());
        assert.equal(at(v, "server", "readinessProbe", "path"), HEALTH_PATH);
        assert.equal(at(v, "server", "statefulSet", "annotations"), undefined);
        // Its one pod is reached while sealed (bootstrap unseals it through the Service): the chart default stays.
        assert.equal(at(v, "server", "service"), undefined);
        assert.equal(at(v, "ui", "publishNotReadyAddresses"), undefined);
        assert.equal(at(v, "ui", "annotations"), undefined);
    });

    it("a CA in the certificate's own Secret is not mounted twice", () => {
        const s = homelabRaftTls();
        s.values.server.tls.caSecretName = "vault-server-tls";
        const v = buildVaultValues(configOf(s), garageFacts());
        assert.deepEqual(
            listAt(v, "server", "volumes").map((x) => at(x, "name")),
            ["tmp", "tls"],
        );
        assert.deepEqual(at(v, "server", "extraEnvironmentVars"), {
            VAULT_CACERT: "/vault/userconfig/vault-server-tls/ca.crt",
        });
    });

    it("IRSA: the service account carries the role, and no credential Secret is referenced", () => {
        const v = buildVaultValues(configOf(awsIrsa()), {
            ...awsFacts(),
            storageCredentials: undefined,
            roleArn: "arn:aws:iam::123456789012:role/vault",
        });
        assert.deepEqual(at(v, "server", "serviceAccount", "annotations"), {
            "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/vault",
        });
        assert.deepEqual(at(v, "server", "extraSecretEnvironmentVars"), []);
    });

    it("a seal with its own keys: both identities as mounted files, no AWS key in the env", async () => {
        const v = buildVaultValues(configOf(garageWithKmsSeal()), {
            ...garageFacts(),
            seal: { kmsKeyId: "arn:aws:kms:eu-central-1:123456789012:key/abc", region: "eu-central-1" },
            storageCredentials: { secretName: "vault-storage-credentials", delivery: "sharedFile" },
            sealCredentialsSecret: "vault-seal-credentials",
        });
        assert.deepEqual(at(v, "server", "volumes"), [
            { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
            { name: "seal-credentials", secret: { secretName: "vault-seal-credentials", defaultMode: 0o440 } },
            { name: "storage-credentials", secret: { secretName: "vault-storage-credentials", defaultMode: 0o440 } },
        ]);
        assert.deepEqual(at(v, "server", "volumeMounts"), [
            { name: "tmp", mountPath: "/tmp" },
            { name: "seal-credentials", mountPath: "/vault/userconfig/vault-seal-credentials", readOnly: true },
            { name: "storage-credentials", mountPath: "/vault/userconfig/vault-storage-credentials", readOnly: true },
        ]);
        // Vault would map AWS_ACCESS_KEY_ID onto the seal stanza: the S3 backend reads a shared credentials file.
        assert.deepEqual(at(v, "server", "extraSecretEnvironmentVars"), []);
        assert.deepEqual(at(v, "server", "extraEnvironmentVars"), {
            AWS_SHARED_CREDENTIALS_FILE: "/vault/userconfig/vault-storage-credentials/credentials",
        });
        const hcl = objectAt(await parseHcl("server.hcl", serverHclOf(v)));
        const seal = only(at(hcl, "seal", "awskms"), "seal.awskms");
        assert.equal(at(seal, "access_key"), "file:///vault/userconfig/vault-seal-credentials/access-key-id");
        assert.equal(at(seal, "secret_key"), "file:///vault/userconfig/vault-seal-credentials/secret-access-key");
    });

    it("refuses storage keys in the env next to a seal with its own keys", () => {
        assert.throws(
            () =>
                buildVaultValues(configOf(garageWithKmsSeal()), {
                    ...garageFacts(),
                    seal: { kmsKeyId: "arn:aws:kms:eu-central-1:123456789012:key/abc", region: "eu-central-1" },
                    sealCredentialsSecret: "vault-seal-credentials",
                }),
            { message: "buildVaultValues: a seal with its own credentials needs the storage keys as a file, not env" },
        );
    });

    it("awsSharedCredentialsFile: one default profile, trimmed, and no value that would break the file", () => {
        assert.equal(
            awsSharedCredentialsFile("GKid\n", " s3cr/et+x"),
            "[default]\naws_access_key_id = GKid\naws_secret_access_key = s3cr/et+x\n",
        );
        assert.throws(() => awsSharedCredentialsFile("GKid\n[evil]", "x"), {
            message: "secret-platform:storageAccessKeyId: must be a single-line key",
        });
        assert.throws(() => awsSharedCredentialsFile("GKid", "  "), {
            message: "secret-platform:storageSecretAccessKey: must be a single-line key",
        });
    });

    it("refuses an awskms config without a seal key in the storage facts", () => {
        assert.throws(() => buildVaultValues(configOf(awsStack()), { ...awsFacts(), seal: undefined }), {
            message: "buildVaultValues: unseal.mode is awskms but the storage binding has no seal key",
        });
    });
});

/**
 * Runs the real Vault the way the pod would, as far as credentials go: the
 * values' env vars (secret ones resolved from `secrets`), the values' Secret
 * volumes written as files, and the values' HCL with its mount paths moved to
 * a temp dir and its S3/KMS endpoints pointed at two loopback fakes. Returns
 * the access key id each fake saw in the SigV4 Authorization header.
 */
async function credentialsSeen(
    vault: string,
    values: ReturnType<typeof buildVaultValues>,
    secrets: Record<string, Record<string, string>>,
    extraEnv: Record<string, string> = {},
): Promise<{ s3?: string; kms?: string }> {
    const seen: { s3?: string; kms?: string } = {};
    const fake = (service: "s3" | "kms") =>
        http.createServer((req, res) => {
            req.resume();
            req.on("end", () => {
                seen[service] ??= /Credential=([^/]+)\//.exec(req.headers.authorization ?? "")?.[1];
                if (service === "s3") {
                    // An empty bucket listing: the S3 backend's start-up check passes, so the seal is tried next.
                    res.writeHead(200, { "content-type": "application/xml" });
                    res.end(
                        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>false</IsTruncated></ListBucketResult>',
                    );
                } else {
                    res.writeHead(400, { "content-type": "application/x-amz-json-1.1" });
                    res.end(JSON.stringify({ __type: "AccessDeniedException", message: "fake KMS" }));
                }
            });
        });
    const servers = [fake("s3"), fake("kms")];
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.listen(0, "127.0.0.1", r))));
    const [s3Port, kmsPort] = servers.map((s) => (s.address() as { port: number }).port);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vault-creds-"));
    try {
        const userconfig = path.join(dir, "userconfig");
        for (const volume of listAt(values, "server", "volumes")) {
            if (at(volume, "secret") === undefined) continue;
            const secretName = stringAt(volume, "secret", "secretName");
            const secretDir = path.join(userconfig, secretName);
            fs.mkdirSync(secretDir, { recursive: true });
            for (const [file, content] of Object.entries(secrets[secretName] ?? {})) {
                fs.writeFileSync(path.join(secretDir, file), content);
            }
        }
        const hcl = serverHclOf(values)
            .replaceAll(USERCONFIG_DIR, userconfig)
            // Nothing to serve here: never bind the real ports on the test machine.
            .replaceAll('"[::]:8200"', '"127.0.0.1:0"')
            .replaceAll('"[::]:8201"', '"127.0.0.1:0"')
            .replace(/^\s*(endpoint|s3_force_path_style)\s*=.*$/gm, "")
            .replace(
                'storage "s3" {',
                `storage "s3" {\n  endpoint = "http://127.0.0.1:${s3Port}"\n  s3_force_path_style = "true"`,
            )
            .replace('seal "awskms" {', `seal "awskms" {\n  endpoint = "http://127.0.0.1:${kmsPort}"`);
        const file = path.join(dir, "server.hcl");
        fs.writeFileSync(file, hcl + "\ndisable_mlock = true\n");
        const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: dir, ...extraEnv };
        for (const [k, v] of Object.entries(objectAt(values, "server", "extraEnvironmentVars"))) {
            env[k] = String(v).replaceAll(USERCONFIG_DIR, userconfig);
        }
        for (const ref of listAt(values, "server", "extraSecretEnvironmentVars")) {
            env[stringAt(ref, "envName")] = secrets[stringAt(ref, "secretName")][stringAt(ref, "secretKey")];
        }
        await new Promise<void>((resolve) =>
            execFile(
                vault,
                ["operator", "diagnose", `-config=${file}`, "-format=json", "-skip=listener"],
                { env, timeout: 30_000 },
                () => resolve(),
            ),
        );
        return seen;
    } finally {
        for (const s of servers) s.close();
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("credential routing on a real Vault: which identity reaches S3 and KMS", function () {
    let vault: string;
    before(function () {
        vault = requireTool(this, "vault");
    });

    const sealFacts = (): ServerStorageFacts => ({
        ...garageFacts(),
        seal: { kmsKeyId: "arn:aws:kms:eu-central-1:123456789012:key/abc", region: "eu-central-1" },
        storageCredentials: { secretName: "vault-storage-credentials", delivery: "sharedFile" },
        sealCredentialsSecret: "vault-seal-credentials",
    });
    const sealSecrets = {
        "vault-storage-credentials": { credentials: awsSharedCredentialsFile("GKGARAGEKEY", "garage-secret") },
        "vault-seal-credentials": { "access-key-id": "AKIASEALKEY", "secret-access-key": "seal-secret" },
    };

    it("Garage + AWS KMS seal: Garage sees the storage key, KMS the seal's own key", async () => {
        const values = buildVaultValues(configOf(garageWithKmsSeal()), sealFacts());
        assert.deepEqual(await credentialsSeen(vault, values, sealSecrets), { s3: "GKGARAGEKEY", kms: "AKIASEALKEY" });
    });

    it("the check itself: a storage key in the env would be used by the seal (why the file)", async () => {
        const values = buildVaultValues(configOf(garageWithKmsSeal()), sealFacts());
        const env = { AWS_ACCESS_KEY_ID: "GKGARAGEKEY", AWS_SECRET_ACCESS_KEY: "garage-secret" };
        assert.equal((await credentialsSeen(vault, values, sealSecrets, env)).kms, "GKGARAGEKEY");
    });

    it("aws with an IAM user: the env key serves both the S3 backend and the seal", async () => {
        const values = buildVaultValues(configOf(awsStack()), awsFacts());
        const secrets = {
            "vault-storage-credentials": { AWS_ACCESS_KEY_ID: "AKIAUSERKEY", AWS_SECRET_ACCESS_KEY: "user-secret" },
        };
        assert.deepEqual(await credentialsSeen(vault, values, secrets), { s3: "AKIAUSERKEY", kms: "AKIAUSERKEY" });
    });

    it("Garage with Shamir keys: the env key reaches S3, and there is no seal to call", async () => {
        const values = buildVaultValues(configOf(homelabStack()), garageFacts());
        const secrets = {
            "vault-storage-credentials": { AWS_ACCESS_KEY_ID: "GKGARAGEKEY", AWS_SECRET_ACCESS_KEY: "garage-secret" },
        };
        assert.deepEqual(await credentialsSeen(vault, values, secrets), { s3: "GKGARAGEKEY" });
    });
});
