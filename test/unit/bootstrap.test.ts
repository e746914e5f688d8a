import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as pulumi from "@pulumi/pulumi";
import stableStringify from "fast-json-stable-stringify";
import { UNSEAL_KEYS_DIR, UNSEAL_SCRIPT_PATH, unsealerPodSpec, unsealKeyFiles } from "../../components/bootstrap";
import {
    alreadyInitializedMessage,
    BootstrapInputs,
    caChangeRefusal,
    ensureInitialized,
    IdentityAcknowledgements,
    identityRefusal,
    INIT_REQUEST_TIMEOUT_MS,
    ensureUnsealed,
    initRequest,
    recoveryKeysDestroyRefusal,
    retryWhileUnavailable,
    UnsealInputs,
    waitForApi,
    wipedStorageMessage,
} from "../../components/lib/vault-init";
import { renderPolicies } from "../../components/lib/policies";
import { redact } from "../../components/lib/vault-api";
import { buildPlatform } from "../../components/platform";
import { initInputs, unsealInputs as unsealInputsFor } from "../support/bootstrap-inputs";
import { hostLoaded, hostLoadedBootstrapProvider } from "../support/dynamic-provider";
import { bootstrapKindOf } from "../../components/lib/bootstrap-provider";
import { SerializedProvider, serializedProviderFile } from "../../components/lib/serialized-provider";
import { awsStack, homelabStack } from "../support/fixtures";
import { makeTestCa } from "../support/test-ca";
import {
    dependsOnOf,
    isSecret,
    parentOf,
    Program,
    runProgram,
    secretInput,
    StackConfig,
    valueOf,
    readinessResources,
} from "../support/program";
import { SecretPlatform } from "../../components/platform";
import { at, Doc, listAt, named, objectAt, only } from "../support/inputs";

/** The bootstrap provider's committed text (components/lib/bootstrap-provider.serialized.json). */
const COMMITTED_PROVIDER = JSON.parse(
    fs.readFileSync(serializedProviderFile("bootstrap-provider"), "utf8"),
) as SerializedProvider;

/** The pod spec of a workload's inputs: a Deployment's template, or a CronJob's job template; undefined for others. */
function podSpecOf(inputs: Doc): Doc | undefined {
    const kind = at(inputs, "kind");
    if (kind === "Deployment") return objectAt(inputs, "spec", "template", "spec");
    if (kind === "CronJob") return objectAt(inputs, "spec", "jobTemplate", "spec", "template", "spec");
    return undefined;
}

/** metadata.name of a Kubernetes object's inputs; undefined for a resource without metadata (a Chart). */
function nameOf(inputs: Doc): unknown {
    return inputs.metadata === undefined ? undefined : at(inputs, "metadata", "name");
}

/** The unsealer container of a workload's pod spec (its only container). */
function unsealerContainer(spec: Doc): Doc {
    const c = objectAt(only(listAt(spec, "containers"), "containers"));
    assert.equal(c.name, "unsealer");
    return c;
}

const INIT = "pulumi-nodejs:dynamic/secret-platform:VaultInit";
const UNSEALED = "pulumi-nodejs:dynamic/secret-platform:VaultUnsealed";
const TOKEN = "pulumi-nodejs:dynamic/secret-platform:VaultProviderToken";
const B = "platform-bootstrap";
const MOCK_KEYS = ["mock-key-1", "mock-key-2", "mock-key-3", "mock-key-4", "mock-key-5"];
const MOCK_ROOT = `mock-root-token-${B}-init`;

/** VaultServer.revision as the program registered the server's chart: the digest of its version, repository and values. */
function chartRevision(p: { find: (type: string, name: string) => { inputs: Doc } }): string {
    const chart = p.find("kubernetes:helm.sh/v4:Chart", "platform-server-chart").inputs;
    const digestOf = { chart: chart.version, repository: at(chart, "repositoryOpts", "repo"), values: chart.values };
    return createHash("sha256").update(stableStringify(digestOf)).digest("hex");
}

const build = (config: Parameters<typeof buildPlatform>[0], opts: pulumi.ComponentResourceOptions) =>
    buildPlatform(config, opts);

const restricted = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
};

function expectedPodSpec(args: string[]) {
    return {
        serviceAccountName: "vault-unsealer",
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        securityContext: {
            runAsNonRoot: true,
            runAsUser: 100,
            runAsGroup: 1000,
            fsGroup: 1000,
            seccompProfile: { type: "RuntimeDefault" },
        },
        containers: [
            {
                name: "unsealer",
                image: "hashicorp/vault:2.0.4",
                imagePullPolicy: "IfNotPresent",
                command: ["/bin/sh", "/vault/unsealer/unseal.sh"],
                args,
                env: [
                    { name: "VAULT_ADDR", value: "http://vault.vault.svc:8200" },
                    { name: "UNSEAL_KEYS_DIR", value: "/vault/unseal-keys" },
                    { name: "HOME", value: "/tmp" },
                ],
                volumeMounts: [
                    { name: "unseal-keys", mountPath: "/vault/unseal-keys", readOnly: true },
                    { name: "script", mountPath: "/vault/unsealer", readOnly: true },
                    { name: "tmp", mountPath: "/tmp" },
                ],
                resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: "256Mi" } },
                securityContext: restricted,
            },
        ],
        volumes: [
            { name: "unseal-keys", secret: { secretName: "vault-unseal-keys", defaultMode: 0o400 } },
            { name: "script", configMap: { name: "vault-unsealer", defaultMode: 0o555 } },
            { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
        ],
    };
}

const unsealerLabels = (component: string) => ({
    "app.kubernetes.io/name": "vault-unsealer",
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/part-of": "secret-platform",
});

/** Every string anywhere in a value. */
function strings(value: unknown): string[] {
    if (typeof value === "string") return [value];
    if (Array.isArray(value)) return value.flatMap(strings);
    if (value !== null && typeof value === "object") return Object.values(value).flatMap(strings);
    return [];
}

describe("bootstrap (mocks)", () => {
    describe("homelab stack: shamir keys and the unsealer", () => {
        let p: Program<SecretPlatform>;
        before(async () => {
            p = await runProgram(homelabStack(), build);
        });

        it("registers the init resource with exact inputs, a serialized provider and secret outputs", () => {
            const init = p.find(INIT, `${B}-init`);
            const { __provider, ...inputs } = init.inputs;
            assert.deepEqual(inputs, {
                address: "https://vault.amiya.akn",
                skipTlsVerify: false,
                waitTimeoutSeconds: 600,
                sealType: "shamir",
                shares: 5,
                threshold: 3,
                adoptExisting: false,
                keysSecret: "vault/vault-unseal-keys",
            });
            assert.equal(__provider, COMMITTED_PROVIDER.text);
            assert.deepEqual(init.opts.additionalSecretOutputs, ["rootToken", "keys"]);
            assert.equal(parentOf(init), p.result.bootstrap);
        });

        it("registers one provider for init, unseal and token: the committed text, which the specs load", async () => {
            const texts = [INIT, UNSEALED, TOKEN].map((t) => p.ofType(t).map((r) => r.inputs.__provider));
            assert.deepEqual(
                texts.map((t) => t.length),
                [1, 1, 1],
            );
            const { text } = await hostLoadedBootstrapProvider();
            assert.equal(text, COMMITTED_PROVIDER.text);
            assert.deepEqual(texts.flat(), [text, text, text]);
        });

        it("returns the root token and keys only as secret outputs", async () => {
            const b = p.result.bootstrap;
            assert.equal(await isSecret(b.rootToken), true);
            assert.equal(await isSecret(b.keyShares), true);
            assert.equal(await valueOf(b.rootToken), MOCK_ROOT);
            assert.deepEqual(await valueOf(b.keyShares), MOCK_KEYS);
            assert.equal(await isSecret(b.initialized), false);
            assert.equal(await valueOf(b.initialized), true);
        });

        it("stores one file per key in the unseal Secret: immutable, never rewritten, retained", async () => {
            const secret = p.find("kubernetes:core/v1:Secret", `${B}-unseal-keys`);
            const { stringData, ...rest } = secret.inputs;
            assert.deepEqual(secretInput(stringData), {
                "unseal-key-1": "mock-key-1",
                "unseal-key-2": "mock-key-2",
                "unseal-key-3": "mock-key-3",
                "unseal-key-4": "mock-key-4",
                "unseal-key-5": "mock-key-5",
            });
            assert.deepEqual(rest, {
                apiVersion: "v1",
                kind: "Secret",
                metadata: { name: "vault-unseal-keys", namespace: "vault", labels: unsealerLabels("config") },
                type: "Opaque",
                immutable: true,
            });
            assert.equal(await isSecret(secret.props.stringData), true);
            assert.deepEqual(secret.opts.ignoreChanges, ["stringData", "data", "immutable"]);
            assert.equal(secret.opts.retainOnDelete, true);
            assert.equal(secret.opts.provider, p.find("pulumi:providers:kubernetes", "platform-k8s").resource);
            assert.equal(parentOf(secret), p.result.bootstrap);
        });

        it("runs the unsealer under its own ServiceAccount without an API token", () => {
            const sa = p.find("kubernetes:core/v1:ServiceAccount", `${B}-unsealer`);
            assert.deepEqual(sa.inputs, {
                apiVersion: "v1",
                kind: "ServiceAccount",
                metadata: { name: "vault-unsealer", namespace: "vault", labels: unsealerLabels("config") },
                automountServiceAccountToken: false,
            });
        });

        it("ships components/unseal.sh verbatim in a ConfigMap with nothing secret in it", () => {
            const cm = p.find("kubernetes:core/v1:ConfigMap", `${B}-unsealer-script`);
            assert.deepEqual(cm.inputs, {
                apiVersion: "v1",
                kind: "ConfigMap",
                metadata: { name: "vault-unsealer", namespace: "vault", labels: unsealerLabels("config") },
                data: { "unseal.sh": fs.readFileSync(UNSEAL_SCRIPT_PATH, "utf8") },
            });
            for (const s of strings(cm.inputs)) {
                for (const secret of [...MOCK_KEYS, MOCK_ROOT]) assert.ok(!s.includes(secret));
            }
        });

        it("schedules the one-shot unsealer as a CronJob that never overlaps", () => {
            const cron = p.find("kubernetes:batch/v1:CronJob", `${B}-unsealer`);
            assert.deepEqual(cron.inputs, {
                apiVersion: "batch/v1",
                kind: "CronJob",
                metadata: { name: "vault-unsealer", namespace: "vault", labels: unsealerLabels("cronjob") },
                spec: {
                    schedule: "* * * * *",
                    concurrencyPolicy: "Forbid",
                    startingDeadlineSeconds: 120,
                    successfulJobsHistoryLimit: 1,
                    failedJobsHistoryLimit: 3,
                    jobTemplate: {
                        spec: {
                            backoffLimit: 0,
                            activeDeadlineSeconds: 50,
                            template: {
                                metadata: { labels: unsealerLabels("cronjob") },
                                spec: { ...expectedPodSpec([]), restartPolicy: "Never" },
                            },
                        },
                    },
                },
            });
        });

        it("runs the loop as a one-replica Deployment with the configured interval", () => {
            const loop = p.find("kubernetes:apps/v1:Deployment", `${B}-unsealer-loop`);
            assert.deepEqual(loop.inputs, {
                apiVersion: "apps/v1",
                kind: "Deployment",
                metadata: { name: "vault-unsealer", namespace: "vault", labels: unsealerLabels("loop") },
                spec: {
                    replicas: 1,
                    selector: { matchLabels: unsealerLabels("loop") },
                    template: {
                        metadata: { labels: unsealerLabels("loop") },
                        spec: { ...expectedPodSpec(["--loop", "5"]), terminationGracePeriodSeconds: 10 },
                    },
                },
            });
        });

        it("orders the unsealer workloads after their ServiceAccount, script and keys", async () => {
            const deps = new Set([
                p.find("kubernetes:core/v1:ServiceAccount", `${B}-unsealer`).resource,
                p.find("kubernetes:core/v1:ConfigMap", `${B}-unsealer-script`).resource,
                p.find("kubernetes:core/v1:Secret", `${B}-unseal-keys`).resource,
            ]);
            for (const [type, name] of [
                ["kubernetes:batch/v1:CronJob", `${B}-unsealer`],
                ["kubernetes:apps/v1:Deployment", `${B}-unsealer-loop`],
            ]) {
                assert.deepEqual(new Set(await dependsOnOf(p.find(type, name))), deps);
            }
        });

        it("puts no key or token in any env, arg, command, label or ConfigMap; keys arrive only as Secret volume files", () => {
            const secrets = [...MOCK_KEYS, MOCK_ROOT];
            const k8s = p.ofPackage("kubernetes:").filter((r) => r.type !== "kubernetes:core/v1:Secret");
            for (const r of k8s) {
                for (const s of strings(r.inputs)) {
                    for (const secret of secrets) assert.ok(!s.includes(secret), `${r.type} ${r.name} holds a secret`);
                }
            }
            const workloads = k8s.filter((x) => nameOf(x.inputs) === "vault-unsealer");
            const specs = workloads.map((r) => podSpecOf(r.inputs)).filter((x) => x !== undefined);
            assert.equal(specs.length, 2, "the unsealer CronJob and loop Deployment");
            for (const spec of specs) {
                const c = unsealerContainer(spec);
                assert.equal(c.envFrom, undefined);
                assert.ok(
                    listAt(c, "env").every((e) => at(e, "valueFrom") === undefined),
                    "no env var from a Secret",
                );
                const keyVolumes = listAt(spec, "volumes").filter(
                    (v) => at(v, "secret") !== undefined && at(v, "secret", "secretName") === "vault-unseal-keys",
                );
                assert.deepEqual(keyVolumes, [
                    { name: "unseal-keys", secret: { secretName: "vault-unseal-keys", defaultMode: 0o400 } },
                ]);
                assert.deepEqual(
                    listAt(c, "volumeMounts").filter((m) => at(m, "name") === "unseal-keys"),
                    [{ name: "unseal-keys", mountPath: UNSEAL_KEYS_DIR, readOnly: true }],
                );
            }
        });

        it("unseals in the graph after init and the stored keys, with the keys as a secret input", async () => {
            const unsealed = p.find(UNSEALED, `${B}-unsealed`);
            const { __provider, keys, ...inputs } = unsealed.inputs;
            assert.equal(__provider, COMMITTED_PROVIDER.text);
            assert.deepEqual(secretInput(keys), MOCK_KEYS);
            assert.deepEqual(inputs, {
                address: "https://vault.amiya.akn",
                skipTlsVerify: false,
                waitTimeoutSeconds: 600,
                sealType: "shamir",
                keysSecret: "vault/vault-unseal-keys",
                // The uid the API server gave Vault's namespace (the mocks name it after the resource): a new
                // cluster's is unknown in the preview, so a Vault that does not answer yet is a pending change.
                serverIdentity: "mock-uid-platform-server-namespace",
                // The chart's digest: a new one tells the diff that this update may be rolling the pods.
                serverRevision: chartRevision(p),
            });
            assert.equal(await isSecret(unsealed.props.serverIdentity), false);
            assert.equal(await isSecret(unsealed.props.serverRevision), false);
            assert.equal(await isSecret(unsealed.props.keys), true);
            assert.deepEqual(unsealed.opts.additionalSecretOutputs, ["keys"]);
            assert.deepEqual(await dependsOnOf(unsealed), [
                p.find(INIT, `${B}-init`).resource,
                p.find("kubernetes:core/v1:Secret", `${B}-unseal-keys`).resource,
            ]);
        });

        it("mints the provider token with the init root token (revoked by it), after init and unseal", async () => {
            const token = p.find(TOKEN, `${B}-provider-token`);
            const { __provider, policyText, ...inputs } = token.inputs;
            assert.equal(__provider, COMMITTED_PROVIDER.text);
            assert.deepEqual(inputs, {
                address: "https://vault.amiya.akn",
                skipTlsVerify: false,
                policy: "pulumi",
                bootstrapToken: inputs.bootstrapToken,
                bootstrapSource: "root",
                // vault.providerTokenMaxAgeDays' default, 30 days: past it, `pulumi up` re-mints the token.
                maxAgeSeconds: 30 * 86400,
                serverIdentity: "mock-uid-platform-server-namespace",
                serverRevision: chartRevision(p),
            });
            assert.equal(secretInput(token.inputs.bootstrapToken), MOCK_ROOT);
            assert.equal(policyText, renderPolicies(p.config).find((r) => r.name === "pulumi")?.text);
            assert.deepEqual(token.opts.additionalSecretOutputs, ["token", "bootstrapToken"]);
            assert.deepEqual(await dependsOnOf(token), [
                p.find(INIT, `${B}-init`).resource,
                p.find(UNSEALED, `${B}-unsealed`).resource,
            ]);
        });

        it("hands the Vault provider its own token as a secret (never the root token); ready holds init, unseal and the token", async () => {
            const provider = p.find("pulumi:providers:vault", `${B}-vault`);
            assert.equal(provider.inputs.address, "https://vault.amiya.akn");
            assert.equal(secretInput(provider.inputs.token), `mock-provider-token-${B}-provider-token`);
            assert.equal(await isSecret(provider.props.token), true);
            assert.equal(String(provider.inputs.skipTlsVerify), "false");
            const b = p.result.bootstrap;
            assert.equal(b.vaultProvider, provider.resource);
            assert.deepEqual(await readinessResources(b.ready), [
                p.find(INIT, `${B}-init`).resource,
                p.find(UNSEALED, `${B}-unsealed`).resource,
                p.find(TOKEN, `${B}-provider-token`).resource,
            ]);
        });
    });

    describe("a variant: operator token, no loop, another schedule, internal TLS", () => {
        let p: Program<SecretPlatform>;
        before(async () => {
            const stack = homelabStack();
            stack.secrets.vaultToken = "test-operator-admin-token";
            stack.values.unseal = { loop: { enabled: false }, schedule: "*/2 * * * *" };
            stack.values.server = { tls: { mode: "internal", secretName: "vault-server-tls" } };
            p = await runProgram(stack, build);
        });

        it("mints the provider token with the operator's vaultToken and allows adopting an initialized Vault", async () => {
            const token = p.find(TOKEN, `${B}-provider-token`);
            assert.equal(secretInput(token.inputs.bootstrapToken), "test-operator-admin-token");
            assert.equal(token.inputs.bootstrapSource, "vaultToken");
            const provider = p.find("pulumi:providers:vault", `${B}-vault`);
            assert.equal(secretInput(provider.inputs.token), `mock-provider-token-${B}-provider-token`);
            assert.equal(p.find(INIT, `${B}-init`).inputs.adoptExisting, true);
        });

        it("runs no loop Deployment when unseal.loop.enabled is false, but keeps the CronJob", () => {
            assert.deepEqual(
                p.ofType("kubernetes:apps/v1:Deployment").filter((r) => r.name.startsWith(B)),
                [],
            );
            const cron = p.find("kubernetes:batch/v1:CronJob", `${B}-unsealer`);
            assert.equal(at(cron.inputs, "spec", "schedule"), "*/2 * * * *");
        });

        it("internal TLS: the unsealer trusts the CA through VAULT_CACERT, mounting only ca.crt", () => {
            const spec = podSpecOf(p.find("kubernetes:batch/v1:CronJob", `${B}-unsealer`).inputs);
            assert.ok(spec !== undefined);
            const c = unsealerContainer(spec);
            assert.equal(named(c.env, "VAULT_ADDR").value, "https://vault.vault.svc:8200");
            assert.deepEqual(named(c.env, "VAULT_CACERT"), { name: "VAULT_CACERT", value: "/vault/tls-ca/ca.crt" });
            assert.deepEqual(named(c.volumeMounts, "vault-ca"), {
                name: "vault-ca",
                mountPath: "/vault/tls-ca",
                readOnly: true,
            });
            assert.deepEqual(named(spec.volumes, "vault-ca"), {
                name: "vault-ca",
                secret: {
                    secretName: "vault-server-tls",
                    items: [{ key: "ca.crt", path: "ca.crt" }],
                    defaultMode: 0o444,
                },
            });
        });
    });

    it("awskms: recovery shares at init, kept in a retained Secret; no unseal Secret and no unsealer at all", async () => {
        const stack: StackConfig = awsStack();
        const p = await runProgram(stack, build);
        const { __provider, ...inputs } = p.find(INIT, `${B}-init`).inputs;
        assert.equal(__provider, COMMITTED_PROVIDER.text);
        assert.deepEqual(inputs, {
            address: "https://vault.prod.example.com",
            skipTlsVerify: false,
            waitTimeoutSeconds: 600,
            sealType: "awskms",
            shares: 5,
            threshold: 3,
            adoptExisting: false,
            keysSecret: "",
        });
        // Nothing of the unsealer exists: no workload, account, script or key Secret anywhere.
        const unsealer = p
            .ofPackage("kubernetes:")
            .filter(
                (r) =>
                    ["vault-unsealer", "vault-unseal-keys"].includes(String(nameOf(r.inputs))) &&
                    !r.type.startsWith("kubernetes:networking.k8s.io/"),
            );
        assert.deepEqual(
            unsealer.map((r) => `${r.type} ${r.name}`),
            [],
        );
        assert.deepEqual(
            p.resources
                .filter((r) => parentOf(r) === p.result.bootstrap)
                .map((r) => r.type)
                .sort(),
            [INIT, UNSEALED, TOKEN, "pulumi:providers:vault"].sort(),
        );
        const unsealed = p.find(UNSEALED, `${B}-unsealed`);
        assert.deepEqual(unsealed.opts.dependsOn, [p.find(INIT, `${B}-init`).resource]);
        assert.deepEqual(unsealed.inputs.keys, []);
        assert.equal(unsealed.inputs.sealType, "awskms");
        assert.equal(p.result.bootstrap.unsealKeysSecret, undefined);
    });

    it("raft HA with Shamir keys: the unsealers address every pod, not the Service", async () => {
        const stack = homelabStack();
        stack.values.server = { storageBackend: "raft", replicas: 3 };
        const p = await runProgram(stack, build);
        const pods = [
            "http://vault-0.vault-internal:8200",
            "http://vault-1.vault-internal:8200",
            "http://vault-2.vault-internal:8200",
        ];
        const envOf = (r: { inputs: Doc }) => {
            const spec = podSpecOf(r.inputs);
            assert.ok(spec !== undefined, "a workload");
            return listAt(unsealerContainer(spec), "env");
        };
        for (const env of [
            envOf(p.find("kubernetes:batch/v1:CronJob", `${B}-unsealer`)),
            envOf(p.find("kubernetes:apps/v1:Deployment", `${B}-unsealer-loop`)),
        ]) {
            assert.deepEqual(named(env, "VAULT_ADDRS"), { name: "VAULT_ADDRS", value: pods.join(" ") });
        }
        // One replica (or S3 storage, as above): the Service is the one server, no VAULT_ADDRS.
        stack.values.server = { storageBackend: "raft", replicas: 1 };
        const single = await runProgram(stack, build);
        const env = envOf(single.find("kubernetes:batch/v1:CronJob", `${B}-unsealer`));
        assert.equal(
            env.find((e) => at(e, "name") === "VAULT_ADDRS"),
            undefined,
        );
    });

    it("raft HA: every bootstrap resource knows it (init refuses a new Vault, unseal and token wait for a pod that serves); one replica: none does", async () => {
        const stack = homelabStack();
        stack.values.server = { storageBackend: "raft", replicas: 3 };
        const p = await runProgram(stack, build);
        assert.equal(p.find(INIT, `${B}-init`).inputs.raftHa, true);
        assert.equal(p.find(UNSEALED, `${B}-unsealed`).inputs.raftHa, true);
        assert.deepEqual(p.find(TOKEN, `${B}-provider-token`).inputs.raftHa, {
            waitTimeoutSeconds: 600,
            sealType: "shamir",
            keysSecret: "vault/vault-unseal-keys",
        });
        stack.values.server = { storageBackend: "raft", replicas: 1 };
        const single = await runProgram(stack, build);
        for (const [type, name] of [
            [INIT, "init"],
            [UNSEALED, "unsealed"],
            [TOKEN, "provider-token"],
        ]) {
            assert.equal("raftHa" in single.find(type, `${B}-${name}`).inputs, false, `${name}: no raftHa input`);
        }
    });

    it("vault.acknowledgeCa and vault.movedFrom reach the unseal and token resources only when set (init sends nothing)", async () => {
        const ca = makeTestCa("bootstrap spec CA");
        try {
            const stack = homelabStack();
            const digest = createHash("sha256").update(ca.caPem, "utf8").digest("hex");
            stack.values.trust = { caBundle: ca.caPem };
            stack.values.vault = { acknowledgeCa: digest, movedFrom: "https://vault.old.akn" };
            const p = await runProgram(stack, build);
            for (const type of [UNSEALED, TOKEN]) {
                const inputs = p.find(type, type === UNSEALED ? `${B}-unsealed` : `${B}-provider-token`).inputs;
                assert.equal(inputs.acknowledgeCa, digest, type);
                assert.equal(inputs.movedFrom, "https://vault.old.akn", type);
                assert.equal(inputs.caBundle, ca.caPem, type);
            }
            const init = p.find(INIT, `${B}-init`).inputs;
            assert.equal("acknowledgeCa" in init || "movedFrom" in init, false);
            // Unset: a stack's inputs (and so its state) stay as they were.
            const plain = await runProgram(homelabStack(), build);
            for (const [type, name] of [
                [UNSEALED, "unsealed"],
                [TOKEN, "provider-token"],
            ]) {
                const inputs = plain.find(type, `${B}-${name}`).inputs;
                assert.equal("acknowledgeCa" in inputs || "movedFrom" in inputs, false, name);
            }
        } finally {
            ca.cleanup();
        }
    });
});

describe("identityRefusal: which changes of Vault's identity each acknowledgement approves", () => {
    const recorded = { address: "https://vault.amiya.akn", skipTlsVerify: false, caBundle: "OLD CA" };
    const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
    const EMPTY_DIGEST = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const refuse = (next: typeof recorded | Omit<typeof recorded, "caBundle">, ack: IdentityAcknowledgements) =>
        identityRefusal("the provider token", recorded, next, ack);

    it("a new CA alone passes with the new bundle's digest only; a removed bundle with the empty string's", () => {
        const rotated = { ...recorded, caBundle: "NEW CA" };
        assert.equal(refuse(recorded, {}), undefined, "nothing changed");
        assert.equal(refuse(rotated, { acknowledgeCa: sha256("NEW CA") }), undefined);
        assert.equal(
            refuse(rotated, { acknowledgeCa: sha256("OLD CA") }),
            caChangeRefusal("the provider token", recorded.address, "NEW CA"),
        );
        assert.equal(
            refuse(rotated, {}),
            "refusing to send the provider token to a Vault this stack did not initialize: the CA pinned for it " +
                "(trust.caBundle) at https://vault.amiya.akn changed. If Vault's certificate really is now verified " +
                `with the new trust.caBundle, set secret-platform:vault.acknowledgeCa to ${sha256("NEW CA")} (the ` +
                "SHA-256 of that bundle) for the pulumi up that rotates it (pulumi config set --path " +
                `vault.acknowledgeCa ${sha256("NEW CA")}); removing it afterwards is optional, since it approves only ` +
                "this bundle at this address. Otherwise revert the change.",
        );
        const publicRoots = { address: recorded.address, skipTlsVerify: recorded.skipTlsVerify };
        assert.equal(sha256(""), EMPTY_DIGEST);
        assert.equal(refuse(publicRoots, { acknowledgeCa: EMPTY_DIGEST }), undefined);
        assert.equal(
            refuse(publicRoots, {}),
            "refusing to send the provider token to a Vault this stack did not initialize: the CA pinned for it " +
                "(trust.caBundle) at https://vault.amiya.akn changed. If Vault's certificate really is now verified " +
                `with no trust.caBundle (public roots), set secret-platform:vault.acknowledgeCa to ${EMPTY_DIGEST} (the ` +
                "SHA-256 of that bundle) for the pulumi up that rotates it (pulumi config set --path " +
                `vault.acknowledgeCa ${EMPTY_DIGEST}); removing it afterwards is optional, since it approves only ` +
                "this bundle at this address. Otherwise revert the change.",
        );
    });

    it("a changed address or skipTlsVerify needs vault.movedFrom, whatever vault.acknowledgeCa says", () => {
        const moved = { ...recorded, address: "https://vault.evil.akn", caBundle: "NEW CA" };
        const insecure = { ...recorded, skipTlsVerify: true };
        const moveRefusal = (change: string) =>
            `refusing to send the provider token to a Vault this stack did not initialize: ${change}. If Vault ` +
            "really moved, set secret-platform:vault.movedFrom to https://vault.amiya.akn for the pulumi up that " +
            "moves it (pulumi config set --path vault.movedFrom ...), then remove it. Otherwise revert the change.";
        assert.equal(
            refuse(moved, { acknowledgeCa: sha256("NEW CA") }),
            moveRefusal(
                "address https://vault.amiya.akn -> https://vault.evil.akn, the CA pinned for it (trust.caBundle)",
            ),
        );
        assert.equal(refuse(insecure, { acknowledgeCa: sha256("OLD CA") }), moveRefusal("skipTlsVerify true"));
        // Positive controls: the recorded address as vault.movedFrom approves either.
        assert.equal(refuse(moved, { movedFrom: recorded.address }), undefined);
        assert.equal(refuse(insecure, { movedFrom: recorded.address }), undefined);
        assert.notEqual(refuse(moved, { movedFrom: moved.address }), undefined, "movedFrom names the old address");
    });
});

describe("bootstrap builders", () => {
    it("names one key file per share", () => {
        assert.deepEqual(unsealKeyFiles(["aa", "bb"]), { "unseal-key-1": "aa", "unseal-key-2": "bb" });
        assert.deepEqual(unsealKeyFiles([]), {});
    });

    it("builds the init body for each seal", () => {
        assert.deepEqual(initRequest("shamir", 5, 3), { secret_shares: 5, secret_threshold: 3 });
        assert.deepEqual(initRequest("awskms", 4, 2), { recovery_shares: 4, recovery_threshold: 2 });
    });

    it("tells the operator exactly what to supply when Vault is already initialized", () => {
        const base = inputs("https://vault.amiya.akn");
        assert.equal(
            alreadyInitializedMessage(base),
            "Vault at https://vault.amiya.akn is already initialized, but this stack has no record of its initialization " +
                "(a new stack, or lost state). Bootstrap never re-initializes Vault and never overwrites stored keys. " +
                "Restore the stack's state from a backup, or adopt this Vault by supplying an admin token: " +
                "pulumi config set --secret vaultToken (it prompts for the token; never put it on the command line). The unsealer keeps using the keys already in Secret " +
                "vault/vault-unseal-keys, which is never overwritten (see docs/bootstrap.md, adopting an initialized Vault).",
        );
        assert.ok(
            alreadyInitializedMessage({ ...base, sealType: "awskms", keysSecret: "" }).endsWith(
                "pulumi config set --secret vaultToken (it prompts for the token; never put it on the command line).",
            ),
        );
        assert.equal(
            wipedStorageMessage("https://vault.amiya.akn"),
            "Vault at https://vault.amiya.akn reports that it is NOT initialized, but this stack initialized it: its storage was " +
                "wiped or replaced (wrong bucket or prefix, deleted data). Bootstrap will not re-initialize on its own, " +
                "because new keys would orphan the data and the stored keys. Fix the storage binding, or put Vault's objects " +
                "back under the prefix from the bucket's object versions or a copy (docs/disaster-recovery.md, wiped storage); " +
                "to start over on purpose follow docs/bootstrap.md (starting over).",
        );
        // The runbook shows the refusal exactly as an operator sees it (drill 5 of the e2e drills meets it on pods).
        const runbook = fs.readFileSync(path.join(__dirname, "../../docs/disaster-recovery.md"), "utf8");
        assert.ok(runbook.includes(wipedStorageMessage("https://vault.amiya.akn")));
    });

    it("redacts every secret from a message", () => {
        assert.equal(redact("bad key abcdef and abcdef", ["abcdef"]), "bad key <redacted> and <redacted>");
    });

    it("builds the pod spec from its options alone", () => {
        const spec = unsealerPodSpec({
            image: "hashicorp/vault:2.0.4",
            vaultAddr: "http://vault.vault.svc:8200",
            keysSecretName: "vault-unseal-keys",
            scriptConfigMap: "vault-unsealer",
            args: [],
        });
        assert.deepEqual(spec, expectedPodSpec([]));
    });
});

// ---------------------------------------------------------------------------
// vault-init against a tiny fake Vault: only what the real server cannot show
// (no answer at all, proxies in front, a broken init answer).
// ---------------------------------------------------------------------------

type Handler = (req: http.IncomingMessage, body: string) => { status: number; body?: unknown; raw?: string };

async function fakeVault(handler: Handler): Promise<{ address: string; close(): Promise<void>; seen: string[] }> {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
            seen.push(`${req.method} ${req.url}`);
            const out = handler(req, body);
            res.writeHead(out.status, { "Content-Type": out.raw ? "text/html" : "application/json" });
            res.end(out.raw ?? (out.body === undefined ? "" : JSON.stringify(out.body)));
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    return {
        address: `http://127.0.0.1:${port}`,
        seen,
        close: () =>
            new Promise((r) => {
                server.closeAllConnections();
                server.close(() => r());
            }),
    };
}

const sealed = { type: "shamir", initialized: false, sealed: true, t: 0, n: 0, progress: 0 };

function inputs(address: string, extra: Partial<BootstrapInputs> = {}): BootstrapInputs {
    return initInputs(address, { waitTimeoutSeconds: 2, shares: 1, threshold: 1, ...extra });
}

/** What ensureUnsealed gets for a fake API: by default a Shamir Vault whose keys this stack does not hold, 0.1 s to wait. */
function unsealInputs(address: string, extra: Partial<UnsealInputs> = {}): UnsealInputs {
    return unsealInputsFor(address, { waitTimeoutSeconds: 0.1, ...extra });
}

describe("vault-init against a fake API", () => {
    it("waits through connection refusals and proxy 502s, then answers", async () => {
        let n = 0;
        const fake = await fakeVault(() =>
            ++n < 3 ? { status: 502, raw: "<html>Bad Gateway</html>" } : { status: 200, body: sealed },
        );
        try {
            const status = await waitForApi({ address: fake.address }, 5, { intervalMs: 10 });
            assert.deepEqual(status, sealed);
            assert.deepEqual(fake.seen, Array(3).fill("GET /v1/sys/seal-status"));
        } finally {
            await fake.close();
        }
    });

    it("gives up after the wait timeout with the address, the last error and the config keys", async () => {
        const fake = await fakeVault(() => ({ status: 503, body: { errors: ["Vault is sealed"] } }));
        try {
            await assert.rejects(waitForApi({ address: fake.address }, 0.05, { intervalMs: 10 }), {
                message:
                    `Vault API at ${fake.address} did not answer within 0.05s (last error: GET ${fake.address}/v1/sys/seal-status: HTTP 503: Vault is sealed). ` +
                    "Check secret-platform:vault.address, that the Vault pod is running and reachable from here " +
                    "(and secret-platform:trust.caBundle for a certificate from a private CA); " +
                    "secret-platform:vault.waitTimeoutSeconds sets how long to wait.",
            });
        } finally {
            await fake.close();
        }
        // Nothing listens any more: a refused connection is retried, then reported.
        await assert.rejects(
            waitForApi({ address: fake.address }, 0.01, { intervalMs: 10 }),
            /did not answer within 0\.01s \(last error: GET http:\/\/127\.0\.0\.1:\d+\/v1\/sys\/seal-status: connect ECONNREFUSED/,
        );
    });

    it("refuses a Vault whose seal type disagrees with unseal.mode, before init", async () => {
        const fake = await fakeVault(() => ({ status: 200, body: { ...sealed, type: "awskms" } }));
        try {
            await assert.rejects(ensureInitialized(inputs(fake.address), undefined, { intervalMs: 10 }), {
                message: `Vault at ${fake.address} reports seal type 'awskms' but secret-platform:unseal.mode is 'shamir': the server's seal stanza and the unseal mode must agree before init.`,
            });
            assert.deepEqual(fake.seen, ["GET /v1/sys/seal-status"]);
        } finally {
            await fake.close();
        }
    });

    it("says Vault is initialized now when init answers 200 without keys", async () => {
        const fake = await fakeVault((req) =>
            req.url === "/v1/sys/init" ? { status: 200, body: { root_token: "hvs.x" } } : { status: 200, body: sealed },
        );
        try {
            await assert.rejects(ensureInitialized(inputs(fake.address), undefined, { intervalMs: 10 }), {
                message: `PUT ${fake.address}/v1/sys/init answered 200 without a root token and 1 unseal keys; Vault is now initialized and its keys are not known to this stack (see docs/bootstrap.md, lost keys).`,
            });
        } finally {
            await fake.close();
        }
    });

    it("waits for init's answer past the usual 10 s request timeout (raft's first election), and keeps the keys", async function () {
        this.timeout(30_000);
        // Answers sys/init after 10.5 s, as vault-0 did in the raft drill (init returns once raft has a leader).
        const server = http.createServer((req, res) => {
            const answer = (status: number, body: unknown) => {
                res.writeHead(status, { "Content-Type": "application/json" });
                res.end(JSON.stringify(body));
            };
            req.resume();
            req.on("end", () => {
                if (req.url !== "/v1/sys/init") return answer(200, sealed);
                setTimeout(() => answer(200, { root_token: "hvs.root", keys: ["k1"], keys_base64: ["azE="] }), 10_500);
            });
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        try {
            const start = Date.now();
            const state = await ensureInitialized(inputs(address), undefined, { intervalMs: 10 });
            assert.ok(Date.now() - start >= 10_500);
            assert.equal(state.initialized, true);
            assert.equal(state.rootToken, "hvs.root");
            assert.deepEqual(state.keys, ["k1"]);
        } finally {
            server.closeAllConnections();
            await new Promise((r) => server.close(r));
        }
        assert.ok(INIT_REQUEST_TIMEOUT_MS > 90_000, "longer than Vault's own max_request_duration");
    });

    it("awskms: waits for the auto-unseal and names KMS when it never comes", async () => {
        const fake = await fakeVault(() => ({ status: 200, body: { ...sealed, type: "awskms", initialized: true } }));
        try {
            await assert.rejects(
                ensureUnsealed(unsealInputs(fake.address, { sealType: "awskms", keysSecret: "" }), { intervalMs: 10 }),
                {
                    message: `Vault at ${fake.address} did not auto-unseal with awskms within 0.1s: check the Vault pod's log for KMS errors (key id, region, credentials).`,
                },
            );
        } finally {
            await fake.close();
        }
    });

    it("shamir: keys that do not belong to this Vault fail with progress, and an echoed key is redacted", async () => {
        const status = { ...sealed, initialized: true, t: 2, n: 3 };
        let answer: "progress" | "echo" = "progress";
        const fake = await fakeVault((req, body) => {
            if (req.url !== "/v1/sys/unseal") return { status: 200, body: status };
            if (answer === "progress") return { status: 200, body: { ...status, progress: 1 } };
            return { status: 400, body: { errors: [`invalid key ${String(JSON.parse(body).key)}`] } };
        });
        const u = unsealInputs(fake.address, { waitTimeoutSeconds: 1, keys: ["aaaa1111", "bbbb2222"] });
        try {
            await assert.rejects(ensureUnsealed(u, { intervalMs: 10 }), {
                message: `Vault at ${fake.address} is still sealed after all 2 stored unseal keys (progress 1/2): the keys do not belong to this Vault's storage.`,
            });
            answer = "echo";
            await assert.rejects(ensureUnsealed(u, { intervalMs: 10 }), {
                message: `PUT ${fake.address}/v1/sys/unseal: HTTP 400: invalid key <redacted>`,
            });
        } finally {
            await fake.close();
        }
    });

    it("an adopted Shamir Vault without keys waits for the unsealer, then says where the keys are", async () => {
        const fake = await fakeVault(() => ({ status: 200, body: { ...sealed, initialized: true } }));
        try {
            await assert.rejects(ensureUnsealed(unsealInputs(fake.address), { intervalMs: 10 }), {
                message: `Vault at ${fake.address} is sealed and this stack holds no unseal keys (adopted); the unsealer reads them from Secret vault/vault-unseal-keys, or unseal by hand: vault operator unseal.`,
            });
            assert.ok(!fake.seen.some((s) => s.startsWith("PUT")), "no key was submitted");
        } finally {
            await fake.close();
        }
    });

    it("the serialized provider (as the dynamic provider host loads them) runs each kind against the API", async () => {
        const { text, provider } = await hostLoadedBootstrapProvider();
        const [init, unseal] = await Promise.all([hostLoaded("init"), hostLoaded("unsealed")]);
        assert.deepEqual(Object.keys(provider).sort(), ["create", "delete", "diff", "read", "update"]);
        const initText = text;
        const fake = await fakeVault((req) => ({
            status: 200,
            body: { ...sealed, initialized: req.method === "GET" },
        }));
        try {
            // Initialized, no state, no token: refused with what to supply.
            await assert.rejects(
                init.create({ ...inputs(fake.address), __provider: initText }),
                /pulumi config set --secret vaultToken \(it prompts for the token; never put it on the command line\)/,
            );
            const adopted = await init.create({ ...inputs(fake.address, { adoptExisting: true }) });
            assert.deepEqual(adopted.outs, {
                ...inputs(fake.address, { adoptExisting: true }),
                initialized: true,
                adopted: true,
                rootToken: "",
                keys: [],
            });
            // A sealed Vault is a change for the readiness resource; an input change is never a replacement.
            assert.deepEqual(await unseal.diff("id", unsealInputs(fake.address), unsealInputs(fake.address)), {
                changes: true,
                replaces: [],
            });
            assert.deepEqual(await init.diff("id", inputs(fake.address), inputs(fake.address, { shares: 3 })), {
                changes: true,
                replaces: [],
            });
            await init.delete("id", inputs(fake.address));
            assert.deepEqual(
                fake.seen.filter((s) => !s.startsWith("GET")),
                [],
                "only reads: delete touched nothing",
            );
        } finally {
            await fake.close();
        }
    });
});

describe("retryWhileUnavailable: asks again only while Vault cannot serve for a moment", () => {
    /** An attempt that fails with each of `errors` in turn, then answers "ok"; counts its calls. */
    function attempts(errors: Error[]) {
        let calls = 0;
        return {
            run: async () => {
                const e = errors[calls++];
                if (e !== undefined) throw e;
                return "ok";
            },
            calls: () => calls,
        };
    }
    const status = (n: number) => Object.assign(new Error(`HTTP ${n}`), { status: n });
    const noAnswer = (code: string) => Object.assign(new Error(`connect ${code}`), { reason: `connect ${code}`, code });

    it("a 5xx (sealed, an election) and no answer are retried until it answers", async () => {
        const a = attempts([status(503), noAnswer("ECONNREFUSED"), status(500)]);
        assert.equal(await retryWhileUnavailable(a.run, 5, { intervalMs: 10 }), "ok");
        assert.equal(a.calls(), 4);
    });

    it("a 4xx, a certificate that cannot be verified and a plain error are thrown at once", async () => {
        for (const e of [status(403), noAnswer("SELF_SIGNED_CERT_IN_CHAIN"), new Error("a bug")]) {
            const a = attempts([e]);
            await assert.rejects(retryWhileUnavailable(a.run, 5, { intervalMs: 10 }), (thrown) => thrown === e);
            assert.equal(a.calls(), 1, e.message);
        }
    });

    it("past the deadline the last error is thrown as it is", async () => {
        const last = status(503);
        const a = attempts(Array.from({ length: 1000 }, () => last));
        await assert.rejects(retryWhileUnavailable(a.run, 0.05, { intervalMs: 10 }), (thrown) => thrown === last);
        assert.ok(a.calls() >= 2 && a.calls() < 1000, String(a.calls()));
    });
});

describe("the bootstrap resources' one provider", () => {
    it("dispatches each property bag by the inputs only its kind has, outputs (which hold them) too", async () => {
        const address = "http://127.0.0.1:1";
        const initOuts = { ...inputs(address), initialized: true, adopted: false, rootToken: "r", keys: ["k"] };
        assert.equal(bootstrapKindOf({ ...inputs(address) }), "init");
        assert.equal(bootstrapKindOf(initOuts), "init");
        assert.equal(bootstrapKindOf({ ...unsealInputs(address) }), "unsealed");
        assert.equal(bootstrapKindOf({ ...unsealInputs(address), unsealed: true }), "unsealed");
        const token = { address, skipTlsVerify: false, policy: "pulumi", policyText: "", bootstrapToken: "t" };
        assert.equal(bootstrapKindOf({ ...token, bootstrapSource: "root" }), "token");
        assert.equal(bootstrapKindOf({ ...token, bootstrapSource: "root", token: "x", accessor: "a" }), "token");

        // Through the host-loaded text: the init CRUD's diff, update, read and delete answer for init's bags.
        const { provider } = await hostLoadedBootstrapProvider();
        assert.deepEqual(await provider.diff("id", initOuts, inputs(address)), { changes: false, replaces: [] });
        const updated = await provider.update("id", initOuts, { ...inputs(address), waitTimeoutSeconds: 45 });
        assert.deepEqual(updated.outs, { ...initOuts, waitTimeoutSeconds: 45 });
        const recovery = { ...inputs(address, { sealType: "awskms" }), adopted: false, keys: ["k"] };
        await assert.rejects(provider.delete("id", recovery), { message: recoveryKeysDestroyRefusal(address) });
        // The unseal check has no read: the host's default, the properties as they are.
        const unsealedOuts = { ...unsealInputs(address), unsealed: true };
        assert.deepEqual(await provider.read("id", unsealedOuts), { id: "id", props: unsealedOuts });
        await provider.delete("id", unsealedOuts);
    });

    it("refuses properties of no kind rather than guess", async () => {
        const { provider } = await hostLoadedBootstrapProvider();
        const message =
            'secret-platform bootstrap provider: properties ["address"] are none of init, unsealed, token (no bootstrapSource, shares or keysSecret)';
        await assert.rejects(provider.create({ address: "http://127.0.0.1:1" }), { message });
        await assert.rejects(provider.delete("id", { address: "http://127.0.0.1:1" }), { message });
    });
});
