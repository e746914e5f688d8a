/** The node's clients: a certificate from the rig CA per component, a kubeconfig naming it, RBAC where the bootstrap roles lack it. */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { Cluster, expectStatus } from "../rig/kube";
import { RigCa } from "../rig/pki";

/** A kubeconfig for `server` (the host's loopback or the node's relay) with a client certificate for `user`. */
export async function clientKubeconfig(
    ca: RigCa,
    dir: string,
    name: string,
    server: string,
    user: { commonName: string; organizations?: readonly string[] },
): Promise<string> {
    const pair = await ca.issueClient(name, user);
    const file = path.join(dir, `${name}.kubeconfig`);
    const doc = {
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "rig", cluster: { server, "certificate-authority": ca.cert } }],
        users: [{ name, user: { "client-certificate": pair.cert, "client-key": pair.key } }],
        contexts: [{ name, context: { cluster: "rig", user: name } }],
        "current-context": name,
    };
    fs.writeFileSync(file, YAML.stringify(doc), { mode: 0o600 });
    return file;
}

/** Server-side applies one object (JSON) at `urlPath` (the object's own path). */
export async function apply(cluster: Cluster, urlPath: string, body: unknown): Promise<void> {
    expectStatus(
        `apply ${urlPath}`,
        await cluster.request(
            "PATCH",
            `${urlPath}?fieldManager=secret-platform-node&force=true`,
            JSON.stringify(body),
            "application/apply-patch+yaml",
        ),
    );
}

/** Binds a ClusterRole to a user. */
export async function bindClusterRole(cluster: Cluster, name: string, role: string, user: string): Promise<void> {
    await apply(cluster, `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${name}`, {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
    });
}
