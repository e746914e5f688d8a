/**
 * The doctor's one HTTP client for the OIDC provider: a single GET, no
 * redirect followed (the redirect is the answer), no cookie, no credential,
 * trusting exactly the CA bundle given (as Vault trusts oidc_discovery_ca_pem)
 * or Node's public roots when there is none.
 */
import * as https from "node:https";

/** What the provider answered. */
export interface ProviderAnswer {
    readonly status: number;
    /** The Location header of a redirect, as sent. */
    readonly location?: string;
    readonly contentType?: string;
    /** The body as text (at most MAX_BODY bytes). */
    readonly text: string;
}

/** The rejection when no answer came: Node's error code (a TLS verification code, ECONNREFUSED...) and reason. */
export interface ProviderNoAnswer extends Error {
    readonly code?: string;
    readonly reason: string;
}

/** A discovery document or an error page is small; more is not read. */
const MAX_BODY = 256 * 1024;

export type ProviderGet = (url: string, caBundle: string | undefined) => Promise<ProviderAnswer>;

export const providerGet: ProviderGet = (url, caBundle) =>
    new Promise((resolve, reject) => {
        const noAnswer = (reason: string, code?: string): ProviderNoAnswer =>
            Object.assign(new Error(`GET ${url}: ${reason}`), { reason, code });
        const req = https.get(
            url,
            {
                // `ca` replaces Node's roots: only the stack's bundle is trusted, as Vault trusts it.
                ca: caBundle === undefined || caBundle === "" ? undefined : caBundle,
                agent: false,
                timeout: 10_000,
                headers: { Accept: "application/json, text/html;q=0.5" },
            },
            (res) => {
                const chunks: Buffer[] = [];
                let size = 0;
                res.on("data", (c: Buffer) => {
                    size += c.length;
                    if (size <= MAX_BODY) chunks.push(c);
                });
                res.on("error", (e: NodeJS.ErrnoException) => reject(noAnswer(e.message, e.code)));
                res.on("end", () =>
                    resolve({
                        status: res.statusCode ?? 0,
                        location: res.headers.location,
                        contentType: res.headers["content-type"],
                        text: Buffer.concat(chunks).toString("utf8"),
                    }),
                );
            },
        );
        req.on("timeout", () =>
            req.destroy(Object.assign(new Error("no answer within 10000 ms"), { code: "ETIMEDOUT" })),
        );
        req.on("error", (e: NodeJS.ErrnoException) => reject(noAnswer(e.message, e.code)));
    });
