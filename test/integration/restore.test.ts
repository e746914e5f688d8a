/**
 * The restore command against a real S3-compatible server with versioning:
 * gofakes3 (github.com/johannesboyne/gofakes3, a Go module; its in-memory
 * backend keeps object versions and delete markers). Objects are written,
 * changed, deleted and re-created around T; `npm run restore`'s entry point
 * (a child process, AWS SDK v3 over HTTP) must bring every key under the
 * prefix back to its state at T and leave other prefixes alone.
 *
 * The binary is located by test/support/tools.ts ($GOFAKES3_BIN, the tool
 * cache, PATH) and installed by `npm run tools`.
 */
import { strict as assert } from "node:assert";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as net from "node:net";
import * as path from "node:path";
import {
    DeleteObjectCommand,
    GetObjectCommand,
    ListObjectVersionsCommand,
    PutBucketVersioningCommand,
    PutObjectCommand,
    S3Client,
} from "@aws-sdk/client-s3";
import { parseRestoreArgs, restore } from "../../ops/restore";
import { requireTool } from "../support/tools";

const ROOT = path.join(__dirname, "..", "..");
const TSX_HOOK = require.resolve("tsx/cjs");
async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const { port } = srv.address() as net.AddressInfo;
            srv.close(() => resolve(port));
        });
    });
}

/** A few milliseconds so that T falls strictly between two writes (the server keeps ms timestamps). */
const tick = () => new Promise((r) => setTimeout(r, 15));

describe("integration: restore against a real S3-compatible server (gofakes3)", function () {
    this.timeout(60_000);
    const bucket = "vault-amiya";
    const creds = {
        AWS_ACCESS_KEY_ID: "restore-test",
        AWS_SECRET_ACCESS_KEY: "restore-test-secret",
        AWS_REGION: "us-east-1",
    };
    let server: ChildProcess | undefined;
    let endpoint: string;
    let s3: S3Client;
    let T: Date;

    const put = (Key: string, body: string) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: body }));
    const del = (Key: string) => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
    async function current(): Promise<Record<string, string>> {
        const out: Record<string, string> = {};
        const list = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
        for (const v of list.Versions ?? []) {
            if (v.IsLatest !== true || v.Key === undefined) continue;
            const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: v.Key }));
            out[v.Key] = await (obj.Body as { transformToString(): Promise<string> }).transformToString();
        }
        return out;
    }
    function restoreCli(args: string[]) {
        const res = spawnSync(
            process.execPath,
            ["--require", TSX_HOOK, path.join(ROOT, "scripts", "restore.ts"), ...args],
            {
                encoding: "utf8",
                env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_NO_WARNINGS: "1", ...creds },
            },
        );
        return { code: res.status, out: `${res.stdout}${res.stderr}` };
    }
    const common = () => [
        "--bucket",
        bucket,
        "--prefix",
        "vault/",
        "--endpoint",
        endpoint,
        "--region",
        "us-east-1",
        "--force-path-style",
    ];

    before(async function () {
        const bin = requireTool(this, "gofakes3");
        const port = await freePort();
        endpoint = `http://127.0.0.1:${port}`;
        server = spawn(bin as string, ["-backend", "memory", "-host", `127.0.0.1:${port}`, "-initialbucket", bucket], {
            stdio: "ignore",
        });
        s3 = new S3Client({
            endpoint,
            region: "us-east-1",
            forcePathStyle: true,
            credentials: { accessKeyId: creds.AWS_ACCESS_KEY_ID, secretAccessKey: creds.AWS_SECRET_ACCESS_KEY },
        });
        const deadline = Date.now() + 10_000;
        for (;;) {
            try {
                await s3.send(
                    new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
                );
                break;
            } catch (err) {
                if (Date.now() > deadline)
                    throw new Error(`gofakes3 did not come up on ${endpoint}: ${(err as Error).message}`);
                await new Promise((r) => setTimeout(r, 50));
            }
        }

        // Before T.
        await put("vault/core/keyring", "keyring-1");
        await put("vault/logical/a", "a-1");
        await put("vault/logical/gone-after", "g-1");
        await put("vault/logical/gone-before", "b-1");
        await del("vault/logical/gone-before");
        await put("vault/logical/recreated", "r-1");
        await del("vault/logical/recreated");
        await put("outside/untouched", "o-1");
        await tick();
        T = new Date();
        await tick();
        // After T: what the restore must undo.
        await put("vault/core/keyring", "keyring-2");
        await put("vault/logical/new", "n-1");
        await del("vault/logical/gone-after");
        await put("vault/logical/recreated", "r-2");
        await put("outside/untouched", "o-2");
    });

    after(() => {
        server?.kill("SIGTERM");
    });

    it("dry run lists the changes and changes nothing", async () => {
        const before = await current();
        // In this process (one node start less); the apply below goes through the CLI.
        const lines: string[] = [];
        const code = await restore(parseRestoreArgs([...common(), "--to", T.toISOString(), "--dry-run"]), s3, (l) =>
            lines.push(l),
        );
        const out = lines.join("\n");
        assert.equal(code, 0, out);
        assert.match(out, /restore vault\/core\/keyring \(version \S+ of /);
        assert.match(out, /restore vault\/logical\/gone-after \(version \S+ of /);
        assert.match(out, /delete {2}vault\/logical\/new \(created after T\)/);
        assert.match(out, /delete {2}vault\/logical\/recreated \(deleted at T\)/);
        assert.match(out, /dry run, nothing changed: 2 to restore, 2 to delete, 2 unchanged/);
        assert.ok(!/outside\//.test(out));
        assert.deepEqual(await current(), before);
    });

    it("rolls the prefix back to T and leaves other prefixes alone", async () => {
        const { code, out } = restoreCli([...common(), "--to", T.toISOString()]);
        assert.equal(code, 0, out);
        assert.match(out, /restored s3:\/\/vault-amiya\/vault\/ to .*: 2 to restore, 2 to delete, 2 unchanged/);
        assert.deepEqual(await current(), {
            "vault/core/keyring": "keyring-1",
            "vault/logical/a": "a-1",
            "vault/logical/gone-after": "g-1",
            "outside/untouched": "o-2",
        });
        // Nothing was destroyed: the post-T versions are still there to roll forward to.
        const list = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: "vault/core/keyring" }));
        assert.equal(list.Versions?.length, 3);
    });

    it("a second run finds nothing to do", async () => {
        const lines: string[] = [];
        const code = await restore(parseRestoreArgs([...common(), "--to", T.toISOString()]), s3, (l) => lines.push(l));
        const out = lines.join("\n");
        assert.equal(code, 0, out);
        assert.match(out, /nothing to do: 0 to restore, 0 to delete, 6 unchanged/);
    });
});
