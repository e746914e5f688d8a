/**
 * What the drills share: the drill's context (the stack, Vault through the
 * rig's relay, the keys Secret, the secrets written), the checks of the keys
 * Secret and of the shares in the Pulumi state (by digest, never printed),
 * reads of every secret from the host and from the consumer pod, and the
 * cluster's part of an `up` (its prerequisites, the relay that follows
 * Vault's Service).
 */
import * as crypto from "crypto";
import { Stack } from "@pulumi/pulumi/automation";
import { newKey, stackFacts } from "../consumers";
import { ensureNamespace, kvValue, probePod, readFromPod, storeView, StoreView } from "../in-cluster";
import { RelayOutOfNode } from "../node/relays";
import { Cluster } from "../rig/kube";
import { Rig } from "../rig/processes";
import { VaultClient } from "../rig/vault";
import { connectWhenServed, localVolume, PodRig } from "../scenario";

const NS = "secret-platform";
export function check(ok: boolean, what: string, seen: unknown): void {
    if (!ok) throw new Error(`check failed: ${what}; seen: ${JSON.stringify(seen).slice(0, 3000)}`);
}

/** Waits for `probe` to return a value, polling every 500 ms. */
export async function until<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
        const got = await probe().catch(() => undefined);
        if (got !== undefined) return got;
        if (Date.now() > deadline) throw new Error(`${what}: not within ${deadlineMs} ms`);
        await new Promise((r) => setTimeout(r, 500));
    }
}

/** What both drills work with. */
export interface Drill {
    readonly rig: Rig;
    readonly stack: Stack;
    /** The stack's config (the rig's endpoints in place of the cluster's). */
    readonly config: Record<string, unknown>;
    /** vault.address: the rig's relay on the host's loopback, playing the Ingress. */
    readonly address: string;
    readonly vault: VaultClient;
    readonly vaultNamespace: string;
    /** The unseal keys Secret (`unsealKeysSecret`). */
    readonly keys: { readonly namespace: string; readonly name: string };
    /** Vault's prefix in the bucket (storage.prefix). */
    readonly prefix: string;
    /** A root token from generate-root with the cluster's keys (the runbook's break-glass way); valid until the drills end. */
    readonly root: string;
    /** The secrets written, by path under the cluster's mount, and their values (never printed). */
    readonly secrets: Readonly<Record<string, string>>;
    readonly clusterMount: string;
    /** The stack's ClusterSecretStore for the cluster's mount. */
    readonly store: string;
    readonly log: (m: string) => void;
}

/** The keys Secret's data exactly as the API server holds it, and its resourceVersion. */
export async function keysSecret(cluster: Cluster, d: Drill): Promise<{ data: string; resourceVersion: string }> {
    const res = await cluster.request("GET", `/api/v1/namespaces/${d.keys.namespace}/secrets/${d.keys.name}`);
    check(res.status === 200, `the keys Secret ${d.keys.namespace}/${d.keys.name}`, res.status);
    return { data: JSON.stringify(res.body.data), resourceVersion: String(res.body.metadata.resourceVersion) };
}

const sha256 = (text: string) => crypto.createHash("sha256").update(text).digest("hex");

/**
 * The key shares as the Pulumi state holds them (`pulumi stack export --show-secrets`, VaultInit's `keys`),
 * as a digest: compared, never printed.
 */
export async function stateSharesDigest(stack: Stack): Promise<string> {
    const deployment = (await stack.exportStack()).deployment as {
        resources?: { type: string; outputs?: Record<string, unknown> }[];
    };
    const inits = (deployment.resources ?? []).filter((r) => r.type.endsWith(":VaultInit"));
    check(inits.length === 1, "the state holds one VaultInit", inits.length);
    const keys = inits[0].outputs?.keys as unknown;
    const plain =
        typeof keys === "object" && keys !== null && "plaintext" in keys
            ? (JSON.parse(String((keys as { plaintext: string }).plaintext)) as unknown)
            : keys;
    check(Array.isArray(plain) && plain.length > 0, "VaultInit's keys in the state are a list of shares", typeof plain);
    return sha256(JSON.stringify([...(plain as string[])].sort()));
}

/** The shares in the keys Secret's data, as the same digest. */
export function secretSharesDigest(data: string): string {
    const shares = Object.values(JSON.parse(data) as Record<string, string>).map((b) =>
        Buffer.from(b, "base64").toString("utf8"),
    );
    return sha256(JSON.stringify(shares.sort()));
}

/** Writes `count` random secrets `<prefix>/secret-<i>` on the mount; returns them by path (never printed). */
export async function writeSecrets(
    vault: VaultClient,
    root: string,
    mount: string,
    prefix: string,
    count: number,
): Promise<Record<string, string>> {
    const secrets: Record<string, string> = {};
    for (let i = 1; i <= count; i++) {
        const key = `${prefix}/secret-${i}`;
        secrets[key] = crypto.randomBytes(12).toString("hex");
        const res = await vault.request("POST", `/v1/${mount}/data/${key}`, newKey({ value: secrets[key] }), root);
        check(res.status === 200, `write ${key}`, res.body);
    }
    return secrets;
}

/** Every written secret read back by value with the root token, from the host through the relay. */
export async function readAllAsRoot(d: Drill): Promise<void> {
    for (const [key, value] of Object.entries(d.secrets)) {
        const res = await d.vault.request("GET", `/v1/${d.clusterMount}/data/${key}`, undefined, d.root);
        check(res.status === 200 && res.body?.data?.data?.value === value, `${key} reads back by value`, res.status);
    }
}

/**
 * Every written secret read in the cluster by the consumer pod (the store's ServiceAccount and audiences,
 * the Vault image's CLI, a login through the store's Kubernetes auth for each read). Makes the pod.
 */
export async function readAllInCluster(d: Drill, r: PodRig): Promise<{ view: StoreView; ms: number }> {
    const start = Date.now();
    const view = await storeView(r.cluster, d.store);
    const sa = view.serviceAccount;
    const pod = { namespace: sa.namespace, name: "e2e-drill-consumer" };
    const existing = await r.cluster.request("GET", `/api/v1/namespaces/${pod.namespace}/pods/${pod.name}`);
    if (existing.status !== 200) {
        await probePod(r.cluster, r.node, pod, {
            login: { serviceAccount: sa.name, audiences: sa.audiences },
            image: r.vaultImage,
        });
    }
    for (const [key, value] of Object.entries(d.secrets)) {
        const body = await readFromPod(r.node, pod, view, key);
        check(
            kvValue(body, "value") === value,
            `the consumer pod reads ${view.path}/${key} by value`,
            body.slice(0, 300),
        );
    }
    return { view, ms: Date.now() - start };
}

/** The relay out of the node that plays the Ingress, at `port` when given (a new node behind the same address). */
export async function vaultRelay(r: PodRig, port?: number): Promise<RelayOutOfNode> {
    const tls = await r.ca.issueServer("vault-relay", { ips: ["127.0.0.1"] });
    return r.node.relayOut("vault", { tls, ...(port === undefined ? {} : { port }) });
}

/** The cluster's prerequisites of the stack (as the lifecycle has them): ESO's and the monitoring namespace, the audit volume. */
export async function prerequisites(rig: Rig, cluster: Cluster, config: Record<string, unknown>): Promise<void> {
    const facts = stackFacts(config);
    await ensureNamespace(cluster, facts.esoNamespace);
    await ensureNamespace(cluster, facts.monitoringNamespace);
    const size = String(
        ((config[`${NS}:server`] as { auditStorage?: { size?: string } }).auditStorage ?? {}).size ?? "2Gi",
    );
    await localVolume(rig, cluster, { namespace: facts.vaultNamespace, name: "audit-vault-0", size });
}

/** `pulumi up` while the relay follows Vault's Service once the chart makes it. */
export async function upFollowingService(
    stack: Stack,
    cluster: Cluster,
    relay: RelayOutOfNode,
    vaultNamespace: string,
    opts: Parameters<Stack["up"]>[0],
): Promise<Awaited<ReturnType<Stack["up"]>>> {
    const served = connectWhenServed(cluster, relay, { namespace: vaultNamespace, name: "vault", port: 8200 });
    try {
        return await stack.up(opts);
    } finally {
        served.stop();
    }
}
