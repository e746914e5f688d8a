#!/usr/bin/env bash
# Puts the upstream reference data the specs check against into the tool cache,
# one folder per pinned version (never inside the repository):
#   $cache/reference/vault-helm-0.34.1/          the whole vault chart
#   $cache/reference/external-secrets-2.9.0/     ESO's CRDs (*.yaml) and chart/
# From a local directory when SECRET_PLATFORM_REFERENCE names one (.ci/run
# points it at the shared reference folder beside the clone), else downloaded from the charts' public
# Helm repositories. Idempotent: a folder already in the cache is kept.
#
# Checksums: every file the specs read is checked against scripts/reference.sha256
# (SHA-256 of the upstream release's files) after the copy or the download, so a
# wrong local folder or a tampered download fails here. The archives' own
# SHA-256 (*_sha256 below) is not pinned: they could not be obtained offline.
set -euo pipefail
cd "$(dirname "$0")/.."

vault_chart_version=0.34.1
eso_version=2.9.0
vault_chart_sha256=""
eso_chart_sha256=""

cache="${SECRET_PLATFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secret-platform}"
ref="$cache/reference"
mkdir -p "$ref"

# fetch_chart URL SHA256 DEST: downloads a chart archive and unpacks it into DEST.
fetch_chart() {
    local url=$1 sum=$2 dest=$3 tmp
    tmp=$(mktemp -d)
    curl -fsSL --retry 3 -o "$tmp/chart.tgz" "$url"
    if [ -n "$sum" ]; then
        echo "$sum  $tmp/chart.tgz" | sha256sum -c - >&2
    else
        echo "install-reference: WARNING: no pinned checksum for $url; not verified" >&2
    fi
    mkdir -p "$dest"
    tar -xzf "$tmp/chart.tgz" -C "$dest" --strip-components=1
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
                fetch_chart "https://helm.releases.hashicorp.com/vault-$vault_chart_version.tgz" \
                    "$vault_chart_sha256" "$staging"
                ;;
            external-secrets-*)
                fetch_chart "https://charts.external-secrets.io/external-secrets-$eso_version.tgz" \
                    "$eso_chart_sha256" "$staging/chart"
                # The chart ships the CRDs as one bundle; the specs read them one kind a file.
                for kind in clustersecretstores externalsecrets secretstores; do
                    [ -f "$staging/chart/templates/crds/$kind.yaml" ] &&
                        cp "$staging/chart/templates/crds/$kind.yaml" "$staging/external-secrets.io_$kind.yaml"
                done
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

install_one "vault-helm-$vault_chart_version"
install_one "external-secrets-$eso_version"
