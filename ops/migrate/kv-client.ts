/**
 * The few KV v2 calls the migration needs, over Vault's HTTP API (through the
 * one client, components/lib/vault-api.ts). The token travels only in the
 * X-Vault-Token header; errors carry Vault's `errors` messages, never a
 * request or response body (they hold secret values).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ApiResponse, NoAnswerError, vaultApi, VaultEndpoint } from "../../components/lib/vault-api";

export class VaultError extends Error {
    constructor(
        message: string,
        readonly status: number,
    ) {
        super(message);
    }
}

/** What KV v2 metadata says about one secret. */
export interface KvMetadata {
    readonly currentVersion: number;
    /** Whether the current version is soft-deleted or destroyed (its data unreadable). */
    readonly currentDeleted: boolean;
    readonly customMetadata: Readonly<Record<string, string>>;
}

export interface VaultConnection {
    readonly address: string;
    readonly token: string;
    readonly namespace?: string;
    /** PEM of the CAs Vault's certificate must chain to (VAULT_CACERT), else Node's roots. */
    readonly caBundle?: string;
}

/**
 * VAULT_ADDR and VAULT_TOKEN (or ~/.vault-token), VAULT_NAMESPACE and
 * VAULT_CACERT, like the vault CLI; never argv. A relative VAULT_CACERT
 * starts at `cwd`.
 */
export function connectionFromEnv(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): VaultConnection {
    const address = env.VAULT_ADDR ?? "";
    if (address === "") throw new Error("VAULT_ADDR is not set (e.g. export VAULT_ADDR=https://vault.amiya.akn)");
    if (!/^https?:\/\/[^/]+/.test(address)) throw new Error(`VAULT_ADDR must be an http(s) URL, got '${address}'`);
    let token = env.VAULT_TOKEN ?? "";
    if (token === "") {
        const file = path.join(env.HOME ?? os.homedir(), ".vault-token");
        if (fs.existsSync(file)) token = fs.readFileSync(file, "utf8").trim();
    }
    if (token === "") throw new Error("no Vault token: set VAULT_TOKEN or run `vault login` (~/.vault-token)");
    const namespace = env.VAULT_NAMESPACE !== undefined && env.VAULT_NAMESPACE !== "" ? env.VAULT_NAMESPACE : undefined;
    let caBundle: string | undefined;
    if (env.VAULT_CACERT !== undefined && env.VAULT_CACERT !== "") {
        const file = path.resolve(cwd, env.VAULT_CACERT);
        if (!fs.existsSync(file)) throw new Error(`VAULT_CACERT ${env.VAULT_CACERT}: no such file`);
        caBundle = fs.readFileSync(file, "utf8");
        if (!caBundle.includes("-----BEGIN CERTIFICATE-----")) {
            throw new Error(`VAULT_CACERT ${env.VAULT_CACERT}: not a PEM certificate`);
        }
    }
    return { address: address.replace(/\/+$/, ""), token, namespace, caBundle };
}

function encodePath(p: string): string {
    return p.split("/").map(encodeURIComponent).join("/");
}

export class KvClient {
    constructor(private readonly conn: VaultConnection) {}

    private async call(method: string, apiPath: string, body?: unknown, contentType = "application/json") {
        const ep: VaultEndpoint = {
            address: this.conn.address,
            namespace: this.conn.namespace,
            caBundle: this.conn.caBundle,
            requestTimeoutMs: 30_000,
        };
        let res: ApiResponse;
        try {
            res = await vaultApi(ep, method, apiPath, body, this.conn.token, contentType);
        } catch (err) {
            throw new VaultError(`${method} ${apiPath}: ${(err as NoAnswerError).reason ?? (err as Error).message}`, 0);
        }
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        return { status: res.status, json: res.body as any };
    }

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    private fail(method: string, apiPath: string, status: number, json: any): never {
        const errors: string[] = Array.isArray(json?.errors)
            ? json.errors.filter((e: unknown) => typeof e === "string")
            : [];
        throw new VaultError(
            `${method} ${apiPath}: HTTP ${status}${errors.length > 0 ? `: ${errors.join("; ")}` : ""}`,
            status,
        );
    }

    /** Checks that `mount` is a KV v2 mount the token can use. */
    async checkKv2Mount(mount: string): Promise<void> {
        const p = `sys/internal/ui/mounts/${encodePath(mount)}`;
        const { status, json } = await this.call("GET", p);
        // Vault answers 403 both for a missing mount and for one the token may not use.
        if (status === 403)
            throw new VaultError(
                `mount ${mount} does not exist, or this token may not use it (GET ${p}: HTTP 403)`,
                403,
            );
        if (status !== 200) this.fail("GET", p, status, json);
        const type = json?.data?.type;
        const version = json?.data?.options?.version;
        if (type !== "kv" || version !== "2") {
            throw new Error(`mount ${mount} is not a KV v2 mount (type ${type ?? "?"}, version ${version ?? "?"})`);
        }
        // The UI endpoint resolves the longest matching mount: make sure it is this one.
        const found = String(json?.data?.path ?? "").replace(/\/$/, "");
        if (found !== "" && found !== mount)
            throw new Error(`mount ${mount} does not exist (nearest mount is ${found})`);
    }

    /** The secret's metadata, or undefined when it has never been written. */
    async readMetadata(mount: string, secretPath: string): Promise<KvMetadata | undefined> {
        const p = `${encodePath(mount)}/metadata/${encodePath(secretPath)}`;
        const { status, json } = await this.call("GET", p);
        if (status === 404) return undefined;
        if (status !== 200) this.fail("GET", p, status, json);
        const d = json.data;
        const current = Number(d.current_version);
        const v = d.versions?.[String(current)] ?? {};
        return {
            currentVersion: current,
            currentDeleted: v.destroyed === true || (typeof v.deletion_time === "string" && v.deletion_time !== ""),
            customMetadata: d.custom_metadata ?? {},
        };
    }

    /** The current version's data, or undefined when deleted/destroyed or absent. */
    async readData(mount: string, secretPath: string): Promise<Record<string, unknown> | undefined> {
        const p = `${encodePath(mount)}/data/${encodePath(secretPath)}`;
        const { status, json } = await this.call("GET", p);
        if (status === 404) return undefined;
        if (status !== 200) this.fail("GET", p, status, json);
        return json?.data?.data ?? undefined;
    }

    /** Writes a new version with check-and-set; returns the version written. */
    async write(mount: string, secretPath: string, data: Record<string, string>, cas: number): Promise<number> {
        const p = `${encodePath(mount)}/data/${encodePath(secretPath)}`;
        const { status, json } = await this.call("POST", p, { options: { cas }, data });
        if (status !== 200) this.fail("POST", p, status, json);
        return Number(json.data.version);
    }

    /** Merges keys into the secret's custom metadata (other keys are kept); writes no data version. */
    async patchCustomMetadata(mount: string, secretPath: string, custom: Record<string, string>): Promise<void> {
        const p = `${encodePath(mount)}/metadata/${encodePath(secretPath)}`;
        const { status, json } = await this.call(
            "PATCH",
            p,
            { custom_metadata: custom },
            "application/merge-patch+json",
        );
        if (status !== 204 && status !== 200) this.fail("PATCH", p, status, json);
    }
}
