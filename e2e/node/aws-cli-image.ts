/**
 * The KV export's upload step image (backup.uploadImage): the real AWS CLI
 * as Debian ships it (bookworm's awscli 2.9.19, installed by
 * scripts/build-node-tools.sh; the product's default image is before 2.23
 * for the same reason: S3-compatible servers refuse the later default
 * checksums) with the Python it runs on, and busybox for the step's POSIX
 * sh script. The files are exactly those of the installed packages the CLI
 * depends on (awscli, its python3* closure and libssl3, from dpkg's lists, with
 * the byte-compiled modules their install made, so no start-up compiles),
 * and the libraries their binaries load. About 140 MB: built once into the
 * tool cache, keyed by every package's version.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { run } from "./exec";
import { BuiltImage, buildImage, busyboxLayer, cachedImage, ImageFile, libraryFiles } from "./images";
import { NodeTools } from "./tools";

export const AWS_CLI_IMAGE_NAME = "aws-cli";

/**
 * The packages followed: the CLI's Python ones, and libssl3 for its OpenSSL
 * provider modules (the CRT's s2n loads the legacy provider at start-up, and
 * no ldd line names it); the other C libraries come from ldd.
 */
const FOLLOWED = /^(awscli|python3|libpython3|libssl3$)/;
/** Documentation paths of the packages: nothing runs them. */
const SKIPPED = /^\/usr\/share\/(doc|doc-base|man|info|lintian|bug)\//;

export interface DebianPackage {
    readonly name: string;
    readonly version: string;
}

/** An installed package's version and its dependencies' names (the first installed of each alternative). */
async function installed(name: string): Promise<{ version: string; depends: string[] } | undefined> {
    const out = await run("dpkg-query", [
        "-W",
        "-f",
        "${db:Status-Status}\\t${Version}\\t${Pre-Depends}, ${Depends}",
        name,
    ]).catch(() => "");
    const [status, version, deps] = out.split("\t");
    if (status !== "installed") return undefined;
    const depends = (deps ?? "")
        .split(",")
        .map((alternatives) => alternatives.split("|").map((a) => a.trim().split(/[\s:(]/)[0]))
        .map((alternatives) => alternatives.filter((a) => a !== ""))
        .filter((alternatives) => alternatives.length > 0)
        .map((alternatives) => alternatives[0]);
    return { version, depends };
}

/** `root` and the packages it depends on whose names match `follow`, each with its installed version. */
export async function packageClosure(root: string, follow: RegExp): Promise<DebianPackage[]> {
    const found = new Map<string, string>();
    const queue = [root];
    while (queue.length > 0) {
        const name = queue.shift() as string;
        if (found.has(name)) continue;
        const pkg = await installed(name);
        if (pkg === undefined) {
            if (name === root)
                throw new Error(`${root} is not installed (bash scripts/build-node-tools.sh installs it)`);
            continue; // A virtual package (python3:any) whose provider is already followed.
        }
        found.set(name, pkg.version);
        queue.push(...pkg.depends.filter((d) => follow.test(d)));
    }
    return [...found].map(([name, version]) => ({ name, version })).sort((a, b) => a.name.localeCompare(b.name));
}

/** The byte-compiled forms of a module that the package's install made beside it (__pycache__/<stem>.cpython-*.pyc). */
function compiled(py: string): string[] {
    const cache = path.join(path.dirname(py), "__pycache__");
    const stem = `${path.basename(py, ".py")}.`;
    if (!fs.existsSync(cache)) return [];
    return fs
        .readdirSync(cache)
        .filter((f) => f.startsWith(stem) && /^cpython-\d+(\.opt-\d)?\.pyc$/.test(f.slice(stem.length)))
        .map((f) => path.join(cache, f));
}

/** The packages' files (regular files with their modes, symbolic links as links), their .pyc files, and the libraries they load. */
async function packageFiles(
    packages: readonly DebianPackage[],
): Promise<{ files: ImageFile[]; symlinks: Record<string, string> }> {
    const files = new Map<string, ImageFile>();
    const symlinks: Record<string, string> = {};
    const elves: string[] = [];
    for (const pkg of packages) {
        for (const p of (await run("dpkg-query", ["-L", pkg.name])).split("\n")) {
            if (p === "" || !p.startsWith("/") || SKIPPED.test(p) || !fs.existsSync(p)) continue;
            const st = fs.lstatSync(p);
            if (st.isSymbolicLink()) symlinks[p] = fs.readlinkSync(p);
            else if (st.isFile()) {
                files.set(p, { src: p, dst: p, mode: st.mode & 0o777 });
                for (const pyc of p.endsWith(".py") ? compiled(p) : [])
                    files.set(pyc, { src: pyc, dst: pyc, mode: 0o644 });
                if (/\.so(\.|$)/.test(p) || p === "/usr/bin/python3.11") elves.push(p);
            }
        }
    }
    for (const lib of await libraryFiles(elves)) if (!files.has(lib.dst)) files.set(lib.dst, lib);
    return { files: [...files.values()], symlinks };
}

/** The upload step's image, from the tool cache when one of these package versions is there. */
export async function awsCliImage(tools: NodeTools): Promise<BuiltImage & { readonly cached: boolean }> {
    const packages = await packageClosure("awscli", FOLLOWED);
    const awscli = packages.find((p) => p.name === "awscli") as DebianPackage;
    const busybox = fs.readFileSync(path.join(path.dirname(path.dirname(tools.busybox)), "VERSION"), "utf8").trim();
    const key = crypto.createHash("sha256").update(JSON.stringify({ packages, busybox })).digest("hex").slice(0, 16);
    return cachedImage(`${AWS_CLI_IMAGE_NAME}-${awscli.version}-${key}`, async (dir) => {
        const layer = await busyboxLayer(tools, { name: "app", uid: 100, group: "app", gid: 1000 });
        const own = await packageFiles(packages);
        return buildImage(tools, dir, {
            name: AWS_CLI_IMAGE_NAME,
            tag: awscli.version,
            files: [...layer.files, ...own.files],
            symlinks: { ...layer.symlinks, ...own.symlinks },
            texts: layer.texts,
            dirs: layer.dirs,
            // As the official amazon/aws-cli image: the CLI is the entrypoint (the job's pod names its command).
            entrypoint: ["/usr/bin/aws"],
            env: ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"],
        });
    });
}
