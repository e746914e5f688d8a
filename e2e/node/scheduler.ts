/** kube-scheduler on the host's loopback (it only talks to the API server), as system:kube-scheduler. */
import * as https from "https";
import { RigCa } from "../rig/pki";
import { freePort, Rig, RigProcess } from "../rig/processes";
import { clientKubeconfig } from "./identity";
import { NodeTools } from "./tools";

const SCHEDULER_READY_MS = 60_000;

function healthz(port: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
        // Its serving certificate is self-signed, and /healthz is all that is asked of it.
        const req = https.get(
            { host: "127.0.0.1", port, path: "/healthz", rejectUnauthorized: false, timeout: 2_000 },
            (res) => {
                res.resume();
                resolve(res.statusCode === 200);
            },
        );
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
    });
}

export async function startScheduler(
    rig: Rig,
    ca: RigCa,
    tools: NodeTools,
    opts: { dir: string; server: string },
    log: (line: string) => void,
): Promise<RigProcess> {
    // The RBAC bootstrap policy binds system:kube-scheduler (and system:volume-scheduler) to this user.
    const kubeconfig = await clientKubeconfig(ca, opts.dir, "kube-scheduler", opts.server, {
        commonName: "system:kube-scheduler",
    });
    const port = await freePort();
    const proc = rig.start("kube-scheduler", tools.kubeScheduler, [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        "--bind-address=127.0.0.1",
        `--secure-port=${port}`,
        "--leader-elect=false",
        "--v=1",
    ]);
    const ms = await rig.waitReady(proc, `/healthz on 127.0.0.1:${port}`, () => healthz(port), SCHEDULER_READY_MS);
    log(`  kube-scheduler ready in ${ms} ms`);
    return proc;
}
