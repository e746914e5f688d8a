/**
 * The point-in-time restore against the S3 API shapes (aws-sdk-client-mock):
 * paginated ListObjectVersions with versions and delete markers, objects
 * changed, created, deleted and re-created after T, equal content, the exact
 * calls made (and none in a dry run). The same command against a real
 * S3-compatible server with versioning: test/integration/restore.test.ts.
 */
import { strict as assert } from "node:assert";
import {
    DeleteObjectCommand,
    GetBucketVersioningCommand,
    GetObjectCommand,
    ListObjectVersionsCommand,
    ListObjectVersionsCommandOutput,
    PutObjectCommand,
    S3Client,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { parseRestoreArgs, planRestore, restore, RestoreOptions } from "../../ops/restore";

const T = new Date("2026-11-27T12:00:00Z");
const at = (hhmm: string) => new Date(`2026-11-27T${hhmm}:00Z`);

type Row = [key: string, versionId: string, time: string, latest: boolean, kind: "v" | "dm", etag?: string];

/** The history every case below is checked against (times relative to T = 12:00). */
const HISTORY: Row[] = [
    // changed after T: restore v1
    ["vault/core/keyring", "k2", "13:00", true, "v", '"e-k2"'],
    ["vault/core/keyring", "k1", "10:00", false, "v", '"e-k1"'],
    // untouched since T
    ["vault/logical/a", "a1", "11:00", true, "v", '"e-a1"'],
    // created after T: delete
    ["vault/logical/new", "n1", "12:30", true, "v", '"e-n1"'],
    // deleted after T: restore v1
    ["vault/logical/gone-after", "g2", "12:10", true, "dm"],
    ["vault/logical/gone-after", "g1", "09:00", false, "v", '"e-g1"'],
    // deleted before T, still deleted: nothing
    ["vault/logical/gone-before", "b2", "11:00", true, "dm"],
    ["vault/logical/gone-before", "b1", "09:00", false, "v", '"e-b1"'],
    // deleted before T, re-created after: delete
    ["vault/logical/recreated", "r3", "12:20", true, "v", '"e-r3"'],
    ["vault/logical/recreated", "r2", "11:00", false, "dm"],
    ["vault/logical/recreated", "r1", "09:00", false, "v", '"e-r1"'],
    // rewritten after T with the same bytes: nothing
    ["vault/logical/same", "s2", "12:40", true, "v", '"e-s"'],
    ["vault/logical/same", "s1", "10:00", false, "v", '"e-s"'],
    // a version written exactly at T counts as the state at T
    ["vault/logical/exact", "x2", "13:00", true, "v", '"e-x2"'],
    ["vault/logical/exact", "x1", "12:00", false, "v", '"e-x1"'],
    // created and deleted after T: absent then and now
    ["vault/logical/flash", "f2", "12:20", true, "dm"],
    ["vault/logical/flash", "f1", "12:10", false, "v", '"e-f1"'],
];

function page(rows: Row[], next?: [string, string]): ListObjectVersionsCommandOutput {
    return {
        $metadata: {},
        IsTruncated: next !== undefined,
        NextKeyMarker: next?.[0],
        NextVersionIdMarker: next?.[1],
        Versions: rows
            .filter((r) => r[4] === "v")
            .map(([Key, VersionId, time, IsLatest, , ETag]) => ({
                Key,
                VersionId,
                LastModified: at(time),
                IsLatest,
                ETag,
                Size: 10,
            })),
        DeleteMarkers: rows
            .filter((r) => r[4] === "dm")
            .map(([Key, VersionId, time, IsLatest]) => ({ Key, VersionId, LastModified: at(time), IsLatest })),
    };
}

const OPTS: RestoreOptions = { bucket: "vault-amiya", prefix: "vault/", to: T, dryRun: false, forcePathStyle: false };

describe("restore: arguments", () => {
    const now = new Date("2026-11-28T00:00:00Z");
    it("parses the options", () => {
        assert.deepEqual(
            parseRestoreArgs(
                [
                    "--bucket",
                    "vault-amiya",
                    "--prefix=vault/",
                    "--to",
                    "2026-11-27T12:00:00+01:00",
                    "--dry-run",
                    "--endpoint",
                    "https://s3.amiya.akn",
                    "--region",
                    "garage",
                    "--force-path-style",
                ],
                now,
            ),
            {
                bucket: "vault-amiya",
                prefix: "vault/",
                to: new Date("2026-11-27T11:00:00Z"),
                dryRun: true,
                endpoint: "https://s3.amiya.akn",
                region: "garage",
                forcePathStyle: true,
            },
        );
    });
    it("names the bad option", () => {
        const base = ["--bucket", "b", "--prefix", "vault/"];
        assert.throws(() => parseRestoreArgs(base, now), /^Error: --to is required$/);
        assert.throws(
            () => parseRestoreArgs([...base, "--to", "2026-11-27 12:00"], now),
            /^Error: --to must be an ISO 8601 time with a zone \(e\.g\. 2026-11-27T21:30:00Z\), got '2026-11-27 12:00'$/,
        );
        assert.throws(
            () => parseRestoreArgs([...base, "--to", "2026-11-27T12:00:00"], now),
            /--to must be an ISO 8601 time with a zone/,
        );
        assert.throws(
            () => parseRestoreArgs([...base, "--to", "2026-11-29T00:00:00Z"], now),
            /^Error: --to 2026-11-29T00:00:00Z is in the future$/,
        );
        assert.throws(
            () => parseRestoreArgs(["--bucket", "b", "--prefix", "vault", "--to", "2026-11-27T12:00Z"], now),
            /^Error: --prefix must be a key prefix ending in '\/' \(e\.g\. vault\/\), got 'vault'$/,
        );
        assert.throws(
            () => parseRestoreArgs([...base, "--to", "2026-11-27T12:00Z", "--yes"], now),
            /^Error: unknown argument --yes$/,
        );
        assert.throws(
            () => parseRestoreArgs([...base, "--to", "2026-11-27T12:00Z", "--endpoint", "s3.local"], now),
            /--endpoint must be an http\(s\) URL/,
        );
    });
});

describe("restore: plan", () => {
    it("rolls every kind of history back to T", () => {
        const entries = HISTORY.map(([key, versionId, time, isLatest, kind, etag]) => ({
            key,
            versionId,
            lastModified: at(time),
            isLatest,
            deleteMarker: kind === "dm",
            etag,
            size: kind === "v" ? 10 : undefined,
        }));
        const plan = planRestore(entries, T);
        assert.deepEqual(plan.actions, [
            { kind: "restore", key: "vault/core/keyring", versionId: "k1", lastModified: at("10:00") },
            { kind: "restore", key: "vault/logical/exact", versionId: "x1", lastModified: at("12:00") },
            { kind: "restore", key: "vault/logical/gone-after", versionId: "g1", lastModified: at("09:00") },
            { kind: "delete", key: "vault/logical/new", reason: "created after T" },
            { kind: "delete", key: "vault/logical/recreated", reason: "deleted at T" },
        ]);
        assert.equal(plan.unchanged, 4); // a, gone-before, same, flash
        assert.equal(plan.keys, 9);
    });
});

describe("restore: against the S3 API", () => {
    // mockClient patches every S3Client: install it only while these cases run.
    let s3: ReturnType<typeof mockClient>;
    let lines: string[];
    const client = () => new S3Client({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "y" } });

    before(() => {
        s3 = mockClient(S3Client);
    });
    beforeEach(() => {
        s3.reset();
        lines = [];
        s3.on(GetBucketVersioningCommand).resolves({ Status: "Enabled" });
        // Two pages, split in the middle of a key's versions, as S3 may do.
        s3.on(ListObjectVersionsCommand)
            .resolvesOnce(page(HISTORY.slice(0, 5), ["vault/logical/gone-after", "g2"]))
            .resolvesOnce(page(HISTORY.slice(5)));
        s3.on(GetObjectCommand).callsFake(async (input) => ({
            Body: {
                transformToByteArray: async () => new TextEncoder().encode(`bytes of ${input.Key}@${input.VersionId}`),
            },
        }));
        s3.on(PutObjectCommand).resolves({ VersionId: "new" });
        s3.on(DeleteObjectCommand).resolves({ DeleteMarker: true });
    });
    after(() => s3.restore());

    it("lists every page with the markers S3 returned", async () => {
        await restore({ ...OPTS, dryRun: true }, client(), (l) => lines.push(l));
        const calls = s3.commandCalls(ListObjectVersionsCommand).map((c) => c.args[0].input);
        assert.deepEqual(calls, [
            { Bucket: "vault-amiya", Prefix: "vault/", KeyMarker: undefined, VersionIdMarker: undefined },
            { Bucket: "vault-amiya", Prefix: "vault/", KeyMarker: "vault/logical/gone-after", VersionIdMarker: "g2" },
        ]);
    });

    it("dry run lists what would change and changes nothing", async () => {
        const code = await restore({ ...OPTS, dryRun: true }, client(), (l) => lines.push(l));
        assert.equal(code, 0);
        assert.deepEqual(lines, [
            "s3://vault-amiya/vault/ at 2026-11-27T12:00:00.000Z: 9 keys, 17 versions and delete markers",
            "restore vault/core/keyring (version k1 of 2026-11-27T10:00:00.000Z)",
            "restore vault/logical/exact (version x1 of 2026-11-27T12:00:00.000Z)",
            "restore vault/logical/gone-after (version g1 of 2026-11-27T09:00:00.000Z)",
            "delete  vault/logical/new (created after T)",
            "delete  vault/logical/recreated (deleted at T)",
            "dry run, nothing changed: 3 to restore, 2 to delete, 4 unchanged",
        ]);
        for (const cmd of [GetObjectCommand, PutObjectCommand, DeleteObjectCommand])
            assert.equal(s3.commandCalls(cmd).length, 0);
    });

    it("writes each old version back as current and deletes with delete markers only", async () => {
        const code = await restore(OPTS, client(), (l) => lines.push(l));
        assert.equal(code, 0, lines.join("\n"));
        const gets = s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input);
        assert.deepEqual(
            gets.sort((a, b) => String(a.Key).localeCompare(String(b.Key))),
            [
                { Bucket: "vault-amiya", Key: "vault/core/keyring", VersionId: "k1" },
                { Bucket: "vault-amiya", Key: "vault/logical/exact", VersionId: "x1" },
                { Bucket: "vault-amiya", Key: "vault/logical/gone-after", VersionId: "g1" },
            ],
        );
        const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
        assert.deepEqual(puts.map((p) => [p.Key, new TextDecoder().decode(p.Body as Uint8Array)]).sort(), [
            ["vault/core/keyring", "bytes of vault/core/keyring@k1"],
            ["vault/logical/exact", "bytes of vault/logical/exact@x1"],
            ["vault/logical/gone-after", "bytes of vault/logical/gone-after@g1"],
        ]);
        // No VersionId on a delete: S3 adds a marker and keeps every version.
        const deletes = s3.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input);
        assert.deepEqual(
            deletes.sort((a, b) => String(a.Key).localeCompare(String(b.Key))),
            [
                { Bucket: "vault-amiya", Key: "vault/logical/new" },
                { Bucket: "vault-amiya", Key: "vault/logical/recreated" },
            ],
        );
        assert.equal(
            lines[lines.length - 1],
            "restored s3://vault-amiya/vault/ to 2026-11-27T12:00:00.000Z: 3 to restore, 2 to delete, 4 unchanged",
        );
    });

    it("refuses a bucket without versioning before listing anything", async () => {
        s3.on(GetBucketVersioningCommand).resolves({});
        await assert.rejects(
            restore(OPTS, client(), (l) => lines.push(l)),
            /^Error: bucket vault-amiya has versioning never enabled: a point-in-time restore needs object versions/,
        );
        s3.on(GetBucketVersioningCommand).resolves({ Status: "Suspended" });
        await assert.rejects(
            restore(OPTS, client(), (l) => lines.push(l)),
            /has versioning Suspended/,
        );
        assert.equal(s3.commandCalls(ListObjectVersionsCommand).length, 0);
    });

    it("exits 1 when a change fails, listing it, after applying the rest", async () => {
        s3.on(DeleteObjectCommand, { Key: "vault/logical/new" }).rejects(new Error("AccessDenied"));
        const code = await restore(OPTS, client(), (l) => lines.push(l));
        assert.equal(code, 1);
        assert.equal(s3.commandCalls(PutObjectCommand).length, 3);
        assert.deepEqual(lines.slice(-3), [
            "FAILED: 1 of 5 changes failed; the rest were applied:",
            "  vault/logical/new: AccessDenied",
            "re-run the same command: it only changes what still differs from the state at --to",
        ]);
    });
});
