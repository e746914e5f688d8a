/**
 * Policy rendering (components/lib/policies.ts) over generated templates and
 * values: the rendered HCL parses with the real parser and grants exactly the
 * paths and capabilities the template asks for, once per list item, nothing
 * more; values that could widen a path are refused. The expected grants are
 * computed here from the generated spec, not from the product's output.
 */
import { strict as assert } from "node:assert";
import { parse as parseHcl } from "@cdktf/hcl2json";
import * as fc from "fast-check";
import {
    CAPABILITIES,
    checkPolicy,
    parseTemplate,
    PolicyTemplateError,
    PolicyValues,
    renderPolicy,
} from "../../components/lib/policies";
import { runs } from "../support/properties";

/** What a path block's path is built from. */
type Source = "literal" | "cluster" | "cluster_mount" | "kv" | "shared" | "tenant";

interface BlockSpec {
    readonly source: Source;
    /** A literal glob tail after the substituted part ("" , "/*", "/+/config"...). */
    readonly tail: string;
    readonly capabilities: readonly string[];
    /** A comment line before the block, with braces and quotes the block scanner must skip. */
    readonly comment?: string;
}

const alnum = fc.constantFrom(..."abcxyz019ABZ");
const segmentChar = fc.constantFrom(..."abcxyz019ABZ._-");
/** One path segment a value may hold: starts with a letter or digit. */
const segment = fc.tuple(alnum, fc.array(segmentChar, { maxLength: 8 })).map(([first, rest]) => first + rest.join(""));
/** A plain relative path: one or more segments. */
const plainPath = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join("/"));

const values: fc.Arbitrary<Required<PolicyValues>> = fc.record({
    cluster: segment,
    clusterMount: segment,
    kvMounts: fc.uniqueArray(segment, { maxLength: 4 }),
    // Mounts are one segment, so distinct (mount, path) pairs render distinct paths.
    shared: fc.uniqueArray(fc.record({ mount: segment, path: plainPath }), {
        maxLength: 4,
        selector: (s) => `${s.mount}\n${s.path}`,
    }),
    tenantNamespaces: fc.uniqueArray(segment, { maxLength: 4 }),
});

const grants = CAPABILITIES.filter((c) => c !== "deny");
const capabilities = fc.oneof(
    { weight: 1, arbitrary: fc.constant(["deny"]) },
    { weight: 4, arbitrary: fc.shuffledSubarray([...grants], { minLength: 1 }) },
);

const block: fc.Arbitrary<BlockSpec> = fc.record(
    {
        source: fc.constantFrom<Source>("literal", "cluster", "cluster_mount", "kv", "shared", "tenant"),
        tail: fc.constantFrom("", "/*", "/data/*", "/metadata/+/config", "/+"),
        capabilities,
        comment: fc.constantFrom("# a } or { in a comment", '// "quoted {" text', "/* } */"),
    },
    { requiredKeys: ["source", "tail", "capabilities"] },
);

/** The path pattern a block's template line holds; each block has its own literal root (b0, b1...). */
function templatePath(i: number, b: BlockSpec): string {
    const middle = {
        literal: "fixed",
        cluster: "{{cluster}}",
        cluster_mount: "{{cluster_mount}}",
        kv: "{{kv.mount}}",
        shared: "{{shared.mount}}/data/{{shared.path}}",
        tenant: "{{cluster_mount}}/data/{{tenant.namespace}}",
    }[b.source];
    return `b${i}/${middle}${b.tail}`;
}

function templateText(blocks: readonly BlockSpec[]): string {
    return blocks
        .map((b, i) =>
            [
                ...(b.comment === undefined ? [] : [b.comment]),
                `path "${templatePath(i, b)}" {`,
                `  capabilities = [${b.capabilities.map((c) => `"${c}"`).join(", ")}]`,
                "}",
                "",
            ].join("\n"),
        )
        .join("\n");
}

/** The grants the spec asks for: each path (per list item for list blocks) with its capabilities. */
function expectedGrants(blocks: readonly BlockSpec[], v: Required<PolicyValues>): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    blocks.forEach((b, i) => {
        const root = `b${i}/`;
        const paths = {
            literal: [`${root}fixed${b.tail}`],
            cluster: [`${root}${v.cluster}${b.tail}`],
            cluster_mount: [`${root}${v.clusterMount}${b.tail}`],
            kv: v.kvMounts.map((m) => `${root}${m}${b.tail}`),
            shared: v.shared.map((s) => `${root}${s.mount}/data/${s.path}${b.tail}`),
            tenant: v.tenantNamespaces.map((n) => `${root}${v.clusterMount}/data/${n}${b.tail}`),
        }[b.source];
        for (const p of paths) out[p] = [...b.capabilities];
    });
    return out;
}

/** What the real HCL parser reads from a policy: path to capabilities, failing on any other shape. */
async function parsedGrants(text: string): Promise<Record<string, string[]>> {
    const json = (await parseHcl("p.hcl", text)) as Record<string, unknown>;
    assert.deepStrictEqual(
        Object.keys(json).filter((k) => k !== "path"),
        [],
        "only path blocks",
    );
    const out: Record<string, string[]> = {};
    for (const [p, blocks] of Object.entries((json.path ?? {}) as Record<string, Record<string, unknown>[]>)) {
        assert.equal(blocks.length, 1, `path "${p}" once`);
        assert.deepStrictEqual(Object.keys(blocks[0]), ["capabilities"], `path "${p}": only capabilities`);
        out[p] = blocks[0].capabilities as string[];
    }
    return out;
}

describe("policy rendering (property)", () => {
    it("the rendered HCL parses and grants exactly the templated paths and capabilities, per list item", async () => {
        await fc.assert(
            fc.asyncProperty(fc.array(block, { minLength: 1, maxLength: 6 }), values, async (blocks, v) => {
                const template = parseTemplate("p", templateText(blocks));
                const usesCluster = blocks.some((b) => ["cluster", "cluster_mount", "tenant"].includes(b.source));
                assert.equal(
                    template.perCluster,
                    usesCluster,
                    "perCluster iff {{cluster}} or {{cluster_mount}} is used",
                );

                const text = renderPolicy(template, v);
                const expected = expectedGrants(blocks, v);
                assert.deepStrictEqual(await parsedGrants(text), expected, text);

                // Vault's shape check accepts it, unless every block was a list that rendered empty.
                const policy = { name: "p", file: "policies/p.hcl", text };
                if (Object.keys(expected).length > 0) assert.equal(await checkPolicy(policy), text);
                else await assert.rejects(checkPolicy(policy), /has no path blocks/);
            }),
            runs(100),
        );
    });

    it("a value that could widen or break out of a path is refused, whichever placeholder it fills", () => {
        const widening = fc.constantFrom("*", "+", '"', " ", "{", "}", "\n", "\\", "#", "$", "%");
        const unsafe = fc.oneof(
            fc
                .tuple(plainPath, widening, fc.nat())
                .map(([p, c, at]) => p.slice(0, at % (p.length + 1)) + c + p.slice(at % (p.length + 1))),
            plainPath.map((p) => `/${p}`),
            plainPath.map((p) => `${p}/`),
            plainPath.map((p) => p.replace(/^[^/]*/, "a//b")),
            plainPath.map((p) => `.${p}`),
            fc.constant(""),
        );
        const fills: [string, (value: string) => PolicyValues][] = [
            ["cluster_mount", (x) => ({ cluster: "c", clusterMount: x, kvMounts: [], shared: [] })],
            ["kv.mount", (x) => ({ cluster: "c", clusterMount: "c", kvMounts: ["ok", x], shared: [] })],
            [
                "shared.mount",
                (x) => ({ cluster: "c", clusterMount: "c", kvMounts: [], shared: [{ mount: x, path: "common" }] }),
            ],
            [
                "shared.path",
                (x) => ({ cluster: "c", clusterMount: "c", kvMounts: [], shared: [{ mount: "shared", path: x }] }),
            ],
            [
                "tenant.namespace",
                (x) => ({ cluster: "c", clusterMount: "c", kvMounts: [], shared: [], tenantNamespaces: ["ok", x] }),
            ],
        ];
        const template = parseTemplate(
            "p",
            [
                'path "a/{{cluster_mount}}/*" {\n  capabilities = ["read"]\n}',
                'path "k/{{kv.mount}}/*" {\n  capabilities = ["read"]\n}',
                'path "s/{{shared.mount}}/data/{{shared.path}}" {\n  capabilities = ["read"]\n}',
                'path "t/{{cluster_mount}}/data/{{tenant.namespace}}/*" {\n  capabilities = ["deny"]\n}',
                "",
            ].join("\n"),
        );
        fc.assert(
            fc.property(unsafe, fc.constantFrom(...fills), (value, [key, fill]) => {
                assert.throws(
                    () => renderPolicy(template, fill(value)),
                    (e: Error) =>
                        e instanceof PolicyTemplateError &&
                        e.message ===
                            `policies/p.hcl: value '${value}' for {{${key}}} must be a plain path (letters, digits, '.', '_', '-', '/'; no globs)`,
                );
            }),
            runs(200),
        );
    });
});
