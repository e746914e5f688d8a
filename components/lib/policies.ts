/**
 * Vault ACL policies from `policies/*.hcl`: load the templates, render their
 * placeholders from the stack config, and check the result with a real HCL
 * parser before it is handed to Vault.
 *
 * Template language (deliberately tiny and explicit):
 * - `{{cluster}}`, `{{cluster_mount}}`: the cluster a policy is rendered for
 *   and its KV v2 mount. A file that uses either is rendered once per cluster
 *   this Vault serves (its own and each remote cluster), and its Vault name
 *   gets the suffix `-<cluster>`; any other file is rendered once, named after
 *   the file.
 * - `{{kv.mount}}`: every KV v2 mount this Vault serves (cluster mounts first,
 *   then the shared mounts).
 * - `{{shared.mount}}` / `{{shared.path}}`: each readable path of each shared
 *   mount (`kv.shared[].readablePaths`), as a pair.
 * - `{{tenant.namespace}}`: each namespace of a tenant group
 *   (`externalSecrets.tenants`); empty in a remote cluster's rendering (tenant
 *   groups are the own cluster's).
 * - `kv.*`, `shared.*` and `tenant.*` are lists: they may only appear inside a `path`
 *   block, which is then rendered once per item (and left out when the list is
 *   empty). One block uses at most one list.
 * Anything else written `{{...}}` is an error, and so is any `{{` left after
 * rendering.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseHcl } from "@cdktf/hcl2json";
import type { PlatformConfig } from "../config";
import { KV_BACKUP_POLICY, POLICY_DIR, RAFT_SNAPSHOT_POLICY } from "./policy-names";

/**
 * The keys policy rendering reads: the served clusters, the shared mounts, the SSO groups, the snapshot and backup
 * switches, the tenant groups.
 */
export type PolicySlice = Pick<PlatformConfig, "cluster" | "kubernetesAuth" | "kv" | "oidc" | "server"> & {
    readonly backup: Pick<PlatformConfig["backup"], "enabled">;
    readonly externalSecrets: Pick<PlatformConfig["externalSecrets"], "tenants">;
};

/** The template External Secrets' Kubernetes auth roles get, rendered per cluster. */
export const READER_TEMPLATE = "external-secrets-reader";

/** Every placeholder a template may use, with what it stands for. */
export const PLACEHOLDERS: Readonly<Record<string, string>> = {
    cluster: "the cluster the policy is rendered for (makes the policy per-cluster)",
    cluster_mount: "that cluster's KV v2 mount (makes the policy per-cluster)",
    "kv.mount": "each KV v2 mount this Vault serves (list)",
    "shared.mount": "the shared mount of each readable shared path (list, paired with shared.path)",
    "shared.path": "each readable path of that shared mount (list, paired with shared.mount)",
    "tenant.namespace": "each namespace of a tenant group, in the own cluster's rendering (list)",
};

const SCALARS = ["cluster", "cluster_mount"] as const;
const LISTS = { kv: ["mount"], shared: ["mount", "path"], tenant: ["namespace"] } as const;
type ListName = keyof typeof LISTS;

/** Capabilities Vault accepts in an ACL policy. */
export const CAPABILITIES = [
    "create",
    "read",
    "update",
    "patch",
    "delete",
    "list",
    "sudo",
    "deny",
    "subscribe",
    "recover",
] as const;

/** Keys Vault accepts inside a `path` block. */
const BLOCK_KEYS = [
    "capabilities",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "subscribe_event_types",
];

/** Substituted values end up inside HCL strings and path globs: no quotes, globs or spaces. */
const SAFE_VALUE = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9._-]+)*$/;

/** A template or rendering problem, naming the file and line. */
export class PolicyTemplateError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PolicyTemplateError";
    }
}

export interface PolicyTemplate {
    /** File name without `.hcl`; the SSO-facing policy name. */
    readonly name: string;
    /** Path shown in errors, e.g. `policies/admin.hcl`. */
    readonly file: string;
    readonly text: string;
    /** Uses `{{cluster}}`/`{{cluster_mount}}`: rendered once per cluster. */
    readonly perCluster: boolean;
}

/** Values of the placeholders for one rendering. */
export interface PolicyValues {
    /** The cluster a per-cluster policy is rendered for. */
    readonly cluster?: string;
    /** That cluster's KV v2 mount. */
    readonly clusterMount?: string;
    /** Every KV v2 mount this Vault serves. */
    readonly kvMounts: readonly string[];
    /** Every readable path of every shared mount. */
    readonly shared: readonly { readonly mount: string; readonly path: string }[];
    /** The tenant groups' namespaces (externalSecrets.tenants) when rendering for the own cluster; else none. */
    readonly tenantNamespaces?: readonly string[];
}

export interface RenderedPolicy {
    /** The Vault policy name. */
    readonly name: string;
    /** The template's name (file name without `.hcl`). */
    readonly template: string;
    readonly file: string;
    /** The cluster a per-cluster policy was rendered for. */
    readonly cluster?: string;
    readonly text: string;
}

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;

/** Reads every `*.hcl` in `dir`, sorted by name, and checks its placeholders. */
export function loadPolicyTemplates(dir: string = POLICY_DIR): PolicyTemplate[] {
    const files = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".hcl"))
        .sort();
    if (files.length === 0) throw new PolicyTemplateError(`${dir}: no *.hcl policy files`);
    return files.map((f) => parseTemplate(f.slice(0, -".hcl".length), fs.readFileSync(path.join(dir, f), "utf8")));
}

/** Checks a template's placeholders and block structure; throws on the first problem. */
export function parseTemplate(name: string, text: string, file: string = `policies/${name}.hcl`): PolicyTemplate {
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) {
        throw new PolicyTemplateError(
            `${file}: the file name must be a lower-case policy name (a-z, 0-9, '.', '_', '-')`,
        );
    }
    const used = new Set<string>();
    for (const segment of segments(text, file)) {
        const lists = new Set<ListName>();
        for (const m of segment.text.matchAll(PLACEHOLDER)) {
            const key = m[1];
            const at = `${file}:${lineAt(text, segment.start + (m.index ?? 0))}`;
            if (!(key in PLACEHOLDERS)) {
                const known = Object.keys(PLACEHOLDERS)
                    .map((k) => `{{${k}}}`)
                    .join(", ");
                throw new PolicyTemplateError(`${at}: unknown placeholder {{${key}}} (known: ${known})`);
            }
            used.add(key);
            const list = listOf(key);
            if (list === undefined) continue;
            if (!segment.block) {
                throw new PolicyTemplateError(
                    `${at}: {{${key}}} is a list and may only appear inside a path block (the block is rendered once per item)`,
                );
            }
            lists.add(list);
        }
        if (lists.size > 1) {
            throw new PolicyTemplateError(
                `${file}:${lineAt(text, segment.start)}: a path block may use one list, not ${[...lists].join(" and ")}`,
            );
        }
    }
    const leftover = text.replace(PLACEHOLDER, "").indexOf("{{");
    if (leftover >= 0) {
        // Report the line in the original text: find the first '{{' not starting a placeholder.
        throw new PolicyTemplateError(
            `${file}:${lineAt(text, firstStrayBraces(text))}: stray '{{' (a placeholder is written {{name}}, no spaces)`,
        );
    }
    return { name, file, text, perCluster: SCALARS.some((s) => used.has(s)) };
}

/** Renders one template; a per-cluster template needs `cluster` and `clusterMount`. */
export function renderPolicy(template: PolicyTemplate, values: PolicyValues): string {
    const scalars: Record<string, string | undefined> = {
        cluster: values.cluster,
        cluster_mount: values.clusterMount,
    };
    const items: Record<ListName, Record<string, string>[]> = {
        kv: values.kvMounts.map((mount) => ({ mount })),
        shared: values.shared.map((s) => ({ mount: s.mount, path: s.path })),
        tenant: (values.tenantNamespaces ?? []).map((namespace) => ({ namespace })),
    };
    const check = (key: string, value: string | undefined): string => {
        if (value === undefined) {
            throw new PolicyTemplateError(`${template.file}: no value for {{${key}}} (render it per cluster)`);
        }
        if (!SAFE_VALUE.test(value)) {
            throw new PolicyTemplateError(
                `${template.file}: value '${value}' for {{${key}}} must be a plain path (letters, digits, '.', '_', '-', '/'; no globs)`,
            );
        }
        return value;
    };
    const fill = (text: string, item?: Record<string, string>) =>
        text.replace(PLACEHOLDER, (_, key: string) => {
            const list = listOf(key);
            return check(key, list === undefined ? scalars[key] : item?.[key.slice(list.length + 1)]);
        });

    const out: string[] = [];
    for (const segment of segments(template.text, template.file)) {
        const list = segment.block ? listsIn(segment.text)[0] : undefined;
        if (list === undefined) {
            out.push(fill(segment.text));
        } else {
            out.push(items[list].map((item) => fill(segment.text, item)).join("\n\n"));
        }
    }
    // Dropped blocks (empty lists) leave runs of blank lines behind.
    const rendered = `${out
        .join("")
        .replace(/\n{3,}/g, "\n\n")
        .trimEnd()}\n`;
    if (rendered.includes("{{")) {
        throw new PolicyTemplateError(`${template.file}: '{{' left after rendering`);
    }
    return rendered;
}

/** The Vault name of a template's policy (per-cluster ones get the cluster suffix). */
export function vaultPolicyName(template: Pick<PolicyTemplate, "name" | "perCluster">, cluster: string): string {
    return template.perCluster ? `${template.name}-${cluster}` : template.name;
}

/** The clusters this Vault serves: its own first, then the remote ones. */
export function servedClusters(config: PolicySlice): string[] {
    return [config.cluster.name, ...config.kubernetesAuth.remoteClusters.map((r) => r.name)];
}

/** Placeholder values from the config (cluster-specific ones not set). */
export function policyValues(config: PolicySlice): PolicyValues {
    return {
        kvMounts: [...servedClusters(config), ...config.kv.shared.map((m) => m.name)],
        shared: config.kv.shared.flatMap((m) => m.readablePaths.map((p) => ({ mount: m.name, path: p }))),
    };
}

/**
 * Every policy the config needs: each template once, per-cluster templates
 * once per served cluster (`raft-snapshot` only with raft snapshots on,
 * `kv-backup` only with backup on).
 * Sorted by template, then cluster order.
 */
export function renderPolicies(config: PolicySlice, templates = loadPolicyTemplates()): RenderedPolicy[] {
    const values = policyValues(config);
    const tenantNamespaces = config.externalSecrets.tenants.flatMap((t) => t.namespaces);
    // The snapshot and export jobs' policies exist only where the jobs do.
    const wanted = templates.filter(
        (t) =>
            (t.name !== RAFT_SNAPSHOT_POLICY || config.server.snapshots?.enabled === true) &&
            (t.name !== KV_BACKUP_POLICY || config.backup.enabled),
    );
    return wanted.flatMap((t) => {
        const clusters = t.perCluster ? servedClusters(config) : [undefined];
        return clusters.map((cluster) => ({
            name: cluster === undefined ? t.name : vaultPolicyName(t, cluster),
            template: t.name,
            file: t.file,
            cluster,
            text: renderPolicy(t, {
                ...values,
                cluster,
                clusterMount: cluster,
                // Tenant groups are the own cluster's: a remote cluster's rendering has none.
                tenantNamespaces: cluster === undefined || cluster === config.cluster.name ? tenantNamespaces : [],
            }),
        }));
    });
}

/**
 * Maps the SSO-facing policy names of `oidc.groups` (file names, or Vault's
 * `default`) to Vault policy names: a per-cluster template means this
 * cluster's rendering.
 */
export function groupPolicyNames(config: PolicySlice, templates = loadPolicyTemplates()): Record<string, string[]> {
    const byName = new Map(templates.map((t) => [t.name, t]));
    return Object.fromEntries(
        Object.entries(config.oidc.groups).map(([group, names]) => [
            group,
            names.map((n) => {
                const t = byName.get(n);
                if (t === undefined && n !== "default") {
                    throw new PolicyTemplateError(`oidc.groups.${group}: unknown policy '${n}'`);
                }
                return t === undefined ? n : vaultPolicyName(t, config.cluster.name);
            }),
        ]),
    );
}

/**
 * Parses a rendered policy with a real HCL parser and checks its shape the
 * way Vault will read it: only `path` blocks, each path once, known block
 * keys, a non-empty list of known capabilities, `deny` alone. Resolves to the
 * policy text.
 */
export async function checkPolicy(policy: Pick<RenderedPolicy, "name" | "file" | "text">): Promise<string> {
    const where = `policy ${policy.name} (${policy.file})`;
    let json: Record<string, unknown>;
    try {
        json = (await parseHcl(`${policy.name}.hcl`, policy.text)) as Record<string, unknown>;
    } catch (e) {
        throw new PolicyTemplateError(`${where}: not valid HCL: ${e instanceof Error ? e.message : String(e)}`);
    }
    const problems: string[] = [];
    for (const key of Object.keys(json)) {
        if (key !== "path") problems.push(`unexpected top-level '${key}' (only path blocks)`);
    }
    const paths = (json.path ?? {}) as Record<string, Record<string, unknown>[]>;
    if (Object.keys(paths).length === 0) problems.push("has no path blocks");
    for (const [p, blocks] of Object.entries(paths)) {
        if (blocks.length !== 1) {
            problems.push(`path "${p}" appears ${blocks.length} times`);
            continue;
        }
        const block = blocks[0];
        for (const key of Object.keys(block)) {
            if (!BLOCK_KEYS.includes(key)) problems.push(`path "${p}": unknown key '${key}'`);
        }
        const caps = block.capabilities;
        if (!Array.isArray(caps) || caps.length === 0) {
            problems.push(`path "${p}": capabilities must be a non-empty list`);
            continue;
        }
        for (const cap of caps) {
            if (!(CAPABILITIES as readonly unknown[]).includes(cap)) {
                problems.push(`path "${p}": unknown capability '${String(cap)}'`);
            }
        }
        if (caps.includes("deny") && caps.length > 1) problems.push(`path "${p}": 'deny' must stand alone`);
    }
    if (problems.length > 0) throw new PolicyTemplateError(`${where}: ${problems.join("; ")}`);
    return policy.text;
}

// ---------------------------------------------------------------------------

function listOf(key: string): ListName | undefined {
    const prefix = key.split(".")[0];
    return key.includes(".") && prefix in LISTS ? (prefix as ListName) : undefined;
}

function listsIn(text: string): ListName[] {
    const found = new Set<ListName>();
    for (const m of text.matchAll(PLACEHOLDER)) {
        const list = listOf(m[1]);
        if (list !== undefined) found.add(list);
    }
    return [...found];
}

function lineAt(text: string, offset: number): number {
    return text.slice(0, offset).split("\n").length;
}

function firstStrayBraces(text: string): number {
    const re = /\{\{/g;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        const rest = text.slice(m.index);
        if (!/^\{\{[^{}]*\}\}/.test(rest)) return m.index;
    }
    return text.indexOf("{{");
}

interface Segment {
    readonly start: number;
    readonly text: string;
    /** A top-level block, from the start of the line that opens it to its closing brace. */
    readonly block: boolean;
}

/**
 * Splits HCL text into top-level blocks and the text between them, skipping
 * braces inside strings and comments.
 */
function segments(text: string, file: string): Segment[] {
    const out: Segment[] = [];
    let depth = 0;
    let cursor = 0;
    let blockStart = 0;
    for (let i = 0; i < text.length; i++) {
        const ch = text[i];
        if (ch === "#" || (ch === "/" && text[i + 1] === "/")) {
            const end = text.indexOf("\n", i);
            i = end < 0 ? text.length : end;
        } else if (ch === "/" && text[i + 1] === "*") {
            const end = text.indexOf("*/", i + 2);
            if (end < 0) throw new PolicyTemplateError(`${file}:${lineAt(text, i)}: unterminated /* comment`);
            i = end + 1;
        } else if (ch === '"') {
            let j = i + 1;
            while (j < text.length && text[j] !== '"' && text[j] !== "\n") j += text[j] === "\\" ? 2 : 1;
            if (text[j] !== '"') throw new PolicyTemplateError(`${file}:${lineAt(text, i)}: unterminated string`);
            i = j;
        } else if (ch === "{" && text[i + 1] === "{") {
            const end = text.indexOf("}}", i + 2); // a placeholder, not a block
            i = end < 0 ? i + 1 : end + 1;
        } else if (ch === "{") {
            if (depth === 0) {
                blockStart = text.lastIndexOf("\n", i) + 1;
                if (blockStart < cursor) blockStart = cursor;
                if (blockStart > cursor)
                    out.push({ start: cursor, text: text.slice(cursor, blockStart), block: false });
            }
            depth++;
        } else if (ch === "}") {
            if (depth === 0) throw new PolicyTemplateError(`${file}:${lineAt(text, i)}: unbalanced '}'`);
            depth--;
            if (depth === 0) {
                out.push({ start: blockStart, text: text.slice(blockStart, i + 1), block: true });
                cursor = i + 1;
            }
        }
    }
    if (depth !== 0) throw new PolicyTemplateError(`${file}: unbalanced '{' (a block is not closed)`);
    if (cursor < text.length) out.push({ start: cursor, text: text.slice(cursor), block: false });
    return out;
}

/** Vault name of a tenant group's reader policy. */
export function tenantPolicyName(cluster: string, tenant: string): string {
    return `external-secrets-tenant-${cluster}-${tenant}`;
}

/**
 * The reader policy of one tenant group (externalSecrets.tenants): read and
 * list under `<cluster>/data|metadata/<namespace>/` of each of its namespaces,
 * nothing else (no shared mount, no other namespace's path). Generated, not a
 * template: its paths come from a list of groups, one policy per group.
 */
export function tenantPolicies(
    config: Pick<PlatformConfig, "cluster"> & {
        readonly externalSecrets: Pick<PlatformConfig["externalSecrets"], "tenants">;
    },
): RenderedPolicy[] {
    const mount = config.cluster.name;
    return config.externalSecrets.tenants.map((t) => {
        const blocks = t.namespaces.flatMap((ns) => [
            `path "${mount}/data/${ns}/*" {\n  capabilities = ["read"]\n}`,
            `path "${mount}/metadata/${ns}/*" {\n  capabilities = ["read", "list"]\n}`,
        ]);
        const header =
            `# external-secrets-tenant: what the store of tenant group ${t.name} of cluster ${mount} may read:\n` +
            `# its namespaces' own paths of the cluster mount, read-only (externalSecrets.tenants).\n`;
        return {
            name: tenantPolicyName(mount, t.name),
            template: "external-secrets-tenant",
            file: `externalSecrets.tenants[${t.name}]`,
            cluster: mount,
            text: `${header}\n${blocks.join("\n\n")}\n`,
        };
    });
}
