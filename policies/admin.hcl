# admin: runs the platform day to day through SSO: every secret on every
# mount, secrets engines, leases, tokens within its own power. It is contained:
# nothing it may do grants a policy it does not hold.
# - No `sudo` on "*": with sudo, auth/token/create skips the check that a child
#   token's policies are a subset of the creator's, and allows orphans.
# - Policies, auth methods and roles, and identity (groups, aliases, entities)
#   are code: the Pulumi program writes them from policies/*.hcl and the stack
#   config. Admin reads them and writes none, so it can neither rewrite a
#   policy it may hand out nor map itself to one it does not hold.
# - The seal, the root of trust and the audit trail are break-glass: the
#   key-share holders with a generated root token, or the Pulumi program.
# - The dataset as a whole is too: no raft snapshot restore or download, no
#   peer removal (a restored snapshot rolls back or replaces every secret,
#   unsealed with whatever keys it came with), and the KV mounts the stack
#   manages can be neither deleted, re-pointed nor tuned (on Garage a deleted
#   mount is gone for good).
# - Nothing may take secrets out of the audit log's HMAC
#   (audit_non_hmac_request_keys/_response_keys on a mount or auth tune).
# An explicit deny wins over every grant, in this policy and in any other
# policy the same token holds.

path "*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
}

# Mounts admin makes itself: created and tuned, but with no `config` at
# creation (a nested config can hold the audit keys, which a parameter rule
# cannot reach) and never the audit HMAC exemptions on a tune.
path "sys/mounts/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
  denied_parameters = {
    "config"                       = []
    "audit_non_hmac_request_keys"  = []
    "audit_non_hmac_response_keys" = []
  }
}

# The KV mounts this stack manages are code (the Pulumi program): read only.
# The glob covers tune and the mount's path with a trailing slash: Vault
# serves DELETE sys/mounts/<mount>/ as the unmount, and the exact path alone
# would leave that to "sys/mounts/*".
path "sys/mounts/{{kv.mount}}" {
  capabilities = ["read"]
}

path "sys/mounts/{{kv.mount}}/*" {
  capabilities = ["read"]
}

# Moving a mount re-points every store and policy.
path "sys/remount*" {
  capabilities = ["deny"]
}

# Auth methods' mounts, including sys/mounts/auth/<path>/tune, the tune route
# that needs no sudo: read only.
path "sys/mounts/auth/*" {
  capabilities = ["read"]
}

path "sys/auth/*" {
  capabilities = ["read", "list"]
}

# Raft: membership and the dataset are break-glass. Reading the configuration
# and autopilot state stays.
path "sys/storage/raft/*" {
  capabilities = ["read", "list"]
}

path "sys/storage/raft/snapshot" {
  capabilities = ["deny"]
}

path "sys/storage/raft/snapshot-force" {
  capabilities = ["deny"]
}

path "sys/storage/raft/remove-peer" {
  capabilities = ["deny"]
}

# Tokens: child tokens only (Vault refuses policies admin does not hold
# without sudo), lookups and revocation. No orphans, no token roles (a role's
# allowed_policies replace the subset check).
path "auth/token/create" {
  capabilities = ["create", "update"]
}

path "auth/token/lookup" {
  capabilities = ["update"]
}

path "auth/token/lookup-accessor" {
  capabilities = ["update"]
}

path "auth/token/revoke" {
  capabilities = ["update"]
}

path "auth/token/revoke-accessor" {
  capabilities = ["update"]
}

path "auth/token/create-orphan" {
  capabilities = ["deny"]
}

path "auth/token/create/*" {
  capabilities = ["deny"]
}

# Auth methods' config and roles (OIDC, Kubernetes, token roles): read only.
path "auth/*" {
  capabilities = ["read", "list"]
}

# Identity: read only; lookups are POSTs.
path "identity/*" {
  capabilities = ["read", "list"]
}

path "identity/lookup/*" {
  capabilities = ["update"]
}

# ACL and password policies: read only (this policy included).
path "sys/policies/*" {
  capabilities = ["read", "list"]
}

path "sys/policy" {
  capabilities = ["read"]
}

path "sys/policy/*" {
  capabilities = ["read"]
}

# Incident response: revoking leases by prefix needs sudo.
path "sys/leases/revoke-prefix/*" {
  capabilities = ["update", "sudo"]
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

# The audit trail: an admin may list devices (that needs sudo) but not
# disable, add or re-point them.
path "sys/audit" {
  capabilities = ["read", "sudo"]
}

path "sys/audit/*" {
  capabilities = ["deny"]
}
