/**
 * A dynamic provider's serialized text, made ahead of time and committed
 * beside its module (`<module>.serialized.json`, written by
 * `npm run provider:serialize`).
 *
 * `pulumi.dynamic.Resource` serializes its provider object on every run (the
 * SDK's closure serializer: TypeScript parses every function of the closure,
 * the V8 inspector reads every captured value), about 0.6 s of CPU for the
 * bootstrap provider, more than the rest of the program. The text depends only
 * on the provider's source, so it is made once, by the same serializer, and
 * the file records a digest of every source file the provider module loads. A
 * run whose sources match uses the committed text; a run from edited sources
 * serializes the provider as the SDK would (the script's text under the same
 * TypeScript loader; the CLI's ts-node compiles the same code into another
 * form) and warns that the committed file is stale. A spec fails when the
 * committed file differs from what the serializer makes of the sources.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";

/** The committed file: the provider's text and the digest of every source it was made from. */
export interface SerializedProvider {
    readonly generatedBy: string;
    /** SHA-256 of each source file the provider module loads, by its path relative to this directory. */
    readonly sources: Readonly<Record<string, string>>;
    /** The SDK serializer's text: `exports.handler` returns the provider object. */
    readonly text: string;
}

export const GENERATED_BY = "npm run provider:serialize (components/lib/serialized-provider.ts); do not edit";

/** Where the committed text of the provider module `<name>.ts` (in `dir`, by default this directory) lives. */
export function serializedProviderFile(name: string, dir: string = __dirname): string {
    return path.join(dir, `${name}.serialized.json`);
}

function sha256(file: string): string {
    return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** The committed sources that changed since the file was written (or are gone); [] when it is current. */
export function staleSources(serialized: Pick<SerializedProvider, "sources">, dir: string = __dirname): string[] {
    return Object.entries(serialized.sources)
        .filter(([file, digest]) => !fs.existsSync(path.join(dir, file)) || sha256(path.join(dir, file)) !== digest)
        .map(([file]) => file);
}

/** The SDK serializer's text for a provider; refuses a closure that captures a secret (the text is committed). */
export async function serializeProviderText(provider: pulumi.dynamic.ResourceProvider): Promise<string> {
    const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: false });
    return serialized.text;
}

/** Every source file a loaded module loads in turn (itself included), outside node_modules. */
function localSources(moduleFile: string): string[] {
    const seen = new Set<string>();
    const visit = (m: NodeModule | undefined): void => {
        if (m === undefined || seen.has(m.filename) || m.filename.includes(`${path.sep}node_modules${path.sep}`)) {
            return;
        }
        seen.add(m.filename);
        m.children.forEach(visit);
    };
    visit(require.cache[require.resolve(moduleFile)]);
    if (seen.size === 0) throw new Error(`${moduleFile} is not loaded: require it before serializing its provider`);
    return [...seen].sort();
}

/** What `npm run provider:serialize` writes for the provider exported by the (loaded) module `<name>.ts`. */
export async function serializeProvider(
    provider: pulumi.dynamic.ResourceProvider,
    name: string,
): Promise<SerializedProvider> {
    const sources = Object.fromEntries(
        localSources(path.join(__dirname, `${name}.ts`)).map((file) => [
            path.relative(__dirname, file).split(path.sep).join("/"),
            sha256(file),
        ]),
    );
    return { generatedBy: GENERATED_BY, sources, text: await serializeProviderText(provider) };
}

/** The committed file's content, as written (4-space JSON, a final newline: what prettier keeps). */
export function formatSerializedProvider(serialized: SerializedProvider): string {
    return `${JSON.stringify(serialized, null, 4)}\n`;
}

/** Where a file sits, as the messages name it: relative to the project root. */
function fromRoot(file: string): string {
    return path
        .relative(path.join(__dirname, "..", ".."), file)
        .split(path.sep)
        .join("/");
}

/**
 * The `__provider` text for the provider of module `<name>.ts`, once per
 * process: the committed text when its sources are unchanged, else the
 * serializer's text for the running sources, with a warning naming the file
 * to regenerate. `dir` is where the committed file and its sources are.
 */
export function serializedProviderText(
    provider: pulumi.dynamic.ResourceProvider,
    name: string,
    dir: string = __dirname,
    warn: (message: string) => Promise<void> = (message) => pulumi.log.warn(message),
): () => Promise<string> {
    let text: Promise<string> | undefined;
    return () => {
        text ??= (async () => {
            const file = serializedProviderFile(name, dir);
            const committed = fs.existsSync(file)
                ? (JSON.parse(fs.readFileSync(file, "utf8")) as SerializedProvider)
                : undefined;
            const stale = committed === undefined ? [path.basename(file)] : staleSources(committed, dir);
            if (committed !== undefined && stale.length === 0) return committed.text;
            await warn(
                `${fromRoot(file)} is stale (${stale.join(", ")} changed or missing): serializing the ${name} ` +
                    "provider on this run instead; run `npm run provider:serialize` and commit the file",
            );
            return serializeProviderText(provider);
        })();
        return text;
    };
}
