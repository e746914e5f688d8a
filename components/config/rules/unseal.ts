import { isKmsKeyArn } from "../../lib/storage-policies";
import { Rule } from "./rule";

/** The seal's key, region and credentials, and the share/threshold pair of the mode. */
export const unsealRules: Rule = (c, secrets, fail) => {
    const aws = c.storage.mode === "aws";
    const u = c.unseal;
    if (u.mode === "awskms" && !aws && u.kmsKeyId === undefined) {
        fail(
            "unseal.kmsKeyId",
            "is required for the awskms unseal mode with s3-compatible storage (in that mode the program creates no AWS resources)",
        );
    }
    if (u.mode === "awskms" && aws && u.kmsKeyId !== undefined && !isKmsKeyArn(u.kmsKeyId)) {
        // Vault's IAM policy names the seal key: an alias or bare id cannot be scoped.
        fail(
            "unseal.kmsKeyId",
            "must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>) in aws mode, so that Vault's IAM policy can name the key",
        );
    }
    // resolveDefaults gives the awskms seal on s3-compatible storage a region only from the key ARN:
    // storage.region names the S3-compatible server's region (e.g. garage), not an AWS one.
    if (u.mode === "awskms" && !aws && u.kmsKeyId !== undefined && u.kmsRegion === undefined) {
        fail(
            "unseal.kmsRegion",
            "is required for the awskms seal with s3-compatible storage when unseal.kmsKeyId is not a key ARN (storage.region is the S3 server's region, not AWS's)",
        );
    }
    if (u.kmsSourceCidrs !== undefined && (u.mode !== "awskms" || !aws)) {
        fail(
            "unseal.kmsSourceCidrs",
            "is only used with unseal.mode awskms and storage.mode aws (where this program writes Vault's IAM policy); with s3-compatible storage, put an aws:SourceIp condition on the seal keys' own IAM policy",
        );
    }
    if (u.mode === "shamir" && u.kmsKeyId !== undefined)
        fail("unseal.kmsKeyId", "is only used with unseal.mode awskms");
    if (u.mode !== "awskms" || aws) {
        for (const key of ["sealAccessKeyId", "sealSecretAccessKey"] as const) {
            if (secrets.isSet(key)) fail(key, "is only used for the awskms seal with s3-compatible storage");
        }
    }
    const pair =
        u.mode === "shamir"
            ? (["secretShares", "secretThreshold"] as const)
            : (["recoveryShares", "recoveryThreshold"] as const);
    const shares = u[pair[0]];
    const threshold = u[pair[1]];
    if (threshold > shares) fail(`unseal.${pair[1]}`, `must not exceed unseal.${pair[0]} (${shares})`);
    if (shares > 1 && threshold < 2)
        fail(`unseal.${pair[1]}`, `must be at least 2 when unseal.${pair[0]} is above 1 (Vault's rule)`);
};
