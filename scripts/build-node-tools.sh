#!/usr/bin/env bash
# Builds or installs the parts of the e2e's single-node Kubernetes (e2e/node/),
# each keyed by its version in the per-user tool cache (never in the
# repository), and prints `name: path` per tool on stdout. A tool already there
# is reused, so a warm run takes seconds. Progress and build times go to stderr.
#
#   kubelet, kube-proxy,
#   kube-scheduler        from k8s.io/kubernetes (the module proxy), the version
#                         scripts/build-e2e-tools.sh builds the API server at
#   pause                 build/pause/linux/pause.c of that same module, gcc -static
#   coredns               a trimmed main (kubernetes, errors, health, ready,
#                         cache, loadbalance) over github.com/coredns/coredns
#   kube-router           github.com/cloudnativelabs/kube-router/v2 (run only
#                         as a NetworkPolicy firewall)
#   busybox               Debian's busybox-static, unpacked into the cache
#                         (apt-get download: it conflicts with Debian's busybox)
#   containerd, runc, ctr, CNI plugins, iptables, ipset, conntrack, umoci,
#   dumb-init, socat      Debian packages (apt-get install when missing)
#
# Usage: build-node-tools.sh [--check]   (--check builds nothing: it lists what
# is missing and exits 1 when anything is)
set -euo pipefail

cache="${SECRET_PLATFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secret-platform}"
check_only=false
[ "${1:-}" = "--check" ] && check_only=true

kubernetes_version=v1.37.2
coredns_version=v1.15.0
kube_router_version=v2.1.0
node_dir="$cache/node-$kubernetes_version"

missing=()

# built NAME PATH: true (and prints the line) when PATH is an executable.
built() {
    if [ -x "$2" ]; then
        echo "$1: $2"
        return 0
    fi
    if $check_only; then
        missing+=("$1 ($2)")
        return 0
    fi
    return 1
}

# fresh_module DIR NAME: an empty throw-away Go module in DIR/src.
fresh_module() {
    rm -rf "$1/src"
    mkdir -p "$1/src" "$1/bin"
    cd "$1/src"
    go mod init "secret-platform.local/$2" >&2
}

timed() {
    local name=$1 start=$SECONDS
    shift
    echo "build-node-tools: building $name" >&2
    "$@"
    echo "build-node-tools: built $name in $((SECONDS - start))s" >&2
}

# The module's directory in Go's module cache (downloaded when missing).
module_dir() {
    go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

build_kubernetes_node() {
    local dir="$node_dir" gomod
    fresh_module "$dir" kubernetes-node-build
    # As build-e2e-tools.sh's build_kubernetes: k8s.io/kubernetes replaces its
    # staging modules with ./staging paths, ignored in a dependency, so each is
    # pointed at its published v0.x twin.
    gomod=$(go mod download -json "k8s.io/kubernetes@$kubernetes_version" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
    local staging="v0.${kubernetes_version#v1.}"
    local args=()
    while read -r module; do
        args+=(-replace "$module=$module@$staging")
    done < <(sed -n 's|^\s*\(k8s.io/[^ ]*\) => ./staging/.*$|\1|p' "$gomod")
    [ ${#args[@]} -gt 0 ] || {
        echo "build-node-tools: found no staging replaces in $gomod" >&2
        exit 1
    }
    go mod edit "${args[@]}"
    go get -tool "k8s.io/kubernetes/cmd/kubelet@$kubernetes_version" \
        "k8s.io/kubernetes/cmd/kube-proxy@$kubernetes_version" \
        "k8s.io/kubernetes/cmd/kube-scheduler@$kubernetes_version" >&2
    local minor=${kubernetes_version#v1.}
    minor=${minor%%.*}
    local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$kubernetes_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
    for cmd in kubelet kube-proxy kube-scheduler; do
        CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$dir/bin/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd" >&2
        mv "$dir/bin/$cmd.tmp" "$dir/bin/$cmd"
    done
    rm -rf "$dir/src"
}

build_pause() {
    local mod tag
    mod="$(module_dir "k8s.io/kubernetes@$kubernetes_version")/build/pause"
    tag=$(sed -n 's/^TAG ?= *//p' "$mod/Makefile")
    mkdir -p "$node_dir/bin"
    # The upstream Makefile's flags; `pause -v` prints the pause version and
    # the Kubernetes module it came from (the Makefile puts a git revision there).
    gcc -Os -Wall -Werror -static -DVERSION="v$tag-$kubernetes_version" -o "$node_dir/bin/pause.tmp" "$mod/linux/pause.c" >&2
    strip "$node_dir/bin/pause.tmp"
    mv "$node_dir/bin/pause.tmp" "$node_dir/bin/pause"
}

build_coredns() {
    local dir="$cache/coredns-$coredns_version"
    fresh_module "$dir" coredns-build
    # Only the plugins the node's DNS needs: no forward, so it answers the
    # cluster's names and nothing else. The order is CoreDNS's own
    # (plugin.cfg): a plugin earlier in it sees a query first.
    cat >main.go <<'EOF'
// A trimmed CoreDNS: the cluster's names only (no forward plugin).
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/ready"
	"github.com/coredns/coredns/coremain"
)

func init() {
	dnsserver.Directives = []string{"ready", "health", "errors", "loadbalance", "cache", "kubernetes"}
}

func main() { coremain.Run() }
EOF
    go get "github.com/coredns/coredns@$coredns_version" >&2
    go mod tidy >&2
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dir/bin/coredns.tmp" . >&2
    mv "$dir/bin/coredns.tmp" "$dir/bin/coredns"
    rm -rf "$dir/src"
}

build_kube_router() {
    local dir="$cache/kube-router-$kube_router_version"
    fresh_module "$dir" kube-router-build
    go get -tool "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$kube_router_version" >&2
    CGO_ENABLED=0 go build -trimpath \
        -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$kube_router_version" \
        -o "$dir/bin/kube-router.tmp" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router >&2
    mv "$dir/bin/kube-router.tmp" "$dir/bin/kube-router"
    rm -rf "$dir/src"
}

# Debian's busybox-static conflicts with Debian's busybox (which the specs use
# from PATH), so its .deb is unpacked into the cache instead of installed.
install_busybox_static() {
    local dir="$cache/busybox-static" deb version
    rm -rf "$dir/tmp"
    mkdir -p "$dir/tmp" "$dir/bin"
    cd "$dir/tmp"
    # As root, apt would warn that its _apt user cannot write here.
    apt-get download -o APT::Sandbox::User=root busybox-static >&2 || {
        apt-get update >&2
        apt-get download -o APT::Sandbox::User=root busybox-static >&2
    }
    deb=$(ls busybox-static_*.deb)
    dpkg-deb -x "$deb" root
    cp root/bin/busybox "$dir/bin/busybox.tmp"
    mv "$dir/bin/busybox.tmp" "$dir/bin/busybox"
    version=$(dpkg-deb -f "$deb" Version)
    echo "$version" >"$dir/VERSION"
    cd "$dir"
    rm -rf tmp
}

# Debian packages: NAME:PACKAGE:PATH.
debian_tools=(
    containerd:containerd:/usr/bin/containerd
    containerd-shim-runc-v2:containerd:/usr/bin/containerd-shim-runc-v2
    ctr:containerd:/usr/bin/ctr
    runc:runc:/usr/sbin/runc
    cni-bridge:containernetworking-plugins:/usr/lib/cni/bridge
    cni-host-local:containernetworking-plugins:/usr/lib/cni/host-local
    cni-portmap:containernetworking-plugins:/usr/lib/cni/portmap
    cni-loopback:containernetworking-plugins:/usr/lib/cni/loopback
    iptables:iptables:/usr/sbin/iptables
    ipset:ipset:/usr/sbin/ipset
    conntrack:conntrack:/usr/sbin/conntrack
    umoci:umoci:/usr/bin/umoci
    dumb-init:dumb-init:/usr/bin/dumb-init
    socat:socat:/usr/bin/socat
    gcc:gcc:/usr/bin/gcc
    nsenter:util-linux:/usr/bin/nsenter
    ip:iproute2:/usr/sbin/ip
)

install_debian() {
    local want=() entry name pkg path
    for entry in "${debian_tools[@]}"; do
        IFS=: read -r name pkg path <<<"$entry"
        [ -x "$path" ] || want+=("$pkg")
    done
    if [ ${#want[@]} -gt 0 ]; then
        if $check_only; then
            missing+=("Debian packages: ${want[*]} (apt-get install)")
            return
        fi
        echo "build-node-tools: installing from the OS packages: ${want[*]}" >&2
        local start=$SECONDS
        apt-get update >&2
        # containerd's package would start a system containerd under systemd:
        # the node runs its own, in its own namespaces, with its own config.
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${want[@]}" >&2
        echo "build-node-tools: installed Debian packages in $((SECONDS - start))s" >&2
    fi
    for entry in "${debian_tools[@]}"; do
        IFS=: read -r name pkg path <<<"$entry"
        [ -x "$path" ] && echo "$name: $path"
    done
}

command -v go >/dev/null || {
    echo "build-node-tools: Go is required (https://go.dev/dl)" >&2
    exit 1
}

# tool NAME PATH BUILDER: PATH when built, else BUILDER builds it.
tool() {
    built "$1" "$2" && return
    timed "$1" "$3"
    echo "$1: $2"
}

install_debian
# One build makes all three.
tool kubelet "$node_dir/bin/kubelet" build_kubernetes_node
tool kube-proxy "$node_dir/bin/kube-proxy" build_kubernetes_node
tool kube-scheduler "$node_dir/bin/kube-scheduler" build_kubernetes_node
tool pause "$node_dir/bin/pause" build_pause
tool coredns "$cache/coredns-$coredns_version/bin/coredns" build_coredns
tool kube-router "$cache/kube-router-$kube_router_version/bin/kube-router" build_kube_router
tool busybox "$cache/busybox-static/bin/busybox" install_busybox_static

if [ ${#missing[@]} -gt 0 ]; then
    printf 'build-node-tools: missing %s\n' "${missing[@]}" >&2
    exit 1
fi
