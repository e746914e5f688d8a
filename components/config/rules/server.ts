import { Rule } from "./rule";

/** The storage backend's replicas and snapshots, metrics scraping, and internal TLS. */
export const serverRules: Rule = (c, _facts, fail) => {
    const server = c.server;
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
