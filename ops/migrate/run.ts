/**
 * The migration run: decrypt and map every file first (any problem there and
 * nothing is written), read what Vault holds, decide per secret, then write
 * with check-and-set and report. Output names files, paths and key names,
 * never a value.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { MigrateOptions } from "./args";
import { gitBlobId, mapFile, Mapping, SecretTarget } from "./mapping";
import { Action, decide, Decision, importMetadata, META } from "./plan";
import { SopsFormat, sopsFileFormat } from "./sops";
import { KvMetadata } from "./kv-client";

/** The KV calls the run makes (KvClient, or a fake in unit tests). */
export interface KvApi {
    checkKv2Mount(mount: string): Promise<void>;
    readMetadata(mount: string, secretPath: string): Promise<KvMetadata | undefined>;
    readData(mount: string, secretPath: string): Promise<Record<string, unknown> | undefined>;
    write(mount: string, secretPath: string, data: Record<string, string>, cas: number): Promise<number>;
    patchCustomMetadata(mount: string, secretPath: string, custom: Record<string, string>): Promise<void>;
}

export interface MigrateDeps {
    readonly kv: KvApi;
    readonly decrypt: (file: string, format: SopsFormat) => Promise<unknown>;
    /** One line of output (progress, plan, table). */
    readonly out: (line: string) => void;
    /** Where relative file names given on the command line start; default the working directory. */
    readonly cwd?: string;
    /**
     * What recorded file names (migrated-from, the mapping's globs, the table) are relative to: the
     * user's repository; default `cwd`.
     */
    readonly base?: string;
}

export type Outcome = "written" | "metadata" | "unchanged" | "conflict" | "failed" | "planned";

export interface ItemResult {
    readonly target: SecretTarget;
    readonly decision?: Decision;
    readonly outcome: Outcome;
    /** Version written, or the error (no values in it). */
    readonly detail: string;
}

export interface MigrateResult {
    /** 0 all done, 1 a failure, 3 conflicts left alone (2 is the command line's usage error). */
    readonly exitCode: 0 | 1 | 3;
    readonly items: readonly ItemResult[];
    /** Problems before any write (decrypt, mapping, mounts). */
    readonly planErrors: readonly string[];
}

/** `file` (absolute) relative to `base`, with `/`; undefined when it is outside `base`. */
function relative(file: string, base: string): string | undefined {
    const rel = path.relative(base, file);
    if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) return undefined;
    return rel.split(path.sep).join("/");
}

function keysLabel(data: Readonly<Record<string, string>>): string {
    const names = Object.keys(data).sort();
    const label = `${names.length}: ${names.join(",")}`;
    return label.length > 48 ? `${label.slice(0, 45)}...` : label;
}

/** A plain-text table; every cell is a path, key name, action or status. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: readonly string[]) =>
        cells
            .map((c, i) => c.padEnd(widths[i]))
            .join("  ")
            .trimEnd();
    return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

function errorText(err: unknown): string {
    return err instanceof Error ? err.message : String(err);
}

export async function migrate(opts: MigrateOptions, mapping: Mapping, deps: MigrateDeps): Promise<MigrateResult> {
    const { kv, out } = deps;
    const cwd = deps.cwd ?? process.cwd();
    const base = deps.base ?? cwd;
    const planErrors: string[] = [];
    const targets: { target: SecretTarget; source: string }[] = [];

    // 1. Decrypt and map everything before touching Vault.
    const n = opts.files.length;
    for (const [i, given] of opts.files.entries()) {
        const abs = path.resolve(cwd, given);
        const file = relative(abs, base);
        if (file === undefined) {
            out(`[${i + 1}/${n}] ${given}`);
            planErrors.push(
                `${given}: outside the repository ${base}: run the migration from the repository that holds it`,
            );
            continue;
        }
        out(`[${i + 1}/${n}] decrypt ${file}`);
        try {
            if (!fs.existsSync(abs)) throw new Error(`${file}: no such file`);
            const bytes = fs.readFileSync(abs);
            const format = sopsFileFormat(file, bytes.toString("utf8"));
            const source = gitBlobId(bytes);
            const doc = await deps.decrypt(abs, format);
            const target = mapFile(file, doc, mapping, opts.mount, opts.owner);
            targets.push({ target, source });
        } catch (err) {
            // Name the file relative to the repository, not by its absolute path.
            planErrors.push(errorText(err).split(abs).join(file));
        }
    }
    const seen = new Map<string, string>();
    for (const { target } of targets) {
        const key = `${target.mount}/${target.path}`;
        const other = seen.get(key);
        if (other !== undefined) planErrors.push(`${target.file} and ${other} both map to ${key}: add a mapping rule`);
        seen.set(key, target.file);
    }
    if (planErrors.length === 0) {
        for (const mount of [...new Set(targets.map((t) => t.target.mount))].sort()) {
            try {
                await kv.checkKv2Mount(mount);
            } catch (err) {
                planErrors.push(errorText(err));
            }
        }
    }
    if (planErrors.length > 0) {
        for (const e of planErrors) out(`error: ${e}`);
        out(`nothing written: ${planErrors.length} problem(s) before any write`);
        return { exitCode: 1, items: [], planErrors };
    }

    // 2. Read what Vault holds and decide.
    const planned: { target: SecretTarget; wantMeta: Record<string, string>; decision?: Decision; error?: string }[] =
        [];
    for (const { target, source } of targets) {
        const wantMeta = importMetadata(target.file, source, target.owner);
        try {
            const meta = await kv.readMetadata(target.mount, target.path);
            const data =
                meta !== undefined && !meta.currentDeleted ? await kv.readData(target.mount, target.path) : undefined;
            const decision = decide(target.data, wantMeta, meta, data, opts.force);
            planned.push({ target, wantMeta, decision });
            out(
                `plan ${target.mount}/${target.path} (${keysLabel(target.data)}): ${decision.action} - ${decision.reason}`,
            );
        } catch (err) {
            planned.push({ target, wantMeta, error: errorText(err) });
            out(`plan ${target.mount}/${target.path}: failed to read: ${errorText(err)}`);
        }
    }

    // 3. Write (check-and-set), unless dry run.
    const items: ItemResult[] = [];
    const writes = planned.filter(
        (p) => p.decision !== undefined && ["create", "update", "metadata"].includes(p.decision.action),
    );
    let done = 0;
    for (const p of planned) {
        const { target, decision } = p;
        if (decision === undefined) {
            items.push({ target, outcome: "failed", detail: `not written: ${p.error}` });
            continue;
        }
        const action: Action = decision.action;
        if (action === "unchanged") {
            items.push({ target, decision, outcome: "unchanged", detail: "nothing written" });
            continue;
        }
        if (action === "conflict") {
            items.push({ target, decision, outcome: "conflict", detail: "not written" });
            continue;
        }
        if (opts.dryRun) {
            items.push({ target, decision, outcome: "planned", detail: "dry run: not written" });
            continue;
        }
        done += 1;
        const label = `[${done}/${writes.length}] ${target.mount}/${target.path}`;
        try {
            if (action === "metadata") {
                const meta = await kv.readMetadata(target.mount, target.path);
                const version = String(meta?.currentVersion ?? 0);
                await kv.patchCustomMetadata(target.mount, target.path, { ...p.wantMeta, [META.version]: version });
                items.push({ target, decision, outcome: "metadata", detail: `metadata recorded (v${version})` });
                out(`${label}: metadata recorded, no new version`);
                continue;
            }
            const version = await kv.write(target.mount, target.path, { ...target.data }, decision.cas ?? 0);
            try {
                await kv.patchCustomMetadata(target.mount, target.path, {
                    ...p.wantMeta,
                    [META.version]: String(version),
                });
            } catch (err) {
                items.push({
                    target,
                    decision,
                    outcome: "failed",
                    detail: `written v${version}, but metadata not recorded: ${errorText(err)}`,
                });
                out(`${label}: written v${version}; metadata FAILED`);
                continue;
            }
            items.push({ target, decision, outcome: "written", detail: `written v${version}` });
            out(`${label}: written v${version}${decision.forced === true ? " (forced)" : ""}`);
        } catch (err) {
            const msg = errorText(err);
            const why = /check-and-set/.test(msg)
                ? `changed concurrently (check-and-set v${decision.cas}): ${msg}`
                : msg;
            items.push({ target, decision, outcome: "failed", detail: `not written: ${why}` });
            out(`${label}: FAILED: ${why}`);
        }
    }

    // 4. Summary.
    out("");
    const rows = items.map((it) => [
        `${it.target.mount}/${it.target.path}`,
        keysLabel(it.target.data),
        it.decision === undefined ? "-" : it.decision.forced === true ? "update (forced)" : it.decision.action,
        `${it.outcome}: ${it.detail}`,
        it.target.file,
    ]);
    for (const l of table(["PATH", "KEYS", "PLAN", "RESULT", "FILE"], rows)) out(l);
    const count = (o: Outcome) => items.filter((i) => i.outcome === o).length;
    out("");
    out(
        `${opts.dryRun ? "dry run, nothing written: " : ""}written ${count("written")}, metadata ${count("metadata")}, ` +
            `unchanged ${count("unchanged")}, planned ${count("planned")}, conflicts ${count("conflict")}, failed ${count("failed")}`,
    );
    const exitCode = count("failed") > 0 ? 1 : count("conflict") > 0 ? 3 : 0;
    if (exitCode === 1) out("FAILED: see the table for what was and was not written");
    if (exitCode === 3) out("conflicts left alone: review them, then re-run with --force to overwrite");
    return { exitCode, items, planErrors };
}
