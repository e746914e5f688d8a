import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";

const root = path.join(__dirname, "..", "..");
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");

describe("README", () => {
    it("keeps the two set-up commands CI uses", () => {
        const deploy = readme.indexOf("\nnpm ci && pulumi up --stack amiya\n");
        assert.ok(deploy > 0, "the install-and-deploy command");
        // A new user runs them in this order: backend and passphrase, the stack, its secrets, then up.
        const order = [
            "export PULUMI_CONFIG_PASSPHRASE=",
            "pulumi login file://",
            "pulumi stack init amiya",
            "pulumi config set --stack amiya --secret",
        ].map((step) => readme.indexOf(step));
        assert.ok(
            order.every((at) => at > 0),
            `every set-up step is in the README: ${order.join(", ")}`,
        );
        assert.deepEqual(
            [...order, deploy],
            [...order, deploy].sort((a, b) => a - b),
        );
        assert.match(readme, /\nnpm test\n/);
        const ci = fs.readFileSync(path.join(root, ".ci", "run"), "utf8");
        assert.match(ci, /^npm ci\b/m);
        assert.match(ci, /^npm test$/m);
    });
});

describe("docs/threat-model.md", () => {
    const text = fs.readFileSync(path.join(root, "docs", "threat-model.md"), "utf8").replace(/\s*\n\s*/g, " ");

    it('names tests that exist: every `file`: "title" reference is a spec with that title', () => {
        const refs = [...text.matchAll(/`(test\/[\w/.-]+\.ts)`: ((?:"[^"]+"(?:, )?)+)/g)];
        assert.ok(refs.length >= 8, `only ${refs.length} test references`);
        for (const [, file, titles] of refs) {
            const spec = fs.readFileSync(path.join(root, file), "utf8").replace(/\s*\n\s*/g, " ");
            for (const [, title] of titles.matchAll(/"([^"]+)"/g)) {
                // A title cut short with "…" must match the start of a real one.
                const wanted = title.replace(/\s*…$/, "");
                assert.ok(spec.includes(wanted), `${file} has no test "${wanted}"`);
            }
        }
    });
});
