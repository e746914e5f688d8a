# operator: manages application secrets on every KV v2 mount this Vault
# serves (each block below is rendered once per mount: the cluster mounts and
# the shared ones). Reads, writes, soft-deletes and restores versions, labels
# secrets with custom metadata; never destroys them permanently (destroy/,
# metadata delete, version limits: admin only) and has no sys/.

path "{{kv.mount}}/data/*" {
  capabilities = ["create", "read", "update", "patch", "delete"]
}

# patch: only custom_metadata (the migration records where a secret came from,
# docs/migration.md). max_versions, delete_version_after and cas_required stay
# admin's: a low max_versions or a short delete_version_after would destroy
# versions.
path "{{kv.mount}}/metadata/*" {
  capabilities = ["read", "list", "patch"]
  allowed_parameters = {
    "custom_metadata" = []
  }
}

path "{{kv.mount}}/subkeys/*" {
  capabilities = ["read"]
}

path "{{kv.mount}}/delete/*" {
  capabilities = ["update"]
}

path "{{kv.mount}}/undelete/*" {
  capabilities = ["update"]
}
