/**
 * Issue 22's raft drills on the node, a scenario of their own (`npm run
 * e2e:raft-drills`): one stack of the stack file with raft storage, set
 * through the product's config keys as a single-node homelab user sets them
 * (raftStackConfig), its raft and audit volumes the rig's local PVs. Then
 *
 * - drill 1 (raft-ha.ts): the first `up` with one replica, secrets written,
 *   scaled to three; every pod joined and unsealed, bootstrap once;
 * - drill 3, first half (raft-snapshot.ts): the snapshot CronJob run now,
 *   its snapshot in the rig's bucket over TLS; a secret written after it;
 * - drill 2 (raft-rolling.ts): the budget with a sealed pod, and a rolling
 *   change with its read gap;
 * - drill 3, second half: the cluster lost, the snapshot restored on a new
 *   one as docs/disaster-recovery.md says, every secret back by value.
 *
 * A drill that fails stops the run (the next would start from a state no
 * runbook describes), except where an operator would carry on: a failed
 * scale-up `up` of drill 1 (run again once every pod is unsealed) and drill
 * 2. Those are reported, the drills after them still run, and the run fails
 * at its end.
 */
import * as crypto from "crypto";
import { breakGlassRoot, newKey, stackFacts } from "../consumers";
import { Timing } from "../figures";
import { awsCliImage } from "../node/aws-cli-image";
import { nodeTools } from "../node/tools";
import { Cluster } from "../rig/kube";
import { Rig } from "../rig/processes";
import { copyProject, ProjectCopy } from "../rig/project";
import { createStack, Engine } from "../rig/pulumi";
import { vaultClient } from "../rig/vault";
import { localVolume, noChange, PodRig, podStackConfig, stepCollector } from "../scenario";
import { drillBucket } from "./bucket";
import {
    check,
    Drill,
    prerequisites,
    readAllAsRoot,
    readAllInCluster,
    upFollowingService,
    vaultRelay,
    writeSecrets,
} from "./drill";
import { ClusterMaker } from "./new-cluster";
import { allJoinedAndUnsealed, checkHaObjects, initOps, scaleToHa } from "./raft-ha";
import { rollingDrill } from "./raft-rolling";
import { restoreOnNewCluster, snapshotJob } from "./raft-snapshot";

const NS = "secret-platform";
const SECRET_COUNT = 8;
/** The replicas the drills run: raft's smallest quorum that survives a pod. */
export const RAFT_REPLICAS = 3;
/** The raft data volume's size on the rig (server.dataStorage.size). */
export const RAFT_DATA_SIZE = "1Gi";

/**
 * The rig's stack config (podStackConfig) made a raft stack through the
 * product's keys: server.storageBackend raft, server.replicas (1 for the
 * first up, as docs/bootstrap.md says, then 3), server.antiAffinity
 * preferred (one node), server.dataStorage on the rig's StorageClass (the
 * audit volume's), server.snapshots on with the upload image built here.
 */
export function raftStackConfig(
    base: Record<string, unknown>,
    uploadImage: string,
    replicas: number,
): Record<string, unknown> {
    const server = (base[`${NS}:server`] ?? {}) as Record<string, unknown>;
    const audit = (server.auditStorage ?? {}) as { storageClass?: string };
    return {
        ...base,
        [`${NS}:server`]: {
            ...server,
            storageBackend: "raft",
            replicas,
            antiAffinity: "preferred",
            dataStorage: { size: RAFT_DATA_SIZE, storageClass: audit.storageClass },
            snapshots: { enabled: true, image: uploadImage },
        },
    };
}

/** The prerequisites and every pod's raft and audit volume (the rig's local PVs, made before the claims). */
async function raftVolumes(rig: Rig, cluster: Cluster, config: Record<string, unknown>): Promise<void> {
    await prerequisites(rig, cluster, config);
    const namespace = stackFacts(config).vaultNamespace;
    const server = config[`${NS}:server`] as { auditStorage?: { size?: string } };
    for (let i = 0; i < RAFT_REPLICAS; i++) {
        if (i > 0) {
            const size = server.auditStorage?.size ?? "2Gi";
            await localVolume(rig, cluster, { namespace, name: `audit-vault-${i}`, size });
        }
        await localVolume(rig, cluster, { namespace, name: `data-vault-${i}`, size: RAFT_DATA_SIZE });
    }
}

export interface RaftDrillsResult {
    /** The rig after the drills: drill 3's new cluster and node (the node to tear down at the end). */
    readonly rig: PodRig;
    readonly timings: readonly Timing[];
    /** Drills that failed without stopping the run (drill 2): the run fails after the node's teardown. */
    readonly failures: readonly string[];
}

export async function raftDrills(
    rig: Rig,
    engine: Engine,
    project: ProjectCopy,
    stackFile: string,
    r: PodRig,
    make: ClusterMaker,
    log = console.log,
): Promise<RaftDrillsResult> {
    const upload = await awsCliImage(nodeTools());
    await r.node.loadImage(upload);
    const relay = await vaultRelay(r);
    const vault = vaultClient(relay.address, r.ca.pem());
    const config = raftStackConfig(podStackConfig(stackFile, r, relay.address), upload.ref, 1);
    const facts = stackFacts(config);
    const ns = facts.vaultNamespace;
    await raftVolumes(rig, r.cluster, config);
    const program = copyProject(rig, project.dir, { name: "project-raft-drills" });
    const stack = await createStack(rig, engine, {
        stackName: `e2e-raft-${crypto.randomBytes(3).toString("hex")}`,
        workDir: program.dir,
        config,
    });
    for (const key of ["storageAccessKeyId", "storageSecretAccessKey", "oidcClientSecret"]) {
        await stack.setConfig(`${NS}:${key}`, { value: crypto.randomBytes(20).toString("hex"), secret: true });
    }

    // Drill 1: the first up, with one replica (docs/bootstrap.md, raft HA).
    const start = Date.now();
    const steps = stepCollector();
    const up = await upFollowingService(stack, r.cluster, relay, ns, {
        onOutput: () => undefined,
        onEvent: steps.onEvent,
    });
    const firstUpMs = Date.now() - start;
    const changes = up.summary.resourceChanges ?? {};
    check(
        up.summary.result === "succeeded" && noChange(changes).every(([op]) => op === "create"),
        "the first up creates",
        changes,
    );
    check(
        JSON.stringify(initOps(steps.steps)) === JSON.stringify(["create"]),
        "bootstrap initializes Vault (one VaultInit create)",
        initOps(steps.steps),
    );
    const [keysNs, keysName] = String(up.outputs.unsealKeysSecret?.value ?? "").split("/");
    check(keysName !== undefined, "unsealKeysSecret names a Secret (the drills need unseal.mode shamir)", up.outputs);
    const store = String(up.outputs.clusterSecretStore?.value ?? "");
    const consumers = { cluster: r.cluster, vault, caPem: r.ca.pem(), reach: () => ({ address: relay.address }) };
    // With one pod behind the Service, generate-root's steps all reach it.
    const root = await breakGlassRoot(consumers, keysNs, keysName);
    const secrets = await writeSecrets(vault, root, facts.clusterMount, "raft-drills", SECRET_COUNT);
    const d: Drill = {
        rig,
        stack,
        config,
        address: relay.address,
        vault,
        vaultNamespace: ns,
        keys: { namespace: keysNs, name: keysName },
        prefix: String((config[`${NS}:storage`] as { prefix?: string }).prefix ?? ""),
        root,
        secrets,
        clusterMount: facts.clusterMount,
        store,
        log,
    };
    const first = await readAllInCluster(d, r);
    const from = { namespace: first.view.serviceAccount.namespace, name: "e2e-drill-consumer" };
    const scheme = new URL(first.view.server).protocol.replace(":", "");
    log(
        `  drill 1, first up (raft, 1 replica) in ${firstUpMs} ms: ${JSON.stringify(changes)}, one VaultInit create; ` +
            `${SECRET_COUNT} secrets written and read by value by the consumer pod through store ${store}`,
    );
    const scaled = await scaleToHa({
        stack,
        cluster: r.cluster,
        node: r.node,
        vault,
        root,
        namespace: ns,
        from,
        scheme,
        replicas: RAFT_REPLICAS,
        log,
    });
    const objects = await checkHaObjects(r.cluster, ns, RAFT_REPLICAS);
    await readAllAsRoot(d);
    const reads = await readAllInCluster(d, r);
    log(
        `  drill 1 result: ${objects}; every secret read by value from the host and by the consumer pod (${reads.ms} ms)`,
    );
    const timings: Timing[] = [
        { what: "drill 1: the first up (raft, 1 replica)", ms: firstUpMs },
        { what: "drill 1: the scale-up's pulumi up (server.replicas 3)", ms: scaled.upMs },
        { what: "drill 1: the scale-up's start to every pod joined and unsealed", ms: scaled.joinedMs },
    ];

    // Drill 3, first half: a snapshot now, then a secret it does not hold.
    const bucket = drillBucket(r.s3.server.upstream, r.s3.server.bucket);
    const snap = await snapshotJob(d, r, bucket, upload.ref);
    timings.push(...snap.timings);
    const afterSnapshot = "raft-drills/after-snapshot";
    const late = await vault.request(
        "POST",
        `/v1/${facts.clusterMount}/data/${afterSnapshot}`,
        newKey({ value: "written after the snapshot" }),
        root,
    );
    check(late.status === 200, `write ${afterSnapshot}`, late.body);

    // Drill 2: its failure is reported, and the restore still runs on what it left (all pods back, or not).
    let rollingFailure: Error | undefined;
    try {
        timings.push(
            ...(await rollingDrill({
                stack,
                cluster: r.cluster,
                node: r.node,
                vault,
                root,
                namespace: ns,
                from,
                scheme,
                probe: {
                    path: `/v1/${facts.clusterMount}/data/raft-drills/secret-1`,
                    value: secrets["raft-drills/secret-1"],
                },
                log,
            })),
        );
    } catch (err) {
        rollingFailure = err as Error;
        log(`  drill 2 FAILED: ${rollingFailure.message.slice(0, 3000)}`);
        // What the restore starts from: every pod back, whatever drill 2 left.
        await allJoinedAndUnsealed(
            { cluster: r.cluster, node: r.node, vault, root, namespace: ns, from },
            RAFT_REPLICAS,
            scheme,
            300_000,
        );
    }

    // Drill 3, second half: the cluster lost, the snapshot restored on a new one.
    const restored = await restoreOnNewCluster(d, r, make, bucket, snap.snapshot, afterSnapshot, (next) =>
        raftVolumes(rig, next.cluster, config),
    );
    timings.push(...restored.timings);
    const failures = [
        ...(scaled.failure === undefined ? [] : [scaled.failure]),
        ...(rollingFailure === undefined ? [] : [`drill 2 failed: ${rollingFailure.message}`]),
    ];
    return { rig: restored.rig, timings, failures };
}
