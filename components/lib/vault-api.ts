/**
 * The one Vault HTTP client: bootstrap's init, unseal and provider token
 * (./vault-init, ./vault-token), the SOPS migration's KV v2 calls
 * (ops/migrate/kv-client.ts), the specs' real-server harness
 * (test/support/vault-server.ts) and the e2e rig (e2e/rig/vault.ts) all send
 * their requests through `vaultApi`.
 *
 * Serialization: bootstrap's dynamic providers capture this module by value
 * into their closures. So it imports nothing at top level; Node's modules are
 * required inside the function that uses them.
 *
 * Secrets: the token travels only in the X-Vault-Token header. An error never
 * quotes the request body; callers that put a secret in a message pass it
 * through `redact`.
 */

/** Where Vault's API is and how to talk to it. */
export interface VaultEndpoint {
    /** Base URL, e.g. https://vault.amiya.akn (no /v1). */
    readonly address: string;
    /** Skip TLS certificate verification (self-signed lab certificates). */
    readonly skipTlsVerify?: boolean;
    /**
     * PEM bundle of the CAs Vault's certificate must chain to (secret-platform:trust.caBundle): when set, the
     * ONLY ones trusted, as the Vault provider trusts its ca_cert_file; "" or unset: Node's public roots.
     */
    readonly caBundle?: string;
    /** Per-request timeout in milliseconds; default 10000. */
    readonly requestTimeoutMs?: number;
    /** Vault Enterprise namespace (X-Vault-Namespace); unset: none. */
    readonly namespace?: string;
}

/** A Vault API answer: HTTP status and parsed JSON body. */
export interface ApiResponse {
    readonly status: number;
    /** The JSON body; undefined when empty or not JSON (e.g. an HTML error page from a proxy). */
    readonly body: Record<string, unknown> | undefined;
    /** The body as text, "" when empty. */
    readonly text: string;
}

/** The rejection of `vaultApi` when no answer came. */
export interface NoAnswerError extends Error {
    /** Node's error code (ECONNREFUSED, a TLS verification code, ...), when it has one. */
    code?: string;
    /** Node's message alone, without method, URL or code: e.g. `connect ECONNREFUSED 127.0.0.1:8200`. */
    readonly reason: string;
}

/** Replaces every occurrence of each secret in `text` (errors may quote a request or response). */
export function redact(text: string, secrets: readonly string[]): string {
    let out = text;
    for (const s of secrets) {
        if (s.length >= 4) out = out.split(s).join("<redacted>");
    }
    return out;
}

/**
 * One request to Vault's API (`apiPath` relative to /v1). Resolves with any
 * HTTP status; rejects only when no answer came (refused, DNS, TLS, timeout),
 * with a NoAnswerError whose message names the method and URL and never the
 * request body.
 */
export function vaultApi(
    ep: VaultEndpoint,
    method: string,
    apiPath: string,
    body?: unknown,
    token?: string,
    contentType: string = "application/json",
): Promise<ApiResponse> {
    const url = new URL(`${ep.address.replace(/\/+$/, "")}/v1/${apiPath}`);
    const client = url.protocol === "https:" ? require("node:https") : require("node:http");
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = { Accept: "application/json" };
    if (payload !== undefined) {
        headers["Content-Type"] = contentType;
        headers["Content-Length"] = Buffer.byteLength(payload);
    }
    if (token !== undefined) headers["X-Vault-Token"] = token;
    if (ep.namespace !== undefined && ep.namespace !== "") headers["X-Vault-Namespace"] = ep.namespace;
    const timeout = ep.requestTimeoutMs ?? 10_000;
    // `ca` replaces Node's roots: a pinned bundle is all that is trusted, so a public certificate for another
    // host cannot stand in for this stack's Vault.
    const ca = ep.caBundle === undefined || ep.caBundle === "" ? undefined : ep.caBundle;
    const noAnswer = (reason: string, code?: string): NoAnswerError => {
        const suffix = code !== undefined && !reason.includes(code) ? ` (${code})` : "";
        return Object.assign(new Error(`${method} ${url.href}: ${reason}${suffix}`), { reason, code });
    };
    return new Promise((resolve, reject) => {
        const req = client.request(
            url,
            // agent: false: one connection per call, never a kept-alive socket the server has since closed.
            { method, headers, timeout, agent: false, rejectUnauthorized: ep.skipTlsVerify !== true, ca },
            (res: import("node:http").IncomingMessage) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("error", (e: Error) => reject(noAnswer(e.message)));
                res.on("end", () => {
                    const text = Buffer.concat(chunks).toString("utf8");
                    let parsed: Record<string, unknown> | undefined;
                    try {
                        parsed = text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>);
                    } catch {
                        parsed = undefined; // an HTML error page from a proxy: the status says enough
                    }
                    resolve({ status: res.statusCode ?? 0, body: parsed, text });
                });
            },
        );
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeout} ms`)));
        // The code stays on the error: waitForApi tells certificate errors (final) from "not up yet".
        req.on("error", (e: NodeJS.ErrnoException) => reject(noAnswer(e.message, e.code)));
        req.end(payload);
    });
}

/** Vault's error list from a failed answer, for messages. */
export function apiErrors(res: Pick<ApiResponse, "body">): string {
    const errors = res.body?.errors;
    return Array.isArray(errors) && errors.length > 0 ? `: ${errors.join("; ")}` : "";
}
