/**
 * The rig's S3 server, playing Garage: gofakes3 (from the Go module proxy,
 * scripts/install-tools.sh) on loopback, in memory: the bucket outlives
 * every Vault pod (it lives as long as the rig), and the rig lists it. It
 * speaks plain HTTP: TLS from the rig CA is ended where pods reach it (the
 * node's relay), as Traefik ends it in front of Garage. gofakes3 checks no
 * access keys: the relay forwards to the key check in front of it
 * (s3-guard.ts), which enforces once a scenario registers its keys.
 */
import * as http from "http";
import { freePort, Rig, RigProcess } from "./processes";
import { Endpoint } from "../node/relays";
import { S3Guard, startS3Guard } from "./s3-guard";

const READY_MS = 15_000;

export interface RigS3 {
    readonly bucket: string;
    /** Where gofakes3 listens (plain HTTP, loopback). */
    readonly upstream: Endpoint;
    /** The access-key check in front of gofakes3: what pods reach (through the node's relay). */
    readonly guard: S3Guard;
    readonly process: RigProcess;
    /** The object keys under `prefix` in the bucket. */
    list(prefix: string): Promise<string[]>;
    /** An object's bytes, as the bucket holds them. */
    read(key: string): Promise<Buffer>;
}

function get(url: string): Promise<{ status: number; text: string; bytes: Buffer }> {
    return new Promise((resolve, reject) => {
        http.get(url, { timeout: 5_000 }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
                const bytes = Buffer.concat(chunks);
                resolve({ status: res.statusCode ?? 0, text: bytes.toString("utf8"), bytes });
            });
        }).on("error", reject);
    });
}

export async function startS3(rig: Rig, bin: string, bucket: string, log = console.log): Promise<RigS3> {
    const upstream = { host: "127.0.0.1", port: await freePort() };
    // In memory: gofakes3's fs backend answers NoSuchBucket to a listing of a prefix with no object yet
    // (Vault's first barrier check). The bucket lives as long as the rig's S3 server.
    const proc = rig.start("s3", bin, [
        "-backend",
        "memory",
        "-host",
        `${upstream.host}:${upstream.port}`,
        "-initialbucket",
        bucket,
    ]);
    const base = `http://${upstream.host}:${upstream.port}`;
    const list = async (prefix: string) => {
        const res = await get(`${base}/${bucket}?list-type=2&prefix=${encodeURIComponent(prefix)}`);
        if (res.status !== 200)
            throw new Error(`s3: list ${bucket}/${prefix}: HTTP ${res.status}: ${res.text.slice(0, 300)}`);
        return [...res.text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]);
    };
    const read = async (key: string) => {
        const res = await get(`${base}/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`);
        if (res.status !== 200)
            throw new Error(`s3: get ${bucket}/${key}: HTTP ${res.status}: ${res.text.slice(0, 300)}`);
        return res.bytes;
    };
    const ms = await rig.waitReady(
        proc,
        `bucket ${bucket} listed at ${base}`,
        async () => (await list("")).length >= 0,
        READY_MS,
    );
    const guard = await startS3Guard(upstream);
    rig.onCleanup(() => guard.close());
    log(
        `  S3 server (gofakes3, playing Garage) with bucket ${bucket} on ${base} in ${ms} ms; its key check on ${guard.endpoint.host}:${guard.endpoint.port}`,
    );
    return { bucket, upstream, guard, process: proc, list, read };
}
