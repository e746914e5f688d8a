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
#   docker-entrypoint.sh  the Vault image's own entrypoint, from the Vault module
#                         (.release/docker/) at the version the rig's Vault is
#                         (apt-get download: it conflicts with Debian's busybox)
#   containerd, runc, ctr, CNI plugins, iptables, ipset, conntrack, umoci,
#   dumb-init, socat,
#   awscli                Debian packages (apt-get install when missing); awscli
#                         (bookworm's 2.9.19, with its Python) makes the KV
#                         export's upload step image (e2e/node/aws-cli-image.ts)
#
# Usage: build-node-tools.sh [--check]   (--check builds nothing: it lists what
# is missing and exits 1 when anything is)
set -euo pipefail

# shellcheck source=scripts/lib/tool-cache.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/tool-cache.sh" "$@"

kubernetes_version=v1.37.2
coredns_version=v1.15.0
kube_router_version=v2.1.0
vault_version=v1.21.4
node_dir="$cache/node-$kubernetes_version"

build_kubernetes_node() {
    build_kubernetes_cmds "$node_dir" kubernetes-node-build kubelet kube-proxy kube-scheduler
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

# The e2e's Vault image (e2e/node/vault-image.ts) holds the project's Vault
# build and the image's own entrypoint script, from the same module version.
fetch_vault_entrypoint() {
    local dir="$cache/vault-image-$vault_version" src
    src="$(module_dir "github.com/hashicorp/vault@$vault_version")/.release/docker/docker-entrypoint.sh"
    [ -f "$src" ] || {
        echo "build-node-tools: no $src in the Vault module" >&2
        exit 1
    }
    mkdir -p "$dir"
    cp "$src" "$dir/docker-entrypoint.sh.tmp"
    chmod 0755 "$dir/docker-entrypoint.sh.tmp"
    mv "$dir/docker-entrypoint.sh.tmp" "$dir/docker-entrypoint.sh"
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
    aws:awscli:/usr/bin/aws
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

install_debian
# One build makes all three.
tool kubelet "$node_dir/bin/kubelet" build_kubernetes_node
tool kube-proxy "$node_dir/bin/kube-proxy" build_kubernetes_node
tool kube-scheduler "$node_dir/bin/kube-scheduler" build_kubernetes_node
tool pause "$node_dir/bin/pause" build_pause
tool coredns "$cache/coredns-$coredns_version/bin/coredns" build_coredns
tool kube-router "$cache/kube-router-$kube_router_version/bin/kube-router" build_kube_router
tool busybox "$cache/busybox-static/bin/busybox" install_busybox_static
tool vault-entrypoint "$cache/vault-image-$vault_version/docker-entrypoint.sh" fetch_vault_entrypoint

report_missing
