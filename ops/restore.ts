/**
 * Point-in-time restore of Vault's S3 storage prefix from object versions
 * (docs/disaster-recovery.md). For every key under the prefix:
 * - the newest version at or before T differs from the current one: it is
 *   read and written back as the new current version;
 * - the key did not exist at T (created later), or its state at T was a
 *   delete marker: it is deleted, which only adds a delete marker.
 * Nothing is ever destroyed: every change is a new version or delete marker,
 * so a restore can itself be undone by restoring to a time after it started.
 * Vault must be stopped while this runs (it caches and rewrites storage).
 */
import {
    DeleteObjectCommand,
    GetBucketVersioningCommand,
    GetObjectCommand,
    ListObjectVersionsCommand,
    PutObjectCommand,
    S3Client,
} from "@aws-sdk/client-s3";

export interface RestoreOptions {
    readonly bucket: string;
    /** Vault's storage prefix, ending in '/' (secret-platform:storage.prefix). */
    readonly prefix: string;
    /** The point in time to roll back to. */
    readonly to: Date;
    readonly dryRun: boolean;
    /** S3-compatible endpoint (Garage, MinIO); unset for AWS. */
    readonly endpoint?: string;
    readonly region?: string;
    readonly forcePathStyle: boolean;
}

export const RESTORE_USAGE = `usage: npm run restore -- --bucket <bucket> --prefix <prefix/> --to <ISO time> [--dry-run]
                           [--endpoint <url>] [--region <region>] [--force-path-style]

Rolls Vault's storage prefix back to its state at --to using S3 object versions
(docs/disaster-recovery.md). Stop Vault first. Credentials come from the AWS SDK's
default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance role).

  --to <time>          ISO 8601 with a zone, e.g. 2026-11-27T21:30:00Z
  --dry-run            list what would change, change nothing`;

/** Parses argv (without node and script); throws an Error naming the option. */
export function parseRestoreArgs(argv: readonly string[], now: Date = new Date()): RestoreOptions {
    const values: Record<string, string> = {};
    let dryRun = false;
    let forcePathStyle = false;
    const valued = new Set(["--bucket", "--prefix", "--to", "--endpoint", "--region"]);
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const eq = arg.indexOf("=");
        const flag = eq === -1 ? arg : arg.slice(0, eq);
        if (flag === "--dry-run" && eq === -1) dryRun = true;
        else if (flag === "--force-path-style" && eq === -1) forcePathStyle = true;
        else if (valued.has(flag)) {
            const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
            if (value === undefined || value === "" || (eq === -1 && value.startsWith("--"))) {
                throw new Error(`${flag} needs a value`);
            }
            values[flag] = value;
        } else throw new Error(`unknown argument ${arg}`);
    }
    for (const required of ["--bucket", "--prefix", "--to"]) {
        if (values[required] === undefined) throw new Error(`${required} is required`);
    }
    const prefix = values["--prefix"];
    if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/$/.test(prefix)) {
        throw new Error(`--prefix must be a key prefix ending in '/' (e.g. vault/), got '${prefix}'`);
    }
    const toText = values["--to"];
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(toText)) {
        throw new Error(`--to must be an ISO 8601 time with a zone (e.g. 2026-11-27T21:30:00Z), got '${toText}'`);
    }
    const to = new Date(toText);
    if (Number.isNaN(to.getTime())) throw new Error(`--to is not a valid time: '${toText}'`);
    if (to.getTime() > now.getTime()) throw new Error(`--to ${toText} is in the future`);
    const endpoint = values["--endpoint"];
    if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint)) {
        throw new Error(`--endpoint must be an http(s) URL, got '${endpoint}'`);
    }
    return { bucket: values["--bucket"], prefix, to, dryRun, endpoint, region: values["--region"], forcePathStyle };
}

/** One object version or delete marker of a key. */
export interface VersionEntry {
    readonly key: string;
    readonly versionId: string;
    readonly lastModified: Date;
    readonly isLatest: boolean;
    readonly deleteMarker: boolean;
    readonly etag?: string;
    readonly size?: number;
}

/** Every version and delete marker under the prefix (ListObjectVersions, all pages). */
export async function listVersions(s3: S3Client, bucket: string, prefix: string): Promise<VersionEntry[]> {
    const out: VersionEntry[] = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    for (;;) {
        const page = await s3.send(
            new ListObjectVersionsCommand({
                Bucket: bucket,
                Prefix: prefix,
                KeyMarker: keyMarker,
                VersionIdMarker: versionIdMarker,
            }),
        );
        for (const v of page.Versions ?? []) {
            if (v.Key === undefined || v.LastModified === undefined) continue;
            out.push({
                key: v.Key,
                versionId: v.VersionId ?? "null",
                lastModified: v.LastModified,
                isLatest: v.IsLatest === true,
                deleteMarker: false,
                etag: v.ETag,
                size: v.Size,
            });
        }
        for (const m of page.DeleteMarkers ?? []) {
            if (m.Key === undefined || m.LastModified === undefined) continue;
            out.push({
                key: m.Key,
                versionId: m.VersionId ?? "null",
                lastModified: m.LastModified,
                isLatest: m.IsLatest === true,
                deleteMarker: true,
            });
        }
        if (page.IsTruncated !== true) return out;
        if (page.NextKeyMarker === undefined && page.NextVersionIdMarker === undefined) {
            throw new Error("ListObjectVersions: truncated page without a next marker");
        }
        keyMarker = page.NextKeyMarker;
        versionIdMarker = page.NextVersionIdMarker;
    }
}

export type RestoreAction =
    | { readonly kind: "restore"; readonly key: string; readonly versionId: string; readonly lastModified: Date }
    | { readonly kind: "delete"; readonly key: string; readonly reason: "created after T" | "deleted at T" };

export interface RestorePlan {
    readonly actions: readonly RestoreAction[];
    /** Keys already in their state at T. */
    readonly unchanged: number;
    readonly keys: number;
}

/** Newest first; on equal timestamps the one S3 marks latest is newer. */
function newestFirst(a: VersionEntry, b: VersionEntry): number {
    const d = b.lastModified.getTime() - a.lastModified.getTime();
    if (d !== 0) return d;
    return Number(b.isLatest) - Number(a.isLatest);
}

/** What to do per key to bring the prefix back to its state at `to`. Pure. */
export function planRestore(entries: readonly VersionEntry[], to: Date): RestorePlan {
    const byKey = new Map<string, VersionEntry[]>();
    for (const e of entries) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e]);
    const actions: RestoreAction[] = [];
    let unchanged = 0;
    for (const key of [...byKey.keys()].sort()) {
        const all = (byKey.get(key) as VersionEntry[]).sort(newestFirst);
        const current = all.find((e) => e.isLatest) ?? all[0];
        const target = all.find((e) => e.lastModified.getTime() <= to.getTime());
        const absentNow = current.deleteMarker;
        if (target === undefined || target.deleteMarker) {
            if (absentNow) unchanged += 1;
            else
                actions.push({
                    kind: "delete",
                    key,
                    reason: target === undefined ? "created after T" : "deleted at T",
                });
            continue;
        }
        const same =
            current.versionId === target.versionId ||
            (!absentNow && current.etag !== undefined && current.etag === target.etag && current.size === target.size);
        if (same) unchanged += 1;
        else actions.push({ kind: "restore", key, versionId: target.versionId, lastModified: target.lastModified });
    }
    return { actions, unchanged, keys: byKey.size };
}

/** Refuses a bucket whose versioning is not Enabled: without versions there is no point in time. */
export async function checkVersioning(s3: S3Client, bucket: string): Promise<void> {
    const res = await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }));
    if (res.Status !== "Enabled") {
        throw new Error(
            `bucket ${bucket} has versioning ${res.Status ?? "never enabled"}: a point-in-time restore needs ` +
                "object versions (restore from the last copy instead, docs/disaster-recovery.md)",
        );
    }
}

export function describeAction(a: RestoreAction): string {
    return a.kind === "restore"
        ? `restore ${a.key} (version ${a.versionId} of ${a.lastModified.toISOString()})`
        : `delete  ${a.key} (${a.reason})`;
}

/** Runs the actions, a few at a time; returns the failures (key and message). */
export async function applyRestore(
    s3: S3Client,
    bucket: string,
    actions: readonly RestoreAction[],
    log: (line: string) => void,
    parallel = 8,
): Promise<{ key: string; error: string }[]> {
    const failures: { key: string; error: string }[] = [];
    let next = 0;
    let done = 0;
    const worker = async (): Promise<void> => {
        while (next < actions.length) {
            const a = actions[next++];
            try {
                if (a.kind === "restore") {
                    const old = await s3.send(
                        new GetObjectCommand({ Bucket: bucket, Key: a.key, VersionId: a.versionId }),
                    );
                    if (old.Body === undefined) throw new Error("empty GetObject body");
                    const body = await old.Body.transformToByteArray();
                    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: a.key, Body: body }));
                } else {
                    // No VersionId: adds a delete marker, destroys nothing.
                    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: a.key }));
                }
                done += 1;
                log(`[${done}/${actions.length}] ${describeAction(a)}: done`);
            } catch (err) {
                failures.push({ key: a.key, error: (err as Error).message });
                log(`FAILED ${describeAction(a)}: ${(err as Error).message}`);
            }
        }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, actions.length) }, worker));
    return failures;
}

/** The whole command; returns the exit code. */
export async function restore(opts: RestoreOptions, s3: S3Client, log: (line: string) => void): Promise<number> {
    await checkVersioning(s3, opts.bucket);
    const entries = await listVersions(s3, opts.bucket, opts.prefix);
    const plan = planRestore(entries, opts.to);
    const at = opts.to.toISOString();
    log(
        `s3://${opts.bucket}/${opts.prefix} at ${at}: ${plan.keys} keys, ${entries.length} versions and delete markers`,
    );
    for (const a of plan.actions) log(describeAction(a));
    const restores = plan.actions.filter((a) => a.kind === "restore").length;
    const deletes = plan.actions.length - restores;
    const summary = `${restores} to restore, ${deletes} to delete, ${plan.unchanged} unchanged`;
    if (opts.dryRun) {
        log(`dry run, nothing changed: ${summary}`);
        return 0;
    }
    if (plan.actions.length === 0) {
        log(`nothing to do: ${summary}`);
        return 0;
    }
    log(`applying: ${summary} (Vault must be stopped)`);
    const failures = await applyRestore(s3, opts.bucket, plan.actions, log);
    if (failures.length > 0) {
        log(`FAILED: ${failures.length} of ${plan.actions.length} changes failed; the rest were applied:`);
        for (const f of failures) log(`  ${f.key}: ${f.error}`);
        log("re-run the same command: it only changes what still differs from the state at --to");
        return 1;
    }
    log(`restored s3://${opts.bucket}/${opts.prefix} to ${at}: ${summary}`);
    return 0;
}

/** An S3 client for the options; credentials from the SDK's default chain. */
export function s3Client(opts: RestoreOptions, env: NodeJS.ProcessEnv = process.env): S3Client {
    return new S3Client({
        region: opts.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
        endpoint: opts.endpoint,
        forcePathStyle: opts.forcePathStyle,
    });
}
