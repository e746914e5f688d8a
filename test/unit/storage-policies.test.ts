import { strict as assert } from "node:assert";
import {
    irsaTrustPolicy,
    isKmsKeyArn,
    kmsAliasName,
    PolicyDocument,
    snapshotIamName,
    snapshotUploadPolicy,
    tlsOnlyBucketPolicy,
    vaultIamName,
    vaultIdentityPolicy,
} from "../../components/lib/storage-policies";

const bucketArn = "arn:aws:s3:::prod-example-vault";
const storageKey = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const sealKey = "arn:aws:kms:eu-central-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef";

/** Every action and resource of a document's Allow statements. */
function allowed(doc: PolicyDocument): { actions: string[]; resources: string[] } {
    const allow = doc.Statement.filter((s) => s.Effect === "Allow");
    return { actions: allow.flatMap((s) => s.Action), resources: allow.flatMap((s) => s.Resource ?? []) };
}

describe("storage policies (pure builders)", () => {
    describe("vaultIdentityPolicy", () => {
        it("grants exactly list on the bucket, get/put/delete on its objects and four KMS actions on the keys", () => {
            const doc = vaultIdentityPolicy({ bucketArn, kmsKeyArns: [storageKey, sealKey] });
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
                        Resource: [storageKey, sealKey],
                    },
                ],
            });
        });

        it("scopes object access to the prefix, and keeps ListBucket unconditioned for Vault's start-up probe", () => {
            const doc = vaultIdentityPolicy({ bucketArn, prefix: "vault/", kmsKeyArns: [storageKey] });
            const [list, objects, kms] = doc.Statement;
            assert.deepStrictEqual(objects.Resource, ["arn:aws:s3:::prod-example-vault/vault/*"]);
            // NewS3Backend lists the bucket with no prefix: an s3:prefix condition would deny it.
            assert.deepStrictEqual(list, {
                Sid: "VaultListBucket",
                Effect: "Allow",
                Action: ["s3:ListBucket"],
                Resource: [bucketArn],
            });
            assert.deepStrictEqual(kms.Resource, [storageKey]);
        });

        it("has no wildcard action but GenerateDataKey*, no '*' resource, no Deny and no NotAction", () => {
            for (const prefix of [undefined, "vault/", "a/b/"]) {
                const doc = vaultIdentityPolicy({ bucketArn, prefix, kmsKeyArns: [storageKey, sealKey] });
                const { actions, resources } = allowed(doc);
                assert.deepStrictEqual(
                    actions.filter((a) => a.includes("*")),
                    ["kms:GenerateDataKey*"],
                );
                assert.ok(!resources.includes("*"));
                for (const r of resources) assert.ok(r.startsWith(`${bucketArn}`) || r.startsWith("arn:aws:kms:"), r);
                assert.deepStrictEqual(
                    doc.Statement.map((s) => Object.keys(s).sort()),
                    [
                        ["Action", "Effect", "Resource", "Sid"],
                        ["Action", "Effect", "Resource", "Sid"],
                        ["Action", "Effect", "Resource", "Sid"],
                    ],
                );
            }
        });

        it("names a key once when both keys are the same", () => {
            const doc = vaultIdentityPolicy({ bucketArn, kmsKeyArns: [storageKey, storageKey] });
            assert.deepStrictEqual(doc.Statement[2].Resource, [storageKey]);
        });

        it("round-trips through JSON as IAM receives it", () => {
            const doc = vaultIdentityPolicy({ bucketArn, prefix: "vault/", kmsKeyArns: [storageKey] });
            assert.deepStrictEqual(JSON.parse(JSON.stringify(doc)), doc);
        });

        it("with sealSourceCidrs: the seal key only from those addresses, the bucket's key as before", () => {
            const doc = vaultIdentityPolicy({
                bucketArn,
                kmsKeyArns: [storageKey, sealKey],
                sealKeyArn: sealKey,
                sealSourceCidrs: ["203.0.113.7/32", "198.51.100.0/24"],
            });
            assert.deepEqual(doc.Statement.slice(2), [
                {
                    Sid: "VaultKmsKeys",
                    Effect: "Allow",
                    Action: ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"],
                    Resource: [storageKey],
                },
                {
                    Sid: "VaultSealKeyFromCluster",
                    Effect: "Allow",
                    Action: ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"],
                    Resource: [sealKey],
                    Condition: { IpAddress: { "aws:SourceIp": ["203.0.113.7/32", "198.51.100.0/24"] } },
                },
            ]);
            // No other statement grants the seal key: the condition is not bypassed.
            const unconditioned = doc.Statement.filter((st) => st.Condition === undefined).flatMap(
                (st) => st.Resource ?? [],
            );
            assert.ok(!unconditioned.includes(sealKey));
            assert.throws(
                () => vaultIdentityPolicy({ bucketArn, kmsKeyArns: [storageKey], sealSourceCidrs: ["10.0.0.0/8"] }),
                {
                    message: "vaultIdentityPolicy: sealSourceCidrs needs sealKeyArn, one of kmsKeyArns",
                },
            );
            assert.throws(
                () =>
                    vaultIdentityPolicy({
                        bucketArn,
                        kmsKeyArns: [storageKey, sealKey],
                        sealKeyArn: sealKey,
                        sealSourceCidrs: [],
                    }),
                { message: "vaultIdentityPolicy: sealSourceCidrs must list at least one CIDR" },
            );
        });

        it("refuses inputs that would widen or break the policy", () => {
            assert.throws(() => vaultIdentityPolicy({ bucketArn: "*", kmsKeyArns: [storageKey] }), {
                message: "vaultIdentityPolicy: bucketArn must be an S3 bucket ARN, got '*'",
            });
            assert.throws(() => vaultIdentityPolicy({ bucketArn, kmsKeyArns: [] }), {
                message: "vaultIdentityPolicy: kmsKeyArns must list at least one key",
            });
            assert.throws(() => vaultIdentityPolicy({ bucketArn, kmsKeyArns: ["alias/vault"] }), {
                message: "vaultIdentityPolicy: 'alias/vault' is not a KMS key ARN",
            });
            assert.throws(() => vaultIdentityPolicy({ bucketArn, kmsKeyArns: ["*"] }), {
                message: "vaultIdentityPolicy: '*' is not a KMS key ARN",
            });
            assert.throws(() => vaultIdentityPolicy({ bucketArn, prefix: "vault", kmsKeyArns: [storageKey] }), {
                message: "vaultIdentityPolicy: prefix must end in '/' and hold no '*', got 'vault'",
            });
            assert.throws(() => vaultIdentityPolicy({ bucketArn, prefix: "*/", kmsKeyArns: [storageKey] }), {
                message: "vaultIdentityPolicy: prefix must end in '/' and hold no '*', got '*/'",
            });
        });
    });

    describe("snapshotUploadPolicy", () => {
        const args = { bucketArn, keyPrefix: "vault/snapshots/", kmsKeyArn: storageKey, region: "eu-west-1" };

        it("allows PutObject under the prefix and a data key through S3 for this bucket, and nothing else", () => {
            const doc = snapshotUploadPolicy(args);
            assert.deepEqual(allowed(doc), {
                actions: ["s3:PutObject", "kms:GenerateDataKey"],
                resources: [`${bucketArn}/vault/snapshots/*`, storageKey],
            });
            assert.deepEqual(doc.Statement[1].Condition, {
                StringEquals: {
                    "kms:ViaService": "s3.eu-west-1.amazonaws.com",
                    "kms:EncryptionContext:aws:s3:arn": bucketArn,
                },
            });
            // No read, list, delete or decrypt: it cannot fetch a snapshot back nor remove one.
            for (const action of ["s3:GetObject", "s3:ListBucket", "s3:DeleteObject", "kms:Decrypt", "s3:*", "kms:*"]) {
                assert.ok(!allowed(doc).actions.includes(action), action);
            }
        });

        it("refuses inputs that would widen the policy", () => {
            assert.throws(() => snapshotUploadPolicy({ ...args, bucketArn: "*" }), {
                message: "snapshotUploadPolicy: bucketArn must be an S3 bucket ARN, got '*'",
            });
            assert.throws(() => snapshotUploadPolicy({ ...args, kmsKeyArn: "*" }), {
                message: "snapshotUploadPolicy: '*' is not a KMS key ARN",
            });
            for (const keyPrefix of ["", "snapshots", "/snapshots/", "*/"]) {
                assert.throws(() => snapshotUploadPolicy({ ...args, keyPrefix }), {
                    message: `snapshotUploadPolicy: keyPrefix must be a relative prefix ending in '/' with no '*', got '${keyPrefix}'`,
                });
            }
        });

        it("names the uploader after the bucket within IAM's 64 characters", () => {
            assert.equal(snapshotIamName("prod-example-vault"), "vault-prod-example-vault-snapshots");
            assert.equal(snapshotIamName("a".repeat(63)), `vault-${"a".repeat(48)}-snapshots`);
            assert.equal(snapshotIamName("a".repeat(63)).length, 64);
        });
    });

    describe("tlsOnlyBucketPolicy", () => {
        it("denies plain HTTP and TLS below 1.2 to everyone, on the bucket and its objects", () => {
            assert.deepStrictEqual(tlsOnlyBucketPolicy(bucketArn), {
                Version: "2012-10-17",
                Statement: [
                    {
                        Sid: "DenyInsecureTransport",
                        Effect: "Deny",
                        Principal: "*",
                        Action: ["s3:*"],
                        Resource: ["arn:aws:s3:::prod-example-vault", "arn:aws:s3:::prod-example-vault/*"],
                        Condition: { Bool: { "aws:SecureTransport": "false" } },
                    },
                    {
                        Sid: "DenyOutdatedTls",
                        Effect: "Deny",
                        Principal: "*",
                        Action: ["s3:*"],
                        Resource: ["arn:aws:s3:::prod-example-vault", "arn:aws:s3:::prod-example-vault/*"],
                        Condition: { NumericLessThan: { "s3:TlsVersion": "1.2" } },
                    },
                ],
            });
        });

        it("grants nothing (BlockPublicPolicy rejects public Allow statements)", () => {
            const doc = tlsOnlyBucketPolicy("arn:aws-cn:s3:::vault.data");
            assert.deepStrictEqual(allowed(doc), { actions: [], resources: [] });
            assert.deepStrictEqual(doc.Statement[0].Resource, [
                "arn:aws-cn:s3:::vault.data",
                "arn:aws-cn:s3:::vault.data/*",
            ]);
        });

        it("refuses something that is not a bucket ARN", () => {
            assert.throws(() => tlsOnlyBucketPolicy("prod-example-vault"), {
                message: "tlsOnlyBucketPolicy: bucketArn must be an S3 bucket ARN, got 'prod-example-vault'",
            });
        });
    });

    describe("irsaTrustPolicy", () => {
        const oidcProviderArn =
            "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
        const oidcProviderUrl = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";

        it("lets only Vault's ServiceAccount assume the role, with the STS audience", () => {
            assert.deepStrictEqual(
                irsaTrustPolicy({ oidcProviderArn, oidcProviderUrl, namespace: "vault", serviceAccount: "vault" }),
                {
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Sid: "VaultServiceAccount",
                            Effect: "Allow",
                            Principal: { Federated: oidcProviderArn },
                            Action: ["sts:AssumeRoleWithWebIdentity"],
                            Condition: {
                                StringEquals: {
                                    "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sub":
                                        "system:serviceaccount:vault:vault",
                                    "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:aud":
                                        "sts.amazonaws.com",
                                },
                            },
                        },
                    ],
                },
            );
        });

        it("uses StringEquals, never StringLike, so no other ServiceAccount matches", () => {
            const doc = irsaTrustPolicy({
                oidcProviderArn,
                oidcProviderUrl,
                namespace: "secrets",
                serviceAccount: "vault",
            });
            assert.deepStrictEqual(Object.keys(doc.Statement[0].Condition ?? {}), ["StringEquals"]);
            assert.equal(
                doc.Statement[0].Condition?.StringEquals[`${oidcProviderUrl}:sub`],
                "system:serviceaccount:secrets:vault",
            );
        });

        it("refuses an issuer URL with its scheme (IAM condition keys have none)", () => {
            assert.throws(
                () =>
                    irsaTrustPolicy({
                        oidcProviderArn,
                        oidcProviderUrl: `https://${oidcProviderUrl}`,
                        namespace: "vault",
                        serviceAccount: "vault",
                    }),
                {
                    message:
                        "irsaTrustPolicy: oidcProviderUrl must not start with https:// (IAM condition keys omit it)",
                },
            );
        });
    });

    describe("names", () => {
        it("derives IAM names from the bucket within IAM's 64 characters", () => {
            assert.equal(vaultIamName("vault-amiya"), "vault-vault-amiya");
            const long = "a".repeat(63);
            assert.equal(vaultIamName(long), `vault-${"a".repeat(58)}`);
            assert.equal(vaultIamName(long).length, 64);
        });

        it("derives KMS aliases without the '.' KMS does not allow", () => {
            assert.equal(kmsAliasName("vault.amiya.akn", "storage"), "alias/vault-vault-amiya-akn-storage");
            assert.equal(kmsAliasName("prod-example-vault", "seal"), "alias/vault-prod-example-vault-seal");
        });

        it("recognises KMS key ARNs and nothing else", () => {
            assert.ok(isKmsKeyArn(storageKey));
            assert.ok(isKmsKeyArn(sealKey));
            assert.ok(isKmsKeyArn("arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd"));
            for (const bad of [
                "1234abcd-12ab-34cd-56ef-1234567890ab",
                "alias/vault-seal",
                "arn:aws:kms:eu-west-1:123456789012:alias/vault-seal",
                "arn:aws:kms:eu-west-1:123456789012:key/*",
            ]) {
                assert.ok(!isKmsKeyArn(bad), bad);
            }
        });
    });
});
