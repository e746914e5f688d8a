/**
 * The access-key check the rig's S3 server lacks. gofakes3 v1.2.0 never
 * reads the Authorization header (only x-amz-date, for clock skew), so any
 * key works against it and a rotation drill could not tell an old key from
 * a new one. This guard sits in front of it, as Garage's own check does:
 * every request must carry an AWS Signature V4 (header form) by a key of the
 * allowed set, recomputed here with @smithy/signature-v4 (the AWS SDK's own
 * signer) from the request as received and compared in constant time;
 * otherwise it answers the S3 error Garage would (InvalidAccessKeyId,
 * SignatureDoesNotMatch, ...) and gofakes3 never sees the request.
 *
 * It checks nothing until `enforce()` is called: the lifecycle scenario's
 * stacks (and the KV export's job) run with keys nobody registers here.
 */
import * as crypto from "crypto";
import * as http from "http";
import * as net from "net";
import { SignatureV4 } from "@smithy/signature-v4";
import { Endpoint } from "../node/relays";

/** How far a request's x-amz-date may be from the guard's clock (S3's own limit). */
const MAX_SKEW_MS = 15 * 60_000;
const ALGORITHM = "AWS4-HMAC-SHA256";
/** Payload hashes that name no body digest: the signature still covers the request's headers. */
const UNSIGNED_PAYLOADS = new Set(["UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"]);

type Sha256Ctor = ConstructorParameters<typeof SignatureV4>[0]["sha256"];
type SourceData = string | ArrayBuffer | ArrayBufferView;

const bytes = (d: SourceData): Buffer =>
    typeof d === "string"
        ? Buffer.from(d, "utf8")
        : ArrayBuffer.isView(d)
          ? Buffer.from(d.buffer, d.byteOffset, d.byteLength)
          : Buffer.from(d);

/** The signer's hash: Node's SHA-256, keyed (HMAC) when given a secret. */
class NodeSha256 {
    private h: crypto.Hash | crypto.Hmac;
    constructor(private readonly secret?: SourceData) {
        this.h = this.fresh();
    }
    private fresh(): crypto.Hash | crypto.Hmac {
        return this.secret === undefined
            ? crypto.createHash("sha256")
            : crypto.createHmac("sha256", bytes(this.secret));
    }
    update(data: Uint8Array): void {
        this.h.update(data);
    }
    digest(): Promise<Uint8Array> {
        return Promise.resolve(new Uint8Array(this.h.digest()));
    }
    reset(): void {
        this.h = this.fresh();
    }
}

/** A request as the guard received it: the raw target (path and query as sent), headers as Node parsed them. */
export interface ReceivedRequest {
    readonly method: string;
    readonly url: string;
    readonly headers: http.IncomingHttpHeaders;
    readonly body: Buffer;
}

export type Verdict =
    | { readonly ok: true; readonly accessKeyId: string }
    | {
          readonly ok: false;
          /** The S3 error code Garage (and S3) answer with. */
          readonly code: string;
          readonly status: number;
          readonly message: string;
          /** The key the request names, when it names one. */
          readonly accessKeyId?: string;
      };

const refuse = (code: string, status: number, message: string, accessKeyId?: string): Verdict => ({
    ok: false,
    code,
    status,
    message,
    ...(accessKeyId === undefined ? {} : { accessKeyId }),
});

const header = (h: http.IncomingHttpHeaders, name: string): string | undefined => {
    const v = h[name];
    return Array.isArray(v) ? v.join(",") : v;
};

/** `AWS4-HMAC-SHA256 Credential=<id>/<date>/<region>/<service>/aws4_request, SignedHeaders=a;b, Signature=<hex>`. */
function parseAuthorization(value: string) {
    const m =
        /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request\s*,\s*SignedHeaders=([a-z0-9;-]+)\s*,\s*Signature=([0-9a-f]{64})\s*$/.exec(
            value,
        );
    if (m === null) return undefined;
    return {
        accessKeyId: m[1],
        shortDate: m[2],
        region: m[3],
        service: m[4],
        signedHeaders: m[5].split(";"),
        signature: m[6],
    };
}

/** `20130524T000000Z` as a Date. */
function amzDate(value: string | undefined): Date | undefined {
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? "");
    if (m === null) return undefined;
    const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
    return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

/**
 * Whether `req` carries a valid Signature V4 by a key of `secretOf` (the key id to its secret, undefined when not
 * allowed), at `now`. Pure but for the clock given.
 */
export async function verifySigV4(
    req: ReceivedRequest,
    secretOf: (accessKeyId: string) => string | undefined,
    now: Date,
): Promise<Verdict> {
    const q = req.url.indexOf("?");
    const path = q < 0 ? req.url : req.url.slice(0, q);
    const params = new URLSearchParams(q < 0 ? "" : req.url.slice(q + 1));
    if (params.has("X-Amz-Credential") || params.has("X-Amz-Signature"))
        return refuse("AccessDenied", 403, "presigned URLs are not accepted here");
    const authorization = header(req.headers, "authorization");
    if (authorization === undefined) return refuse("AccessDenied", 403, "the request is not signed");
    const auth = parseAuthorization(authorization);
    if (auth === undefined || !authorization.startsWith(ALGORITHM))
        return refuse("AuthorizationHeaderMalformed", 400, "not an AWS4-HMAC-SHA256 Authorization header");
    const id = auth.accessKeyId;
    const secret = secretOf(id);
    if (secret === undefined)
        return refuse("InvalidAccessKeyId", 403, `the access key ${id} does not exist or is revoked`, id);
    if (auth.service !== "s3")
        return refuse("AuthorizationHeaderMalformed", 400, `the credential scope names ${auth.service}, not s3`, id);
    const date = header(req.headers, "x-amz-date");
    const signingDate = amzDate(date);
    if (signingDate === undefined || !auth.signedHeaders.includes("x-amz-date") || !auth.signedHeaders.includes("host"))
        return refuse("AccessDenied", 403, "host and x-amz-date must be signed", id);
    if (date!.slice(0, 8) !== auth.shortDate)
        return refuse("SignatureDoesNotMatch", 403, "the credential scope's date is not x-amz-date's", id);
    if (Math.abs(now.getTime() - signingDate.getTime()) > MAX_SKEW_MS)
        return refuse("RequestTimeTooSkewed", 403, `x-amz-date ${date} is more than 15 minutes from now`, id);
    const payloadHash = header(req.headers, "x-amz-content-sha256");
    if (payloadHash !== undefined && !UNSIGNED_PAYLOADS.has(payloadHash)) {
        if (!/^[0-9a-f]{64}$/.test(payloadHash))
            return refuse(
                "NotImplemented",
                501,
                `payload hash ${payloadHash} (chunk signatures are not checked here)`,
                id,
            );
        if (crypto.createHash("sha256").update(req.body).digest("hex") !== payloadHash)
            return refuse("XAmzContentSHA256Mismatch", 400, "the body's SHA-256 is not x-amz-content-sha256", id);
    }

    // Exactly the headers the client signed, as received (names lowercase), signed again with the allowed secret.
    const headers: Record<string, string> = {};
    for (const name of auth.signedHeaders) {
        const value = header(req.headers, name);
        if (value === undefined)
            return refuse("SignatureDoesNotMatch", 403, `the signed header ${name} is missing`, id);
        headers[name] = value;
    }
    const query: Record<string, string | string[]> = {};
    for (const key of new Set(params.keys())) {
        const all = params.getAll(key);
        query[key] = all.length === 1 ? all[0] : all;
    }
    const signer = new SignatureV4({
        credentials: { accessKeyId: id, secretAccessKey: secret },
        region: auth.region,
        service: "s3",
        sha256: NodeSha256 as unknown as Sha256Ctor,
        // S3 signs the path as sent (no second encoding) and declares its payload hash itself.
        uriEscapePath: false,
        applyChecksum: false,
    });
    const signed = await signer.sign(
        {
            method: req.method,
            protocol: "http:",
            hostname: headers.host,
            path,
            query,
            headers,
            body: req.body.length > 0 ? req.body : undefined,
        },
        { signingDate, signableHeaders: new Set(auth.signedHeaders) },
    );
    const expected = parseAuthorization(String(signed.headers.authorization ?? ""));
    const same =
        expected !== undefined &&
        expected.signedHeaders.join(";") === auth.signedHeaders.join(";") &&
        crypto.timingSafeEqual(Buffer.from(expected.signature, "hex"), Buffer.from(auth.signature, "hex"));
    return same
        ? { ok: true, accessKeyId: id }
        : refuse("SignatureDoesNotMatch", 403, "the signature does not match the key's secret", id);
}

/** What the guard let through and refused, per access key. */
export interface GuardCounts {
    readonly accepted: Readonly<Record<string, number>>;
    /** Refusals by key id (`-` when the request named none) and S3 error code, e.g. `{ old: { InvalidAccessKeyId: 2 } }`. */
    readonly refused: Readonly<Record<string, Readonly<Record<string, number>>>>;
    /** Requests passed on before `enforce()`. */
    readonly unchecked: number;
}

export interface S3Guard {
    /** Where it listens (plain HTTP, loopback): what the node's relay forwards to. */
    readonly endpoint: Endpoint;
    /** From now on every request must be signed by one of `keys` (key id to secret). */
    enforce(keys: ReadonlyMap<string, string>): void;
    /** Adds a key next to the others (Garage's `key create` plus `bucket allow`). */
    allow(accessKeyId: string, secretAccessKey: string): void;
    /** Removes a key (Garage's `key delete`): its requests are refused from now on. */
    revoke(accessKeyId: string): void;
    /** The allowed key ids. */
    allowed(): string[];
    counts(): GuardCounts;
    close(): Promise<void>;
}

function s3Error(res: http.ServerResponse, v: Extract<Verdict, { ok: false }>): void {
    const xml =
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${v.code}</Code>` +
        `<Message>${v.message.replace(/[<>&]/g, "")}</Message></Error>`;
    res.writeHead(v.status, { "content-type": "application/xml", "content-length": Buffer.byteLength(xml) });
    res.end(xml);
}

/** Starts the guard on a free loopback port in front of `upstream` (gofakes3). */
export async function startS3Guard(upstream: Endpoint, now: () => Date = () => new Date()): Promise<S3Guard> {
    const keys = new Map<string, string>();
    let enforcing = false;
    const accepted: Record<string, number> = {};
    const refused: Record<string, Record<string, number>> = {};
    let unchecked = 0;

    const forward = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => {
        // The body is in hand: a client's `Expect: 100-continue` was answered here already.
        const headers = { ...req.headers };
        delete headers.expect;
        const out = http.request(
            { host: upstream.host, port: upstream.port, method: req.method, path: req.url, headers },
            (up) => {
                res.writeHead(up.statusCode ?? 502, up.headers);
                up.pipe(res);
            },
        );
        out.on("error", (err) => {
            if (!res.headersSent) res.writeHead(502);
            res.end(`s3 guard: upstream: ${err.message}\n`);
        });
        out.end(body);
    };

    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const body = Buffer.concat(chunks);
            if (!enforcing) {
                unchecked++;
                forward(req, body, res);
                return;
            }
            const received = { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers, body };
            verifySigV4(received, (id) => keys.get(id), now()).then(
                (v) => {
                    if (v.ok) {
                        accepted[v.accessKeyId] = (accepted[v.accessKeyId] ?? 0) + 1;
                        forward(req, body, res);
                    } else {
                        const by = (refused[v.accessKeyId ?? "-"] ??= {});
                        by[v.code] = (by[v.code] ?? 0) + 1;
                        s3Error(res, v);
                    }
                },
                (err: Error) => s3Error(res, { ok: false, code: "InternalError", status: 500, message: err.message }),
            );
        });
    });
    // Longer than a Go client's idle connections (90 s): a connection the guard closed under a client's reuse
    // would fail that client's next request.
    server.keepAliveTimeout = 120_000;
    server.headersTimeout = 125_000;
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const copy = (r: Record<string, Record<string, number>>) =>
        Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { ...v }]));
    return {
        endpoint: { host: "127.0.0.1", port: (server.address() as net.AddressInfo).port },
        enforce: (initial) => {
            keys.clear();
            for (const [id, secret] of initial) keys.set(id, secret);
            enforcing = true;
        },
        allow: (id, secret) => void keys.set(id, secret),
        revoke: (id) => void keys.delete(id),
        allowed: () => [...keys.keys()].sort(),
        counts: () => ({ accepted: { ...accepted }, refused: copy(refused), unchecked }),
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}
