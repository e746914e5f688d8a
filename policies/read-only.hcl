# read-only: reads secrets and browses their metadata on every KV v2 mount
# this Vault serves; writes nothing and has no sys/.

path "{{kv.mount}}/data/*" {
  capabilities = ["read"]
}

path "{{kv.mount}}/metadata/*" {
  capabilities = ["read", "list"]
}

path "{{kv.mount}}/subkeys/*" {
  capabilities = ["read"]
}
