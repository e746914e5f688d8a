# Sourced by scripts/build-e2e-tools.sh and scripts/build-node-tools.sh (with
# their arguments): the per-user tool cache both build into, keyed by version,
# and the helpers both build with. Sets cache, check_only (--check: build
# nothing, list what is missing) and missing; messages name the sourcing script.

tool_script=$(basename "$0" .sh)
cache="${SECRET_PLATFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secret-platform}"
check_only=false
[ "${1:-}" = "--check" ] && check_only=true

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
    echo "$tool_script: building $name" >&2
    "$@"
    echo "$tool_script: built $name in $((SECONDS - start))s" >&2
}

# tool NAME PATH BUILDER: PATH when built, else BUILDER builds it.
tool() {
    built "$1" "$2" && return
    timed "$1" "$3"
    echo "$1: $2"
}

# The module's directory in Go's module cache (downloaded when missing).
module_dir() {
    go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

# build_kubernetes_cmds DIR NAME CMD...: the commands CMD... of
# k8s.io/kubernetes at $kubernetes_version, built into DIR/bin in a throw-away
# module NAME.
build_kubernetes_cmds() {
    local dir=$1 name=$2 gomod module cmd
    shift 2
    fresh_module "$dir" "$name"
    # k8s.io/kubernetes replaces its staging modules with ./staging paths,
    # ignored in a dependency: point each at its published v0.x twin.
    gomod=$(go mod download -json "k8s.io/kubernetes@$kubernetes_version" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
    local staging="v0.${kubernetes_version#v1.}"
    local args=()
    while read -r module; do
        args+=(-replace "$module=$module@$staging")
    done < <(sed -n 's|^\s*\(k8s.io/[^ ]*\) => ./staging/.*$|\1|p' "$gomod")
    [ ${#args[@]} -gt 0 ] || {
        echo "$tool_script: found no staging replaces in $gomod" >&2
        exit 1
    }
    go mod edit "${args[@]}"
    local tools=()
    for cmd in "$@"; do
        tools+=("k8s.io/kubernetes/cmd/$cmd@$kubernetes_version")
    done
    go get -tool "${tools[@]}" >&2
    local minor=${kubernetes_version#v1.}
    minor=${minor%%.*}
    local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$kubernetes_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
    for cmd in "$@"; do
        CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$dir/bin/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd" >&2
        mv "$dir/bin/$cmd.tmp" "$dir/bin/$cmd"
    done
    # Out of the throw-away module before it goes: the next builder's go command needs a working directory.
    cd "$dir"
    rm -rf "$dir/src"
}

# report_missing: with --check, what is missing, and exit 1 when anything is.
report_missing() {
    if [ ${#missing[@]} -gt 0 ]; then
        local item
        for item in "${missing[@]}"; do
            echo "$tool_script: missing $item" >&2
        done
        exit 1
    fi
}

command -v go >/dev/null || {
    echo "$tool_script: Go is required (https://go.dev/dl)" >&2
    exit 1
}
