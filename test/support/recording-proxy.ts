/**
 * A reverse proxy on loopback that records every request it forwards
 * (method, path, headers, body), with an upstream that can be switched: it
 * plays "another address for the same Vault" and "another Vault at the same
 * address", and shows what a client sent there. Plain http, or https with a
 * certificate that can be replaced (a CA rotation at the same address).
 */
import * as http from "node:http";
import * as https from "node:https";
import { AddressInfo } from "node:net";

export interface RecordedRequest {
    readonly method: string;
    readonly path: string;
    readonly headers: http.IncomingHttpHeaders;
    readonly body: string;
}

/** A certificate and its key (PEM) the proxy serves. */
export interface ProxyCertificate {
    readonly certPem: string;
    readonly keyPem: string;
}

export interface RecordingProxy {
    /** `http://127.0.0.1:<port>`, or https with a certificate. */
    readonly url: string;
    readonly requests: readonly RecordedRequest[];
    /** Points the proxy at another upstream (an http base URL). */
    setUpstream(upstream: string): void;
    /** Serves another certificate from now on (https only). */
    setCertificate(tls: ProxyCertificate): void;
    close(): Promise<void>;
}

/** Starts the proxy; `upstream` is an http base URL; with `tls` it serves https with that certificate. */
export async function startRecordingProxy(upstream: string, tls?: ProxyCertificate): Promise<RecordingProxy> {
    let target = new URL(upstream);
    const requests: RecordedRequest[] = [];
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const body = Buffer.concat(chunks);
            requests.push({
                method: req.method ?? "",
                path: req.url ?? "",
                headers: req.headers,
                body: body.toString(),
            });
            const up = http.request(
                { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
                (upRes) => {
                    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
                    upRes.pipe(res);
                },
            );
            up.on("error", (e) => {
                res.writeHead(502, { "Content-Type": "text/plain" });
                res.end(`recording-proxy: upstream ${target.href}: ${e.message}`);
            });
            up.end(body);
        });
    };
    const certificate = (t: ProxyCertificate) => ({ cert: t.certPem, key: t.keyPem });
    const server = tls === undefined ? http.createServer(handler) : https.createServer(certificate(tls), handler);
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    return {
        url: `${tls === undefined ? "http" : "https"}://127.0.0.1:${(server.address() as AddressInfo).port}`,
        requests,
        setUpstream: (next) => {
            target = new URL(next);
        },
        setCertificate: (next) => {
            if (!(server instanceof https.Server)) throw new Error("recording-proxy: plain http has no certificate");
            server.setSecureContext(certificate(next));
        },
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}
