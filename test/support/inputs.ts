/**
 * Typed reads of recorded documents (resource inputs, chart values, parsed
 * HCL) for specs, instead of `as any`: each accessor checks the shape it walks
 * and fails naming the path and what it found, so a changed document fails
 * with a message rather than a TypeError or a silent undefined.
 */
import { strict as assert } from "node:assert";
import { isDeepStrictEqual } from "node:util";

export type Doc = Record<string, unknown>;

/** A short rendering of a value for a failure message (resources and cycles included). */
function show(value: unknown): string {
    let text: string | undefined;
    try {
        text = JSON.stringify(value);
    } catch {
        text = undefined;
    }
    if (text === undefined) return String(value);
    return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** Fails with the message `why` builds, only when `ok` is false (messages are not built on success). */
function check(ok: boolean, why: () => string): asserts ok {
    if (!ok) assert.fail(why());
}

/** A path for messages: its keys joined with '.', or "(root)". */
function where(path: readonly string[]): string {
    return path.length === 0 ? "(root)" : path.join(".");
}

function isDoc(value: unknown): value is Doc {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The value at `path` under `root`. Every step but the last must be an object
 * (fails otherwise); the last may be absent (undefined).
 */
export function at(root: unknown, ...path: string[]): unknown {
    let node = root;
    path.forEach((key, i) => {
        check(isDoc(node), () => `${where(path.slice(0, i))}: expected an object, got ${show(node)}`);
        node = node[key];
    });
    return node;
}

/** The object at `path`; fails when it is absent or not an object. */
export function objectAt(root: unknown, ...path: string[]): Doc {
    const value = at(root, ...path);
    check(isDoc(value), () => `${where(path)}: expected an object, got ${show(value)}`);
    return value;
}

/** The list at `path`; fails when it is absent or not a list. */
export function listAt(root: unknown, ...path: string[]): unknown[] {
    const value = at(root, ...path);
    check(Array.isArray(value), () => `${where(path)}: expected a list, got ${show(value)}`);
    return value;
}

/** The string at `path`; fails when it is absent or not a string. */
export function stringAt(root: unknown, ...path: string[]): string {
    const value = at(root, ...path);
    check(typeof value === "string", () => `${where(path)}: expected a string, got ${show(value)}`);
    return value;
}

/** The one element of a list (e.g. an HCL block given once); fails unless there is exactly one. */
export function only<T>(list: readonly T[], what?: string): T;
export function only(list: unknown, what?: string): unknown;
export function only(list: unknown, what = "list"): unknown {
    check(Array.isArray(list), () => `${what}: expected a list, got ${show(list)}`);
    check(list.length === 1, () => `${what}: expected exactly one element, got ${list.length}: ${show(list)}`);
    return list[0];
}

/** The one object of a list whose `key` field equals `value` (a container by name, an env var by name...). */
export function findBy(list: unknown, key: string, value: unknown): Doc {
    check(Array.isArray(list), () => `expected a list to find ${key}=${show(value)} in, got ${show(list)}`);
    const hits = list.filter((item) => isDoc(item) && isDeepStrictEqual(item[key], value));
    check(hits.length === 1, () => {
        const present = list.map((item) => (isDoc(item) ? show(item[key]) : show(item))).join(", ");
        return `expected one element with ${key}=${show(value)}, found ${hits.length} (${present})`;
    });
    return hits[0] as Doc;
}

/** The one object of a list named `name` (its `name` field). */
export function named(list: unknown, name: string): Doc {
    return findBy(list, "name", name);
}
