/**
 * The real Vault binary on loopback over TLS from the rig CA, playing the
 * in-cluster server (`vault.address` points at it). It starts
 * uninitialized and sealed, like the chart's fresh pod: the program's own
 * bootstrap initializes it. File storage in the rig's temp dir.
 */
import * as fs from "fs";
import * as path from "path";
import { vaultApi } from "../../components/lib/vault-api";
import { RigCa } from "./pki";
import { freePort, Rig, RigProcess } from "./processes";

const READY_MS = 60_000;

/** Vault's JSON answers, read field by field by the caller. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type VaultResponse = { status: number; body: any };

/** A Vault the rig talks to: a local process, or the chart's pod through the node's relay. */
export interface VaultClient {
    /** https://127.0.0.1:<port> */
    readonly address: string;
    /** A JSON request over TLS trusting only the rig CA; the token (when given) goes in a header, never a log. */
    request(method: string, urlPath: string, body?: unknown, token?: string): Promise<VaultResponse>;
}

export interface RigVault extends VaultClient {
    readonly caFile: string;
    readonly process: RigProcess;
}

/** The product's one Vault client (components/lib/vault-api.ts) at `address`, trusting only `caPem`. */
export function vaultClient(address: string, caPem: string): VaultClient {
    const endpoint = { address, caBundle: caPem, requestTimeoutMs: 15_000 };
    const request = async (method: string, urlPath: string, body?: unknown, token?: string): Promise<VaultResponse> => {
        if (!urlPath.startsWith("/v1/")) throw new Error(`rig vault request: ${urlPath} is not under /v1/`);
        const res = await vaultApi(endpoint, method, urlPath.slice("/v1/".length), body, token);
        // A body that is not JSON comes back as its text, as before.
        return { status: res.status, body: res.body ?? (res.text === "" ? undefined : res.text) };
    };
    return { address, request };
}

export async function startVault(
    rig: Rig,
    ca: RigCa,
    bin: string,
    log = console.log,
    /** Names the server's folder, certificate and process: each name is a new, uninitialized Vault. */
    name = "vault",
): Promise<RigVault> {
    const dir = rig.subdir(name);
    const [port, clusterPort] = [await freePort(), await freePort()];
    const tls = await ca.issueServer(name, { dnsNames: ["localhost"], ips: ["127.0.0.1"] });
    const address = `https://127.0.0.1:${port}`;
    const config = path.join(dir, "vault.hcl");
    fs.writeFileSync(
        config,
        [
            `storage "file" {`,
            `  path = ${JSON.stringify(rig.subdir(`${name}/data`))}`,
            `}`,
            `listener "tcp" {`,
            `  address         = "127.0.0.1:${port}"`,
            `  cluster_address = "127.0.0.1:${clusterPort}"`,
            `  tls_cert_file   = ${JSON.stringify(tls.cert)}`,
            `  tls_key_file    = ${JSON.stringify(tls.key)}`,
            `}`,
            `api_addr      = ${JSON.stringify(address)}`,
            `cluster_addr  = "https://127.0.0.1:${clusterPort}"`,
            `disable_mlock = true`,
            `ui            = false`,
            ``,
        ].join("\n"),
        { mode: 0o600 },
    );
    // A minimal env: no VAULT_TOKEN or VAULT_ADDR of the caller leaks in.
    const proc = rig.start(name, bin, ["server", `-config=${config}`], {
        env: { PATH: "/usr/bin:/bin", HOME: dir },
    });
    const { request } = vaultClient(address, ca.pem());
    // /sys/health answers 501 while uninitialized: listening over TLS is ready.
    const ms = await rig.waitReady(
        proc,
        `an answer from ${address}/v1/sys/health`,
        async () => (await request("GET", "/v1/sys/health")).status === 501,
        READY_MS,
    );
    log(`  vault ready (uninitialized, sealed) on ${address} in ${ms} ms`);
    return { address, caFile: ca.cert, process: proc, request };
}
