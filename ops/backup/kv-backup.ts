/**
 * The logical KV v2 backup (docs/disaster-recovery.md#kv-export): an export
 * of every managed KV v2 mount (every kept version with its data or its
 * deleted/destroyed marker, each secret's metadata, the mounts' settings),
 * gzipped and encrypted to age recipients; and its import into a Vault,
 * replaying the versions in order. The in-cluster job (./job.ts, bundled into
 * components/kv-export.cjs) exports; `npm run restore -- kv-import` imports.
 *
 * Secrets: values exist in plaintext only in this process's memory; the token
 * travels only in the X-Vault-Token header, and no error quotes a value.
 */
import * as zlib from "node:zlib";
import { ApiResponse, NoAnswerError, vaultApi, VaultEndpoint } from "../../components/lib/vault-api";

/** The export's format name and version (the first record). */
export const EXPORT_FORMAT = "secret-platform.kv-export";
export const EXPORT_FORMAT_VERSION = 1;

/** A managed mount's engine settings, as the stack declares them (kvMounts in components/vault-setup.ts). */
export interface MountSettings {
    readonly path: string;
    readonly maxVersions: number;
    readonly casRequired: boolean;
    /** Seconds; 0 keeps versions. */
    readonly deleteVersionAfter: number;
}

/** One kept version: its data, or the marker that says why it has none. */
export type ExportedVersion = {
    readonly version: number;
    readonly createdTime: string;
    /** "" unless deleted or scheduled for deletion (delete_version_after). */
    readonly deletionTime: string;
} & (
    | { readonly state: "data"; readonly data: Record<string, unknown> }
    /** Soft-deleted when exported: Vault serves no data for it, and a read-only identity cannot undelete. */
    | { readonly state: "deleted" }
    | { readonly state: "destroyed" }
);

/** One secret: its metadata and every version Vault keeps, oldest first. */
export interface ExportedSecret {
    readonly mount: string;
    readonly path: string;
    readonly metadata: {
        readonly maxVersions: number;
        readonly casRequired: boolean;
        /** Vault's duration string, e.g. "0s" or "768h0m0s". */
        readonly deleteVersionAfter: string;
        readonly customMetadata: Record<string, string>;
        readonly currentVersion: number;
        readonly oldestVersion: number;
        readonly createdTime: string;
        readonly updatedTime: string;
    };
    readonly versions: readonly ExportedVersion[];
}

export interface ExportHeader {
    readonly format: typeof EXPORT_FORMAT;
    readonly formatVersion: number;
    readonly createdAt: string;
    readonly mounts: readonly MountSettings[];
}

export interface ExportTrailer {
    readonly end: true;
    readonly secrets: number;
    readonly versions: number;
}

/** A whole export, decoded. */
export interface KvExport {
    readonly header: ExportHeader;
    readonly secrets: readonly ExportedSecret[];
}

export class VaultCallError extends Error {
    constructor(
        message: string,
        readonly status: number,
    ) {
        super(message);
        this.name = "VaultCallError";
    }
}

/** Each path segment URL-encoded, slashes kept. */
function encodePath(p: string): string {
    return p.split("/").map(encodeURIComponent).join("/");
}

/** The KV v2 and mount calls of the backup, over the one Vault client. */
export class BackupVault {
    constructor(
        private readonly endpoint: VaultEndpoint,
        private readonly token: string,
    ) {}

    async call(method: string, apiPath: string, body?: unknown): Promise<ApiResponse> {
        try {
            return await vaultApi(this.endpoint, method, apiPath, body, this.token);
        } catch (err) {
            throw new VaultCallError(`${method} ${apiPath}: ${(err as NoAnswerError).reason ?? String(err)}`, 0);
        }
    }

    /** Throws with Vault's own errors (never a body: it may hold values). */
    async expect(method: string, apiPath: string, ok: readonly number[], body?: unknown): Promise<ApiResponse> {
        const res = await this.call(method, apiPath, body);
        if (!ok.includes(res.status)) {
            const errors = res.body?.errors;
            const why = Array.isArray(errors) && errors.length > 0 ? `: ${errors.join("; ")}` : "";
            throw new VaultCallError(`${method} ${apiPath}: HTTP ${res.status}${why}`, res.status);
        }
        return res;
    }

    /** Every secret path under a mount (recursive LIST on metadata/), sorted. */
    async listSecrets(mount: string, prefix = ""): Promise<string[]> {
        const apiPath = `${encodePath(mount)}/metadata/${encodePath(prefix)}`;
        const res = await this.expect("GET", `${apiPath}?list=true`, [200, 404]);
        if (res.status === 404) return [];
        const keys = ((res.body?.data as { keys?: unknown })?.keys ?? []) as string[];
        const out: string[] = [];
        for (const key of keys) {
            if (key.endsWith("/")) out.push(...(await this.listSecrets(mount, `${prefix}${key}`)));
            else out.push(`${prefix}${key}`);
        }
        return out.sort();
    }

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async metadata(mount: string, secret: string): Promise<any | undefined> {
        const res = await this.expect("GET", `${encodePath(mount)}/metadata/${encodePath(secret)}`, [200, 404]);
        return res.status === 404 ? undefined : res.body?.data;
    }

    /** A version's data; undefined when Vault serves none (deleted, destroyed). */
    async versionData(mount: string, secret: string, version: number): Promise<Record<string, unknown> | undefined> {
        const res = await this.expect(
            "GET",
            `${encodePath(mount)}/data/${encodePath(secret)}?version=${version}`,
            [200, 404],
        );
        const data = (res.body?.data as { data?: Record<string, unknown> | null } | undefined)?.data;
        return res.status === 200 && data !== null && data !== undefined ? data : undefined;
    }
}

/** Runs `fn` over `items`, `parallel` at a time, keeping the order of the results. */
export async function mapLimit<T, R>(items: readonly T[], parallel: number, fn: (item: T) => Promise<R>): Promise<R[]> {
    const out: R[] = new Array(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const i = next++;
            out[i] = await fn(items[i]);
        }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
    return out;
}

/** Whether a version is soft-deleted now (a deletion_time in the future is only scheduled). */
function deletedAt(deletionTime: string, now: Date): boolean {
    return deletionTime !== "" && new Date(deletionTime).getTime() <= now.getTime();
}

/**
 * One secret, consistent: metadata, then every kept version, then the
 * metadata again; a write in between (current_version moved) starts over.
 */
export async function exportSecret(
    vault: BackupVault,
    mount: string,
    secret: string,
    attempts = 3,
): Promise<ExportedSecret | undefined> {
    for (let attempt = 1; attempt <= attempts; attempt++) {
        const meta = await vault.metadata(mount, secret);
        if (meta === undefined) return undefined; // deleted (metadata and all) since the listing
        const now = new Date();
        const numbers = Object.keys(meta.versions ?? {})
            .map(Number)
            .sort((a, b) => a - b);
        const versions: ExportedVersion[] = [];
        for (const n of numbers) {
            const v = meta.versions[String(n)];
            const base = {
                version: n,
                createdTime: String(v.created_time),
                deletionTime: String(v.deletion_time ?? ""),
            };
            if (v.destroyed === true) {
                versions.push({ ...base, state: "destroyed" });
                continue;
            }
            const data = deletedAt(base.deletionTime, now) ? undefined : await vault.versionData(mount, secret, n);
            versions.push(data === undefined ? { ...base, state: "deleted" } : { ...base, state: "data", data });
        }
        const again = await vault.metadata(mount, secret);
        if (again !== undefined && again.current_version !== meta.current_version) continue;
        return {
            mount,
            path: secret,
            metadata: {
                maxVersions: Number(meta.max_versions),
                casRequired: meta.cas_required === true,
                deleteVersionAfter: String(meta.delete_version_after ?? "0s"),
                customMetadata: { ...(meta.custom_metadata ?? {}) },
                currentVersion: Number(meta.current_version),
                oldestVersion: numbers[0] ?? 0,
                createdTime: String(meta.created_time),
                updatedTime: String(meta.updated_time),
            },
            versions,
        };
    }
    throw new Error(`${mount}/${secret}: written during each of ${attempts} export attempts`);
}

/** Every secret of the managed mounts. */
export async function exportMounts(
    vault: BackupVault,
    mounts: readonly MountSettings[],
    now: Date = new Date(),
    parallel = 16,
): Promise<KvExport> {
    const secrets: ExportedSecret[] = [];
    for (const m of mounts) {
        const paths = await vault.listSecrets(m.path);
        const found = await mapLimit(paths, parallel, (p) => exportSecret(vault, m.path, p));
        for (const s of found) if (s !== undefined) secrets.push(s);
    }
    return {
        header: {
            format: EXPORT_FORMAT,
            formatVersion: EXPORT_FORMAT_VERSION,
            createdAt: now.toISOString(),
            mounts: mounts.map((m) => ({ ...m })),
        },
        secrets,
    };
}

/** JSON Lines: the header, one line per secret, a trailer with the counts (a cut-off file is refused). */
export function serializeExport(e: KvExport): string {
    const trailer: ExportTrailer = { end: true, secrets: e.secrets.length, versions: countVersions(e) };
    return [e.header, ...e.secrets, trailer].map((r) => JSON.stringify(r)).join("\n") + "\n";
}

export function countVersions(e: Pick<KvExport, "secrets">): number {
    return e.secrets.reduce((n, s) => n + s.versions.length, 0);
}

/** Parses serializeExport's text; throws on a wrong format or a missing/mismatched trailer. */
export function parseExport(text: string): KvExport {
    const lines = text.split("\n").filter((l) => l !== "");
    const records = lines.map((l, i) => {
        try {
            return JSON.parse(l) as Record<string, unknown>;
        } catch {
            throw new Error(`export line ${i + 1}: not JSON`);
        }
    });
    const header = records[0] as unknown as ExportHeader | undefined;
    if (header?.format !== EXPORT_FORMAT) throw new Error(`not a ${EXPORT_FORMAT} file`);
    if (header.formatVersion !== EXPORT_FORMAT_VERSION) {
        throw new Error(`export format version ${header.formatVersion}; this command reads ${EXPORT_FORMAT_VERSION}`);
    }
    const trailer = records[records.length - 1] as unknown as ExportTrailer;
    if (records.length < 2 || trailer.end !== true) throw new Error("the export is truncated (no trailer)");
    const secrets = records.slice(1, -1) as unknown as ExportedSecret[];
    const e = { header, secrets };
    if (trailer.secrets !== secrets.length || trailer.versions !== countVersions(e)) {
        throw new Error(
            `the export is damaged: its trailer counts ${trailer.secrets} secrets and ${trailer.versions} versions, the file holds ${secrets.length} and ${countVersions(e)}`,
        );
    }
    return e;
}

// age-encryption is an ES module: loaded on first use (this file is CommonJS under tsx and in the bundle).
type Age = typeof import("age-encryption");
let ageModule: Promise<Age> | undefined;
function age(): Promise<Age> {
    ageModule ??= import("age-encryption");
    return ageModule;
}

/** gzip, then age to the recipients (public keys: whoever runs this can never decrypt). */
export async function encryptExport(text: string, recipients: readonly string[]): Promise<Uint8Array> {
    if (recipients.length === 0) throw new Error("no age recipient to encrypt the export to");
    const { Encrypter } = await age();
    const e = new Encrypter();
    for (const r of recipients) e.addRecipient(r);
    return e.encrypt(zlib.gzipSync(Buffer.from(text, "utf8")));
}

/** The age identities (AGE-SECRET-KEY-...) in an identity file's text: one a line, `#` comments. */
export function identitiesIn(text: string): string[] {
    return text
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "" && !l.startsWith("#"));
}

/** Decrypts and gunzips an export; throws "no identity matched" without the right private key. */
export async function decryptExport(ciphertext: Uint8Array, identities: readonly string[]): Promise<string> {
    if (identities.length === 0) throw new Error("no age identity to decrypt the export with");
    const { Decrypter } = await age();
    const d = new Decrypter();
    for (const i of identities) d.addIdentity(i);
    const gz = await d.decrypt(ciphertext);
    return zlib.gunzipSync(gz).toString("utf8");
}

// ---------------------------------------------------------------------------
// Import.
// ---------------------------------------------------------------------------

/** Whether a mount exists, and is KV v2 (sys/mounts needs the operator's token). */
async function mountType(vault: BackupVault, mount: string): Promise<"kv2" | "other" | "absent"> {
    const res = await vault.expect("GET", `sys/mounts/${encodePath(mount)}`, [200, 400, 404]);
    if (res.status !== 200) return "absent";
    const body = (res.body?.data ?? res.body) as { type?: string; options?: { version?: string } };
    return body.type === "kv" && body.options?.version === "2" ? "kv2" : "other";
}

export interface ImportOptions {
    /** Only these mounts of the export; default all. */
    readonly mounts?: readonly string[];
    /** Leave secrets that already exist in the target as they are (default: refuse before writing anything). */
    readonly skipExisting: boolean;
    /** Check and report, write nothing. */
    readonly dryRun: boolean;
    readonly parallel?: number;
    readonly log: (line: string) => void;
}

export interface ImportResult {
    readonly mountsCreated: string[];
    readonly imported: number;
    readonly versions: number;
    readonly skipped: string[];
}

/** Writes one version's data with check-and-set (works whether or not the mount requires CAS). */
async function writeVersion(
    vault: BackupVault,
    mount: string,
    secret: string,
    data: Record<string, unknown>,
    cas: number,
): Promise<number> {
    const res = await vault.expect("POST", `${encodePath(mount)}/data/${encodePath(secret)}`, [200], {
        options: { cas },
        data,
    });
    return Number((res.body?.data as { version?: number }).version);
}

/**
 * Replays one secret into a target where it does not exist:
 * 1. metadata max_versions = the number of kept versions, so that filler
 *    versions below the oldest kept one are pruned by Vault itself;
 * 2. every version from 1 to current, in order: its data; a filler `{}` for
 *    a version no longer kept, deleted or destroyed, then delete/destroy;
 * 3. the secret's own metadata (max_versions, cas_required,
 *    delete_version_after, custom_metadata).
 */
export async function importSecret(vault: BackupVault, s: ExportedSecret): Promise<void> {
    const meta = `${encodePath(s.mount)}/metadata/${encodePath(s.path)}`;
    const kept = s.versions.length;
    const byNumber = new Map(s.versions.map((v) => [v.version, v]));
    const current = s.metadata.currentVersion;
    if (kept > 0) await vault.expect("POST", meta, [200, 204], { max_versions: kept });
    const deleted: number[] = [];
    const destroyed: number[] = [];
    for (let n = 1; n <= current; n++) {
        const v = byNumber.get(n);
        const written = await writeVersion(vault, s.mount, s.path, v?.state === "data" ? v.data : {}, n - 1);
        if (written !== n) throw new Error(`${s.mount}/${s.path}: wrote version ${written}, expected ${n}`);
        if (v?.state === "deleted") deleted.push(n);
        if (v?.state === "destroyed") destroyed.push(n);
    }
    if (deleted.length > 0) {
        await vault.expect("POST", `${encodePath(s.mount)}/delete/${encodePath(s.path)}`, [200, 204], {
            versions: deleted,
        });
    }
    if (destroyed.length > 0) {
        await vault.expect("POST", `${encodePath(s.mount)}/destroy/${encodePath(s.path)}`, [200, 204], {
            versions: destroyed,
        });
    }
    await vault.expect("POST", meta, [200, 204], {
        max_versions: s.metadata.maxVersions,
        cas_required: s.metadata.casRequired,
        delete_version_after: s.metadata.deleteVersionAfter,
        custom_metadata: s.metadata.customMetadata,
    });
}

/**
 * Imports an export: creates each missing mount as KV v2 with the exported
 * settings, refuses (or with skipExisting, skips) secrets the target already
 * has, then replays every secret. Checks everything before the first write.
 */
export async function importExport(vault: BackupVault, e: KvExport, opts: ImportOptions): Promise<ImportResult> {
    const wanted = opts.mounts ?? e.header.mounts.map((m) => m.path);
    const unknown = wanted.filter((m) => !e.header.mounts.some((h) => h.path === m));
    if (unknown.length > 0) {
        throw new Error(
            `the export has no mount ${unknown.join(", ")} (it has ${e.header.mounts.map((m) => m.path).join(", ")})`,
        );
    }
    const mounts = e.header.mounts.filter((m) => wanted.includes(m.path));
    const missing: MountSettings[] = [];
    for (const m of mounts) {
        const type = await mountType(vault, m.path);
        if (type === "other")
            throw new Error(`mount ${m.path} exists in the target but is not KV v2: nothing imported`);
        if (type === "absent") missing.push(m);
    }
    const secrets = e.secrets.filter((s) => wanted.includes(s.mount));
    const parallel = opts.parallel ?? 16;
    const present =
        missing.length === mounts.length
            ? []
            : await mapLimit(secrets, parallel, async (s) =>
                  missing.some((m) => m.path === s.mount) ? undefined : await vault.metadata(s.mount, s.path),
              );
    const existing = secrets.filter((_, i) => present[i] !== undefined).map((s) => `${s.mount}/${s.path}`);
    if (existing.length > 0 && !opts.skipExisting) {
        const shown =
            existing.slice(0, 10).join(", ") + (existing.length > 10 ? `, and ${existing.length - 10} more` : "");
        throw new Error(
            `${existing.length} secret(s) already exist in the target (${shown}): nothing imported. ` +
                "Import into an empty mount, or pass --skip-existing to leave those as they are and import the rest",
        );
    }
    const todo = secrets.filter((_, i) => present[i] === undefined);
    const versions = todo.reduce((n, s) => n + s.metadata.currentVersion, 0);
    opts.log(
        `${todo.length} secrets (${versions} versions to replay) into ${mounts.length} mount(s)` +
            (missing.length > 0 ? `, creating ${missing.map((m) => m.path).join(", ")}` : "") +
            (existing.length > 0 ? `; ${existing.length} existing left as they are` : ""),
    );
    if (opts.dryRun) return { mountsCreated: [], imported: 0, versions: 0, skipped: existing };
    for (const m of missing) {
        await vault.expect("POST", `sys/mounts/${encodePath(m.path)}`, [200, 204], {
            type: "kv",
            options: { version: "2" },
            description: "Restored from a secret-platform KV export",
        });
    }
    for (const m of mounts) {
        // A mount that requires CAS still takes the replay: every write carries cas.
        await vault.expect("POST", `${encodePath(m.path)}/config`, [200, 204], {
            max_versions: m.maxVersions,
            cas_required: m.casRequired,
            delete_version_after: `${m.deleteVersionAfter}s`,
        });
    }
    let done = 0;
    await mapLimit(todo, parallel, async (s) => {
        await importSecret(vault, s);
        done += 1;
        if (done % 100 === 0 || done === todo.length) opts.log(`[${done}/${todo.length}] imported`);
    });
    return { mountsCreated: missing.map((m) => m.path), imported: todo.length, versions, skipped: existing };
}
