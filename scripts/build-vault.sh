#!/usr/bin/env bash
# Builds a real HashiCorp Vault server binary from the Go module proxy for the
# integration tests, and prints its path. The binary lives in a per-user cache
# keyed by version (never in the repository) and is reused when present.
#
# Vault's own go.mod replaces its api/sdk submodules with local paths, so
# `go install github.com/hashicorp/vault@vX` is refused; a throw-away module
# that requires the wanted version and builds its main package avoids that.
set -euo pipefail

version="${VAULT_VERSION:-v1.21.4}"
cache="${SECRET_PLATFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secret-platform}"
dir="$cache/vault-$version"
bin="$dir/bin/vault"

if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "build-vault: Go is required (https://go.dev/dl)" >&2; exit 1; }
mkdir -p "$dir/src" "$dir/bin"
cd "$dir/src"
if [ ! -f go.mod ]; then
  go mod init secret-platform.local/vault-build >&2
fi
# The server's main package is the module root.
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/hashicorp/vault"
GO
echo "build-vault: resolving github.com/hashicorp/vault@$version (first run downloads its modules)" >&2
go get "github.com/hashicorp/vault@$version" >&2
go mod tidy -e >&2 || true
echo "build-vault: compiling (several minutes on two cores)" >&2
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin.tmp" github.com/hashicorp/vault >&2
mv "$bin.tmp" "$bin"
"$bin" version >&2
echo "$bin"
