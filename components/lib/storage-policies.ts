/**
 * Pure builders for the IAM documents of Vault's storage: the identity policy
 * (what Vault's S3 backend and awskms seal may do), the bucket policy (TLS
 * only) and the IRSA trust policy. No Pulumi here: plain values in, plain
 * JSON-able documents out, so the documents are tested exactly.
 */

/** An IAM condition block: operator -> condition key -> value(s). */
export type PolicyCondition = Record<string, Record<string, string | string[]>>;

export interface PolicyStatement {
    readonly Sid: string;
    readonly Effect: "Allow" | "Deny";
    readonly Principal?: "*" | { readonly Federated: string };
    readonly Action: string[];
    readonly Resource?: string[];
    readonly Condition?: PolicyCondition;
}

export interface PolicyDocument {
    readonly Version: "2012-10-17";
    readonly Statement: PolicyStatement[];
}

/** The actions Vault's S3 storage backend uses on objects (physical/s3: Get, Put, Delete). */
export const VAULT_OBJECT_ACTIONS = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"];

/**
 * KMS actions for SSE-KMS (S3 asks KMS for data keys on the caller's behalf)
 * and the awskms seal (Encrypt/Decrypt/DescribeKey). `GenerateDataKey*` is the
 * one wildcard: it covers GenerateDataKey and GenerateDataKeyWithoutPlaintext.
 */
export const VAULT_KMS_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"];

const bucketArnPattern = /^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const kmsKeyArnPattern = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

/** Whether a value is a KMS key ARN (not a bare key id or an alias). */
export function isKmsKeyArn(value: string): boolean {
    return kmsKeyArnPattern.test(value);
}

export interface VaultIdentityPolicyArgs {
    /** ARN of Vault's bucket. */
    readonly bucketArn: string;
    /** Key prefix of Vault's data inside the bucket (ends in '/'); unset: the whole bucket. */
    readonly prefix?: string;
    /** ARNs of the KMS keys Vault uses: the bucket's SSE-KMS key and the seal key. */
    readonly kmsKeyArns: readonly string[];
    /** The awskms seal's key (one of kmsKeyArns), when sealSourceCidrs restricts it. */
    readonly sealKeyArn?: string;
    /** Where the seal key may be used from (unseal.kmsSourceCidrs); unset: anywhere. */
    readonly sealSourceCidrs?: readonly string[];
}

/**
 * The identity policy of Vault's IAM user or role: exactly what the S3 backend
 * and the awskms seal need, on this bucket and these keys only.
 *
 * `s3:ListBucket` carries no `s3:prefix` condition on purpose: Vault's S3
 * backend checks the bucket at start-up with a ListObjects call that has no
 * prefix (NewS3Backend in physical/s3/s3.go), which such a condition would
 * deny, and Vault would not start. Listing shows key names only; reading and
 * writing objects stays limited to the prefix.
 */
export function vaultIdentityPolicy(args: VaultIdentityPolicyArgs): PolicyDocument {
    if (!bucketArnPattern.test(args.bucketArn)) {
        throw new Error(`vaultIdentityPolicy: bucketArn must be an S3 bucket ARN, got '${args.bucketArn}'`);
    }
    if (args.kmsKeyArns.length === 0) throw new Error("vaultIdentityPolicy: kmsKeyArns must list at least one key");
    for (const arn of args.kmsKeyArns) {
        if (!isKmsKeyArn(arn)) throw new Error(`vaultIdentityPolicy: '${arn}' is not a KMS key ARN`);
    }
    if (args.prefix !== undefined && (!args.prefix.endsWith("/") || args.prefix.includes("*"))) {
        throw new Error(`vaultIdentityPolicy: prefix must end in '/' and hold no '*', got '${args.prefix}'`);
    }
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "VaultListBucket",
                Effect: "Allow",
                Action: ["s3:ListBucket"],
                Resource: [args.bucketArn],
            },
            {
                Sid: "VaultObjects",
                Effect: "Allow",
                Action: [...VAULT_OBJECT_ACTIONS],
                Resource: [`${args.bucketArn}/${args.prefix ?? ""}*`],
            },
            ...kmsStatements(args),
        ],
    };
}

/**
 * The KMS grants: one statement for every key, or, with sealSourceCidrs, the
 * seal key in its own statement usable only from those addresses (the
 * bucket's key is used by S3 on Vault's behalf, where aws:SourceIp is not the
 * pod's, so it stays unconditioned; without the seal key its data stays
 * sealed).
 */
function kmsStatements(args: VaultIdentityPolicyArgs): PolicyStatement[] {
    const keys = [...new Set(args.kmsKeyArns)];
    const cidrs = args.sealSourceCidrs;
    if (cidrs === undefined) {
        return [{ Sid: "VaultKmsKeys", Effect: "Allow", Action: [...VAULT_KMS_ACTIONS], Resource: keys }];
    }
    const seal = args.sealKeyArn;
    if (seal === undefined || !keys.includes(seal)) {
        throw new Error("vaultIdentityPolicy: sealSourceCidrs needs sealKeyArn, one of kmsKeyArns");
    }
    if (cidrs.length === 0) throw new Error("vaultIdentityPolicy: sealSourceCidrs must list at least one CIDR");
    const others = keys.filter((k) => k !== seal);
    return [
        ...(others.length === 0
            ? []
            : [{ Sid: "VaultKmsKeys", Effect: "Allow" as const, Action: [...VAULT_KMS_ACTIONS], Resource: others }]),
        {
            Sid: "VaultSealKeyFromCluster",
            Effect: "Allow",
            Action: [...VAULT_KMS_ACTIONS],
            Resource: [seal],
            Condition: { IpAddress: { "aws:SourceIp": [...cidrs] } },
        },
    ];
}

export interface SnapshotUploadPolicyArgs {
    /** ARN of Vault's bucket. */
    readonly bucketArn: string;
    /** Key prefix the snapshots land under (storage.prefix + server.snapshots.prefix; ends in '/'). */
    readonly keyPrefix: string;
    /** ARN of the bucket's SSE-KMS key. */
    readonly kmsKeyArn: string;
    /** The bucket's region (S3 asks KMS for the data key from there). */
    readonly region: string;
}

/**
 * The raft snapshot uploader's identity policy: write objects under the
 * snapshot prefix, nothing else. No read, list or delete: it cannot fetch a
 * snapshot back, and with versioning on, an overwrite keeps the older
 * version. SSE-KMS needs a data key for each PutObject: GenerateDataKey on
 * the bucket's key, only through S3 and only for this bucket (with S3 Bucket
 * Keys the encryption context is the bucket ARN). No kms:Decrypt, which only
 * multipart uploads need: the upload's AWS CLI config keeps every snapshot a
 * single PutObject (multipart_threshold, awsCliConfig).
 */
export function snapshotUploadPolicy(args: SnapshotUploadPolicyArgs): PolicyDocument {
    if (!bucketArnPattern.test(args.bucketArn)) {
        throw new Error(`snapshotUploadPolicy: bucketArn must be an S3 bucket ARN, got '${args.bucketArn}'`);
    }
    if (!isKmsKeyArn(args.kmsKeyArn)) throw new Error(`snapshotUploadPolicy: '${args.kmsKeyArn}' is not a KMS key ARN`);
    if (!args.keyPrefix.endsWith("/") || args.keyPrefix.startsWith("/") || args.keyPrefix.includes("*")) {
        throw new Error(
            `snapshotUploadPolicy: keyPrefix must be a relative prefix ending in '/' with no '*', got '${args.keyPrefix}'`,
        );
    }
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "SnapshotPutOnly",
                Effect: "Allow",
                Action: ["s3:PutObject"],
                Resource: [`${args.bucketArn}/${args.keyPrefix}*`],
            },
            {
                Sid: "SnapshotSseKmsDataKey",
                Effect: "Allow",
                Action: ["kms:GenerateDataKey"],
                Resource: [args.kmsKeyArn],
                Condition: {
                    StringEquals: {
                        "kms:ViaService": `s3.${args.region}.amazonaws.com`,
                        "kms:EncryptionContext:aws:s3:arn": args.bucketArn,
                    },
                },
            },
        ],
    };
}

/**
 * The bucket policy: deny every request that does not use TLS, or uses a TLS
 * version older than 1.2, whoever makes it. Deny statements only, so the
 * policy is not "public" and passes BlockPublicPolicy.
 */
export function tlsOnlyBucketPolicy(bucketArn: string): PolicyDocument {
    if (!bucketArnPattern.test(bucketArn)) {
        throw new Error(`tlsOnlyBucketPolicy: bucketArn must be an S3 bucket ARN, got '${bucketArn}'`);
    }
    const resources = [bucketArn, `${bucketArn}/*`];
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "DenyInsecureTransport",
                Effect: "Deny",
                Principal: "*",
                Action: ["s3:*"],
                Resource: resources,
                Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
            {
                Sid: "DenyOutdatedTls",
                Effect: "Deny",
                Principal: "*",
                Action: ["s3:*"],
                Resource: resources,
                Condition: { NumericLessThan: { "s3:TlsVersion": "1.2" } },
            },
        ],
    };
}

export interface IrsaTrustPolicyArgs {
    /** ARN of the cluster's IAM OIDC provider. */
    readonly oidcProviderArn: string;
    /** The provider's issuer host and path, without https:// (e.g. oidc.eks.eu-west-1.amazonaws.com/id/ABC). */
    readonly oidcProviderUrl: string;
    /** Namespace of Vault's ServiceAccount. */
    readonly namespace: string;
    /** Name of Vault's ServiceAccount. */
    readonly serviceAccount: string;
}

/**
 * Trust policy of Vault's IRSA role: only Vault's ServiceAccount, through the
 * cluster's OIDC provider, with the STS audience, may assume it.
 */
export function irsaTrustPolicy(args: IrsaTrustPolicyArgs): PolicyDocument {
    if (args.oidcProviderUrl.startsWith("https://")) {
        throw new Error("irsaTrustPolicy: oidcProviderUrl must not start with https:// (IAM condition keys omit it)");
    }
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "VaultServiceAccount",
                Effect: "Allow",
                Principal: { Federated: args.oidcProviderArn },
                Action: ["sts:AssumeRoleWithWebIdentity"],
                Condition: {
                    StringEquals: {
                        [`${args.oidcProviderUrl}:sub`]: `system:serviceaccount:${args.namespace}:${args.serviceAccount}`,
                        [`${args.oidcProviderUrl}:aud`]: "sts.amazonaws.com",
                    },
                },
            },
        ],
    };
}

/** IAM user/role/policy name for Vault's identity on a bucket (IAM names hold at most 64 characters). */
export function vaultIamName(bucket: string): string {
    return `vault-${bucket}`.slice(0, 64);
}

/** IAM user/policy name of the raft snapshot uploader on a bucket (at most 64 characters, the suffix kept). */
export function snapshotIamName(bucket: string): string {
    return `${vaultIamName(bucket).slice(0, 54)}-snapshots`;
}

/** A KMS alias for one of the bucket's keys ('.' is not allowed in alias names). */
export function kmsAliasName(bucket: string, purpose: "storage" | "seal"): string {
    return `alias/vault-${bucket.replace(/\./g, "-")}-${purpose}`;
}
