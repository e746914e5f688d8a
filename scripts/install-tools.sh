#!/usr/bin/env bash
# Installs the real tools the integration tests run: the Vault server binary
# (built from the Go module proxy into a per-user cache, never the repository).
# Idempotent: each tool is reused when present.
set -euo pipefail
cd "$(dirname "$0")/.."

vault_bin=$(bash scripts/build-vault.sh)
echo "vault: $vault_bin"
