/**
 * The KV export's export step image (backup.image), a STAND-IN: the product's
 * default is node:22-alpine, which no registry here serves, so the rig runs
 * the export step on this machine's own Node (the one running the e2e, 20 or
 * later, as the bundle's target requires) with the libraries it loads, at
 * /usr/local/bin/node as the official image has it. docs/e2e.md (Stand-ins)
 * says what it proves and what only node:22-alpine would. Kept in the tool
 * cache, keyed by the Node version and the binary's digest.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import { BuiltImage, buildImage, cachedImage, libraryFiles } from "./images";
import { NodeTools } from "./tools";

export const NODE_STAND_IN_IMAGE_NAME = "node-stand-in";

/** The oldest Node the export bundle is built for (ops/backup/bundle.ts BUNDLE_TARGET node20). */
const MIN_MAJOR = 20;

export async function nodeStandInImage(
    tools: NodeTools,
    node: { bin: string; version: string } = { bin: process.execPath, version: process.version },
): Promise<BuiltImage & { readonly cached: boolean }> {
    const major = Number(/^v(\d+)\./.exec(node.version)?.[1]);
    if (!(major >= MIN_MAJOR))
        throw new Error(`node stand-in image: ${node.bin} is ${node.version}, not ${MIN_MAJOR}+`);
    const digest = crypto.createHash("sha256").update(fs.readFileSync(node.bin)).digest("hex").slice(0, 16);
    const tag = node.version.replace(/^v/, "");
    return cachedImage(`${NODE_STAND_IN_IMAGE_NAME}-${tag}-${digest}`, async (dir) =>
        buildImage(tools, dir, {
            name: NODE_STAND_IN_IMAGE_NAME,
            tag,
            files: [{ src: node.bin, dst: "/usr/local/bin/node" }, ...(await libraryFiles([node.bin]))],
            dirs: { "/tmp": 0o1777 },
            cmd: ["node"],
            env: ["PATH=/usr/local/bin:/usr/bin:/bin", `NODE_VERSION=${tag}`],
        }),
    );
}
