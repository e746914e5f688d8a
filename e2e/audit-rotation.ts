/**
 * The audit-rotator sidecar rotating for real in vault-0 (issue 23, item 6):
 * the rig's stack sets the smallest rotation the schema allows
 * (audit.rotation.maxSizeMi 1, keep 1), the rig drives cheap audited
 * requests (token lookups through the Service) until the live log on the
 * audit volume is past the size, and then, within the sidecar's check
 * period, reads the volume (the hostPath directory behind the PV) itself:
 * the old log is `<file>.1`, a new live file exists and grows, every request
 * was answered 200 throughout, every request id of the round is in `.1` or
 * in the live file (request and response entries, none lost across the
 * SIGHUP), the ones in `.1` all precede the ones in the live file, and after
 * a second rotation there is still one rotated file (keep 1). The time from
 * passing the size to the new file is a figure.
 */
import * as fs from "fs";
import * as path from "path";
import { AUDIT_CHECK_INTERVAL_SECONDS } from "../components/lib/audit-rotator";
import { AUDIT_FILE_PATH } from "../components/lib/contracts";
import { Timing } from "./figures";
import { VaultClient } from "./rig/vault";

/** The rig's stack's rotation: the schema's smallest size, and one rotated file so a second rotation tests the cap. */
export const RIG_AUDIT_ROTATION = { maxSizeMi: 1, keep: 1 } as const;

/** How often the rig looks at the volume while it waits for the sidecar. */
const POLL_MS = 100;
/** Parallel lookups while filling the log (bounded; each is one small request to the rig's own Vault). */
const FILL_WORKERS = 4;
/** Slack over the check period: the sidecar's own `wc`, the signal, Vault reopening, the rig's poll. */
const SLACK_MS = 10_000;
/** Below the size by this much, the fill goes one lookup at a time (about 40 lookups). */
const NEAR_BYTES = 96 * 1024;
/** At most this many requests per fill (1 MiB is about 400 lookups; a log that does not grow fails here). */
const MAX_FILL_REQUESTS = 5_000;

function check(ok: boolean, what: string, seen: unknown): void {
    if (!ok) throw new Error(`check failed: ${what}; seen: ${JSON.stringify(seen).slice(0, 2000)}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Each entry's request id and type (`request`/`response`) in a file audit log, in file order. */
export function auditEntries(text: string): { id: string; type: string }[] {
    const out: { id: string; type: string }[] = [];
    for (const line of text.split("\n")) {
        if (line.trim() === "") continue;
        const e = JSON.parse(line) as { type?: string; request?: { id?: string } };
        if (typeof e.request?.id === "string" && typeof e.type === "string")
            out.push({ id: e.request.id, type: e.type });
    }
    return out;
}

/**
 * Where a round's requests landed. `early`: ids made in parallel while the
 * log was still below the size (their order unknown): each is wholly in
 * `rotated`. `ordered`: ids made one at a time, in order, around the
 * rotation: each one's request and response entry is in `rotated` or in
 * `live`, exactly once, and no id in `rotated` comes after one in `live`;
 * one id whose request is in `rotated` and response in `live` (made across
 * the SIGHUP) is allowed. Returns the last ordered id wholly in `rotated` and
 * the first wholly in `live`. Throws naming what is lost, doubled or out of
 * order.
 */
export function splitAcrossRotation(
    early: readonly string[],
    ordered: readonly string[],
    rotated: readonly { id: string; type: string }[],
    live: readonly { id: string; type: string }[],
): { lastInRotated: string; firstInLive: string; inRotated: number; inLive: number; across: string[] } {
    const where = new Map<string, { rotated: string[]; live: string[] }>();
    for (const id of [...early, ...ordered]) where.set(id, { rotated: [], live: [] });
    for (const [file, entries] of [
        ["rotated", rotated],
        ["live", live],
    ] as const) {
        for (const e of entries) where.get(e.id)?.[file].push(e.type); // Others: the unsealer, the provider, ...
    }
    const pair = (types: string[]) => types.length === 2 && types.includes("request") && types.includes("response");
    const lost = [...where.entries()]
        .filter(([, w]) => !pair([...w.rotated, ...w.live]))
        .map(([id, w]) => ({ id, ...w }));
    check(
        lost.length === 0,
        `each request has exactly one request and one response entry in the rotated and the live file (${lost.length} do not)`,
        lost.slice(0, 5),
    );
    const strayEarly = early.filter((id) => where.get(id)!.live.length > 0);
    check(
        strayEarly.length === 0,
        "the requests made below the size are all in the rotated file",
        strayEarly.slice(0, 5),
    );
    // 0: all in rotated, 2: all in live, 1: request in rotated, response in live.
    const side = ordered.map((id) => {
        const w = where.get(id)!;
        return w.live.length === 0 ? 0 : w.rotated.length === 0 ? 2 : 1;
    });
    const outOfOrder = side.findIndex((s, i) => i > 0 && s < side[i - 1]);
    check(outOfOrder < 0, "the rotated file holds a prefix of the ordered requests and the live file the rest", {
        at: ordered[outOfOrder],
        sides: side.join(""),
    });
    const across = ordered.filter((_, i) => side[i] === 1);
    check(across.length <= 1, "at most one request spans the SIGHUP", across);
    const inRotated = side.filter((s) => s === 0).length;
    const inLive = side.filter((s) => s === 2).length;
    check(inRotated > 0 && inLive > 0, "ordered requests on both sides of the rotation", { inRotated, inLive });
    return {
        lastInRotated: ordered[inRotated - 1],
        firstInLive: ordered[ordered.length - inLive],
        inRotated,
        inLive,
        across,
    };
}

/** The live file and the rotated ones (`<file>.N`) on the volume, by inode and size. */
function volumeState(
    dir: string,
    base: string,
): { live?: { ino: number; size: number }; rotated: Map<number, number> } {
    const rotated = new Map<number, number>();
    let live: { ino: number; size: number } | undefined;
    for (const name of fs.readdirSync(dir)) {
        const st = fs.statSync(path.join(dir, name), { throwIfNoEntry: false });
        if (st === undefined) continue;
        if (name === base) live = { ino: st.ino, size: st.size };
        const m = name.startsWith(`${base}.`) ? /^\d+$/.exec(name.slice(base.length + 1)) : null;
        if (m !== null) rotated.set(Number(m[0]), st.ino);
    }
    return { live, rotated };
}

export interface AuditRotationArgs {
    /** The audit volume's directory on the host (the hostPath behind vault-0's audit PV). */
    readonly volumeDir: string;
    /** Vault through the rig's relay (the Service), and a token whose lookups are audited. */
    readonly vault: VaultClient;
    readonly token: string;
    /** audit.rotation of the stack the rig runs. */
    readonly maxSizeMi: number;
    readonly keep: number;
}

/**
 * Two rotations on the live pod, each asserted on the volume as the module's
 * comment says. Returns the time from the rig seeing the live file past the
 * size to the new file, for each rotation.
 */
export async function proveAuditRotation(a: AuditRotationArgs, log: (m: string) => void): Promise<Timing[]> {
    check(
        a.maxSizeMi === RIG_AUDIT_ROTATION.maxSizeMi && a.keep === RIG_AUDIT_ROTATION.keep,
        "the rig's stack rotates at the smallest size with keep 1",
        { maxSizeMi: a.maxSizeMi, keep: a.keep },
    );
    const base = path.basename(AUDIT_FILE_PATH);
    const file = path.join(a.volumeDir, base);
    const maxBytes = a.maxSizeMi * 1024 * 1024;
    const periodMs = AUDIT_CHECK_INTERVAL_SECONDS * 1000;
    const start = volumeState(a.volumeDir, base);
    check(start.live !== undefined, `Vault writes its audit log on the volume (${file})`, fs.readdirSync(a.volumeDir));

    // Every request of the round, answered 200 or the round fails; the ids in the order made.
    let requests = 0;
    const lookup = async (): Promise<string> => {
        const res = await a.vault.request("GET", "/v1/auth/token/lookup-self", undefined, a.token);
        requests++;
        check(res.status === 200 && typeof res.body?.request_id === "string", "Vault answers a token lookup", {
            status: res.status,
            errors: res.body?.errors,
        });
        return res.body.request_id as string;
    };
    // The volume, watched all along: the largest number of rotated files ever seen at once.
    let maxRotatedSeen = start.rotated.size;
    let watching = true;
    const watcher = (async () => {
        while (watching) {
            maxRotatedSeen = Math.max(maxRotatedSeen, volumeState(a.volumeDir, base).rotated.size);
            await sleep(POLL_MS);
        }
    })();

    const timings: Timing[] = [];
    try {
        for (const round of [1, 2]) {
            const before = volumeState(a.volumeDir, base);
            const oldIno = before.live!.ino;
            const previousRotated = before.rotated.get(1);
            const early: string[] = [];
            const ordered: string[] = [];
            const fillStart = Date.now();
            const live = () => volumeState(a.volumeDir, base).live;
            const sameFileAbove = (bytes: number) => {
                const l = live();
                return l === undefined || l.ino !== oldIno || l.size > bytes;
            };
            // Fill in parallel while well below the size (the sidecar cannot rotate yet), then one lookup at a
            // time, each id in order, until the live file (the same inode) is past the size.
            while (!sameFileAbove(maxBytes - NEAR_BYTES)) {
                check(early.length < MAX_FILL_REQUESTS, `the live log grows with the lookups`, live());
                early.push(...(await Promise.all(Array.from({ length: FILL_WORKERS }, lookup))));
            }
            while (!sameFileAbove(maxBytes)) {
                check(ordered.length < MAX_FILL_REQUESTS, `the live log passes ${maxBytes} bytes`, live());
                ordered.push(await lookup());
            }
            const filled = early.length + ordered.length;
            const passedAt = Date.now();
            const fillMs = passedAt - fillStart;
            // Then one lookup at a time, each one's id in order, until the sidecar has rotated and Vault
            // writes a new file (a new inode at the live name, the old one now `.1`).
            let renamedAt = 0;
            let newFileAt = 0;
            let firstNewSize = 0;
            for (;;) {
                ordered.push(await lookup());
                const s = volumeState(a.volumeDir, base);
                if (renamedAt === 0 && s.rotated.get(1) === oldIno) renamedAt = Date.now();
                if (s.live !== undefined && s.live.ino !== oldIno) {
                    check(s.rotated.get(1) === oldIno, `the old log is ${base}.1`, {
                        old: oldIno,
                        rotated: [...s.rotated],
                    });
                    newFileAt = Date.now();
                    firstNewSize = s.live.size;
                    break;
                }
                check(
                    Date.now() - passedAt < periodMs + SLACK_MS,
                    `the sidecar rotates within its check period (${AUDIT_CHECK_INTERVAL_SECONDS} s) of the log passing ${a.maxSizeMi} MiB`,
                    { live: s.live, rotated: [...s.rotated] },
                );
                await sleep(POLL_MS);
            }
            // Requests after the new file: it grows, and they land there.
            for (let i = 0; i < 20; i++) ordered.push(await lookup());
            const after = volumeState(a.volumeDir, base);
            check(after.live?.ino !== oldIno && (after.live?.size ?? 0) > firstNewSize, "the new live file grows", {
                firstNewSize,
                now: after.live,
            });
            const rotatedText = fs.readFileSync(`${file}.1`, "utf8");
            const liveText = fs.readFileSync(file, "utf8");
            check(
                Buffer.byteLength(rotatedText) > maxBytes,
                `${base}.1 is the log that passed ${maxBytes} bytes`,
                Buffer.byteLength(rotatedText),
            );
            const split = splitAcrossRotation(early, ordered, auditEntries(rotatedText), auditEntries(liveText));
            check(
                after.rotated.size <= a.keep && !after.rotated.has(a.keep + 1),
                `at most keep (${a.keep}) rotated files`,
                [...after.rotated.keys()],
            );
            if (previousRotated !== undefined) {
                check(
                    ![...after.rotated.values()].includes(previousRotated),
                    "the previous rotated file is dropped (keep 1)",
                    [...after.rotated],
                );
            }
            const ms = newFileAt - passedAt;
            timings.push({
                what: `audit rotation ${round} in vault-0: the live log seen past ${a.maxSizeMi} MiB to Vault's new file (the sidecar checks every ${AUDIT_CHECK_INTERVAL_SECONDS} s)`,
                ms,
            });
            log(
                `  audit rotation ${round}: ${filled} lookups filled the log past ${a.maxSizeMi} MiB in ${fillMs} ms; ` +
                    `${base}.1 (the old inode) ${renamedAt === 0 ? "seen with" : `${newFileAt - renamedAt} ms before`} the new file, ${ms} ms after passing the size; ` +
                    `${early.length + ordered.length} requests all 200 (${early.length} in parallel below the size): ${split.inRotated} in .1 (last ${split.lastInRotated}), ${split.inLive} in the new file (first ${split.firstInLive})` +
                    `${split.across.length === 0 ? "" : `, ${split.across[0]} across the SIGHUP`}, none lost; rotated files now [${[...after.rotated.keys()].join(", ")}]`,
            );
        }
    } finally {
        watching = false;
        await watcher;
    }
    check(maxRotatedSeen <= a.keep, `never more than keep (${a.keep}) rotated files on the volume`, maxRotatedSeen);
    log(
        `  audit volume: at most ${maxRotatedSeen} rotated file at once over two rotations (keep ${a.keep}); ${requests} lookups, every one answered 200`,
    );
    return timings;
}
