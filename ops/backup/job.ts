/**
 * The export step of the KV backup CronJob (components/kv-backup.ts), bundled
 * with its dependencies into components/kv-export.cjs (`npm run
 * backup:bundle`) and run by the pinned Node image as `node kv-export.cjs`.
 *
 * It logs in through Kubernetes auth with the pod's projected ServiceAccount
 * token, exports every managed KV v2 mount, encrypts the export to the
 * operator's age recipients and writes the ciphertext, its name and a summary
 * to $BACKUP_DIR for the upload step. The Vault token and the plaintext stay
 * in this process's memory: never in a file, an argument, the environment or
 * the log. It holds no key that could decrypt what it writes.
 *
 * Environment (none of it secret):
 *   VAULT_ADDR, VAULT_AUTH_PATH (the Kubernetes auth mount), VAULT_ROLE,
 *   SA_TOKEN_FILE, VAULT_CACERT (optional: the only CA Vault's certificate may chain to),
 *   BACKUP_DIR, BACKUP_MOUNTS (JSON: [{path, maxVersions, casRequired, deleteVersionAfter}]),
 *   BACKUP_RECIPIENTS (age public keys, one a line),
 *   VAULT_WAIT_SECONDS (optional: how long to wait for Vault to answer at all; default 120)
 * Exit codes: 0 done, 1 failed, 2 usage error.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { BACKUP_POD_LABELS } from "../../components/lib/contracts";
import { vaultApi, VaultEndpoint } from "../../components/lib/vault-api";
import { waitForApi } from "../../components/lib/vault-init";
import { BackupVault, countVersions, encryptExport, exportMounts, MountSettings, serializeExport } from "./kv-backup";

/** The exported object's name: sortable by time, so retention keeps the newest. */
export function exportName(at: Date): string {
    return `kv-export-${at
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d+Z$/, "Z")}.jsonl.gz.age`;
}

/** The marker the upload step puts beside the exports once an upload succeeded (`<prefix>latest.json`). */
export interface LastGoodMarker {
    readonly object: string;
    readonly completedAt: string;
    readonly completedAtUnix: number;
    readonly secrets: number;
    readonly versions: number;
    readonly sha256: string;
    readonly bytes: number;
}

/** How long the job waits by default for Vault to answer at all before it fails (the Job's deadline is 900 s). */
const DEFAULT_VAULT_WAIT_SECONDS = 120;

function log(line: string): void {
    console.log(`${new Date().toISOString().replace(/\.\d+Z$/, "Z")} vault-kv-backup: ${line}`);
}

class UsageError extends Error {}

function need(env: NodeJS.ProcessEnv, name: string): string {
    const v = env[name];
    if (v === undefined || v === "") throw new UsageError(`${name} is required`);
    return v;
}

/** The job; returns the exit code. */
export async function runExportJob(
    env: NodeJS.ProcessEnv = process.env,
    now: () => Date = () => new Date(),
): Promise<number> {
    let endpoint: VaultEndpoint;
    let settings: {
        authPath: string;
        role: string;
        saFile: string;
        dir: string;
        mounts: MountSettings[];
        recipients: string[];
        waitSeconds: number;
    };
    try {
        const ca = env.VAULT_CACERT;
        endpoint = {
            address: need(env, "VAULT_ADDR"),
            caBundle: ca === undefined || ca === "" ? undefined : fs.readFileSync(ca, "utf8"),
            requestTimeoutMs: 30_000,
        };
        const mounts = JSON.parse(need(env, "BACKUP_MOUNTS")) as MountSettings[];
        if (!Array.isArray(mounts) || mounts.length === 0) throw new UsageError("BACKUP_MOUNTS must list the mounts");
        settings = {
            authPath: need(env, "VAULT_AUTH_PATH"),
            role: need(env, "VAULT_ROLE"),
            saFile: need(env, "SA_TOKEN_FILE"),
            dir: need(env, "BACKUP_DIR"),
            mounts,
            recipients: need(env, "BACKUP_RECIPIENTS")
                .split(/[\n,]/)
                .map((r) => r.trim())
                .filter((r) => r !== ""),
            waitSeconds: Number(env.VAULT_WAIT_SECONDS ?? DEFAULT_VAULT_WAIT_SECONDS),
        };
        if (!(settings.waitSeconds > 0))
            throw new UsageError("VAULT_WAIT_SECONDS must be a positive number of seconds");
    } catch (err) {
        console.error(`vault-kv-backup: ${(err as Error).message}`);
        return 2;
    }
    try {
        // A new pod's first connections can be refused while the CNI programs its NetworkPolicy (on the e2e
        // node this step's login was refused three times in its first 30 s): wait for Vault to answer first.
        await waitForApi(endpoint, settings.waitSeconds, {
            whatToCheck:
                "Check VAULT_ADDR, that Vault's pods run, and that a NetworkPolicy lets this job's pods " +
                `(${Object.entries(BACKUP_POD_LABELS)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(",")}) reach Vault's API port.`,
        });
        const jwt = fs.readFileSync(settings.saFile, "utf8").trim();
        const login = await vaultApi(endpoint, "POST", `auth/${settings.authPath}/login`, { role: settings.role, jwt });
        const token = (login.body?.auth as { client_token?: string } | undefined)?.client_token;
        if (login.status !== 200 || token === undefined) {
            const errors = login.body?.errors;
            const why = Array.isArray(errors) ? errors.join("; ") : `HTTP ${login.status}`;
            throw new Error(`login to auth/${settings.authPath} as role ${settings.role} failed: ${why}`);
        }
        const vault = new BackupVault(endpoint, token);
        const started = now();
        const e = await exportMounts(vault, settings.mounts, started);
        // The token is not revoked: that needs the default policy, which the role withholds; it lives 5 minutes.
        const ciphertext = await encryptExport(serializeExport(e), settings.recipients);
        const name = exportName(started);
        fs.writeFileSync(path.join(settings.dir, name), ciphertext, { mode: 0o600 });
        const marker: LastGoodMarker = {
            object: name,
            completedAt: now().toISOString(),
            completedAtUnix: Math.floor(now().getTime() / 1000),
            secrets: e.secrets.length,
            versions: countVersions(e),
            sha256: crypto.createHash("sha256").update(ciphertext).digest("hex"),
            bytes: ciphertext.length,
        };
        fs.writeFileSync(path.join(settings.dir, "latest.json"), `${JSON.stringify(marker)}\n`, { mode: 0o600 });
        fs.writeFileSync(path.join(settings.dir, "name"), `${name}\n`, { mode: 0o600 });
        log(
            `exported ${marker.secrets} secrets (${marker.versions} versions) of ${settings.mounts.map((m) => m.path).join(", ")} ` +
                `to ${name} (${marker.bytes} bytes, encrypted to ${settings.recipients.length} recipient(s))`,
        );
        return 0;
    } catch (err) {
        console.error(`vault-kv-backup: ${(err as Error).message}`);
        return 1;
    }
}
