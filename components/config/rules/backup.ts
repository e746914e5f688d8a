import { BACKUP_RECIPIENT_PLACEHOLDER } from "../schema";
import { Rule } from "./rule";

/** The KV export: someone to encrypt to, an S3 identity to upload with, and a place outside Vault's own data. */
export const backupRules: Rule = (c, _facts, fail) => {
    const b = c.backup;
    if (!b.enabled) return;
    if (b.recipients.length === 0) {
        fail(
            "backup.recipients",
            `is required while backup.enabled is true: the operator's age public key(s), e.g. [age1...] from \`age-keygen -y <key file>\` (the export is encrypted to them; the private key stays offline). Until you have one, \`${BACKUP_RECIPIENT_PLACEHOLDER}\` keeps the CronJob suspended`,
        );
    }
    if (b.recipients.includes(BACKUP_RECIPIENT_PLACEHOLDER) && b.recipients.length > 1) {
        fail(
            "backup.recipients",
            `holds real keys and the placeholder ${BACKUP_RECIPIENT_PLACEHOLDER}: remove the placeholder`,
        );
    }
    if (c.storage.mode !== "s3-compatible") {
        fail(
            "backup.enabled",
            "is for s3-compatible storage (it uploads with storage's static keys): in aws mode the bucket's object versions (npm run restore) and, with raft, the snapshots are the backups",
        );
    }
    const prefix = c.storage.prefix;
    if (
        c.server.storageBackend === "s3" &&
        b.bucket === c.storage.bucket &&
        prefix !== undefined &&
        b.prefix.startsWith(prefix)
    ) {
        fail(
            "backup.prefix",
            `must not lie under storage.prefix (${prefix}) in the same bucket: with s3 storage that is Vault's own data, which a point-in-time restore rolls back (e.g. kv-exports/, or another bucket with backup.bucket)`,
        );
    }
};
