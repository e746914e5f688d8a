/**
 * Drill 5, wiped storage is refused (docs/disaster-recovery.md, "Recovery
 * after wiped storage"): Vault's prefix in the bucket is emptied while the
 * keys Secret exists (a copy kept aside first), vault-0 is deleted and comes
 * back uninitialized, and `pulumi up` refuses with the documented message:
 * nothing is initialized, the keys Secret is byte for byte the same, the
 * state still holds the old shares. Then the runbook's recovery: Vault
 * stopped, the objects put back, Vault started and unsealed by the unsealer
 * with the same shares, `pulumi up` finds nothing to change, and every
 * secret reads again, from the host and from the consumer pod.
 */
import { wipedStorageMessage } from "../../components/lib/vault-init";
import { Timing } from "../figures";
import { expectStatus } from "../rig/kube";
import { noChange, PodRig } from "../scenario";
import { DrillBucket, digestOf } from "./bucket";
import {
    check,
    Drill,
    keysSecret,
    readAllAsRoot,
    readAllInCluster,
    secretSharesDigest,
    stateSharesDigest,
    until,
} from "./drill";

const VAULT_POD = "vault-0";
const WAIT_MS = 300_000;

interface SealView {
    readonly initialized: boolean;
    readonly sealed: boolean;
}

async function sealStatus(d: Drill): Promise<SealView | undefined> {
    const res = await d.vault.request("GET", "/v1/sys/seal-status");
    return res.status === 200 ? { initialized: res.body.initialized, sealed: res.body.sealed } : undefined;
}

/** `kubectl -n <ns> scale statefulset vault --replicas=<n>`: the scale subresource. */
async function scaleVault(r: PodRig, d: Drill, replicas: number): Promise<void> {
    expectStatus(
        `scale statefulset vault to ${replicas}`,
        await r.cluster.request(
            "PATCH",
            `/apis/apps/v1/namespaces/${d.vaultNamespace}/statefulsets/vault/scale`,
            { spec: { replicas } },
            "application/merge-patch+json",
        ),
    );
}

async function podUid(r: PodRig, d: Drill): Promise<string | undefined> {
    const pod = await r.cluster.request("GET", `/api/v1/namespaces/${d.vaultNamespace}/pods/${VAULT_POD}`);
    return pod.status === 200 ? String(pod.body.metadata.uid) : undefined;
}

export async function wipedStorageDrill(d: Drill, r: PodRig, bucket: DrillBucket): Promise<Timing[]> {
    const log = d.log;
    check(
        d.prefix !== "",
        "the stack keeps Vault under a prefix of the bucket (the drill empties only that)",
        d.prefix,
    );
    const secretBefore = await keysSecret(r.cluster, d);
    const stateBefore = await stateSharesDigest(d.stack);
    check(stateBefore === secretSharesDigest(secretBefore.data), "the state's shares are the keys Secret's", "");

    // The accident: the prefix emptied under a running Vault, a copy of it kept aside first.
    const copy = await bucket.copy(d.prefix);
    check(
        [...copy.keys()].some((k) => k.startsWith(`${d.prefix}core/`)),
        "the copy holds Vault's core objects",
        [...copy.keys()].slice(0, 5),
    );
    const oldPod = await podUid(r, d);
    const wiped = Date.now();
    const removed = await bucket.empty(d.prefix);
    expectStatus(
        "delete vault-0",
        await r.cluster.request("DELETE", `/api/v1/namespaces/${d.vaultNamespace}/pods/${VAULT_POD}`),
    );
    const uninitialized = await until("the new vault-0 answers uninitialized", WAIT_MS, async () => {
        const uid = await podUid(r, d);
        if (uid === undefined || uid === oldPod) return undefined;
        const s = await sealStatus(d);
        return s !== undefined && !s.initialized ? s : undefined;
    });
    const wipedToUninitializedMs = Date.now() - wiped;
    log(
        `  drill 5: ${removed} objects under ${d.prefix} deleted (a copy of ${copy.size} kept aside) and vault-0 deleted: ` +
            `the new pod answers initialized=${uninitialized.initialized} sealed=${uninitialized.sealed} ${wipedToUninitializedMs} ms later`,
    );

    // `pulumi up` refuses, with the message docs/disaster-recovery.md shows.
    const expected = wipedStorageMessage(d.address);
    let refusal = "";
    const refusedStart = Date.now();
    try {
        await d.stack.up({ onOutput: () => undefined });
    } catch (err) {
        refusal = (err as Error).message;
    }
    check(refusal !== "", "pulumi up refuses over wiped storage", "it succeeded");
    check(refusal.includes(expected), "pulumi up says the documented wiped-storage message", refusal.slice(-3000));
    const refusedMs = Date.now() - refusedStart;
    const init = await d.vault.request("GET", "/v1/sys/init");
    check(init.status === 200 && init.body.initialized === false, "nothing is initialized (sys/init)", init.body);
    const left = await bucket.keys(d.prefix);
    check(!left.some((k) => k.includes("core/seal-config")), "no seal configuration written to the bucket", left);
    const secretAfter = await keysSecret(r.cluster, d);
    check(secretAfter.data === secretBefore.data, "the keys Secret is byte for byte the same", "");
    check(secretAfter.resourceVersion === secretBefore.resourceVersion, "the keys Secret was not written", "");
    check((await stateSharesDigest(d.stack)) === stateBefore, "the state still holds the old shares", "");
    log(
        `  drill 5: pulumi up refused in ${refusedMs} ms with the documented message; sys/init initialized=false, ` +
            `${left.length} objects under the prefix (no seal configuration), the keys Secret byte for byte the same ` +
            `(resourceVersion ${secretAfter.resourceVersion}), the state's shares the same (compared by SHA-256)`,
    );

    // The runbook's recovery: stop Vault, put the objects back, start Vault; the unsealer unseals it.
    const recovery = Date.now();
    await scaleVault(r, d, 0);
    await until("vault-0 gone", WAIT_MS, async () => ((await podUid(r, d)) === undefined ? true : undefined));
    await bucket.putBack(copy);
    check(digestOf(await bucket.copy(d.prefix)) === digestOf(copy), "the prefix holds exactly the copy again", "");
    await scaleVault(r, d, 1);
    await until("vault-0 answers initialized and unsealed", WAIT_MS, async () => {
        const s = await sealStatus(d);
        return s?.initialized === true && !s.sealed ? s : undefined;
    });
    const unsealedMs = Date.now() - recovery;
    const again = await d.stack.up({ onOutput: () => undefined });
    const changes = again.summary.resourceChanges ?? {};
    check(again.summary.result === "succeeded", "pulumi up after the objects are back", again.summary);
    check(noChange(changes).length === 0, "pulumi up after the objects are back changes nothing", changes);
    await readAllAsRoot(d);
    const reads = await readAllInCluster(d, r);
    const recoveredMs = Date.now() - recovery;
    check(
        (await keysSecret(r.cluster, d)).data === secretBefore.data &&
            (await stateSharesDigest(d.stack)) === stateBefore,
        "the same shares unsealed it",
        "",
    );
    log(
        `  drill 5 recovery (runbook): Vault scaled to 0, ${copy.size} objects put back (the prefix equal to the copy), ` +
            `scaled to 1, unsealed by the unsealer with the same shares ${unsealedMs} ms after the scale-down; ` +
            `pulumi up: ${JSON.stringify(changes)}; all ${Object.keys(d.secrets).length} secrets read by value from the host ` +
            `and by the consumer pod (${reads.ms} ms); recovered in ${recoveredMs} ms`,
    );
    return [
        { what: "drill 5: storage wiped to vault-0 answering uninitialized", ms: wipedToUninitializedMs },
        { what: "drill 5: pulumi up refusing over wiped storage", ms: refusedMs },
        { what: "drill 5: objects put back (scale 0, copy, scale 1) to every secret read again", ms: recoveredMs },
    ];
}
