import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { specialSecretSig } from "@pulumi/pulumi/runtime/rpc";
import { ConfigError } from "../../components/config";
import { tlsOnlyBucketPolicy, vaultIdentityPolicy } from "../../components/lib/storage-policies";
import { buildPlatform, SecretPlatform } from "../../components/platform";
import { storageArgs } from "../../components/platform-args";
import { VaultStorage } from "../../components/storage";
import { awsStack, homelabStack, KMS_EGRESS } from "../support/fixtures";
import { registrations } from "../support/mocks";
import {
    configOf,
    configProblems,
    isSecret,
    parentOf,
    Program,
    RecordedResource,
    runProgram,
    secretInput,
    valueOf,
} from "../support/program";

const T = {
    provider: "pulumi:providers:aws",
    bucket: "aws:s3/bucket:Bucket",
    versioning: "aws:s3/bucketVersioning:BucketVersioning",
    encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    publicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    ownership: "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
    lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    key: "aws:kms/key:Key",
    alias: "aws:kms/alias:Alias",
    policy: "aws:iam/policy:Policy",
    user: "aws:iam/user:User",
    userPolicy: "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    accessKey: "aws:iam/accessKey:AccessKey",
    role: "aws:iam/role:Role",
    rolePolicy: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
} as const;

const n = (suffix: string) => `platform-storage-${suffix}`;
const bucketArn = "arn:aws:s3:::prod-example-vault";
const keyArn = (name: string) => `arn:aws:kms:eu-west-1:123456789012:key/${name}-key-id`;
const storageKeyArn = keyArn(n("storage-key"));
const sealKeyArn = keyArn(n("seal-key"));
const configuredSealKey = "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const oidcProviderUrl = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
const oidcProviderArn = `arn:aws:iam::123456789012:oidc-provider/${oidcProviderUrl}`;

/** The hardening resources that must each point at Vault's bucket (aws mode). */
const hardening: [keyof typeof T, string][] = [
    ["publicAccessBlock", "public-access-block"],
    ["ownership", "ownership"],
    ["versioning", "versioning"],
    ["encryption", "encryption"],
    ["bucketPolicy", "policy"],
    ["lifecycle", "lifecycle"],
];

type Stack = ReturnType<typeof awsStack>;

/** The whole program, as the stack runs it. */
async function run(stack: Stack): Promise<Program<SecretPlatform>> {
    return runProgram(stack, buildPlatform);
}

/** The component alone (named as in the platform), for the many config variants: fast and independent of the other components. */
async function runStorage(stack: Stack): Promise<Program<VaultStorage>> {
    return runProgram(stack, (config, opts) => new VaultStorage("platform-storage", storageArgs(config), opts));
}

/** The storage part: the provider, and everything of the aws package. */
function awsResources(p: Program<unknown>): RecordedResource[] {
    return [...p.ofType(T.provider), ...p.ofPackage("aws:")];
}

/** Sorted "type name" lines of every AWS resource and provider. */
function inventory(p: Program<unknown>): string[] {
    return awsResources(p)
        .map((r) => `${r.type} ${r.name}`)
        .sort();
}

function parsePolicy(r: RecordedResource, field = "policy"): unknown {
    const raw = r.inputs[field];
    assert.equal(typeof raw, "string", `${r.name}.${field} must be a JSON string`);
    return JSON.parse(raw as string);
}

/** Every resource of the component is created through its own provider. */
async function assertExplicitProvider(p: Program<unknown>, storage: VaultStorage): Promise<void> {
    assert.ok(storage.provider !== undefined, "the component has its provider");
    const providerUrn = await valueOf(storage.provider.urn);
    const providers = p.ofType(T.provider);
    assert.equal(providers.length, 1, "exactly one aws provider");
    assert.equal(providers[0].resource, storage.provider);
    const custom = p.ofPackage("aws:");
    assert.ok(custom.length > 0);
    for (const r of custom) {
        assert.ok(
            r.provider?.startsWith(`${providerUrn}::`),
            `${r.type} ${r.name} must use ${providerUrn}, uses ${r.provider}`,
        );
        assert.equal(r.opts.provider, storage.provider, `${r.name}: provider option`);
    }
}

/**
 * The outputs the component registered, as the engine received them (undefined
 * ones dropped), failing on any secret one: a secret output would reach the
 * engine signature-wrapped.
 */
function plainOutputs(p: Program<unknown>, storage: VaultStorage): Record<string, unknown> {
    const outputs = p.outputsOf(storage);
    for (const [key, value] of Object.entries(outputs)) {
        assert.ok(!JSON.stringify(value).includes(specialSecretSig), `${key} must not be secret`);
    }
    return outputs;
}

describe("VaultStorage", () => {
    describe("aws mode (user identity, awskms seal)", () => {
        let p: Program<SecretPlatform>;
        let storage: VaultStorage;
        before(async () => {
            p = await run(awsStack());
            storage = p.result.storage;
        });

        it("creates exactly the bucket, its hardening, two KMS keys and Vault's IAM user", () => {
            assert.deepStrictEqual(inventory(p), [
                `${T.accessKey} ${n("access-key")}`,
                `${T.policy} ${n("identity-policy")}`,
                `${T.user} ${n("user")}`,
                `${T.userPolicy} ${n("user-policy")}`,
                `${T.alias} ${n("seal-key-alias")}`,
                `${T.alias} ${n("storage-key-alias")}`,
                `${T.key} ${n("seal-key")}`,
                `${T.key} ${n("storage-key")}`,
                `${T.bucket} ${n("bucket")}`,
                `${T.lifecycle} ${n("lifecycle")}`,
                `${T.ownership} ${n("ownership")}`,
                `${T.bucketPolicy} ${n("policy")}`,
                `${T.publicAccessBlock} ${n("public-access-block")}`,
                `${T.encryption} ${n("encryption")}`,
                `${T.versioning} ${n("versioning")}`,
                `${T.provider} ${n("aws")}`,
            ]);
        });

        it("configures its provider with the config's region and no endpoint override", () => {
            const provider = p.find(T.provider, n("aws"));
            assert.equal(provider.inputs.region, "eu-west-1");
            assert.equal(provider.inputs.endpoints, undefined);
            assert.equal(provider.inputs.accessKey, undefined);
            assert.deepStrictEqual(JSON.parse(provider.inputs.defaultTags as string), {
                tags: { "managed-by": "pulumi", "secret-platform/cluster": "prod.example" },
            });
        });

        it("uses its explicit provider for every resource, all children of the component", async () => {
            await assertExplicitProvider(p, storage);
            for (const r of awsResources(p)) assert.equal(parentOf(r), storage, `${r.name} parent`);
            assert.equal(parentOf(p.find("secret-platform:storage:VaultStorage", "platform-storage")), p.result);
        });

        it("names the bucket from config and never force-destroys it", () => {
            assert.deepStrictEqual(p.find(T.bucket, n("bucket")).inputs, {
                bucket: "prod-example-vault",
                forceDestroy: false,
            });
        });

        it("wires each hardening resource to this bucket's name Output", () => {
            for (const [type, suffix] of hardening) {
                const r = p.find(T[type], n(suffix));
                assert.equal(r.props.bucket, storage.bucket?.bucket, `${suffix}: bucket input is the bucket's Output`);
                assert.equal(r.inputs.bucket, "prod-example-vault", `${suffix}: bucket value`);
            }
        });

        it("turns versioning on, and blocks every kind of public access", () => {
            assert.deepStrictEqual(p.find(T.versioning, n("versioning")).inputs.versioningConfiguration, {
                status: "Enabled",
            });
            assert.deepStrictEqual(p.find(T.publicAccessBlock, n("public-access-block")).inputs, {
                bucket: "prod-example-vault",
                blockPublicAcls: true,
                blockPublicPolicy: true,
                ignorePublicAcls: true,
                restrictPublicBuckets: true,
            });
            assert.deepStrictEqual(p.find(T.ownership, n("ownership")).inputs.rule, {
                objectOwnership: "BucketOwnerEnforced",
            });
        });

        it("encrypts with SSE-KMS under its own rotating key, with bucket keys", async () => {
            const encryption = p.find(T.encryption, n("encryption"));
            assert.deepStrictEqual(encryption.inputs.rules, [
                {
                    applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: storageKeyArn },
                    bucketKeyEnabled: true,
                },
            ]);
            assert.equal(storage.storageKey, p.find(T.key, n("storage-key")).resource);
            assert.deepStrictEqual(p.find(T.key, n("storage-key")).inputs, {
                description: "SSE-KMS key of Vault's bucket prod-example-vault",
                enableKeyRotation: true,
                deletionWindowInDays: 30,
            });
            assert.deepStrictEqual(p.find(T.alias, n("storage-key-alias")).inputs, {
                name: "alias/vault-prod-example-vault-storage",
                targetKeyId: `${n("storage-key")}-key-id`,
            });
        });

        it("creates the awskms seal key with rotation and a 30-day deletion window, in the seal's region", () => {
            assert.deepStrictEqual(p.find(T.key, n("seal-key")).inputs, {
                description: "awskms seal key of the Vault on cluster prod.example",
                enableKeyRotation: true,
                deletionWindowInDays: 30,
                region: "eu-west-1",
            });
        });

        it("denies non-TLS requests in the bucket policy, after the public-access block", async () => {
            const policy = p.find(T.bucketPolicy, n("policy"));
            assert.deepStrictEqual(parsePolicy(policy), tlsOnlyBucketPolicy(bucketArn));
            const statements = (parsePolicy(policy) as { Statement: { Condition: unknown }[] }).Statement;
            assert.deepStrictEqual(statements[0].Condition, { Bool: { "aws:SecureTransport": "false" } });
            assert.deepStrictEqual(policy.opts.dependsOn, [
                p.find(T.publicAccessBlock, n("public-access-block")).resource,
            ]);
        });

        it("expires noncurrent versions after the restore window and aborts stale multipart uploads", () => {
            const lifecycle = p.find(T.lifecycle, n("lifecycle"));
            assert.deepStrictEqual(lifecycle.inputs.rules, [
                {
                    id: "restore-window",
                    status: "Enabled",
                    filter: {},
                    noncurrentVersionExpiration: { noncurrentDays: 30 },
                    expiration: { expiredObjectDeleteMarker: true },
                },
                {
                    id: "abort-incomplete-multipart-uploads",
                    status: "Enabled",
                    filter: {},
                    abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
                },
            ]);
            assert.deepStrictEqual(lifecycle.opts.dependsOn, [p.find(T.versioning, n("versioning")).resource]);
        });

        it("grants Vault's identity exactly the bucket and both keys", () => {
            const policy = p.find(T.policy, n("identity-policy"));
            assert.equal(policy.inputs.name, "vault-prod-example-vault");
            const doc = parsePolicy(policy);
            assert.deepStrictEqual(doc, {
                Version: "2012-10-17",
                Statement: [
                    {
                        Sid: "VaultListBucket",
                        Effect: "Allow",
                        Action: ["s3:ListBucket"],
                        Resource: ["arn:aws:s3:::prod-example-vault"],
                    },
                    {
                        Sid: "VaultObjects",
                        Effect: "Allow",
                        Action: ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                        Resource: ["arn:aws:s3:::prod-example-vault/*"],
                    },
                    {
                        Sid: "VaultKmsKeys",
                        Effect: "Allow",
                        Action: ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"],
                        Resource: [storageKeyArn, sealKeyArn],
                    },
                ],
            });
        });

        it("attaches the policy to an IAM user with one access key", () => {
            assert.deepStrictEqual(p.find(T.user, n("user")).inputs, { name: "vault-prod-example-vault" });
            assert.deepStrictEqual(p.find(T.userPolicy, n("user-policy")).inputs, {
                user: "vault-prod-example-vault",
                policyArn: "arn:aws:iam::123456789012:policy/vault-prod-example-vault",
            });
            assert.deepStrictEqual(p.find(T.accessKey, n("access-key")).inputs, { user: "vault-prod-example-vault" });
            // The SDK marks the secret itself (additionalSecretOutputs); the binding re-checks below.
            assert.ok(p.find(T.accessKey, n("access-key")).opts.additionalSecretOutputs?.includes("secret"));
            assert.equal(p.ofType(T.role).length, 0);
        });

        it("hands the access key over only as secret Outputs", async () => {
            const credentials = storage.binding.credentials;
            assert.ok(credentials !== undefined);
            assert.equal(await isSecret(credentials.accessKeyId), true);
            assert.equal(await isSecret(credentials.secretAccessKey), true);
            assert.equal(await valueOf(credentials.accessKeyId), `${n("access-key")}-id`);
            assert.equal(await valueOf(credentials.secretAccessKey), `mock-secret-${n("access-key")}`);
            assert.equal(storage.binding.sealCredentials, undefined, "the seal uses the same identity");
            assert.equal(storage.binding.roleArn, undefined);
        });

        it("binds the bucket, region and both key ARNs for the server, none of them secret", async () => {
            const b = storage.binding;
            assert.equal(await valueOf(b.bucket), "prod-example-vault");
            assert.equal(await isSecret(b.bucket), false);
            assert.equal(b.region, "eu-west-1");
            assert.equal(b.endpoint, undefined);
            assert.equal(b.forcePathStyle, false);
            assert.equal(b.prefix, undefined);
            assert.equal(await valueOf(b.storageKmsKeyId as pulumi.Output<string>), storageKeyArn);
            assert.equal(await isSecret(b.storageKmsKeyId), false);
            assert.equal(b.seal?.region, "eu-west-1");
            assert.equal(await valueOf(b.seal?.kmsKeyId as pulumi.Output<string>), sealKeyArn);
        });

        it("registers the bucket and key ARNs as outputs, no credential and nothing secret", async () => {
            assert.deepStrictEqual(plainOutputs(p, storage), {
                bucket: "prod-example-vault",
                bucketArn,
                storageKmsKeyArn: storageKeyArn,
                sealKmsKeyArn: sealKeyArn,
            });
        });

        it("protects and retains the bucket and both keys", () => {
            for (const r of [
                p.find(T.bucket, n("bucket")),
                p.find(T.key, n("storage-key")),
                p.find(T.key, n("seal-key")),
            ]) {
                assert.equal(r.opts.protect, true, `${r.name} protect`);
                assert.equal(r.opts.retainOnDelete, true, `${r.name} retainOnDelete`);
            }
        });

        it("retains the bucket's settings too, so a destroy cannot weaken the retained bucket", () => {
            for (const [type, suffix] of hardening) {
                const r = p.find(T[type], n(suffix));
                assert.equal(r.opts.retainOnDelete, true, `${suffix} retainOnDelete`);
                assert.equal(r.opts.protect, undefined, `${suffix} protect`);
            }
        });
        it("retains nothing but data and its settings: IAM and aliases go with the stack", () => {
            for (const suffix of [
                "identity-policy",
                "user",
                "user-policy",
                "access-key",
                "storage-key-alias",
                "seal-key-alias",
            ]) {
                const r = p.resources.find((x) => x.name === n(suffix));
                assert.ok(r !== undefined, suffix);
                assert.equal(r.opts.retainOnDelete, undefined, `${suffix} retainOnDelete`);
                assert.equal(r.opts.protect, undefined, `${suffix} protect`);
            }
        });
    });

    describe("aws mode with unseal.kmsSourceCidrs", () => {
        it("Vault's identity may use the seal key only from the cluster's egress addresses", async () => {
            const stack = awsStack();
            stack.values.unseal = { ...(stack.values.unseal as object), kmsSourceCidrs: ["203.0.113.7/32"] };
            const p = await runStorage(stack);
            const doc = parsePolicy(p.find(T.policy, n("identity-policy"))) as { Statement: unknown[] };
            assert.deepStrictEqual(doc.Statement.slice(2), [
                {
                    Sid: "VaultKmsKeys",
                    Effect: "Allow",
                    Action: ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"],
                    Resource: [storageKeyArn],
                },
                {
                    Sid: "VaultSealKeyFromCluster",
                    Effect: "Allow",
                    Action: ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"],
                    Resource: [sealKeyArn],
                    Condition: { IpAddress: { "aws:SourceIp": ["203.0.113.7/32"] } },
                },
            ]);
        });

        it("is refused outside awskms on aws storage, naming the key", () => {
            const shamir = awsStack();
            shamir.values.unseal = { mode: "shamir", kmsSourceCidrs: ["203.0.113.7/32"] };
            assert.deepStrictEqual(configProblems(shamir), [
                "secret-platform:unseal.kmsSourceCidrs: is only used with unseal.mode awskms and storage.mode aws (where this program writes Vault's IAM policy); with s3-compatible storage, put an aws:SourceIp condition on the seal keys' own IAM policy",
            ]);
            const bad = awsStack();
            bad.values.unseal = { ...(bad.values.unseal as object), kmsSourceCidrs: ["203.0.113.7"] };
            assert.deepStrictEqual(configProblems(bad), [
                'secret-platform:unseal.kmsSourceCidrs[0]: must be a CIDR block such as 10.0.0.0/8 (got "203.0.113.7")',
            ]);
        });
    });

    describe("aws mode with raft snapshots: the uploader's own write-only identity", () => {
        let p: Program<SecretPlatform>;
        before(async () => {
            const stack = awsStack();
            stack.values.storage = { ...(stack.values.storage as object), prefix: "vault/" };
            stack.values.server = { storageBackend: "raft", replicas: 3 };
            p = await run(stack);
        });

        it("adds exactly its policy, user, attachment and access key", () => {
            const snapshotParts = inventory(p).filter((line) => line.includes("snapshot"));
            assert.deepStrictEqual(snapshotParts, [
                `${T.accessKey} ${n("snapshot-access-key")}`,
                `${T.policy} ${n("snapshot-policy")}`,
                `${T.user} ${n("snapshot-user")}`,
                `${T.userPolicy} ${n("snapshot-user-policy")}`,
            ]);
            assert.deepStrictEqual(p.find(T.user, n("snapshot-user")).inputs, {
                name: "vault-prod-example-vault-snapshots",
            });
            assert.deepStrictEqual(p.find(T.userPolicy, n("snapshot-user-policy")).inputs, {
                user: "vault-prod-example-vault-snapshots",
                policyArn: "arn:aws:iam::123456789012:policy/vault-prod-example-vault-snapshots",
            });
            for (const suffix of ["snapshot-policy", "snapshot-user", "snapshot-user-policy", "snapshot-access-key"]) {
                const r = p.resources.find((x) => x.name === n(suffix));
                assert.ok(r !== undefined, suffix);
                assert.equal(parentOf(r), p.result.storage, suffix);
            }
        });

        it("may only PutObject under <storage.prefix><snapshots.prefix>, with a data key through S3 for this bucket", () => {
            assert.deepStrictEqual(parsePolicy(p.find(T.policy, n("snapshot-policy"))), {
                Version: "2012-10-17",
                Statement: [
                    {
                        Sid: "SnapshotPutOnly",
                        Effect: "Allow",
                        Action: ["s3:PutObject"],
                        Resource: ["arn:aws:s3:::prod-example-vault/vault/snapshots/*"],
                    },
                    {
                        Sid: "SnapshotSseKmsDataKey",
                        Effect: "Allow",
                        Action: ["kms:GenerateDataKey"],
                        Resource: [storageKeyArn],
                        Condition: {
                            StringEquals: {
                                "kms:ViaService": "s3.eu-west-1.amazonaws.com",
                                "kms:EncryptionContext:aws:s3:arn": bucketArn,
                            },
                        },
                    },
                ],
            });
        });

        it("the snapshot job's credentials file holds the uploader's key, not Vault's", async () => {
            const binding = p.result.storage.binding;
            assert.ok(binding.snapshotCredentials !== undefined);
            assert.equal(await isSecret(binding.snapshotCredentials.secretAccessKey), true);
            assert.equal(await isSecret(binding.snapshotCredentials.accessKeyId), true);
            const secret = p.find("kubernetes:core/v1:Secret", "platform-snapshots-credentials");
            const file = await valueOf(secret.props.stringData as pulumi.Output<Record<string, string>>);
            assert.equal(
                file.credentials,
                `[default]\naws_access_key_id = ${n("snapshot-access-key")}-id\n` +
                    `aws_secret_access_key = mock-secret-${n("snapshot-access-key")}\n`,
            );
            assert.equal(await isSecret(secret.props.stringData), true);
        });
    });

    describe("aws mode variants", () => {
        it("takes the restore window, multipart and deletion-window days from config", async () => {
            const stack = awsStack();
            Object.assign(stack.values.storage, {
                noncurrentVersionExpirationDays: 90,
                abortIncompleteMultipartUploadDays: 2,
                kmsDeletionWindowDays: 14,
            });
            const p = await runStorage(stack);
            const rules = p.find(T.lifecycle, n("lifecycle")).inputs.rules as Record<string, unknown>[];
            assert.deepStrictEqual(rules[0].noncurrentVersionExpiration, { noncurrentDays: 90 });
            assert.deepStrictEqual(rules[1].abortIncompleteMultipartUpload, { daysAfterInitiation: 2 });
            assert.equal(p.find(T.key, n("storage-key")).inputs.deletionWindowInDays, 14);
            assert.equal(p.find(T.key, n("seal-key")).inputs.deletionWindowInDays, 14);
        });

        it("scopes object access to storage.prefix and binds it", async () => {
            const stack = awsStack();
            stack.values.storage.prefix = "vault/";
            const p = await runStorage(stack);
            const doc = parsePolicy(p.find(T.policy, n("identity-policy")));
            assert.deepStrictEqual(
                doc,
                vaultIdentityPolicy({ bucketArn, prefix: "vault/", kmsKeyArns: [storageKeyArn, sealKeyArn] }),
            );
            assert.deepStrictEqual((doc as { Statement: { Resource: string[] }[] }).Statement[1].Resource, [
                "arn:aws:s3:::prod-example-vault/vault/*",
            ]);
            assert.equal(p.result.binding.prefix, "vault/");
        });

        it("with identity role: an IRSA role trusting only Vault's ServiceAccount, and no static keys", async () => {
            const stack = awsStack();
            stack.values.storage.identity = "role";
            stack.values.storage.irsa = { oidcProviderArn, oidcProviderUrl };
            stack.values.server = { namespace: "secrets" };
            const p = await runStorage(stack);
            assert.equal(p.ofType(T.user).length, 0);
            assert.equal(p.ofType(T.accessKey).length, 0);
            assert.equal(p.ofType(T.userPolicy).length, 0);
            const role = p.find(T.role, n("role"));
            assert.equal(role.inputs.name, "vault-prod-example-vault");
            assert.deepStrictEqual(parsePolicy(role, "assumeRolePolicy"), {
                Version: "2012-10-17",
                Statement: [
                    {
                        Sid: "VaultServiceAccount",
                        Effect: "Allow",
                        Principal: { Federated: oidcProviderArn },
                        Action: ["sts:AssumeRoleWithWebIdentity"],
                        Condition: {
                            StringEquals: {
                                [`${oidcProviderUrl}:sub`]: "system:serviceaccount:secrets:vault",
                                [`${oidcProviderUrl}:aud`]: "sts.amazonaws.com",
                            },
                        },
                    },
                ],
            });
            assert.deepStrictEqual(p.find(T.rolePolicy, n("role-policy")).inputs, {
                role: "vault-prod-example-vault",
                policyArn: "arn:aws:iam::123456789012:policy/vault-prod-example-vault",
            });
            const b = p.result.binding;
            assert.equal(b.credentials, undefined);
            assert.equal(
                await valueOf(b.roleArn as pulumi.Output<string>),
                "arn:aws:iam::123456789012:role/vault-prod-example-vault",
            );
            assert.deepStrictEqual(b.serviceAccount, { namespace: "secrets", name: "vault" });
            assert.equal(plainOutputs(p, p.result).roleArn, "arn:aws:iam::123456789012:role/vault-prod-example-vault");
            await assertExplicitProvider(p, p.result);
        });

        it("with a configured seal key ARN: no seal key is created, and the policy names that key", async () => {
            const stack = awsStack();
            stack.values.unseal = { mode: "awskms", kmsKeyId: configuredSealKey, kmsRegion: "eu-central-1" };
            stack.values.networkPolicy.egress.kms = KMS_EGRESS;
            const p = await runStorage(stack);
            assert.deepStrictEqual(
                p.ofType(T.key).map((r) => r.name),
                [n("storage-key")],
            );
            assert.deepStrictEqual(
                p.ofType(T.alias).map((r) => r.name),
                [n("storage-key-alias")],
            );
            const doc = parsePolicy(p.find(T.policy, n("identity-policy"))) as { Statement: { Resource: string[] }[] };
            assert.deepStrictEqual(doc.Statement[2].Resource, [storageKeyArn, configuredSealKey]);
            const seal = p.result.binding.seal;
            assert.equal(seal?.region, "eu-central-1");
            assert.equal(await valueOf(seal?.kmsKeyId as pulumi.Output<string>), configuredSealKey);
            assert.equal(p.result.sealKey, undefined);
        });

        it("creates the seal key in unseal.kmsRegion when it differs from the bucket's", async () => {
            const stack = awsStack();
            stack.values.unseal = { kmsRegion: "eu-central-1" };
            const p = await runStorage(stack);
            assert.equal(p.find(T.key, n("seal-key")).inputs.region, "eu-central-1");
            assert.equal(p.find(T.alias, n("seal-key-alias")).inputs.region, "eu-central-1");
            assert.equal(p.result.binding.seal?.region, "eu-central-1");
        });

        it("with the shamir seal: only the storage key, and the policy names only it", async () => {
            const stack = awsStack();
            stack.values.unseal = { mode: "shamir" };
            const p = await runStorage(stack);
            assert.deepStrictEqual(
                p.ofType(T.key).map((r) => r.name),
                [n("storage-key")],
            );
            const doc = parsePolicy(p.find(T.policy, n("identity-policy"))) as { Statement: { Resource: string[] }[] };
            assert.deepStrictEqual(doc.Statement[2].Resource, [storageKeyArn]);
            assert.equal(p.result.binding.seal, undefined);
        });

        it("with storage.protect false: nothing is protected, yet the bucket, keys and settings are still retained", async () => {
            const stack = awsStack();
            stack.values.storage.protect = false;
            const p = await runStorage(stack);
            const retained = [...["bucket", "storage-key", "seal-key"], ...hardening.map(([, suffix]) => suffix)];
            for (const r of awsResources(p).filter((r) => r.type !== T.provider)) {
                const suffix = r.name.slice(n("").length);
                assert.ok(!r.opts.protect, `${r.name} protect`);
                assert.equal(
                    r.opts.retainOnDelete,
                    retained.includes(suffix) ? true : undefined,
                    `${r.name} retainOnDelete`,
                );
            }
        });

        it("refuses a seal key that is not an ARN, before registering anything", async () => {
            const stack = awsStack();
            stack.values.unseal = { mode: "awskms", kmsKeyId: "alias/vault-seal" };
            stack.values.networkPolicy.egress.kms = KMS_EGRESS;
            const message =
                "invalid stack config (1 problem):\n  secret-platform:unseal.kmsKeyId: must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>) in aws mode, so that Vault's IAM policy can name the key";
            await assert.rejects(
                runProgram(stack, buildPlatform),
                (e: unknown) => e instanceof ConfigError && e.message === message,
            );
            await new Promise((r) => setImmediate(r));
            assert.deepStrictEqual(registrations, []);
        });
    });

    describe("s3-compatible mode (Garage / MinIO)", () => {
        let p: Program<SecretPlatform>;
        let storage: VaultStorage;
        before(async () => {
            p = await run(homelabStack());
            storage = p.result.storage;
        });

        it("creates the bucket, versioning and lifecycle only: no IAM, no KMS", () => {
            assert.deepStrictEqual(inventory(p), [
                `${T.bucket} ${n("bucket")}`,
                `${T.lifecycle} ${n("lifecycle")}`,
                `${T.versioning} ${n("versioning")}`,
                `${T.provider} ${n("s3")}`,
            ]);
            assert.equal(p.ofType("aws:iam/").length, 0);
            assert.equal(p.ofType("aws:kms/").length, 0);
        });

        it("points its explicit provider at the endpoint, path-style, with AWS-only checks off", () => {
            const provider = p.find(T.provider, n("s3"));
            assert.equal(provider.inputs.region, "garage");
            assert.deepStrictEqual(JSON.parse(provider.inputs.endpoints as string), [{ s3: "https://s3.amiya.akn" }]);
            for (const flag of [
                "s3UsePathStyle",
                "skipCredentialsValidation",
                "skipRequestingAccountId",
                "skipMetadataApiCheck",
                "skipRegionValidation",
            ]) {
                assert.equal(provider.inputs[flag], "true", flag);
            }
            // The engine receives them as secrets (Pulumi's secret signature), never as plain strings.
            assert.equal(secretInput(provider.inputs.accessKey), "GKtestaccesskey");
            assert.equal(secretInput(provider.inputs.secretKey), "test-storage-secret-key");
        });

        it("gives the provider the credentials as secret Outputs", async () => {
            const provider = p.find(T.provider, n("s3"));
            assert.equal(await isSecret(provider.props.accessKey), true);
            assert.equal(await isSecret(provider.props.secretKey), true);
        });

        it("creates every resource through that provider, as children of the component", async () => {
            await assertExplicitProvider(p, storage);
            for (const r of awsResources(p)) assert.equal(parentOf(r), storage, `${r.name} parent`);
        });

        it("wires versioning and lifecycle to this bucket, versioning before lifecycle", () => {
            for (const [type, suffix] of [
                ["versioning", "versioning"],
                ["lifecycle", "lifecycle"],
            ] as const) {
                const r = p.find(T[type], n(suffix));
                assert.equal(r.props.bucket, storage.bucket?.bucket);
                assert.equal(r.inputs.bucket, "vault-amiya");
            }
            assert.deepStrictEqual(p.find(T.versioning, n("versioning")).inputs.versioningConfiguration, {
                status: "Enabled",
            });
            const lifecycle = p.find(T.lifecycle, n("lifecycle"));
            assert.deepStrictEqual(lifecycle.opts.dependsOn, [p.find(T.versioning, n("versioning")).resource]);
            assert.deepStrictEqual(
                (lifecycle.inputs.rules as { id: string }[]).map((r) => r.id),
                ["restore-window", "abort-incomplete-multipart-uploads"],
            );
        });

        it("registers only the bucket as outputs", async () => {
            assert.deepStrictEqual(plainOutputs(p, storage), {
                bucket: "vault-amiya",
                bucketArn: "arn:aws:s3:::vault-amiya",
            });
        });

        it("protects and retains the bucket", () => {
            const bucket = p.find(T.bucket, n("bucket"));
            assert.deepStrictEqual(bucket.inputs, { bucket: "vault-amiya", forceDestroy: false });
            assert.equal(bucket.opts.protect, true);
            assert.equal(bucket.opts.retainOnDelete, true);
            for (const suffix of ["versioning", "lifecycle"]) {
                assert.equal(p.find(T[suffix as "versioning"], n(suffix)).opts.retainOnDelete, true, suffix);
            }
        });

        it("binds the endpoint, path style, prefix and the config's secret credentials; no KMS, no role", async () => {
            const b = storage.binding;
            assert.equal(await valueOf(b.bucket), "vault-amiya");
            assert.equal(b.region, "garage");
            assert.equal(b.endpoint, "https://s3.amiya.akn");
            assert.equal(b.forcePathStyle, true);
            assert.equal(b.prefix, "vault/");
            assert.equal(b.credentials?.accessKeyId, p.config.secrets.storageAccessKeyId);
            assert.equal(b.credentials?.secretAccessKey, p.config.secrets.storageSecretAccessKey);
            assert.equal(await isSecret(b.credentials?.accessKeyId), true);
            assert.equal(await isSecret(b.credentials?.secretAccessKey), true);
            assert.equal(b.storageKmsKeyId, undefined);
            assert.equal(b.seal, undefined, "homelab uses the shamir seal");
            assert.equal(b.sealCredentials, undefined);
            assert.equal(b.roleArn, undefined);
            assert.equal(storage.storageKey, undefined);
            assert.equal(storage.identityPolicy, undefined);
        });

        it("with versioning false (Garage has none): only the provider and the bucket", async () => {
            const stack = homelabStack();
            stack.values.storage.versioning = false;
            const p2 = await runStorage(stack);
            assert.deepStrictEqual(inventory(p2), [`${T.bucket} ${n("bucket")}`, `${T.provider} ${n("s3")}`]);
            await assertExplicitProvider(p2, p2.result);
        });

        it("with path style off: the provider uses virtual-host addressing", async () => {
            const stack = homelabStack();
            stack.values.storage.forcePathStyle = false;
            const p2 = await runStorage(stack);
            assert.equal(p2.find(T.provider, n("s3")).inputs.s3UsePathStyle, "false");
            assert.equal(p2.result.binding.forcePathStyle, false);
        });

        it("with the awskms seal: binds the configured key and the seal's own secret credentials, still no KMS resource", async () => {
            const stack = homelabStack();
            stack.values.unseal = { mode: "awskms", kmsKeyId: configuredSealKey, kmsRegion: "eu-central-1" };
            stack.values.networkPolicy.egress.kms = KMS_EGRESS;
            stack.secrets.sealAccessKeyId = "AKIASEALTEST";
            stack.secrets.sealSecretAccessKey = "seal-secret-test";
            const p2 = await runStorage(stack);
            assert.equal(p2.ofType("aws:kms/").length, 0);
            assert.equal(p2.ofType("aws:iam/").length, 0);
            const b = p2.result.binding;
            assert.equal(b.seal?.region, "eu-central-1");
            assert.equal(await valueOf(b.seal?.kmsKeyId as pulumi.Output<string>), configuredSealKey);
            assert.equal(b.sealCredentials?.accessKeyId, p2.config.secrets.sealAccessKeyId);
            assert.equal(b.sealCredentials?.secretAccessKey, p2.config.secrets.sealSecretAccessKey);
            assert.equal(await isSecret(b.sealCredentials?.accessKeyId), true);
            assert.equal(await isSecret(b.sealCredentials?.secretAccessKey), true);
            assert.equal(
                await valueOf(b.sealCredentials?.secretAccessKey as pulumi.Output<string>),
                "seal-secret-test",
            );
        });
    });

    describe("bring-your-own bucket (storage.createBucket false)", () => {
        const byo = () => {
            const stack = homelabStack();
            stack.values.storage.createBucket = false;
            return stack;
        };
        /** Every registration of the aws package or its provider, whichever component made it. */
        const anyAws = (p: Program<unknown>) =>
            p.resources.filter((r) => r.type.startsWith("aws:") || r.type === T.provider).map((r) => r.type);

        it("defaults to true: the program creates the bucket as before", () => {
            assert.equal(configOf(homelabStack()).storage.createBucket, true);
        });

        it("with shamir: the whole stack registers no aws resource and no aws provider", async () => {
            const p = await run(byo());
            assert.equal(p.config.unseal.mode, "shamir");
            assert.deepStrictEqual(anyAws(p), []);
            assert.ok(p.resources.length > 10, "the rest of the platform is still built");
            assert.equal(p.result.storage.provider, undefined);
            assert.equal(p.result.storage.bucket, undefined);
        });

        it("binds the named bucket, region, endpoint, prefix and the secret credentials for the server", async () => {
            const p = await runStorage(byo());
            const b = p.result.binding;
            assert.equal(await valueOf(b.bucket), "vault-amiya");
            assert.equal(await isSecret(b.bucket), false);
            assert.equal(b.region, "garage");
            assert.equal(b.endpoint, "https://s3.amiya.akn");
            assert.equal(b.forcePathStyle, true);
            assert.equal(b.prefix, "vault/");
            assert.equal(b.credentials?.accessKeyId, p.config.secrets.storageAccessKeyId);
            assert.equal(b.credentials?.secretAccessKey, p.config.secrets.storageSecretAccessKey);
            assert.equal(await isSecret(b.credentials?.secretAccessKey), true);
            assert.deepStrictEqual(plainOutputs(p, p.result), { bucket: "vault-amiya" });
        });

        it("the server still gets the bucket in its HCL and the keys in its credentials Secret", async () => {
            const p = await run(byo());
            const values = JSON.stringify(p.find("kubernetes:helm.sh/v4:Chart", "platform-server-chart").inputs.values);
            assert.match(values, /bucket\s*=\s*\\"vault-amiya\\"/);
            assert.match(values, /endpoint\s*=\s*\\"https:\/\/s3\.amiya\.akn\\"/);
            const creds = p.find("kubernetes:core/v1:Secret", "platform-server-storage-credentials");
            assert.deepStrictEqual(secretInput(creds.inputs.stringData), {
                AWS_ACCESS_KEY_ID: "GKtestaccesskey",
                AWS_SECRET_ACCESS_KEY: "test-storage-secret-key",
            });
        });

        it("with the awskms seal on an existing key: still no aws resource and no aws provider", async () => {
            const stack = byo();
            stack.values.unseal = { mode: "awskms", kmsKeyId: configuredSealKey, kmsRegion: "eu-central-1" };
            stack.values.networkPolicy.egress.kms = KMS_EGRESS;
            stack.secrets.sealAccessKeyId = "AKIASEALTEST";
            stack.secrets.sealSecretAccessKey = "seal-secret-test";
            const p = await run(stack);
            assert.deepStrictEqual(anyAws(p), []);
            assert.equal(
                await valueOf(p.result.storage.binding.seal?.kmsKeyId as pulumi.Output<string>),
                configuredSealKey,
            );
        });

        it("with raft snapshots: the snapshot job uploads to the named bucket", async () => {
            const stack = byo();
            stack.values.server = { storageBackend: "raft", replicas: 3 };
            const p = await run(stack);
            assert.deepStrictEqual(anyAws(p), []);
            assert.equal(
                await valueOf(p.result.snapshots?.destination as pulumi.Output<string>),
                "s3://vault-amiya/vault/snapshots/",
            );
        });

        it("is refused in aws mode, naming the key, before any resource", async () => {
            const stack = awsStack();
            stack.values.storage.createBucket = false;
            assert.deepStrictEqual(configProblems(stack), [
                "secret-platform:storage.createBucket: must be true in aws mode: the program creates the bucket with its KMS key and Vault's IAM identity scoped to it (use s3-compatible mode for a bucket made elsewhere)",
            ]);
            await assert.rejects(runProgram(stack, buildPlatform), ConfigError);
            assert.deepStrictEqual(registrations, []);
        });
    });

    describe("mode mismatches are config errors, before any resource", () => {
        const ns = "secret-platform";
        const cases: { name: string; base: () => Stack; change: (s: Stack) => void; expect: string[] }[] = [
            {
                name: "IAM identity in s3-compatible mode",
                base: homelabStack,
                change: (s) => (s.values.storage.identity = "user"),
                expect: [`${ns}:storage.identity: is an AWS-only option; remove it in s3-compatible mode`],
            },
            {
                name: "IRSA in s3-compatible mode",
                base: homelabStack,
                change: (s) => (s.values.storage.irsa = { oidcProviderArn, oidcProviderUrl }),
                expect: [`${ns}:storage.irsa: is an AWS-only option; remove it in s3-compatible mode`],
            },
            {
                name: "endpoint and path style in aws mode",
                base: awsStack,
                change: (s) =>
                    Object.assign(s.values.storage, { endpoint: "https://s3.example", forcePathStyle: true }),
                expect: [
                    `${ns}:storage.endpoint: is only for s3-compatible mode (aws mode uses the regional AWS endpoint)`,
                    `${ns}:storage.forcePathStyle: is only for s3-compatible mode`,
                ],
            },
            {
                name: "versioning off in aws mode",
                base: awsStack,
                change: (s) => (s.values.storage.versioning = false),
                expect: [
                    `${ns}:storage.versioning: must stay true in aws mode: object versions are the point-in-time restore window`,
                ],
            },
            {
                name: "static storage credentials in aws mode",
                base: awsStack,
                change: (s) => (s.secrets.storageSecretAccessKey = "x"),
                expect: [
                    `${ns}:storageSecretAccessKey: is only for s3-compatible mode (aws mode creates Vault's own IAM credentials)`,
                ],
            },
            {
                name: "awskms seal on s3-compatible storage without a key",
                base: homelabStack,
                change: (s) => {
                    s.values.unseal = { mode: "awskms" };
                    s.values.networkPolicy.egress.kms = KMS_EGRESS;
                    Object.assign(s.secrets, { sealAccessKeyId: "a", sealSecretAccessKey: "b" });
                },
                expect: [
                    `${ns}:unseal.kmsKeyId: is required for the awskms unseal mode with s3-compatible storage (in that mode the program creates no AWS resources)`,
                ],
            },
        ];
        for (const c of cases) {
            it(c.name, async () => {
                const stack = c.base();
                c.change(stack);
                assert.deepStrictEqual(configProblems(stack), c.expect);
                await assert.rejects(runProgram(stack, buildPlatform), ConfigError);
                assert.deepStrictEqual(registrations, []);
            });
        }

        it("accepts a configured seal key ARN in aws mode", () => {
            const stack = awsStack();
            stack.values.unseal = { kmsKeyId: configuredSealKey };
            assert.equal(configOf(stack).unseal.kmsKeyId, configuredSealKey);
        });
    });
});
