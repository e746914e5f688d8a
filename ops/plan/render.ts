/**
 * The plan as text (a tree for the terminal), markdown (for a pull request),
 * JSON (stable, for diffs and the golden file) and mermaid (the component
 * graph). Every renderer reads the Plan only: secrets are already masked.
 */
import {
    flatten,
    formatLeaf,
    isDynamic,
    isMultiline,
    isProvider,
    labeller,
    Plan,
    PlanResource,
    stableJson,
} from "./model";

export const FORMATS = ["text", "markdown", "json", "mermaid"] as const;
export type Format = (typeof FORMATS)[number];

export function renderPlan(plan: Plan, format: Format): string {
    switch (format) {
        case "text":
            return renderText(plan);
        case "markdown":
            return renderMarkdown(plan);
        case "json":
            return stableJson(plan);
        case "mermaid":
            return renderMermaid(plan);
    }
}

interface Tree {
    readonly roots: PlanResource[];
    children(r: PlanResource): PlanResource[];
}

/** Parent-child structure; children by logical name, so the reading order is stable. */
function treeOf(plan: Plan): Tree {
    const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
    const kids = new Map<string, PlanResource[]>();
    const roots: PlanResource[] = [];
    for (const r of plan.resources) {
        if (r.parent !== null && byUrn.has(r.parent)) {
            kids.set(r.parent, [...(kids.get(r.parent) ?? []), r]);
        } else roots.push(r);
    }
    const byName = (a: PlanResource, b: PlanResource) => a.name.localeCompare(b.name) || a.type.localeCompare(b.type);
    roots.sort(byName);
    for (const list of kids.values()) list.sort(byName);
    return { roots, children: (r) => kids.get(r.urn) ?? [] };
}

function summaryLine(plan: Plan): string {
    const s = plan.summary;
    return `${s.resources} resources (${s.components} components, ${s.custom} custom resources)`;
}

function optionFlags(r: PlanResource): string {
    const flags = Object.entries(r.options).map(([k, v]) => (v === true ? k : `${k}=${formatLeaf(v)}`));
    return flags.length > 0 ? ` [${flags.join(", ")}]` : "";
}

/** The detail lines of a resource: provider, dependsOn, then every input leaf. */
function detailLines(r: PlanResource, label: (urn: string) => string): string[] {
    const lines: string[] = [];
    if (r.custom && !isProvider(r.type)) {
        const provider = isDynamic(r.type) ? "(dynamic provider)" : "(default provider)";
        lines.push(`provider: ${r.provider === null ? provider : label(r.provider)}`);
    }
    if (r.dependsOn.length > 0) lines.push(`dependsOn: ${r.dependsOn.map(label).sort().join(", ")}`);
    for (const [p, v] of flatten(r.inputs)) {
        if (p === "" && typeof v === "object") continue; // no inputs at all
        if (isMultiline(v)) {
            lines.push(`${p}: |`);
            for (const l of v.replace(/\n$/, "").split("\n")) lines.push(`    ${l}`);
        } else lines.push(`${p}: ${formatLeaf(v)}`);
    }
    return lines;
}

function renderText(plan: Plan): string {
    const out: string[] = [`Offline plan of stack ${plan.stack}: ${summaryLine(plan)}`, ""];
    const tree = treeOf(plan);
    const label = labeller(plan);
    const visit = (r: PlanResource, prefix: string, last: boolean, root: boolean) => {
        out.push(`${prefix}${root ? "" : last ? "└── " : "├── "}${r.name} (${r.type})${optionFlags(r)}`);
        const inner = prefix + (root ? "" : last ? "    " : "│   ");
        const kids = tree.children(r);
        for (const line of detailLines(r, label)) out.push(`${inner}${kids.length > 0 ? "│" : " "}     ${line}`);
        kids.forEach((k, i) => visit(k, inner, i === kids.length - 1, false));
    };
    for (const r of tree.roots) visit(r, "", true, true);
    if (plan.warnings.length > 0) {
        out.push("", `Warnings (${plan.warnings.length}):`, ...plan.warnings.map((w) => `  - ${w}`));
    }
    return `${out.join("\n")}\n`;
}

/** A fenced code block whose fence is longer than any backtick run inside. */
export function fence(body: string, lang = "text"): string {
    const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((m) => m.length));
    const f = "`".repeat(Math.max(3, longest + 1));
    return `${f}${lang}\n${body}\n${f}`;
}

/** Inline code that survives backticks and pipes in a markdown table cell. */
export function code(s: string): string {
    const body = s.replace(/\|/g, "\\|");
    return body.includes("`") ? `\`\` ${body} \`\`` : `\`${body}\``;
}

function renderMarkdown(plan: Plan): string {
    const out: string[] = [
        `### Offline plan of stack \`${plan.stack}\``,
        "",
        `**${summaryLine(plan)}**, recorded by running the program under the test mocks: no credentials used, secret inputs shown as \`[secret]\`.`,
        "",
    ];
    if (plan.warnings.length > 0) {
        out.push(`> **Warnings (${plan.warnings.length})**`, ...plan.warnings.map((w) => `> - ${w}`), "");
    }
    out.push("| Resource | Type | Provider | dependsOn | Options |", "| --- | --- | --- | --- | --- |");
    const tree = treeOf(plan);
    const label = labeller(plan);
    const ordered: PlanResource[] = [];
    const visit = (r: PlanResource, depth: number) => {
        ordered.push(r);
        const indent = depth === 0 ? "" : `${"&nbsp;&nbsp;".repeat(depth - 1)}└&nbsp;`;
        const provider = r.provider === null ? "" : code(label(r.provider));
        const options = Object.entries(r.options)
            .map(([k, v]) => (v === true ? k : `${k}=${formatLeaf(v)}`))
            .join(", ");
        out.push(
            `| ${indent}${code(r.name)} | ${code(r.type)} | ${provider} | ${r.dependsOn.map(label).sort().map(code).join(", ")} | ${options.replace(/\|/g, "\\|")} |`,
        );
        tree.children(r).forEach((k) => visit(k, depth + 1));
    };
    tree.roots.forEach((r) => visit(r, 0));
    const withInputs = ordered.filter((r) => Object.keys(r.inputs).length > 0);
    out.push("", `<details><summary>Inputs of ${withInputs.length} resources</summary>`, "");
    for (const r of withInputs) {
        const lines = detailLines(r, label).filter((l) => !l.startsWith("provider: ") && !l.startsWith("dependsOn: "));
        out.push(`**${code(r.name)}** ${code(r.type)}`, "", fence(lines.join("\n")), "");
    }
    out.push("</details>", "");
    return out.join("\n");
}

/**
 * "aws:s3/bucket:Bucket" -> "aws:s3/Bucket", "vault:index/policy:Policy" -> "vault:Policy",
 * Kubernetes kinds without their API group, providers as "provider:kubernetes".
 */
function shortType(type: string): string {
    const parts = type.split(":");
    if (parts[0] === "pulumi" && parts[1] === "providers") return `provider:${parts[2]}`;
    const kind = parts[parts.length - 1];
    const mod = (parts[1] ?? "").split("/")[0];
    return mod === "index" || mod === "" || parts[0] === "kubernetes"
        ? `${parts[0]}:${kind}`
        : `${parts[0]}:${mod}/${kind}`;
}

function label(...lines: string[]): string {
    return `"${lines.join("<br/>").replace(/"/g, "#quot;")}"`;
}

/**
 * The component graph: each component a subgraph (a node when it has no
 * children), its custom resources grouped by type into one node, solid edges
 * from a dependsOn target to the resource that waits for it, dotted edges from
 * a provider to the resources it manages.
 */
function renderMermaid(plan: Plan): string {
    const tree = treeOf(plan);
    const out: string[] = ["flowchart LR"];
    const nodeOf = new Map<string, string>(); // resource urn -> node or subgraph id
    let counter = 0;
    const visit = (r: PlanResource, indent: string) => {
        const id = `c${counter++}`;
        nodeOf.set(r.urn, id);
        const kids = tree.children(r);
        if (kids.length === 0) {
            out.push(`${indent}${id}[${label(r.name, shortType(r.type))}]`);
            return;
        }
        out.push(`${indent}subgraph ${id}[${label(r.name, shortType(r.type))}]`, `${indent}    direction TB`);
        const groups = new Map<string, PlanResource[]>();
        for (const k of kids) {
            if (!k.custom || tree.children(k).length > 0) continue;
            groups.set(k.type, [...(groups.get(k.type) ?? []), k]);
        }
        for (const [type, members] of [...groups.entries()].sort(([a], [b]) => a.localeCompare(b))) {
            const gid = `g${counter++}`;
            const names = members.map((m) => m.name);
            const shown = names.length > 3 ? [...names.slice(0, 3), `… ${names.length - 3} more`] : names;
            out.push(`${indent}    ${gid}[${label(`${shortType(type)} ×${members.length}`, ...shown)}]`);
            for (const m of members) nodeOf.set(m.urn, gid);
        }
        for (const k of kids) if (!k.custom || tree.children(k).length > 0) visit(k, `${indent}    `);
        out.push(`${indent}end`);
    };
    for (const r of tree.roots) {
        if (r.custom && tree.children(r).length === 0) {
            const id = `n${counter++}`;
            nodeOf.set(r.urn, id);
            out.push(`    ${id}[${label(r.name, shortType(r.type))}]`);
        } else visit(r, "    ");
    }

    const edges = new Set<string>();
    for (const r of plan.resources) {
        const to = nodeOf.get(r.urn) as string;
        for (const dep of r.dependsOn) {
            const from = nodeOf.get(dep);
            if (from !== undefined && from !== to) edges.add(`    ${from} --> ${to}`);
        }
        const via = r.provider === null ? undefined : nodeOf.get(r.provider);
        if (via !== undefined && via !== to) edges.add(`    ${via} -.-> ${to}`);
    }
    out.push(...[...edges].sort());
    return `${out.join("\n")}\n`;
}
