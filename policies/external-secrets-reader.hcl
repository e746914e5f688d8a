# external-secrets-reader: what the External Secrets Operator of cluster
# {{cluster}} may read, rendered once per cluster this Vault serves (Vault
# name: external-secrets-reader-{{cluster}}). Read-only: its own cluster's
# mount but its tenant groups' namespaces, plus the paths explicitly shared
# with it. Nothing else.

path "{{cluster_mount}}/data/*" {
  capabilities = ["read"]
}

# Listing and metadata, for ExternalSecrets that find secrets by path or tag.
path "{{cluster_mount}}/metadata/*" {
  capabilities = ["read", "list"]
}

# A tenant group's namespaces (externalSecrets.tenants) keep their secrets to
# their group's own store: the cluster-wide stores read neither their values
# nor their metadata. (A LIST of <namespace>/ still shows the key names: Vault
# checks it against the globs for <namespace> first, which metadata/* grants.)
path "{{cluster_mount}}/data/{{tenant.namespace}}/*" {
  capabilities = ["deny"]
}

path "{{cluster_mount}}/metadata/{{tenant.namespace}}/*" {
  capabilities = ["deny"]
}

# One pair per shared mount and readable path (kv.shared[].readablePaths).
path "{{shared.mount}}/data/{{shared.path}}/*" {
  capabilities = ["read"]
}

path "{{shared.mount}}/metadata/{{shared.path}}/*" {
  capabilities = ["read", "list"]
}
