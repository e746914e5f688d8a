#!/bin/sh
# Vault unsealer (Shamir mode), as it runs in the vault-unsealer pods: POSIX sh
# and the `vault` CLI of the Vault image, nothing else.
#
#   unseal.sh                    check once: unseal if sealed, exit 0 when unsealed
#   unseal.sh --loop <seconds>   check every <seconds> until stopped (SIGTERM)
#
# Environment:
#   VAULT_ADDR        Vault's internal URL (required)
#   VAULT_ADDRS       space-separated URLs of every Vault pod (raft HA): each is
#                     unsealed in turn, since Shamir keys unseal one server at a time
#                     and a Service would spread the keys over random pods
#   UNSEAL_KEYS_DIR   directory of key files, one unseal key a file (default /vault/unseal-keys)
#   VAULT_CACERT      CA bundle for an https VAULT_ADDR (optional; read by the vault CLI)
#
# Keys: read from the mounted Secret's files with the shell's `read` builtin
# and handed to `vault write sys/unseal key=-` on stdin through the `printf`
# builtin, so a key is never in an argument list (/proc/*/cmdline), never in
# the environment and never printed. The CLI's own output is discarded: only
# this script's messages reach the log.
#
# `vault status` reads GET /v1/sys/seal-status; exit 0 = unsealed, 2 = sealed,
# anything else = no answer.
#
# Exit codes (one-shot mode): 0 unsealed (or already), 1 still sealed or no
# answer, 2 usage error, 3 Vault is not initialized (bootstrap's job, not ours).
# With VAULT_ADDRS: 0 when every initialized pod is unsealed (a raft pod that
# has not joined yet reports uninitialized and is skipped until it has), 3 when
# no pod is initialized, else 1.
set -u

submitted=""

keys_dir="${UNSEAL_KEYS_DIR:-/vault/unseal-keys}"

log() {
    printf '%s vault-unsealer: %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$*"
}

usage() {
    echo "usage: unseal.sh [--loop <seconds>]" >&2
    exit 2
}

# Prints the seal status JSON, sets status_rc to vault status's exit code.
seal_status() {
    status_json=$(vault status -format=json 2>/dev/null)
    status_rc=$?
}

# One pass: returns 0 when Vault is unsealed at the end, 1 when it is not, 3 when uninitialized.
unseal_once() {
    seal_status
    case "$status_rc" in
        0) return 0 ;;
        2) ;;
        *)
            log "no answer from $VAULT_ADDR/v1/sys/seal-status (vault status exit $status_rc)"
            return 1
            ;;
    esac
    case "$status_json" in
        *'"initialized": false'* | *'"initialized":false'*)
            log "Vault at $VAULT_ADDR is not initialized; nothing to unseal (bootstrap initializes it)"
            return 3
            ;;
    esac
    log "Vault at $VAULT_ADDR is sealed; submitting unseal keys from $keys_dir"
    # Check the status only once the threshold is reached: each CLI call costs time.
    threshold=$(printf '%s\n' "$status_json" | sed -n 's/^ *"t": *\([0-9][0-9]*\).*/\1/p')
    [ -n "$threshold" ] || threshold=1
    submitted=0
    for file in "$keys_dir"/*; do
        [ -f "$file" ] || continue
        key=""
        IFS= read -r key <"$file" || [ -n "$key" ] || continue
        [ -n "$key" ] || continue
        if printf '%s' "$key" | vault write sys/unseal key=- >/dev/null 2>&1; then
            submitted=$((submitted + 1))
        else
            log "Vault rejected the key in $(basename "$file")"
        fi
        key=""
        [ "$submitted" -ge "$threshold" ] || continue
        seal_status
        if [ "$status_rc" -eq 0 ]; then
            log "unsealed after $submitted key(s)"
            return 0
        fi
    done
    if [ "$submitted" -eq 0 ]; then
        log "no usable unseal key files in $keys_dir"
    else
        log "still sealed after $submitted key(s): the keys in $keys_dir do not match this Vault"
    fi
    return 1
}

[ -n "${VAULT_ADDR:-}" ] || {
    echo "unseal.sh: VAULT_ADDR is not set" >&2
    exit 2
}
command -v vault >/dev/null 2>&1 || {
    echo "unseal.sh: the vault CLI is not on PATH" >&2
    exit 2
}

addrs="${VAULT_ADDRS:-$VAULT_ADDR}"

# One pass over every address; the combined code as documented above.
unseal_all() {
    any_initialized=1
    all_rc=0
    for addr in $addrs; do
        VAULT_ADDR=$addr
        export VAULT_ADDR
        submitted=""
        unseal_once
        one=$?
        [ "$one" -eq 0 ] && [ "$submitted" = "" ] && [ "${quiet:-}" = "" ] && log "Vault at $VAULT_ADDR is unsealed"
        case "$one" in
            0) any_initialized=0 ;;
            3) ;;
            *)
                any_initialized=0
                all_rc=1
                ;;
        esac
    done
    [ "$any_initialized" -eq 0 ] || return 3
    return "$all_rc"
}

case "${1:-}" in
    "")
        unseal_all
        exit $?
        ;;
    --loop)
        interval="${2:-}"
        case "$interval" in
            '' | *[!0-9]* | 0) usage ;;
        esac
        ;;
    *) usage ;;
esac

# Loop mode: a healthy Vault leaves a quiet log (one line when it becomes unsealed).
trap 'log "stopping"; exit 0' TERM INT
log "checking $addrs every ${interval}s"
last=""
quiet=1
while :; do
    unseal_all
    rc=$?
    [ "$rc" -eq 0 ] && [ "$last" != 0 ] && log "Vault at $addrs is unsealed"
    last=$rc
    # Sleep in the background and wait, so SIGTERM is handled at once.
    sleep "$interval" &
    wait $!
done
