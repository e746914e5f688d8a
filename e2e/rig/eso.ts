/**
 * The real External Secrets Operator controller (Vault provider only) as a
 * local process against the rig's API server. It runs with the rig's admin
 * kubeconfig (in a cluster it has its own ServiceAccount and RBAC); without
 * its webhook, which the rig does not need. Leader election is off; its
 * health and metrics endpoints bind to free loopback ports.
 */
import { Cluster } from "./kube";
import { freePort, Rig, RigProcess } from "./processes";

const READY_MS = 60_000;

export interface RigEso {
    readonly process: RigProcess;
}

export async function startEso(rig: Rig, cluster: Cluster, bin: string, log = console.log): Promise<RigEso> {
    const [live, metrics] = [await freePort(), await freePort()];
    const proc = rig.start(
        "external-secrets",
        bin,
        [
            `--live-addr=127.0.0.1:${live}`,
            `--metrics-addr=127.0.0.1:${metrics}`,
            "--enable-leader-election=false",
            // Quick store re-checks so a scenario sees status changes within seconds.
            "--store-requeue-interval=10s",
            "--loglevel=info",
        ],
        { env: { PATH: "/usr/bin:/bin", HOME: rig.subdir("eso"), KUBECONFIG: cluster.kubeconfig } },
    );
    const ms = await rig.waitReady(
        proc,
        `200 from http://127.0.0.1:${live}/healthz`,
        async () => (await fetch(`http://127.0.0.1:${live}/healthz`, { signal: AbortSignal.timeout(2_000) })).ok,
        READY_MS,
    );
    log(`  external-secrets controller live in ${ms} ms`);
    return { process: proc };
}
