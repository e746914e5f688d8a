#!/usr/bin/env bash
# `npm test`: the typecheck and the linters run beside the specs (they are
# single-threaded; the machine has two cores), then their output is shown if
# they failed. The specs' summary line stays the last line of a green run.
set -uo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Both keep a cache in .cache/ (git-ignored) that only skips work whose inputs did not change: tsc's
# build info tracks every file a result depends on; prettier's is keyed on each file's content, the
# options and its version. ESLint keeps none: its typed rules depend on other files' types.
mkdir -p .cache
npx tsc --noEmit --incremental --tsBuildInfoFile .cache/tsc.tsbuildinfo >"$tmp/typecheck" 2>&1 &
typecheck=$!
{
    npx eslint . &&
        npx prettier --check --cache --cache-strategy content --cache-location .cache/prettier --log-level warn .
} >"$tmp/lint" 2>&1 &
lint=$!

npx mocha
specs=$?

status=$specs
for check in typecheck lint; do
    if ! wait "${!check}"; then
        echo
        echo "npm test: $check failed:"
        cat "$tmp/$check"
        status=1
    fi
done
exit "$status"
