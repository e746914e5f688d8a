/**
 * A real OIDC provider (ory/hydra, playing Authelia) on loopback over TLS
 * from the rig CA, with an in-memory database. Its login and consent URLs
 * point at paths nobody serves: the scenario reads the challenge from the
 * redirect and accepts it through Hydra's admin API, with the user's groups
 * in the ID token. The system secret is generated and goes only into the
 * 0600 config file; telemetry is off.
 *
 * With `publicIp` (the node's address, where a relay brings it to pods), the
 * issuer is https://<publicIp>:<port>/, the URL Vault's pod and the rig both
 * use; the rig's own requests go to the loopback port behind it (hostUrl).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import * as YAML from "yaml";
import { RigCa } from "./pki";
import { freePort, Rig, RigProcess } from "./processes";

const READY_MS = 60_000;

export interface RigHydra {
    /** The issuer: https://<127.0.0.1 or publicIp>:<public port>/ */
    readonly issuer: string;
    /** Where hydra's public port listens on the host (for a relay). */
    readonly publicPort: number;
    /** A URL under the issuer as the rig reaches it from the host (the same port on loopback). */
    hostUrl(url: string): string;
    /** The admin API: https://127.0.0.1:<admin port> */
    readonly admin: string;
    readonly loginUrl: string;
    readonly consentUrl: string;
    readonly process: RigProcess;
    /** A JSON request to the admin API (client registration, login/consent acceptance). */
    adminRequest(method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: unknown }>;
}

export function getJson(url: string, ca: string): Promise<{ status: number; body: unknown }> {
    return jsonRequest("GET", url, ca);
}

function jsonRequest(
    method: string,
    url: string,
    ca: string,
    body?: unknown,
): Promise<{ status: number; body: unknown }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
        const req = https
            .request(
                url,
                {
                    method,
                    ca,
                    timeout: 10_000,
                    headers: payload === undefined ? {} : { "content-type": "application/json" },
                },
                (res) => {
                    const chunks: Buffer[] = [];
                    res.on("data", (c: Buffer) => chunks.push(c));
                    res.on("end", () => {
                        const text = Buffer.concat(chunks).toString("utf8");
                        try {
                            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
                        } catch {
                            resolve({ status: res.statusCode ?? 0, body: text });
                        }
                    });
                },
            )
            .on("error", reject);
        if (payload !== undefined) req.write(payload);
        req.end();
    });
}

export async function startHydra(
    rig: Rig,
    ca: RigCa,
    bin: string,
    log = console.log,
    opts: {
        publicIp?: string;
        publicPort?: number;
        /**
         * Scopes and claims discovery lists beyond hydra's own (scopes_supported: offline_access, offline,
         * openid; claims_supported: sub), as Authelia lists groups (what `npm run doctor` checks); unset: none.
         */
        discovery?: { scopes: readonly string[]; claims: readonly string[] };
    } = {},
): Promise<RigHydra> {
    const dir = rig.subdir("hydra");
    const [publicPort, adminPort] = [opts.publicPort ?? (await freePort()), await freePort()];
    const ips = ["127.0.0.1", ...(opts.publicIp === undefined ? [] : [opts.publicIp])];
    const tls = await ca.issueServer("hydra", { dnsNames: ["localhost"], ips });
    const issuer = `https://${opts.publicIp ?? "127.0.0.1"}:${publicPort}/`;
    const loopback = `https://127.0.0.1:${publicPort}/`;
    const hostUrl = (url: string) => (url.startsWith(issuer) ? loopback + url.slice(issuer.length) : url);
    const admin = `https://127.0.0.1:${adminPort}`;
    const loginUrl = `${issuer}rig/login`;
    const consentUrl = `${issuer}rig/consent`;
    const tlsFiles = { enabled: true, cert: { path: tls.cert }, key: { path: tls.key } };
    const config = path.join(dir, "hydra.yaml");
    fs.writeFileSync(
        config,
        YAML.stringify({
            dsn: "memory",
            serve: {
                public: { host: "127.0.0.1", port: publicPort, tls: tlsFiles },
                admin: { host: "127.0.0.1", port: adminPort, tls: tlsFiles },
                tls: tlsFiles,
            },
            urls: { self: { issuer }, login: loginUrl, consent: consentUrl },
            secrets: { system: [crypto.randomBytes(32).toString("hex")] },
            ...(opts.discovery === undefined
                ? {}
                : {
                      webfinger: {
                          oidc_discovery: {
                              supported_scope: [...opts.discovery.scopes],
                              supported_claims: [...opts.discovery.claims],
                          },
                      },
                  }),
            log: { level: "info", leak_sensitive_values: false },
        }),
        { mode: 0o600 },
    );
    const proc = rig.start("hydra", bin, ["serve", "all", "--sqa-opt-out", "--config", config], {
        env: { PATH: "/usr/bin:/bin", HOME: dir },
    });
    const caPem = ca.pem();
    const ms = await rig.waitReady(
        proc,
        `discovery at ${issuer}.well-known/openid-configuration and ${admin}/health/ready`,
        async () => {
            const discovery = await getJson(hostUrl(`${issuer}.well-known/openid-configuration`), caPem);
            const ready = await getJson(`${admin}/health/ready`, caPem);
            return (
                discovery.status === 200 &&
                (discovery.body as { issuer?: string }).issuer === issuer &&
                ready.status === 200
            );
        },
        READY_MS,
    );
    log(`  hydra ready: issuer ${issuer}, admin ${admin}, in ${ms} ms`);
    return {
        issuer,
        publicPort,
        hostUrl,
        admin,
        loginUrl,
        consentUrl,
        process: proc,
        adminRequest: (method, urlPath, body) => jsonRequest(method, `${admin}${urlPath}`, caPem, body),
    };
}
