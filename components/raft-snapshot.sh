#!/bin/sh
# Raft snapshot job (server.storageBackend raft), as it runs in the
# vault-snapshot pods: POSIX sh, with the `vault` CLI (step 1, Vault image) or
# the `aws` CLI (step 2, AWS CLI image), nothing else.
#
#   raft-snapshot.sh save     log in with the pod's ServiceAccount token, save a snapshot to $SNAPSHOT_DIR
#   raft-snapshot.sh upload   copy that snapshot to s3://$SNAPSHOT_BUCKET/$SNAPSHOT_KEY_PREFIX<name>,
#                             then latest.json beside it (the last good snapshot: object, completedAt,
#                             completedAtUnix, bytes)
#
# Environment (none of it secret):
#   SNAPSHOT_DIR         directory shared by the two steps (default /snap)
#   save:   VAULT_ADDR, VAULT_AUTH_PATH (Kubernetes auth mount), VAULT_ROLE,
#           SA_TOKEN_FILE (the projected ServiceAccount token), HOME (a private
#           tmpfs: the Vault token is kept in $HOME/.vault-token), VAULT_CACERT (optional),
#           CONNECT_WAIT_SECONDS (optional, default 60: how long an unreachable
#           Vault is retried, e.g. while the pod's NetworkPolicy is programmed)
#   upload: SNAPSHOT_BUCKET, SNAPSHOT_KEY_PREFIX (ends in '/' or empty),
#           S3_ENDPOINT (optional, S3-compatible servers), and the AWS CLI's
#           own AWS_REGION, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE (files)
#
# Secrets: the ServiceAccount JWT goes to Vault as jwt=@file (the CLI reads
# the file); the Vault token goes from the login's stdout into a 0600 file
# that the CLI's token helper reads, and is deleted after the save. Neither is
# ever in an argument list, the environment or the log. The S3 keys are a
# mounted credentials file the AWS CLI reads.
#
# Exit codes: 0 done, 1 failed, 2 usage error.
set -u
umask 077

dir="${SNAPSHOT_DIR:-/snap}"

log() {
    printf '%s vault-snapshot: %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$*"
}

die() {
    log "$*" >&2
    exit 1
}

need() {
    for var in "$@"; do
        eval "value=\${$var:-}"
        [ -n "$value" ] || {
            log "$var is required" >&2
            exit 2
        }
    done
}

save() {
    need VAULT_ADDR VAULT_AUTH_PATH VAULT_ROLE SA_TOKEN_FILE HOME
    # Only the token this job logs in for: never one from the environment.
    unset VAULT_TOKEN
    [ -r "$SA_TOKEN_FILE" ] || die "no readable ServiceAccount token at $SA_TOKEN_FILE"
    token_file="$HOME/.vault-token"
    trap 'rm -f "$token_file"' EXIT
    # A new pod's first connections can be refused until the network plugin has put its address in the
    # NetworkPolicies' sets: an unreachable Vault is retried for up to CONNECT_WAIT_SECONDS, anything else fails.
    wait_s="${CONNECT_WAIT_SECONDS:-60}"
    started=$(date +%s)
    until vault write -field=token "auth/$VAULT_AUTH_PATH/login" role="$VAULT_ROLE" jwt=@"$SA_TOKEN_FILE" \
        >"$token_file" 2>"$HOME/login.err"; do
        err=$(cat "$HOME/login.err")
        case "$err" in
        *"dial tcp"* | *"connection refused"* | *"no such host"* | *"i/o timeout"* | *"connection reset"*)
            if [ $(($(date +%s) - started)) -lt "$wait_s" ]; then
                log "Vault at $VAULT_ADDR not reachable yet; retrying in 3 s"
                sleep 3
                continue
            fi
            die "login to auth/$VAULT_AUTH_PATH as role $VAULT_ROLE failed: Vault unreachable for ${wait_s} s: $err"
            ;;
        esac
        die "login to auth/$VAULT_AUTH_PATH as role $VAULT_ROLE failed: $err"
    done
    [ -s "$token_file" ] || die "login to auth/$VAULT_AUTH_PATH returned no token"

    name="raft-$(date -u '+%Y%m%dT%H%M%SZ').snap"
    if ! vault operator raft snapshot save "$dir/$name" >"$HOME/save.out" 2>&1; then
        rm -f "$dir/$name"
        die "snapshot save failed: $(cat "$HOME/save.out")"
    fi
    rm -f "$token_file"
    [ -s "$dir/$name" ] || die "snapshot $name is empty"
    printf '%s\n' "$name" >"$dir/name"
    log "saved $name ($(wc -c <"$dir/$name" | tr -d ' ') bytes)"
}

upload() {
    need SNAPSHOT_BUCKET
    prefix="${SNAPSHOT_KEY_PREFIX:-}"
    [ -r "$dir/name" ] || die "no snapshot to upload (the save step left no $dir/name)"
    name=$(cat "$dir/name")
    case "$name" in
    raft-*.snap) ;;
    *) die "unexpected snapshot name '$name'" ;;
    esac
    [ -s "$dir/$name" ] || die "snapshot $name is missing or empty"
    key="$prefix$name"
    set -- s3 cp "$dir/$name" "s3://$SNAPSHOT_BUCKET/$key" --only-show-errors
    if [ -n "${S3_ENDPOINT:-}" ]; then
        set -- --endpoint-url "$S3_ENDPOINT" "$@"
    fi
    aws "$@" || die "upload of $name to s3://$SNAPSHOT_BUCKET/$key failed"
    log "uploaded s3://$SNAPSHOT_BUCKET/$key"
    # Only after the snapshot is in the bucket: the marker names the last good one ($HOME is the step's tmpfs).
    now=$(date -u '+%Y-%m-%dT%H:%M:%SZ')
    printf '{"object":"%s","completedAt":"%s","completedAtUnix":%s,"bytes":%s}\n' \
        "$name" "$now" "$(date -u '+%s')" "$(wc -c <"$dir/$name" | tr -d ' ')" >"$HOME/latest.json"
    set -- s3 cp "$HOME/latest.json" "s3://$SNAPSHOT_BUCKET/${prefix}latest.json" --only-show-errors
    if [ -n "${S3_ENDPOINT:-}" ]; then
        set -- --endpoint-url "$S3_ENDPOINT" "$@"
    fi
    aws "$@" || die "upload of ${prefix}latest.json failed (the snapshot itself is in the bucket)"
}

case "${1:-}" in
save) save ;;
upload) upload ;;
*)
    echo "usage: raft-snapshot.sh save|upload" >&2
    exit 2
    ;;
esac
