/**
 * The KV export job (components/kv-backup.ts) and what it needs elsewhere:
 * the `backup` config key and its rules, the kv-backup policy and Kubernetes
 * auth role, the NetworkPolicies, the committed bundle, and the pure parts
 * of the export format and of `npm run restore -- kv-import`. Under the
 * shared mocks; the real servers are test/integration/kv-backup.test.ts's.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { configWarnings } from "../../components/config";
import { BACKUP_RECIPIENT_PLACEHOLDER } from "../../components/config/schema";
import { BACKUP_BUNDLE_PATH, BACKUP_SCRIPT_PATH } from "../../components/kv-backup";
import { buildNetworkPolicies } from "../../components/lib/network-policy";
import { knownPolicyNames } from "../../components/lib/policy-names";
import { renderPolicies } from "../../components/lib/policies";
import { buildPlatform } from "../../components/platform";
import { bundleExportJob } from "../../ops/backup/bundle";
import { KV_IMPORT_USAGE, parseKvImportArgs } from "../../ops/backup/import-cli";
import { exportName } from "../../ops/backup/job";
import {
    decryptExport,
    encryptExport,
    identitiesIn,
    KvExport,
    parseExport,
    serializeExport,
} from "../../ops/backup/kv-backup";
import { awsStack, homelabStack } from "../support/fixtures";
import { listAt, objectAt, only } from "../support/inputs";
import { configOf, configProblems, dependsOnOf, isSecret, parentOf, runProgram, valueOf } from "../support/program";

const { CronJob } = require("kubernetes-models/batch/v1/CronJob");

const ns = "secret-platform";
/** A public key whose private key was discarded (age-keygen). */
const RECIPIENT = "age195l04lrx37hay2qqtsglpmhyc43her5kywknf5xtqsujsp2gc57sujy7xe";
const B = "platform-backup";
const T = {
    cron: "kubernetes:batch/v1:CronJob",
    sa: "kubernetes:core/v1:ServiceAccount",
    cm: "kubernetes:core/v1:ConfigMap",
    secret: "kubernetes:core/v1:Secret",
    netpol: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    policy: "vault:index/policy:Policy",
    k8sRole: "vault:kubernetes/authBackendRole:AuthBackendRole",
};

function backupStack(backup: Record<string, unknown> = {}) {
    const s = homelabStack();
    s.values.backup = { enabled: true, recipients: [RECIPIENT], ...backup };
    return s;
}

describe("KV backup (the export CronJob)", () => {
    describe("config: backup", () => {
        it("is off by default, with the documented defaults", () => {
            assert.deepEqual(configOf(homelabStack()).backup, {
                enabled: false,
                recipients: [],
                schedule: "30 */6 * * *",
                bucket: "vault-amiya",
                prefix: "kv-exports/",
                keep: 28,
                image: "node:22.12.0-alpine3.20",
                uploadImage: "amazon/aws-cli:2.15.61",
            });
        });

        it("refuses a missing recipient, naming the key and the way out", () => {
            assert.deepEqual(configProblems(backupStack({ recipients: [] })), [
                `${ns}:backup.recipients: is required while backup.enabled is true: the operator's age public key(s), e.g. [age1...] from \`age-keygen -y <key file>\` (the export is encrypted to them; the private key stays offline). Until you have one, \`${BACKUP_RECIPIENT_PLACEHOLDER}\` keeps the CronJob suspended`,
            ]);
        });

        it("refuses a private key without echoing it, and anything that is not a recipient", () => {
            const secret = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";
            const problems = configProblems(backupStack({ recipients: [secret, "ssh-ed25519 AAAA"] }));
            assert.deepEqual(problems, [
                `${ns}:backup.recipients[0]: is an age PRIVATE key (AGE-SECRET-KEY-...): remove it from the stack file now, keep it offline, and give its public key (age-keygen -y <key file>)`,
                `${ns}:backup.recipients[1]: must be an age public key (age1..., from age-keygen -y <key file>) (got "ssh-ed25519 AAAA")`,
            ]);
            assert.ok(!problems.join("\n").includes("QQQQ"), "the private key is never echoed");
        });

        it("refuses aws mode, an export prefix inside Vault's own S3 data, and the placeholder beside real keys", () => {
            const aws = awsStack();
            aws.values.backup = { enabled: true, recipients: [RECIPIENT] };
            assert.deepEqual(configProblems(aws), [
                `${ns}:backup.enabled: is for s3-compatible storage (it uploads with storage's static keys): in aws mode the bucket's object versions (npm run restore) and, with raft, the snapshots are the backups`,
            ]);
            assert.deepEqual(
                configProblems(
                    backupStack({ prefix: "vault/kv/", recipients: [RECIPIENT, BACKUP_RECIPIENT_PLACEHOLDER] }),
                ),
                [
                    `${ns}:backup.recipients: holds real keys and the placeholder ${BACKUP_RECIPIENT_PLACEHOLDER}: remove the placeholder`,
                    `${ns}:backup.prefix: must not lie under storage.prefix (vault/) in the same bucket: with s3 storage that is Vault's own data, which a point-in-time restore rolls back (e.g. kv-exports/, or another bucket with backup.bucket)`,
                ],
            );
            // Another bucket, or raft storage (the bucket no longer holds Vault's data): accepted.
            configOf(backupStack({ prefix: "vault/kv/", bucket: "vault-amiya-backup" }));
            const raft = backupStack({ prefix: "vault/kv/" });
            raft.values.server = { storageBackend: "raft", replicas: 3 };
            configOf(raft);
        });

        it("needs networkPolicy.egress.s3 when it is the only flow to the bucket", () => {
            const s = backupStack();
            s.values.server = { storageBackend: "raft", replicas: 3, snapshots: { enabled: false } };
            delete s.values.networkPolicy.egress.s3;
            assert.ok(
                configProblems(s).some((p) =>
                    p.startsWith(
                        `${ns}:networkPolicy.egress.s3: is required while networkPolicy.enabled is true: without it the KV export job cannot upload exports to the bucket`,
                    ),
                ),
            );
        });

        it("warns on every run while the placeholder holds the place", () => {
            const config = configOf(backupStack({ recipients: [BACKUP_RECIPIENT_PLACEHOLDER] }));
            assert.ok(
                configWarnings(config).includes(
                    `${ns}:backup.recipients: holds the placeholder ${BACKUP_RECIPIENT_PLACEHOLDER}, so the KV export CronJob is created suspended and NO export is taken: set the operator's age public key (age-keygen -y <key file>; docs/disaster-recovery.md#kv-export-and-import)`,
                ),
            );
            assert.equal(configWarnings(configOf(backupStack())).filter((w) => w.includes("backup")).length, 0);
        });
    });

    describe("policy and role", () => {
        it("renders kv-backup over every managed mount only with backup on, and no SSO group may hold it", () => {
            assert.ok(!renderPolicies(configOf(homelabStack())).some((p) => p.name === "kv-backup"));
            const p = only(
                renderPolicies(configOf(backupStack())).filter((r) => r.name === "kv-backup"),
                "kv-backup",
            );
            const paths = [...p.text.matchAll(/^path "([^"]+)"/gm)].map((m) => m[1]);
            assert.deepEqual(paths, ["amiya.akn/metadata/*", "shared/metadata/*", "amiya.akn/data/*", "shared/data/*"]);
            assert.ok(!knownPolicyNames().includes("kv-backup"));
            const s = backupStack();
            s.values.oidc.groups = { backups: ["kv-backup"] };
            assert.ok(configProblems(s).some((m) => m.includes("oidc.groups.backups") && m.includes("kv-backup")));
        });

        it("binds the role to vault/vault-kv-backup, the policy alone, 5 minutes, after the mounts", async () => {
            const p = await runProgram(backupStack(), buildPlatform);
            const role = p.find(T.k8sRole, "platform-configuration-k8s-auth-kv-backup-role");
            assert.deepEqual(role.inputs, {
                backend: "kubernetes-amiya.akn",
                roleName: "kv-backup",
                boundServiceAccountNames: ["vault-kv-backup"],
                boundServiceAccountNamespaces: ["vault"],
                tokenPolicies: ["kv-backup"],
                tokenTtl: 300,
                tokenMaxTtl: 900,
                tokenNoDefaultPolicy: true,
            });
            const deps = await dependsOnOf(role);
            for (const [type, d] of [
                ["vault:index/mount:Mount", "platform-configuration-kv-amiya.akn"],
                ["vault:index/mount:Mount", "platform-configuration-kv-shared"],
                ["vault:kubernetes/authBackendConfig:AuthBackendConfig", "platform-configuration-k8s-auth-config"],
            ]) {
                assert.ok(deps.includes(p.find(type, d).resource), `${d} among the role's dependsOn`);
            }
            assert.equal(p.result.configuration.backupRole, role.resource);
        });
    });

    describe("the CronJob", () => {
        it("is absent with backup off: no CronJob, role, policy, NetworkPolicy or Secret of its own", async () => {
            const p = await runProgram(homelabStack(), buildPlatform);
            assert.equal(p.resources.filter((r) => r.name.startsWith(B) || r.name.includes("kv-backup")).length, 0);
        });

        it("exports the managed mounts to the operator's recipients and uploads to kv-exports/ with retention", async () => {
            const p = await runProgram(backupStack({ keep: 7 }), buildPlatform);
            const cron = p.find(T.cron, `${B}-cronjob`);
            assert.equal(parentOf(cron), p.result.backup);
            new CronJob(cron.inputs).validate();
            const spec = objectAt(cron.inputs, "spec");
            assert.equal(spec.schedule, "30 */6 * * *");
            assert.equal(spec.suspend, false);
            assert.equal(spec.concurrencyPolicy, "Forbid");
            const pod = objectAt(spec, "jobTemplate", "spec", "template", "spec");
            assert.equal(pod.serviceAccountName, "vault-kv-backup");
            assert.equal(pod.automountServiceAccountToken, false);
            const exporter = only(listAt(pod, "initContainers"), "init containers") as Record<string, any>;
            assert.equal(exporter.image, "node:22.12.0-alpine3.20");
            assert.deepEqual(exporter.command, ["node", "/vault/kv-backup/kv-export.cjs"]);
            assert.deepEqual(exporter.env, [
                { name: "VAULT_ADDR", value: "http://vault.vault.svc:8200" },
                { name: "VAULT_AUTH_PATH", value: "kubernetes-amiya.akn" },
                { name: "VAULT_ROLE", value: "kv-backup" },
                { name: "SA_TOKEN_FILE", value: "/var/run/secrets/vault-kv-backup/token" },
                { name: "BACKUP_DIR", value: "/backup" },
                {
                    name: "BACKUP_MOUNTS",
                    value: JSON.stringify([
                        { path: "amiya.akn", maxVersions: 10, casRequired: false, deleteVersionAfter: 0 },
                        { path: "shared", maxVersions: 10, casRequired: false, deleteVersionAfter: 0 },
                    ]),
                },
                { name: "BACKUP_RECIPIENTS", value: RECIPIENT },
            ]);
            assert.ok(
                !exporter.volumeMounts.some((m: any) => m.name === "credentials"),
                "no S3 keys in the export step",
            );
            const upload = only(listAt(pod, "containers"), "containers") as Record<string, any>;
            assert.equal(upload.image, "amazon/aws-cli:2.15.61");
            assert.deepEqual(upload.command, ["/bin/sh", "/vault/kv-backup/kv-backup.sh", "upload"]);
            assert.deepEqual(upload.env, [
                { name: "BACKUP_DIR", value: "/backup" },
                { name: "BACKUP_BUCKET", value: "vault-amiya" },
                { name: "BACKUP_KEY_PREFIX", value: "kv-exports/" },
                { name: "BACKUP_KEEP", value: "7" },
                { name: "AWS_CONFIG_FILE", value: "/vault/kv-backup/aws-config" },
                { name: "AWS_SHARED_CREDENTIALS_FILE", value: "/aws/credentials/credentials" },
                { name: "HOME", value: "/tmp" },
                { name: "S3_ENDPOINT", value: "https://s3.amiya.akn" },
            ]);
            assert.ok(
                !upload.volumeMounts.some((m: any) => m.name === "sa-token"),
                "no ServiceAccount token in the upload step",
            );
            assert.deepEqual(
                upload.volumeMounts.find((m: any) => m.name === "exports"),
                { name: "exports", mountPath: "/backup", readOnly: true },
            );

            const cm = p.find(T.cm, `${B}-program`);
            const data = objectAt(cm.inputs, "data");
            // The bundle as bytes: it holds a DEL (0x7f), which the API server refuses in a ConfigMap's data.
            assert.equal(data["kv-export.cjs"], undefined);
            const binary = objectAt(cm.inputs, "binaryData");
            assert.deepEqual(
                Buffer.from(String(binary["kv-export.cjs"]), "base64"),
                fs.readFileSync(BACKUP_BUNDLE_PATH),
            );
            assert.ok(fs.readFileSync(BACKUP_BUNDLE_PATH).includes(0x7f), "the reason it is binaryData");
            assert.equal(data["kv-backup.sh"], fs.readFileSync(BACKUP_SCRIPT_PATH, "utf8"));
            assert.equal(
                data["aws-config"],
                "[default]\nregion = garage\ns3 =\n    multipart_threshold = 5GB\n    addressing_style = path\n",
            );
            const secret = p.find(T.secret, `${B}-credentials`);
            assert.ok(await isSecret(secret.props.stringData));
            const creds = (await valueOf(secret.props.stringData as any)) as Record<string, string>;
            assert.match(creds.credentials, /aws_access_key_id = GKtestaccesskey/);
            assert.equal(p.find(T.sa, `${B}-sa`).inputs.automountServiceAccountToken, false);
            const deps = await dependsOnOf(cron);
            for (const [type, d] of [
                [T.sa, `${B}-sa`],
                [T.cm, `${B}-program`],
                [T.secret, `${B}-credentials`],
                [T.k8sRole, "platform-configuration-k8s-auth-kv-backup-role"],
            ]) {
                assert.ok(deps.includes(p.find(type, d).resource), `${d} among the CronJob's dependsOn`);
            }
        });

        it("is created suspended while the placeholder recipient holds the place", async () => {
            const p = await runProgram(backupStack({ recipients: [BACKUP_RECIPIENT_PLACEHOLDER] }), buildPlatform);
            assert.equal(objectAt(p.find(T.cron, `${B}-cronjob`).inputs, "spec").suspend, true);
        });

        it("may reach DNS, Vault's API and the S3 egress only; the server admits it on 8200", () => {
            const config = configOf(backupStack());
            const policies = buildNetworkPolicies(config);
            const own = only(
                policies.filter((x) => x.name === "vault-kv-backup"),
                "vault-kv-backup",
            );
            assert.deepEqual(own.spec, {
                podSelector: { matchLabels: { "app.kubernetes.io/name": "vault-kv-backup" } },
                policyTypes: ["Egress"],
                egress: [
                    {
                        to: [
                            {
                                namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
                                podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
                            },
                        ],
                        ports: [
                            { protocol: "UDP", port: 53 },
                            { protocol: "TCP", port: 53 },
                        ],
                    },
                    {
                        to: [
                            {
                                podSelector: {
                                    matchLabels: {
                                        "app.kubernetes.io/name": "vault",
                                        "app.kubernetes.io/instance": "vault",
                                        component: "server",
                                    },
                                },
                            },
                        ],
                        ports: [{ protocol: "TCP", port: 8200 }],
                    },
                    { to: [{ ipBlock: { cidr: "192.168.10.20/32" } }], ports: [{ protocol: "TCP", port: 3900 }] },
                ],
            });
            const server = only(
                policies.filter((x) => x.name === "vault-server"),
                "vault-server",
            );
            assert.ok(
                server.spec.ingress?.[0].from.some(
                    (f) => f.podSelector?.matchLabels["app.kubernetes.io/name"] === "vault-kv-backup",
                ),
            );
            const off = buildNetworkPolicies(configOf(homelabStack()));
            assert.ok(!off.some((x) => x.name === "vault-kv-backup"));
        });
    });

    describe("the committed bundle and the export format", () => {
        it("components/kv-export.cjs is what `npm run backup:bundle` builds now", async function () {
            this.timeout(20_000);
            assert.ok(
                (await bundleExportJob()) === fs.readFileSync(BACKUP_BUNDLE_PATH, "utf8"),
                "components/kv-export.cjs is stale: run `npm run backup:bundle` and commit it",
            );
        });

        const sample: KvExport = {
            header: {
                format: "secret-platform.kv-export",
                formatVersion: 1,
                createdAt: "2026-11-28T06:30:00.000Z",
                mounts: [{ path: "amiya.akn", maxVersions: 20, casRequired: false, deleteVersionAfter: 0 }],
            },
            secrets: [
                {
                    mount: "amiya.akn",
                    path: "app/db/password",
                    metadata: {
                        maxVersions: 0,
                        casRequired: false,
                        deleteVersionAfter: "0s",
                        customMetadata: { owner: "db" },
                        currentVersion: 2,
                        oldestVersion: 1,
                        createdTime: "2026-11-01T00:00:00Z",
                        updatedTime: "2026-11-02T00:00:00Z",
                    },
                    versions: [
                        { version: 1, createdTime: "2026-11-01T00:00:00Z", deletionTime: "", state: "destroyed" },
                        {
                            version: 2,
                            createdTime: "2026-11-02T00:00:00Z",
                            deletionTime: "",
                            state: "data",
                            data: { value: "s3cr3t" },
                        },
                    ],
                },
            ],
        };

        it("round-trips through gzip and age, and refuses a cut-off or foreign file", async () => {
            const { generateIdentity, identityToRecipient } = await import("age-encryption");
            const identity = await generateIdentity();
            const other = await generateIdentity();
            const text = serializeExport(sample);
            assert.equal(text.split("\n").length, 4);
            const ciphertext = await encryptExport(text, [await identityToRecipient(identity)]);
            assert.ok(!Buffer.from(ciphertext).includes("s3cr3t"));
            assert.deepEqual(parseExport(await decryptExport(ciphertext, [identity])), sample);
            await assert.rejects(decryptExport(ciphertext, [other]), /no identity matched/);
            assert.throws(
                () => parseExport(text.split("\n").slice(0, 2).join("\n")),
                /the export is truncated \(no trailer\)/,
            );
            assert.throws(() => parseExport('{"format":"other"}\n'), /not a secret-platform\.kv-export file/);
            const tampered = text.replace('"secrets":1', '"secrets":2');
            assert.throws(
                () => parseExport(tampered),
                /its trailer counts 2 secrets and 2 versions, the file holds 1 and 2/,
            );
            await assert.rejects(encryptExport(text, []), /no age recipient/);
            assert.deepEqual(identitiesIn(`# created: now\n# public key: age1x\n${identity}\n\n`), [identity]);
        });

        it("names exports so that they sort by time", () => {
            assert.equal(exportName(new Date("2026-11-28T06:30:05.123Z")), "kv-export-20261128T063005Z.jsonl.gz.age");
        });

        it("kv-import's arguments: --file and --identity required, values never taken from the token's side", () => {
            assert.deepEqual(
                parseKvImportArgs(["--file", "x.age", "--identity", "k.txt", "--mounts", "a, b", "--dry-run"]),
                {
                    file: "x.age",
                    identity: "k.txt",
                    mounts: ["a", "b"],
                    skipExisting: false,
                    dryRun: true,
                },
            );
            assert.throws(() => parseKvImportArgs(["--identity", "k"]), /^Error: --file is required/);
            assert.throws(() => parseKvImportArgs(["--file", "x"]), /^Error: --identity is required/);
            assert.throws(
                () => parseKvImportArgs(["--file", "x", "--identity", "k", "--token", "t"]),
                /Unknown option '--token'/,
            );
            assert.match(KV_IMPORT_USAGE, /^usage: npm run restore -- kv-import --file/);
        });
    });
});
