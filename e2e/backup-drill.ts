/**
 * Issue 25, section 1: the KV export CronJob run for real, as pods on the
 * node. The rig's stack turns the backup on as a user would (backupConfig:
 * an age recipient whose identity stays in the rig dir, the rig's bucket,
 * the images built here); the drill then does what `kubectl create job
 * --from=cronjob/vault-kv-backup` does, waits for the Job, and checks what it
 * left in the bucket against Vault itself: latest.json against the object,
 * the object decrypted with the rig's identity (`age -d`, Debian's age) and
 * never with another, every secret by value and version, the pods' user and
 * security context (the container runtime's own record), the Vault identity
 * that logged in (Vault's audit log) and nothing but reads of the managed
 * mounts under it. Last, `npm run restore -- kv-import` replays that export
 * into a fresh real Vault on the host, which then holds the same secrets.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { KV_BACKUP_POLICY } from "../components/lib/policy-names";
import { AUDIT_FILE_PATH, BACKUP_NAME } from "../components/lib/contracts";
import { CONTAINER_SECURITY_CONTEXT, POD_SECURITY_CONTEXT } from "../components/lib/pod-security";
import { BACKUP_SERVICE_ACCOUNT, KV_BACKUP_ROLE } from "../components/vault-setup";
import { LastGoodMarker } from "../ops/backup/job";
import { parseExport } from "../ops/backup/kv-backup";
import { findTool } from "../test/support/tools";
import { newKey } from "./consumers";
import { Timing } from "./figures";
import { awsCliImage } from "./node/aws-cli-image";
import { run, runCommand } from "./node/exec";
import { Node } from "./node/node";
import { nodeStandInImage } from "./node/node-stand-in-image";
import { NodeTools } from "./node/tools";
import { Cluster, expectStatus } from "./rig/kube";
import { RigCa } from "./rig/pki";
import { Rig } from "./rig/processes";
import { RigS3 } from "./rig/s3";
import { toolPath } from "./rig/tools";
import { startVault, VaultClient } from "./rig/vault";

const REPO_ROOT = path.resolve(__dirname, "..");
/** Where the rig's stack puts the exports: beside Vault's data in the rig's bucket, as amiya's stack does. */
export const BACKUP_PREFIX = "kv-exports/";
const JOB_DEADLINE_MS = 300_000;

function check(ok: boolean, what: string, seen: unknown): void {
    if (!ok) throw new Error(`check failed: ${what}; seen: ${JSON.stringify(seen).slice(0, 3000)}`);
}

function tool(name: "age" | "age-keygen"): string {
    const bin = findTool(name);
    if (bin === undefined) throw new Error(`${name} not found: the backup drill needs Debian's age (npm run tools)`);
    return bin;
}

/** The backup's part of the rig: the images the job runs and the operator's key pair. */
export interface RigBackup {
    /** The age identity (private key) file, in the rig dir only: never in the cluster or the stack. */
    readonly identityFile: string;
    /** Its public key, the stack's backup.recipients. */
    readonly recipient: string;
    /** backup.image: the Node stand-in (docs/e2e.md, Stand-ins). */
    readonly exportImage: string;
    /** backup.uploadImage: Debian's AWS CLI. */
    readonly uploadImage: string;
}

/** An age key pair in `dir` (age-keygen): the identity file and its public key. */
export async function ageKeyPair(dir: string, name: string): Promise<{ identityFile: string; recipient: string }> {
    const identityFile = path.join(dir, `${name}.key`);
    fs.rmSync(identityFile, { force: true });
    await run(tool("age-keygen"), ["-o", identityFile]);
    fs.chmodSync(identityFile, 0o600);
    const recipient = (await run(tool("age-keygen"), ["-y", identityFile])).trim();
    return { identityFile, recipient };
}

/** Builds (or takes from the tool cache) the job's two images, imports them, and makes the operator's key pair. */
export async function prepareBackup(
    rig: Rig,
    tools: NodeTools,
    node: Node,
    log: (m: string) => void,
): Promise<RigBackup> {
    const start = Date.now();
    const images = [await nodeStandInImage(tools), await awsCliImage(tools)];
    for (const image of images) await node.loadImage(image);
    const key = await ageKeyPair(rig.subdir("backup-keys"), "operator");
    log(
        `  KV export images ${images.map((i) => `${i.ref} (${i.cached ? "from the tool cache" : "built"})`).join(", ")} ` +
            `imported in ${Date.now() - start} ms; the operator's age recipient ${key.recipient} (identity in the rig dir)`,
    );
    return { ...key, exportImage: images[0].ref, uploadImage: images[1].ref };
}

/** The stack's backup key as a user sets it: on, to the rig's recipient, bucket and images. */
export function backupConfig(current: Record<string, unknown>, b: RigBackup, bucket: string): Record<string, unknown> {
    return {
        ...current,
        enabled: true,
        recipients: [b.recipient],
        bucket,
        prefix: BACKUP_PREFIX,
        image: b.exportImage,
        uploadImage: b.uploadImage,
    };
}

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

/** One secret as Vault serves it to a root token: its metadata and each kept version's data or state. */
export interface SecretState {
    readonly customMetadata: Record<string, string>;
    readonly currentVersion: number;
    readonly versions: Record<string, { state: "data"; data: unknown } | { state: "deleted" | "destroyed" }>;
}

/** The managed mounts' settings and every secret in them ("mount:path" -> state), read with plain KV v2 calls. */
export async function vaultState(
    vault: VaultClient,
    token: string,
    mounts: readonly string[],
): Promise<{ mounts: Record<string, unknown>; secrets: Record<string, SecretState> }> {
    const get = async (p: string) => {
        const res = await vault.request("GET", `/v1/${p}`, undefined, token);
        check(res.status === 200 || res.status === 404, `GET ${p}`, res.status);
        return res.status === 200 ? res.body.data : undefined;
    };
    const settings: Record<string, unknown> = {};
    const secrets: Record<string, SecretState> = {};
    for (const mount of mounts) {
        const c = await get(`${mount}/config`);
        settings[mount] = {
            maxVersions: c.max_versions,
            casRequired: c.cas_required,
            deleteVersionAfter: c.delete_version_after,
        };
        const walk = async (prefix: string): Promise<void> => {
            for (const key of ((await get(`${mount}/metadata/${prefix}?list=true`))?.keys ?? []) as string[]) {
                if (key.endsWith("/")) {
                    await walk(`${prefix}${key}`);
                    continue;
                }
                const p = `${prefix}${key}`;
                const meta = await get(`${mount}/metadata/${p}`);
                const versions: SecretState["versions"] = {};
                for (const [n, v] of Object.entries(meta.versions as Record<string, any>)) {
                    if (v.destroyed === true) versions[n] = { state: "destroyed" };
                    else if (v.deletion_time !== "" && Date.parse(v.deletion_time) <= Date.now()) {
                        versions[n] = { state: "deleted" };
                    } else versions[n] = { state: "data", data: (await get(`${mount}/data/${p}?version=${n}`)).data };
                }
                secrets[`${mount}:${p}`] = {
                    customMetadata: meta.custom_metadata ?? {},
                    currentVersion: meta.current_version,
                    versions,
                };
            }
        };
        await walk("");
    }
    return { mounts: settings, secrets };
}

/** The export's secrets in the same shape. */
export function exportState(text: string): { mounts: Record<string, unknown>; secrets: Record<string, SecretState> } {
    const e = parseExport(text);
    const secrets: Record<string, SecretState> = {};
    for (const s of e.secrets) {
        const versions: SecretState["versions"] = {};
        for (const v of s.versions)
            versions[String(v.version)] = v.state === "data" ? { state: "data", data: v.data } : { state: v.state };
        secrets[`${s.mount}:${s.path}`] = {
            customMetadata: s.metadata.customMetadata,
            currentVersion: s.metadata.currentVersion,
            versions,
        };
    }
    const mounts = Object.fromEntries(
        e.header.mounts.map((m) => [
            m.path,
            { maxVersions: m.maxVersions, casRequired: m.casRequired, deleteVersionAfter: m.deleteVersionAfter },
        ]),
    );
    return { mounts, secrets };
}

/** JSON with sorted keys: the same state compares equal whatever order Vault listed it in. */
function canonical(v: unknown): string {
    return JSON.stringify(v, (_k, x) =>
        x !== null && typeof x === "object" && !Array.isArray(x)
            ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)))
            : x,
    );
}

/** The first difference between two states, or undefined. */
export function difference(
    a: { secrets: Record<string, SecretState> },
    b: { secrets: Record<string, SecretState> },
): string | undefined {
    const keys = [...new Set([...Object.keys(a.secrets), ...Object.keys(b.secrets)])].sort();
    for (const k of keys) {
        if (canonical(a.secrets[k]) !== canonical(b.secrets[k]))
            return `${k}: ${canonical(a.secrets[k])} vs ${canonical(b.secrets[k])}`;
    }
    return undefined;
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

/** What the drill needs of the rig and the running platform. */
export interface DrillRig {
    readonly rig: Rig;
    readonly cluster: Cluster;
    readonly node: Node;
    readonly ca: RigCa;
    readonly vault: VaultClient;
    /** The rig's break-glass root token (reads Vault back, seeds the drill's secret). */
    readonly root: string;
    readonly s3: RigS3;
    readonly backup: RigBackup;
    /** Vault's namespace (the CronJob's). */
    readonly namespace: string;
    /** The local Kubernetes auth mount the job logs in at. */
    readonly kubernetesAuthPath: string;
    /** The folder of Vault's audit volume on the host. */
    readonly auditDir: string;
    /** The stack's state as text (the private key must not be in it). */
    readonly stackState: () => Promise<string>;
}

/** The drill; returns its timings (the Job from creation to Complete, the import). */
export async function backupDrill(d: DrillRig, log: (m: string) => void): Promise<Timing[]> {
    const ns = d.namespace;
    const cronJob = expectStatus(
        `CronJob ${ns}/${BACKUP_NAME}`,
        await d.cluster.request("GET", `/apis/batch/v1/namespaces/${ns}/cronjobs/${BACKUP_NAME}`),
    ).body;
    check(
        cronJob.spec.suspend === false,
        "the CronJob is not suspended (a real recipient is set)",
        cronJob.spec.suspend,
    );
    const podSpec = cronJob.spec.jobTemplate.spec.template.spec;
    const exportStep = podSpec.initContainers.find((c: any) => c.name === "export");
    const env = (name: string) => exportStep.env.find((e: any) => e.name === name)?.value as string;
    check(
        env("BACKUP_RECIPIENTS") === d.backup.recipient,
        "the job encrypts to the rig's recipient",
        env("BACKUP_RECIPIENTS"),
    );
    check(exportStep.image === d.backup.exportImage, "the export step runs backup.image", exportStep.image);
    check(
        podSpec.containers[0].image === d.backup.uploadImage,
        "the upload step runs backup.uploadImage",
        podSpec.containers[0].image,
    );
    const mounts = (JSON.parse(env("BACKUP_MOUNTS")) as { path: string }[]).map((m) => m.path).sort();
    // Every KV v2 mount Vault has is one the stack manages, and the job exports each.
    const sysMounts = (await d.vault.request("GET", "/v1/sys/mounts", undefined, d.root)).body.data as Record<
        string,
        any
    >;
    const kv2 = Object.entries(sysMounts)
        .filter(([, m]) => m.type === "kv" && m.options?.version === "2")
        .map(([p]) => p.replace(/\/$/, ""))
        .sort();
    check(canonical(mounts) === canonical(kv2), "the job exports every KV v2 mount Vault has", { mounts, kv2 });

    // A secret of the drill's own beside the e2e's: three versions (the second deleted) and custom metadata.
    const seeded = `${mounts[0]}:e2e-backup/rotated`;
    const seededPath = `/v1/${mounts[0]}/data/e2e-backup/rotated`;
    for (const [i, value] of ["first", "second", "third"].entries()) {
        const body = i === 0 ? newKey({ value }) : { data: { value }, options: { cas: i } };
        check((await d.vault.request("POST", seededPath, body, d.root)).status === 200, `write version ${i + 1}`, "");
    }
    const metaPath = `/v1/${mounts[0]}/metadata/e2e-backup/rotated`;
    const custom = { owner: "e2e", purpose: "backup drill" };
    check(
        (await d.vault.request("POST", metaPath, { custom_metadata: custom }, d.root)).status === 204,
        "custom metadata",
        "",
    );
    const del = await d.vault.request("POST", `/v1/${mounts[0]}/delete/e2e-backup/rotated`, { versions: [2] }, d.root);
    check(del.status === 204, "version 2 deleted", del.status);
    const before = await vaultState(d.vault, d.root, mounts);
    check(
        canonical(before.secrets[seeded]) ===
            canonical({
                customMetadata: custom,
                currentVersion: 3,
                versions: {
                    1: { state: "data", data: { value: "first" } },
                    2: { state: "deleted" },
                    3: { state: "data", data: { value: "third" } },
                },
            }),
        "the drill's secret reads back",
        before.secrets[seeded],
    );

    // kubectl create job --from=cronjob/vault-kv-backup
    const jobName = `${BACKUP_NAME}-manual-${crypto.randomBytes(3).toString("hex")}`;
    const created = Date.now();
    const job = expectStatus(
        `create Job ${jobName}`,
        await d.cluster.request("POST", `/apis/batch/v1/namespaces/${ns}/jobs`, jobFromCronJob(cronJob, jobName)),
    ).body;
    const jobPath = `/apis/batch/v1/namespaces/${ns}/jobs/${jobName}`;
    const pods = async () =>
        (
            await d.cluster.request(
                "GET",
                `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(`batch.kubernetes.io/job-name=${jobName}`)}`,
            )
        ).body.items as any[];
    let done: any;
    for (;;) {
        const j = (await d.cluster.request("GET", jobPath)).body;
        const cond = (type: string) =>
            (j.status?.conditions ?? []).some((c: any) => c.type === type && c.status === "True");
        if (cond("Complete")) {
            done = j;
            break;
        }
        if (cond("Failed") || Date.now() - created > JOB_DEADLINE_MS) {
            const logs = (await pods()).map((p) => ({
                pod: p.metadata.name,
                status: p.status,
                export: podLog(d.rig, p, "export").slice(-20),
                upload: podLog(d.rig, p, "upload").slice(-20),
            }));
            throw new Error(
                `the KV export Job ${jobName} did not complete: ${JSON.stringify({ status: j.status, logs }).slice(0, 6000)}`,
            );
        }
        await new Promise((r) => setTimeout(r, 500));
    }
    const jobMs = Date.now() - created;
    check(
        canonical(job.metadata.ownerReferences) ===
            canonical([{ apiVersion: "batch/v1", kind: "CronJob", name: BACKUP_NAME, uid: cronJob.metadata.uid }]) &&
            job.metadata.annotations["cronjob.kubernetes.io/instantiate"] === "manual",
        "the Job is the CronJob's, made by hand",
        job.metadata,
    );
    check(
        done.status.succeeded === 1 && (done.status.failed ?? 0) === 0,
        "one pod, succeeded on the first try",
        done.status,
    );

    // The pod: the product's security context, as the container runtime ran it.
    const [pod, ...others] = await pods();
    check(
        pod !== undefined && others.length === 0 && pod.status.phase === "Succeeded",
        "one pod, Succeeded",
        pod?.status,
    );
    check(
        canonical(pod.spec.securityContext) === canonical(POD_SECURITY_CONTEXT),
        "the pod's security context",
        pod.spec.securityContext,
    );
    const statuses = [...pod.status.initContainerStatuses, ...pod.status.containerStatuses] as any[];
    check(
        canonical(statuses.map((s) => s.name)) === canonical(["export", "upload"]),
        "two steps",
        statuses.map((s) => s.name),
    );
    for (const s of statuses) {
        const spec = [...pod.spec.initContainers, ...pod.spec.containers].find((c: any) => c.name === s.name);
        check(
            canonical(spec.securityContext) === canonical(CONTAINER_SECURITY_CONTEXT),
            `${s.name}'s security context`,
            spec.securityContext,
        );
        check(s.state?.terminated?.exitCode === 0, `${s.name} exited 0`, s.state);
        const oci = (await d.node.containerInfo(s.containerID)).Spec;
        const user = oci.process.user;
        check(
            user.uid === 100 && user.gid === 1000 && (user.additionalGids ?? []).includes(1000),
            `${s.name} ran as 100:1000`,
            user,
        );
        check(
            (oci.process.capabilities?.effective ?? []).length === 0,
            `${s.name} had no capabilities`,
            oci.process.capabilities,
        );
        check(
            oci.process.noNewPrivileges === true && oci.root.readonly === true,
            `${s.name}: no new privileges, read-only root`,
            oci.root,
        );
    }
    const exportLog = podLog(d.rig, pod, "export");
    const uploadLog = podLog(d.rig, pod, "upload");

    // The bucket: the export and latest.json, which describes it.
    const keys = (await d.s3.list(BACKUP_PREFIX)).sort();
    const name = keys.find((k) => /\/kv-export-\d{8}T\d{6}Z\.jsonl\.gz\.age$/.test(k)) ?? "";
    check(
        canonical(keys) === canonical([name, `${BACKUP_PREFIX}latest.json`].sort()),
        "the export and latest.json under the prefix",
        keys,
    );
    const object = await d.s3.read(name);
    const marker = JSON.parse((await d.s3.read(`${BACKUP_PREFIX}latest.json`)).toString("utf8")) as LastGoodMarker;
    check(
        `${BACKUP_PREFIX}${marker.object}` === name &&
            marker.bytes === object.length &&
            marker.sha256 === crypto.createHash("sha256").update(object).digest("hex"),
        "latest.json names the object, its size and digest",
        { marker, bytes: object.length },
    );
    check(
        exportLog.some(
            (l) =>
                l.includes(`exported ${marker.secrets} secrets (${marker.versions} versions)`) &&
                l.includes(marker.object),
        ) && uploadLog.some((l) => l.includes(`uploaded s3://${d.s3.bucket}/${name}`)),
        "each step logged its work",
        { exportLog, uploadLog },
    );

    // Decrypted with the operator's identity (Debian's age, not the product's library), and with no other.
    const file = path.join(d.rig.subdir("backup-drill"), path.basename(name));
    fs.writeFileSync(file, object, { mode: 0o600 });
    const decrypted = await decryptWithAge(d.backup.identityFile, file);
    const other = await ageKeyPair(d.rig.subdir("backup-drill"), "another");
    const refused = await runCommand(tool("age"), ["-d", "-i", other.identityFile, file]);
    check(refused.code !== 0 && /no identity matched/.test(refused.stderr), "another identity cannot decrypt", refused);
    const exported = exportState(decrypted);
    const total = (s: { secrets: Record<string, SecretState> }) =>
        Object.values(s.secrets).reduce((n, x) => n + Object.keys(x.versions).length, 0);
    check(
        marker.secrets === Object.keys(exported.secrets).length && marker.versions === total(exported),
        "latest.json counts the export's secrets and versions",
        { marker, secrets: Object.keys(exported.secrets).length, versions: total(exported) },
    );
    check(
        canonical(Object.keys(exported.mounts).sort()) === canonical(mounts),
        "the export's mounts",
        Object.keys(exported.mounts),
    );
    const diff = difference(before, exported);
    check(diff === undefined, "every secret of Vault, every version and its value, in the export", diff);

    // The Vault identity: one login as kv-backup by the job's ServiceAccount, then only reads of the managed mounts.
    await auditProof(d, mounts, created, log);

    // The key stays the operator's: not in the cluster's Secrets or ConfigMaps, nor in the stack's state.
    const secretKey = fs.readFileSync(d.backup.identityFile, "utf8").match(/AGE-SECRET-KEY-[0-9A-Z]+/)?.[0] ?? "";
    check(secretKey !== "", "the identity file holds a key", "");
    const [secretsList, configMaps] = [
        (await d.cluster.request("GET", "/api/v1/secrets")).body.items as any[],
        (await d.cluster.request("GET", "/api/v1/configmaps")).body.items as any[],
    ];
    const clusterText = [
        ...secretsList.flatMap((s) =>
            Object.values(s.data ?? {}).map((v) => Buffer.from(String(v), "base64").toString("utf8")),
        ),
        JSON.stringify(configMaps),
        JSON.stringify(cronJob),
    ].join("\n");
    const state = await d.stackState();
    check(
        state.includes(d.backup.recipient) && clusterText.includes(d.backup.recipient),
        "the recipient is in the stack and the cluster",
        "",
    );
    check(!clusterText.includes(secretKey) && !state.includes(secretKey), "the private key is in neither", "");

    log(
        `  KV export: Job ${jobName} (from CronJob ${BACKUP_NAME}, instantiate=manual) Complete in ${(jobMs / 1000).toFixed(1)} s; ` +
            `pod ran export (${d.backup.exportImage}) and upload (${d.backup.uploadImage}) as 100:1000, no capabilities, read-only root; ` +
            `${name} (${marker.bytes} bytes) and latest.json (sha256, ${marker.secrets} secrets, ${marker.versions} versions) in the bucket; ` +
            `age -d with the rig's identity gives every secret of ${mounts.join(", ")} by value and version; another identity: refused`,
    );

    // The runbook on that export: npm run restore -- kv-import into a fresh real Vault.
    const importMs = await restoreInto(d, file, mounts, before, log);
    return [
        { what: "KV export Job (kubectl create job --from=cronjob) created to Complete", ms: jobMs },
        { what: "npm run restore -- kv-import of the pods' export into a fresh Vault", ms: importMs },
    ];
}

/** age -d (throws when the identity does not match), then gunzip: the export's JSON lines. */
export async function decryptWithAge(identityFile: string, file: string): Promise<string> {
    const out = path.join(path.dirname(file), "decrypted.jsonl.gz");
    await run(tool("age"), ["-d", "-i", identityFile, "-o", out, file]);
    const text = zlib.gunzipSync(fs.readFileSync(out)).toString("utf8");
    fs.rmSync(out);
    return text;
}

/** Vault's audit log: the job's one login, its identity, and what its token did. */
async function auditProof(
    d: DrillRig,
    mounts: readonly string[],
    since: number,
    log: (m: string) => void,
): Promise<void> {
    const base = path.basename(AUDIT_FILE_PATH);
    const entries = fs
        .readdirSync(d.auditDir)
        .filter((f) => f.startsWith(base))
        .flatMap((f) => fs.readFileSync(path.join(d.auditDir, f), "utf8").split("\n"))
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l))
        .filter((e) => Date.parse(e.time) >= since - 2_000);
    const logins = entries.filter(
        (e) =>
            e.type === "response" &&
            e.request?.path === `auth/${d.kubernetesAuthPath}/login` &&
            e.response?.auth?.metadata?.service_account_name === BACKUP_SERVICE_ACCOUNT,
    );
    check(logins.length === 1, "one login by the job's ServiceAccount", logins.length);
    const auth = logins[0].response.auth;
    check(
        auth.metadata.role === KV_BACKUP_ROLE &&
            auth.metadata.service_account_namespace === d.namespace &&
            canonical(auth.policies) === canonical([KV_BACKUP_POLICY]),
        `the login is role ${KV_BACKUP_ROLE} with policy ${KV_BACKUP_POLICY} only`,
        auth,
    );
    const used = entries.filter((e) => e.type === "response" && e.auth?.accessor === auth.accessor);
    const allowed = (e: any) =>
        ["read", "list"].includes(e.request.operation) &&
        mounts.some((m) => e.request.path.startsWith(`${m}/metadata/`) || e.request.path.startsWith(`${m}/data/`));
    check(
        used.length > 0 && used.every(allowed) && used.every((e) => !/permission denied/.test(e.error ?? "")),
        "its token only read the managed mounts, never refused",
        used.filter((e) => !allowed(e) || /permission denied/.test(e.error ?? "")).map((e) => e.request),
    );
    log(
        `  Vault's audit log: one login at auth/${d.kubernetesAuthPath} as role ${auth.metadata.role} (ServiceAccount ${d.namespace}/${auth.metadata.service_account_name}, policies ${auth.policies.join(", ")}), then ${used.length} reads and lists of ${mounts.join(", ")}, none refused`,
    );
}

/** kv-import of the export into a new, initialized Vault on the host; it then holds what the platform's Vault held. */
async function restoreInto(
    d: DrillRig,
    file: string,
    mounts: readonly string[],
    expected: Awaited<ReturnType<typeof vaultState>>,
    log: (m: string) => void,
): Promise<number> {
    const target = await startVault(d.rig, d.ca, toolPath("vault"), log, "vault-kv-restore");
    const init = await target.request("PUT", "/v1/sys/init", { secret_shares: 1, secret_threshold: 1 });
    check(init.status === 200, "the restore target initializes", init.status);
    const unseal = await target.request("PUT", "/v1/sys/unseal", { key: init.body.keys_base64[0] });
    check(unseal.body?.sealed === false, "the restore target unseals", unseal.body?.sealed);
    const token = init.body.root_token as string;
    const start = Date.now();
    // The token goes in the environment, as the runbook says (never on a command line).
    const res = await runCommand(
        "npm",
        [
            "--prefix",
            REPO_ROOT,
            "run",
            "--silent",
            "restore",
            "--",
            "kv-import",
            "--file",
            file,
            "--identity",
            d.backup.identityFile,
        ],
        {
            timeoutMs: 180_000,
            env: {
                PATH: process.env.PATH,
                HOME: process.env.HOME,
                VAULT_ADDR: target.address,
                VAULT_TOKEN: token,
                VAULT_CACERT: d.ca.cert,
            },
        },
    );
    const ms = Date.now() - start;
    check(res.code === 0, "npm run restore -- kv-import succeeds", {
        stdout: res.stdout.slice(-1500),
        stderr: res.stderr.slice(-1500),
    });
    check(!res.stdout.includes(token) && !res.stderr.includes(token), "the token is not printed", "");
    const restored = await vaultState(target, token, mounts);
    const diff = difference(expected, restored);
    check(diff === undefined, "the fresh Vault holds every secret, version and value", diff);
    check(canonical(restored.mounts) === canonical(expected.mounts), "with the mounts' settings", {
        restored: restored.mounts,
        expected: expected.mounts,
    });
    const imported = res.stdout.split("\n").find((l) => l.startsWith("imported ")) ?? "";
    log(
        `  npm run restore -- kv-import into a fresh Vault (${target.address}) in ${(ms / 1000).toFixed(1)} s: ${imported}; it reads back the same`,
    );
    await target.request("PUT", "/v1/auth/token/revoke-self", {}, token);
    return ms;
}
