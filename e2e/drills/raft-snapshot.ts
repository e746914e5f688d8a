/**
 * Drill 3, snapshots that restore (docs/disaster-recovery.md, "HA (raft)
 * mode: snapshots"; docs/architecture/snapshots.md).
 *
 * - snapshotJob: the snapshot CronJob run now, as `kubectl create job
 *   --from=cronjob/vault-snapshot` does (e2e/cron-job.ts); the snapshot and
 *   latest.json land in the rig's bucket through the node's TLS endpoint
 *   (the upload verifies it against trust.caBundle), checked through the S3
 *   API.
 * - restoreOnNewCluster: the cluster lost with its raft volumes (the data),
 *   the bucket and the Pulumi state kept, a new cluster made
 *   (new-cluster.ts), and the runbook's raft restore followed step by step:
 *   the refresh, `server.replicas` 1 and `pulumi up` stopping on the
 *   wiped-storage message, the snapshot fetched from the bucket, vault-0
 *   initialized with temporary keys, `vault operator raft snapshot restore
 *   -force` with their root token, the pod deleted, the unsealer unsealing it
 *   with the original shares, `server.replicas` 3 and `pulumi up` (the
 *   scale-up of drill 1). Checked: the same Vault
 *   (cluster id), every secret by value (from the host and from a pod in the
 *   new cluster), the secret written after the snapshot gone, the temporary
 *   root token dead, VaultInit untouched, no Vault configuration remade.
 */
import * as crypto from "crypto";
import * as https from "https";
import { SNAPSHOT_NAME } from "../../components/lib/contracts";
import { wipedStorageMessage } from "../../components/lib/vault-init";
import { podLog, runJobFromCronJob } from "../cron-job";
import { Timing } from "../figures";
import { expectStatus } from "../rig/kube";
import { nameOf, noChange, PodRig, stepCollector } from "../scenario";
import { DrillBucket } from "./bucket";
import { RUNBOOK_REFRESH_EXCLUDE } from "./cluster-loss";
import {
    check,
    Drill,
    keysSecret,
    readAllAsRoot,
    readAllInCluster,
    stateSharesDigest,
    until,
    upFollowingService,
    vaultRelay,
} from "./drill";
import { ClusterMaker, loseCluster, newCluster } from "./new-cluster";
import { allJoinedAndUnsealed, initOps, raftPeers, serverPods, setServerKey } from "./raft-ha";

/* eslint-disable @typescript-eslint/no-explicit-any */

const REPLICAS = 3;

export interface Snapshot {
    /** The object's key in the bucket. */
    readonly key: string;
    /** SHA-256 of its bytes. */
    readonly digest: string;
    readonly bytes: number;
}

const sha256 = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

/** The snapshot CronJob run now; its snapshot checked in the bucket. */
export async function snapshotJob(
    d: Drill,
    r: PodRig,
    bucket: DrillBucket,
    uploadImage: string,
): Promise<{ snapshot: Snapshot; timings: Timing[] }> {
    const ns = d.vaultNamespace;
    const cronJob = expectStatus(
        `CronJob ${ns}/${SNAPSHOT_NAME}`,
        await r.cluster.request("GET", `/apis/batch/v1/namespaces/${ns}/cronjobs/${SNAPSHOT_NAME}`),
    ).body;
    const spec = cronJob.spec.jobTemplate.spec.template.spec;
    const upload = spec.containers.find((c: any) => c.name === "upload");
    const env = (name: string) => upload.env.find((e: any) => e.name === name)?.value as string | undefined;
    const keyPrefix = String(env("SNAPSHOT_KEY_PREFIX"));
    check(upload.image === uploadImage, "the upload step runs server.snapshots.image", upload.image);
    check(
        env("S3_ENDPOINT") === `https://${r.s3.at.host}:${r.s3.at.port}` && env("AWS_CA_BUNDLE") !== undefined,
        "the upload goes to the rig's S3 over TLS, verified against the trust CA",
        upload.env,
    );
    check(
        env("SNAPSHOT_BUCKET") === r.s3.server.bucket && keyPrefix === `${d.prefix}snapshots/`,
        "to storage.bucket under storage.prefix + server.snapshots.prefix",
        upload.env,
    );
    const jobName = `${SNAPSHOT_NAME}-manual-${crypto.randomBytes(3).toString("hex")}`;
    const job = await runJobFromCronJob(d.rig, r.cluster, cronJob, jobName, {
        what: "the raft snapshot Job",
        containers: ["save", "upload"],
        deadlineMs: 300_000,
    });
    check(
        job.done.status.succeeded === 1 && (job.done.status.failed ?? 0) === 0,
        "one pod, succeeded on the first try",
        job.done.status,
    );
    const keys = await bucket.keys(keyPrefix);
    const key = keys.find((k) => /\/raft-\d{8}T\d{6}Z\.snap$/.test(k)) ?? "";
    check(
        JSON.stringify(keys) === JSON.stringify([`${keyPrefix}latest.json`, key].sort()),
        "the snapshot and latest.json under the prefix",
        keys,
    );
    const objects = await bucket.copy(keyPrefix);
    const body = objects.get(key)!;
    const latest = JSON.parse(objects.get(`${keyPrefix}latest.json`)!.toString("utf8")) as {
        object: string;
        bytes: number;
    };
    check(
        latest.object === key.slice(keyPrefix.length) && latest.bytes === body.length && body.length > 0,
        "latest.json names the snapshot and its size",
        { latest, bytes: body.length },
    );
    // A raft snapshot is a gzipped archive.
    check(body[0] === 0x1f && body[1] === 0x8b, "the object is a gzip stream (a raft snapshot)", body.subarray(0, 4));
    const pod = job.pods[0];
    const saveLog = podLog(d.rig, pod, "save");
    const uploadLog = podLog(d.rig, pod, "upload");
    check(
        saveLog.some((l) => l.includes(`saved ${latest.object} (${body.length} bytes)`)) &&
            uploadLog.some((l) => l.includes(`uploaded s3://${r.s3.server.bucket}/${key}`)),
        "each step logged its work",
        { saveLog, uploadLog },
    );
    d.log(
        `  drill 3, the snapshot: Job ${jobName} (from CronJob ${SNAPSHOT_NAME}, instantiate=manual) Complete in ` +
            `${(job.ms / 1000).toFixed(1)} s; ${key} (${body.length} bytes, gzip) and latest.json in bucket ` +
            `${r.s3.server.bucket} through https://${r.s3.at.host}:${r.s3.at.port} (the upload verified the rig CA)`,
    );
    return {
        snapshot: { key, digest: sha256(body), bytes: body.length },
        timings: [
            { what: "drill 3: the snapshot Job (kubectl create job --from=cronjob) created to Complete", ms: job.ms },
        ],
    };
}

/** POST of raw bytes to Vault through the relay (the snapshot restore's body is the snapshot itself). */
function postRaw(
    address: string,
    caPem: string,
    urlPath: string,
    body: Buffer,
    token: string,
): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
        const req = https.request(
            `${address}${urlPath}`,
            {
                method: "POST",
                ca: caPem,
                timeout: 120_000,
                headers: { "X-Vault-Token": token, "Content-Type": "application/octet-stream" },
            },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () =>
                    resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
                );
                res.on("error", reject);
            },
        );
        req.on("timeout", () => req.destroy(new Error(`timeout: POST ${urlPath}`)));
        req.on("error", reject);
        req.end(body);
    });
}

/** The cluster lost, a new one, the runbook's raft restore; returns the new rig and the figures. */
export async function restoreOnNewCluster(
    d: Drill,
    r: PodRig,
    make: ClusterMaker,
    bucket: DrillBucket,
    snapshot: Snapshot,
    /** A secret written after the snapshot (path under the mount): the restore loses it. */
    afterSnapshot: string,
    volumes: (next: PodRig) => Promise<void>,
): Promise<{ rig: PodRig; timings: Timing[] }> {
    const log = d.log;
    const ns = d.vaultNamespace;
    const health = await d.vault.request("GET", "/v1/sys/health");
    const clusterId = String(health.body?.cluster_id ?? "");
    check(clusterId !== "", "Vault reports a cluster id", health.body);
    const sealBefore = await d.vault.request("GET", "/v1/sys/seal-status");
    const secretBefore = await keysSecret(r.cluster, d);
    const stateBefore = await stateSharesDigest(d.stack);

    // The loss: the cluster with its raft volumes. Kept: the bucket (the snapshot), the state (the shares).
    await loseCluster(d.rig, r, log);
    const port = Number(new URL(d.address).port);
    const recoverStart = Date.now();
    const next = await newCluster(d.rig, r.ca, make, r, log);
    await volumes(next);
    const relay = await vaultRelay(next, port);
    check(relay.address === d.address, "vault.address is the same relay address", relay.address);
    const clusterMs = Date.now() - recoverStart;

    // The refresh of "Recovery after losing the cluster", step 2.1.
    const refresh = await d.stack.refresh({ onOutput: () => undefined, exclude: RUNBOOK_REFRESH_EXCLUDE });
    check(refresh.summary.result === "succeeded", "the runbook's refresh succeeds", refresh.summary);
    const kept = `vault-init: ${d.address} unreachable; state kept as it was`;
    check(refresh.stdout.includes(kept), "init keeps its state", refresh.stdout.slice(-3000));

    // Step 1: one replica (pulumi config set --path server.replicas 1), then `pulumi up` makes the server and
    // stops: vault-0 is empty and this stack initialized Vault.
    setServerKey(d.stack, "replicas", 1);
    let start = Date.now();
    let refused = "";
    await upFollowingService(d.stack, next.cluster, relay, ns, { onOutput: () => undefined }).catch(
        (e: Error) => (refused = e.message),
    );
    const refusedMs = Date.now() - start;
    const wiped = wipedStorageMessage(d.address);
    check(refused.includes(wiped), "pulumi up stops on the wiped-storage message", refused.slice(-3000));
    const secretNow = await keysSecret(next.cluster, d);
    check(
        secretNow.data === secretBefore.data,
        "the up recreated the keys Secret from the state: the original shares",
        "",
    );
    const unsealerLoop = await next.cluster.request("GET", `/apis/apps/v1/namespaces/${ns}/deployments/vault-unsealer`);
    check(unsealerLoop.status === 200, "the unsealer runs (it will unseal with those shares)", unsealerLoop.status);
    log(
        `  drill 3, new cluster in ${clusterMs} ms; pulumi refresh (the runbook's excludes): "${kept}"; pulumi up stopped ` +
            `in ${refusedMs} ms on the wiped-storage message; the keys Secret recreated from the state, byte for byte the old one`,
    );

    // Restore step 2: vault-0 alone, initialized with temporary keys.
    start = Date.now();
    await until("only vault-0 runs, uninitialized", 180_000, async () => {
        const pods = await serverPods(next.cluster, ns);
        if (pods.length !== 1 || pods[0].name !== "vault-0") return undefined;
        const s = await d.vault.request("GET", "/v1/sys/seal-status");
        return s.status === 200 && s.body.initialized === false ? true : undefined;
    });
    // Step 1: the snapshot fetched from the bucket (aws s3 cp).
    const fetched = (await bucket.copy(snapshot.key)).get(snapshot.key);
    check(
        fetched !== undefined && sha256(fetched) === snapshot.digest,
        "the snapshot fetched is the one the job uploaded",
        fetched?.length,
    );
    const init = await d.vault.request("PUT", "/v1/sys/init", { secret_shares: 1, secret_threshold: 1 });
    check(init.status === 200, "vault-0 initializes with temporary keys", init.status);
    const tempRoot = String(init.body.root_token);
    await until("vault-0 unsealed with the temporary key and active", 120_000, async () => {
        const u = await d.vault.request("PUT", "/v1/sys/unseal", { key: init.body.keys_base64[0] });
        const h = await d.vault.request("GET", "/v1/sys/health");
        return u.status === 200 && h.status === 200 ? true : undefined;
    });
    // Step 3: vault operator raft snapshot restore -force, with the temporary root token.
    const restored = await postRaw(d.address, r.ca.pem(), "/v1/sys/storage/raft/snapshot-force", fetched!, tempRoot);
    check(restored.status === 204, "the forced restore is accepted", restored);
    // Step 5: Vault seals itself with the snapshot's barrier, but (with retry_join in its config, as the
    // chart's raft HA config has) keeps the temporary seal configuration until it restarts, and refuses
    // the original shares (found by this drill's first run; docs/disaster-recovery.md). The pod deleted.
    const sealedTemp = await until("vault-0 seals itself after the restore", 120_000, async () => {
        const s = await d.vault.request("GET", "/v1/sys/seal-status");
        return s.status === 200 && s.body.sealed === true ? s.body : undefined;
    });
    const before0 = (await serverPods(next.cluster, ns)).find((p) => p.name === "vault-0");
    expectStatus("delete pod vault-0", await next.cluster.request("DELETE", `/api/v1/namespaces/${ns}/pods/vault-0`));
    await until("vault-0's new pod", 180_000, async () => {
        const p = (await serverPods(next.cluster, ns)).find((x) => x.name === "vault-0");
        return p !== undefined && p.uid !== before0?.uid && !p.terminating ? p : undefined;
    });
    // Step 6: the unsealer unseals it with the original shares.
    const unsealed = await until("vault-0 unsealed with the original shares", 300_000, async () => {
        const s = await d.vault.request("GET", "/v1/sys/seal-status");
        return s.status === 200 &&
            s.body.initialized === true &&
            s.body.sealed === false &&
            s.body.n === sealBefore.body.n &&
            s.body.t === sealBefore.body.t &&
            s.body.cluster_id === clusterId
            ? s.body
            : undefined;
    });
    const tempDead = await d.vault.request("GET", "/v1/auth/token/lookup-self", undefined, tempRoot);
    check(tempDead.status === 403, "the temporary root token is gone with the temporary barrier", tempDead.status);
    const restoreMs = Date.now() - start;

    // Step 7: back to the stack's replicas (server.replicas 3) and `pulumi up`: the others join the restored
    // leader, the unsealer unseals each, and the up waits for a pod that serves (the scale-up of drill 1).
    setServerKey(d.stack, "replicas", REPLICAS);
    start = Date.now();
    const steps = stepCollector();
    const up = await d.stack.up({ onOutput: () => undefined, onEvent: steps.onEvent });
    check(up.summary.result === "succeeded", "the runbook's pulumi up succeeds", up.summary);
    const ops = initOps(steps.steps);
    check(ops.length === 1 && ops[0] === "same", "VaultInit is left as it is (nothing re-initialized)", ops);
    const remade = steps.steps.filter((s) => s.type.startsWith("vault:") && !["same", "update"].includes(s.op));
    check(
        remade.length === 0,
        "no Vault configuration is created or replaced",
        remade.map((s) => `${s.op} ${nameOf(s.urn)}`),
    );
    const upMs = Date.now() - start;
    // Ready alone is not joined: raft must list every pod as a voter too.
    await until(`${REPLICAS} pods Ready and raft voters`, 300_000, async () => {
        const pods = await serverPods(next.cluster, ns);
        if (pods.length !== REPLICAS || !pods.every((p) => p.ready && !p.terminating)) return undefined;
        const peers = await raftPeers(d.vault, d.root);
        return peers.length === REPLICAS && peers.every((p) => p.voter) ? true : undefined;
    });
    const scaleMs = Date.now() - start;
    const quiet = await d.stack.preview({ onOutput: () => undefined, expectNoChanges: true });
    check(noChange(quiet.changeSummary).length === 0, "pulumi preview --expect-no-changes", quiet.changeSummary);

    // Verified: every secret by value, the one written after the snapshot gone, every pod joined and unsealed.
    await readAllAsRoot(d);
    const after = await d.vault.request("GET", `/v1/${d.clusterMount}/data/${afterSnapshot}`, undefined, d.root);
    check(after.status === 404, "the secret written after the snapshot is gone (the runbook says so)", after.status);
    const reads = await readAllInCluster(d, next);
    const recoveredMs = Date.now() - recoverStart;
    const view = reads.view;
    const pods = await allJoinedAndUnsealed(
        {
            cluster: next.cluster,
            node: next.node,
            vault: d.vault,
            root: d.root,
            namespace: ns,
            from: { namespace: view.serviceAccount.namespace, name: "e2e-drill-consumer" },
        },
        REPLICAS,
        new URL(view.server).protocol.replace(":", ""),
        120_000,
    );
    check((await stateSharesDigest(d.stack)) === stateBefore, "the state's shares are the same", "");
    log(
        `  drill 3, the restore: vault-0 alone, initialized with 1 temporary share, unsealed, snapshot ${snapshot.key} ` +
            `(${snapshot.bytes} bytes, fetched through the S3 API) restored with -force; sealed itself (still t=${sealedTemp.t} n=${sealedTemp.n}), ` +
            `the pod deleted, unsealed by the unsealer with the original ${unsealed.t} of ${unsealed.n} shares, cluster id ${clusterId} as before, ` +
            `the temporary root token refused (${restoreMs} ms); server.replicas ${REPLICAS} and pulumi up in ${upMs} ms ` +
            `${JSON.stringify(up.summary.resourceChanges)} with VaultInit same (slowest steps: ${steps.slowest(4).join(", ")}), ${pods.map((p) => p.name).join(", ")} ` +
            `joined and unsealed ${scaleMs} ms after the up's start, then no change; all ${Object.keys(d.secrets).length} secrets read by value from the host and by ` +
            `the consumer pod in the new cluster, ${afterSnapshot} (written after the snapshot) gone; recovered in ` +
            `${recoveredMs} ms from the new cluster's start`,
    );
    return {
        rig: next,
        timings: [
            { what: "drill 3: a new cluster (control plane, CRDs, node, relays, volumes)", ms: clusterMs },
            { what: "drill 3: init, restore -force, unsealed with the original shares", ms: restoreMs },
            { what: "drill 3: server.replicas 3, the pulumi up after the restore", ms: upMs },
            { what: "drill 3: that up's start to every pod Ready and a raft voter", ms: scaleMs },
            {
                what: "drill 3: time to restore, the new cluster's start to every secret read in-cluster",
                ms: recoveredMs,
            },
        ],
    };
}
