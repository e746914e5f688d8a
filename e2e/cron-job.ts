/**
 * A CronJob run now, as `kubectl create job --from=cronjob/<name> <job>`
 * does it, on the node: the Job made from the CronJob's template, waited for
 * until Complete (or Failed, or a deadline: then an error with each pod's
 * status and the last lines of each named container's log), its pods, and
 * the containers' logs as the kubelet wrote them. The KV export drill
 * (backup-drill.ts) and the raft snapshot drill (drills/raft-snapshot.ts)
 * both run their CronJob this way.
 */
import * as fs from "fs";
import * as path from "path";
import { Cluster, expectStatus } from "./rig/kube";
import { Rig } from "./rig/processes";

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * What `kubectl create job --from=cronjob/<name> <job>` makes (kubectl's
 * createJobFromCronJob): the template's spec, labels and annotations, the
 * annotation cronjob.kubernetes.io/instantiate=manual, and the CronJob as
 * owner.
 */
export function jobFromCronJob(cronJob: any, name: string): any {
    const template = cronJob.spec.jobTemplate;
    return {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: {
            name,
            namespace: cronJob.metadata.namespace,
            annotations: { "cronjob.kubernetes.io/instantiate": "manual", ...template.metadata?.annotations },
            ...(template.metadata?.labels === undefined ? {} : { labels: template.metadata.labels }),
            ownerReferences: [
                { apiVersion: "batch/v1", kind: "CronJob", name: cronJob.metadata.name, uid: cronJob.metadata.uid },
            ],
        },
        spec: template.spec,
    };
}

/** A container's lines from the node's pod logs (CRI format: time, stream, tag, text). */
export function podLog(rig: Rig, pod: any, container: string): string[] {
    // The kubelet's /var/log is the rig dir node/namespaces/host/var-log (node/netns.ts).
    const dir = path.join(rig.dir, "node", "namespaces", "host", "var-log", "pods");
    const podDir = `${pod.metadata.namespace}_${pod.metadata.name}_${pod.metadata.uid}`;
    const logs = path.join(dir, podDir, container);
    if (!fs.existsSync(logs)) return [];
    return fs
        .readdirSync(logs)
        .sort()
        .flatMap((f) => fs.readFileSync(path.join(logs, f), "utf8").split("\n"))
        .filter((l) => l !== "")
        .map((l) => l.split(" ").slice(3).join(" "));
}

export interface ManualJob {
    /** The Job as created. */
    readonly job: any;
    /** The Job once Complete. */
    readonly done: any;
    /** Its pods once Complete. */
    readonly pods: any[];
    /** From the Job's creation to Complete. */
    readonly ms: number;
}

/**
 * `kubectl create job --from=cronjob/<cronJob.metadata.name> <jobName>`, then
 * waits for the Job to complete. `what` names the Job in the error; `containers`
 * are the containers whose logs the error quotes.
 */
export async function runJobFromCronJob(
    rig: Rig,
    cluster: Cluster,
    cronJob: any,
    jobName: string,
    opts: { what: string; containers: readonly string[]; deadlineMs: number },
): Promise<ManualJob> {
    const ns = cronJob.metadata.namespace as string;
    const created = Date.now();
    const job = expectStatus(
        `create Job ${jobName}`,
        await cluster.request("POST", `/apis/batch/v1/namespaces/${ns}/jobs`, jobFromCronJob(cronJob, jobName)),
    ).body;
    const jobPath = `/apis/batch/v1/namespaces/${ns}/jobs/${jobName}`;
    const pods = async () =>
        (
            await cluster.request(
                "GET",
                `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(`batch.kubernetes.io/job-name=${jobName}`)}`,
            )
        ).body.items as any[];
    for (;;) {
        const j = (await cluster.request("GET", jobPath)).body;
        const cond = (type: string) =>
            (j.status?.conditions ?? []).some((c: any) => c.type === type && c.status === "True");
        if (cond("Complete")) return { job, done: j, pods: await pods(), ms: Date.now() - created };
        if (cond("Failed") || Date.now() - created > opts.deadlineMs) {
            const logs = (await pods()).map((p) => ({
                pod: p.metadata.name,
                status: p.status,
                ...Object.fromEntries(opts.containers.map((c) => [c, podLog(rig, p, c).slice(-20)])),
            }));
            throw new Error(
                `${opts.what} ${jobName} did not complete: ${JSON.stringify({ status: j.status, logs }).slice(0, 6000)}`,
            );
        }
        await new Promise((r) => setTimeout(r, 500));
    }
}
