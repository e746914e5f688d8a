/**
 * Drill 4, cluster loss with the S3 backend (docs/disaster-recovery.md,
 * "Recovery after losing the cluster", the state kept): the cluster goes
 * (new-cluster.ts), the bucket, the Pulumi state and the key shares stay; a
 * new cluster is made and the runbook's steps run in its order:
 * `pulumi refresh --yes --exclude '**$vault:**'`, then `pulumi up`, then its
 * checks. The result is the same Vault (its cluster id, its mounts' accessors,
 * no VaultInit step), unsealed with the same shares (the new keys Secret is
 * the old one byte for byte), and every secret read by value by the consumer
 * pod in the new cluster. The time from the new cluster's start to that read
 * is the drill's figure.
 */
import { serverCreatedPreviewMessage } from "../../components/lib/vault-init";
import { Timing } from "../figures";
import { RelayOutOfNode } from "../node/relays";
import { nameOf, noChange, PodRig, stepCollector } from "../scenario";
import { ClusterMaker, loseCluster, newCluster } from "./new-cluster";
import {
    check,
    Drill,
    keysSecret,
    prerequisites,
    readAllAsRoot,
    readAllInCluster,
    stateSharesDigest,
    upFollowingService,
    vaultRelay,
} from "./drill";

/**
 * The runbook's refresh exclusions: every resource whose type chain holds a `vault:` type, and the unseal
 * check and the provider token (no read; the refresh's diff of them asks Vault, which does not answer yet).
 */
export const RUNBOOK_REFRESH_EXCLUDE = ["**$vault:**", "**:VaultUnsealed::**", "**:VaultProviderToken::**"];

/** What makes this Vault this Vault: its cluster id, and the accessor of every mount. */
async function identity(d: Drill): Promise<{ clusterId: string; accessors: string }> {
    const health = await d.vault.request("GET", "/v1/sys/health");
    const mounts = await d.vault.request("GET", "/v1/sys/mounts", undefined, d.root);
    check(mounts.status === 200, "sys/mounts with the root token", mounts.status);
    const accessors = Object.entries(mounts.body.data as Record<string, { accessor: string }>)
        .map(([path, m]) => `${path}=${m.accessor}`)
        .sort()
        .join(",");
    return { clusterId: String(health.body?.cluster_id ?? ""), accessors };
}

export async function clusterLossDrill(
    d: Drill,
    r: PodRig,
    make: ClusterMaker,
    relay: RelayOutOfNode,
): Promise<{ rig: PodRig; timings: Timing[] }> {
    const log = d.log;
    const before = await identity(d);
    check(before.clusterId !== "", "Vault reports a cluster id", before);
    const secretBefore = await keysSecret(r.cluster, d);
    const stateBefore = await stateSharesDigest(d.stack);
    const objectsBefore = (await r.s3.server.list(d.prefix)).length;

    // The loss: the node with all its state, etcd's data, the API server. Kept: the bucket (the S3 server
    // outside the cluster), the Pulumi state (the rig's file backend), the key shares (in the state).
    await loseCluster(d.rig, r, log);
    const port = Number(new URL(d.address).port);

    // Runbook step 1: a new cluster under the stack's kubeconfig context, with the stack's prerequisites.
    const recoverStart = Date.now();
    const next = await newCluster(d.rig, r.ca, make, r, log);
    await prerequisites(d.rig, next.cluster, d.config);
    const nextRelay = await vaultRelay(next, port);
    check(nextRelay.address === relay.address, "vault.address is the same relay address", nextRelay.address);
    const clusterMs = Date.now() - recoverStart;

    // Step 2.1: the refresh, Vault's configuration excluded.
    let start = Date.now();
    const refresh = await d.stack.refresh({ onOutput: () => undefined, exclude: RUNBOOK_REFRESH_EXCLUDE });
    const refreshChanges = refresh.summary.resourceChanges ?? {};
    check(refresh.summary.result === "succeeded", "the runbook's refresh succeeds", refresh.summary);
    const kept = `vault-init: ${d.address} unreachable; state kept as it was`;
    check(
        refresh.stdout.includes(kept),
        "init says it cannot reach Vault and keeps its state",
        refresh.stdout.slice(-3000),
    );
    const refreshMs = Date.now() - start;
    log(
        `  drill 4, step 2.1: pulumi refresh ${RUNBOOK_REFRESH_EXCLUDE.map((x) => `--exclude '${x}'`).join(" ")} in ${refreshMs} ms: ${JSON.stringify(refreshChanges)}; "${kept}"`,
    );

    // Step 2.2: pulumi up (its preview says the server is created in this update).
    start = Date.now();
    const steps = stepCollector();
    let output = "";
    const up = await upFollowingService(d.stack, next.cluster, nextRelay, d.vaultNamespace, {
        onOutput: (o) => (output += o),
        onEvent: steps.onEvent,
    });
    const upChanges = up.summary.resourceChanges ?? {};
    check(up.summary.result === "succeeded", "the runbook's pulumi up succeeds", up.summary);
    const said = serverCreatedPreviewMessage("vault-unsealed", d.address);
    check(output.includes(said), "the preview says Vault's server is created in this update", output.slice(-3000));
    const byName = (suffix: string) => steps.steps.filter((s) => s.type.endsWith(suffix)).map((s) => s.op);
    check(
        byName(":VaultInit").every((op) => op === "same") && byName(":VaultInit").length > 0,
        "VaultInit is left as it is (nothing re-initialized)",
        byName(":VaultInit"),
    );
    const vaultSteps = steps.steps.filter((s) => s.type.startsWith("vault:"));
    const remade = vaultSteps.filter((s) => !["same", "update"].includes(s.op));
    check(
        remade.length === 0,
        "no Vault configuration is created or replaced",
        remade.map((s) => `${s.op} ${nameOf(s.urn)}`),
    );
    const upMs = Date.now() - start;
    log(`  drill 4, step 2.2: pulumi up in ${upMs} ms: ${JSON.stringify(upChanges)}; "${said}"; VaultInit same`);

    // Step 2.3: vault status, a secret you know, preview --expect-no-changes.
    const seal = await d.vault.request("GET", "/v1/sys/seal-status");
    check(
        seal.body?.initialized === true && seal.body?.sealed === false,
        "vault status: initialized, unsealed",
        seal.body,
    );
    await readAllAsRoot(d);
    const quiet = await d.stack.preview({ onOutput: () => undefined, expectNoChanges: true });
    check(noChange(quiet.changeSummary).length === 0, "pulumi preview --expect-no-changes", quiet.changeSummary);

    // The result: the same Vault, the same shares, every secret in-cluster.
    const after = await identity(d);
    check(after.clusterId === before.clusterId, "the same Vault: its cluster id", {
        before: before.clusterId,
        after: after.clusterId,
    });
    check(after.accessors === before.accessors, "the same Vault: every mount's accessor", "");
    const secretAfter = await keysSecret(next.cluster, d);
    check(
        secretAfter.data === secretBefore.data,
        "the new keys Secret is the old one byte for byte (the same shares)",
        "",
    );
    check((await stateSharesDigest(d.stack)) === stateBefore, "the state's shares are the same", "");
    const reads = await readAllInCluster(d, next);
    const recoveredMs = Date.now() - recoverStart;
    log(
        `  drill 4 result: cluster id ${after.clusterId} as before, every mount's accessor the same, no init; the keys Secret ` +
            `recreated byte for byte from the state; ${objectsBefore} objects of Vault's data kept in the bucket; all ` +
            `${Object.keys(d.secrets).length} secrets read by value by the consumer pod in the new cluster (${reads.ms} ms); ` +
            `recovered in ${recoveredMs} ms from the new cluster's start (cluster ${clusterMs} ms, refresh ${refreshMs} ms, up ${upMs} ms)`,
    );
    return {
        rig: next,
        timings: [
            { what: "drill 4: a new cluster (control plane, ESO's CRDs, node, relays, prerequisites)", ms: clusterMs },
            { what: "drill 4: the runbook's refresh", ms: refreshMs },
            { what: "drill 4: the runbook's pulumi up", ms: upMs },
            {
                what: "drill 4: time to recover, the new cluster's start to every secret read in-cluster",
                ms: recoveredMs,
            },
        ],
    };
}
