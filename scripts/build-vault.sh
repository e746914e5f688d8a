#!/usr/bin/env bash
# Builds a real HashiCorp Vault server binary from the Go module proxy for the
# integration tests, and prints its path (and nothing else) on stdout. The
# binary lives in a per-user cache keyed by version (never in the repository)
# and is reused when present. Progress goes to stderr.
#
# Why a throw-away module: Vault's own go.mod replaces its api/sdk submodules
# with local paths (./api, ./sdk), so `go install github.com/hashicorp/vault@vX`
# is refused. A module that requires the wanted version and builds its main
# package avoids that, but then Vault's replaces are ignored and the published
# api/sdk versions named in its require block are used instead.
#
# The sdk: Vault 1.21.4 requires sdk v0.21.0, which was tagged from main,
# while the 1.21.x release is built against the release branch's own ./sdk,
# which is not published (the proxy serves no pseudo-version of it, and
# v1.21.4's module zip leaves nested modules out). Compiling against the
# published tags shows where they differ from the release branch:
#   - sdk v0.20.0 (the tag before) lacks the observation helpers 1.21.4
#     backported, and RestorePolicy's new result: dozens of errors.
#   - sdk v0.25.1 (the tag after) adds SystemView methods 1.21.4 does not
#     implement.
#   - sdk v0.21.0 differs in exactly two APIs: main changed
#     framework.Backend.ActivationFunc to take a third (string) argument the
#     release branch does not pass, and the release branch has the backported
#     keysutil.LockManager.RestorePolicy that also returns the restored key name
#     (published in v0.25.1).
# So we build against a copy of sdk v0.21.0 with those two APIs as the release
# branch has them: ActivationFunc's two-argument signature, and
# helper/keysutil/lock_manager.go from v0.25.1 (its only change there is
# RestorePolicy). Vault itself is compiled unmodified. Vault's other (fork)
# replaces are also ignored in a dependency, so they are repeated here.
set -euo pipefail

version="${VAULT_VERSION:-v1.21.4}"
cache="${SECRET_PLATFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secret-platform}"
dir="$cache/vault-$version"
bin="$dir/bin/vault"

if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
    echo "$bin"
    exit 0
fi

case "$version" in
    v1.21.*)
        sdk_version=v0.21.0
        sdk_backport_version=v0.25.1
        ;;
    *)
        echo "build-vault: no known sdk pin for Vault $version (only v1.21.x is tested)" >&2
        exit 1
        ;;
esac

command -v go >/dev/null || {
    echo "build-vault: Go is required (https://go.dev/dl)" >&2
    exit 1
}
mkdir -p "$dir/bin"
# Start from a clean module every time: a half-resolved go.mod from an earlier
# failed run would otherwise keep its versions.
rm -rf "$dir/src"
mkdir -p "$dir/src"
cd "$dir/src"
go mod init secret-platform.local/vault-build >&2

sdk_dir() {
    local dir
    dir=$(go mod download -json "github.com/hashicorp/vault/sdk@$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [ -n "$dir" ] || {
        echo "build-vault: could not download github.com/hashicorp/vault/sdk@$1" >&2
        exit 1
    }
    echo "$dir"
}
echo "build-vault: preparing sdk $sdk_version as the release-1.21 branch has it" >&2
sdk_src=$(sdk_dir "$sdk_version")
backport_src=$(sdk_dir "$sdk_backport_version")
cp -r "$sdk_src" sdk
chmod -R u+w sdk
three_args='ActivationFunc func(context.Context, \*logical.Request, string) error'
two_args='ActivationFunc func(context.Context, *logical.Request) error'
sed -i "s/^\t$three_args\$/\t$two_args/" sdk/framework/backend.go
cp "$backport_src/helper/keysutil/lock_manager.go" sdk/helper/keysutil/lock_manager.go
grep -qxF "	$two_args" sdk/framework/backend.go &&
    grep -qF 'backup string, force bool) (string, error) {' sdk/helper/keysutil/lock_manager.go || {
    echo "build-vault: the sdk no longer matches the expected release-branch shape; revisit the pins" >&2
    exit 1
}

go mod edit \
    -replace "github.com/hashicorp/vault/sdk=./sdk" \
    -replace "github.com/99designs/keyring=github.com/Jeffail/keyring@v1.2.3" \
    -replace "github.com/ma314smith/signedxml@v1.1.1=github.com/moov-io/signedxml@v1.1.1"
# The server's main package is the module root; this file keeps it required.
cat >tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/hashicorp/vault"
GO
echo "build-vault: resolving github.com/hashicorp/vault@$version" >&2
go get "github.com/hashicorp/vault@$version" >&2
go mod tidy >&2
echo "build-vault: compiling (several minutes on two cores)" >&2
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin.tmp" github.com/hashicorp/vault >&2
mv "$bin.tmp" "$bin"
"$bin" version >&2
echo "$bin"
