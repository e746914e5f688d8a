/**
 * Pods on the node, through the API server and (for exec) containerd. The
 * API server cannot reach the kubelet (the node's network namespace has no
 * link to the host), so `exec` runs the command through containerd in the
 * container, as `kubectl exec` would through the kubelet: same user,
 * capabilities, seccomp profile and namespaces as the container's own process.
 */
import * as crypto from "crypto";
import { Cluster, expectStatus } from "../rig/kube";
import { runCommand, RunResult } from "./exec";

export interface PodRef {
    readonly namespace: string;
    readonly name: string;
}

interface ContainerStatus {
    name: string;
    containerID?: string;
    ready?: boolean;
    state?: { running?: unknown; waiting?: { reason?: string; message?: string }; terminated?: { exitCode: number } };
}

export interface RunningPod {
    readonly podIp: string;
    /** containerd's id of each container, by name. */
    readonly containerIds: Readonly<Record<string, string>>;
    /** Milliseconds from the wait's start to Running with every container ready. */
    readonly ms: number;
}

/** The pod security context the project's own pods run with (uid 100, gid 1000). */
export const PROJECT_POD_SECURITY = {
    runAsNonRoot: true,
    runAsUser: 100,
    runAsGroup: 1000,
    fsGroup: 1000,
    seccompProfile: { type: "RuntimeDefault" },
} as const;

/** The project's container security context: no capabilities, no privilege escalation, a read-only root. */
export const PROJECT_CONTAINER_SECURITY = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
} as const;

export async function createObject(cluster: Cluster, urlPath: string, body: unknown): Promise<void> {
    expectStatus(`create ${urlPath}`, await cluster.request("POST", urlPath, body));
}

/** Waits until the pod runs with every container ready; fails early on a container that cannot start. */
export async function waitPodRunning(cluster: Cluster, ref: PodRef, deadlineMs = 120_000): Promise<RunningPod> {
    const start = Date.now();
    let last = "not found";
    for (;;) {
        const res = await cluster.request("GET", `/api/v1/namespaces/${ref.namespace}/pods/${ref.name}`);
        if (res.status === 200) {
            const statuses: ContainerStatus[] = res.body.status?.containerStatuses ?? [];
            const phase: string = res.body.status?.phase ?? "?";
            for (const s of statuses) {
                const reason = s.state?.waiting?.reason;
                if (
                    reason !== undefined &&
                    /ErrImage|ImagePull|CreateContainerConfigError|InvalidImageName/.test(reason)
                ) {
                    throw new Error(
                        `pod ${ref.namespace}/${ref.name}: ${s.name}: ${reason}: ${s.state?.waiting?.message ?? ""}`,
                    );
                }
            }
            if (phase === "Running" && statuses.length > 0 && statuses.every((s) => s.ready === true)) {
                const containerIds: Record<string, string> = {};
                for (const s of statuses) containerIds[s.name] = (s.containerID ?? "").replace(/^containerd:\/\//, "");
                return { podIp: res.body.status.podIP, containerIds, ms: Date.now() - start };
            }
            last = `${phase}; ${statuses
                .map((s) => `${s.name}: ${JSON.stringify(s.state ?? {})}`)
                .join("; ")}; ${JSON.stringify(res.body.status?.conditions ?? [])}`;
            if (phase === "Failed" || phase === "Succeeded") {
                throw new Error(`pod ${ref.namespace}/${ref.name} ended (${last})`);
            }
        }
        if (Date.now() - start > deadlineMs) {
            throw new Error(
                `pod ${ref.namespace}/${ref.name} not running within ${deadlineMs} ms: ${last.slice(0, 1500)}`,
            );
        }
        await new Promise((r) => setTimeout(r, 250));
    }
}

/** Runs argv in a running container through containerd (see the header); never throws on a non-zero exit. */
export async function execInContainer(
    ctrArgv: (args: readonly string[]) => { bin: string; args: string[] },
    containerId: string,
    argv: readonly string[],
    timeoutMs = 30_000,
): Promise<RunResult> {
    const execId = `e2e-${crypto.randomBytes(4).toString("hex")}`;
    const e = ctrArgv(["tasks", "exec", "--exec-id", execId, containerId, ...argv]);
    return runCommand(e.bin, e.args, { timeoutMs });
}
