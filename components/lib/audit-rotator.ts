/**
 * The Vault pod's `audit-rotator` sidecar (file audit device on the audit
 * volume). The volume has a fixed size and Vault refuses every request once
 * it can no longer write its audit log, so the log is rotated: above
 * audit.rotation.maxSizeMi the file is renamed to `.1` (older ones shifted, at
 * most audit.rotation.keep kept) and Vault is sent SIGHUP, on which it reopens
 * its file audit devices and starts a new file. Until the signal, Vault keeps
 * writing into the renamed file (same inode): no entry is lost.
 *
 * Signalling Vault from another container needs the pod's shared process
 * namespace (the chart's `server.shareProcessNamespace`, as for
 * ./tls-reloader): Kubernetes has no narrower way to deliver a signal across
 * containers, and Vault has no API that reopens an audit file short of
 * disabling the device (a sudo token, and a gap in the log). The sidecar runs
 * the Vault image itself (busybox: sh, wc, mv, rm, pidof, kill), as the same
 * non-root user, with no capabilities and a read-only root filesystem; it
 * mounts only the audit volume.
 */
import { CONTAINER_SECURITY_CONTEXT } from "./pod-security";

/** The sidecar's container name. */
export const AUDIT_ROTATOR_CONTAINER = "audit-rotator";

/** How often the sidecar checks the file's size. */
export const AUDIT_CHECK_INTERVAL_SECONDS = 30;

/**
 * The sidecar's program (`sh -c`, the audit file as its argument). After a
 * rename it keeps signalling until Vault has made the new file, so a signal
 * lost while Vault restarts is sent again.
 */
export const AUDIT_ROTATE_SCRIPT = `set -u
file=$1
pending=0
echo "audit-rotator: $file above $MAX_BYTES bytes is rotated, $KEEP kept, checked every \${CHECK_INTERVAL_SECONDS}s"
while sleep "$CHECK_INTERVAL_SECONDS"; do
    if [ ! -f "$file" ]; then
        [ "$pending" = 1 ] || continue
        pids=$(pidof vault) && kill -HUP $pids && echo "audit-rotator: sent SIGHUP to vault ($pids) again"
        continue
    fi
    pending=0
    size=$(wc -c < "$file") || continue
    [ "$size" -gt "$MAX_BYTES" ] || continue
    pids=$(pidof vault) || continue
    i=$KEEP
    rm -f -- "$file.$i"
    while [ "$i" -gt 1 ]; do
        j=$((i - 1))
        if [ -f "$file.$j" ]; then mv -f -- "$file.$j" "$file.$i"; fi
        i=$j
    done
    mv -f -- "$file" "$file.1" || continue
    pending=1
    if kill -HUP $pids; then
        echo "audit-rotator: $file had $size bytes: now $file.1; sent SIGHUP to vault ($pids)"
    fi
done
`;

/** The sidecar for the chart's `server.extraContainers`. */
export function auditRotatorContainer(args: {
    /** The Vault image the server runs (`repository:tag`). */
    readonly image: string;
    /** The file audit device's file on the audit volume. */
    readonly file: string;
    /** The audit volume's mount (the chart's `audit` claim). */
    readonly mountPath: string;
    /** Rotate above this many MiB (audit.rotation.maxSizeMi). */
    readonly maxSizeMi: number;
    /** Rotated files kept (audit.rotation.keep). */
    readonly keep: number;
}): Record<string, unknown> {
    return {
        name: AUDIT_ROTATOR_CONTAINER,
        image: args.image,
        imagePullPolicy: "IfNotPresent",
        command: ["/bin/sh", "-c", AUDIT_ROTATE_SCRIPT, AUDIT_ROTATOR_CONTAINER, args.file],
        env: [
            { name: "MAX_BYTES", value: String(args.maxSizeMi * 1024 * 1024) },
            { name: "KEEP", value: String(args.keep) },
            { name: "CHECK_INTERVAL_SECONDS", value: String(AUDIT_CHECK_INTERVAL_SECONDS) },
        ],
        securityContext: CONTAINER_SECURITY_CONTEXT,
        resources: { requests: { cpu: "5m", memory: "8Mi" }, limits: { memory: "32Mi" } },
        volumeMounts: [{ name: "audit", mountPath: args.mountPath }],
    };
}
