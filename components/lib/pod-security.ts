/**
 * The one definition of a pod that Pod Security Admission `restricted`
 * accepts, for everything this platform runs in Vault's namespace: the Vault
 * server (through the chart's values), the unsealer and the snapshot job.
 */

/** uid and gid of the `vault` user in the official Vault image. */
export const VAULT_UID = 100;
export const VAULT_GID = 1000;

/**
 * Non-root as the image's vault user, RuntimeDefault seccomp. fsGroup makes
 * mounted Secret and token files (root-owned) readable by the vault group.
 */
export const POD_SECURITY_CONTEXT = {
    runAsNonRoot: true,
    runAsUser: VAULT_UID,
    runAsGroup: VAULT_GID,
    fsGroup: VAULT_GID,
    seccompProfile: { type: "RuntimeDefault" },
};

/** Nothing to escalate, no capabilities, a read-only root filesystem. */
export const CONTAINER_SECURITY_CONTEXT = {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
};
