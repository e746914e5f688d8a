import { strict as assert } from "node:assert";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { NoAnswerError, vaultApi } from "../../components/lib/vault-api";
import { freePort } from "../support/vault-server";

interface Seen {
    readonly method?: string;
    readonly url?: string;
    readonly headers: http.IncomingHttpHeaders;
    readonly body: string;
}

describe("vault-api: the one Vault HTTP client", () => {
    let server: http.Server;
    let address: string;
    const seen: Seen[] = [];
    let answer: { status: number; body: string } = { status: 200, body: "{}" };

    before(async () => {
        server = http.createServer((req, res) => {
            const chunks: Buffer[] = [];
            req.on("data", (c: Buffer) => chunks.push(c));
            req.on("end", () => {
                seen.push({
                    method: req.method,
                    url: req.url,
                    headers: req.headers,
                    body: Buffer.concat(chunks).toString(),
                });
                res.writeHead(answer.status).end(answer.body);
            });
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    beforeEach(() => {
        seen.length = 0;
        answer = { status: 200, body: "{}" };
    });

    it("sends the token and namespace as headers and the body as JSON of the given content type", async () => {
        answer = { status: 204, body: "" };
        const res = await vaultApi(
            { address: `${address}/`, namespace: "team-a" },
            "PATCH",
            "kv/metadata/app",
            { custom_metadata: { owner: "x" } },
            "s.token",
            "application/merge-patch+json",
        );
        assert.deepEqual(res, { status: 204, body: undefined, text: "" });
        assert.equal(seen.length, 1);
        const [req] = seen;
        assert.equal(req.method, "PATCH");
        assert.equal(req.url, "/v1/kv/metadata/app");
        assert.equal(req.headers["x-vault-token"], "s.token");
        assert.equal(req.headers["x-vault-namespace"], "team-a");
        assert.equal(req.headers["content-type"], "application/merge-patch+json");
        assert.equal(req.body, '{"custom_metadata":{"owner":"x"}}');
    });

    it("sends neither token, namespace nor content type when there are none", async () => {
        await vaultApi({ address }, "GET", "sys/health");
        const [req] = seen;
        assert.equal(req.headers["x-vault-token"], undefined);
        assert.equal(req.headers["x-vault-namespace"], undefined);
        assert.equal(req.headers["content-type"], undefined);
        assert.equal(req.body, "");
    });

    it("resolves with any status: JSON parsed, anything else kept as text only", async () => {
        answer = { status: 503, body: '{"errors":["Vault is sealed"]}' };
        assert.deepEqual(await vaultApi({ address }, "GET", "sys/health"), {
            status: 503,
            body: { errors: ["Vault is sealed"] },
            text: '{"errors":["Vault is sealed"]}',
        });
        answer = { status: 502, body: "<html>bad gateway</html>" };
        assert.deepEqual(await vaultApi({ address }, "GET", "sys/health"), {
            status: 502,
            body: undefined,
            text: "<html>bad gateway</html>",
        });
    });

    it("rejects when no answer comes, naming method and URL, with the reason and code apart", async () => {
        const port = await freePort();
        const err = (await vaultApi({ address: `http://127.0.0.1:${port}` }, "PUT", "sys/init", {
            secret_shares: 1,
        }).then(
            () => assert.fail("expected a rejection"),
            (e: unknown) => e,
        )) as NoAnswerError;
        assert.equal(err.message, `PUT http://127.0.0.1:${port}/v1/sys/init: connect ECONNREFUSED 127.0.0.1:${port}`);
        assert.equal(err.reason, `connect ECONNREFUSED 127.0.0.1:${port}`);
        assert.equal(err.code, "ECONNREFUSED");
        assert.ok(!err.message.includes("secret_shares"), "the request body is never in the message");
    });
});
