#!/usr/bin/env bash
# Builds the real parts `npm run e2e` runs, each into the per-user tool cache
# keyed by its version (never into the repository), and prints `name: path`
# per tool on stdout. A tool already built is reused, so a warm run takes
# seconds. Progress and build times go to stderr.
#
#   pulumi                      the Pulumi CLI, from github.com/pulumi/pulumi/pkg/v3
#   pulumi-resource-kubernetes  the kubernetes provider plugin (release v4.25.0)
#   kube-apiserver,
#   kube-controller-manager     from k8s.io/kubernetes (the controller manager
#                               deletes namespaces and collects garbage on destroy)
#   hydra                       a real OIDC provider (ory/hydra), playing Authelia
#   etcd                        Debian's etcd-server
#
# Everything comes from the Go module proxy or Debian. The vault provider
# plugin and the ESO controller have no route through those registries: the
# e2e installs the official vault plugin with `pulumi plugin install` where a
# network allows, else runs this repository's stand-in (e2e/vault-stand-in/),
# and reads through the stores as ESO's Vault provider does
# (e2e/rig/store-client.ts); docs/e2e.md says what each proves.
#
# Usage: build-e2e-tools.sh [--check]   (--check builds nothing: it lists what
# is missing and exits 1 when anything is)
set -euo pipefail

# shellcheck source=scripts/lib/tool-cache.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/tool-cache.sh" "$@"

pulumi_version=v3.274.1
# The one build of provider/v4 the module proxy serves: release v4.25.0.
kubernetes_provider_module=v4.0.0-20260115033456-f47bc2d6f199
kubernetes_provider_version=4.25.0
kubernetes_version=v1.37.2
hydra_version=v2.3.0

build_pulumi() {
    local dir="$cache/pulumi-$pulumi_version"
    fresh_module "$dir" pulumi-build
    # pkg/v3's go.mod replaces sdk/v3 with a path (ignored in a dependency),
    # and atotto/clipboard with a fork; the second is repeated here.
    go mod edit -replace github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
    go get -tool "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$pulumi_version" "github.com/pulumi/pulumi/sdk/v3@$pulumi_version" >&2
    # The Automation API refuses a CLI whose `pulumi version` prints nothing.
    CGO_ENABLED=0 go build -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$pulumi_version" \
        -o "$dir/bin/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi >&2
    mv "$dir/bin/pulumi.tmp" "$dir/bin/pulumi"
    rm -rf "$dir/src"
}

build_kubernetes_provider() {
    local dir="$cache/pulumi-kubernetes-$kubernetes_provider_version" mod
    fresh_module "$dir" kubernetes-provider-download
    mod=$(go mod download -json "github.com/pulumi/pulumi-kubernetes/provider/v4@$kubernetes_provider_module" |
        sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    cd "$dir"
    rm -rf src
    cp -r "$mod" src
    chmod -R u+w src
    cd src
    local cmd=cmd/pulumi-resource-kubernetes
    sed "0,/\"version\": *\"[^\"]*\"/s//\"version\": \"$kubernetes_provider_version\"/" "$cmd/schema.json" >"$cmd/schema-embed.json"
    grep -q "\"version\": \"$kubernetes_provider_version\"" "$cmd/schema-embed.json" ||
        sed -i "0,/{/s//{\"version\": \"$kubernetes_provider_version\",/" "$cmd/schema-embed.json"
    cp "$cmd/terraform-mapping.json" "$cmd/terraform-mapping-embed.json" 2>/dev/null || echo '{}' >"$cmd/terraform-mapping-embed.json"
    go mod edit -replace "github.com/pulumi/pulumi-kubernetes/sdk/v4=github.com/pulumi/pulumi-kubernetes/sdk/v4@v$kubernetes_provider_version"
    GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$kubernetes_provider_version" \
        -o "$dir/bin/pulumi-resource-kubernetes.tmp" "./$cmd" >&2
    mv "$dir/bin/pulumi-resource-kubernetes.tmp" "$dir/bin/pulumi-resource-kubernetes"
    cd "$dir"
    rm -rf src
}


build_kubernetes() {
    build_kubernetes_cmds "$cache/kubernetes-$kubernetes_version" kubernetes-build kube-apiserver kube-controller-manager
}

build_hydra() {
    local dir="$cache/hydra-$hydra_version"
    fresh_module "$dir" hydra-build
    # hydra's own replace of pop (ignored in a dependency), repeated.
    go mod edit -replace github.com/gobuffalo/pop/v6=github.com/ory/pop/v6@v6.2.1-0.20241121111754-e5dfc0f3344b
    go get -tool "github.com/ory/hydra/v2@$hydra_version" >&2
    # sqlite: the in-memory DSN the rig uses needs it (and cgo).
    CGO_ENABLED=1 go build -tags sqlite -trimpath -ldflags "-s -w" -o "$dir/bin/hydra.tmp" github.com/ory/hydra/v2 >&2
    mv "$dir/bin/hydra.tmp" "$dir/bin/hydra"
    rm -rf "$dir/src"
}


install_etcd() {
    if ! command -v etcd >/dev/null; then
        $check_only && {
            missing+=("etcd (apt-get install etcd-server)")
            return
        }
        echo "build-e2e-tools: installing etcd-server from the OS packages" >&2
        apt-get update >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends etcd-server >&2
    fi
    # The Debian package starts a system etcd on the default ports; the rig
    # runs its own on free loopback ports, so the system one is not needed.
    echo "etcd: $(command -v etcd)"
}

tool pulumi "$cache/pulumi-$pulumi_version/bin/pulumi" build_pulumi
tool pulumi-resource-kubernetes "$cache/pulumi-kubernetes-$kubernetes_provider_version/bin/pulumi-resource-kubernetes" \
    build_kubernetes_provider
# One build makes both.
tool kube-apiserver "$cache/kubernetes-$kubernetes_version/bin/kube-apiserver" build_kubernetes
tool kube-controller-manager "$cache/kubernetes-$kubernetes_version/bin/kube-controller-manager" build_kubernetes
tool hydra "$cache/hydra-$hydra_version/bin/hydra" build_hydra
install_etcd

report_missing
