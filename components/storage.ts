import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AwsStorage, PlatformConfig, S3CompatibleStorage } from "./config";
import {
    irsaTrustPolicy,
    kmsAliasName,
    snapshotIamName,
    snapshotUploadPolicy,
    tlsOnlyBucketPolicy,
    vaultIamName,
    vaultIdentityPolicy,
} from "./lib/storage-policies";
import { RELEASE_NAME } from "./lib/contracts";
import { isHttpsUrl, writeTrustCaFile } from "./lib/trust";

/** What the Vault server needs to know about its storage and seal. */
export interface StorageBinding {
    readonly bucket: pulumi.Output<string>;
    readonly region: string;
    /** S3-compatible endpoint; undefined on AWS. */
    readonly endpoint?: string;
    readonly forcePathStyle: boolean;
    /** Key prefix inside the bucket (Vault's `path`). */
    readonly prefix?: string;
    /** SSE-KMS key for Vault's `kms_key_id` (aws mode). */
    readonly storageKmsKeyId?: pulumi.Output<string>;
    /** The awskms seal's key (created here in aws mode, or the configured one). */
    readonly seal?: { readonly kmsKeyId: pulumi.Output<string>; readonly region: string };
    /** Static credentials for the S3 backend, as secret Outputs. */
    readonly credentials?: StaticKeys;
    /** Static credentials for the awskms seal when they differ from the storage's (s3-compatible mode). */
    readonly sealCredentials?: StaticKeys;
    /**
     * The raft snapshot uploader's own keys: in aws mode (snapshots on) a user that may only write under the
     * snapshot prefix; with s3-compatible storage the configured snapshot keys, when set.
     */
    readonly snapshotCredentials?: StaticKeys;
    /** IAM role for IRSA / pod identity (aws mode, identity role). */
    readonly roleArn?: pulumi.Output<string>;
    /** The ServiceAccount the IRSA role trusts (`<server.namespace>/vault`); set with roleArn. */
    readonly serviceAccount?: { readonly namespace: string; readonly name: string };
}

/** A pair of static AWS-style keys, both secret Outputs. */
export interface StaticKeys {
    readonly accessKeyId: pulumi.Output<string>;
    readonly secretAccessKey: pulumi.Output<string>;
}

/** What VaultStorage is built from; storageArgs (platform-args.ts) takes it from the stack config. */
export interface VaultStorageArgs {
    /** `storage`: the bucket, its mode (aws or s3-compatible) and its retention settings. */
    readonly storage: PlatformConfig["storage"];
    /** `unseal`: with awskms in aws mode a seal key is made here, unless unseal.kmsKeyId names one. */
    readonly unseal: PlatformConfig["unseal"];
    /** `cluster.name`: the AWS tags and the descriptions of the keys and the role. */
    readonly clusterName: string;
    /** `server.namespace`: where the ServiceAccount the IRSA role trusts lives (storage.identity role). */
    readonly vaultNamespace: string;
    /** The storage keys (secrets storageAccessKeyId/storageSecretAccessKey); required in s3-compatible mode. */
    readonly credentials?: StaticKeys;
    /** The awskms seal's own keys (secrets sealAccessKeyId/sealSecretAccessKey); required for awskms on s3-compatible storage. */
    readonly sealCredentials?: StaticKeys;
    /**
     * The raft snapshot upload's own keys on s3-compatible storage (secrets snapshotAccessKeyId/snapshotSecretAccessKey);
     * unset: the storage keys. In aws mode the program makes a write-only IAM user instead.
     */
    readonly snapshotCredentials?: StaticKeys;
    /** `trust.caBundle`: verifies an https S3-compatible endpoint. Default: the system roots. */
    readonly caBundle?: string;
    /** The raft snapshots' key prefix, when they are on: aws mode makes their uploader a write-only IAM user on it. */
    readonly snapshotKeyPrefix?: string;
}

/** The chart's server ServiceAccount: the release is named `vault` (see the contracts). */
export const VAULT_SERVICE_ACCOUNT = RELEASE_NAME;

/**
 * Vault's S3 storage: the hardened bucket with least-privilege IAM and KMS on
 * AWS, or a bucket on an S3-compatible endpoint (Garage, MinIO). Every child
 * uses this component's own aws.Provider, never the ambient default one.
 */
export class VaultStorage extends pulumi.ComponentResource {
    /** What the server and bootstrap need; secrets only as secret Outputs. */
    public readonly binding: StorageBinding;
    /** The explicit provider every child of this component uses; none with storage.createBucket false. */
    public readonly provider?: aws.Provider;
    /** The bucket resource; none with storage.createBucket false (the named bucket is used as it is). */
    public readonly bucket?: aws.s3.Bucket;
    /** The bucket's SSE-KMS key (aws mode). */
    public readonly storageKey?: aws.kms.Key;
    /** The awskms seal's key (aws mode, unseal awskms, no unseal.kmsKeyId). */
    public readonly sealKey?: aws.kms.Key;
    /** Vault's identity policy (aws mode). */
    public readonly identityPolicy?: aws.iam.Policy;

    constructor(name: string, args: VaultStorageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secret-platform:storage:VaultStorage", name, {}, opts);
        const parts: Partial<BuiltAws> & { binding: StorageBinding } =
            args.storage.mode === "aws"
                ? this.buildAws(name, args, args.storage)
                : this.buildCompatible(name, args, args.storage);
        this.provider = parts.provider;
        this.bucket = parts.bucket;
        this.storageKey = parts.storageKey;
        this.sealKey = parts.sealKey;
        this.identityPolicy = parts.policy;
        this.binding = parts.binding;

        this.registerOutputs({
            bucket: this.binding.bucket,
            bucketArn: this.bucket?.arn,
            storageKmsKeyArn: this.storageKey?.arn,
            sealKmsKeyArn: this.sealKey?.arn,
            roleArn: this.binding.roleArn,
        });
    }

    /** AWS: bucket, hardening, KMS keys, and Vault's IAM identity. */
    private buildAws(name: string, args: VaultStorageArgs, s: AwsStorage): BuiltAws {
        const provider = new aws.Provider(
            `${name}-aws`,
            {
                region: s.region,
                defaultTags: { tags: { "managed-by": "pulumi", "secret-platform/cluster": args.clusterName } },
            },
            { parent: this },
        );
        const child: pulumi.CustomResourceOptions = { parent: this, provider };
        // Data resources: always retained, so destroying the stack never deletes
        // Vault's data or the keys that decrypt it; `protect` also refuses the delete.
        const data = pulumi.mergeOptions(child, { protect: s.protect, retainOnDelete: true });
        // Settings of the retained bucket: deleting them (versioning suspended,
        // encryption or the public-access block removed) would weaken it.
        const setting = pulumi.mergeOptions(child, { retainOnDelete: true });

        const storageKey = new aws.kms.Key(
            `${name}-storage-key`,
            {
                description: `SSE-KMS key of Vault's bucket ${s.bucket}`,
                enableKeyRotation: true,
                deletionWindowInDays: s.kmsDeletionWindowDays,
            },
            data,
        );
        new aws.kms.Alias(
            `${name}-storage-key-alias`,
            { name: kmsAliasName(s.bucket, "storage"), targetKeyId: storageKey.keyId },
            child,
        );

        const bucket = new aws.s3.Bucket(`${name}-bucket`, { bucket: s.bucket, forceDestroy: false }, data);
        const onBucket = { bucket: bucket.bucket };

        const publicAccessBlock = new aws.s3.BucketPublicAccessBlock(
            `${name}-public-access-block`,
            {
                ...onBucket,
                blockPublicAcls: true,
                blockPublicPolicy: true,
                ignorePublicAcls: true,
                restrictPublicBuckets: true,
            },
            setting,
        );
        new aws.s3.BucketOwnershipControls(
            `${name}-ownership`,
            { ...onBucket, rule: { objectOwnership: "BucketOwnerEnforced" } },
            setting,
        );
        const versioning = new aws.s3.BucketVersioning(
            `${name}-versioning`,
            { ...onBucket, versioningConfiguration: { status: "Enabled" } },
            setting,
        );
        new aws.s3.BucketServerSideEncryptionConfiguration(
            `${name}-encryption`,
            {
                ...onBucket,
                rules: [
                    {
                        applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: storageKey.arn },
                        bucketKeyEnabled: true,
                    },
                ],
            },
            setting,
        );
        new aws.s3.BucketPolicy(
            `${name}-policy`,
            { ...onBucket, policy: bucket.arn.apply((arn) => JSON.stringify(tlsOnlyBucketPolicy(arn))) },
            // After the public-access block, so BlockPublicPolicy judges this policy.
            pulumi.mergeOptions(setting, { dependsOn: [publicAccessBlock] }),
        );
        new aws.s3.BucketLifecycleConfiguration(
            `${name}-lifecycle`,
            { ...onBucket, rules: lifecycleRules(s) },
            // Noncurrent-version rules need versioning on first.
            pulumi.mergeOptions(setting, { dependsOn: [versioning] }),
        );

        // The awskms seal's key, unless the stack names an existing one.
        const unseal = args.unseal;
        const sealKey =
            unseal.mode === "awskms" && unseal.kmsKeyId === undefined
                ? new aws.kms.Key(
                      `${name}-seal-key`,
                      {
                          description: `awskms seal key of the Vault on cluster ${args.clusterName}`,
                          enableKeyRotation: true,
                          deletionWindowInDays: s.kmsDeletionWindowDays,
                          region: unseal.kmsRegion,
                      },
                      data,
                  )
                : undefined;
        if (sealKey !== undefined) {
            new aws.kms.Alias(
                `${name}-seal-key-alias`,
                { name: kmsAliasName(s.bucket, "seal"), targetKeyId: sealKey.keyId, region: unseal.kmsRegion },
                child,
            );
        }
        const sealKeyArn: pulumi.Output<string> | undefined =
            sealKey?.arn ??
            (unseal.mode === "awskms" && unseal.kmsKeyId !== undefined ? pulumi.output(unseal.kmsKeyId) : undefined);

        const iamName = vaultIamName(s.bucket);
        const keyArns = sealKeyArn === undefined ? [storageKey.arn] : [storageKey.arn, sealKeyArn];
        const policy = new aws.iam.Policy(
            `${name}-identity-policy`,
            {
                name: iamName,
                description: `Vault's access to bucket ${s.bucket} and its KMS keys`,
                policy: pulumi.all([bucket.arn, pulumi.all(keyArns)]).apply(([bucketArn, kmsKeyArns]) =>
                    JSON.stringify(
                        vaultIdentityPolicy({
                            bucketArn,
                            prefix: s.prefix,
                            kmsKeyArns,
                            ...(unseal.kmsSourceCidrs === undefined
                                ? {}
                                : { sealKeyArn: kmsKeyArns[1], sealSourceCidrs: unseal.kmsSourceCidrs }),
                        }),
                    ),
                ),
            },
            child,
        );

        let credentials: StorageBinding["credentials"];
        let roleArn: pulumi.Output<string> | undefined;
        let serviceAccount: StorageBinding["serviceAccount"];
        if (s.identity === "role") {
            const irsa = s.irsa;
            serviceAccount = { namespace: args.vaultNamespace, name: VAULT_SERVICE_ACCOUNT };
            const role = new aws.iam.Role(
                `${name}-role`,
                {
                    name: iamName,
                    description: `Vault (IRSA ${serviceAccount.namespace}/${serviceAccount.name}) on ${args.clusterName}`,
                    assumeRolePolicy: JSON.stringify(
                        irsaTrustPolicy({
                            oidcProviderArn: irsa.oidcProviderArn,
                            oidcProviderUrl: irsa.oidcProviderUrl,
                            namespace: serviceAccount.namespace,
                            serviceAccount: serviceAccount.name,
                        }),
                    ),
                },
                child,
            );
            new aws.iam.RolePolicyAttachment(`${name}-role-policy`, { role: role.name, policyArn: policy.arn }, child);
            roleArn = role.arn;
        } else {
            const user = new aws.iam.User(`${name}-user`, { name: iamName }, child);
            new aws.iam.UserPolicyAttachment(`${name}-user-policy`, { user: user.name, policyArn: policy.arn }, child);
            // The SDK lists `secret` in additionalSecretOutputs itself; the key id
            // is made secret here, since it only ever travels with the secret.
            const accessKey = new aws.iam.AccessKey(`${name}-access-key`, { user: user.name }, child);
            credentials = {
                accessKeyId: pulumi.secret(accessKey.id),
                secretAccessKey: pulumi.secret(accessKey.secret),
            };
        }

        // The snapshot upload runs a third-party CLI image: its own user, which may only write snapshots.
        let snapshotCredentials: StaticKeys | undefined;
        if (args.snapshotKeyPrefix !== undefined) {
            const keyPrefix = args.snapshotKeyPrefix;
            const snapshotName = snapshotIamName(s.bucket);
            const uploadPolicy = new aws.iam.Policy(
                `${name}-snapshot-policy`,
                {
                    name: snapshotName,
                    description: `Raft snapshot upload to ${s.bucket}/${keyPrefix}: PutObject only`,
                    policy: pulumi
                        .all([bucket.arn, storageKey.arn])
                        .apply(([bucketArn, kmsKeyArn]) =>
                            JSON.stringify(snapshotUploadPolicy({ bucketArn, keyPrefix, kmsKeyArn, region: s.region })),
                        ),
                },
                child,
            );
            const uploader = new aws.iam.User(`${name}-snapshot-user`, { name: snapshotName }, child);
            new aws.iam.UserPolicyAttachment(
                `${name}-snapshot-user-policy`,
                { user: uploader.name, policyArn: uploadPolicy.arn },
                child,
            );
            const uploadKey = new aws.iam.AccessKey(`${name}-snapshot-access-key`, { user: uploader.name }, child);
            snapshotCredentials = {
                accessKeyId: pulumi.secret(uploadKey.id),
                secretAccessKey: pulumi.secret(uploadKey.secret),
            };
        }

        return {
            provider,
            bucket,
            storageKey,
            sealKey,
            policy,
            binding: {
                bucket: bucket.bucket,
                region: s.region,
                endpoint: undefined,
                forcePathStyle: s.forcePathStyle,
                prefix: s.prefix,
                storageKmsKeyId: storageKey.arn,
                seal: sealKeyArn === undefined ? undefined : { kmsKeyId: sealKeyArn, region: unseal.kmsRegion },
                credentials,
                snapshotCredentials,
                roleArn,
                serviceAccount,
            },
        };
    }

    /**
     * S3-compatible: the bucket (and versioning) on the configured endpoint; no
     * IAM or KMS. With storage.createBucket false, no AWS resource or provider at
     * all: the engine then never loads the AWS plugin for this stack.
     */
    private buildCompatible(
        name: string,
        args: VaultStorageArgs,
        s: S3CompatibleStorage,
    ): Partial<Built> & { binding: StorageBinding } {
        // loadConfig requires both keys in s3-compatible mode.
        const credentials = args.credentials as StaticKeys;
        const made = s.createBucket ? this.createCompatibleBucket(name, s, credentials, args.caBundle) : undefined;

        const unseal = args.unseal;
        const awskms = unseal.mode === "awskms";
        return {
            provider: made?.provider,
            bucket: made?.bucket,
            binding: {
                bucket: made?.bucket.bucket ?? pulumi.output(s.bucket),
                region: s.region,
                endpoint: s.endpoint,
                forcePathStyle: s.forcePathStyle,
                prefix: s.prefix,
                credentials,
                // loadConfig requires the key and its credentials for awskms with s3-compatible storage.
                seal: awskms
                    ? { kmsKeyId: pulumi.output(unseal.kmsKeyId as string), region: unseal.kmsRegion }
                    : undefined,
                sealCredentials: awskms ? args.sealCredentials : undefined,
                // loadConfig admits them only with the snapshot job on.
                snapshotCredentials: args.snapshotCredentials,
            },
        };
    }

    /** The S3-compatible endpoint's provider, the bucket and its versioning (storage.createBucket true). */
    private createCompatibleBucket(
        name: string,
        s: S3CompatibleStorage,
        credentials: StaticKeys,
        caBundle: string | undefined,
    ): { provider: aws.Provider; bucket: aws.s3.Bucket } {
        const provider = new aws.Provider(
            `${name}-s3`,
            {
                region: s.region,
                accessKey: credentials.accessKeyId,
                secretKey: credentials.secretAccessKey,
                endpoints: [{ s3: s.endpoint }],
                s3UsePathStyle: s.forcePathStyle,
                // Not AWS: there is no STS, IAM, EC2 metadata or AWS region list to check against.
                skipCredentialsValidation: true,
                skipRequestingAccountId: true,
                skipMetadataApiCheck: true,
                skipRegionValidation: true,
                // The provider reads a CA only from a file; relative, so the same on every machine (trustCaFilePath).
                customCaBundle:
                    caBundle !== undefined && isHttpsUrl(s.endpoint) ? writeTrustCaFile(caBundle) : undefined,
            },
            { parent: this },
        );
        const child: pulumi.CustomResourceOptions = { parent: this, provider };
        const data = pulumi.mergeOptions(child, { protect: s.protect, retainOnDelete: true });
        const setting = pulumi.mergeOptions(child, { retainOnDelete: true });

        const bucket = new aws.s3.Bucket(`${name}-bucket`, { bucket: s.bucket, forceDestroy: false }, data);
        if (s.versioning) {
            const versioning = new aws.s3.BucketVersioning(
                `${name}-versioning`,
                { bucket: bucket.bucket, versioningConfiguration: { status: "Enabled" } },
                setting,
            );
            // With versions kept (MinIO, Ceph), bound the restore window as on AWS.
            new aws.s3.BucketLifecycleConfiguration(
                `${name}-lifecycle`,
                { bucket: bucket.bucket, rules: lifecycleRules(s) },
                pulumi.mergeOptions(setting, { dependsOn: [versioning] }),
            );
        }

        return { provider, bucket };
    }
}

interface Built {
    readonly provider: aws.Provider;
    readonly bucket: aws.s3.Bucket;
    readonly binding: StorageBinding;
}

interface BuiltAws extends Built {
    readonly storageKey: aws.kms.Key;
    readonly sealKey?: aws.kms.Key;
    readonly policy: aws.iam.Policy;
}

/**
 * The lifecycle (of storage.*): noncurrent versions live `noncurrentVersionExpirationDays`
 * (the point-in-time restore window), then go; delete markers left without
 * versions go too; incomplete multipart uploads are aborted.
 */
export function lifecycleRules(
    s: Pick<PlatformConfig["storage"], "noncurrentVersionExpirationDays" | "abortIncompleteMultipartUploadDays">,
): aws.types.input.s3.BucketLifecycleConfigurationRule[] {
    return [
        {
            id: "restore-window",
            status: "Enabled",
            filter: {},
            noncurrentVersionExpiration: { noncurrentDays: s.noncurrentVersionExpirationDays },
            expiration: { expiredObjectDeleteMarker: true },
        },
        {
            id: "abort-incomplete-multipart-uploads",
            status: "Enabled",
            filter: {},
            abortIncompleteMultipartUpload: { daysAfterInitiation: s.abortIncompleteMultipartUploadDays },
        },
    ];
}
