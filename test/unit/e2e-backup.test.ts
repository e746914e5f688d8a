/**
 * The e2e's KV export drill (e2e/backup-drill.ts) without the rig: the Job it
 * makes from the CronJob is what kubectl makes, and the rig's stack config
 * (e2e/scenario.ts podStackConfig) turns the backup on through the product's
 * own loader: the rig's recipient, bucket, prefix and images, unsuspended,
 * with the kv-backup NetworkPolicy's egress to the rig's S3 from the same key
 * as Vault's.
 */
import { strict as assert } from "node:assert";
import { BACKUP_RECIPIENT_PLACEHOLDER } from "../../components/config/schema";
import { buildNetworkPolicies } from "../../components/lib/network-policy";
import { BACKUP_PREFIX, RigBackup } from "../../e2e/backup-drill";
import { jobFromCronJob } from "../../e2e/cron-job";
import { podStackConfig } from "../../e2e/scenario";
import { AMIYA_STACK_FILE, fakePodRig, loadRigStack } from "../support/rig-stack";

const backup: RigBackup = {
    identityFile: "/rig/backup-keys/operator.key",
    recipient: "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq",
    exportImage: "localhost/secret-platform/node-stand-in:20.20.2",
    uploadImage: "localhost/secret-platform/aws-cli:2.9.19-1",
};

const rig = fakePodRig({ backup });

describe("e2e KV export drill", () => {
    it("makes the Job `kubectl create job --from=cronjob/...` makes", () => {
        const cronJob = {
            metadata: { name: "vault-kv-backup", namespace: "vault", uid: "u-1", labels: { a: "b" } },
            spec: {
                schedule: "30 */6 * * *",
                jobTemplate: {
                    metadata: { labels: { t: "l" }, annotations: { note: "n" } },
                    spec: { backoffLimit: 2, template: { spec: { restartPolicy: "Never" } } },
                },
            },
        };
        assert.deepEqual(jobFromCronJob(cronJob, "vault-kv-backup-manual-abc"), {
            apiVersion: "batch/v1",
            kind: "Job",
            metadata: {
                name: "vault-kv-backup-manual-abc",
                namespace: "vault",
                annotations: { "cronjob.kubernetes.io/instantiate": "manual", note: "n" },
                labels: { t: "l" },
                ownerReferences: [{ apiVersion: "batch/v1", kind: "CronJob", name: "vault-kv-backup", uid: "u-1" }],
            },
            spec: { backoffLimit: 2, template: { spec: { restartPolicy: "Never" } } },
        });
        // A template without labels: none on the Job either (kubectl copies nil).
        const bare = { ...cronJob, spec: { jobTemplate: { spec: {} } } };
        assert.equal("labels" in jobFromCronJob(bare, "j").metadata, false);
    });

    it("the rig's stack turns the backup on through the product's keys, with egress to the rig's S3", () => {
        const values = podStackConfig(AMIYA_STACK_FILE, rig, "https://127.0.0.1:8200");
        const c = loadRigStack(values);
        assert.equal(c.backup.enabled, true);
        // In place of the stack file's placeholder, which would leave the CronJob suspended.
        assert.deepEqual(c.backup.recipients, [backup.recipient]);
        assert.equal(JSON.stringify(values).includes(BACKUP_RECIPIENT_PLACEHOLDER), false);
        assert.equal(c.backup.bucket, "vault-e2e");
        assert.equal(c.backup.prefix, BACKUP_PREFIX);
        assert.equal(c.backup.image, backup.exportImage);
        assert.equal(c.backup.uploadImage, backup.uploadImage);
        // The identity file (the private key) is nowhere in the stack's config.
        assert.equal(JSON.stringify(values).includes(backup.identityFile), false);
        const policy = buildNetworkPolicies(c).find((p) => p.id === "kv-backup");
        assert.ok(policy !== undefined, "a kv-backup NetworkPolicy");
        const s3Rule = (policy.spec.egress ?? []).find((r) =>
            (r.to ?? []).some((t) => t.ipBlock?.cidr === "10.222.0.1/32"),
        );
        assert.deepEqual(s3Rule?.ports, [{ protocol: "TCP", port: 39001 }]);
    });
});
