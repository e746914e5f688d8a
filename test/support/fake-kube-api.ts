/**
 * A fake Kubernetes API for real-Vault specs: a TLS server with a throw-away
 * self-signed certificate (needs openssl) that answers the one Kubernetes API
 * call Vault's Kubernetes auth makes (TokenReview; it remembers the bearer each
 * review came with) and, optionally, an OIDC issuer's discovery document, as
 * Authelia behind a private CA would serve it. Plus ServiceAccount tokens
 * shaped as Kubernetes issues them.
 */
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";

/** A ServiceAccount as the fake API server knows it. */
export interface Account {
    readonly namespace: string;
    readonly name: string;
    readonly uid: string;
}

/** The fake API server: its address, the CA to trust it, and the reviews it answered. */
export interface FakeKubeApi {
    readonly host: string;
    readonly ca: string;
    readonly reviews: { bearer: string | undefined; token: string; audiences: readonly string[] }[];
    close(): Promise<void>;
}

export async function startFakeKubeApi(
    accounts: ReadonlyMap<string, Account>,
    opts: { oidcDiscovery?: boolean } = {},
): Promise<FakeKubeApi | undefined> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fake-kube-api-"));
    try {
        const [key, cert] = [path.join(dir, "key.pem"), path.join(dir, "cert.pem")];
        const made = spawnSync(
            "openssl",
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
                .concat(["-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"])
                .concat(["-addext", "subjectAltName=IP:127.0.0.1"]),
            { stdio: "ignore" },
        );
        if (made.status !== 0) return undefined;
        const tls = { key: fs.readFileSync(key), cert: fs.readFileSync(cert, "utf8") };
        const reviews: FakeKubeApi["reviews"] = [];
        const server = https.createServer(tls, (req, res) => {
            let body = "";
            req.on("data", (chunk: Buffer) => (body += chunk.toString()));
            req.on("end", () => {
                const issuer = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
                if (
                    opts.oidcDiscovery === true &&
                    req.method === "GET" &&
                    req.url === "/.well-known/openid-configuration"
                ) {
                    res.writeHead(200, { "Content-Type": "application/json" });
                    res.end(JSON.stringify(discovery(issuer)));
                    return;
                }
                if (req.method !== "POST" || req.url !== "/apis/authentication.k8s.io/v1/tokenreviews") {
                    res.writeHead(404).end();
                    return;
                }
                const spec = JSON.parse(body).spec ?? {};
                const token = String(spec.token);
                const wanted = (spec.audiences ?? []) as string[];
                reviews.push({ bearer: req.headers.authorization, token, audiences: wanted });
                const sa = accounts.get(token);
                // As kube-apiserver: the token is valid only for the audiences asked for (the API
                // server's own when none), and the review answers the ones they share.
                const audiences = tokenAudiences(token).filter((a) =>
                    (wanted.length > 0 ? wanted : [API_AUDIENCE]).includes(a),
                );
                const status =
                    sa === undefined || audiences.length === 0
                        ? {
                              authenticated: false,
                              error: sa === undefined ? "unknown token" : "token audiences is invalid",
                          }
                        : {
                              authenticated: true,
                              audiences,
                              user: { username: `system:serviceaccount:${sa.namespace}:${sa.name}`, uid: sa.uid },
                          };
                res.writeHead(201, { "Content-Type": "application/json" });
                res.end(JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", status }));
            });
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const { port } = server.address() as { port: number };
        return {
            host: `https://127.0.0.1:${port}`,
            ca: tls.cert.trim(),
            reviews,
            close: () => new Promise((resolve) => server.close(() => resolve())),
        };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** The discovery document of an OIDC issuer (Authelia's has more; Vault reads these). */
function discovery(issuer: string) {
    return {
        issuer,
        authorization_endpoint: `${issuer}/api/oidc/authorization`,
        token_endpoint: `${issuer}/api/oidc/token`,
        userinfo_endpoint: `${issuer}/api/oidc/userinfo`,
        jwks_uri: `${issuer}/jwks.json`,
        response_types_supported: ["code"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
    };
}

/** The API server's own audience: what a token without `aud`, or a review without audiences, is for. */
export const API_AUDIENCE = "https://kubernetes.default.svc.cluster.local";

/** The `aud` of a token as the fake issued it (the API server's own when it has none). */
function tokenAudiences(token: string): string[] {
    try {
        const aud = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()).aud;
        return aud === undefined ? [API_AUDIENCE] : Array.isArray(aud) ? aud.map(String) : [String(aud)];
    } catch {
        return [];
    }
}

/**
 * A ServiceAccount token as Kubernetes issues them (signed; Vault leaves the
 * signature to TokenReview), for `audiences` as a TokenRequest asks (no `aud`
 * claim when unset, as the older fixtures' tokens).
 */
export function serviceAccountJwt(sa: Account, audiences?: readonly string[]): string {
    const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const unsigned = `${b64({ alg: "ES256", typ: "JWT" })}.${b64({
        iss: "kubernetes/serviceaccount",
        sub: `system:serviceaccount:${sa.namespace}:${sa.name}`,
        "kubernetes.io/serviceaccount/namespace": sa.namespace,
        "kubernetes.io/serviceaccount/service-account.name": sa.name,
        "kubernetes.io/serviceaccount/service-account.uid": sa.uid,
        ...(audiences === undefined ? {} : { aud: [...audiences] }),
    })}`;
    const signature = crypto.sign("sha256", Buffer.from(unsigned), { key: privateKey, dsaEncoding: "ieee-p1363" });
    return `${unsigned}.${signature.toString("base64url")}`;
}
