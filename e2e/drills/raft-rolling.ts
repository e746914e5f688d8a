/**
 * Drill 2, a rolling change on the raft HA stack (docs/architecture/raft-ha.md:
 * a sealed pod is not Ready, the budget counts Ready pods, a changed pod
 * template replaces one pod at a time, highest ordinal first).
 *
 * - The budget with a sealed pod, made on purpose: the unsealer paused (its
 *   loop scaled to 0, its CronJob suspended), a standby evicted while all
 *   three are unsealed (the positive control: allowed), its new pod sealed:
 *   not Ready, the budget's currentHealthy 2 and disruptionsAllowed 0, and
 *   the eviction of an unsealed pod refused (429). The unsealer resumed, the
 *   pod unsealed, the budget back to one disruption allowed.
 * - The rolling change: `server.logLevel` changed in the stack file and
 *   `pulumi up`. Sampled through the roll: the pods (at most one of three
 *   missing, terminating or not Ready at any sample; each replaced once, in
 *   the order vault-2, vault-1, vault-0), each pod's own seal status (a
 *   sealed pod is never Ready), and a read through the Service every 250 ms
 *   with the root token. The longest run of failed reads is the figure N.
 */
import { RELEASE_NAME, UNSEALER_NAME } from "../../components/lib/contracts";
import { Timing } from "../figures";
import { PodRef } from "../node/pods";
import { Node } from "../node/node";
import { Cluster, expectStatus } from "../rig/kube";
import { VaultClient } from "../rig/vault";
import { check, until } from "./drill";
import { allJoinedAndUnsealed, PodSeal, podSeals, raftPeers, ServerPod, serverPods, setServerKey } from "./raft-ha";
import { Stack } from "@pulumi/pulumi/automation";

/* eslint-disable @typescript-eslint/no-explicit-any */

export interface RollingContext {
    readonly stack: Stack;
    readonly cluster: Cluster;
    readonly node: Node;
    readonly vault: VaultClient;
    readonly root: string;
    readonly namespace: string;
    readonly from: PodRef;
    readonly scheme: string;
    /** A secret path (under /v1/) the reads through the Service ask for, and its value. */
    readonly probe: { readonly path: string; readonly value: string };
    readonly log: (m: string) => void;
}

const REPLICAS = 3;

async function budget(cluster: Cluster, ns: string): Promise<any> {
    return expectStatus(
        "the PodDisruptionBudget",
        await cluster.request("GET", `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/${RELEASE_NAME}`),
    ).body;
}

async function statefulSet(cluster: Cluster, ns: string): Promise<any> {
    return expectStatus(
        "the StatefulSet",
        await cluster.request("GET", `/apis/apps/v1/namespaces/${ns}/statefulsets/${RELEASE_NAME}`),
    ).body;
}

/** POST pods/<name>/eviction, as a drain does. */
async function evict(cluster: Cluster, ns: string, pod: string): Promise<{ status: number; message: string }> {
    const res = await cluster.request("POST", `/api/v1/namespaces/${ns}/pods/${pod}/eviction`, {
        apiVersion: "policy/v1",
        kind: "Eviction",
        metadata: { name: pod, namespace: ns },
    });
    return { status: res.status, message: String(res.body?.message ?? "") };
}

/** The unsealer paused (loop at 0 replicas, CronJob suspended) or resumed (loop at 1, not suspended). */
async function unsealer(cluster: Cluster, ns: string, on: boolean): Promise<void> {
    expectStatus(
        `the unsealer loop scaled to ${on ? 1 : 0}`,
        await cluster.request(
            "PATCH",
            `/apis/apps/v1/namespaces/${ns}/deployments/${UNSEALER_NAME}/scale`,
            { spec: { replicas: on ? 1 : 0 } },
            "application/merge-patch+json",
        ),
    );
    expectStatus(
        `the unsealer CronJob ${on ? "resumed" : "suspended"}`,
        await cluster.request(
            "PATCH",
            `/apis/batch/v1/namespaces/${ns}/cronjobs/${UNSEALER_NAME}`,
            { spec: { suspend: !on } },
            "application/merge-patch+json",
        ),
    );
    if (!on) {
        // No unsealer pod left running (the loop's, or a CronJob run's).
        await until("the unsealer's pods gone", 120_000, async () => {
            const res = await cluster.request(
                "GET",
                `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(`app.kubernetes.io/name=${UNSEALER_NAME}`)}`,
            );
            const running = (res.body.items as any[]).filter((p) => !["Succeeded", "Failed"].includes(p.status?.phase));
            return running.length === 0 ? true : undefined;
        });
    }
}

/** Part A: the budget with a sealed pod. Returns how long the evicted pod stayed sealed with the unsealer paused. */
async function budgetWithSealedPod(c: RollingContext): Promise<Timing[]> {
    const ns = c.namespace;
    const peers = await raftPeers(c.vault, c.root);
    const standbys = peers
        .filter((p) => !p.leader)
        .map((p) => p.node_id)
        .sort();
    check(standbys.length === 2, "two standbys", peers);
    const [victim, other] = [standbys[standbys.length - 1], standbys[0]];
    const full = await until("the budget allows one disruption", 60_000, async () => {
        const b = await budget(c.cluster, ns);
        return b.status?.currentHealthy === REPLICAS && b.status?.disruptionsAllowed === 1 ? b : undefined;
    });
    await unsealer(c.cluster, ns, false);
    let sealedMs = 0;
    try {
        // Positive control: all three unsealed, one standby may go.
        const before = (await serverPods(c.cluster, ns)).find((p) => p.name === victim)!;
        const allowed = await evict(c.cluster, ns, victim);
        check(allowed.status === 201, `the eviction of ${victim} with all three unsealed is allowed`, allowed);
        // Its new pod runs sealed (no unsealer), and is not Ready.
        const start = Date.now();
        const sealed = await until(`${victim}'s new pod answers sealed`, 180_000, async () => {
            const pod = (await serverPods(c.cluster, ns)).find((p) => p.name === victim && p.uid !== before.uid);
            if (pod === undefined || pod.ip === "") return undefined;
            const s = (await podSeals(c.node, c.from, [pod], c.scheme))[victim];
            return s !== undefined && "sealed" in s && s.sealed ? pod : undefined;
        });
        // The budget sees it: the controller's status follows the pod's Ready condition.
        const b = await until("the budget counts the sealed pod as unavailable", 60_000, async () => {
            const x = await budget(c.cluster, ns);
            return x.status?.currentHealthy === REPLICAS - 1 && x.status?.disruptionsAllowed === 0 ? x : undefined;
        });
        const now = (await serverPods(c.cluster, ns)).find((p) => p.name === victim)!;
        const seal = (await podSeals(c.node, c.from, [now], c.scheme))[victim];
        check(
            now.uid === sealed.uid && !now.ready && seal !== undefined && "sealed" in seal && seal.sealed,
            `${victim} is sealed and not Ready`,
            { now, seal },
        );
        // The refusal: an unsealed pod may not go while another is sealed.
        const refused = await evict(c.cluster, ns, other);
        check(
            refused.status === 429 && /disruption budget/.test(refused.message),
            `the eviction of unsealed ${other} while ${victim} is sealed is refused by the budget`,
            refused,
        );
        const stillThere = (await serverPods(c.cluster, ns)).find((p) => p.name === other);
        check(stillThere !== undefined && !stillThere.terminating, `${other} still runs`, stillThere);
        sealedMs = Date.now() - start;
        c.log(
            `  drill 2, the budget: ${victim} (a standby) evicted with all three unsealed: allowed (201, the control); its new pod ` +
                `sealed with the unsealer paused: not Ready, budget currentHealthy ${b.status.currentHealthy} disruptionsAllowed ` +
                `${b.status.disruptionsAllowed} (before: ${full.status.currentHealthy}/${full.status.disruptionsAllowed}); ` +
                `the eviction of unsealed ${other}: ${refused.status} "${refused.message}"`,
        );
    } finally {
        await unsealer(c.cluster, ns, true);
    }
    const resumed = Date.now();
    await allJoinedAndUnsealed(c, REPLICAS, c.scheme, 180_000);
    await until("the budget allows one disruption again", 60_000, async () => {
        const b = await budget(c.cluster, ns);
        return b.status?.currentHealthy === REPLICAS && b.status?.disruptionsAllowed === 1 ? b : undefined;
    });
    const unsealMs = Date.now() - resumed;
    c.log(`  drill 2: the unsealer resumed; ${victim} unsealed and the budget back to 1 allowed in ${unsealMs} ms`);
    return [
        { what: "drill 2: a standby evicted to its new pod refused-eviction check, unsealer paused", ms: sealedMs },
        { what: "drill 2: the unsealer resumed to all unsealed and the budget back", ms: unsealMs },
    ];
}

export interface Sample {
    readonly at: number;
    readonly pods: ServerPod[];
    readonly seals: Record<string, PodSeal>;
}

/**
 * What the samples of a roll show: the sample with the most of `names` missing, terminating or not Ready;
 * every pod seen Ready while it answered sealed; the order in which each name's new pod (a uid not in
 * `uidsBefore`) first appeared; how many samples saw a sealed pod.
 */
export function rollFacts(
    samples: readonly Sample[],
    uidsBefore: Readonly<Record<string, string>>,
    names: readonly string[],
): {
    mostDown: { at: number; down: string[] };
    sealedReady: { at: number; pod: string }[];
    order: string[];
    sealedSamples: number;
} {
    const sealed = (x: PodSeal | undefined) => x !== undefined && "sealed" in x && x.sealed;
    const down = (s: Sample) =>
        names.filter((n) => {
            const p = s.pods.find((x) => x.name === n);
            return p === undefined || p.terminating || !p.ready;
        });
    let mostDown = { at: 0, down: [] as string[] };
    for (const s of samples) if (down(s).length > mostDown.down.length) mostDown = { at: s.at, down: down(s) };
    const sealedReady = samples.flatMap((s) =>
        s.pods
            .filter((p) => !p.terminating && p.ready && sealed(s.seals[p.name]))
            .map((p) => ({ at: s.at, pod: p.name })),
    );
    const firstNew = (name: string) =>
        samples.find((s) => s.pods.some((p) => p.name === name && p.uid !== uidsBefore[name]))?.at ?? Infinity;
    const order = [...names].filter((n) => firstNew(n) !== Infinity).sort((a, b) => firstNew(a) - firstNew(b));
    const sealedSamples = samples.filter((s) => Object.values(s.seals).some(sealed)).length;
    return { mostDown, sealedReady, order, sealedSamples };
}

/** The reads' failures, and the longest run of them: from a run's first failure to the next success (or the last read). */
export function readGap(reads: readonly { at: number; ok: boolean }[]): { failures: number; longestMs: number } {
    let longestMs = 0;
    let failedFrom: number | undefined;
    let failures = 0;
    for (const r of reads) {
        if (!r.ok) {
            failures++;
            failedFrom ??= r.at;
        } else if (failedFrom !== undefined) {
            longestMs = Math.max(longestMs, r.at - failedFrom);
            failedFrom = undefined;
        }
    }
    if (failedFrom !== undefined) longestMs = Math.max(longestMs, reads[reads.length - 1].at - failedFrom);
    return { failures, longestMs };
}

/** Part B: the rolling change. */
async function rollingChange(c: RollingContext): Promise<Timing[]> {
    const ns = c.namespace;
    const before = await serverPods(c.cluster, ns);
    const uidsBefore = Object.fromEntries(before.map((p) => [p.name, p.uid]));
    setServerKey(c.stack, "logLevel", "warn");
    const generationBefore = Number((await statefulSet(c.cluster, ns)).metadata.generation);

    let stop = false;
    const reads: { at: number; ok: boolean }[] = [];
    const reader = (async () => {
        while (!stop) {
            const at = Date.now();
            const res = await c.vault.request("GET", c.probe.path, undefined, c.root).catch(() => undefined);
            reads.push({ at, ok: res?.status === 200 && res.body?.data?.data?.value === c.probe.value });
            await new Promise((r) => setTimeout(r, 250));
        }
    })();
    const samples: Sample[] = [];
    const sampler = (async () => {
        while (!stop) {
            const at = Date.now();
            try {
                const pods = await serverPods(c.cluster, ns);
                const seals = await podSeals(
                    c.node,
                    c.from,
                    pods.filter((p) => !p.terminating),
                    c.scheme,
                );
                samples.push({ at, pods, seals });
            } catch {
                // A sample lost to a pod going away: the next one counts.
            }
            await new Promise((r) => setTimeout(r, 500));
        }
    })();

    const start = Date.now();
    let upError = "";
    let upMs = 0;
    let rolledMs = 0;
    try {
        const up = await c.stack.up({ onOutput: () => undefined }).catch((e: Error) => {
            upError = e.message;
            return undefined;
        });
        upMs = Date.now() - start;
        // A failed up is the drill's failure, checked after the roll (the StatefulSet was changed before it).
        if (up !== undefined && up.summary.result !== "succeeded") upError = JSON.stringify(up.summary);
        const generation = Number((await statefulSet(c.cluster, ns)).metadata.generation);
        check(generation > generationBefore, "the up changed the StatefulSet (the roll started)", upError.slice(-3000));
        // Rolled: every pod replaced, all unsealed and joined again.
        await until("every pod replaced", 600_000, async () => {
            const pods = await serverPods(c.cluster, ns);
            return pods.length === REPLICAS && pods.every((p) => p.uid !== uidsBefore[p.name] && !p.terminating)
                ? pods
                : undefined;
        });
        await allJoinedAndUnsealed(c, REPLICAS, c.scheme, 300_000);
        rolledMs = Date.now() - start;
    } finally {
        stop = true;
        await Promise.all([reader, sampler]);
    }

    const names = Array.from({ length: REPLICAS }, (_, i) => `vault-${i}`);
    const roll = rollFacts(samples, uidsBefore, names);
    const gapSoFar = readGap(reads);
    check(upError === "", "the rolling change's up succeeds", {
        error: upError.slice(-3000),
        roll,
        reads: gapSoFar,
        upMs,
        rolledMs,
    });
    // One at a time: at no sample were two of the three missing, terminating or not Ready.
    check(samples.length > 0 && roll.mostDown.down.length <= 1, "at most one pod down at any sample", roll.mostDown);
    // A sealed pod is never Ready (the pod list is read before its seal status).
    check(roll.sealedReady.length === 0, "no sealed pod was ever Ready", roll.sealedReady);
    // Replaced highest ordinal first.
    check(
        JSON.stringify(roll.order) === JSON.stringify([...names].reverse()),
        "replaced highest ordinal first",
        roll.order,
    );
    const gap = readGap(reads);
    const [order, worst, sealedSeen, longest, failures] = [
        roll.order,
        roll.mostDown.down.length,
        roll.sealedSamples,
        gap.longestMs,
        gap.failures,
    ];
    c.log(
        `  drill 2, the rolling change (server.logLevel warn): pulumi up in ${upMs} ms; every pod replaced, one at a time ` +
            `(${samples.length} samples, at most ${worst} down), in the order ${order.join(", ")}, all unsealed ` +
            `and joined ${rolledMs} ms after the up's start; ${sealedSeen} samples saw a sealed pod, none of them Ready; ` +
            `reads through the Service: ${failures} of ${reads.length} failed, the longest gap N = ${(longest / 1000).toFixed(1)} s`,
    );
    return [
        { what: "drill 2: the rolling change, up's start to every pod replaced and unsealed", ms: rolledMs },
        { what: "drill 2: the longest gap of reads through the Service during the roll (N)", ms: longest },
    ];
}

export async function rollingDrill(c: RollingContext): Promise<Timing[]> {
    const a = await budgetWithSealedPod(c);
    const b = await rollingChange(c);
    return [...a, ...b];
}
