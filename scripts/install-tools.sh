#!/usr/bin/env bash
# Installs the real tools the integration tests run, and prints where each is:
#   vault       built from the Go module proxy (scripts/build-vault.sh)
#   sops        built from the Go module proxy
#   actionlint  built from the Go module proxy
#   gofakes3    built from the Go module proxy (a versioned S3-compatible server for the restore tests)
#   helm        built from the Go module proxy (renders the vault chart in the specs)
#   age         the Debian package (age, age-keygen)
#   busybox     the Debian package (the Vault image's shell tools, for the tls-reloader spec)
#   promtool    from Debian's prometheus package, unpacked into the cache (the alert pack's
#               `promtool test rules` specs); installing the package would start a Prometheus server
#   reference   the vault chart and ESO's CRDs/chart at the pinned versions
#               (scripts/install-reference.sh), under $cache/reference/
# Go-built tools go to a per-user cache (never the repository); test/support/
# tools.ts looks there. Idempotent: a tool already at the pinned version is
# reused. Called by .ci/run on a fresh machine (as root, so apt-get works).
set -euo pipefail
cd "$(dirname "$0")/.."

sops_version=v3.13.3
actionlint_version=v1.7.12
gofakes3_version=v1.2.0
helm_version=v3.22.0
# Debian bookworm's prometheus (2.42.0+ds-5+deb12u1 today); its security updates keep 2.42.0.
prometheus_version=2.42.0

cache="${SECRET_PLATFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secret-platform}"
bin_dir="$cache/bin"
mkdir -p "$bin_dir"

command -v go >/dev/null || {
    echo "install-tools: Go is required (https://go.dev/dl)" >&2
    exit 1
}

# go_tool NAME PACKAGE VERSION VERSION_COMMAND...: installs PACKAGE@VERSION
# into the cache unless the cached binary already reports VERSION.
go_tool() {
    local name=$1 pkg=$2 version=$3
    shift 3
    local bin="$bin_dir/$name"
    if [ -x "$bin" ] && "$bin" "$@" 2>/dev/null | grep -qF "${version#v}"; then
        echo "$name: $bin"
        return
    fi
    echo "install-tools: building $pkg@$version" >&2
    local start=$SECONDS
    GOBIN="$bin_dir" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "$pkg@$version" >&2
    "$bin" "$@" >/dev/null
    echo "install-tools: built $name in $((SECONDS - start))s" >&2
    echo "$name: $bin"
}

vault_bin=$(bash scripts/build-vault.sh)
echo "vault: $vault_bin"

# sops --version asks GitHub for the latest release unless told not to.
go_tool sops github.com/getsops/sops/v3/cmd/sops "$sops_version" --disable-version-check --version
go_tool actionlint github.com/rhysd/actionlint/cmd/actionlint "$actionlint_version" -version
# gofakes3 has no version flag; a cached binary is reused as it is.
if [ -x "$bin_dir/gofakes3" ]; then
    echo "gofakes3: $bin_dir/gofakes3"
else
    echo "install-tools: building github.com/johannesboyne/gofakes3/cmd/gofakes3@$gofakes3_version" >&2
    GOBIN="$bin_dir" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "github.com/johannesboyne/gofakes3/cmd/gofakes3@$gofakes3_version" >&2
    echo "gofakes3: $bin_dir/gofakes3"
fi

# helm reports the version from an ldflag; without it a go install says only "v3.22".
helm_bin="$bin_dir/helm"
if [ -x "$helm_bin" ] && "$helm_bin" version --template '{{.Version}}' 2>/dev/null | grep -qxF "$helm_version"; then
    echo "helm: $helm_bin"
else
    echo "install-tools: building helm.sh/helm/v3/cmd/helm@$helm_version" >&2
    GOBIN="$bin_dir" CGO_ENABLED=0 go install -trimpath \
        -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version" \
        "helm.sh/helm/v3/cmd/helm@$helm_version" >&2
    "$helm_bin" version --template '{{.Version}}' | grep -qxF "$helm_version"
    echo "helm: $helm_bin"
fi

# promtool: the .deb is unpacked into the cache (only promtool is kept; it needs libc only),
# because the package itself would install and start a Prometheus server.
promtool_dir="$cache/prometheus-$prometheus_version"
promtool_bin="$promtool_dir/bin/promtool"
if [ -x "$promtool_bin" ] && "$promtool_bin" --version 2>/dev/null | grep -qF "version $prometheus_version+"; then
    echo "promtool: $promtool_bin"
else
    echo "install-tools: unpacking promtool from Debian's prometheus $prometheus_version" >&2
    rm -rf "$promtool_dir/tmp"
    mkdir -p "$promtool_dir/tmp" "$promtool_dir/bin"
    (
        cd "$promtool_dir/tmp"
        # As root, apt would warn that its _apt user cannot write here.
        apt-get download -o APT::Sandbox::User=root prometheus >&2 || {
            apt-get update >&2
            apt-get download -o APT::Sandbox::User=root prometheus >&2
        }
        deb=$(ls prometheus_*.deb)
        case "$(dpkg-deb -f "$deb" Version)" in
            "$prometheus_version"+*) ;;
            *)
                echo "install-tools: Debian offers prometheus $(dpkg-deb -f "$deb" Version), not $prometheus_version" >&2
                exit 1
                ;;
        esac
        dpkg-deb -x "$deb" root
        cp root/usr/bin/promtool "$promtool_bin.tmp"
        mv "$promtool_bin.tmp" "$promtool_bin"
        dpkg-deb -f "$deb" Version >"$promtool_dir/VERSION"
    )
    rm -rf "$promtool_dir/tmp"
    "$promtool_bin" --version 2>&1 | grep -qF "version $prometheus_version+"
    echo "promtool: $promtool_bin"
fi

bash scripts/install-reference.sh

# OS packages: age (sops' recipients in the migration specs) and busybox (the Vault image's shell tools,
# for the tls-reloader spec).
missing=()
command -v age >/dev/null && command -v age-keygen >/dev/null || missing+=(age)
command -v busybox >/dev/null || missing+=(busybox)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        sudo=()
    elif command -v sudo >/dev/null; then
        sudo=(sudo)
    else
        echo "install-tools: ${missing[*]} missing; install the OS packages (apt-get install ${missing[*]}) as root" >&2
        exit 1
    fi
    echo "install-tools: installing ${missing[*]} from the OS packages" >&2
    "${sudo[@]}" apt-get update >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
echo "age: $(command -v age)"
echo "age-keygen: $(command -v age-keygen)"
echo "busybox: $(command -v busybox)"
