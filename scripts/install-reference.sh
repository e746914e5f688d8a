#!/usr/bin/env bash
# Puts the upstream reference data the specs check against into the tool cache,
# one folder per pinned version (never inside the repository):
#   $cache/reference/vault-helm-0.34.1/          the whole vault chart
#   $cache/reference/external-secrets-2.9.0/     ESO's CRDs (*.yaml) and chart/
# From a local directory when SECRET_PLATFORM_REFERENCE names one (.ci/run
# points it at the shared reference folder beside the clone), else from upstream:
# the vault chart from HashiCorp's Helm repository; ESO's three CRD files
# (external-secrets.io_{clustersecretstores,externalsecrets,secretstores}.yaml)
# as published at its tag helm-chart-<version> under config/crds/bases/
# ($SECRET_PLATFORM_ESO_CRDS_URL overrides that base URL; the specs point it at
# a local folder). Plain data files, never a source archive: nothing is built.
# Idempotent: a folder already in the cache is kept. Arguments name the
# references to install (default: all).
#
# Checksums: every file the specs read is checked against scripts/reference.sha256
# (SHA-256 of the upstream release's files) after the copy or the download, so
# a wrong local folder or a tampered download fails here and leaves nothing in
# the cache.
set -euo pipefail
cd "$(dirname "$0")/.."

vault_chart_version=0.34.1
eso_version=2.9.0

cache="${SECRET_PLATFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secret-platform}"
ref="$cache/reference"
mkdir -p "$ref"

# fetch_chart URL DEST: downloads a chart archive and unpacks it into DEST.
fetch_chart() {
    local url=$1 dest=$2 tmp
    tmp=$(mktemp -d)
    curl -fsSL --retry 3 -o "$tmp/chart.tgz" "$url"
    mkdir -p "$dest"
    tar -xzf "$tmp/chart.tgz" -C "$dest" --strip-components=1
    rm -rf "$tmp"
}

# eso_crds DEST: ESO's CRD files, each downloaded as published at the chart's tag.
eso_crds() {
    local dest=$1 base kind
    base="${SECRET_PLATFORM_ESO_CRDS_URL:-https://raw.githubusercontent.com/external-secrets/external-secrets/helm-chart-$eso_version/config/crds/bases}"
    echo "install-reference: ESO's CRDs from $base" >&2
    mkdir -p "$dest"
    for kind in clustersecretstores externalsecrets secretstores; do
        curl -fsSL --retry 3 -o "$dest/external-secrets.io_$kind.yaml" "$base/external-secrets.io_$kind.yaml" || {
            rm -rf "$dest"
            echo "install-reference: could not fetch $base/external-secrets.io_$kind.yaml" >&2
            exit 1
        }
    done
}

install_one() {
    local name=$1 dest="$ref/$1"
    if [ -d "$dest" ]; then
        echo "reference $name: $dest"
        return
    fi
    local local_dir="${SECRET_PLATFORM_REFERENCE:-}"
    local staging="$dest.tmp"
    rm -rf "$staging"
    if [ -n "$local_dir" ]; then
        [ -d "$local_dir/$name" ] || {
            echo "install-reference: SECRET_PLATFORM_REFERENCE=$local_dir has no $name/" >&2
            exit 1
        }
        cp -R "$local_dir/$name" "$staging"
    else
        case $name in
            vault-helm-*)
                fetch_chart "https://helm.releases.hashicorp.com/vault-$vault_chart_version.tgz" "$staging"
                ;;
            external-secrets-*)
                eso_crds "$staging"
                ;;
        esac
    fi
    verify "$name" "$staging"
    mv "$staging" "$dest"
    echo "reference $name: $dest"
}

# verify NAME DIR: DIR holds NAME's pinned files, byte for byte.
verify() {
    local name=$1 dir=$2 manifest
    manifest=$(grep -v '^#' scripts/reference.sha256 | grep "  $name/" | sed "s#  $name/#  #")
    [ -n "$manifest" ] || {
        echo "install-reference: scripts/reference.sha256 pins no file of $name" >&2
        exit 1
    }
    if ! (cd "$dir" && sha256sum --quiet -c - <<<"$manifest" >&2); then
        rm -rf "$dir"
        echo "install-reference: $name differs from the pinned upstream files (scripts/reference.sha256)" >&2
        exit 1
    fi
}

if [ "$#" -eq 0 ]; then
    set -- "vault-helm-$vault_chart_version" "external-secrets-$eso_version"
fi
for name in "$@"; do
    case $name in
        "vault-helm-$vault_chart_version" | "external-secrets-$eso_version") install_one "$name" ;;
        *)
            echo "install-reference: unknown reference $name (known: vault-helm-$vault_chart_version, external-secrets-$eso_version)" >&2
            exit 1
            ;;
    esac
done
