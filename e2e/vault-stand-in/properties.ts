/**
 * Property values as they cross the provider protocol (google.protobuf.Struct),
 * Pulumi's secret and unknown sentinels, and the comparisons Diff and Read
 * need: a value is compared by what it means to Vault (a set ignores order, a
 * duration is its seconds), so a refresh followed by a preview shows no change.
 */
import { Struct } from "google-protobuf/google/protobuf/struct_pb";

/** A property value: JSON, where a secret is an object carrying the secret signature. */
export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };
/** A resource's (or the provider's) properties by name. */
export type PropertyMap = { [key: string]: Value };

/** The key and value that mark an object as one of Pulumi's special values. */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
/** The signature of a secret: `{[SIG_KEY]: SECRET_SIG, value}`. */
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
/** A value not known yet (preview): the engine sends this string in its place. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Refuses what a Struct cannot have come from (functions, undefined): the engine sends JSON only. */
function toValue(raw: unknown, where: string): Value {
    if (raw === null || typeof raw === "boolean" || typeof raw === "number" || typeof raw === "string") return raw;
    if (Array.isArray(raw)) return raw.map((item, i) => toValue(item, `${where}[${i}]`));
    if (typeof raw === "object") {
        const out: { [key: string]: Value } = {};
        for (const [key, item] of Object.entries(raw)) out[key] = toValue(item, `${where}.${key}`);
        return out;
    }
    throw new Error(`vault stand-in plugin: ${where}: not a JSON value (${typeof raw})`);
}

/** The properties of a Struct; an absent Struct is an empty map. */
export function fromStruct(struct: Struct | undefined): PropertyMap {
    if (struct === undefined) return {};
    const out: PropertyMap = {};
    for (const [key, raw] of Object.entries(struct.toJavaScript())) out[key] = toValue(raw, key);
    return out;
}

export function toStruct(props: PropertyMap): Struct {
    return Struct.fromJavaScript(props);
}

/** A plain object (not a list, not null). */
export function isObject(value: Value | undefined): value is { [key: string]: Value } {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isSecret(value: Value | undefined): value is { [key: string]: Value } {
    return isObject(value) && value[SIG_KEY] === SECRET_SIG;
}

/** `value` marked secret (a secret stays one secret, never nested). */
export function secret(value: Value): Value {
    return isSecret(value) ? value : { [SIG_KEY]: SECRET_SIG, value };
}

/** `value` with every secret mark removed, at any depth: what Vault is sent. */
export function reveal(value: Value): Value {
    if (isSecret(value)) return reveal(value.value ?? null);
    if (Array.isArray(value)) return value.map(reveal);
    if (isObject(value)) {
        const out: { [key: string]: Value } = {};
        for (const [key, item] of Object.entries(value)) out[key] = reveal(item);
        return out;
    }
    return value;
}

export function revealAll(props: PropertyMap): PropertyMap {
    const out: PropertyMap = {};
    for (const [key, value] of Object.entries(props)) out[key] = reveal(value);
    return out;
}

export function containsSecret(value: Value | undefined): boolean {
    if (value === undefined) return false;
    if (isSecret(value)) return true;
    if (Array.isArray(value)) return value.some(containsSecret);
    return isObject(value) && Object.values(value).some(containsSecret);
}

export function containsUnknown(value: Value | undefined): boolean {
    if (value === undefined) return false;
    if (value === UNKNOWN) return true;
    if (Array.isArray(value)) return value.some(containsUnknown);
    return isObject(value) && Object.values(value).some(containsUnknown);
}

/** Every string inside secrets, for redacting error messages. */
export function secretStrings(value: Value | undefined, inSecret = false): string[] {
    if (value === undefined || value === null) return [];
    if (isSecret(value)) return secretStrings(value.value, true);
    if (typeof value === "string") return inSecret ? [value] : [];
    if (Array.isArray(value)) return value.flatMap((item) => secretStrings(item, inSecret));
    if (isObject(value)) return Object.values(value).flatMap((item) => secretStrings(item, inSecret));
    return [];
}

/** A property that is set: absent and null (the engine's "nil") both mean unset. */
export function isSet(value: Value | undefined): value is Exclude<Value, null> {
    return value !== undefined && value !== null;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { h: 3600, m: 60, s: 1, ms: 0.001 };

/**
 * Seconds of a duration as Vault and the provider accept it: a number of
 * seconds, a string of digits, or a Go duration ("1h", "1h30m", "90s"). Undefined when it is none.
 */
export function durationSeconds(value: Value | undefined): number | undefined {
    if (typeof value === "number") return value;
    if (typeof value !== "string" || value === "") return undefined;
    if (/^\d+$/.test(value)) return Number(value);
    const parts = value.match(/(\d+(?:\.\d+)?)(h|ms|m|s)/g);
    if (parts === null || parts.join("") !== value) return undefined;
    return parts.reduce((sum, part) => {
        const [, amount, unit] = /^(\d+(?:\.\d+)?)(h|ms|m|s)$/.exec(part) as RegExpExecArray;
        return sum + Number(amount) * DURATION_UNITS[unit];
    }, 0);
}
