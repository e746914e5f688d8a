/**
 * `npm run new-stack`: a stack file for another cluster than amiya, from flags
 * only. What the README promises: the file plans, with no amiya value left,
 * every cluster-specific key is marked, and a wrong or missing flag is named
 * before anything is written.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { runNewStack } from "../../ops/new-stack";
import { stableJson } from "../../ops/plan/model";
import { planStackFile } from "../../ops/plan/record";
import { readStackFile } from "../../ops/stack-file";

const LAB = [
    "lab",
    "--domain",
    "lab.example",
    "--kube-context",
    "lab-admin",
    "--bucket",
    "vault-lab",
    "--endpoint",
    "https://s3.lab.example:3900",
    "--oidc-issuer",
    "https://auth.lab.example",
    "--ingress-class",
    "nginx",
    "--ingress-namespace",
    "ingress-system",
    "--cert-manager-issuer",
    "lab-ca",
    "--storage-class",
    "local-path",
    "--s3-cidr",
    "10.1.0.20/32",
    "--oidc-cidr",
    "10.1.0.21/32",
    "--api-cidr",
    "10.1.0.10/32",
];

/** Every string of amiya's own (its cluster-specific values), none of which a new stack may keep. */
const AMIYA = ["amiya", "longhorn", "traefik", "192.168.10.", "akn"];

describe("npm run new-stack", () => {
    let home: string;
    beforeEach(() => {
        home = fs.mkdtempSync(path.join(os.tmpdir(), "new-stack-"));
    });
    afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

    it("writes a stack for another cluster that plans with no amiya value left, each cluster key marked", async function () {
        this.timeout(60000);
        const result = runNewStack([...LAB, "--dir", "gitops"], home);
        assert.equal(result.stderr, "");
        assert.equal(result.code, 0);
        const file = path.join(home, "gitops", "Pulumi.lab.yaml");
        assert.ok(result.stdout.startsWith(`wrote ${file}\n`));
        const text = fs.readFileSync(file, "utf8");
        for (const value of AMIYA) assert.ok(!text.includes(value), `the stack file holds ${value}`);

        // Every value taken from a flag is on a line marked "# cluster".
        for (const value of [
            "lab.example",
            "lab-admin",
            "vault-lab",
            "https://s3.lab.example:3900",
            "nginx",
            "ingress-system",
            "lab-ca",
            "local-path",
            "10.1.0.20/32",
            "10.1.0.21/32",
            "10.1.0.10/32",
            "https://auth.lab.example",
        ]) {
            const holds = (l: string) =>
                l.includes(`: ${value} #`) || l.endsWith(`: ${value}`) || l.includes(`[${value}]`);
            const lines = text.split("\n").filter(holds);
            assert.ok(lines.length > 0, `${value} is not in the file`);
            for (const line of lines) assert.match(line, / # cluster/, `not marked: ${line}`);
        }
        const config = (parse(text) as { config: Record<string, unknown> }).config;
        assert.deepEqual(config["secret-platform:cluster"], { name: "lab.example", domain: "lab.example" });
        assert.deepEqual(config["secret-platform:kubernetes"], { context: "lab-admin" });

        const plan = await planStackFile(readStackFile("lab", path.join(home, "gitops")));
        const json = stableJson(plan);
        for (const value of AMIYA) assert.ok(!json.includes(value), `the plan holds ${value}`);
        assert.equal(plan.outputs?.vaultAddress, "https://vault.lab.example");
        assert.deepEqual(
            plan.warnings.filter((w) => w.startsWith("secret-platform:")),
            [],
        );
        assert.deepEqual(
            plan.secrets?.map((s) => [s.key, s.status]),
            [
                ["oidcClientSecret", "generated"],
                ["storageAccessKeyId", "missing"],
                ["storageSecretAccessKey", "missing"],
            ],
        );
    });

    it("names every missing flag, and writes nothing", () => {
        const result = runNewStack(["lab", "--domain", "lab.example"], home);
        assert.equal(result.code, 2);
        assert.ok(
            result.stderr.startsWith(
                "new-stack: missing --kube-context, --bucket, --ingress-class, --endpoint, --oidc-issuer (or --no-oidc), --s3-cidr (or --no-network-policy), --oidc-cidr (or --no-network-policy), --api-cidr (or --no-network-policy)\nusage: npm run new-stack",
            ),
            result.stderr,
        );
        assert.deepEqual(fs.readdirSync(home), []);
    });

    it("refuses flags that make an invalid stack with the loader's message, and nothing is written", () => {
        const bad = LAB.map((a) => (a === "10.1.0.20/32" ? "10.1.0.20" : a));
        const result = runNewStack([...bad, "--dir", "."], home);
        assert.equal(result.code, 2);
        assert.equal(
            result.stderr,
            'new-stack: the flags make an invalid stack, nothing written:\ninvalid stack config (1 problem):\n  secret-platform:networkPolicy.egress.s3.cidrs[0]: must be a CIDR block such as 10.0.0.0/8 (got "10.1.0.20")\n',
        );
        assert.deepEqual(fs.readdirSync(home), []);
    });

    it("without OIDC and NetworkPolicies: only the keys those need are asked for", () => {
        const result = runNewStack(
            [
                "lab",
                "--domain",
                "lab.example",
                "--kube-context",
                "lab",
                "--bucket",
                "vault-lab",
                "--endpoint",
                "https://s3.lab.example",
                "--ingress-class",
                "nginx",
                "--no-oidc",
                "--no-network-policy",
                "--dir",
                ".",
            ],
            home,
        );
        assert.equal(result.code, 0, result.stderr);
        const config = (
            parse(fs.readFileSync(path.join(home, "Pulumi.lab.yaml"), "utf8")) as { config: Record<string, unknown> }
        ).config;
        assert.deepEqual(config["secret-platform:oidc"], { enabled: false });
        assert.deepEqual(config["secret-platform:networkPolicy"], { enabled: false });
    });

    it("keeps an existing stack file unless --force", () => {
        fs.writeFileSync(path.join(home, "Pulumi.lab.yaml"), "config: {}\n");
        const result = runNewStack([...LAB, "--dir", "."], home);
        assert.deepEqual(result, {
            code: 1,
            stdout: "",
            stderr: `new-stack: ${path.join(home, "Pulumi.lab.yaml")} exists (--force overwrites it)\n`,
        });
        assert.equal(fs.readFileSync(path.join(home, "Pulumi.lab.yaml"), "utf8"), "config: {}\n");
        assert.equal(runNewStack([...LAB, "--dir", ".", "--force"], home).code, 0);
    });
});

describe("the cluster-specific keys", () => {
    it("every key Pulumi.amiya.yaml marks `# cluster` is in docs/new-stack.md's table", () => {
        const root = path.join(__dirname, "..", "..");
        const table = fs.readFileSync(path.join(root, "docs", "new-stack.md"), "utf8");
        // The dotted path of each marked line, from its indentation.
        const marked: string[] = [];
        const stackPath: string[] = [];
        for (const line of fs.readFileSync(path.join(root, "Pulumi.amiya.yaml"), "utf8").split("\n")) {
            const m = /^( *)([A-Za-z][\w-]*(?::[\w]+)?):/.exec(line);
            if (m === null) continue;
            const depth = m[1].length / 4 - 1;
            if (depth < 0 || !Number.isInteger(depth)) continue;
            stackPath.length = depth;
            stackPath[depth] = m[2].replace(/^secret-platform:/, "");
            if (/ # cluster\b/.test(line)) marked.push(stackPath.slice(0, depth + 1).join("."));
        }
        assert.ok(marked.length >= 10, `only ${marked.length} marked keys`);
        for (const key of marked) {
            const listed = key.startsWith("networkPolicy.egress") ? "networkPolicy.egress.*" : key;
            assert.ok(
                table.includes(`\`${listed}\``),
                `${key} is marked in Pulumi.amiya.yaml but not in docs/new-stack.md`,
            );
        }
    });
});
