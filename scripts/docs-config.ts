// `npm run docs:config [-- --check]`: writes docs/configuration.md and the
// `description:` lines of Pulumi.yaml's config section from the schema
// (components/config/schema.ts), the one place config keys are described.
// --check writes nothing and fails when either committed file differs.
import * as fs from "node:fs";
import * as path from "node:path";
import * as prettier from "prettier";
import { isMap, isScalar, parseDocument } from "yaml";
import { z } from "zod";
import {
    CONFIG_NAMESPACE,
    CONFIG_SCHEMAS,
    ObjectKey,
    OBJECT_KEYS,
    REQUIRED_KEYS,
    SECRET_KEYS,
    SecretKey,
} from "../components/config";

const ROOT = path.join(__dirname, "..");
export const REFERENCE_FILE = "docs/configuration.md";
export const PROJECT_FILE = "Pulumi.yaml";
export const DOCS_COMMAND = "npm run docs:config";

/** The part of a JSON Schema node (zod's toJSONSchema output, plus our FieldMeta) the docs read. */
interface Node {
    type?: string;
    description?: string;
    default?: unknown;
    enum?: unknown[];
    minimum?: number;
    maximum?: number;
    minItems?: number;
    minLength?: number;
    properties?: Record<string, Node>;
    required?: string[];
    items?: Node;
    additionalProperties?: Node | boolean;
    propertyNames?: Node;
    constraint?: string;
    resolvedDefault?: string;
}

/** One key's JSON Schema, as a user writes it (input: defaults are optional). */
export function keySchema(key: ObjectKey): Node {
    return z.toJSONSchema(CONFIG_SCHEMAS[key], { io: "input", unrepresentable: "any" }) as Node;
}

interface Row {
    readonly key: string;
    readonly type: string;
    readonly default: string;
    readonly constraints: string;
    readonly description: string;
}

const isRecord = (n: Node) => n.type === "object" && n.properties === undefined && n.additionalProperties !== undefined;
const isObject = (n: Node) => n.type === "object" && n.properties !== undefined;

function typeName(n: Node): string {
    if (n.type === "array") return `list of ${n.items === undefined ? "values" : plural(typeName(n.items))}`;
    if (isRecord(n)) {
        const value = typeof n.additionalProperties === "object" ? typeName(n.additionalProperties) : "values";
        return `map of ${n.propertyNames?.constraint === undefined ? "string" : "key"} to ${value}`;
    }
    return n.type ?? "any";
}

function plural(type: string): string {
    return type.startsWith("list of ") || type.startsWith("map of ") ? type.replace(/^(list|map)/, "$1s") : `${type}s`;
}

function constraints(n: Node): string[] {
    const out: string[] = [];
    if (n.enum !== undefined) out.push(`one of ${n.enum.map((v) => code(String(v))).join(", ")}`);
    if (n.constraint !== undefined) out.push(n.constraint);
    // .int() alone bounds a number by the safe integers: no constraint worth a word.
    const min = n.minimum !== undefined && n.minimum > Number.MIN_SAFE_INTEGER ? n.minimum : undefined;
    const max = n.maximum !== undefined && n.maximum < Number.MAX_SAFE_INTEGER ? n.maximum : undefined;
    if (min !== undefined && max !== undefined) out.push(`${min} to ${max}`);
    else if (min !== undefined) out.push(`at least ${min}`);
    else if (max !== undefined) out.push(`at most ${max}`);
    if (n.minLength !== undefined && n.minLength > 0 && n.constraint === undefined) out.push("not empty");
    if (n.minItems !== undefined) out.push(`at least ${n.minItems} item${n.minItems === 1 ? "" : "s"}`);
    if (n.type === "array" && n.items !== undefined && !isObject(n.items)) {
        out.push(...constraints(n.items).map((c) => `each: ${c}`));
    }
    if (isRecord(n)) {
        if (n.propertyNames?.constraint !== undefined) out.push(`keys: ${n.propertyNames.constraint}`);
        if (typeof n.additionalProperties === "object")
            out.push(...constraints(n.additionalProperties).map((c) => `values: ${c}`));
    }
    return out;
}

function code(text: string): string {
    return `\`${text}\``;
}

function defaultText(n: Node, required: boolean): string {
    if (n.resolvedDefault !== undefined) return n.resolvedDefault;
    if (n.default !== undefined) {
        // An object that defaults to {} takes each field's own default (listed in its rows).
        if (isObject(n) && JSON.stringify(n.default) === "{}") return "its fields' defaults";
        return code(typeof n.default === "string" ? n.default : JSON.stringify(n.default));
    }
    return required ? "required" : "unset";
}

/** Every key of a schema node, depth first: objects, then their fields; lists of objects as `key[].field`. */
function rows(n: Node, key: string, required: boolean): Row[] {
    const row: Row = {
        key,
        type: typeName(n),
        default: defaultText(n, required),
        constraints: constraints(n).join("; "),
        description: n.description ?? "",
    };
    const fields = isObject(n) ? n : n.type === "array" && n.items !== undefined && isObject(n.items) ? n.items : null;
    if (fields === null) return [row];
    const prefix = fields === n ? key : `${key}[]`;
    return [
        row,
        ...Object.entries(fields.properties ?? {}).flatMap(([name, child]) =>
            rows(child, `${prefix}.${name}`, (fields.required ?? []).includes(name)),
        ),
    ];
}

/** Every documented key path of the object keys, for the coverage check. */
export function documentedKeys(): string[] {
    return OBJECT_KEYS.flatMap((key) => rows(keySchema(key), key, REQUIRED_KEYS.includes(key)).map((r) => r.key));
}

function cell(text: string): string {
    return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function table(header: string[], body: string[][]): string {
    const line = (cells: string[]) => `| ${cells.map(cell).join(" | ")} |`;
    return [line(header), line(header.map(() => "---")), ...body.map(line)].join("\n");
}

function secretRow(key: SecretKey): string[] {
    return [code(key), key === "remoteClusterReviewerJwts" ? "object (JSON)" : "string", SECRET_KEYS[key]];
}

/** docs/configuration.md, before formatting. */
export function renderReference(): string {
    const sections = OBJECT_KEYS.map((key) => {
        const schema = keySchema(key);
        const [, ...fields] = rows(schema, key, REQUIRED_KEYS.includes(key));
        const title = `## ${code(key)}${REQUIRED_KEYS.includes(key) ? " (required)" : ""}`;
        const body = fields.map((r) => [code(r.key), r.type, r.default, r.constraints, r.description]);
        return [title, schema.description ?? "", table(["Key", "Type", "Default", "Constraints", "Description"], body)];
    });
    return [
        "# Configuration reference",
        `<!-- Generated from components/config/schema.ts by \`${DOCS_COMMAND}\`: edit the schema, not this file. -->`,
        `All keys live in the \`${CONFIG_NAMESPACE}\` namespace. Structured keys are objects: set a field with \`pulumi config set --path 'storage.bucket' vault-amiya\`. \`loadConfig()\` (\`components/config/\`) validates the whole config before any resource is created, applies every default, and reports every problem in one error, each line naming the full key and what is expected, e.g. \`${CONFIG_NAMESPACE}:oidc.issuer: must be an https URL\`.`,
        'Secret keys are top-level strings so that marking one secret does not turn a whole object (and every output derived from it) into a secret; the loader rejects a secret key set without `--secret`. `Pulumi.yaml` declares every key, the object keys as `type: object`, with the descriptions below; optional keys default to `{}` or `""` there, because Pulumi makes a declared key without a default mandatory. The real defaults are the ones below: a default in words is derived from other keys.',
        ...sections.flat(),
        "## Secret keys",
        'Set with `pulumi config set --secret <key>`: the CLI prompts for the value (on the command line it would land in shell history). Unset, `""` and `{}` mean not given.',
        table(["Key", "Type", "Description"], (Object.keys(SECRET_KEYS) as SecretKey[]).map(secretRow)),
    ].join("\n\n");
}

/** The `description:` of a key in Pulumi.yaml: what it is, and (objects) its fields. */
export function projectDescription(key: ObjectKey | SecretKey): string {
    if (key in SECRET_KEYS) return `(secret) ${SECRET_KEYS[key as SecretKey]}`;
    const schema = keySchema(key as ObjectKey);
    const kind = REQUIRED_KEYS.includes(key as ObjectKey) ? "(object, required)" : "(object)";
    const fields = Object.entries(schema.properties ?? {})
        .map(([name, field]) => (field.enum === undefined ? name : `${name} (${field.enum.join(" | ")})`))
        .join(", ");
    return `${kind} ${schema.description ?? ""} Fields: ${fields} (${REFERENCE_FILE}).`;
}

/** Pulumi.yaml with every declared key's description generated; comments and the rest kept. */
export function renderProject(current: string): string {
    const doc = parseDocument(current);
    const config = doc.get("config", true);
    if (!isMap(config)) throw new Error(`${PROJECT_FILE} has no config map`);
    for (const item of config.items) {
        const key = String(isScalar(item.key) ? item.key.value : item.key);
        const description = doc.getIn(["config", key, "description"], true);
        const text = projectDescription(key as ObjectKey | SecretKey);
        if (isScalar(description)) description.value = text;
        else doc.setIn(["config", key, "description"], text);
    }
    return doc.toString({ lineWidth: 0, indent: 4 });
}

async function formatted(file: string, text: string): Promise<string> {
    const options = await prettier.resolveConfig(path.join(ROOT, file));
    return prettier.format(text, { ...options, filepath: file });
}

/** The generated text of each file, formatted as prettier would. */
export async function generatedFiles(): Promise<Record<string, string>> {
    const project = fs.readFileSync(path.join(ROOT, PROJECT_FILE), "utf8");
    return {
        [REFERENCE_FILE]: await formatted(REFERENCE_FILE, renderReference()),
        [PROJECT_FILE]: await formatted(PROJECT_FILE, renderProject(project)),
    };
}

/** The files whose committed text differs from the generated one. */
export async function staleFiles(): Promise<string[]> {
    const files = await generatedFiles();
    return Object.entries(files)
        .filter(([file, text]) => {
            const at = path.join(ROOT, file);
            return !fs.existsSync(at) || fs.readFileSync(at, "utf8") !== text;
        })
        .map(([file]) => file);
}

async function main(args: string[]): Promise<number> {
    if (args.includes("--check")) {
        const stale = await staleFiles();
        for (const file of stale) process.stderr.write(`${file} is out of date: run ${DOCS_COMMAND}\n`);
        return stale.length === 0 ? 0 : 1;
    }
    for (const [file, text] of Object.entries(await generatedFiles())) {
        fs.writeFileSync(path.join(ROOT, file), text);
    }
    return 0;
}

if (require.main === module) {
    void main(process.argv.slice(2)).then((code) => process.exit(code));
}
