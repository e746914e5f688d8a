# admin: runs the platform day to day (mounts, auth methods, policies,
# identity, every secret). It is broad on purpose, but the endpoints that
# touch the seal, the root of trust or the audit trail are denied
# explicitly: those are break-glass operations done with the unseal/recovery
# key holders and a generated root token, or by the Pulumi program.
# An explicit deny wins over every grant, in this policy and in any other
# policy the same token holds.

path "*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list", "sudo"]
}

# Root token generation (and the recovery-key variant): no admin becomes root.
# Vault serves these and sys/rekey without a token (the key shares are the
# gate); the denies state the intent and cover any authenticated use.
path "sys/generate-root*" {
  capabilities = ["deny"]
}

path "sys/generate-recovery-token*" {
  capabilities = ["deny"]
}

# Rekeying the unseal/recovery keys and rotating the barrier key.
path "sys/rekey*" {
  capabilities = ["deny"]
}

path "sys/rekey-recovery-key*" {
  capabilities = ["deny"]
}

path "sys/rotate*" {
  capabilities = ["deny"]
}

# Raw storage access bypasses every policy and the barrier's bookkeeping.
path "sys/raw*" {
  capabilities = ["deny"]
}

# Sealing or stepping down is an availability incident; keep it for root.
path "sys/seal" {
  capabilities = ["deny"]
}

path "sys/step-down" {
  capabilities = ["deny"]
}

# The audit trail: an admin may list devices but not disable or re-point them.
path "sys/audit/*" {
  capabilities = ["deny"]
}

# No editing this policy to lift the denies above.
path "sys/policies/acl/admin" {
  capabilities = ["read"]
}

path "sys/policy/admin" {
  capabilities = ["read"]
}
