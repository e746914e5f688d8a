#!/usr/bin/env bash
# Puts the upstream reference data the specs check against into the tool cache,
# one folder per pinned version (never inside the repository):
#   $cache/reference/vault-helm-0.34.1/          the whole vault chart
#   $cache/reference/external-secrets-2.9.0/     ESO's CRDs (*.yaml) and chart/
# From a local directory when SECRET_PLATFORM_REFERENCE names one (.ci/run
# points it at the shared reference folder beside the clone), else from upstream:
# the vault chart from HashiCorp's Helm repository; ESO's CRDs from the source
# archive of its tag helm-chart-<version> (config/crds/bases/, the files the
# specs read; the packaged chart only holds them as templates), taken from
# $SECRET_PLATFORM_SOURCES/external-secrets-<version>.tar.gz when that exists
# (the archive the e2e builds ESO from), else downloaded from GitHub.
# Idempotent: a folder already in the cache is kept. Arguments name the
# references to install (default: all).
#
# Checksums: every file the specs read is checked against scripts/reference.sha256
# (SHA-256 of the upstream release's files) after the copy, the download or the
# extraction, so a wrong local folder or a tampered download fails here and
# leaves nothing in the cache. The archives themselves are not pinned: GitHub's
# tag archives are generated on request and not byte-stable, and the checks on
# every file used are the stronger guarantee.
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

# eso_crds DEST: ESO's CRDs the specs read, from the source archive of the chart's tag.
eso_crds() {
    local dest=$1 tmp archive kind
    tmp=$(mktemp -d)
    archive="${SECRET_PLATFORM_SOURCES:-}/external-secrets-$eso_version.tar.gz"
    if [ -z "${SECRET_PLATFORM_SOURCES:-}" ] || [ ! -f "$archive" ]; then
        archive="$tmp/source.tar.gz"
        curl -fsSL --retry 3 -o "$archive" \
            "https://github.com/external-secrets/external-secrets/archive/refs/tags/helm-chart-$eso_version.tar.gz"
    fi
    echo "install-reference: ESO's CRDs from $archive" >&2
    mkdir -p "$dest"
    for kind in clustersecretstores externalsecrets secretstores; do
        tar -xzf "$archive" -O --wildcards "*/config/crds/bases/external-secrets.io_$kind.yaml" \
            >"$dest/external-secrets.io_$kind.yaml" 2>/dev/null || {
            rm -rf "$dest" "$tmp"
            echo "install-reference: $archive has no config/crds/bases/external-secrets.io_$kind.yaml" >&2
            exit 1
        }
    done
    rm -rf "$tmp"
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
