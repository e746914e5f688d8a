/**
 * The Vault image, built here as the official one is laid out
 * (hashicorp/vault's Dockerfile): the project's own Vault build at /bin/vault,
 * the image's own docker-entrypoint.sh (from the same Vault module) run by
 * dumb-init, busybox for the shell and tools the chart's scripts use, the
 * `vault` user 100:1000 owning /vault/{config,logs,file}. Debian's dumb-init
 * is dynamically linked, so its loader and libc come along. Tagged with the
 * version `vault version` reports: the rig's stack sets server.image.tag to
 * exactly that. The same image serves the server, the unsealer, the
 * tls-reloader and the snapshot job, as in production.
 */
import { run } from "./exec";
import { BuiltImage, buildImage, busyboxLayer, libraryFiles } from "./images";
import { NodeTools } from "./tools";

export const VAULT_IMAGE_NAME = "vault";

export async function vaultImage(tools: NodeTools, vaultBin: string, dir: string): Promise<BuiltImage> {
    // "Vault v1.21.4, built 2025-…": the version the binary itself reports.
    const reported = /^Vault v([^\s,]+)/.exec((await run(vaultBin, ["version"])).trim())?.[1];
    if (reported === undefined) throw new Error(`vault image: ${vaultBin} does not report a version`);
    const layer = await busyboxLayer(tools, { name: "vault", uid: 100, group: "vault", gid: 1000 });
    const image = await buildImage(tools, dir, {
        name: VAULT_IMAGE_NAME,
        tag: reported,
        files: [
            ...layer.files,
            { src: vaultBin, dst: "/bin/vault" },
            { src: tools.vaultEntrypoint, dst: "/usr/local/bin/docker-entrypoint.sh" },
            { src: tools.dumbInit, dst: "/usr/bin/dumb-init" },
            ...(await libraryFiles([tools.dumbInit])),
        ],
        symlinks: layer.symlinks,
        texts: layer.texts,
        dirs: {
            ...layer.dirs,
            "/vault/config": 0o755,
            "/vault/logs": 0o755,
            "/vault/file": 0o755,
            "/home/vault": 0o755,
        },
        owners: {
            "/vault/config": "100:1000",
            "/vault/logs": "100:1000",
            "/vault/file": "100:1000",
            "/home/vault": "100:1000",
        },
        entrypoint: ["docker-entrypoint.sh"],
        cmd: ["server", "-dev"],
        env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NAME=vault"],
    });
    return image;
}
