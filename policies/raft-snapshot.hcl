# The raft snapshot CronJob (server.storageBackend raft only): save a snapshot
# of the integrated storage, nothing else. A machine policy, bound to the
# Kubernetes auth role raft-snapshot; not mappable to SSO groups.
path "sys/storage/raft/snapshot" {
  capabilities = ["read"]
}
