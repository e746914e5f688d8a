/**
 * The rig's S3 key check (e2e/rig/s3-guard.ts): the verifier against AWS's
 * published Signature V4 example, each refusal by its S3 error code, and the
 * guard server in front of a recording upstream, driven by the AWS SDK.
 * test/integration/s3-guard.test.ts runs it with the real Vault's S3 client.
 */
import { strict as assert } from "node:assert";
import * as http from "node:http";
import * as net from "node:net";
import { ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { ReceivedRequest, S3Guard, startS3Guard, verifySigV4 } from "../../e2e/rig/s3-guard";

// AWS's example in "Signature Calculations for the Authorization Header" (Amazon S3 API reference): GET Object.
const EXAMPLE_ID = "AKIAIOSFODNN7EXAMPLE";
const EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const EXAMPLE_SIGNATURE = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
const EXAMPLE_AT = new Date("2013-05-24T00:05:00Z");

function example(overrides: Partial<ReceivedRequest> = {}, headers: Record<string, string> = {}): ReceivedRequest {
    return {
        method: "GET",
        url: "/test.txt",
        body: Buffer.alloc(0),
        ...overrides,
        headers: {
            host: "examplebucket.s3.amazonaws.com",
            range: "bytes=0-9",
            "x-amz-content-sha256": EMPTY_SHA256,
            "x-amz-date": "20130524T000000Z",
            authorization:
                `AWS4-HMAC-SHA256 Credential=${EXAMPLE_ID}/20130524/us-east-1/s3/aws4_request,` +
                `SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=${EXAMPLE_SIGNATURE}`,
            ...headers,
        },
    };
}

const only =
    (id: string, secret: string) =>
    (asked: string): string | undefined =>
        asked === id ? secret : undefined;

describe("the rig's S3 key check: verifySigV4", () => {
    it("accepts AWS's published example with its key, and only with that key's secret (positive control)", async () => {
        assert.deepEqual(await verifySigV4(example(), only(EXAMPLE_ID, EXAMPLE_SECRET), EXAMPLE_AT), {
            ok: true,
            accessKeyId: EXAMPLE_ID,
        });
        assert.deepEqual(await verifySigV4(example(), only(EXAMPLE_ID, `${EXAMPLE_SECRET}x`), EXAMPLE_AT), {
            ok: false,
            code: "SignatureDoesNotMatch",
            status: 403,
            message: "the signature does not match the key's secret",
            accessKeyId: EXAMPLE_ID,
        });
    });

    it("refuses a key that is not (or no longer) allowed, before any signature is computed", async () => {
        assert.deepEqual(await verifySigV4(example(), () => undefined, EXAMPLE_AT), {
            ok: false,
            code: "InvalidAccessKeyId",
            status: 403,
            message: `the access key ${EXAMPLE_ID} does not exist or is revoked`,
            accessKeyId: EXAMPLE_ID,
        });
    });

    it("refuses a request changed after signing: a signed header, the path, the query, the method", async () => {
        const secrets = only(EXAMPLE_ID, EXAMPLE_SECRET);
        for (const changed of [
            example({}, { range: "bytes=0-99" }),
            example({ url: "/test2.txt" }),
            example({ url: "/test.txt?versionId=1" }),
            example({ method: "DELETE" }),
        ]) {
            const v = await verifySigV4(changed, secrets, EXAMPLE_AT);
            assert.equal(v.ok ? "ok" : v.code, "SignatureDoesNotMatch", `${changed.method} ${changed.url}`);
        }
        const missing = example();
        delete (missing.headers as Record<string, unknown>).range;
        const v = await verifySigV4(missing, secrets, EXAMPLE_AT);
        assert.deepEqual(v.ok ? "ok" : [v.code, v.message], [
            "SignatureDoesNotMatch",
            "the signed header range is missing",
        ]);
    });

    it("refuses unsigned, malformed, presigned, skewed and body-swapped requests with S3's codes", async () => {
        const secrets = only(EXAMPLE_ID, EXAMPLE_SECRET);
        const code = async (r: ReceivedRequest, at = EXAMPLE_AT) => {
            const v = await verifySigV4(r, secrets, at);
            return v.ok ? "ok" : `${v.status} ${v.code}`;
        };
        const unsigned = example();
        delete (unsigned.headers as Record<string, unknown>).authorization;
        assert.equal(await code(unsigned), "403 AccessDenied");
        assert.equal(await code(example({}, { authorization: "AWS AKIA:abc" })), "400 AuthorizationHeaderMalformed");
        assert.equal(
            await code(example({ url: "/test.txt?X-Amz-Credential=x&X-Amz-Signature=y" })),
            "403 AccessDenied",
        );
        assert.equal(await code(example(), new Date("2013-05-24T00:16:00Z")), "403 RequestTimeTooSkewed");
        assert.equal(await code(example(), new Date("2013-05-24T00:14:00Z")), "ok");
        // The example declares an empty body: a body under it is refused even though the headers verify.
        assert.equal(await code(example({ body: Buffer.from("x") })), "400 XAmzContentSHA256Mismatch");
        assert.equal(
            await code(example({}, { "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" })),
            "501 NotImplemented",
        );
    });
});

describe("the rig's S3 key check: the guard in front of an upstream", () => {
    let upstream: http.Server;
    const seen: string[] = [];
    let guard: S3Guard;
    const client = (accessKeyId: string, secretAccessKey: string) =>
        new S3Client({
            endpoint: `http://${guard.endpoint.host}:${guard.endpoint.port}`,
            region: "garage",
            forcePathStyle: true,
            credentials: { accessKeyId, secretAccessKey },
            maxAttempts: 1,
        });
    const list = (s3: S3Client) =>
        s3.send(new ListObjectsV2Command({ Bucket: "vault-e2e", Prefix: "vault/core/", MaxKeys: 5 }));
    const refusal = async (p: Promise<unknown>) => {
        try {
            await p;
        } catch (err) {
            if (err instanceof S3ServiceException) return `${err.$metadata.httpStatusCode} ${err.name}`;
            throw err;
        }
        return "accepted";
    };

    before(async () => {
        // A recording upstream that answers like an empty bucket (what gofakes3 would, for these calls).
        upstream = http.createServer((req, res) => {
            req.resume();
            req.on("end", () => {
                seen.push(`${req.method} ${req.url}`);
                const xml =
                    '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>vault-e2e</Name><KeyCount>0</KeyCount>' +
                    "<IsTruncated>false</IsTruncated></ListBucketResult>";
                res.writeHead(200, { "content-type": "application/xml", etag: '"e"' }).end(
                    req.method === "GET" ? xml : "",
                );
            });
        });
        await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
        guard = await startS3Guard({ host: "127.0.0.1", port: (upstream.address() as net.AddressInfo).port });
    });
    after(async () => {
        await guard.close();
        upstream.close();
    });

    it("passes everything on, unchecked, until enforce()", async () => {
        await list(client("anyone", "anything"));
        assert.deepEqual(guard.counts(), { accepted: {}, refused: {}, unchecked: 1 });
        assert.equal(seen.length, 1);
    });

    it("then takes only allowed keys: old and new side by side, the old refused after revoke, the new still taken", async () => {
        seen.length = 0;
        guard.enforce(new Map([["GKold", "old-secret"]]));
        const old = client("GKold", "old-secret");
        const fresh = client("GKnew", "new-secret");
        assert.equal(await refusal(list(old)), "accepted");
        assert.equal(await refusal(list(fresh)), "403 InvalidAccessKeyId");
        guard.allow("GKnew", "new-secret");
        assert.deepEqual(guard.allowed(), ["GKnew", "GKold"]);
        assert.equal(await refusal(list(fresh)), "accepted");
        assert.equal(
            await refusal(
                fresh.send(new PutObjectCommand({ Bucket: "vault-e2e", Key: "vault/core/a b+c", Body: "x" })),
            ),
            "accepted",
        );
        assert.equal(await refusal(list(client("GKnew", "guessed"))), "403 SignatureDoesNotMatch");
        guard.revoke("GKold");
        assert.equal(await refusal(list(old)), "403 InvalidAccessKeyId");
        assert.equal(await refusal(list(fresh)), "accepted");
        assert.deepEqual(guard.counts(), {
            accepted: { GKold: 1, GKnew: 3 },
            refused: { GKnew: { InvalidAccessKeyId: 1, SignatureDoesNotMatch: 1 }, GKold: { InvalidAccessKeyId: 1 } },
            unchecked: 1,
        });
        // Only what was accepted reached the upstream, the object key as the client sent it.
        assert.equal(seen.length, 4);
        assert.ok(seen.includes("PUT /vault-e2e/vault/core/a%20b%2Bc?x-id=PutObject"), seen.join("\n"));
    });
});
