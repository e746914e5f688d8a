/**
 * What to do with one secret, decided from the wanted data and what Vault
 * holds. Pure: tested without a server.
 *
 * Conflict rule: the import records the version it wrote (custom metadata
 * `import-version`). A secret whose current version is not that one was
 * changed (or deleted) in Vault since the import; a secret that exists but
 * was never imported was made by hand. Either is left alone unless --force.
 */
import { KvMetadata } from "./kv-client";

/** Custom metadata keys the migration records (values are never secret). */
export const META = {
    origin: "migrated-from",
    owner: "owner",
    source: "import-source",
    version: "import-version",
    tool: "imported-by",
} as const;

export const TOOL_NAME = "secret-platform migrate";

export type Action = "create" | "update" | "unchanged" | "metadata" | "conflict";

export interface Decision {
    readonly action: Action;
    /** The check-and-set version for a write (0 = must not exist). */
    readonly cas?: number;
    /** Why: shown in the plan and table. */
    readonly reason: string;
    /** A conflict overridden with --force. */
    readonly forced?: boolean;
}

/** The stable custom metadata of an import (without the version it wrote). */
export function importMetadata(origin: string, source: string, owner: string | undefined): Record<string, string> {
    const meta: Record<string, string> = { [META.origin]: origin, [META.source]: source, [META.tool]: TOOL_NAME };
    if (owner !== undefined) meta[META.owner] = owner;
    return meta;
}

/** Same keys, same string values (order ignored); Vault data that is not all strings never equals. */
export function sameData(want: Readonly<Record<string, string>>, have: Readonly<Record<string, unknown>>): boolean {
    const a = Object.keys(want).sort();
    const b = Object.keys(have).sort();
    return a.length === b.length && a.every((k, i) => k === b[i] && have[k] === want[k]);
}

export function decide(
    want: Readonly<Record<string, string>>,
    wantMeta: Readonly<Record<string, string>>,
    meta: KvMetadata | undefined,
    data: Readonly<Record<string, unknown>> | undefined,
    force: boolean,
): Decision {
    if (meta === undefined) return { action: "create", cas: 0, reason: "new secret" };
    const current = meta.currentVersion;
    const recorded = meta.customMetadata[META.version];
    const imported = recorded !== undefined && recorded === String(current);

    if (!meta.currentDeleted && data !== undefined && sameData(want, data)) {
        const stale = Object.entries({ ...wantMeta, [META.version]: String(current) }).some(
            ([k, v]) => meta.customMetadata[k] !== v,
        );
        return stale
            ? { action: "metadata", reason: `same data (v${current}); import metadata recorded` }
            : { action: "unchanged", reason: `same data (v${current})` };
    }

    let conflict: string | undefined;
    if (meta.currentDeleted) conflict = `v${current} deleted in Vault`;
    else if (recorded === undefined) conflict = `exists in Vault (v${current}), not imported by this tool`;
    else if (!imported) conflict = `changed in Vault since the import (now v${current}, imported v${recorded})`;

    if (conflict === undefined) return { action: "update", cas: current, reason: `v${current} -> v${current + 1}` };
    if (force) return { action: "update", cas: current, reason: `${conflict}; --force`, forced: true };
    return { action: "conflict", reason: `${conflict}; left alone (--force overwrites)` };
}
