/**
 * The one definition of a pod that Pod Security Admission `restricted`
 * accepts, for everything this platform runs in Vault's namespace: the Vault
 * server (through the chart's values), the unsealer and the snapshot job.
 */
import * as k8s from "@pulumi/kubernetes";

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

/** One step of a backup job's pod (snapshot save/upload, KV export/upload): restricted, with its own memory limit. */
export function jobStepContainer(
    name: string,
    image: string,
    command: string[],
    env: k8s.types.input.core.v1.EnvVar[],
    volumeMounts: k8s.types.input.core.v1.VolumeMount[],
    memoryLimit: string,
): k8s.types.input.core.v1.Container {
    return {
        name,
        image,
        imagePullPolicy: "IfNotPresent",
        command,
        env,
        volumeMounts,
        resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: memoryLimit } },
        securityContext: CONTAINER_SECURITY_CONTEXT,
    };
}
