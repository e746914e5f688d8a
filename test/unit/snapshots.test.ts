/**
 * The raft snapshot job (components/snapshots.ts) and what it needs
 * elsewhere: the config key, the raft-snapshot policy and Kubernetes auth
 * role, and the NetworkPolicies. Under the shared mocks, plus the real HCL
 * parser and the Kubernetes schemas.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { parse as parseHcl } from "@cdktf/hcl2json";
import { knownPolicyNames, POLICY_DIR } from "../../components/lib/policy-names";
import { buildNetworkPolicies } from "../../components/lib/network-policy";
import { checkPolicy } from "../../components/lib/policies";
import { buildPlatform, SecretPlatform } from "../../components/platform";
import {
    activeVaultUrl,
    awsCliConfig,
    SNAPSHOT_SCRIPT_PATH,
    snapshotLabels,
    snapshotPodSpec,
    SnapshotPodOptions,
} from "../../components/snapshots";
import { awsStack, homelabStack } from "../support/fixtures";
import { at, findBy, listAt, named, objectAt, only } from "../support/inputs";
import {
    configOf,
    configProblems,
    dependsOnOf,
    problemsOf,
    isSecret,
    parentOf,
    Program,
    runProgram,
    valueOf,
} from "../support/program";

// The kubernetes-models packages validate objects against the Kubernetes OpenAPI schemas.
const { CronJob } = require("kubernetes-models/batch/v1/CronJob");
const { NetworkPolicy } = require("kubernetes-models/networking.k8s.io/v1/NetworkPolicy");

const ns = "secret-platform";
const T = {
    cron: "kubernetes:batch/v1:CronJob",
    sa: "kubernetes:core/v1:ServiceAccount",
    cm: "kubernetes:core/v1:ConfigMap",
    secret: "kubernetes:core/v1:Secret",
    netpol: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    policy: "vault:index/policy:Policy",
    k8sRole: "vault:kubernetes/authBackendRole:AuthBackendRole",
};
const S = "platform-snapshots";
const S3_CIDR = "192.0.2.50/32";

/** amiya in HA: Garage storage, raft with 3 replicas, an S3 egress CIDR. */
function raftStack() {
    const s = homelabStack();
    s.values.server = { storageBackend: "raft", replicas: 3 };
    objectAt(s.values, "networkPolicy", "egress").s3 = { cidrs: [S3_CIDR], ports: [443] };
    return s;
}

function strings(value: unknown): string[] {
    if (typeof value === "string") return [value];
    if (Array.isArray(value)) return value.flatMap(strings);
    if (value !== null && typeof value === "object") return Object.values(value).flatMap(strings);
    return [];
}

const restricted = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
};

const garageOptions: SnapshotPodOptions = {
    vaultImage: "hashicorp/vault:2.0.4",
    uploadImage: "amazon/aws-cli:2.15.61",
    vaultAddr: "http://vault-active.vault.svc:8200",
    authPath: "kubernetes-amiya.akn",
    bucket: "vault-amiya",
    keyPrefix: "vault/snapshots/",
    endpoint: "https://s3.amiya.akn",
};

/** The pod spec the Garage raft stack must produce, field by field. */
function expectedPodSpec() {
    return {
        serviceAccountName: "vault-snapshot",
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        restartPolicy: "Never",
        securityContext: {
            runAsNonRoot: true,
            runAsUser: 100,
            runAsGroup: 1000,
            fsGroup: 1000,
            seccompProfile: { type: "RuntimeDefault" },
        },
        initContainers: [
            {
                name: "save",
                image: "hashicorp/vault:2.0.4",
                imagePullPolicy: "IfNotPresent",
                command: ["/bin/sh", "/vault/snapshot/raft-snapshot.sh", "save"],
                env: [
                    { name: "VAULT_ADDR", value: "http://vault-active.vault.svc:8200" },
                    { name: "VAULT_AUTH_PATH", value: "kubernetes-amiya.akn" },
                    { name: "VAULT_ROLE", value: "raft-snapshot" },
                    { name: "SA_TOKEN_FILE", value: "/var/run/secrets/vault-snapshot/token" },
                    { name: "SNAPSHOT_DIR", value: "/snap" },
                    { name: "HOME", value: "/tmp" },
                ],
                volumeMounts: [
                    { name: "snapshots", mountPath: "/snap" },
                    { name: "script", mountPath: "/vault/snapshot", readOnly: true },
                    { name: "sa-token", mountPath: "/var/run/secrets/vault-snapshot", readOnly: true },
                    { name: "save-tmp", mountPath: "/tmp" },
                ],
                resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: "512Mi" } },
                securityContext: restricted,
            },
        ],
        containers: [
            {
                name: "upload",
                image: "amazon/aws-cli:2.15.61",
                imagePullPolicy: "IfNotPresent",
                command: ["/bin/sh", "/vault/snapshot/raft-snapshot.sh", "upload"],
                env: [
                    { name: "SNAPSHOT_DIR", value: "/snap" },
                    { name: "SNAPSHOT_BUCKET", value: "vault-amiya" },
                    { name: "SNAPSHOT_KEY_PREFIX", value: "vault/snapshots/" },
                    { name: "AWS_CONFIG_FILE", value: "/vault/snapshot/aws-config" },
                    { name: "AWS_SHARED_CREDENTIALS_FILE", value: "/aws/credentials/credentials" },
                    { name: "HOME", value: "/tmp" },
                    { name: "S3_ENDPOINT", value: "https://s3.amiya.akn" },
                ],
                volumeMounts: [
                    { name: "snapshots", mountPath: "/snap", readOnly: true },
                    { name: "script", mountPath: "/vault/snapshot", readOnly: true },
                    { name: "credentials", mountPath: "/aws/credentials", readOnly: true },
                    { name: "upload-tmp", mountPath: "/tmp" },
                ],
                resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: "256Mi" } },
                securityContext: restricted,
            },
        ],
        volumes: [
            { name: "snapshots", emptyDir: { medium: "Memory", sizeLimit: "256Mi" } },
            { name: "script", configMap: { name: "vault-snapshot", defaultMode: 0o555 } },
            {
                name: "sa-token",
                projected: {
                    defaultMode: 0o400,
                    sources: [{ serviceAccountToken: { path: "token", expirationSeconds: 600 } }],
                },
            },
            { name: "save-tmp", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
            { name: "credentials", secret: { secretName: "vault-snapshot-credentials", defaultMode: 0o400 } },
            { name: "upload-tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
        ],
    };
}

describe("raft snapshots", () => {
    describe("config: server.snapshots", () => {
        it("is on by default with raft, with the documented defaults", async () => {
            const p = await runProgram(raftStack(), buildPlatform);
            assert.deepEqual(p.config.server.snapshots, {
                enabled: true,
                schedule: "0 */6 * * *",
                prefix: "snapshots/",
                image: "amazon/aws-cli:2.15.61",
            });
        });

        it("is absent with s3 storage, and refused when set there", () => {
            const s = homelabStack();
            s.values.server = { snapshots: { schedule: "0 * * * *" } };
            assert.deepEqual(configProblems(s), [
                `${ns}:server.snapshots: is only for server.storageBackend raft (with s3 storage the bucket's object versions are the backup)`,
            ]);
            s.values.server = { snapshots: { enabled: false } };
            assert.equal(configProblems(s).length, 1);
        });

        it("rejects a bad schedule, prefix or unpinned image, naming the key", () => {
            const s = raftStack();
            s.values.server = {
                storageBackend: "raft",
                snapshots: { schedule: "hourly", prefix: "/snaps", image: "amazon/aws-cli" },
            };
            assert.deepEqual(configProblems(s), [
                `${ns}:server.snapshots.schedule: must be a five-field cron schedule (got "hourly")`,
                `${ns}:server.snapshots.prefix: must be a relative key prefix ending in '/' (e.g. snapshots/) (got "/snaps")`,
                `${ns}:server.snapshots.image: must be an image with an exact tag (repository:tag) or a digest (repository@sha256:<64 hex>) (got "amazon/aws-cli")`,
            ]);
            // A digest must be a whole sha256; with it, a tag may stay for the reader.
            s.values.server = { storageBackend: "raft", snapshots: { image: "amazon/aws-cli@sha256:abc" } };
            assert.deepEqual(configProblems(s), [
                `${ns}:server.snapshots.image: must be an image with an exact tag (repository:tag) or a digest (repository@sha256:<64 hex>) (got "amazon/aws-cli@sha256:abc")`,
            ]);
            for (const image of [
                `amazon/aws-cli@sha256:${"a1".repeat(32)}`,
                `amazon/aws-cli:2.22.35@sha256:${"0f".repeat(32)}`,
            ]) {
                s.values.server = { storageBackend: "raft", snapshots: { image } };
                assert.equal(configOf(s).server.snapshots?.image, image);
            }
        });

        it("is refused with IRSA (the job would have no credentials) unless turned off", async () => {
            const s = awsStack();
            s.values.storage = {
                ...(s.values.storage as object),
                identity: "role",
                irsa: {
                    oidcProviderArn: "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/X",
                    oidcProviderUrl: "oidc.eks.eu-west-1.amazonaws.com/id/X",
                },
            };
            s.values.server = { storageBackend: "raft", replicas: 3 };
            assert.deepEqual(configProblems(s), [
                `${ns}:server.snapshots.enabled: must be false with storage.identity role (the snapshot upload needs the IAM user's keys; use storage.identity user, or take snapshots another way)`,
            ]);
            s.values.server = { storageBackend: "raft", replicas: 3, snapshots: { enabled: false } };
            const p = await runProgram(s, buildPlatform);
            assert.equal(p.result.snapshots, undefined);
            assert.deepEqual(p.ofType(T.cron), []);
        });

        it("the upload's own keys (snapshotAccessKeyId/snapshotSecretAccessKey): s3-compatible with the job only, as a pair", () => {
            const own = { snapshotAccessKeyId: "GKsnapshotkey", snapshotSecretAccessKey: "test-snapshot-secret-key" };
            const setSecret = (key: string) => `pulumi config set --secret ${key} (it prompts for the value)`;
            // Positive control: the raft stack on Garage takes both.
            const ok = raftStack();
            Object.assign(ok.secrets, own);
            assert.deepEqual(problemsOf(ok), []);
            // One without the other: the missing one is named.
            for (const [given, missing] of [
                ["snapshotAccessKeyId", "snapshotSecretAccessKey"],
                ["snapshotSecretAccessKey", "snapshotAccessKeyId"],
            ] as const) {
                const half = raftStack();
                half.secrets[given] = own[given];
                assert.deepEqual(configProblems(half), [
                    `${ns}:${missing}: is required with ${given} (the snapshot upload's key pair): ${setSecret(missing)}`,
                ]);
            }
            // No snapshot job: s3 storage backend, or snapshots off.
            const noJob = `is only used by the raft snapshot job (server.storageBackend raft, server.snapshots.enabled)`;
            for (const server of [{}, { storageBackend: "raft", replicas: 3, snapshots: { enabled: false } }]) {
                const s = raftStack();
                s.values.server = server;
                Object.assign(s.secrets, own);
                assert.deepEqual(
                    configProblems(s),
                    [`${ns}:snapshotAccessKeyId: ${noJob}`, `${ns}:snapshotSecretAccessKey: ${noJob}`],
                    JSON.stringify(server),
                );
            }
            // aws mode makes its own write-only user.
            const aws = awsStack();
            aws.values.server = { storageBackend: "raft", replicas: 3 };
            aws.secrets.snapshotAccessKeyId = own.snapshotAccessKeyId;
            assert.deepEqual(configProblems(aws), [
                `${ns}:snapshotAccessKeyId: is only used with storage.mode s3-compatible (in aws mode the program makes the snapshot upload's own write-only IAM user)`,
            ]);
        });

        it("keeps raft-snapshot out of the SSO-mappable policy names", () => {
            assert.ok(fs.existsSync(path.join(POLICY_DIR, "raft-snapshot.hcl")));
            assert.ok(!knownPolicyNames().includes("raft-snapshot"));
            const s = raftStack();
            objectAt(s.values, "oidc").groups = { ops: ["raft-snapshot"] };
            assert.deepEqual(configProblems(s), [
                `${ns}:oidc.groups.ops: unknown policy 'raft-snapshot' (known: admin, default, external-secrets-reader, operator, read-only)`,
            ]);
        });
    });

    describe("the policy file", () => {
        it("grants read on sys/storage/raft/snapshot and nothing else (real HCL parser)", async () => {
            const text = fs.readFileSync(path.join(POLICY_DIR, "raft-snapshot.hcl"), "utf8");
            assert.deepEqual(await parseHcl("raft-snapshot.hcl", text), {
                path: { "sys/storage/raft/snapshot": [{ capabilities: ["read"] }] },
            });
            assert.equal(await checkPolicy({ name: "raft-snapshot", file: "policies/raft-snapshot.hcl", text }), text);
        });
    });

    describe("raft stack (mocks)", () => {
        let p: Program<SecretPlatform>;
        before(async () => {
            p = await runProgram(raftStack(), buildPlatform);
        });

        it("creates the raft-snapshot policy and a role bound to vault/vault-snapshot only, short-lived", async () => {
            const policy = p.find(T.policy, "platform-configuration-policy-raft-snapshot");
            assert.equal(policy.inputs.name, "raft-snapshot");
            assert.equal(
                policy.inputs.policy,
                fs.readFileSync(path.join(POLICY_DIR, "raft-snapshot.hcl"), "utf8").trimEnd() + "\n",
            );
            const role = p.find(T.k8sRole, "platform-configuration-k8s-auth-raft-snapshot-role");
            assert.deepEqual(role.inputs, {
                backend: "kubernetes-amiya.akn",
                roleName: "raft-snapshot",
                boundServiceAccountNames: ["vault-snapshot"],
                boundServiceAccountNamespaces: ["vault"],
                tokenPolicies: ["raft-snapshot"],
                tokenTtl: 300,
                tokenMaxTtl: 900,
                tokenNoDefaultPolicy: true,
            });
            const deps = await dependsOnOf(role);
            assert.ok(
                deps.includes(
                    p.find(
                        "vault:kubernetes/authBackendConfig:AuthBackendConfig",
                        "platform-configuration-k8s-auth-config",
                    ).resource,
                ),
            );
            assert.equal(parentOf(role), p.result.configuration);
            assert.equal(p.result.configuration.snapshotRole, role.resource);
        });

        it("runs the job under its own ServiceAccount, without the legacy token mount", () => {
            const sa = p.find(T.sa, `${S}-sa`);
            assert.deepEqual(sa.inputs, {
                apiVersion: "v1",
                kind: "ServiceAccount",
                metadata: { name: "vault-snapshot", namespace: "vault", labels: snapshotLabels("config") },
                automountServiceAccountToken: false,
            });
        });

        it("ships the script and the AWS CLI config in a ConfigMap, with nothing secret", () => {
            const cm = p.find(T.cm, `${S}-script`);
            assert.deepEqual(cm.inputs, {
                apiVersion: "v1",
                kind: "ConfigMap",
                metadata: { name: "vault-snapshot", namespace: "vault", labels: snapshotLabels("config") },
                data: {
                    "raft-snapshot.sh": fs.readFileSync(SNAPSHOT_SCRIPT_PATH, "utf8"),
                    "aws-config":
                        "[default]\nregion = garage\ns3 =\n    multipart_threshold = 5GB\n    addressing_style = path\n",
                },
            });
            for (const s of strings(cm.inputs)) {
                assert.ok(!s.includes("GKtestaccesskey") && !s.includes("test-storage-secret-key"));
            }
        });

        it("keeps the storage keys in a secret Secret as an AWS shared credentials file", async () => {
            const secret = p.find(T.secret, `${S}-credentials`);
            const rest = Object.fromEntries(Object.entries(secret.inputs).filter(([key]) => key !== "stringData"));
            assert.deepEqual(rest, {
                apiVersion: "v1",
                kind: "Secret",
                metadata: { name: "vault-snapshot-credentials", namespace: "vault", labels: snapshotLabels("config") },
                type: "Opaque",
            });
            assert.equal(await isSecret(secret.props.stringData), true);
            assert.deepEqual(await valueOf(secret.props.stringData), {
                credentials:
                    "[default]\naws_access_key_id = GKtestaccesskey\naws_secret_access_key = test-storage-secret-key\n",
            });
        });

        it("with snapshotAccessKeyId/snapshotSecretAccessKey, the Secret holds those keys and none of the storage's", async () => {
            const s = raftStack();
            Object.assign(s.secrets, {
                snapshotAccessKeyId: "GKsnapshotkey",
                snapshotSecretAccessKey: "test-snapshot-secret-key",
            });
            const own = await runProgram(s, buildPlatform);
            const secret = own.find(T.secret, `${S}-credentials`);
            assert.equal(await isSecret(secret.props.stringData), true);
            assert.deepEqual(await valueOf(secret.props.stringData), {
                credentials:
                    "[default]\naws_access_key_id = GKsnapshotkey\naws_secret_access_key = test-snapshot-secret-key\n",
            });
            // Nowhere else: no other resource of the program carries the snapshot keys.
            for (const r of own.resources.filter((x) => x !== secret)) {
                const text = strings(r.inputs).join("\n");
                assert.ok(!text.includes("GKsnapshotkey") && !text.includes("test-snapshot-secret-key"), r.name);
            }
        });

        it("schedules a CronJob that never overlaps, with the exact pod, and validates", async () => {
            const cron = p.find(T.cron, `${S}-cronjob`);
            assert.deepEqual(cron.inputs, {
                apiVersion: "batch/v1",
                kind: "CronJob",
                metadata: { name: "vault-snapshot", namespace: "vault", labels: snapshotLabels("cronjob") },
                spec: {
                    schedule: "0 */6 * * *",
                    concurrencyPolicy: "Forbid",
                    startingDeadlineSeconds: 600,
                    successfulJobsHistoryLimit: 1,
                    failedJobsHistoryLimit: 3,
                    jobTemplate: {
                        spec: {
                            backoffLimit: 2,
                            activeDeadlineSeconds: 900,
                            template: { metadata: { labels: snapshotLabels("cronjob") }, spec: expectedPodSpec() },
                        },
                    },
                },
            });
            new CronJob(cron.inputs).validate();
            const deps = await dependsOnOf(cron);
            for (const [type, name] of [
                [T.sa, `${S}-sa`],
                [T.cm, `${S}-script`],
                [T.secret, `${S}-credentials`],
                [T.k8sRole, "platform-configuration-k8s-auth-raft-snapshot-role"],
            ]) {
                assert.ok(deps.includes(p.find(type, name).resource), `${name} is not a dependency`);
            }
            assert.equal(cron.opts.provider, p.find("pulumi:providers:kubernetes", "platform-k8s").resource);
        });

        it("puts no secret in env, args, the ConfigMap or the CronJob", () => {
            const text = JSON.stringify([
                p.find(T.cron, `${S}-cronjob`).inputs,
                p.find(T.cm, `${S}-script`).inputs,
                p.find(T.sa, `${S}-sa`).inputs,
            ]);
            for (const secret of ["GKtestaccesskey", "test-storage-secret-key", "test-oidc-client-secret"]) {
                assert.ok(!text.includes(secret), `${secret} leaked`);
            }
            const spec = objectAt(
                p.find(T.cron, `${S}-cronjob`).inputs,
                "spec",
                "jobTemplate",
                "spec",
                "template",
                "spec",
            );
            const containers = [...listAt(spec, "initContainers"), ...listAt(spec, "containers")].map((c) =>
                objectAt(c),
            );
            const env = containers.flatMap((c) => listAt(c, "env").map((e) => objectAt(e)));
            // Values only: no env var is fed from a Secret, and no container has args beyond the step name.
            assert.ok(env.every((e) => e.valueFrom === undefined && typeof e.value === "string"));
            assert.deepEqual(
                containers.map((c) => [c.command, c.args]),
                [
                    [["/bin/sh", "/vault/snapshot/raft-snapshot.sh", "save"], undefined],
                    [["/bin/sh", "/vault/snapshot/raft-snapshot.sh", "upload"], undefined],
                ],
            );
            assert.ok(
                env.every((e) => !/TOKEN$|SECRET|ACCESS_KEY/.test(String(e.name))),
                "a credential-shaped env var",
            );
        });

        it("is a child of the platform's snapshot component, itself a child of the platform", () => {
            const component = p.result.snapshots;
            assert.ok(component !== undefined);
            for (const [type, name] of [
                [T.cron, `${S}-cronjob`],
                [T.sa, `${S}-sa`],
                [T.cm, `${S}-script`],
                [T.secret, `${S}-credentials`],
            ]) {
                assert.equal(parentOf(p.find(type, name)), component);
            }
            assert.equal(parentOf(p.find("secret-platform:snapshots:RaftSnapshots", S)), p.result);
        });

        it("registers the builder's snapshot NetworkPolicy, and the server's admits the job", () => {
            // The documents are the builder's (test/unit/network-policy.test.ts): here, that they are registered.
            const built = buildNetworkPolicies(p.config);
            const byName = (name: string) =>
                only(
                    built.filter((b) => b.name === name),
                    name,
                );
            const policy = p.find(T.netpol, "platform-server-netpol-snapshot");
            assert.deepEqual(at(policy.inputs, "spec"), byName("vault-snapshot").spec);
            new NetworkPolicy(policy.inputs).validate();
            const server = objectAt(p.find(T.netpol, "platform-server-netpol-server").inputs, "spec");
            assert.deepEqual(server, byName("vault-server").spec);
            const api = findBy(server.ingress, "ports", [{ protocol: "TCP", port: 8200 }]);
            const snapshotPods = { podSelector: { matchLabels: { "app.kubernetes.io/name": "vault-snapshot" } } };
            assert.ok(
                listAt(api, "from").some((peer) => isDeepStrictEqual(peer, snapshotPods)),
                "the server admits the snapshot pods on 8200",
            );
            // The pod labels the CronJob stamps are the ones the policies select.
            const template = objectAt(p.find(T.cron, `${S}-cronjob`).inputs, "spec", "jobTemplate", "spec", "template");
            assert.equal(at(template, "metadata", "labels", "app.kubernetes.io/name"), "vault-snapshot");
        });

        it("is refused without an S3 egress rule to upload through, and accepted with snapshots off", () => {
            const s = raftStack();
            delete objectAt(s.values, "networkPolicy", "egress").s3;
            assert.deepEqual(configProblems(s), [
                `${ns}:networkPolicy.egress.s3: is required while networkPolicy.enabled is true: without it the raft snapshot job cannot upload snapshots to the bucket (set cidrs for an endpoint outside the cluster, namespaces for one this cluster's ingress serves; docs/architecture/network-policy.md)`,
            ]);
            s.values.server = { storageBackend: "raft", replicas: 3, snapshots: { enabled: false } };
            assert.equal(configOf(s).server.snapshots?.enabled, false);
        });

        it("reaches S3 through an in-cluster peer too: the job gets the same namespace rule as the server", () => {
            const s3 = {
                namespaces: [{ name: "traefik", podLabels: { "app.kubernetes.io/name": "traefik" } }],
                ports: [8443],
            };
            const c = { ...p.config, networkPolicy: { ...p.config.networkPolicy, egress: { s3 } } };
            const rule = {
                to: [
                    {
                        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "traefik" } },
                        podSelector: { matchLabels: { "app.kubernetes.io/name": "traefik" } },
                    },
                ],
                ports: [{ protocol: "TCP", port: 8443 }],
            };
            const policies = buildNetworkPolicies(c);
            const job = policies.find((x) => x.name === "vault-snapshot")?.spec.egress ?? [];
            assert.deepEqual(job.slice(2), [rule]);
            const server = policies.find((x) => x.name === "vault-server")?.spec.egress ?? [];
            assert.deepEqual(server.at(-1), rule);
        });
    });

    describe("s3 stack (mocks)", () => {
        it("creates no job, no policy, no role and no snapshot NetworkPolicy", async () => {
            const p = await runProgram(homelabStack(), buildPlatform);
            assert.equal(p.config.server.snapshots, undefined);
            assert.equal(p.result.snapshots, undefined);
            assert.equal(p.result.configuration.snapshotRole, undefined);
            assert.deepEqual(
                p.ofType(T.cron).map((r) => r.name),
                ["platform-bootstrap-unsealer"],
            );
            assert.deepEqual(p.ofType("secret-platform:snapshots:RaftSnapshots"), []);
            assert.ok(!p.ofType(T.policy).some((r) => r.inputs.name === "raft-snapshot"));
            assert.ok(!p.ofType(T.k8sRole).some((r) => r.inputs.roleName === "raft-snapshot"));
            assert.ok(!p.ofType(T.netpol).some((r) => r.name.endsWith("-snapshot")));
            const server = at(p.find(T.netpol, "platform-server-netpol-server").inputs, "spec");
            assert.ok(!JSON.stringify(server).includes("vault-snapshot"));
        });

        it("creates no job when snapshots are turned off in raft mode", async () => {
            const s = raftStack();
            s.values.server = { storageBackend: "raft", replicas: 3, snapshots: { enabled: false } };
            const p = await runProgram(s, buildPlatform);
            assert.equal(p.result.snapshots, undefined);
            assert.ok(!p.ofType(T.policy).some((r) => r.inputs.name === "raft-snapshot"));
            assert.ok(!p.ofType(T.netpol).some((r) => r.name.endsWith("-snapshot")));
        });
    });

    describe("pure builders", () => {
        it("the Garage pod spec is exactly as expected", () => {
            assert.deepEqual(snapshotPodSpec(garageOptions), expectedPodSpec());
        });

        it("AWS: no endpoint; internal TLS: only ca.crt of the CA Secret reaches the save step", () => {
            const spec = snapshotPodSpec({ ...garageOptions, endpoint: undefined, caSecretName: "vault-ca" });
            const upload = objectAt(only(listAt(spec, "containers"), "containers"));
            assert.equal(upload.name, "upload");
            assert.ok(!listAt(upload, "env").some((e) => at(e, "name") === "S3_ENDPOINT"));
            const save = objectAt(only(listAt(spec, "initContainers"), "initContainers"));
            assert.equal(save.name, "save");
            assert.deepEqual(named(save.env, "VAULT_CACERT"), { name: "VAULT_CACERT", value: "/vault/tls-ca/ca.crt" });
            assert.deepEqual(named(spec.volumes, "vault-ca"), {
                name: "vault-ca",
                secret: { secretName: "vault-ca", items: [{ key: "ca.crt", path: "ca.crt" }], defaultMode: 0o444 },
            });
            // The upload step sees neither the token nor the CA; the save step never sees the S3 keys.
            assert.ok(
                !listAt(upload, "volumeMounts").some((m) => ["sa-token", "vault-ca"].includes(String(at(m, "name")))),
            );
            assert.ok(!listAt(save, "volumeMounts").some((m) => at(m, "name") === "credentials"));
        });

        it("VAULT_ADDR is the active node's Service (a standby cannot serve a snapshot), https with internal TLS", () => {
            const c = configOf(raftStack());
            assert.equal(activeVaultUrl(c), "http://vault-active.vault.svc:8200");
            const tls = raftStack();
            tls.values.server = { storageBackend: "raft", tls: { mode: "internal", secretName: "vault-tls" } };
            assert.equal(activeVaultUrl(configOf(tls)), "https://vault-active.vault.svc:8200");
        });

        it("the AWS CLI config: path style only for S3-compatible servers", () => {
            // Never multipart: the aws-mode uploader has no kms:Decrypt, which SSE-KMS multipart uploads need.
            assert.equal(
                awsCliConfig("eu-west-1", false),
                "[default]\nregion = eu-west-1\ns3 =\n    multipart_threshold = 5GB\n",
            );
        });
    });
});
