/**
 * Drill 1, raft HA's first `up`, on the one node (docs/bootstrap.md, "Raft
 * HA: bootstrap with one replica, then scale"; docs/architecture/raft-ha.md):
 * the stack up with `server.storageBackend: raft` and `server.replicas: 1`,
 * then the operator's edit of the stack file to `server.replicas: 3` and
 * `pulumi up` again. Proven: bootstrap initialized Vault once (one VaultInit
 * create, then `same`); every pod joined (sys/storage/raft/configuration: 3
 * voters, one leader); the unsealer unsealed every pod (each pod's own
 * sys/seal-status, asked at its pod IP from a pod in the cluster); the
 * budget, the spread and the StatefulSet are what the config keys say; the
 * store works (every secret read by value by the consumer pod).
 *
 * Also here: what the raft drills ask of the pods (each pod's seal status,
 * the raft peers) and the operator's edit of the stack file.
 */
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import * as YAML from "yaml";
import { RELEASE_NAME, SERVER_POD_LABELS } from "../../components/lib/contracts";
import { PodRef } from "../node/pods";
import { Node } from "../node/node";
import { Cluster, expectStatus } from "../rig/kube";
import { VaultClient } from "../rig/vault";
import { noChange, stepCollector } from "../scenario";
import { check, until } from "./drill";

/* eslint-disable @typescript-eslint/no-explicit-any */

const NS = "secret-platform";

/** One server pod as the API server and Vault see it. */
export interface ServerPod {
    readonly name: string;
    readonly uid: string;
    readonly ip: string;
    readonly ready: boolean;
    readonly terminating: boolean;
}

/** The chart's server pods (SERVER_POD_LABELS), by name. */
export async function serverPods(cluster: Cluster, namespace: string): Promise<ServerPod[]> {
    const selector = Object.entries(SERVER_POD_LABELS)
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
    const res = expectStatus(
        "the server pods",
        await cluster.request(
            "GET",
            `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`,
        ),
    );
    return (res.body.items as any[])
        .map((p) => ({
            name: String(p.metadata.name),
            uid: String(p.metadata.uid),
            ip: String(p.status?.podIP ?? ""),
            ready: (p.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True"),
            terminating: p.metadata.deletionTimestamp !== undefined,
        }))
        .sort((a, b) => a.name.localeCompare(b.name));
}

/** A pod's own seal status (`vault status` at its pod IP), or why there is none. */
export type PodSeal = { initialized: boolean; sealed: boolean } | { error: string };

/**
 * Each pod's own sys/seal-status, asked at its pod IP by `vault status` in
 * `from` (a pod of the Vault image the NetworkPolicy admits: the consumer
 * pod): the Service would answer for any one of them.
 */
export async function podSeals(
    node: Node,
    from: PodRef,
    pods: readonly ServerPod[],
    scheme: string,
): Promise<Record<string, PodSeal>> {
    const withIp = pods.filter((p) => p.ip !== "");
    const script = withIp
        .map(
            (p) =>
                `echo "@@${p.name}"; VAULT_CLIENT_TIMEOUT=3s vault status -format=json -address=${scheme}://${p.ip}:8200 2>&1`,
        )
        .join("; ");
    const out: Record<string, PodSeal> = {};
    for (const p of pods) if (p.ip === "") out[p.name] = { error: "no pod IP" };
    if (withIp.length === 0) return out;
    const res = await node.exec(from, "main", ["/bin/sh", "-c", script], 20_000);
    for (const block of res.stdout.split("@@").slice(1)) {
        const nl = block.indexOf("\n");
        const name = block.slice(0, nl).trim();
        const text = block.slice(nl + 1);
        try {
            const s = JSON.parse(text.slice(text.indexOf("{"))) as { initialized: boolean; sealed: boolean };
            out[name] = { initialized: s.initialized, sealed: s.sealed };
        } catch {
            out[name] = { error: text.trim().slice(0, 200) };
        }
    }
    return out;
}

export const isUnsealed = (s: PodSeal | undefined) => s !== undefined && "sealed" in s && s.initialized && !s.sealed;

/** The raft peers (sys/storage/raft/configuration, with a token that may read it). */
export async function raftPeers(
    vault: VaultClient,
    token: string,
): Promise<{ node_id: string; address: string; leader: boolean; voter: boolean }[]> {
    const res = await vault.request("GET", "/v1/sys/storage/raft/configuration", undefined, token);
    check(res.status === 200, "sys/storage/raft/configuration", res.body);
    return res.body.data.config.servers;
}

/**
 * Waits until `replicas` server pods run, each answers unsealed at its own
 * address, and raft lists them all as voters with one leader; returns the pods.
 */
export async function allJoinedAndUnsealed(
    h: { cluster: Cluster; node: Node; vault: VaultClient; root: string; namespace: string; from: PodRef },
    replicas: number,
    scheme: string,
    deadlineMs: number,
): Promise<ServerPod[]> {
    let last: unknown;
    return until(`${replicas} pods joined and unsealed`, deadlineMs, async () => {
        const pods = (await serverPods(h.cluster, h.namespace)).filter((p) => !p.terminating);
        const seals = await podSeals(h.node, h.from, pods, scheme);
        const peers = await raftPeers(h.vault, h.root).catch((e: Error) => e.message);
        last = { pods, seals, peers };
        const joined =
            typeof peers !== "string" &&
            peers.length === replicas &&
            peers.every((p) => p.voter) &&
            peers.filter((p) => p.leader).length === 1 &&
            pods.every((p) => peers.some((x) => x.node_id === p.name));
        return pods.length === replicas && pods.every((p) => isUnsealed(seals[p.name])) && joined ? pods : undefined;
    }).catch((e: Error) => {
        throw new Error(`${e.message}; last seen: ${JSON.stringify(last).slice(0, 3000)}`);
    });
}

/** The operator's edit of the stack file: `server.<key>` set (what `pulumi config set --path` would write). */
export function setServerKey(stack: Stack, key: string, value: unknown): void {
    const file = path.join(stack.workspace.workDir, `Pulumi.${stack.name}.yaml`);
    const doc = YAML.parse(fs.readFileSync(file, "utf8")) as { config: Record<string, Record<string, unknown>> };
    doc.config[`${NS}:server`] = { ...doc.config[`${NS}:server`], [key]: value };
    fs.writeFileSync(file, YAML.stringify(doc), { mode: 0o600 });
}

/** The ops the engine reported for the stack's VaultInit in one `up`. */
export function initOps(steps: ReturnType<typeof stepCollector>["steps"]): string[] {
    return steps.filter((s) => s.type.endsWith(":VaultInit")).map((s) => s.op);
}

/** What drill 1's scale step needs beyond the first up. */
export interface ScaleContext {
    readonly stack: Stack;
    readonly cluster: Cluster;
    readonly node: Node;
    readonly vault: VaultClient;
    readonly root: string;
    readonly namespace: string;
    /** A pod the NetworkPolicy admits to Vault, with the Vault CLI (the consumer pod). */
    readonly from: PodRef;
    /** http or https: the scheme Vault serves in the cluster. */
    readonly scheme: string;
    readonly replicas: number;
    readonly log: (m: string) => void;
}

/**
 * The runbook's step 2: server.replicas set in the stack file and `pulumi up`; the new pods join and the
 * unsealer unseals each. Returns the up's time and the time to every pod joined and unsealed. An up that
 * fails is a failure of the drill, returned as `failure`: the pods are then waited for, and `pulumi up`
 * run again as an operator would, so the drills after it still run.
 */
export async function scaleToHa(c: ScaleContext): Promise<{ upMs: number; joinedMs: number; failure?: string }> {
    setServerKey(c.stack, "replicas", c.replicas);
    const start = Date.now();
    const up = async () => {
        const steps = stepCollector();
        const result = await c.stack.up({ onOutput: () => undefined, onEvent: steps.onEvent });
        slowest = steps.slowest(4);
        check(result.summary.result === "succeeded", "the scale-up succeeds", result.summary);
        const ops = initOps(steps.steps);
        check(
            ops.length === 1 && ops[0] === "same",
            "VaultInit is the same in the scale-up (Vault initialized once)",
            ops,
        );
        return result;
    };
    let failure: string | undefined;
    let slowest: string[] = [];
    let result = await up().catch((e: Error) => {
        failure = `drill 1: the up that scales to ${c.replicas} failed: ${e.message.slice(-3000)}`;
        return undefined;
    });
    const upMs = Date.now() - start;
    if (result === undefined) {
        c.log(`  drill 1 FAILED: ${failure}`);
        await allJoinedAndUnsealed(c, c.replicas, c.scheme, 300_000);
        result = await up();
        c.log(
            `  drill 1: with every pod joined and unsealed, pulumi up again: ${JSON.stringify(result.summary.resourceChanges)}`,
        );
    }
    const pods = await allJoinedAndUnsealed(c, c.replicas, c.scheme, 300_000);
    const joinedMs = Date.now() - start;
    const peers = await raftPeers(c.vault, c.root);
    c.log(
        `  drill 1, server.replicas ${c.replicas}: pulumi up in ${upMs} ms (${JSON.stringify(noChange(result.summary.resourceChanges ?? {}))}, VaultInit same; slowest steps: ${slowest.join(", ")}); ` +
            `${pods.map((p) => p.name).join(", ")} unsealed at their own addresses and raft voters ` +
            `(leader ${peers.find((p) => p.leader)?.node_id}) ${joinedMs} ms after the up's start`,
    );
    return { upMs, joinedMs, ...(failure === undefined ? {} : { failure }) };
}

/** The StatefulSet, its budget and its pods' spread, as the config keys say (replicas, antiAffinity preferred). */
export async function checkHaObjects(cluster: Cluster, namespace: string, replicas: number): Promise<string> {
    const sts = expectStatus(
        "the StatefulSet",
        await cluster.request("GET", `/apis/apps/v1/namespaces/${namespace}/statefulsets/${RELEASE_NAME}`),
    ).body;
    check(sts.spec.replicas === replicas, `the StatefulSet has ${replicas} replicas`, sts.spec.replicas);
    const affinity = sts.spec.template.spec.affinity?.podAntiAffinity ?? {};
    check(
        affinity.requiredDuringSchedulingIgnoredDuringExecution === undefined &&
            (affinity.preferredDuringSchedulingIgnoredDuringExecution ?? []).length === 1,
        "the pods' anti-affinity is a preference (server.antiAffinity preferred), so 3 run on the one node",
        affinity,
    );
    const pdb = expectStatus(
        "the PodDisruptionBudget",
        await cluster.request("GET", `/apis/policy/v1/namespaces/${namespace}/poddisruptionbudgets/${RELEASE_NAME}`),
    ).body;
    const maxUnavailable = Math.floor((replicas - 1) / 2);
    check(pdb.spec.maxUnavailable === maxUnavailable, `the budget's maxUnavailable is ${maxUnavailable}`, pdb.spec);
    const probe = sts.spec.template.spec.containers.find((c: any) => c.name === "vault")?.readinessProbe;
    check(JSON.stringify(probe).includes("sealedcode=503"), "the readiness probe makes a sealed pod not Ready", probe);
    return `StatefulSet ${replicas} replicas, anti-affinity preferred, PodDisruptionBudget maxUnavailable ${maxUnavailable}, readiness sealedcode=503`;
}
