/**
 * What a resource's arguments mean, and the three things the engine asks of
 * them: Check (defaults, types, and refusing any argument the stand-in does
 * not implement, by name), Diff (which arguments changed, which of them force
 * a replace) and Read (Vault's live values in the program's own terms, so an
 * unchanged object reads back equal to its inputs).
 */
import {
    containsSecret,
    containsUnknown,
    durationSeconds,
    isObject,
    isSecret,
    isSet,
    PropertyMap,
    reveal,
    secret,
    Value,
} from "./properties";

export type ArgKind = "string" | "bool" | "int" | "list" | "set" | "map" | "duration" | "object";

export interface ArgSpec {
    /** list: ordered strings; set: strings in any order (the provider's TypeSet); map: string values; duration: a Go duration string. */
    readonly kind: ArgKind;
    /** An object's fields (kind object). */
    readonly fields?: ArgSpecs;
    readonly required?: boolean;
    /** A change replaces the object (the provider's ForceNew, or what names it in Vault). */
    readonly replaces?: boolean;
    /** The provider marks it sensitive: outputs always carry it as a secret. */
    readonly secret?: boolean;
    /** Vault never returns it: Read keeps the last input. */
    readonly writeOnly?: boolean;
    /** The provider's default when the argument is not given. */
    readonly default?: string;
    /** Default: the value of this other argument (vault_audit's and vault_auth_backend's path default to the type). */
    readonly defaultFrom?: string;
}

export type ArgSpecs = Readonly<Record<string, ArgSpec>>;

export interface CheckFailure {
    readonly property: string;
    readonly reason: string;
}

export type DiffKind = "add" | "delete" | "update";

export interface ArgDiff {
    /** Property path (`tune.maxLeaseTtl` inside an object) and how it changed. */
    readonly changes: ReadonlyMap<string, DiffKind>;
    /** Top-level arguments whose change forces a replace. */
    readonly replaces: readonly string[];
}

const EXPECTED: Readonly<Record<ArgKind, string>> = {
    string: "a string",
    bool: "a boolean",
    int: "an integer",
    list: "a list of strings",
    set: "a list of strings",
    map: "a map of strings",
    duration: 'a duration such as "1h" or "90s"',
    object: "an object",
};

function isStringList(value: Value): boolean {
    return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function hasKind(spec: ArgSpec, value: Value): boolean {
    switch (spec.kind) {
        case "string":
            return typeof value === "string";
        case "bool":
            return typeof value === "boolean";
        case "int":
            return typeof value === "number" && Number.isInteger(value);
        case "list":
        case "set":
            return isStringList(value);
        case "map":
            return isObject(value) && Object.values(value).every((item) => typeof item === "string");
        case "duration":
            return typeof value === "string" && durationSeconds(value) !== undefined;
        case "object":
            return isObject(value);
    }
}

/**
 * Check: defaults filled in, every argument known to the stand-in and of its
 * kind, required ones present. Secrets and unknowns pass through untouched
 * (an unknown is checked once it is known, at the update).
 */
export function checkArgs(
    token: string,
    specs: ArgSpecs,
    news: PropertyMap,
    prefix = "",
): { inputs: PropertyMap; failures: CheckFailure[] } {
    const failures: CheckFailure[] = [];
    const inputs: PropertyMap = {};
    const implemented = Object.keys(specs).sort().join(", ");
    for (const [key, value] of Object.entries(news)) {
        const spec = specs[key];
        const property = `${prefix}${key}`;
        if (spec === undefined) {
            if (!isSet(value)) continue; // an explicit undefined is no argument at all
            failures.push({
                property,
                reason: `vault stand-in plugin: ${token} does not implement argument "${property}" (it implements: ${implemented})`,
            });
            continue;
        }
        if (!isSet(value)) continue;
        inputs[key] = value;
        if (containsUnknown(value)) continue;
        const plain = reveal(value);
        if (!hasKind(spec, plain)) {
            failures.push({
                property,
                reason: `vault stand-in plugin: ${token}: argument "${property}" must be ${EXPECTED[spec.kind]}`,
            });
        } else if (spec.kind === "object" && spec.fields !== undefined && isObject(plain)) {
            const inner = checkArgs(
                token,
                spec.fields,
                isSecret(value) || !isObject(value) ? plain : value,
                `${property}.`,
            );
            failures.push(...inner.failures);
        }
    }
    for (const [key, spec] of Object.entries(specs)) {
        if (key in inputs) continue;
        const fallback = spec.defaultFrom !== undefined ? inputs[spec.defaultFrom] : spec.default;
        if (isSet(fallback)) inputs[key] = fallback;
        else if (spec.required === true) {
            failures.push({
                property: `${prefix}${key}`,
                reason: `vault stand-in plugin: ${token}: argument "${prefix}${key}" is required`,
            });
        }
    }
    return { inputs, failures };
}

/** Unset, or a string or collection with nothing in it: the provider treats these alike. */
function isEmpty(value: Value | undefined): boolean {
    if (!isSet(value)) return true;
    if (typeof value === "string" || Array.isArray(value)) return value.length === 0;
    return isObject(value) && Object.keys(value).length === 0;
}

/** Whether two plain values of an argument mean the same to Vault. */
export function sameArg(spec: ArgSpec, a: Value | undefined, b: Value | undefined): boolean {
    const emptyMeansUnset = spec.kind !== "bool" && spec.kind !== "int" && spec.kind !== "object";
    if (emptyMeansUnset && isEmpty(a) && isEmpty(b)) return true;
    if (!isSet(a) || !isSet(b)) return !isSet(a) && !isSet(b);
    switch (spec.kind) {
        case "set": {
            if (!Array.isArray(a) || !Array.isArray(b)) return false;
            const left = new Set(a.map((item) => JSON.stringify(item)));
            const right = new Set(b.map((item) => JSON.stringify(item)));
            return left.size === right.size && [...left].every((item) => right.has(item));
        }
        case "duration": {
            const left = durationSeconds(a);
            return left !== undefined && left === durationSeconds(b);
        }
        case "object": {
            if (!isObject(a) || !isObject(b)) return false;
            const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
            return [...keys].every((key) => {
                const field = spec.fields?.[key];
                return field === undefined ? sameJson(a[key], b[key]) : sameArg(field, a[key], b[key]);
            });
        }
        default:
            return sameJson(a, b);
    }
}

function sameJson(a: Value | undefined, b: Value | undefined): boolean {
    return JSON.stringify(sortedKeys(a)) === JSON.stringify(sortedKeys(b));
}

function sortedKeys(value: Value | undefined): Value | undefined {
    if (Array.isArray(value)) return value.map((item) => sortedKeys(item) ?? null);
    if (!isObject(value)) return value;
    const out: { [key: string]: Value } = {};
    for (const key of Object.keys(value).sort()) out[key] = sortedKeys(value[key]) ?? null;
    return out;
}

/**
 * Diff of the last inputs (`base`) and the new ones. An unknown new value is
 * a change (it is not known to be equal); arguments in `ignore` are left out.
 */
export function diffArgs(specs: ArgSpecs, base: PropertyMap, news: PropertyMap, ignore: readonly string[]): ArgDiff {
    const changes = new Map<string, DiffKind>();
    const replaces: string[] = [];
    const keys = new Set([...Object.keys(base), ...Object.keys(news)].filter((key) => specs[key] !== undefined));
    for (const key of keys) {
        if (ignore.includes(key)) continue;
        const spec = specs[key];
        const before = base[key];
        const after = news[key];
        if (!containsUnknown(after) && sameArg(spec, reveal(before ?? null), reveal(after ?? null))) continue;
        const kind: DiffKind = !isSet(before) ? "add" : !isSet(after) ? "delete" : "update";
        if (spec.replaces === true) replaces.push(key);
        const oldFields = reveal(before ?? null);
        const newFields = reveal(after ?? null);
        if (spec.kind === "object" && spec.fields !== undefined && isObject(oldFields) && isObject(newFields)) {
            const inner = diffArgs(spec.fields, oldFields, isSecret(after) || !isObject(after) ? newFields : after, []);
            if (inner.changes.size > 0) {
                for (const [path, fieldKind] of inner.changes) changes.set(`${key}.${path}`, fieldKind);
                continue;
            }
        }
        changes.set(key, kind);
    }
    return { changes, replaces };
}

/**
 * The inputs a Read reports: for each argument the program gave, Vault's live
 * value, or the program's own value when the two mean the same (so the
 * program's "1h" stays "1h" when Vault says 3600, and a set keeps its order).
 * Write-only arguments keep their last input. Without last inputs (an
 * import) every argument Vault returns is reported.
 */
export function liveInputs(specs: ArgSpecs, last: PropertyMap | undefined, live: PropertyMap): PropertyMap {
    if (last === undefined) {
        const out: PropertyMap = {};
        for (const [key, value] of Object.entries(live)) {
            const spec = specs[key];
            if (spec !== undefined && isSet(value)) out[key] = spec.secret === true ? secret(value) : value;
        }
        return out;
    }
    const out: PropertyMap = {};
    for (const [key, lastValue] of Object.entries(last)) {
        const spec = specs[key];
        const liveValue = live[key];
        if (spec === undefined || liveValue === undefined) {
            out[key] = lastValue;
            continue;
        }
        const plain = reveal(lastValue);
        let value: Value;
        if (spec.kind === "object" && spec.fields !== undefined && isObject(plain) && isObject(liveValue)) {
            value = liveInputs(spec.fields, plain, liveValue);
        } else if (sameArg(spec, plain, liveValue)) {
            out[key] = lastValue;
            continue;
        } else {
            value = liveValue;
        }
        out[key] = containsSecret(lastValue) || spec.secret === true ? secret(value) : value;
    }
    return out;
}

/** Outputs: the inputs (sensitive arguments as secrets) and what Vault computed. */
export function outputsOf(specs: ArgSpecs, inputs: PropertyMap, computed: PropertyMap): PropertyMap {
    const out: PropertyMap = {};
    for (const [key, value] of Object.entries(inputs)) {
        out[key] = specs[key]?.secret === true && isSet(value) ? secret(value) : value;
    }
    return { ...out, ...computed };
}
