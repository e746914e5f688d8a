/**
 * A plain-http reverse proxy on loopback that records every request it
 * forwards (method, path, headers, body), with an upstream that can be
 * switched: it plays "another address for the same Vault" and "another Vault
 * at the same address", and shows what a client sent there.
 */
import * as http from "node:http";
import { AddressInfo } from "node:net";

export interface RecordedRequest {
    readonly method: string;
    readonly path: string;
    readonly headers: http.IncomingHttpHeaders;
    readonly body: string;
}

export interface RecordingProxy {
    /** `http://127.0.0.1:<port>`. */
    readonly url: string;
    readonly requests: readonly RecordedRequest[];
    /** Points the proxy at another upstream (an http base URL). */
    setUpstream(upstream: string): void;
    close(): Promise<void>;
}

export async function startRecordingProxy(upstream: string): Promise<RecordingProxy> {
    let target = new URL(upstream);
    const requests: RecordedRequest[] = [];
    const server = http.createServer((req, res) => {
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
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        requests,
        setUpstream: (next) => {
            target = new URL(next);
        },
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}
