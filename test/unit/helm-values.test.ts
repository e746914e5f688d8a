import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseHcl } from "@cdktf/hcl2json";
import Ajv from "ajv";
import { parse as parseYaml } from "yaml";
import { loadConfig, PlatformConfig } from "../../components/config";
import {
    buildVaultValues,
    CONTAINER_SECURITY_CONTEXT,
    HEALTH_PATH,
    internalUrl,
    POD_SECURITY_CONTEXT,
    serverHclOf,
    ServerStorageFacts,
} from "../../components/lib/helm-values";
import { awsStack, homelabStack } from "../support/fixtures";

// The chart's own files at the pinned version (read in place, never copied).
const CHART_DIR = path.resolve(__dirname, "../../../shared/reference/vault-helm-0.34.1");
const valuesYamlText = fs.readFileSync(path.join(CHART_DIR, "values.yaml"), "utf8");
const chartDefaults = parseYaml(valuesYamlText) as Record<string, unknown>;
const chartSchema = JSON.parse(fs.readFileSync(path.join(CHART_DIR, "values.schema.json"), "utf8"));

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
const validateValues = ajv.compile(chartSchema);

function garageFacts(): ServerStorageFacts {
    return {
        bucket: "vault-amiya",
        region: "garage",
        endpoint: "https://s3.amiya.akn",
        forcePathStyle: true,
        prefix: "vault/",
        credentialsSecret: "vault-storage-credentials",
    };
}

function awsFacts(): ServerStorageFacts {
    return {
        bucket: "prod-example-vault",
        region: "eu-west-1",
        forcePathStyle: false,
        storageKmsKeyId: "arn:aws:kms:eu-west-1:123456789012:key/storage",
        seal: { kmsKeyId: "arn:aws:kms:eu-west-1:123456789012:key/seal", region: "eu-west-1" },
        credentialsSecret: "vault-storage-credentials",
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

const cases: Case[] = [
    { name: "homelab: Garage, Shamir, TLS at the ingress", stack: homelabStack, facts: garageFacts },
    { name: "aws: IAM user, SSE-KMS, awskms seal", stack: awsStack, facts: awsFacts },
    {
        name: "aws: IRSA role",
        stack: awsIrsa,
        facts: () => ({ ...awsFacts(), credentialsSecret: undefined, roleArn: "arn:aws:iam::123456789012:role/v" }),
    },
    { name: "homelab: raft HA with internal TLS", stack: homelabRaftTls, facts: garageFacts },
    {
        name: "homelab: Garage with an AWS KMS seal and its own keys",
        stack: garageWithKmsSeal,
        facts: () => ({
            ...garageFacts(),
            seal: { kmsKeyId: "arn:aws:kms:eu-central-1:123456789012:key/abc", region: "garage" },
            sealCredentialsSecret: "vault-seal-credentials",
        }),
    },
];

describe("buildVaultValues against the real chart (vault-helm 0.34.1)", () => {
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
        const v = buildVaultValues(config, garageFacts()) as any;
        assert.deepEqual(v.global, { enabled: true, tlsDisable: true });
        assert.deepEqual(v.injector, { enabled: false });
        assert.deepEqual(v.csi, { enabled: false });
        assert.deepEqual(v.ui, { enabled: true, serviceType: "ClusterIP" });
        assert.deepEqual(v.server.image, { repository: "hashicorp/vault", tag: "2.0.4", pullPolicy: "IfNotPresent" });
        assert.equal(v.server.standalone.enabled, true);
        assert.equal(v.server.ha.enabled, false);
        assert.equal(v.server.ha.apiAddr, "http://vault.vault.svc:8200");
        assert.deepEqual(v.server.authDelegator, { enabled: true });
        assert.deepEqual(v.server.ingress, { enabled: false });
        assert.deepEqual(v.server.networkPolicy, { enabled: false });
        assert.equal(v.server.logFormat, "json");
        assert.equal(v.server.logLevel, "info");
        assert.deepEqual(v.server.resources, {
            requests: { cpu: "100m", memory: "256Mi" },
            limits: { memory: "512Mi" },
        });
        assert.deepEqual(v.server.statefulSet.securityContext, {
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
        for (const probe of [v.server.readinessProbe, v.server.livenessProbe]) {
            assert.equal(probe.enabled, true);
            assert.equal(probe.path, HEALTH_PATH);
            assert.equal(probe.port, 8200);
        }
        assert.deepEqual(v.server.auditStorage, {
            enabled: true,
            size: "2Gi",
            mountPath: "/vault/audit",
            accessMode: "ReadWriteOnce",
        });
        assert.equal(v.server.dataStorage.enabled, false);
        assert.deepEqual(v.server.serviceAccount, {
            create: true,
            annotations: {},
            serviceDiscovery: { enabled: false },
        });
        // Credentials by reference only.
        assert.deepEqual(v.server.extraSecretEnvironmentVars, [
            { envName: "AWS_ACCESS_KEY_ID", secretName: "vault-storage-credentials", secretKey: "AWS_ACCESS_KEY_ID" },
            {
                envName: "AWS_SECRET_ACCESS_KEY",
                secretName: "vault-storage-credentials",
                secretKey: "AWS_SECRET_ACCESS_KEY",
            },
        ]);
        assert.deepEqual(v.server.extraEnvironmentVars, {});
        // The read-only root needs a writable /tmp (the chart copies the config there).
        assert.deepEqual(v.server.volumes, [{ name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } }]);
        assert.deepEqual(v.server.volumeMounts, [{ name: "tmp", mountPath: "/tmp" }]);
        assert.deepEqual(v.server.affinity, {
            podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [
                    {
                        labelSelector: {
                            matchLabels: {
                                "app.kubernetes.io/name": "vault",
                                "app.kubernetes.io/instance": "vault",
                                component: "server",
                            },
                        },
                        topologyKey: "kubernetes.io/hostname",
                    },
                ],
            },
        });
        assert.equal(v.server.updateStrategyType, "RollingUpdate");
        assert.deepEqual(v.server.persistentVolumeClaimRetentionPolicy, {
            whenDeleted: "Retain",
            whenScaled: "Retain",
        });
    });

    it("exports the same security contexts it sets", () => {
        const v = buildVaultValues(configOf(homelabStack()), garageFacts()) as any;
        assert.equal(v.server.statefulSet.securityContext.pod, POD_SECURITY_CONTEXT);
        assert.equal(v.server.statefulSet.securityContext.container, CONTAINER_SECURITY_CONTEXT);
    });

    it("raft HA: replicas, PDB, node ids, per-pod api_addr, data volume, TLS mounts", async () => {
        const config = configOf(homelabRaftTls());
        const v = buildVaultValues(config, garageFacts()) as any;
        assert.deepEqual(v.server.standalone, { enabled: false });
        assert.equal(v.server.ha.enabled, true);
        assert.equal(v.server.ha.replicas, 3);
        assert.equal(v.server.ha.apiAddr, "https://$(HOSTNAME).vault-internal:8200");
        assert.equal(v.server.ha.raft.enabled, true);
        assert.equal(v.server.ha.raft.setNodeId, true);
        assert.deepEqual(v.server.ha.disruptionBudget, { enabled: true, maxUnavailable: 1 });
        assert.deepEqual(v.server.dataStorage, {
            enabled: true,
            size: "20Gi",
            storageClass: "longhorn",
            mountPath: "/vault/data",
            accessMode: "ReadWriteOnce",
        });
        assert.deepEqual(v.global, { enabled: true, tlsDisable: false });
        assert.equal(v.server.updateStrategyType, "OnDelete");
        assert.deepEqual(v.server.serviceAccount.serviceDiscovery, { enabled: true });
        assert.deepEqual(v.server.volumes, [
            { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
            { name: "tls", secret: { secretName: "vault-server-tls", defaultMode: 0o440 } },
            { name: "tls-ca", secret: { secretName: "vault-ca", defaultMode: 0o440 } },
        ]);
        assert.deepEqual(v.server.volumeMounts, [
            { name: "tmp", mountPath: "/tmp" },
            { name: "tls", mountPath: "/vault/userconfig/vault-server-tls", readOnly: true },
            { name: "tls-ca", mountPath: "/vault/userconfig/vault-ca", readOnly: true },
        ]);
        assert.deepEqual(v.server.extraEnvironmentVars, { VAULT_CACERT: "/vault/userconfig/vault-ca/ca.crt" });
        // The raft HCL's api_addr matches the env the chart sets from ha.apiAddr (HOSTNAME is sed-filled).
        const hcl = (await parseHcl("server.hcl", v.server.ha.raft.config)) as any;
        assert.equal(hcl.api_addr, "https://HOSTNAME.vault-internal:8200");
        assert.equal(hcl.storage.raft[0].retry_join.length, 3);
        assert.equal(hcl.listener.tcp[0].tls_cert_file, "/vault/userconfig/vault-server-tls/tls.crt");
        assert.equal(internalUrl(config), "https://vault.vault.svc:8200");
    });

    it("raft with 5 replicas tolerates two unavailable pods", () => {
        const s = homelabRaftTls();
        s.values.server.replicas = 5;
        const v = buildVaultValues(configOf(s), garageFacts()) as any;
        assert.deepEqual(v.server.ha.disruptionBudget, { enabled: true, maxUnavailable: 2 });
        assert.equal(v.server.ha.replicas, 5);
    });

    it("a CA in the certificate's own Secret is not mounted twice", () => {
        const s = homelabRaftTls();
        s.values.server.tls.caSecretName = "vault-server-tls";
        const v = buildVaultValues(configOf(s), garageFacts()) as any;
        assert.deepEqual(
            v.server.volumes.map((x: any) => x.name),
            ["tmp", "tls"],
        );
        assert.deepEqual(v.server.extraEnvironmentVars, { VAULT_CACERT: "/vault/userconfig/vault-server-tls/ca.crt" });
    });

    it("IRSA: the service account carries the role, and no credential Secret is referenced", () => {
        const v = buildVaultValues(configOf(awsIrsa()), {
            ...awsFacts(),
            credentialsSecret: undefined,
            roleArn: "arn:aws:iam::123456789012:role/vault",
        }) as any;
        assert.deepEqual(v.server.serviceAccount.annotations, {
            "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/vault",
        });
        assert.deepEqual(v.server.extraSecretEnvironmentVars, []);
    });

    it("a seal with its own keys mounts their Secret as files for the seal stanza", async () => {
        const v = buildVaultValues(configOf(garageWithKmsSeal()), {
            ...garageFacts(),
            seal: { kmsKeyId: "arn:aws:kms:eu-central-1:123456789012:key/abc", region: "eu-central-1" },
            sealCredentialsSecret: "vault-seal-credentials",
        }) as any;
        assert.deepEqual(v.server.volumes[1], {
            name: "seal-credentials",
            secret: { secretName: "vault-seal-credentials", defaultMode: 0o440 },
        });
        assert.deepEqual(v.server.volumeMounts[1], {
            name: "seal-credentials",
            mountPath: "/vault/userconfig/vault-seal-credentials",
            readOnly: true,
        });
        const hcl = (await parseHcl("server.hcl", serverHclOf(v))) as any;
        assert.equal(hcl.seal.awskms[0].access_key, "file:///vault/userconfig/vault-seal-credentials/access-key-id");
        // The storage keeps the standard AWS env for Garage.
        assert.equal(v.server.extraSecretEnvironmentVars[0].secretName, "vault-storage-credentials");
    });

    it("refuses an awskms config without a seal key in the storage facts", () => {
        assert.throws(() => buildVaultValues(configOf(awsStack()), { ...awsFacts(), seal: undefined }), {
            message: "buildVaultValues: unseal.mode is awskms but the storage binding has no seal key",
        });
    });
});
