/**
 * Where the e2e's real tools are: the per-user tool cache that
 * scripts/build-e2e-tools.sh fills (keyed by version; keep these versions in
 * step with that script), etcd from PATH (Debian's etcd-server). A missing
 * tool is reported by name with the command that builds it.
 */
import * as fs from "fs";
import * as path from "path";
import { HYDRA_VERSION, toolCacheDir, VAULT_VERSION } from "../../test/support/tools";
import { isExecutable, onPath } from "../../test/support/tools";
import { referenceDir as cachedReferenceDir, ReferenceName } from "../../test/support/reference";

export const VERSIONS = {
    pulumi: "v3.274.1",
    kubernetesProvider: "4.25.0",
    kubernetes: "v1.37.2",
    hydra: HYDRA_VERSION,
    /** ESO's CRDs (reference data; the controller itself is not built here: docs/e2e.md). */
    eso: "2.9.0",
    vault: VAULT_VERSION,
} as const;

export type E2eTool =
    | "pulumi"
    | "pulumi-resource-kubernetes"
    | "kube-apiserver"
    | "kube-controller-manager"
    | "etcd"
    | "vault"
    | "hydra"
    | "gofakes3";

/** The path each tool is expected at (etcd: found on PATH, else its Debian path). */
export function toolPath(tool: E2eTool): string {
    const cache = toolCacheDir();
    switch (tool) {
        case "pulumi":
            return path.join(cache, `pulumi-${VERSIONS.pulumi}`, "bin", "pulumi");
        case "pulumi-resource-kubernetes":
            return path.join(cache, `pulumi-kubernetes-${VERSIONS.kubernetesProvider}`, "bin", tool);
        case "kube-apiserver":
        case "kube-controller-manager":
            return path.join(cache, `kubernetes-${VERSIONS.kubernetes}`, "bin", tool);
        case "hydra":
            return path.join(cache, `hydra-${VERSIONS.hydra}`, "bin", "hydra");
        case "vault":
            return path.join(cache, `vault-${VERSIONS.vault}`, "bin", "vault");
        case "etcd":
            return onPath("etcd") ?? "/usr/bin/etcd";
        case "gofakes3":
            return path.join(cache, "bin", "gofakes3");
    }
}

/** The CLI's install root (PulumiCommand.get wants the dir that holds bin/pulumi). */
export function pulumiRoot(): string {
    return path.dirname(path.dirname(toolPath("pulumi")));
}

/**
 * A reference folder (the vault chart, ESO's CRDs) as scripts/install-reference.sh left it in the tool
 * cache, every file checked against scripts/reference.sha256 (it copies from $SECRET_PLATFORM_REFERENCE).
 */
export function referenceDir(name: ReferenceName): string {
    const dir = cachedReferenceDir(name);
    if (!fs.existsSync(dir)) {
        throw new Error(
            `no ${name} at ${dir}: run \`npm run tools\` (with SECRET_PLATFORM_REFERENCE=<dir> to copy it from a local folder; .ci/run uses ../shared/reference)`,
        );
    }
    return dir;
}

/** The tools (of `needed`) that are not built yet, each with the path it was looked for at. */
export function missingTools(needed: readonly E2eTool[]): { tool: E2eTool | "reference"; path: string }[] {
    return needed.filter((t) => !isExecutable(toolPath(t))).map((t) => ({ tool: t, path: toolPath(t) }));
}

/** The build command that makes a missing tool. */
export function buildHint(tool: E2eTool): string {
    if (tool === "vault" || tool === "gofakes3") return "npm run tools";
    if (tool === "etcd") return "apt-get install etcd-server (or bash scripts/build-e2e-tools.sh)";
    return "bash scripts/build-e2e-tools.sh";
}
