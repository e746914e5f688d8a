/**
 * `npm run restore -- kv-import`: decrypts a KV export (components/kv-backup.ts
 * wrote it) with the operator's age identity and replays it into a Vault:
 * the same one after a loss, or a fresh one on another backend (the way off
 * the S3 backend). docs/disaster-recovery.md#kv-export-and-import.
 */
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { connectionFromEnv } from "../migrate/kv-client";
import { BackupVault, countVersions, decryptExport, identitiesIn, importExport, parseExport } from "./kv-backup";

export const KV_IMPORT_USAGE = `usage: npm run restore -- kv-import --file <kv-export-...jsonl.gz.age> --identity <age key file>
                           [--mounts <a,b>] [--skip-existing] [--dry-run]

Decrypts a KV export with the operator's age identity and replays it into the
Vault at VAULT_ADDR (VAULT_TOKEN or ~/.vault-token, VAULT_CACERT, as the vault
CLI): missing mounts are created as KV v2 with the exported settings, every
secret's versions are written in order, deleted and destroyed versions are
marked again, and its metadata is set. Nothing is written when a secret
already exists, unless --skip-existing. The token needs sys/mounts and write
on the mounts (root, or the admin policy).

  --file <path>        the export, as downloaded from the backup bucket
  --identity <path>    age identity file (AGE-SECRET-KEY-1..., as age-keygen writes it)
  --mounts <a,b>       only these mounts of the export
  --skip-existing      leave secrets the target already has as they are, import the rest
  --dry-run            decrypt, check and report; write nothing`;

export interface KvImportOptions {
    readonly file: string;
    readonly identity: string;
    readonly mounts?: readonly string[];
    readonly skipExisting: boolean;
    readonly dryRun: boolean;
}

/** Parses argv after `kv-import`; throws an Error naming the option. */
export function parseKvImportArgs(argv: readonly string[]): KvImportOptions {
    let parsed;
    try {
        parsed = parseArgs({
            args: [...argv],
            options: {
                file: { type: "string" },
                identity: { type: "string" },
                mounts: { type: "string" },
                "skip-existing": { type: "boolean", default: false },
                "dry-run": { type: "boolean", default: false },
            },
            strict: true,
            allowPositionals: false,
        });
    } catch (err) {
        throw new Error((err as Error).message.split("\n")[0]);
    }
    const v = parsed.values;
    if (v.file === undefined || v.file === "") throw new Error("--file is required (the downloaded export)");
    if (v.identity === undefined || v.identity === "") {
        throw new Error("--identity is required (the age identity file whose public key the export was encrypted to)");
    }
    const mounts = v.mounts
        ?.split(",")
        .map((m) => m.trim())
        .filter((m) => m !== "");
    return { file: v.file, identity: v.identity, mounts, skipExisting: v["skip-existing"], dryRun: v["dry-run"] };
}

/** The whole command; returns the exit code. */
export async function runKvImport(
    opts: KvImportOptions,
    log: (line: string) => void,
    env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
    const conn = connectionFromEnv(env);
    const identities = identitiesIn(fs.readFileSync(opts.identity, "utf8"));
    let text: string;
    try {
        text = await decryptExport(fs.readFileSync(opts.file), identities);
    } catch (err) {
        throw new Error(`${opts.file}: cannot decrypt with ${opts.identity}: ${(err as Error).message}`);
    }
    const e = parseExport(text);
    log(
        `${opts.file}: export of ${e.header.createdAt}, ${e.secrets.length} secrets, ${countVersions(e)} kept versions, ` +
            `mounts ${e.header.mounts.map((m) => m.path).join(", ")}`,
    );
    const vault = new BackupVault(
        { address: conn.address, caBundle: conn.caBundle, namespace: conn.namespace, requestTimeoutMs: 30_000 },
        conn.token,
    );
    const result = await importExport(vault, e, {
        mounts: opts.mounts,
        skipExisting: opts.skipExisting,
        dryRun: opts.dryRun,
        log,
    });
    if (opts.dryRun) {
        log("dry run, nothing written");
        return 0;
    }
    log(
        `imported ${result.imported} secrets (${result.versions} versions replayed) into ${conn.address}` +
            (result.mountsCreated.length > 0 ? `; created ${result.mountsCreated.join(", ")}` : "") +
            (result.skipped.length > 0 ? `; left ${result.skipped.length} existing secrets as they were` : ""),
    );
    return 0;
}
