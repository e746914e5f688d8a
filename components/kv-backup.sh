#!/bin/sh
# Upload step of the KV export job (backup.enabled), as it runs in the
# vault-kv-backup pods: POSIX sh and the `aws` CLI (the upload image), nothing
# else. The export step (components/kv-export.cjs, Node image) has left in
# $BACKUP_DIR the encrypted export, its name and latest.json.
#
#   kv-backup.sh upload   copy the export to s3://$BACKUP_BUCKET/$BACKUP_KEY_PREFIX<name>,
#                         then latest.json beside it (the last good export),
#                         then delete all but the newest $BACKUP_KEEP exports
#
# Environment (none of it secret): BACKUP_DIR, BACKUP_BUCKET, BACKUP_KEY_PREFIX
# (ends in '/'), BACKUP_KEEP, S3_ENDPOINT (optional), and the AWS CLI's own
# AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE (files), AWS_CA_BUNDLE.
# This step sees only ciphertext: no Vault token, no plaintext, no private key.
#
# Exit codes: 0 done, 1 failed, 2 usage error.
set -u
umask 077

dir="${BACKUP_DIR:-/backup}"

log() {
    printf '%s vault-kv-backup: %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$*"
}

die() {
    log "$*" >&2
    exit 1
}

s3() {
    if [ -n "${S3_ENDPOINT:-}" ]; then
        aws --endpoint-url "$S3_ENDPOINT" "$@"
    else
        aws "$@"
    fi
}

upload() {
    [ -n "${BACKUP_BUCKET:-}" ] || {
        log "BACKUP_BUCKET is required" >&2
        exit 2
    }
    prefix="${BACKUP_KEY_PREFIX:-}"
    keep="${BACKUP_KEEP:-28}"
    case "$keep" in
    '' | *[!0-9]* | 0) die "BACKUP_KEEP must be a positive number, got '$keep'" ;;
    esac
    [ -r "$dir/name" ] || die "no export to upload (the export step left no $dir/name)"
    name=$(cat "$dir/name")
    case "$name" in
    kv-export-*.jsonl.gz.age) ;;
    *) die "unexpected export name '$name'" ;;
    esac
    [ -s "$dir/$name" ] || die "export $name is missing or empty"
    [ -s "$dir/latest.json" ] || die "no latest.json beside $name"
    s3 s3 cp "$dir/$name" "s3://$BACKUP_BUCKET/$prefix$name" --only-show-errors ||
        die "upload of $name to s3://$BACKUP_BUCKET/$prefix$name failed"
    # Only after the export is in the bucket: latest.json names the last good one.
    s3 s3 cp "$dir/latest.json" "s3://$BACKUP_BUCKET/${prefix}latest.json" --only-show-errors ||
        die "upload of ${prefix}latest.json failed (the export itself is in the bucket)"
    log "uploaded s3://$BACKUP_BUCKET/$prefix$name"

    # Retention: the names sort by time; delete all but the newest $keep.
    keys=$(s3 s3api list-objects-v2 --bucket "$BACKUP_BUCKET" --prefix "${prefix}kv-export-" \
        --query 'Contents[].Key' --output text) || die "listing ${prefix}kv-export-* for retention failed"
    printf '%s\n' "$keys" | tr '\t' '\n' | grep '\.jsonl\.gz\.age$' | sort >"$HOME/exports" || true
    total=$(wc -l <"$HOME/exports" | tr -d ' ')
    if [ "$total" -gt "$keep" ]; then
        head -n "$((total - keep))" "$HOME/exports" | while read -r old; do
            s3 s3 rm "s3://$BACKUP_BUCKET/$old" --only-show-errors || die "deleting $old failed"
            log "deleted $old (keeping the newest $keep)"
        done || exit 1
    fi
}

case "${1:-}" in
upload) upload ;;
*)
    echo "usage: kv-backup.sh upload" >&2
    exit 2
    ;;
esac
