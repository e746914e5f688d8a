# pulumi: the Vault provider's token once the root token is revoked
# (docs/bootstrap.md). Machine-only, like raft-snapshot: never mapped to an SSO
# group. It manages exactly what VaultConfiguration declares (audit devices,
# mounts and their settings, ACL policies, auth methods and roles, identity
# groups) and reads no secret. The admin policy cannot do this job: it may not
# touch audit devices or its own policy, by design.

# Audit devices (created first, changed rarely).
path "sys/audit" {
  capabilities = ["read", "sudo"]
}

path "sys/audit/*" {
  capabilities = ["create", "read", "update", "delete", "sudo"]
}

# Secrets engines and their tuning.
path "sys/mounts" {
  capabilities = ["read"]
}

path "sys/mounts/*" {
  capabilities = ["create", "read", "update", "delete"]
}

# KV v2 engine settings (max versions, check-and-set, delete-version-after).
path "+/config" {
  capabilities = ["create", "read", "update"]
}

# ACL policies, every one of them (including admin's and this one).
path "sys/policies/acl/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

path "sys/policies/acl" {
  capabilities = ["list"]
}

# Auth methods, their tuning, config and roles; token create for the
# provider's short-lived child token.
path "sys/auth" {
  capabilities = ["read"]
}

path "sys/auth/*" {
  capabilities = ["create", "read", "update", "delete", "sudo"]
}

path "auth/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

# Its own successor: `pulumi up` re-mints the provider token past
# vault.providerTokenMaxAgeDays, an orphan periodic token, which Vault allows
# only with sudo. No power is added: this policy may already rewrite any ACL
# policy, its own included.
path "auth/token/create-orphan" {
  capabilities = ["update", "sudo"]
}

# Identity groups and aliases for SSO groups.
path "identity/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
