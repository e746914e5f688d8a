/**
 * Where the node's tools are: what scripts/build-node-tools.sh builds into the
 * per-user tool cache (keyed by version; keep these versions in step with that
 * script) and the Debian packages it installs.
 */
import * as path from "path";
import { isExecutable, toolCacheDir, VAULT_VERSION } from "../../test/support/tools";

export const NODE_VERSIONS = {
    kubernetes: "v1.37.2",
    coredns: "v1.15.0",
    kubeRouter: "v2.1.0",
} as const;

export interface NodeTools {
    readonly kubelet: string;
    readonly kubeProxy: string;
    readonly kubeScheduler: string;
    /** The static pause binary (build/pause/linux/pause.c of k8s.io/kubernetes). */
    readonly pause: string;
    readonly coredns: string;
    readonly kubeRouter: string;
    /** Debian's busybox-static, unpacked into the cache. */
    readonly busybox: string;
    readonly containerd: string;
    readonly ctr: string;
    readonly runc: string;
    /** The CNI plugins' directory (bridge, host-local, portmap, loopback). */
    readonly cniDir: string;
    readonly umoci: string;
    readonly dumbInit: string;
    /** The Vault image's own docker-entrypoint.sh, from the Vault module at the rig's Vault version. */
    readonly vaultEntrypoint: string;
    readonly socat: string;
    /** Debian's AWS CLI (awscli): the KV export's upload step image is built from its files (aws-cli-image.ts). */
    readonly awsCli: string;
    readonly nsenter: string;
    readonly unshare: string;
    readonly ip: string;
    readonly iptablesSave: string;
    readonly ipset: string;
}

export function nodeTools(): NodeTools {
    const cache = toolCacheDir();
    const k8s = path.join(cache, `node-${NODE_VERSIONS.kubernetes}`, "bin");
    return {
        kubelet: path.join(k8s, "kubelet"),
        kubeProxy: path.join(k8s, "kube-proxy"),
        kubeScheduler: path.join(k8s, "kube-scheduler"),
        pause: path.join(k8s, "pause"),
        coredns: path.join(cache, `coredns-${NODE_VERSIONS.coredns}`, "bin", "coredns"),
        kubeRouter: path.join(cache, `kube-router-${NODE_VERSIONS.kubeRouter}`, "bin", "kube-router"),
        busybox: path.join(cache, "busybox-static", "bin", "busybox"),
        containerd: "/usr/bin/containerd",
        ctr: "/usr/bin/ctr",
        runc: "/usr/sbin/runc",
        cniDir: "/usr/lib/cni",
        umoci: "/usr/bin/umoci",
        dumbInit: "/usr/bin/dumb-init",
        vaultEntrypoint: path.join(cache, `vault-image-${VAULT_VERSION}`, "docker-entrypoint.sh"),
        socat: "/usr/bin/socat",
        awsCli: "/usr/bin/aws",
        nsenter: "/usr/bin/nsenter",
        unshare: "/usr/bin/unshare",
        ip: "/usr/sbin/ip",
        iptablesSave: "/usr/sbin/iptables-save",
        ipset: "/usr/sbin/ipset",
    };
}

/** The tools that are not there, each with its path (build them with scripts/build-node-tools.sh). */
export function missingNodeTools(tools: NodeTools = nodeTools()): string[] {
    const files = Object.entries(tools).map(([name, file]) =>
        name === "cniDir" ? { name, file: path.join(file, "bridge") } : { name, file },
    );
    for (const plugin of ["host-local", "portmap", "loopback"]) {
        files.push({ name: `cni ${plugin}`, file: path.join(tools.cniDir, plugin) });
    }
    return files.filter(({ file }) => !isExecutable(file)).map(({ name, file }) => `${name} (${file})`);
}
