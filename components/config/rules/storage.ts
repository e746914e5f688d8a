import { Rule } from "./rule";

/** Storage mode and its options: each option belongs to one mode. */
export const storageRules: Rule = (c, facts, fail) => {
    if (c.storage.mode === "aws") {
        if (c.storage.endpoint !== undefined)
            fail("storage.endpoint", "is only for s3-compatible mode (aws mode uses the regional AWS endpoint)");
        if (c.storage.forcePathStyle) fail("storage.forcePathStyle", "is only for s3-compatible mode");
        if (!c.storage.versioning)
            fail(
                "storage.versioning",
                "must stay true in aws mode: object versions are the point-in-time restore window",
            );
        if (c.storage.identity === "role" && c.storage.irsa === undefined) {
            fail("storage.irsa", "is required when storage.identity is role (the cluster's OIDC provider ARN and URL)");
        }
        if (c.storage.identity !== "role" && c.storage.irsa !== undefined)
            fail("storage.irsa", "is only used when storage.identity is role");
        for (const key of ["storageAccessKeyId", "storageSecretAccessKey"] as const) {
            if (facts.isSet(key))
                fail(key, "is only for s3-compatible mode (aws mode creates Vault's own IAM credentials)");
        }
        if (!c.storage.createBucket)
            fail(
                "storage.createBucket",
                "must be true in aws mode: the program creates the bucket with its KMS key and Vault's IAM identity scoped to it (use s3-compatible mode for a bucket made elsewhere)",
            );
    } else {
        if (c.storage.endpoint === undefined)
            fail("storage.endpoint", "is required in s3-compatible mode (e.g. https://s3.garage.example)");
        for (const key of ["identity", "irsa"] as const) {
            if (c.storage[key] !== undefined)
                fail(`storage.${key}`, "is an AWS-only option; remove it in s3-compatible mode");
        }
        // Settings of a bucket this stack creates: on an existing bucket they would silently do nothing.
        if (!c.storage.createBucket && facts.given("storage.versioning") && c.storage.versioning) {
            fail(
                "storage.versioning",
                "true is applied only to a bucket this stack creates (storage.createBucket true): turn versioning on for the existing bucket itself, and set false or remove this key",
            );
        }
        for (const key of ["noncurrentVersionExpirationDays", "abortIncompleteMultipartUploadDays"] as const) {
            if (facts.given(`storage.${key}`) && !(c.storage.createBucket && c.storage.versioning)) {
                fail(
                    `storage.${key}`,
                    "is applied only to a versioned bucket this stack creates (storage.createBucket and storage.versioning true): set the lifecycle rule on the bucket itself, and remove this key",
                );
            }
        }
    }
};
