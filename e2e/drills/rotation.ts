/**
 * Drill 6, storage-key rotation (docs/credential-rotation.md, "Steps"), on
 * the S3 key check in front of the rig's S3 server (rig/s3-guard.ts; gofakes3
 * checks no keys). The drills' stack starts on a key the check enforces
 * (`storageKey`, registered before the first `up`); then the runbook:
 *
 * 1. the new key made next to the old one (both valid);
 * 2. `pulumi config set --secret` of both keys, `pulumi up`: the pod template's
 *    checksum changes, vault-0 is replaced and the unsealer unseals it, while
 *    a reader polls a secret through the Service (the longest gap is the
 *    drill's figure);
 * 3. the new pod's S3 requests carry the new key, none the old one;
 * 4. the old key revoked once Vault says `sealed: false`: a request signed
 *    with it is refused (InvalidAccessKeyId), one with the new key id and a
 *    guessed secret too (SignatureDoesNotMatch), the new key works (positive
 *    control), and Vault writes and reads on with every secret read by value
 *    from the host and by the consumer pod. Nothing was re-initialized: the
 *    same cluster id, the keys Secret byte for byte, the state's shares.
 */
import * as crypto from "crypto";
import { isDeepStrictEqual } from "util";
import { ListObjectsV2Command, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { Stack } from "@pulumi/pulumi/automation";
import { vaultApi } from "../../components/lib/vault-api";
import { CREDENTIALS_CHECKSUM_ANNOTATION } from "../../components/server";
import { newKey } from "../consumers";
import { Timing } from "../figures";
import { expectStatus } from "../rig/kube";
import { S3Guard } from "../rig/s3-guard";
import { nameOf, PodRig, stepCollector } from "../scenario";
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

const NS = "secret-platform";
const VAULT_POD = "vault-0";
const STORAGE_SECRET = "vault-storage-credentials";
/** The program's resource names of that Secret and of the StatefulSet (the platform component is "platform"). */
const STORAGE_SECRET_RESOURCE = "platform-server-storage-credentials";
const WAIT_MS = 300_000;
/** The reader's pace and its per-request limit: a request the relay holds counts as a failed read. */
const POLL_MS = 250;
const READ_TIMEOUT_MS = 2_000;

/** A storage key as Garage makes one (`GK` and 24 hex digits; a 64-hex-digit secret). */
export interface StorageKey {
    readonly id: string;
    readonly secret: string;
}

export function newStorageKey(): StorageKey {
    return { id: `GK${crypto.randomBytes(12).toString("hex")}`, secret: crypto.randomBytes(32).toString("hex") };
}

/** Runbook step 2's `pulumi config set --secret storageAccessKeyId/storageSecretAccessKey`. */
export async function setStorageKey(stack: Stack, key: StorageKey): Promise<void> {
    await stack.setConfig(`${NS}:storageAccessKeyId`, { value: key.id, secret: true });
    await stack.setConfig(`${NS}:storageSecretAccessKey`, { value: key.secret, secret: true });
}

async function vaultPod(r: PodRig, d: Drill): Promise<{ uid: string; restarts: number } | undefined> {
    const res = await r.cluster.request("GET", `/api/v1/namespaces/${d.vaultNamespace}/pods/${VAULT_POD}`);
    if (res.status !== 200) return undefined;
    const statuses = (res.body.status?.containerStatuses ?? []) as { restartCount: number }[];
    return { uid: String(res.body.metadata.uid), restarts: statuses.reduce((n, s) => n + s.restartCount, 0) };
}

async function templateChecksum(r: PodRig, d: Drill): Promise<string> {
    const sts = expectStatus(
        "the vault StatefulSet",
        await r.cluster.request("GET", `/apis/apps/v1/namespaces/${d.vaultNamespace}/statefulsets/vault`),
    );
    return String(sts.body.spec.template.metadata?.annotations?.[CREDENTIALS_CHECKSUM_ANNOTATION] ?? "");
}

async function storageSecretVersion(r: PodRig, d: Drill): Promise<string> {
    const res = expectStatus(
        `the Secret ${STORAGE_SECRET}`,
        await r.cluster.request("GET", `/api/v1/namespaces/${d.vaultNamespace}/secrets/${STORAGE_SECRET}`),
    );
    return String(res.body.metadata.resourceVersion);
}

/** Reads one secret through the Service every POLL_MS until stopped; the longest time between two good reads. */
function gapReader(d: Drill, key: string, value: string, caPem: string) {
    let stopped = false;
    let lastOk = Date.now();
    let longest = 0;
    let failed = 0;
    const endpoint = { address: d.address, caBundle: caPem, requestTimeoutMs: READ_TIMEOUT_MS };
    const loop = (async () => {
        while (!stopped) {
            const res = await vaultApi(endpoint, "GET", `${d.clusterMount}/data/${key}`, undefined, d.root).catch(
                () => undefined,
            );
            const now = Date.now();
            const body = res?.body as { data?: { data?: { value?: string } } } | undefined;
            if (res?.status === 200 && body?.data?.data?.value === value) {
                longest = Math.max(longest, now - lastOk);
                lastOk = now;
            } else failed++;
            await new Promise((r) => setTimeout(r, POLL_MS));
        }
    })();
    return {
        stop: async () => {
            stopped = true;
            await loop;
            return { longestGapMs: Math.max(longest, Date.now() - lastOk), failed };
        },
    };
}

/** One ListObjectsV2 of Vault's prefix at the key check, signed with `key`: the S3 error code, or `ok <n keys>`. */
async function listWith(guard: S3Guard, bucket: string, prefix: string, key: StorageKey): Promise<string> {
    const s3 = new S3Client({
        endpoint: `http://${guard.endpoint.host}:${guard.endpoint.port}`,
        region: "garage",
        forcePathStyle: true,
        credentials: { accessKeyId: key.id, secretAccessKey: key.secret },
        maxAttempts: 1,
    });
    try {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1000 }));
        return `ok ${page.KeyCount ?? 0}`;
    } catch (err) {
        if (err instanceof S3ServiceException) return `${err.$metadata.httpStatusCode} ${err.name}`;
        throw err;
    } finally {
        s3.destroy();
    }
}

export async function rotationDrill(d: Drill, r: PodRig, oldKey: StorageKey): Promise<Timing[]> {
    const log = d.log;
    const guard = r.s3.server.guard;
    const bucket = r.s3.server.bucket;
    check(
        guard.allowed().join() === oldKey.id,
        "the key check enforces the stack's storage key alone",
        guard.allowed(),
    );
    const start = guard.counts();
    check((start.accepted[oldKey.id] ?? 0) > 0, "Vault's S3 requests so far carried the stack's key", start);
    check(Object.keys(start.refused).length === 0, "the key check refused nothing so far", start.refused);
    const health = await d.vault.request("GET", "/v1/sys/health");
    const clusterId = String(health.body?.cluster_id ?? "");
    const keysBefore = await keysSecret(r.cluster, d);
    const stateBefore = await stateSharesDigest(d.stack);
    check(stateBefore === secretSharesDigest(keysBefore.data), "the state's shares are the keys Secret's", "");
    const podBefore = await vaultPod(r, d);
    check(podBefore !== undefined, `${VAULT_POD} runs`, "");
    const checksumBefore = await templateChecksum(r, d);
    check(checksumBefore !== "", `the pod template carries ${CREDENTIALS_CHECKSUM_ANNOTATION}`, "");
    const secretVersionBefore = await storageSecretVersion(r, d);

    // Step 1: the new key next to the old one; both valid.
    const fresh = newStorageKey();
    guard.allow(fresh.id, fresh.secret);
    check(
        (await listWith(guard, bucket, d.prefix, oldKey)).startsWith("ok ") &&
            (await listWith(guard, bucket, d.prefix, fresh)).startsWith("ok "),
        "both keys list the bucket before the switch",
        guard.counts(),
    );

    // Step 2: both config secrets, then `pulumi up`, with a reader on the Service throughout.
    const [probeKey, probeValue] = Object.entries(d.secrets)[0];
    const reader = gapReader(d, probeKey, probeValue, r.ca.pem());
    const upStart = Date.now();
    const steps = stepCollector();
    let up: Awaited<ReturnType<Stack["up"]>>;
    try {
        await setStorageKey(d.stack, fresh);
        up = await d.stack.up({ onOutput: () => undefined, onEvent: steps.onEvent });
    } catch (err) {
        await reader.stop(); // no reader left polling once the drill has failed
        throw err;
    }
    const upMs = Date.now() - upStart;
    const changes = up.summary.resourceChanges ?? {};
    const podAfter = await until(`${VAULT_POD} replaced, unsealed and answering`, WAIT_MS, async () => {
        const pod = await vaultPod(r, d);
        if (pod === undefined || pod.uid === podBefore!.uid) return undefined;
        const s = await d.vault.request("GET", "/v1/sys/seal-status");
        return s.status === 200 && s.body.sealed === false ? pod : undefined;
    }).catch(async (err: unknown) => {
        await reader.stop();
        throw err;
    });
    const unsealedMs = Date.now() - upStart;
    const gap = await reader.stop();
    check(up.summary.result === "succeeded", "pulumi up with the new key", up.summary);
    // The Kubernetes provider replaces a Secret whose data changes (its name is fixed: delete, then create); the
    // StatefulSet is updated in place (its template's checksum). The chart changed, so bootstrap's readiness
    // checks run in the update (their serverRevision), after the pod rolled. Nothing else changes.
    const changed = steps.steps
        // A provider's own step (the dynamic providers' `default`) is no change of the cluster.
        .filter((st) => st.op !== "same" && st.op !== "read" && !st.type.startsWith("pulumi:providers:"))
        .map((st) => `${st.op} ${nameOf(st.urn)}`);
    const replaced = (n: string) => ["replace", "create-replacement", "delete-replaced"].map((op) => `${op} ${n}`);
    const allowed = [
        ...replaced(STORAGE_SECRET_RESOURCE),
        ...replaced("platform-backup-credentials"),
        "update platform-server-chart:vault/vault",
        "update platform-bootstrap-unsealed",
        "update platform-bootstrap-provider-token",
    ];
    check(
        changed.includes("update platform-server-chart:vault/vault") &&
            changed.includes(`replace ${STORAGE_SECRET_RESOURCE}`) &&
            changed.includes("update platform-bootstrap-unsealed") &&
            changed.every((c) => allowed.includes(c)),
        "the up replaces the credential Secrets, updates the StatefulSet, re-checks Vault's seal and token, and changes nothing else",
        changed,
    );
    const checksumAfter = await templateChecksum(r, d);
    check(checksumAfter !== checksumBefore, "the pod template's checksum changed with the key", checksumAfter);
    check((await storageSecretVersion(r, d)) !== secretVersionBefore, `the Secret ${STORAGE_SECRET} was rewritten`, "");

    // Step 3: the new pod speaks with the new key only.
    const oldAccepted = guard.counts().accepted[oldKey.id] ?? 0;
    const newAccepted = guard.counts().accepted[fresh.id] ?? 0;
    check(newAccepted > 2, "the new pod's S3 requests carry the new key", guard.counts());

    // Step 4: revoke the old key only now that Vault says sealed false.
    const status = await d.vault.request("GET", "/v1/sys/seal-status");
    check(status.status === 200 && status.body.sealed === false, "vault status: Sealed false", status.body);
    guard.revoke(oldKey.id);
    const refusedOld = await listWith(guard, bucket, d.prefix, oldKey);
    const refusedGuess = await listWith(guard, bucket, d.prefix, { id: fresh.id, secret: newStorageKey().secret });
    const acceptedNew = await listWith(guard, bucket, d.prefix, fresh);
    check(refusedOld === "403 InvalidAccessKeyId", "the revoked key is refused", refusedOld);
    check(
        refusedGuess === "403 SignatureDoesNotMatch",
        "the new key id with a guessed secret is refused",
        refusedGuess,
    );
    check(acceptedNew.startsWith("ok ") && acceptedNew !== "ok 0", "the new key lists Vault's objects", acceptedNew);

    // Reads and writes keep working on the new key: a write after the revocation, every secret by value.
    const after = `drills/after-rotation`;
    const afterValue = crypto.randomBytes(12).toString("hex");
    const write = await d.vault.request(
        "POST",
        `/v1/${d.clusterMount}/data/${after}`,
        newKey({ value: afterValue }),
        d.root,
    );
    check(write.status === 200, `write ${after} after the revocation`, write.body);
    const back = await d.vault.request("GET", `/v1/${d.clusterMount}/data/${after}`, undefined, d.root);
    check(back.status === 200 && back.body?.data?.data?.value === afterValue, `${after} reads back by value`, "");
    await readAllAsRoot(d);
    const reads = await readAllInCluster(d, r);
    const end = guard.counts();
    check((end.accepted[fresh.id] ?? 0) > newAccepted, "the write went to the bucket with the new key", end);
    check((end.accepted[oldKey.id] ?? 0) === oldAccepted, "nothing with the old key got through after the switch", end);
    check(
        isDeepStrictEqual(end.refused, {
            [oldKey.id]: { InvalidAccessKeyId: 1 },
            [fresh.id]: { SignatureDoesNotMatch: 1 },
        }),
        "the key check refused only the drill's two probes (Vault itself was never refused)",
        end.refused,
    );

    // Nothing re-initialized: the same Vault, the same shares.
    const healthAfter = await d.vault.request("GET", "/v1/sys/health");
    check(String(healthAfter.body?.cluster_id ?? "") === clusterId, "the same Vault (cluster id)", healthAfter.body);
    check((await keysSecret(r.cluster, d)).data === keysBefore.data, "the keys Secret is byte for byte the same", "");
    check((await stateSharesDigest(d.stack)) === stateBefore, "the state's shares are the same", "");
    log(
        `  drill 6 (runbook steps 1-2): new key added beside the old; pulumi up in ${upMs} ms (${JSON.stringify(changes)}: ${[...new Set(changed)].join(", ")}); ` +
            `vault-0 replaced (restarts ${podBefore!.restarts} -> new pod ${podAfter.restarts}) and unsealed ${unsealedMs} ms after the up started; ` +
            `pod-template checksum changed; reads through the Service every ${POLL_MS} ms: longest gap ${gap.longestGapMs} ms (${gap.failed} failed reads)`,
    );
    log(
        `  drill 6 (steps 3-4): S3 requests accepted by key: old ${oldAccepted} (none after the new pod was unsealed), new ${end.accepted[fresh.id]}; ` +
            `old key revoked: ${refusedOld}; new id with a guessed secret: ${refusedGuess}; new key: ${acceptedNew} objects; ` +
            `a write after the revocation and all ${Object.keys(d.secrets).length} secrets read by value from the host and by the consumer pod (${reads.ms} ms); ` +
            `same cluster id, keys Secret and state shares`,
    );
    return [
        { what: "drill 6: storage-key rotation, pulumi up (pod rolled and unsealed)", ms: upMs },
        { what: "drill 6: storage-key rotation, the up's start to vault-0 unsealed on the new key", ms: unsealedMs },
        {
            what: "drill 6: storage-key rotation, longest gap between good reads through the Service",
            ms: gap.longestGapMs,
        },
    ];
}
