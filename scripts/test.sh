#!/usr/bin/env bash
# `npm test`: the typecheck and the linters run beside the specs (they are
# single-threaded; the machine has two cores), then their output is shown if
# they failed. The specs' summary line stays the last line of a green run.
set -uo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

npx tsc --noEmit >"$tmp/typecheck" 2>&1 &
typecheck=$!
{ npx eslint . && npx prettier --check --log-level warn .; } >"$tmp/lint" 2>&1 &
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
