# operator: manages application secrets on every KV v2 mount this Vault
# serves (each block below is rendered once per mount: the cluster mounts and
# the shared ones). Reads, writes, soft-deletes and restores versions; never destroys
# them permanently (destroy/, metadata delete: admin only) and has no sys/.

path "{{kv.mount}}/data/*" {
  capabilities = ["create", "read", "update", "patch", "delete"]
}

path "{{kv.mount}}/metadata/*" {
  capabilities = ["read", "list"]
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
