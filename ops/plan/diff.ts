/**
 * Compares two plans: resources added, removed and changed, and for a changed
 * resource every input path (and option, provider, parent, dependsOn) whose
 * value differs. Resources are matched by URN, as the engine matches them, so
 * a new type or parent type reads as one removed and one added resource.
 */
import { flatten, formatLeaf, isMultiline, labeller, Plan, PlanResource, stableJson } from "./model";
import { code, fence } from "./render";

export const DIFF_FORMATS = ["text", "markdown", "json"] as const;
export type DiffFormat = (typeof DIFF_FORMATS)[number];

export interface Change {
    /** `inputs` for an input path; otherwise the resource field that changed. */
    readonly kind: "inputs" | "options" | "provider" | "parent" | "dependsOn";
    /** The input or option path; "" for provider, parent and dependsOn. */
    readonly path: string;
    /** Absent on one side: undefined (shown as "(absent)"). */
    readonly old?: unknown;
    readonly new?: unknown;
}

export interface ChangedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly changes: readonly Change[];
}

export interface PlanDiff {
    readonly stack: string;
    /** What the old plan is, e.g. "HEAD (3f2c1ab)". */
    readonly from: string;
    /** What the new plan is, e.g. "working tree". */
    readonly to: string;
    /** Parent, provider and dependsOn named as in the text plan (logical names), not by URN. */
    readonly added: readonly PlanResource[];
    readonly removed: readonly PlanResource[];
    readonly changed: readonly ChangedResource[];
    readonly unchanged: number;
    /** Remarks about the comparison itself (e.g. the stack did not exist at the old revision). */
    readonly notes: readonly string[];
}

export function diffPlans(
    oldPlan: Plan,
    newPlan: Plan,
    labels: { from: string; to: string; notes?: string[] },
): PlanDiff {
    const olds = new Map(oldPlan.resources.map((r) => [r.urn, r]));
    const news = new Map(newPlan.resources.map((r) => [r.urn, r]));
    // Other resources are named by logical name (with the type when a name is shared), as in the plan.
    const label = labeller({ resources: [...oldPlan.resources, ...newPlan.resources.filter((r) => !olds.has(r.urn))] });
    const described = (r: PlanResource): PlanResource => ({
        ...r,
        parent: r.parent === null ? null : label(r.parent),
        provider: r.provider === null ? null : label(r.provider),
        dependsOn: r.dependsOn.map(label).sort(),
    });
    const added = newPlan.resources.filter((r) => !olds.has(r.urn)).map(described);
    const removed = oldPlan.resources.filter((r) => !news.has(r.urn)).map(described);
    const changed: ChangedResource[] = [];
    let unchanged = 0;
    for (const n of newPlan.resources) {
        const o = olds.get(n.urn);
        if (o === undefined) continue;
        const changes = resourceChanges(described(o), described(n));
        if (changes.length > 0) changed.push({ urn: n.urn, type: n.type, name: n.name, changes });
        else unchanged++;
    }
    return {
        stack: newPlan.stack,
        from: labels.from,
        to: labels.to,
        added,
        removed,
        changed,
        unchanged,
        notes: labels.notes ?? [],
    };
}

function resourceChanges(o: PlanResource, n: PlanResource): Change[] {
    const changes: Change[] = [];
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    if (o.parent !== n.parent) changes.push({ kind: "parent", path: "", old: o.parent, new: n.parent });
    if (o.provider !== n.provider) changes.push({ kind: "provider", path: "", old: o.provider, new: n.provider });
    if (!same(o.dependsOn, n.dependsOn))
        changes.push({ kind: "dependsOn", path: "", old: o.dependsOn, new: n.dependsOn });
    for (const kind of ["options", "inputs"] as const) {
        const before = new Map(leaves(o[kind]));
        const after = new Map(leaves(n[kind]));
        const paths = [...new Set([...before.keys(), ...after.keys()])].sort();
        for (const p of paths) {
            if (before.has(p) && after.has(p) && same(before.get(p), after.get(p))) continue;
            changes.push({ kind, path: p, old: before.get(p), new: after.get(p) });
        }
    }
    return changes;
}

function leaves(value: Readonly<Record<string, unknown>>): [string, unknown][] {
    return Object.keys(value).length === 0 ? [] : flatten(value);
}

export function renderDiff(diff: PlanDiff, format: DiffFormat): string {
    switch (format) {
        case "json":
            return stableJson(diff);
        case "text":
            return renderDiffText(diff);
        case "markdown":
            return renderDiffMarkdown(diff);
    }
}

function countLine(d: PlanDiff): string {
    return `${d.added.length} to add, ${d.changed.length} to change, ${d.removed.length} to remove, ${d.unchanged} unchanged`;
}

function show(v: unknown): string {
    if (v === undefined) return "(absent)";
    const text = formatLeaf(v);
    return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

function changeLabel(c: Change): string {
    return c.kind === "inputs" ? c.path : c.path === "" ? `(${c.kind})` : `(${c.kind}) ${c.path}`;
}

/**
 * Line-level difference of two multi-line strings (longest common subsequence):
 * `- ` and `+ ` lines, with `context` unchanged lines ("  ") around each change
 * and "  ..." where unchanged lines are left out.
 */
export function lineDiff(a: string, b: string, context = 0): string[] {
    const x = a.split("\n");
    const y = b.split("\n");
    const lcs: number[][] = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
    for (let i = x.length - 1; i >= 0; i--)
        for (let j = y.length - 1; j >= 0; j--)
            lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    const all: string[] = [];
    let i = 0;
    let j = 0;
    while (i < x.length || j < y.length) {
        if (i < x.length && j < y.length && x[i] === y[j]) {
            all.push(`  ${x[i]}`);
            i++;
            j++;
        } else if (i < x.length && (j === y.length || lcs[i + 1][j] >= lcs[i][j + 1])) all.push(`- ${x[i++]}`);
        else all.push(`+ ${y[j++]}`);
    }
    const changed = all.map((l) => !l.startsWith("  "));
    const keep = all.map((_, k) => changed.slice(Math.max(0, k - context), k + context + 1).some(Boolean));
    const out: string[] = [];
    all.forEach((line, k) => {
        if (keep[k]) out.push(line);
        else if (out.length > 0 && out[out.length - 1] !== "  ..." && keep.slice(k).some(Boolean)) out.push("  ...");
    });
    return out;
}

/** One change as lines: `path: old → new`, or a line diff for multi-line strings. */
function changeLines(c: Change): string[] {
    if (isMultiline(c.old) || isMultiline(c.new)) {
        const a = typeof c.old === "string" ? c.old : "";
        const b = typeof c.new === "string" ? c.new : "";
        return [`${changeLabel(c)}:`, ...lineDiff(a, b, 2).map((l) => `    ${l}`)];
    }
    return [`${changeLabel(c)}: ${show(c.old)} → ${show(c.new)}`];
}

function renderDiffText(d: PlanDiff): string {
    const out = [`Plan diff of stack ${d.stack}: ${d.from} → ${d.to}: ${countLine(d)}`];
    for (const n of d.notes) out.push(`note: ${n}`);
    for (const r of d.added) out.push("", `+ ${r.name} (${r.type})`, ...resourceLines(r).map((l) => `      ${l}`));
    for (const r of d.removed) out.push("", `- ${r.name} (${r.type})`);
    for (const r of d.changed) {
        out.push("", `~ ${r.name} (${r.type})`, ...r.changes.flatMap(changeLines).map((l) => `      ${l}`));
    }
    return `${out.join("\n")}\n`;
}

/** An added resource's parent, provider, dependsOn and inputs. */
function resourceLines(r: PlanResource): string[] {
    const lines: string[] = [];
    if (r.parent !== null) lines.push(`parent: ${r.parent}`);
    if (r.provider !== null) lines.push(`provider: ${r.provider}`);
    if (r.dependsOn.length > 0) lines.push(`dependsOn: ${r.dependsOn.join(", ")}`);
    for (const [k, v] of Object.entries(r.options)) lines.push(`(options) ${k}: ${show(v)}`);
    for (const [p, v] of leaves(r.inputs))
        lines.push(isMultiline(v) ? `${p}: (${v.split("\n").length} lines)` : `${p}: ${show(v)}`);
    return lines;
}

function cell(s: string): string {
    return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function renderDiffMarkdown(d: PlanDiff): string {
    const out = [
        `### Offline plan diff of stack \`${d.stack}\``,
        "",
        `${cell(d.from)} → ${cell(d.to)}: **${countLine(d)}** (recorded under mocks, no credentials; secrets shown as \`[secret]\`).`,
        "",
    ];
    for (const n of d.notes) out.push(`> ${n}`, "");
    if (d.added.length > 0) {
        out.push(`#### Added (${d.added.length})`, "", "| Resource | Type | Parent |", "| --- | --- | --- |");
        for (const r of d.added)
            out.push(`| ${code(r.name)} | ${code(r.type)} | ${r.parent === null ? "" : code(r.parent)} |`);
        out.push("", "<details><summary>Inputs of the added resources</summary>", "");
        for (const r of d.added) out.push(`**${code(r.name)}**`, "", fence(resourceLines(r).join("\n")), "");
        out.push("</details>", "");
    }
    if (d.removed.length > 0) {
        out.push(`#### Removed (${d.removed.length})`, "", "| Resource | Type | Options |", "| --- | --- | --- |");
        for (const r of d.removed) {
            const opts = Object.keys(r.options).join(", ");
            out.push(`| ${code(r.name)} | ${code(r.type)} | ${cell(opts)} |`);
        }
        out.push("");
    }
    if (d.changed.length > 0) {
        out.push(`#### Changed (${d.changed.length})`, "");
        for (const r of d.changed) {
            out.push(`**${code(r.name)}** ${code(r.type)}`, "", "| Path | Old | New |", "| --- | --- | --- |");
            const multiline: Change[] = [];
            for (const c of r.changes) {
                if (isMultiline(c.old) || isMultiline(c.new)) {
                    multiline.push(c);
                    out.push(`| ${code(changeLabel(c))} | (multi-line, below) | |`);
                } else out.push(`| ${code(changeLabel(c))} | ${code(show(c.old))} | ${code(show(c.new))} |`);
            }
            out.push("");
            for (const c of multiline) {
                const lines = lineDiff(
                    typeof c.old === "string" ? c.old : "",
                    typeof c.new === "string" ? c.new : "",
                    2,
                );
                out.push(`${code(changeLabel(c))}:`, "", fence(lines.join("\n"), "diff"), "");
            }
        }
    }
    return out.join("\n");
}
