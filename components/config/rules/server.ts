import { setSecretCommand } from "../schema";
import { Rule } from "./rule";

/** A Kubernetes quantity (as the schema admits it) in MiB. */
export function quantityMi(q: string): number {
    const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
    if (m === null) return Number.NaN;
    const factor: Record<string, number> = {
        m: 1e-3 / 2 ** 20,
        "": 1 / 2 ** 20,
        Ki: 1 / 1024,
        Mi: 1,
        Gi: 1024,
        Ti: 1024 ** 2,
        k: 1e3 / 2 ** 20,
        M: 1e6 / 2 ** 20,
        G: 1e9 / 2 ** 20,
        T: 1e12 / 2 ** 20,
    };
    return Number(m[1]) * factor[m[2] ?? ""];
}

/** The storage backend's replicas and snapshots, metrics scraping, and internal TLS. */
export const serverRules: Rule = (c, facts, fail) => {
    const server = c.server;
    // The snapshot upload's own keys: s3-compatible storage only (aws mode makes its user), with the job on.
    const snapshotKeys = (["snapshotAccessKeyId", "snapshotSecretAccessKey"] as const).filter((k) => facts.isSet(k));
    if (snapshotKeys.length > 0) {
        const jobOn = server.storageBackend === "raft" && server.snapshots?.enabled === true;
        for (const key of snapshotKeys) {
            if (c.storage.mode !== "s3-compatible")
                fail(
                    key,
                    "is only used with storage.mode s3-compatible (in aws mode the program makes the snapshot upload's own write-only IAM user)",
                );
            else if (!jobOn)
                fail(
                    key,
                    "is only used by the raft snapshot job (server.storageBackend raft, server.snapshots.enabled)",
                );
        }
        if (c.storage.mode === "s3-compatible" && jobOn && snapshotKeys.length === 1) {
            const missing =
                snapshotKeys[0] === "snapshotAccessKeyId" ? "snapshotSecretAccessKey" : "snapshotAccessKeyId";
            fail(
                missing,
                `is required with ${snapshotKeys[0]} (the snapshot upload's key pair): ${setSecretCommand(missing)}`,
            );
        }
    }
    // The rotated audit files and the live one, grown for one more check, must fit the volume.
    const rotation = c.audit.rotation;
    if (c.audit.enabled && c.audit.target === "file" && rotation.enabled) {
        const volumeMi = quantityMi(server.auditStorage.size);
        const needMi = (rotation.keep + 1) * rotation.maxSizeMi;
        if (needMi > volumeMi * 0.8) {
            fail(
                "audit.rotation.maxSizeMi",
                `with audit.rotation.keep ${rotation.keep} needs (keep + 1) × maxSizeMi = ${needMi} MiB, more than 80% of server.auditStorage.size ${server.auditStorage.size} (${Math.floor(volumeMi * 0.8)} MiB): lower maxSizeMi or keep, or grow the volume`,
            );
        }
    }
    // The S3 backend has no HA.
    if (server.storageBackend === "s3" && server.replicas > 1) {
        fail(
            "server.replicas",
            "must be 1 with server.storageBackend s3: Vault's S3 storage backend has no HA (use storageBackend raft for 3 or 5 replicas)",
        );
    }
    if (server.storageBackend === "raft" && ![1, 3, 5].includes(server.replicas)) {
        fail("server.replicas", "must be 1, 3 or 5 with raft storage (an odd quorum)");
    }
    // resolveDefaults leaves snapshots as given with s3 storage: set means set by the user.
    if (server.storageBackend === "s3" && server.snapshots !== undefined) {
        fail(
            "server.snapshots",
            "is only for server.storageBackend raft (with s3 storage the bucket's object versions are the backup)",
        );
    }
    if (
        server.storageBackend === "raft" &&
        server.snapshots?.enabled === true &&
        c.storage.mode === "aws" &&
        c.storage.identity === "role"
    ) {
        // The IRSA role trusts Vault's own ServiceAccount only; the snapshot job has static keys or nothing.
        fail(
            "server.snapshots.enabled",
            "must be false with storage.identity role (the snapshot upload needs the IAM user's keys; use storage.identity user, or take snapshots another way)",
        );
    }
    if (server.metricsScrape !== undefined && c.networkPolicy.monitoringNamespace === undefined) {
        fail(
            "server.metricsScrape",
            "needs networkPolicy.monitoringNamespace (the namespace of the scraper that may reach the metrics listener)",
        );
    }
    if (server.tls.mode === "internal" && server.tls.secretName === undefined) {
        fail(
            "server.tls.secretName",
            "is required when server.tls.mode is internal (a Secret with tls.crt and tls.key)",
        );
    }
};
