/**
 * The day-2 drills (issue 22) on the node, a scenario of their own
 * (`npm run e2e:drills`): one stack comes up with the product's awaits,
 * secrets are written, then
 *
 * - drill 5 (wiped-storage.ts): the bucket's prefix emptied under a Vault
 *   whose keys Secret exists; `pulumi up` refuses; the objects put back as
 *   docs/disaster-recovery.md says, and Vault reads again;
 * - drill 6 (rotation.ts): the storage key rotated as
 *   docs/credential-rotation.md says, on the rig's S3 key check, the old key
 *   refused after its revocation; then internal TLS renewal (tls-renewal.ts)
 *   in a Vault pod with the program's tls-reloader;
 * - drill 4 (cluster-loss.ts): the cluster lost, a new one made, the
 *   runbook's recovery run to the letter; the same Vault reads every secret
 *   in-cluster.
 *
 * Each drill checks what it claims exactly and reports its times.
 */
import * as crypto from "crypto";
import { breakGlassRoot, stackFacts } from "../consumers";
import { Timing } from "../figures";
import { Rig } from "../rig/processes";
import { copyProject, ProjectCopy } from "../rig/project";
import { createStack, Engine } from "../rig/pulumi";
import { vaultClient } from "../rig/vault";
import { noChange, PodRig, podStackConfig } from "../scenario";
import { drillBucket } from "./bucket";
import { clusterLossDrill } from "./cluster-loss";
import { check, Drill, prerequisites, readAllInCluster, upFollowingService, vaultRelay, writeSecrets } from "./drill";
import { ClusterMaker } from "./new-cluster";
import { newStorageKey, rotationDrill, setStorageKey } from "./rotation";
import { tlsRenewalDrill } from "./tls-renewal";
import { wipedStorageDrill } from "./wiped-storage";

/** Secrets the drills write on the cluster's KV mount and read back by value. */
const SECRET_COUNT = 8;
const NS = "secret-platform";

export interface DrillsResult {
    /** The rig after the drills: the cluster and node of drill 4 (the node to tear down at the end). */
    readonly rig: PodRig;
    readonly timings: readonly Timing[];
}

export async function dayTwoDrills(
    rig: Rig,
    engine: Engine,
    project: ProjectCopy,
    stackFile: string,
    r: PodRig,
    make: ClusterMaker,
    log = console.log,
): Promise<DrillsResult> {
    const relay = await vaultRelay(r);
    const vault = vaultClient(relay.address, r.ca.pem());
    const config = podStackConfig(stackFile, r, relay.address);
    const facts = stackFacts(config);
    await prerequisites(rig, r.cluster, config);
    const program = copyProject(rig, project.dir, { name: "project-drills" });
    const stack = await createStack(rig, engine, {
        stackName: `e2e-drills-${crypto.randomBytes(3).toString("hex")}`,
        workDir: program.dir,
        config,
    });
    // The S3 server takes only this key from here on (drill 6 rotates it).
    const storageKey = newStorageKey();
    r.s3.server.guard.enforce(new Map([[storageKey.id, storageKey.secret]]));
    await setStorageKey(stack, storageKey);
    await stack.setConfig(`${NS}:oidcClientSecret`, { value: crypto.randomBytes(20).toString("hex"), secret: true });
    const start = Date.now();
    const up = await upFollowingService(stack, r.cluster, relay, facts.vaultNamespace, { onOutput: () => undefined });
    const changes = up.summary.resourceChanges ?? {};
    check(
        up.summary.result === "succeeded" && noChange(changes).every(([op]) => op === "create"),
        "the first up creates",
        changes,
    );
    const [keysNs, keysName] = String(up.outputs.unsealKeysSecret?.value ?? "").split("/");
    check(keysName !== undefined, "unsealKeysSecret names a Secret (the drills need unseal.mode shamir)", up.outputs);
    const store = String(up.outputs.clusterSecretStore?.value ?? "");
    const consumers = { cluster: r.cluster, vault, caPem: r.ca.pem(), reach: () => ({ address: relay.address }) };
    const root = await breakGlassRoot(consumers, keysNs, keysName);
    const secrets = await writeSecrets(vault, root, facts.clusterMount, "drills", SECRET_COUNT);
    const d: Drill = {
        rig,
        stack,
        config,
        address: relay.address,
        vault,
        vaultNamespace: facts.vaultNamespace,
        keys: { namespace: keysNs, name: keysName },
        prefix: String((config[`${NS}:storage`] as { prefix?: string }).prefix ?? ""),
        root,
        secrets,
        clusterMount: facts.clusterMount,
        store,
        log,
    };
    const first = await readAllInCluster(d, r);
    log(
        `  first up in ${Date.now() - start} ms (${JSON.stringify(changes)}); ${SECRET_COUNT} secrets written on ${facts.clusterMount}/drills/ ` +
            `and read by value by the consumer pod through store ${store} in ${first.ms} ms`,
    );

    const bucket = drillBucket(r.s3.server.upstream, r.s3.server.bucket);
    const wiped = await wipedStorageDrill(d, r, bucket);
    const rotated = await rotationDrill(d, r, storageKey);
    const renewed = await tlsRenewalDrill(d, r);
    const lost = await clusterLossDrill(d, r, make, relay);
    return { rig: lost.rig, timings: [...wiped, ...rotated, ...renewed, ...lost.timings] };
}
