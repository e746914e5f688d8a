# external-secrets-reader: what the External Secrets Operator of cluster
# {{cluster}} may read, rendered once per cluster this Vault serves (Vault
# name: external-secrets-reader-{{cluster}}). Read-only: its own cluster's
# mount, plus the paths explicitly shared with it. Nothing else.

path "{{cluster_mount}}/data/*" {
  capabilities = ["read"]
}

# Listing and metadata, for ExternalSecrets that find secrets by path or tag.
path "{{cluster_mount}}/metadata/*" {
  capabilities = ["read", "list"]
}

# One pair per shared mount and readable path (kv.shared[].readablePaths).
path "{{shared.mount}}/data/{{shared.path}}/*" {
  capabilities = ["read"]
}

path "{{shared.mount}}/metadata/{{shared.path}}/*" {
  capabilities = ["read", "list"]
}
