/**
 * A TLS-terminating reverse proxy for specs: serves https on loopback with a
 * given certificate and forwards every request, as is, to a plain-http
 * upstream (e.g. gofakes3, which has no TLS). Stands in for Traefik in front
 * of Garage: the client sees only the proxy's certificate.
 */
import * as http from "node:http";
import * as https from "node:https";
import { AddressInfo } from "node:net";

export interface TlsProxy {
    /** `https://127.0.0.1:<port>`. */
    readonly url: string;
    /** Requests the proxy forwarded (a client that refused the certificate sends none). */
    readonly forwarded: number;
    close(): Promise<void>;
}

/** Starts the proxy; `upstream` is the http base URL (`http://127.0.0.1:<port>`). */
export async function startTlsProxy(opts: { certPem: string; keyPem: string; upstream: string }): Promise<TlsProxy> {
    const target = new URL(opts.upstream);
    let forwarded = 0;
    const server = https.createServer({ cert: opts.certPem, key: opts.keyPem }, (req, res) => {
        forwarded += 1;
        const up = http.request(
            {
                host: target.hostname,
                port: target.port,
                method: req.method,
                path: req.url,
                // Host stays the client's: S3 signatures (SigV4) cover it.
                headers: req.headers,
            },
            (upRes) => {
                res.writeHead(upRes.statusCode ?? 502, upRes.headers);
                upRes.pipe(res);
            },
        );
        up.on("error", (e) => {
            res.writeHead(502, { "Content-Type": "text/plain" });
            res.end(`tls-proxy: upstream ${opts.upstream}: ${e.message}`);
        });
        req.pipe(up);
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    return {
        url: `https://127.0.0.1:${port}`,
        get forwarded() {
            return forwarded;
        },
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}
