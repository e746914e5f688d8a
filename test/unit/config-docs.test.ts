import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { CONFIG_SCHEMAS, SECRET_KEYS } from "../../components/config";
import { DOCS_COMMAND, generatedFiles, PROJECT_FILE, REFERENCE_FILE } from "../../scripts/docs-config";

const root = path.join(__dirname, "..", "..");

/** Every leaf key path of the config schema, arrays of objects written as `key[].field`. */
function leafPaths(schema: any, prefix: string): string[] {
    if (schema.type === "object" && schema.properties) {
        return Object.entries<any>(schema.properties).flatMap(([k, v]) => leafPaths(v, `${prefix}.${k}`));
    }
    if (schema.type === "array" && schema.items?.type === "object")
        return [prefix, ...leafPaths(schema.items, `${prefix}[]`)];
    return [prefix];
}

describe("config docs, generated from the schema", () => {
    let generated: Record<string, string>;
    before(async () => {
        generated = await generatedFiles();
    });

    for (const file of [REFERENCE_FILE, PROJECT_FILE]) {
        it(`${file} is the committed copy of the generated text`, () => {
            const committed = fs.readFileSync(path.join(root, file), "utf8");
            assert.ok(committed === generated[file], `${file} differs from the schema's docs: run ${DOCS_COMMAND}`);
        });
    }

    it(`${REFERENCE_FILE} documents every config key`, () => {
        const reference = fs.readFileSync(path.join(root, REFERENCE_FILE), "utf8");
        const missing = Object.entries(CONFIG_SCHEMAS)
            .flatMap(([key, schema]) => leafPaths(z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }), key))
            .concat(Object.keys(SECRET_KEYS))
            .filter((key) => !reference.includes(`\`${key}\``));
        assert.deepEqual(missing, []);
    });

    it("describes every field of the schema", () => {
        const undescribed: string[] = [];
        const walk = (schema: any, key: string) => {
            if (schema.description === undefined) undescribed.push(key);
            for (const [k, v] of Object.entries<any>(schema.properties ?? {})) walk(v, `${key}.${k}`);
            if (schema.type === "array" && schema.items?.properties) {
                for (const [k, v] of Object.entries<any>(schema.items.properties)) walk(v, `${key}[].${k}`);
            }
        };
        for (const [key, schema] of Object.entries(CONFIG_SCHEMAS)) {
            walk(z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }), key);
        }
        assert.deepEqual(undescribed, []);
    });
});
