/**
 * The operator's hands on the rig's bucket (drill 5): a copy of Vault's
 * prefix taken aside (as `rclone copy` or `aws s3 sync` would take it), the
 * prefix emptied (the accident), and the copy put back. Through the S3 API
 * with the AWS SDK, straight at gofakes3 (plain HTTP on loopback), past the
 * key check pods go through (rig/s3-guard.ts): gofakes3 checks no keys, so
 * any credentials do.
 */
import * as crypto from "crypto";
import {
    DeleteObjectCommand,
    GetObjectCommand,
    ListObjectsV2Command,
    PutObjectCommand,
    S3Client,
} from "@aws-sdk/client-s3";
import { Endpoint } from "../node/relays";

/** The objects under a prefix, by key (the copy stays in this process's memory: Vault's objects are barrier ciphertext). */
export type PrefixCopy = ReadonlyMap<string, Buffer>;

export interface DrillBucket {
    /** Every key under `prefix` (all pages). */
    keys(prefix: string): Promise<string[]>;
    /** Reads every object under `prefix`. */
    copy(prefix: string): Promise<PrefixCopy>;
    /** Deletes every object under `prefix`; returns how many. */
    empty(prefix: string): Promise<number>;
    /** Writes every object of the copy back under its key. */
    putBack(copy: PrefixCopy): Promise<void>;
}

export function drillBucket(upstream: Endpoint, bucket: string): DrillBucket {
    const s3 = new S3Client({
        endpoint: `http://${upstream.host}:${upstream.port}`,
        region: "garage",
        forcePathStyle: true,
        credentials: { accessKeyId: "drill", secretAccessKey: "drill" },
    });
    const keys = async (prefix: string) => {
        const out: string[] = [];
        let token: string | undefined;
        do {
            const page = await s3.send(
                new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
            );
            for (const o of page.Contents ?? []) if (o.Key !== undefined) out.push(o.Key);
            token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
        } while (token !== undefined);
        return out.sort();
    };
    return {
        keys,
        copy: async (prefix) => {
            const copy = new Map<string, Buffer>();
            for (const key of await keys(prefix)) {
                const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
                copy.set(key, Buffer.from(await res.Body!.transformToByteArray()));
            }
            return copy;
        },
        empty: async (prefix) => {
            const all = await keys(prefix);
            for (const key of all) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
            return all.length;
        },
        putBack: async (copy) => {
            for (const [key, body] of copy)
                await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
        },
    };
}

/** One digest over a copy's keys and bytes: equal digests, equal prefixes. */
export function digestOf(copy: PrefixCopy): string {
    const h = crypto.createHash("sha256");
    for (const key of [...copy.keys()].sort()) h.update(key).update("\0").update(copy.get(key)!).update("\0");
    return h.digest("hex");
}
