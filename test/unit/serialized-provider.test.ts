import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { bootstrapProvider } from "../../components/lib/bootstrap-provider";
import {
    formatSerializedProvider,
    GENERATED_BY,
    SerializedProvider,
    serializedProviderFile,
    serializedProviderText,
    serializeProvider,
    serializeProviderText,
    staleSources,
} from "../../components/lib/serialized-provider";

const LIB = path.join(__dirname, "..", "..", "components", "lib");
const FILE = serializedProviderFile("bootstrap-provider");
const committed = (): SerializedProvider => JSON.parse(fs.readFileSync(FILE, "utf8")) as SerializedProvider;

describe("the bootstrap provider's committed text (components/lib/bootstrap-provider.serialized.json)", () => {
    let made: SerializedProvider;
    before(async () => {
        made = await serializeProvider(bootstrapProvider, "bootstrap-provider");
    });

    it("is exactly what the SDK's serializer makes of the current sources (else: npm run provider:serialize)", () => {
        const stale =
            "stale: run `npm run provider:serialize` and commit components/lib/bootstrap-provider.serialized.json";
        assert.equal(FILE, path.join(LIB, "bootstrap-provider.serialized.json"));
        assert.deepEqual(committed().sources, made.sources, stale);
        // A boolean, not the texts: a diff of 37 KB on one line says nothing the message does not.
        assert.ok(committed().text === made.text, `${stale} (the sources match, the serializer's text does not)`);
        assert.equal(fs.readFileSync(FILE, "utf8"), formatSerializedProvider(made));
    });

    it("lists every local module the provider loads, each with its digest, and nothing else", () => {
        assert.equal(made.generatedBy, GENERATED_BY);
        assert.deepEqual(Object.keys(made.sources), [
            "bootstrap-provider.ts",
            "vault-api.ts",
            "vault-init-provider.ts",
            "vault-init.ts",
            "vault-token-provider.ts",
            "vault-token.ts",
        ]);
        for (const digest of Object.values(made.sources)) assert.match(digest, /^[0-9a-f]{64}$/);
        assert.deepEqual(staleSources(made, LIB), []);
    });

    it("captures no secret and only Node's built-in modules (the text runs in the host, from the state)", () => {
        const required = [...made.text.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
        assert.deepEqual([...new Set(required)].sort(), ["node:crypto", "node:http", "node:https"]);
        assert.match(made.text, /^exports\.handler = __f0;\n/);
    });

    it("names each changed or missing source as stale", () => {
        const sources = { ...made.sources, "vault-init.ts": "0".repeat(64), "gone.ts": made.sources["vault-api.ts"] };
        assert.deepEqual(staleSources({ sources }, LIB), ["vault-init.ts", "gone.ts"]);
    });
});

describe("the provider text a run registers", () => {
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "serialized-provider-"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** The committed file and its sources, copied to `dir`; `edit` changes a source after the copy. */
    function copyCommitted(edit?: { file: string; append: string }): void {
        fs.writeFileSync(path.join(dir, "bootstrap-provider.serialized.json"), fs.readFileSync(FILE));
        for (const source of Object.keys(committed().sources)) {
            fs.copyFileSync(path.join(LIB, source), path.join(dir, source));
        }
        if (edit !== undefined) fs.appendFileSync(path.join(dir, edit.file), edit.append);
    }

    it("is the committed text when every source is unchanged, with no warning and no serialization", async () => {
        copyCommitted();
        // A marker text proves which path ran: the committed file's, not the serializer's.
        const file = path.join(dir, "bootstrap-provider.serialized.json");
        fs.writeFileSync(file, formatSerializedProvider({ ...committed(), text: "exports.handler = marker;" }));
        const warnings: string[] = [];
        const text = serializedProviderText(bootstrapProvider, "bootstrap-provider", dir, async (m) => {
            warnings.push(m);
        });
        assert.equal(await text(), "exports.handler = marker;");
        assert.equal(await text(), "exports.handler = marker;");
        assert.deepEqual(warnings, []);
    });

    it("is the serializer's text for the running sources when a source changed, with one warning naming the file", async () => {
        copyCommitted({ file: "vault-init.ts", append: "\n// edited\n" });
        const warnings: string[] = [];
        const text = serializedProviderText(bootstrapProvider, "bootstrap-provider", dir, async (m) => {
            warnings.push(m);
        });
        assert.equal(await text(), await serializeProviderText(bootstrapProvider));
        await text();
        const shown = path.relative(path.join(LIB, "..", ".."), path.join(dir, "bootstrap-provider.serialized.json"));
        assert.deepEqual(warnings, [
            `${shown} is stale (vault-init.ts changed or missing): serializing the bootstrap-provider provider on this run instead; run \`npm run provider:serialize\` and commit the file`,
        ]);
    });

    it("is the serializer's text, with a warning, when the committed file is missing", async () => {
        const warnings: string[] = [];
        const text = serializedProviderText(bootstrapProvider, "bootstrap-provider", dir, async (m) => {
            warnings.push(m);
        });
        assert.equal(await text(), committed().text);
        assert.equal(warnings.length, 1);
        assert.match(
            warnings[0],
            /bootstrap-provider\.serialized\.json is stale \(bootstrap-provider\.serialized\.json/,
        );
    });

    it("refuses a provider whose closure captures a secret: the text is committed", async () => {
        const secret = pulumi.secret("s3cr3t");
        const leaky: pulumi.dynamic.ResourceProvider = {
            async create() {
                return { id: String(secret) };
            },
        };
        await assert.rejects(serializeProviderText(leaky), /[Ss]ecret/);
    });
});
