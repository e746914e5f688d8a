# The KV export CronJob (backup.enabled): read every kept version and the
# metadata of each KV v2 mount this stack manages, and list their secrets;
# nothing else (no write, no delete, no undelete, no mount config, no sys/).
# A machine policy, bound to the Kubernetes auth role kv-backup; not mappable
# to SSO groups.
path "{{kv.mount}}/metadata/*" {
  capabilities = ["read", "list"]
}

path "{{kv.mount}}/data/*" {
  capabilities = ["read"]
}
