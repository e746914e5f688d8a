import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as os from "node:os";
import { stringify as yamlStringify } from "yaml";
import { trustCaFilePath } from "../../components/lib/trust";
import { goldenPath, GRAPH_PAGE, runCli } from "../../ops/plan/cli";
import { diffPlans, lineDiff, PlanDiff, renderDiff } from "../../ops/plan/diff";
import { flatten, parsePlan, Plan, SECRET_MASK, stableJson, UNMARKED_SECRET_MASK } from "../../ops/plan/model";
import { planStackFile, recordPlan } from "../../ops/plan/record";
import { FORMATS, GRAPH_COMMAND, renderPlan, resourceGraphPage } from "../../ops/plan/render";
import { listStacks, PROJECT_ROOT, readStackFile, secretPlaceholder } from "../../ops/stack-file";
import { homelabStack } from "../support/fixtures";
import { makeTestCa } from "../support/test-ca";

const FIXTURES = path.join(__dirname, "..", "fixtures", "plan");
const PLACEHOLDER_PREFIX = secretPlaceholder("");

function fixturePlan(name: string): Plan {
    const file = path.join(FIXTURES, `plan-${name}.json`);
    return parsePlan(fs.readFileSync(file, "utf8"), file);
}

function inputsOf(plan: Plan, name: string): Record<string, unknown> {
    const hits = plan.resources.filter((r) => r.name === name);
    assert.equal(hits.length, 1, `expected one resource named ${name}, found ${hits.length}`);
    return hits[0].inputs as Record<string, unknown>;
}

describe("offline plan", () => {
    let amiya: Plan;

    before(async () => {
        amiya = await planStackFile(readStackFile("amiya"));
    });

    describe("the amiya stack", () => {
        it("matches the reviewed golden plan test/golden/plan-amiya.json", () => {
            const file = goldenPath("amiya");
            const actual = stableJson(amiya);
            const hint =
                "if the change is intended, review it and update the golden file with " +
                "`npm run plan -- --stack amiya --format json --update-golden` (or UPDATE_GOLDEN=1 npm run test:unit)";
            if (process.env.UPDATE_GOLDEN === "1") {
                fs.writeFileSync(file, actual);
                console.log(`      updated ${path.relative(process.cwd(), file)}: review it with git diff`);
                return;
            }
            assert.ok(fs.existsSync(file), `no golden plan ${file}: ${hint}`);
            const expected = fs.readFileSync(file, "utf8");
            if (actual !== expected) {
                const diff = diffPlans(parsePlan(expected, file), amiya, { from: "golden", to: "program" });
                const changes = diff.added.length + diff.removed.length + diff.changed.length;
                const why =
                    changes > 0
                        ? renderDiff(diff, "text")
                        : "(only the summary, warnings, stack outputs or secrets differ)";
                assert.fail(`the amiya plan differs from ${file}:\n${why}\n${hint}`);
            }
        });

        it("docs/architecture/resource-graph.md is the generated graph of the amiya plan", () => {
            const hint = `regenerate it with \`${GRAPH_COMMAND}\` and commit it`;
            assert.ok(fs.existsSync(GRAPH_PAGE), `no ${path.relative(process.cwd(), GRAPH_PAGE)}: ${hint}`);
            assert.ok(
                fs.readFileSync(GRAPH_PAGE, "utf8") === resourceGraphPage(amiya),
                `${path.relative(process.cwd(), GRAPH_PAGE)} differs from the generated graph: ${hint}`,
            );
        });

        it("records every registered resource once, sorted by URN, each with a known parent", () => {
            const urns = amiya.resources.map((r) => r.urn);
            assert.deepEqual(urns, [...urns].sort());
            assert.equal(new Set(urns).size, urns.length);
            assert.equal(amiya.summary.resources, urns.length);
            const roots = amiya.resources.filter((r) => r.parent === null);
            assert.deepEqual(
                roots.map((r) => r.type),
                ["secret-platform:index:SecretPlatform"],
            );
            for (const r of amiya.resources) {
                if (r.parent !== null) assert.ok(urns.includes(r.parent), `${r.urn}: parent ${r.parent} not in plan`);
                if (r.provider !== null) assert.ok(urns.includes(r.provider), `${r.urn}: provider not in plan`);
                assert.ok(r.urn.endsWith(`::${r.name}`));
            }
        });

        it("is the same plan twice in a row (stable JSON)", async () => {
            const again = await planStackFile(readStackFile("amiya"));
            assert.equal(stableJson(again), stableJson(amiya));
        });

        it("shows no secret placeholder in any format, and masks every secret input", () => {
            for (const format of FORMATS) {
                const text = renderPlan(amiya, format);
                assert.ok(!text.includes(PLACEHOLDER_PREFIX), `${format} output shows a placeholder`);
                assert.ok(!text.includes(Buffer.from(PLACEHOLDER_PREFIX).toString("base64").slice(0, 16)));
            }
            assert.deepEqual(
                amiya.warnings.filter((w) => w.includes("not marked secret")),
                [],
            );
            assert.ok(JSON.stringify(amiya).includes(`"${SECRET_MASK}"`), "no input shown as [secret]");
        });
    });

    describe("secrets", () => {
        it("never shows the fixture's secret values, in any format", async () => {
            const stack = homelabStack();
            const plan = await recordPlan("homelab", stack);
            const secrets = Object.values(stack.secrets) as string[];
            for (const format of FORMATS) {
                const text = renderPlan(plan, format);
                for (const s of secrets) {
                    assert.ok(!text.includes(s), `${format} output shows the secret ${s}`);
                    assert.ok(!text.includes(Buffer.from(s).toString("base64")), `${format} shows base64 of ${s}`);
                }
            }
            assert.deepEqual(
                plan.warnings.filter((w) => w.includes("not marked secret")),
                [],
            );
        });

        it("masks a secret the program passed in plaintext, and warns about it", async () => {
            const stack = homelabStack();
            const leaked = stack.secrets.oidcClientSecret as string;
            const plan = await recordPlan("leak", stack, (config, opts) => {
                const plain = pulumi.unsecret(config.oidc.clientSecret as pulumi.Output<string>);
                const provider = new k8s.Provider("leak-k8s", {}, opts);
                return new k8s.core.v1.ConfigMap(
                    "leak",
                    {
                        data: { token: plain, note: pulumi.interpolate`client secret is ${plain}`, fine: "public" },
                        binaryData: { token: plain.apply((p) => Buffer.from(p).toString("base64")) },
                    },
                    { ...opts, provider },
                );
            });
            assert.deepEqual(inputsOf(plan, "leak").data, {
                fine: "public",
                note: UNMARKED_SECRET_MASK,
                token: UNMARKED_SECRET_MASK,
            });
            assert.deepEqual(inputsOf(plan, "leak").binaryData, { token: UNMARKED_SECRET_MASK });
            const urn = "kubernetes:core/v1:ConfigMap::leak";
            assert.deepEqual(plan.warnings, [
                `${urn}: input binaryData.token holds a secret value but is not marked secret`,
                `${urn}: input data.note holds a secret value but is not marked secret`,
                `${urn}: input data.token holds a secret value but is not marked secret`,
            ]);
            for (const format of FORMATS) assert.ok(!renderPlan(plan, format).includes(leaked));
        });

        it("shows a secret Output as [secret] and warns about a resource on the default provider", async () => {
            const plan = await recordPlan("marked", homelabStack(), (config, opts) => {
                return new k8s.core.v1.ConfigMap(
                    "marked",
                    { data: { token: config.oidc.clientSecret as pulumi.Output<string>, fine: "public" } },
                    opts,
                );
            });
            // Pulumi lifts a nested secret to the whole top-level input, and so does the plan.
            assert.equal(inputsOf(plan, "marked").data, SECRET_MASK);
            assert.deepEqual(plan.warnings, [
                "kubernetes:core/v1:ConfigMap::marked: no explicit provider (would use the ambient default provider)",
            ]);
        });
    });

    describe("renderings", () => {
        it("text: the component tree with provider, dependsOn, options and every input", () => {
            const text = renderPlan(fixturePlan("new"), "text");
            assert.equal(
                text,
                [
                    "Offline plan of stack fixture: 5 resources (1 components, 4 custom resources)",
                    "",
                    "platform (secret-platform:index:SecretPlatform)",
                    "├── platform-default-deny (kubernetes:networking.k8s.io/v1:NetworkPolicy)",
                    "│         provider: platform-k8s",
                    '│         apiVersion: "networking.k8s.io/v1"',
                    '│         kind: "NetworkPolicy"',
                    '│         metadata.name: "default-deny"',
                    '│         metadata.namespace: "vault"',
                    "│         spec.podSelector: {}",
                    '│         spec.policyTypes[0]: "Ingress"',
                    '│         spec.policyTypes[1]: "Egress"',
                    '├── platform-k8s (pulumi:providers:kubernetes) [version="4.34.2"]',
                    '│         context: "amiya"',
                    "├── platform-namespace (kubernetes:core/v1:Namespace)",
                    "│         provider: platform-k8s",
                    '│         apiVersion: "v1"',
                    '│         kind: "Namespace"',
                    '│         metadata.name: "vault"',
                    "└── platform-policy (kubernetes:core/v1:ConfigMap) [protect]",
                    "          provider: platform-k8s",
                    "          dependsOn: platform-namespace",
                    '          apiVersion: "v1"',
                    '          data["policy.hcl"]: |',
                    '              path "amiya.akn/data/*" {',
                    '                capabilities = ["read", "list"]',
                    "              }",
                    '          data.size: "5Gi"',
                    '          kind: "ConfigMap"',
                    '          metadata.name: "policy"',
                    '          metadata.namespace: "vault"',
                    "",
                ].join("\n"),
            );
        });

        it("mermaid: components as subgraphs, resources grouped by type, dependsOn and provider edges", () => {
            assert.equal(
                renderPlan(fixturePlan("new"), "mermaid"),
                [
                    "flowchart LR",
                    '    subgraph c0["platform<br/>secret-platform:SecretPlatform"]',
                    "        direction TB",
                    '        g1["kubernetes:ConfigMap ×1<br/>platform-policy"]',
                    '        g2["kubernetes:Namespace ×1<br/>platform-namespace"]',
                    '        g3["kubernetes:NetworkPolicy ×1<br/>platform-default-deny"]',
                    '        g4["provider:kubernetes ×1<br/>platform-k8s"]',
                    "    end",
                    "    g2 --> g1",
                    "    g4 -.-> g1",
                    "    g4 -.-> g2",
                    "    g4 -.-> g3",
                    "",
                ].join("\n"),
            );
        });

        it("mermaid: the amiya graph has a subgraph per component with children", () => {
            const graph = renderPlan(amiya, "mermaid");
            const parents = new Set(amiya.resources.map((r) => r.parent));
            const withChildren = amiya.resources.filter((r) => !r.custom && parents.has(r.urn));
            assert.equal((graph.match(/^\s*subgraph /gm) ?? []).length, withChildren.length);
            assert.equal((graph.match(/^\s*end$/gm) ?? []).length, withChildren.length);
            for (const r of withChildren) assert.ok(graph.includes(`["${r.name}<br/>`), `no subgraph for ${r.name}`);
        });

        it("markdown: a table row per resource, with inputs in a details block", () => {
            const md = renderPlan(fixturePlan("new"), "markdown");
            assert.ok(
                md.includes(
                    "| └&nbsp;`platform-policy` | `kubernetes:core/v1:ConfigMap` | `platform-k8s` | `platform-namespace` | protect |",
                ),
                md,
            );
            assert.equal((md.match(/^\| /gm) ?? []).length, 2 + 5); // header, separator, 5 resources
            assert.ok(md.includes("<details><summary>Inputs of 4 resources</summary>"));
        });
    });

    describe("diff", () => {
        it("reports the added, removed and changed resources of two fixture plans", () => {
            const diff = diffPlans(fixturePlan("old"), fixturePlan("new"), { from: "old", to: "new" });
            assert.deepEqual(
                diff.added.map((r) => r.name),
                ["platform-default-deny"],
            );
            assert.deepEqual(
                diff.removed.map((r) => r.name),
                ["platform-token"],
            );
            assert.equal(diff.unchanged, 3);
            assert.deepEqual(diff.changed, [
                {
                    urn: "secret-platform:index:SecretPlatform$kubernetes:core/v1:ConfigMap::platform-policy",
                    type: "kubernetes:core/v1:ConfigMap",
                    name: "platform-policy",
                    changes: [
                        { kind: "options", path: "protect", old: undefined, new: true },
                        { kind: "inputs", path: "data.size", old: "2Gi", new: "5Gi" },
                        {
                            kind: "inputs",
                            path: 'data["policy.hcl"]',
                            old: 'path "amiya.akn/data/*" {\n  capabilities = ["read"]\n}\n',
                            new: 'path "amiya.akn/data/*" {\n  capabilities = ["read", "list"]\n}\n',
                        },
                    ],
                },
            ]);
        });

        it("renders the diff as text, with a line diff for multi-line inputs", () => {
            const diff = diffPlans(fixturePlan("old"), fixturePlan("new"), { from: "old", to: "new" });
            const text = renderDiff(diff, "text");
            assert.ok(
                text.startsWith(
                    "Plan diff of stack fixture: old → new: 1 to add, 1 to change, 1 to remove, 3 unchanged\n",
                ),
            );
            for (const line of [
                "+ platform-default-deny (kubernetes:networking.k8s.io/v1:NetworkPolicy)",
                '      spec.policyTypes[1]: "Egress"',
                "- platform-token (kubernetes:core/v1:Secret)",
                "~ platform-policy (kubernetes:core/v1:ConfigMap)",
                "      (options) protect: (absent) → true",
                '      data.size: "2Gi" → "5Gi"',
                '      data["policy.hcl"]:',
                '          -   capabilities = ["read"]',
                '          +   capabilities = ["read", "list"]',
            ]) {
                assert.ok(text.includes(`${line}\n`), `missing line ${JSON.stringify(line)} in\n${text}`);
            }
        });

        it("renders the diff as markdown for the pull request comment", () => {
            const diff = diffPlans(fixturePlan("old"), fixturePlan("new"), { from: "old", to: "new" });
            const md = renderDiff(diff, "markdown");
            for (const line of [
                "#### Added (1)",
                "| `platform-default-deny` | `kubernetes:networking.k8s.io/v1:NetworkPolicy` | `platform` |",
                "#### Removed (1)",
                "| `platform-token` | `kubernetes:core/v1:Secret` |  |",
                "#### Changed (1)",
                '| `data.size` | `"2Gi"` | `"5Gi"` |',
                "| `(options) protect` | `(absent)` | `true` |",
                '-   capabilities = ["read"]',
            ]) {
                assert.ok(md.includes(`${line}\n`), `missing ${JSON.stringify(line)} in\n${md}`);
            }
        });

        it("finds nothing between a plan and itself", () => {
            const diff = diffPlans(amiya, amiya, { from: "a", to: "b" });
            assert.deepEqual([diff.added, diff.removed, diff.changed], [[], [], []]);
            assert.equal(diff.unchanged, amiya.resources.length);
        });

        it("lineDiff orders removals before additions and keeps only the asked context", () => {
            assert.deepEqual(lineDiff("a\nb\nc", "a\nB\nc\nd"), ["- b", "+ B", "  ...", "+ d"]);
            const before = "1\n2\n3\n4\n5\n6\n7\n8\n9";
            assert.deepEqual(lineDiff(before, before.replace("2", "two").replace("9", "nine"), 1), [
                "  1",
                "- 2",
                "+ two",
                "  3",
                "  ...",
                "  8",
                "- 9",
                "+ nine",
            ]);
        });

        it("--diff HEAD runs the committed planner and compares it with the working tree", async function () {
            this.timeout(120000);
            const result = await runCli(["--stack", "amiya", "--diff", "HEAD", "--format", "json"]);
            assert.equal(result.stderr, "");
            assert.equal(result.code, 0);
            const diff = JSON.parse(result.stdout) as PlanDiff;
            assert.match(diff.from, /^HEAD \([0-9a-f]{7,}\)$/);
            assert.equal(diff.to, "working tree (Pulumi.amiya.yaml)");
            // Whatever the uncommitted changes are, the diff must account for every current resource once.
            const current = new Set(amiya.resources.map((r) => r.urn));
            const seen = [...diff.added, ...diff.changed].map((r) => r.urn);
            for (const urn of seen) assert.ok(current.has(urn), `${urn} is not in the current plan`);
            for (const r of diff.removed) assert.ok(!current.has(r.urn), `${r.urn} removed but still planned`);
            assert.equal(new Set(seen).size + diff.unchanged, current.size);
        });
    });

    describe("a stack file outside the repository (--stack-dir, from where npm ran)", () => {
        const ca = makeTestCa("plan spec CA");
        const CA = ca.caPem;
        let home: string;
        /** A homelab stack for another cluster, as a user writes it in their own directory. */
        const labStack = (extra: Record<string, unknown> = {}) =>
            yamlStringify({
                config: {
                    "secret-platform:cluster": { name: "lab.example", domain: "lab.example" },
                    "secret-platform:storage": {
                        mode: "s3-compatible",
                        bucket: "vault-lab",
                        region: "garage",
                        endpoint: "https://s3.lab.example",
                    },
                    "secret-platform:exposure": { className: "nginx", certManagerIssuer: "lab-ca" },
                    "secret-platform:oidc": { issuer: "https://auth.lab.example" },
                    "secret-platform:externalSecrets": {
                        namespaceConditions: [{ namespaces: ["grafana", "secret-platform-canary"] }],
                    },
                    "secret-platform:networkPolicy": {
                        egress: {
                            s3: { cidrs: ["10.1.0.20/32"] },
                            oidc: { cidrs: ["10.1.0.21/32"] },
                            kubernetesApi: { cidrs: ["10.1.0.10/32"], ports: [6443] },
                        },
                    },
                    "secret-platform:storageAccessKeyId": { secure: "v1:AAAA" },
                    ...extra,
                },
            });

        before(() => {
            home = fs.mkdtempSync(path.join(os.tmpdir(), "plan-home-"));
            fs.mkdirSync(path.join(home, "gitops"));
            fs.writeFileSync(
                path.join(home, "gitops", "Pulumi.lab.yaml"),
                labStack({ "secret-platform:trust": { caBundle: CA } }),
            );
        });
        after(() => {
            fs.rmSync(home, { recursive: true, force: true });
            ca.cleanup();
        });

        it("resolves --stack-dir against the directory npm ran in, and writes nothing into the repository", async function () {
            this.timeout(60000);
            const trustFile = path.join(PROJECT_ROOT, trustCaFilePath(CA));
            fs.rmSync(trustFile, { force: true });
            const result = await runCli(["--stack", "lab", "--stack-dir", "gitops"], home);
            assert.equal(result.stderr, "");
            assert.equal(result.code, 0);
            assert.match(result.stdout, /^Offline plan of stack lab: \d+ resources/);
            // The program writes the providers' CA file into its working directory: not the repository's.
            assert.equal(fs.existsSync(trustFile), false, "the plan wrote the trust CA file into the repository");
            // Relative to the repository instead, the directory does not exist there.
            const elsewhere = await runCli(["--stack", "lab", "--stack-dir", "gitops"], PROJECT_ROOT);
            assert.equal(elsewhere.code, 1);
            assert.match(elsewhere.stderr, /^no stack file Pulumi\.lab\.yaml/);
        });

        it("lists every secret the stack sets or needs and how it stands, never a value", async function () {
            this.timeout(60000);
            const result = await runCli(["--stack", "lab", "--stack-dir", path.join(home, "gitops")], home);
            const how = (key: string) => `pulumi config set --secret ${key} (it prompts for the value)`;
            const start = result.stdout.indexOf("Secrets of the stack file");
            assert.deepEqual(result.stdout.slice(start).split("\n").slice(0, 5), [
                "Secrets of the stack file (values never read):",
                "  - oidcClientSecret: not set; the program generates it (its Authelia client entry, with the digest, is the secret output autheliaOidcClientConfig)",
                "  - storageAccessKeyId: set (secure), required in s3-compatible mode",
                `  - storageSecretAccessKey: NOT SET, required in s3-compatible mode: pulumi up refuses the stack until it is set: ${how("storageSecretAccessKey")}`,
                "",
            ]);
            const json = JSON.parse(
                (await runCli(["--stack", "lab", "--stack-dir", "gitops", "--format", "json"], home)).stdout,
            ) as Plan;
            assert.deepEqual(
                json.secrets?.map((x) => [x.key, x.status]),
                [
                    ["oidcClientSecret", "generated"],
                    ["storageAccessKeyId", "set"],
                    ["storageSecretAccessKey", "missing"],
                ],
            );
        });

        it("shows the stack outputs: the Authelia client in the clear, its entry with the digest masked", async function () {
            this.timeout(60000);
            const plan = JSON.parse(
                (await runCli(["--stack", "lab", "--stack-dir", "gitops", "--format", "json"], home)).stdout,
            ) as Plan;
            const outputs = plan.outputs ?? {};
            assert.equal(outputs.autheliaOidcClientConfig, SECRET_MASK);
            assert.deepEqual((outputs.autheliaOidcClient as { redirect_uris: string[] }).redirect_uris, [
                "https://vault.lab.example/ui/vault/auth/oidc/oidc/callback",
                "http://localhost:8250/oidc/callback",
            ]);
            assert.equal(outputs.vaultAddress, "https://vault.lab.example");
            assert.equal(outputs.clusterSecretStore, "vault-lab-example");
            const text = (await runCli(["--stack", "lab", "--stack-dir", "gitops"], home)).stdout;
            assert.match(text, /\nStack outputs \(as pulumi up exports them; computed ones as the mocks answer\):\n/);
            assert.match(text, /\n {2}autheliaOidcClient:\n {4}authorization_policy: two_factor\n/);
            assert.match(text, /\n {2}autheliaOidcClientConfig: "\[secret\]"/);
        });

        it("refuses a secret in plain text, a misspelled or missing namespace, naming each and echoing no secret", async () => {
            fs.writeFileSync(
                path.join(home, "Pulumi.typo.yaml"),
                labStack({
                    "secret-platform:oidcClientSecret": "hunter2",
                    "secret-platfrom:exposure": { host: "vault.lab.example" },
                    kv: {},
                    "kubernetes:context": "lab",
                }),
            );
            const result = await runCli(["--stack", "typo", "--stack-dir", "."], home);
            assert.deepEqual(result, {
                code: 1,
                stdout: "",
                stderr: [
                    "invalid stack config (3 problems):",
                    "  secret-platfrom:exposure: namespace 'secret-platfrom' is not this project's, so the program never reads this key (did you mean secret-platform:exposure?)",
                    "  kv: has no namespace, and Pulumi reads stack keys only as <namespace>:<key>: write secret-platform:kv",
                    "  secret-platform:oidcClientSecret: must be set as a secret, not written in plain text: pulumi config set --secret oidcClientSecret (it prompts for the value)",
                    "",
                ].join("\n"),
            });
            assert.ok(!result.stderr.includes("hunter2"));
        });

        it("warns when vault.address and exposure.host disagree, and not when vault.address follows it", async function () {
            this.timeout(60000);
            fs.writeFileSync(
                path.join(home, "Pulumi.addr.yaml"),
                labStack({ "secret-platform:vault": { address: "https://vault.amiya.akn" } }),
            );
            const plan = JSON.parse(
                (await runCli(["--stack", "addr", "--stack-dir", ".", "--format", "json"], home)).stdout,
            ) as Plan;
            assert.deepEqual(
                plan.warnings.filter((w) => w.startsWith("secret-platform:")),
                [
                    "secret-platform:vault.address: https://vault.amiya.akn is not exposure.host (vault.lab.example): this program and the Vault provider reach Vault at vault.address, users at exposure.host. Leave vault.address unset to follow exposure.host, unless Vault is reached another way from where pulumi runs",
                ],
            );
            const lab = JSON.parse(
                (await runCli(["--stack", "lab", "--stack-dir", "gitops", "--format", "json"], home)).stdout,
            ) as Plan;
            assert.deepEqual(
                lab.warnings.filter((w) => w.startsWith("secret-platform:")),
                [],
            );
        });

        it("never overwrites the committed graph or golden plan from another stack", async () => {
            const graph = fs.readFileSync(GRAPH_PAGE, "utf8");
            assert.deepEqual(await runCli(["--stack", "lab", "--stack-dir", "gitops", "--update-graph"], home), {
                code: 2,
                stdout: "",
                stderr: "--update-graph writes docs/architecture/resource-graph.md, the committed graph of the project's amiya stack; for stack lab print its graph with --format mermaid\n",
            });
            const golden = await runCli(["--stack", "lab", "--stack-dir", "gitops", "--update-golden"], home);
            assert.equal(golden.code, 2);
            assert.equal(
                golden.stderr,
                `--update-golden writes test/golden/plan-lab.json into the repository: only for the project's own stack files (this one is in ${path.join(home, "gitops")})\n`,
            );
            assert.equal(fs.readFileSync(GRAPH_PAGE, "utf8"), graph);
            assert.equal(fs.existsSync(goldenPath("lab")), false);
        });

        it("--diff: both sides read the same stack file, the new side labelled with where it was read", async function () {
            this.timeout(180000);
            const result = await runCli(
                ["--stack", "lab", "--stack-dir", "gitops", "--diff", "HEAD", "--format", "json"],
                home,
            );
            assert.equal(result.code, 0, result.stderr);
            const diff = JSON.parse(result.stdout) as PlanDiff;
            assert.match(diff.from, /^HEAD \([0-9a-f]{7,}\), same stack file$/);
            assert.equal(diff.to, `working tree, stack file ${path.join("gitops", "Pulumi.lab.yaml")}`);
            // The revision's planner read the same file: most resources are there on both sides.
            assert.ok(diff.unchanged > 20, `only ${diff.unchanged} unchanged`);
        });
    });

    describe("--diff against revisions without a plan", () => {
        // d418dc2 is the foundation commit: the planner came later (history is never rewritten).
        it("says so when the revision predates the planner", async () => {
            const result = await runCli(["--stack", "amiya", "--diff", "d418dc2"]);
            assert.deepEqual(result, {
                code: 0,
                stdout: "no plan diff: d418dc2 (d418dc2) predates the offline planner (it has no scripts/plan.ts)\n",
                stderr: "",
            });
        });

        it("names an unknown revision", async () => {
            assert.deepEqual(await runCli(["--stack", "amiya", "--diff", "no-such-ref"]), {
                code: 1,
                stdout: "",
                stderr: "unknown git revision 'no-such-ref'\n",
            });
        });
    });

    describe("errors", () => {
        it("names the missing stack file and the stacks there are", async () => {
            assert.deepEqual(await runCli(["--stack", "nope"]), {
                code: 1,
                stdout: "",
                stderr: `no stack file Pulumi.nope.yaml (stacks: ${listStacks().join(", ")})\n`,
            });
            assert.deepEqual(await runCli(["--stack", "nope", "--stack-dir", FIXTURES]), {
                code: 1,
                stdout: "",
                stderr: "no stack file Pulumi.nope.yaml (stacks: broken)\n",
            });
        });

        it("prints the config loader's message unchanged for an invalid stack, without a stack trace", async () => {
            assert.deepEqual(await runCli(["--stack", "broken", "--stack-dir", FIXTURES]), {
                code: 1,
                stdout: "",
                stderr: [
                    "invalid stack config (3 problems):",
                    "  secret-platform:cluster: is required (see docs/configuration.md)",
                    '  secret-platform:storage.mode: must be one of "aws", "s3-compatible" (got "gcs")',
                    // A rule of a key that parsed, reported in the same run.
                    "  secret-platform:oidc.issuer: is required when oidc.enabled is true (the Authelia issuer, an https URL)",
                    "",
                ].join("\n"),
            });
        });

        it("rejects an unknown format and a missing --stack with the usage", async () => {
            const bad = await runCli(["--stack", "amiya", "--format", "yaml"]);
            assert.equal(bad.code, 2);
            assert.equal(bad.stderr, "--format must be one of text, markdown, json, mermaid (got 'yaml')\n");
            const mermaidDiff = await runCli(["--stack", "amiya", "--diff", "HEAD", "--format", "mermaid"]);
            assert.equal(
                mermaidDiff.stderr,
                "--format with --diff must be one of text, markdown, json (got 'mermaid')\n",
            );
            const none = await runCli([]);
            assert.equal(none.code, 2);
            assert.ok(none.stderr.startsWith("--stack is required\nusage: npm run plan"));
        });

        it("refuses a plan of another format version", () => {
            assert.throws(
                () => parsePlan('{"format":"secret-platform-plan/0","resources":[]}', "old.json"),
                /^PlanError: old\.json: plan format "secret-platform-plan\/0", expected "secret-platform-plan\/1"$/,
            );
        });
    });

    it("flatten gives every leaf its display path", () => {
        assert.deepEqual(flatten({ a: { "b.c": [1, { d: null }], e: [] }, f: {} }), [
            ['a["b.c"][0]', 1],
            ['a["b.c"][1].d', null],
            ["a.e", []],
            ["f", {}],
        ]);
    });
});
