/**
 * The offline plan's data model: what one stack would register, in a form
 * that is stable across runs and machines (sorted keys, sorted resources, no
 * ids, timestamps or absolute paths), so two plans can be compared.
 */

/** Bumped when the JSON shape changes; `--diff` refuses plans of another format. */
export const PLAN_FORMAT = "secret-platform-plan/1";

/** What a secret input shows instead of its value. */
export const SECRET_MASK = "[secret]";

/** What an input shows when it holds a secret's value but the program did not mark it secret. */
export const UNMARKED_SECRET_MASK = "[secret, NOT marked secret by the program]";

/** An error the user can act on: printed without a stack trace. */
export class PlanError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PlanError";
    }
}

export interface PlanResource {
    /** The URN without stack and project: parent type chain, type and logical name. */
    readonly urn: string;
    readonly type: string;
    /** Logical name. */
    readonly name: string;
    /** False for component resources. */
    readonly custom: boolean;
    /** URN of the parent, or null at the top. */
    readonly parent: string | null;
    /** URN of the explicit provider; null for components, providers and default providers. */
    readonly provider: string | null;
    /** URNs of the explicit dependsOn, sorted (shown by logical name). */
    readonly dependsOn: readonly string[];
    /** Resource options that change what the engine does (protect, retainOnDelete, ...), when set. */
    readonly options: Readonly<Record<string, unknown>>;
    /** The inputs the engine would receive, secrets masked. */
    readonly inputs: Readonly<Record<string, unknown>>;
}

export interface Plan {
    readonly format: typeof PLAN_FORMAT;
    readonly stack: string;
    readonly summary: PlanSummary;
    /** Sorted by urn. */
    readonly resources: readonly PlanResource[];
    /** Things a reviewer should see (the config's warnings, secrets not marked secret, default providers), sorted. */
    readonly warnings: readonly string[];
    /** The stack outputs as `pulumi up` would export them, secret ones masked (absent in older plans). */
    readonly outputs?: Readonly<Record<string, unknown>>;
    /** Each secret key the stack file sets or the config needs, and how it stands there (absent in older plans). */
    readonly secrets?: readonly PlanSecret[];
}

/** One secret key of the stack file: never its value. */
export interface PlanSecret {
    readonly key: string;
    /** set (a secure: value), missing (required, not set), generated (the program makes it), plaintext (refused). */
    readonly status: "set" | "plaintext" | "missing" | "generated";
    readonly why?: string;
}

export interface PlanSummary {
    readonly resources: number;
    readonly components: number;
    readonly custom: number;
    /** Resource count per type token. */
    readonly byType: Readonly<Record<string, number>>;
}

export function summarize(resources: readonly PlanResource[]): PlanSummary {
    const byType: Record<string, number> = {};
    for (const r of resources) byType[r.type] = (byType[r.type] ?? 0) + 1;
    const components = resources.filter((r) => !r.custom).length;
    return { resources: resources.length, components, custom: resources.length - components, byType };
}

/** Deep copy with object keys sorted, for a stable JSON text. */
export function sortKeys(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(sortKeys);
    if (value !== null && typeof value === "object") {
        const out: Record<string, unknown> = {};
        for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
        return out;
    }
    return value;
}

/** JSON with sorted keys and a final newline: byte-identical for equal plans. */
export function stableJson(value: unknown): string {
    return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

/** Appends a key to a display path: `a.b`, `a[0]`, `a["cert-manager.io/issuer"]`. */
export function joinPath(prefix: string, key: string | number): string {
    if (typeof key === "number") return `${prefix}[${key}]`;
    if (/^[A-Za-z_$][\w$-]*$/.test(key)) return prefix === "" ? key : `${prefix}.${key}`;
    return `${prefix}[${JSON.stringify(key)}]`;
}

/**
 * Leaf values by display path. Empty objects and arrays are leaves too, so an
 * input that becomes empty still shows up in a diff.
 */
export function flatten(value: unknown, prefix = ""): [string, unknown][] {
    if (Array.isArray(value)) {
        if (value.length === 0) return [[prefix, []]];
        return value.flatMap((v, i) => flatten(v, joinPath(prefix, i)));
    }
    if (value !== null && typeof value === "object") {
        const keys = Object.keys(value).sort();
        if (keys.length === 0) return [[prefix, {}]];
        return keys.flatMap((k) => flatten((value as Record<string, unknown>)[k], joinPath(prefix, k)));
    }
    return [[prefix, value]];
}

/** A leaf value for one line of text: JSON, except that multi-line strings are left to the caller. */
export function formatLeaf(value: unknown): string {
    return JSON.stringify(value) ?? "undefined";
}

export function isMultiline(value: unknown): value is string {
    return typeof value === "string" && value.includes("\n");
}

/** The logical name part of a URN-ish key. */
export function nameOfUrn(urn: string): string {
    const i = urn.indexOf("::");
    return i < 0 ? urn : urn.slice(i + 2);
}

/** Parses and checks a plan produced by `plan --format json` (this or another revision). */
export function parsePlan(text: string, origin: string): Plan {
    let doc: unknown;
    try {
        doc = JSON.parse(text);
    } catch (e) {
        throw new PlanError(`${origin}: not a JSON plan (${(e as Error).message})`);
    }
    const plan = doc as Partial<Plan>;
    if (plan.format !== PLAN_FORMAT) {
        throw new PlanError(
            `${origin}: plan format ${JSON.stringify(plan.format)}, expected ${JSON.stringify(PLAN_FORMAT)}`,
        );
    }
    if (!Array.isArray(plan.resources)) throw new PlanError(`${origin}: plan has no resources list`);
    return plan as Plan;
}

export function isProvider(type: string): boolean {
    return type.startsWith("pulumi:providers:");
}

/** Dynamic resources carry their provider as serialized code, never a provider resource. */
export function isDynamic(type: string): boolean {
    return type.startsWith("pulumi-nodejs:dynamic");
}

/**
 * How a text output names another resource of the plan: its logical name, and
 * its type too when another resource shares the name.
 */
export function labeller(plan: Pick<Plan, "resources">): (urn: string) => string {
    const count = new Map<string, number>();
    for (const r of plan.resources) count.set(r.name, (count.get(r.name) ?? 0) + 1);
    const typeOf = new Map(plan.resources.map((r) => [r.urn, r.type]));
    return (urn) => {
        const name = nameOfUrn(urn);
        const type = typeOf.get(urn);
        return (count.get(name) ?? 0) > 1 && type !== undefined ? `${name} (${type})` : name;
    };
}
