// `npm run provider:serialize`: writes components/lib/bootstrap-provider.serialized.json,
// the bootstrap provider's text as the SDK's closure serializer makes it, with
// a digest of each source it was made from (see components/lib/serialized-provider.ts).
// Run it after changing any source the file lists, and commit the result.
import * as fs from "node:fs";
import * as path from "node:path";
import { bootstrapProvider } from "../components/lib/bootstrap-provider";
import {
    formatSerializedProvider,
    serializedProviderFile,
    serializeProvider,
} from "../components/lib/serialized-provider";

async function main(): Promise<void> {
    const file = serializedProviderFile("bootstrap-provider");
    const next = formatSerializedProvider(await serializeProvider(bootstrapProvider, "bootstrap-provider"));
    const same = fs.existsSync(file) && fs.readFileSync(file, "utf8") === next;
    if (!same) fs.writeFileSync(file, next);
    console.log(`${path.relative(process.cwd(), file)}: ${same ? "unchanged" : "written"}`);
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
});
