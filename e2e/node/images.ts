/**
 * Images built here: no registry is reachable, so each image is an OCI layout
 * that umoci makes from files of this machine (one layer), packed as a tar and
 * imported into containerd's k8s.io namespace, as kind loads images. Each is
 * named under localhost/secret-platform/ with the version of what it holds.
 */
import * as fs from "fs";
import * as path from "path";
import { toolCacheDir } from "../../test/support/tools";
import { run } from "./exec";
import { NodeTools } from "./tools";

const REPOSITORY = "localhost/secret-platform";

export interface ImageFile {
    /** A file on this machine. */
    readonly src: string;
    /** Its absolute path in the image. */
    readonly dst: string;
    readonly mode?: number;
}

export interface ImageSpec {
    /** The image's short name: localhost/secret-platform/<name>. */
    readonly name: string;
    /** The version of what it holds (characters a tag cannot hold become "-"). */
    readonly tag: string;
    readonly files: readonly ImageFile[];
    /** Symbolic links: path in the image -> target. */
    readonly symlinks?: Readonly<Record<string, string>>;
    /** Plain text files: path in the image -> content. */
    readonly texts?: Readonly<Record<string, string>>;
    /** Empty dirs with their modes (e.g. /tmp 1777). */
    readonly dirs?: Readonly<Record<string, number>>;
    /** Owners (uid:gid) of paths in the image, e.g. a user's own directories. */
    readonly owners?: Readonly<Record<string, string>>;
    readonly entrypoint?: readonly string[];
    readonly cmd?: readonly string[];
    /** uid:gid */
    readonly user?: string;
    readonly env?: readonly string[];
}

export interface BuiltImage {
    /** The full reference pods name (imagePullPolicy Never). */
    readonly ref: string;
    /** The OCI archive. */
    readonly tar: string;
}

/** The libraries a dynamically linked binary loads (ldd's resolved paths, and the loader). */
export async function sharedLibraries(bin: string): Promise<string[]> {
    const out = await run("ldd", [bin]);
    const libs = new Set<string>();
    for (const line of out.split("\n")) {
        const resolved = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1];
        if (resolved !== undefined) libs.add(resolved);
    }
    return [...libs];
}

/** The image files of the libraries the binaries load: each at the path the loader looks for, with the real file's content. */
export async function libraryFiles(bins: readonly string[]): Promise<ImageFile[]> {
    const libs = new Set<string>();
    for (const bin of bins) for (const lib of await sharedLibraries(bin)) libs.add(lib);
    return [...libs].sort().map((lib) => ({ src: fs.realpathSync(lib), dst: lib }));
}

export function imageTag(version: string): string {
    return version.replace(/^\d+:/, "").replace(/[^A-Za-z0-9_.-]/g, "-");
}

/** Builds `spec` under `dir` with umoci; returns its reference and archive. */
export async function buildImage(tools: NodeTools, dir: string, spec: ImageSpec): Promise<BuiltImage> {
    const tag = imageTag(spec.tag);
    const work = path.join(dir, spec.name);
    fs.rmSync(work, { recursive: true, force: true });
    fs.mkdirSync(work, { recursive: true, mode: 0o700 });
    const layout = path.join(work, "oci");
    const bundle = path.join(work, "bundle");
    const image = `${layout}:${tag}`;
    await run(tools.umoci, ["init", "--layout", layout]);
    await run(tools.umoci, ["new", "--image", image]);
    await run(tools.umoci, ["unpack", "--image", image, bundle]);
    const rootfs = path.join(bundle, "rootfs");
    const inRoot = (p: string) => {
        if (!p.startsWith("/") || p.split("/").includes("..")) throw new Error(`image ${spec.name}: bad path ${p}`);
        const full = path.join(rootfs, p);
        fs.mkdirSync(path.dirname(full), { recursive: true, mode: 0o755 });
        return full;
    };
    for (const [p, mode] of Object.entries(spec.dirs ?? {})) {
        fs.mkdirSync(inRoot(p), { recursive: true });
        fs.chmodSync(inRoot(p), mode);
    }
    for (const f of spec.files) {
        fs.copyFileSync(f.src, inRoot(f.dst));
        fs.chmodSync(inRoot(f.dst), f.mode ?? 0o755);
    }
    for (const [p, content] of Object.entries(spec.texts ?? {})) fs.writeFileSync(inRoot(p), content, { mode: 0o644 });
    for (const [p, target] of Object.entries(spec.symlinks ?? {})) fs.symlinkSync(target, inRoot(p));
    for (const [p, owner] of Object.entries(spec.owners ?? {})) {
        const [uid, gid] = owner.split(":").map(Number);
        fs.chownSync(inRoot(p), uid, gid);
    }
    await run(tools.umoci, ["repack", "--image", image, bundle]);
    const config = ["config", "--image", image, "--author", "secret-platform e2e node"];
    for (const e of spec.entrypoint ?? []) config.push("--config.entrypoint", e);
    for (const c of spec.cmd ?? []) config.push("--config.cmd", c);
    for (const e of spec.env ?? []) config.push("--config.env", e);
    if (spec.user !== undefined) config.push("--config.user", spec.user);
    await run(tools.umoci, config);
    await run(tools.umoci, ["gc", "--layout", layout]);
    const tar = path.join(work, `${spec.name}.tar`);
    await run("tar", ["-C", layout, "-cf", tar, "."]);
    fs.rmSync(bundle, { recursive: true, force: true });
    return { ref: `${REPOSITORY}/${spec.name}:${tag}`, tar };
}

/**
 * An image kept in the tool cache between runs, under `key` (the versions of
 * everything it holds, so a new package version builds a new one): built
 * once by `build` into a fresh folder, then only its archive is kept.
 */
export async function cachedImage(
    key: string,
    build: (dir: string) => Promise<BuiltImage>,
): Promise<BuiltImage & { readonly cached: boolean }> {
    const dir = path.join(toolCacheDir(), "e2e-images", key);
    const meta = path.join(dir, "image.json");
    if (fs.existsSync(meta)) {
        const kept = JSON.parse(fs.readFileSync(meta, "utf8")) as { ref: string; tar: string };
        const tar = path.join(dir, kept.tar);
        if (fs.existsSync(tar)) return { ref: kept.ref, tar, cached: true };
    }
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
    const built = await build(tmp);
    const tar = path.relative(tmp, built.tar);
    // The OCI layout holds the same blobs as the archive.
    fs.rmSync(path.join(path.dirname(built.tar), "oci"), { recursive: true, force: true });
    fs.writeFileSync(path.join(tmp, "image.json"), `${JSON.stringify({ ref: built.ref, tar })}\n`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    return { ref: built.ref, tar: path.join(dir, tar), cached: false };
}

/** The pause image: the static pause binary built from the Kubernetes module, as the upstream image holds it. */
export async function pauseImage(tools: NodeTools, dir: string): Promise<BuiltImage> {
    // `pause -v` prints "pause.c v3.10.2-v1.37.2": the pause version and the module it came from.
    const version = (await run(tools.pause, ["-v"])).trim().split(" ").pop() ?? "unknown";
    return buildImage(tools, dir, {
        name: "pause",
        tag: version.replace(/^v/, ""),
        files: [{ src: tools.pause, dst: "/pause" }],
        entrypoint: ["/pause"],
        user: "65535:65535",
    });
}

/** The files of a busybox userland (Debian's busybox-static and a link per applet) and an /etc for a user. */
export async function busyboxLayer(
    tools: NodeTools,
    user: { name: string; uid: number; group: string; gid: number },
): Promise<Pick<ImageSpec, "files" | "symlinks" | "texts" | "dirs">> {
    const applets = (await run(tools.busybox, ["--list"])).trim().split("\n");
    const symlinks: Record<string, string> = {};
    for (const applet of applets) if (applet !== "busybox") symlinks[`/bin/${applet}`] = "busybox";
    return {
        files: [{ src: tools.busybox, dst: "/bin/busybox" }],
        symlinks,
        texts: {
            "/etc/passwd": `root:x:0:0:root:/root:/bin/sh\n${user.name}:x:${user.uid}:${user.gid}::/home/${user.name}:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n`,
            "/etc/group": `root:x:0:\n${user.group}:x:${user.gid}:\nnogroup:x:65534:\n`,
        },
        dirs: { "/tmp": 0o1777, "/root": 0o700 },
    };
}

/** A busybox image (Debian's busybox-static) for the node's own proofs, with the user 100:1000 the project's pods run as. */
export async function busyboxImage(tools: NodeTools, dir: string): Promise<BuiltImage> {
    const version = fs.readFileSync(path.join(path.dirname(path.dirname(tools.busybox)), "VERSION"), "utf8").trim();
    const layer = await busyboxLayer(tools, { name: "app", uid: 100, group: "app", gid: 1000 });
    return buildImage(tools, dir, { name: "busybox", tag: version, ...layer, cmd: ["/bin/sh"] });
}

/** The trimmed CoreDNS built from the module proxy. */
export async function corednsImage(tools: NodeTools, dir: string, version: string): Promise<BuiltImage> {
    return buildImage(tools, dir, {
        name: "coredns",
        tag: version.replace(/^v/, ""),
        files: [{ src: tools.coredns, dst: "/coredns" }],
        entrypoint: ["/coredns"],
        user: "65532:65532",
    });
}
