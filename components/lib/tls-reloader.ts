/**
 * The Vault pod's `tls-reloader` sidecar (internal TLS only). Vault reads its
 * listener certificate at start and again only on SIGHUP; cert-manager renews
 * the Secret in place and the kubelet swaps the mounted files, so without this
 * a renewed certificate is never served and the old one expires under a
 * running Vault. The sidecar watches the mounted files and sends SIGHUP to the
 * `vault` process, which it sees through the pod's shared process namespace
 * (the chart's `server.shareProcessNamespace`, documented for this use).
 *
 * It runs the Vault image itself (busybox sh, sha256sum, and the pidof the
 * chart's own preStop hook relies on; no new image to trust), as the same non-root user, with no network, no capabilities and
 * a read-only root filesystem.
 */
import { CONTAINER_SECURITY_CONTEXT } from "./pod-security";

/** The sidecar's container name. */
export const TLS_RELOADER_CONTAINER = "tls-reloader";

/** How often the sidecar compares the files (the kubelet itself syncs Secret volumes about once a minute). */
export const TLS_RELOAD_INTERVAL_SECONDS = 30;

/**
 * The sidecar's program (`sh -c`, the watched files as arguments). A failed
 * read (a file mid-swap) is retried on the next tick; the new fingerprint is
 * kept only once the signal was delivered, so a Vault that was not running
 * yet is signalled on the next tick.
 */
export const TLS_RELOAD_SCRIPT = `set -u
fingerprint() { cat -- "$@" | sha256sum; }
last=$(fingerprint "$@")
echo "tls-reloader: watching $* every \${RELOAD_INTERVAL_SECONDS}s"
while sleep "$RELOAD_INTERVAL_SECONDS"; do
    now=$(fingerprint "$@") || continue
    [ "$now" = "$last" ] && continue
    pids=$(pidof vault) || continue
    if kill -HUP $pids; then
        echo "tls-reloader: certificate changed; sent SIGHUP to vault ($pids)"
        last=$now
    fi
done
`;

/** The sidecar for the chart's `server.extraContainers`, watching the given mounted files. */
export function tlsReloaderContainer(args: {
    /** The Vault image the server runs (`repository:tag`). */
    readonly image: string;
    /** Volume mounts that hold the watched files (the server's own TLS mounts, read-only). */
    readonly volumeMounts: readonly Record<string, unknown>[];
    /** The files Vault reads on SIGHUP: the listener's certificate and key. */
    readonly files: readonly string[];
}): Record<string, unknown> {
    return {
        name: TLS_RELOADER_CONTAINER,
        image: args.image,
        imagePullPolicy: "IfNotPresent",
        command: ["/bin/sh", "-c", TLS_RELOAD_SCRIPT, TLS_RELOADER_CONTAINER, ...args.files],
        env: [{ name: "RELOAD_INTERVAL_SECONDS", value: String(TLS_RELOAD_INTERVAL_SECONDS) }],
        securityContext: CONTAINER_SECURITY_CONTEXT,
        resources: { requests: { cpu: "5m", memory: "8Mi" }, limits: { memory: "32Mi" } },
        volumeMounts: args.volumeMounts,
    };
}
