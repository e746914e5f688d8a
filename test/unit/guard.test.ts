import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import {
    ResourceValidation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import { buildPlatform } from "../../components/platform";
import { policies } from "../../policies/guard/policies";
import { GuardResource, rules } from "../../policies/guard/rules";
import { awsStack, homelabStack } from "../support/fixtures";
import { readStackFile } from "../../ops/stack-file";
import { runProgram, StackConfig, valueOf } from "../support/program";

function res(type: string, name: string, props: Record<string, any>, protect = false): GuardResource {
    return { type, name, urn: `urn:pulumi:test::secret-platform::${type}::${name}`, props, opts: { protect } };
}

/** Runs one policy (through its @pulumi/policy wrapper) and returns the violations it reports. */
async function violations(name: string, resources: GuardResource[]): Promise<string[]> {
    const policy = policies.find((p) => p.name === name);
    assert.ok(policy, `no policy ${name}`);
    const found: string[] = [];
    const report = (message: string) => found.push(message);
    const common = { stackTags: new Map<string, string>(), getConfig: () => ({}), notApplicable: () => undefined };
    const stackPolicy = policy as StackValidationPolicy;
    if (typeof stackPolicy.validateStack === "function") {
        // As the engine hands them over: a PolicyResource's parent is the parent resource, not its URN.
        const engineResources = resources.map((r) => ({
            ...r,
            parent: r.parent === undefined ? undefined : { urn: r.parent },
        }));
        await stackPolicy.validateStack(
            { ...common, resources: engineResources } as unknown as StackValidationArgs,
            report,
        );
    } else {
        const validate = (policy as ResourceValidationPolicy).validateResource;
        assert.equal(typeof validate, "function", `${name} validates nothing`);
        for (const r of resources) {
            const args = { ...common, ...r, isType: () => false, asType: () => undefined };
            await (validate as ResourceValidation)(args as unknown as ResourceValidationArgs, report);
        }
    }
    return found;
}

const bucket = (protect = true) => res("aws:s3/bucket:Bucket", "data", { bucket: "vault-data" }, protect);
const tlsPolicy = JSON.stringify({
    Version: "2012-10-17",
    Statement: [
        {
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: ["arn:aws:s3:::vault-data"],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
    ],
});
const chart = (values: Record<string, any>, version = "0.34.1") =>
    res("kubernetes:helm.sh/v4:Chart", "vault", { chart: "vault", version, namespace: "vault", values });
const goodValues = () => ({
    injector: { enabled: false },
    csi: { enabled: false },
    server: {
        standalone: { enabled: true, config: 'storage "s3" {\n  bucket = "vault-data"\n}' },
        extraSecretEnvironmentVars: [
            { envName: "AWS_SECRET_ACCESS_KEY", secretName: "vault-storage", secretKey: "secretAccessKey" },
        ],
    },
});
/**
 * What the real engine gives the pack for a helm.sh/v4:Chart: the component
 * with no props, and its rendered objects as children (labels as the vault
 * chart 0.34.1 renders them).
 */
const V4_CHART_URN = "urn:pulumi:test::secret-platform::kubernetes:helm.sh/v4:Chart::platform-server-chart";
function rendered(
    opts: { version?: string; replicas?: number; hcl?: string; args?: string[]; env?: any[]; injector?: boolean } = {},
) {
    const version = opts.version ?? "0.34.1";
    const labels = (name: string) => ({
        "helm.sh/chart": `vault-${version}`,
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": "vault",
        "app.kubernetes.io/managed-by": "Helm",
    });
    const child = (type: string, name: string, props: Record<string, any>): GuardResource => ({
        ...res(type, `platform-server-chart:vault/${name}`, props),
        parent: V4_CHART_URN,
    });
    const children = [
        child("kubernetes:core/v1:ConfigMap", "vault-config", {
            kind: "ConfigMap",
            metadata: { name: "vault-config", namespace: "vault", labels: labels("vault") },
            data: { "extraconfig-from-values.hcl": opts.hcl ?? 'storage "s3" {\n  bucket = "vault-data"\n}' },
        }),
        child("kubernetes:apps/v1:StatefulSet", "vault", {
            kind: "StatefulSet",
            metadata: { name: "vault", namespace: "vault", labels: labels("vault") },
            spec: {
                replicas: opts.replicas ?? 1,
                template: {
                    spec: {
                        containers: [
                            {
                                name: "vault",
                                args: opts.args ?? [
                                    "cp /vault/config/extraconfig-from-values.hcl /tmp/storageconfig.hcl; /usr/local/bin/docker-entrypoint.sh vault server -config=/tmp/storageconfig.hcl",
                                ],
                                env: opts.env ?? [
                                    { name: "VAULT_ADDR", value: "http://127.0.0.1:8200" },
                                    {
                                        name: "AWS_SECRET_ACCESS_KEY",
                                        valueFrom: {
                                            secretKeyRef: {
                                                name: "vault-storage-credentials",
                                                key: "AWS_SECRET_ACCESS_KEY",
                                            },
                                        },
                                    },
                                ],
                            },
                        ],
                    },
                },
            },
        }),
    ];
    if (opts.injector === true) {
        children.push(
            child("kubernetes:apps/v1:Deployment", "vault-agent-injector", {
                kind: "Deployment",
                metadata: {
                    name: "vault-agent-injector",
                    namespace: "vault",
                    labels: { "app.kubernetes.io/name": "vault-agent-injector", "app.kubernetes.io/instance": "vault" },
                },
            }),
        );
    }
    return [{ ...res("kubernetes:helm.sh/v4:Chart", "platform-server-chart", {}), urn: V4_CHART_URN }, ...children];
}
/** The v4 Chart as the real engine shows it when its children are missing: nothing to check. */
const invisibleChart = () => ({
    ...res("kubernetes:helm.sh/v4:Chart", "platform-server-chart", {}),
    urn: V4_CHART_URN,
});
const NOTHING =
    "platform-server-chart: the policy pack sees neither the chart's values nor its rendered objects, so nothing was checked";

const denyAll = (namespace = "vault") =>
    res("kubernetes:networking.k8s.io/v1:NetworkPolicy", "deny", {
        metadata: { namespace },
        spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    });
const unsealer = (pod: Record<string, any>) =>
    res("kubernetes:batch/v1:CronJob", "unsealer", {
        metadata: { labels: { "app.kubernetes.io/name": "vault-unsealer" } },
        spec: { jobTemplate: { spec: { template: { spec: pod } } } },
    });
const goodPod = () => ({
    automountServiceAccountToken: false,
    containers: [{ name: "unseal", env: [{ name: "VAULT_ADDR", value: "http://vault.vault.svc:8200" }] }],
    volumes: [{ name: "keys", secret: { secretName: "vault-unseal-keys" } }],
});

interface Case {
    readonly rule: string;
    readonly pass: GuardResource[];
    readonly fail: GuardResource[];
    readonly messages: string[];
}

/** The homelab fixture with raft HA, ESO installed, the canary and a remote cluster. */
function homelabWithEverything(): StackConfig {
    const stack = homelabStack();
    stack.values.server = { storageBackend: "raft", replicas: 3 };
    stack.values.externalSecrets = { install: true, allNamespaces: true };
    stack.values.exposure = { kind: "httproute", gateway: { name: "main", namespace: "gateway" } };
    return stack;
}

const cases: Case[] = [
    {
        rule: "storage-bucket-versioning",
        pass: [
            bucket(),
            res("aws:s3/bucketVersioning:BucketVersioning", "v", {
                bucket: "vault-data",
                versioningConfiguration: { status: "Enabled" },
            }),
            // A Garage/MinIO bucket (endpoint override) is outside the AWS hardening rules.
            {
                ...res("aws:s3/bucket:Bucket", "garage", { bucket: "vault-amiya" }, true),
                provider: { type: "pulumi:providers:aws", props: { endpoints: [{ s3: "https://s3.amiya.akn" }] } },
            },
        ],
        fail: [
            bucket(),
            res("aws:s3/bucketVersioning:BucketVersioning", "v", {
                bucket: "vault-data",
                versioningConfiguration: { status: "Suspended" },
            }),
        ],
        messages: ["bucket vault-data: versioning must be Enabled (a BucketVersioning with status Enabled)"],
    },
    {
        rule: "storage-bucket-sse-kms",
        pass: [
            bucket(),
            res("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "e", {
                bucket: "vault-data",
                rules: [
                    {
                        applyServerSideEncryptionByDefault: {
                            sseAlgorithm: "aws:kms",
                            kmsMasterKeyId: "arn:aws:kms:eu-west-1:1:key/k",
                        },
                        bucketKeyEnabled: true,
                    },
                ],
            }),
        ],
        fail: [
            bucket(),
            res("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "e", {
                bucket: "vault-data",
                rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
            }),
        ],
        messages: ["bucket vault-data: default encryption must be SSE-KMS with a customer-managed key and bucket keys"],
    },
    {
        rule: "storage-bucket-public-access-block",
        pass: [
            bucket(),
            res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "p", {
                bucket: "vault-data",
                blockPublicAcls: true,
                blockPublicPolicy: true,
                ignorePublicAcls: true,
                restrictPublicBuckets: true,
            }),
        ],
        fail: [
            bucket(),
            res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "p", {
                bucket: "vault-data",
                blockPublicAcls: true,
                blockPublicPolicy: true,
                ignorePublicAcls: true,
                restrictPublicBuckets: false,
            }),
        ],
        messages: [
            "bucket vault-data: public access block must set blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets to true",
        ],
    },
    {
        rule: "storage-bucket-tls-only",
        pass: [bucket(), res("aws:s3/bucketPolicy:BucketPolicy", "tls", { bucket: "vault-data", policy: tlsPolicy })],
        fail: [
            bucket(),
            res("aws:s3/bucketPolicy:BucketPolicy", "tls", {
                bucket: "vault-data",
                policy: JSON.stringify({ Statement: [] }),
            }),
        ],
        messages: ["bucket vault-data: bucket policy must deny requests where aws:SecureTransport is false"],
    },
    {
        rule: "storage-data-protected",
        pass: [bucket(true), res("aws:kms/key:Key", "seal", {}, true)],
        fail: [bucket(false), res("aws:kms/key:Key", "seal", {}, false)],
        messages: [
            "aws:s3/bucket:Bucket data must be protected (protect: true)",
            "aws:kms/key:Key seal must be protected (protect: true)",
        ],
    },
    {
        rule: "iam-no-wildcards",
        pass: [
            res("aws:iam/policy:Policy", "vault", {
                policy: JSON.stringify({
                    Statement: [
                        { Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::vault-data/*"] },
                        {
                            Effect: "Allow",
                            Action: ["kms:GenerateDataKey*"],
                            Resource: ["arn:aws:kms:eu-west-1:1:key/k"],
                        },
                    ],
                }),
            }),
        ],
        fail: [
            res("aws:iam/policy:Policy", "vault", {
                policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: ["s3:*"], Resource: "*" }] }),
            }),
        ],
        messages: ["vault: wildcard action s3:*", "vault: wildcard resource * for s3:*"],
    },
    {
        rule: "vault-chart-pinned",
        pass: [chart(goodValues())],
        fail: [chart(goodValues(), "^0.34")],
        messages: ["vault: chart version must be pinned to an exact version, got ^0.34"],
    },
    {
        rule: "vault-not-dev-mode",
        pass: [chart(goodValues())],
        fail: [chart({ ...goodValues(), server: { ...goodValues().server, dev: { enabled: true } } })],
        messages: ["vault: Vault runs in dev mode (server.dev.enabled)"],
    },
    {
        rule: "vault-injector-off",
        pass: [chart(goodValues())],
        fail: [chart({ ...goodValues(), injector: { enabled: true } })],
        messages: ["vault: the agent injector is on (injector.enabled must be false)"],
    },
    {
        rule: "vault-no-ha-with-s3",
        pass: [
            chart({
                ...goodValues(),
                server: { ha: { enabled: true, raft: { enabled: true, config: 'storage "raft" {}' } } },
            }),
        ],
        fail: [chart({ ...goodValues(), server: { ha: { enabled: true, config: 'storage "s3" {}' } } })],
        messages: ['vault: HA mode with storage "s3" (the S3 backend has no HA; use raft)'],
    },
    {
        rule: "vault-values-no-credentials",
        pass: [chart(goodValues())],
        fail: [
            chart({
                ...goodValues(),
                server: {
                    ...goodValues().server,
                    extraEnvironmentVars: {
                        AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI",
                        // Built at run time so no token-shaped literal sits in the repository.
                        NOTE: `hvs.${"C".repeat(28)}`,
                    },
                },
            }),
        ],
        messages: [
            "vault: Helm value server.extraEnvironmentVars.AWS_SECRET_ACCESS_KEY looks like a credential; use a Secret reference",
            "vault: Helm value server.extraEnvironmentVars.NOTE looks like a credential; use a Secret reference",
        ],
    },
    {
        rule: "vault-namespace-default-deny",
        pass: [chart(goodValues()), denyAll("vault")],
        fail: [chart(goodValues()), denyAll("other")],
        messages: ["namespace vault: no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)"],
    },
    {
        rule: "oidc-redirect-https",
        pass: [
            res("vault:jwt/authBackendRole:AuthBackendRole", "default", {
                allowedRedirectUris: [
                    "https://vault.amiya.akn/ui/vault/auth/oidc/oidc/callback",
                    "http://localhost:8250/oidc/callback",
                ],
            }),
        ],
        fail: [
            res("vault:jwt/authBackendRole:AuthBackendRole", "default", {
                allowedRedirectUris: ["http://vault.amiya.akn/ui/vault/auth/oidc/oidc/callback"],
            }),
        ],
        messages: ["default: redirect URI http://vault.amiya.akn/ui/vault/auth/oidc/oidc/callback is not https"],
    },
    {
        rule: "kv-version-2",
        pass: [res("vault:index/mount:Mount", "kv", { path: "amiya.akn", type: "kv", options: { version: "2" } })],
        fail: [res("vault:index/mount:Mount", "kv", { path: "amiya.akn", type: "kv", options: { version: "1" } })],
        messages: ["kv: KV mount amiya.akn must be version 2"],
    },
    {
        rule: "eso-store-kubernetes-auth",
        pass: [
            res("kubernetes:external-secrets.io/v1:ClusterSecretStore", "store", {
                spec: {
                    provider: {
                        vault: {
                            auth: { kubernetes: { mountPath: "kubernetes-amiya.akn", role: "external-secrets" } },
                        },
                    },
                },
            }),
        ],
        fail: [
            res("kubernetes:external-secrets.io/v1:ClusterSecretStore", "store", {
                spec: { provider: { vault: { auth: { tokenSecretRef: { name: "vault-token", key: "token" } } } } },
            }),
        ],
        messages: ["store: uses a static token (auth.tokenSecretRef)", "store: must use auth.kubernetes"],
    },
    {
        rule: "eso-store-namespaces",
        pass: [
            res("kubernetes:external-secrets.io/v1:ClusterSecretStore", "store", {
                spec: { conditions: [{ namespaces: ["grafana"] }], provider: { vault: {} } },
            }),
            // A namespaced store serves its own namespace only.
            res("kubernetes:external-secrets.io/v1:SecretStore", "local", { spec: { provider: { vault: {} } } }),
        ],
        fail: [
            res("kubernetes:external-secrets.io/v1:ClusterSecretStore", "store", { spec: { provider: { vault: {} } } }),
            res("kubernetes:external-secrets.io/v1:ClusterSecretStore", "empty", {
                spec: { conditions: [], provider: { vault: {} } },
            }),
        ],
        messages: [
            "store: no spec.conditions, every namespace may use it (externalSecrets.allNamespaces); list them in externalSecrets.namespaceConditions",
            "empty: no spec.conditions, every namespace may use it (externalSecrets.allNamespaces); list them in externalSecrets.namespaceConditions",
        ],
    },
    {
        rule: "eso-store-audience",
        pass: [
            res("kubernetes:external-secrets.io/v1:ClusterSecretStore", "store", {
                spec: {
                    provider: {
                        vault: {
                            auth: {
                                kubernetes: {
                                    role: "external-secrets",
                                    serviceAccountRef: { name: "vault-login", audiences: ["vault"] },
                                },
                            },
                        },
                    },
                },
            }),
        ],
        fail: [
            res("kubernetes:external-secrets.io/v1:ClusterSecretStore", "store", {
                spec: {
                    provider: {
                        vault: {
                            auth: {
                                kubernetes: { role: "external-secrets", serviceAccountRef: { name: "vault-login" } },
                            },
                        },
                    },
                },
            }),
        ],
        messages: ["store: serviceAccountRef has no audiences (kubernetesAuth.audience)"],
    },
    {
        rule: "unsealer-hardened",
        pass: [unsealer(goodPod())],
        fail: [
            unsealer({
                containers: [
                    {
                        name: "unseal",
                        env: [
                            { name: "KEY_1", valueFrom: { secretKeyRef: { name: "vault-unseal-keys", key: "key-1" } } },
                        ],
                    },
                ],
            }),
        ],
        messages: [
            "unsealer: automountServiceAccountToken must be false",
            "unsealer: env KEY_1 reads a Secret; mount it as a file",
            "unsealer: unseal keys must come from a mounted Secret volume",
        ],
    },
    {
        rule: "token-ttl-bounded",
        pass: [res("vault:kubernetes/authBackendRole:AuthBackendRole", "eso", { tokenTtl: 600, tokenMaxTtl: 1200 })],
        fail: [res("vault:jwt/authBackendRole:AuthBackendRole", "default", { tokenTtl: 3600, tokenMaxTtl: 7 * 86400 })],
        messages: ["default: tokenMaxTtl of 604800s is above 86400s"],
    },
    {
        rule: "audit-device-present",
        pass: [
            res("vault:index/mount:Mount", "kv", { type: "kv" }),
            res("vault:index/audit:Audit", "file", { type: "file" }),
        ],
        fail: [res("vault:index/mount:Mount", "kv", { type: "kv" })],
        messages: ["no Vault audit device (vault.Audit) in the stack"],
    },
];

/** The program's registrations as a policy pack sees them (with their explicit provider's inputs). */
async function programResources(stack: StackConfig): Promise<GuardResource[]> {
    const program = await runProgram(stack, buildPlatform);
    const byRef = new Map<string, Record<string, any>>();
    for (const r of program.resources) {
        if (r.type.startsWith("pulumi:providers:") && r.resource !== undefined) {
            byRef.set(`${await valueOf(r.resource.urn)}::${r.name}-id`, { type: r.type, props: r.inputs });
        }
    }
    return program.resources.map((r) => ({
        ...res(r.type, r.name, r.inputs as Record<string, any>, r.opts.protect === true),
        provider: r.provider === undefined ? undefined : (byRef.get(r.provider) as GuardResource["provider"]),
    }));
}

describe("guardrail policy pack", () => {
    it("has at least 12 rules, each tested both ways below", () => {
        assert.ok(rules.length >= 12, String(rules.length));
        assert.deepEqual(cases.map((c) => c.rule).sort(), rules.map((r) => r.name).sort());
        assert.equal(policies.length, rules.length);
    });

    for (const c of cases) {
        describe(c.rule, () => {
            it("passes a compliant resource set", async () => assert.deepEqual(await violations(c.rule, c.pass), []));
            it("reports the violation", async () => assert.deepEqual(await violations(c.rule, c.fail), c.messages));
        });
    }

    describe("the chart rules on what the real engine shows: a v4 Chart without props, its rendered children", () => {
        const renderedCases: Case[] = [
            {
                rule: "vault-chart-pinned",
                pass: rendered(),
                fail: rendered({ version: "0.34.1-dev" }),
                messages: ["platform-server-chart: chart version must be pinned to an exact version, got 0.34.1-dev"],
            },
            {
                rule: "vault-not-dev-mode",
                pass: rendered(),
                fail: rendered({ args: ["server -dev -dev-listen-address=[::]:8200"] }),
                messages: ["platform-server-chart: Vault runs in dev mode (server.dev.enabled)"],
            },
            {
                rule: "vault-injector-off",
                pass: rendered(),
                fail: rendered({ injector: true }),
                messages: ["platform-server-chart: the agent injector is on (injector.enabled must be false)"],
            },
            {
                rule: "vault-no-ha-with-s3",
                pass: rendered({ replicas: 3, hcl: 'storage "raft" {\n  path = "/vault/data"\n}' }),
                fail: rendered({ replicas: 3 }),
                messages: ['platform-server-chart: HA mode with storage "s3" (the S3 backend has no HA; use raft)'],
            },
            {
                rule: "vault-values-no-credentials",
                pass: rendered(),
                fail: rendered({ env: [{ name: "AWS_SECRET_ACCESS_KEY", value: "wJalrXUtnFEMI" }] }),
                messages: [
                    "platform-server-chart: env AWS_SECRET_ACCESS_KEY of container vault looks like a credential; use a Secret reference",
                ],
            },
            {
                rule: "vault-namespace-default-deny",
                pass: [...rendered(), denyAll("vault")],
                fail: [...rendered(), denyAll("other")],
                messages: [
                    "namespace vault: no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)",
                ],
            },
        ];
        for (const c of renderedCases) {
            describe(c.rule, () => {
                it("passes the rendered objects of a compliant release", async () =>
                    assert.deepEqual(await violations(c.rule, c.pass), []));
                it("reports the violation in the rendered objects", async () =>
                    assert.deepEqual(await violations(c.rule, c.fail), c.messages));
                it("reports a chart it cannot see into, instead of passing it", async () =>
                    assert.deepEqual(await violations(c.rule, [invisibleChart(), denyAll("vault")]), [NOTHING]));
            });
        }

        it("leaves another chart's rendered objects alone (ESO's, labelled external-secrets-<version>)", async () => {
            const eso = { ...res("kubernetes:helm.sh/v4:Chart", "platform-eso", {}), urn: "urn:eso" };
            const child = {
                ...res("kubernetes:apps/v1:Deployment", "platform-eso:external-secrets/external-secrets", {
                    metadata: { labels: { "helm.sh/chart": "external-secrets-2.9.0" } },
                }),
                parent: "urn:eso",
            };
            for (const c of renderedCases) assert.deepEqual(await violations(c.rule, [eso, child]), [], c.rule);
        });
    });

    for (const [label, stack] of [
        ["Pulumi.amiya.yaml", () => readStackFile("amiya")],
        ["a homelab stack with every optional feature", homelabWithEverything],
        ["the AWS stack", awsStack],
    ] as const) {
        it(`passes every mandatory rule on ${label}`, async () => {
            const resources = await programResources(stack());
            const found: string[] = [];
            for (const rule of rules.filter((r) => r.enforcementLevel === "mandatory")) {
                found.push(...(await violations(rule.name, resources)).map((m) => `${rule.name}: ${m}`));
            }
            assert.deepEqual(found, []);
        });
    }

    describe("storage.protect: false (offered for throw-away stacks) and the mandatory storage-data-protected rule", () => {
        const THROWAWAY = path.join(__dirname, "..", "..", "policies", "guard", "throwaway-stack.json");
        const throwaway = () => {
            const s = awsStack();
            s.values.storage.protect = false;
            return s;
        };

        it("refuses an unprotected bucket and keys with the pack as CI runs it", async () => {
            const found = await violations("storage-data-protected", await programResources(throwaway()));
            assert.ok(found.length >= 2, found.join("\n"));
            assert.ok(
                found.every((m) => / must be protected \(protect: true\)$/.test(m)),
                found.join("\n"),
            );
            assert.equal(rules.find((r) => r.name === "storage-data-protected")?.enforcementLevel, "mandatory");
        });

        it("policies/guard/throwaway-stack.json makes exactly that rule advisory, in the CLI's config format", () => {
            // The CLI's own parser (pkg/resource/analyzer/config.go): policy name -> enforcement level.
            const config = JSON.parse(fs.readFileSync(THROWAWAY, "utf8")) as Record<string, unknown>;
            assert.deepEqual(config, { "storage-data-protected": "advisory" });
            const names = rules.map((r) => r.name);
            for (const name of Object.keys(config)) assert.ok(names.includes(name), `${name} is no rule of the pack`);
            // Every other rule of the pack stays as it is, and no other rule fires on the throw-away stack.
            return programResources(throwaway()).then(async (resources) => {
                const others: string[] = [];
                for (const rule of rules.filter((r) => r.enforcementLevel === "mandatory" && !(r.name in config))) {
                    others.push(...(await violations(rule.name, resources)).map((m) => `${rule.name}: ${m}`));
                }
                assert.deepEqual(others, []);
            });
        });

        it("the docs say so where they offer storage.protect: false", () => {
            const root = path.join(__dirname, "..", "..");
            const reference = fs.readFileSync(path.join(root, "docs", "configuration.md"), "utf8");
            const row = reference.split("\n").find((l) => l.startsWith("| `storage.protect`"));
            assert.match(row ?? "", /--policy-pack-config policies\/guard\/throwaway-stack\.json/);
            const pack = fs.readFileSync(path.join(root, "docs", "architecture", "guard-pack.md"), "utf8");
            assert.match(pack, /--policy-pack-config policies\/guard\/throwaway-stack\.json/);
        });
    });
});
