/**
 * Renders the real vault chart (helm template) with the values the program
 * registers, and checks what Kubernetes would get: the ConfigMap's HCL is the
 * program's, every file path the HCL names lies under a volumeMount, and the
 * server pods match the NetworkPolicies that must admit them.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import { serverHclOf } from "../../components/lib/helm-values";
import { TLS_RELOADER_CONTAINER } from "../../components/lib/tls-reloader";
import { buildPlatform } from "../../components/platform";
import { readStackFile } from "../../ops/stack-file";
import { awsStack, homelabStack } from "../support/fixtures";
import { named } from "../support/inputs";
import { runProgram, StackConfig } from "../support/program";
import { requireReference } from "../support/reference";
import { requireTool } from "../support/tools";

type Obj = { kind: string; metadata: { name: string; labels?: Record<string, string> }; [k: string]: any };

function raftTlsStack(): StackConfig {
    const s = homelabStack();
    s.values.server = {
        storageBackend: "raft",
        replicas: 3,
        tls: { mode: "internal", secretName: "vault-server-tls", caSecretName: "vault-ca" },
        dataStorage: { size: "20Gi" },
    };
    return s;
}

const cases: { name: string; stack: () => StackConfig }[] = [
    { name: "amiya (Pulumi.amiya.yaml)", stack: () => readStackFile("amiya") as StackConfig },
    { name: "aws", stack: awsStack },
    { name: "raft with internal TLS, 3 replicas", stack: raftTlsStack },
];

describe("the vault chart rendered with the program's values (helm template)", function () {
    this.timeout(120_000);
    let helm: string;
    let chartDir: string;
    before(function () {
        chartDir = requireReference(this, "vault-helm-0.34.1");
        helm = requireTool(this, "helm");
    });

    for (const c of cases) {
        describe(c.name, () => {
            let docs: Obj[];
            let values: any;
            let policies: any[];
            before(async () => {
                const p = await runProgram(c.stack(), buildPlatform);
                values = p.ofType("kubernetes:helm.sh/v4:Chart").find((r) => r.name.endsWith("server-chart"))
                    ?.inputs.values;
                policies = p.ofType("kubernetes:networking.k8s.io/v1:NetworkPolicy").map((r) => r.inputs);
                const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chart-render-"));
                const file = path.join(dir, "values.json");
                fs.writeFileSync(file, JSON.stringify(values));
                const out = execFileSync(helm, ["template", "vault", chartDir, "--namespace", "vault", "-f", file], {
                    encoding: "utf8",
                });
                fs.rmSync(dir, { recursive: true, force: true });
                docs = parseAllDocuments(out)
                    .map((d) => d.toJSON() as Obj)
                    .filter((d) => d !== null);
            });
            const one = (kind: string, name: string) => {
                const hits = docs.filter((d) => d.kind === kind && d.metadata.name === name);
                assert.equal(hits.length, 1, `${kind}/${name}`);
                return hits[0];
            };

            it("the ConfigMap holds the program's HCL plus the chart's disable_mlock line", () => {
                const hcl = one("ConfigMap", "vault-config").data["extraconfig-from-values.hcl"];
                assert.equal(hcl, serverHclOf(values) + "\ndisable_mlock = true");
            });

            it("the pod template carries the program's credentials checksum next to the chart's config checksum", () => {
                const annotations = one("StatefulSet", "vault").spec.template.metadata.annotations;
                assert.deepEqual(
                    Object.keys(annotations).sort(),
                    [...Object.keys(values.server.annotations), "vault.hashicorp.com/config-checksum"].sort(),
                );
                for (const [k, v] of Object.entries(values.server.annotations)) assert.equal(annotations[k], v);
            });

            it("every file the HCL names lies under a volumeMount of the vault container", () => {
                const sts = one("StatefulSet", "vault");
                const container = sts.spec.template.spec.containers.find((x: any) => x.name === "vault");
                const mounts: string[] = container.volumeMounts.map((m: any) => m.mountPath);
                const volumeNames = [
                    ...sts.spec.template.spec.volumes.map((v: any) => v.name),
                    ...(sts.spec.volumeClaimTemplates ?? []).map((v: any) => v.metadata.name),
                ];
                for (const m of container.volumeMounts) assert.ok(volumeNames.includes(m.name), m.name);
                const files = [...serverHclOf(values).matchAll(/"(?:file:\/\/)?(\/vault\/[^"]+)"/g)].map((m) => m[1]);
                for (const f of files) {
                    assert.ok(
                        mounts.some((m) => f === m || f.startsWith(m + "/")),
                        `${f} is under no mount (${mounts.join(", ")})`,
                    );
                }
                // Every env var the program adds is defined in the container.
                const env = container.env.map((e: any) => e.name);
                for (const name of Object.keys(values.server.extraEnvironmentVars)) assert.ok(env.includes(name), name);
                for (const e of values.server.extraSecretEnvironmentVars) {
                    const def = container.env.find((x: any) => x.name === e.envName);
                    assert.deepEqual(def?.valueFrom, { secretKeyRef: { name: e.secretName, key: e.secretKey } });
                }
            });

            it("a changed pod template rolls the pods, and internal TLS gets the SIGHUP reloader on Vault's own files", () => {
                const sts = one("StatefulSet", "vault");
                assert.deepEqual(sts.spec.updateStrategy, { type: "RollingUpdate" });
                const pod = sts.spec.template.spec;
                const names = pod.containers.map((x: any) => x.name);
                const hcl = serverHclOf(values);
                const certFile = /tls_cert_file\s*=\s*"([^"]+)"/.exec(hcl)?.[1];
                if (certFile === undefined) {
                    assert.deepEqual(names, ["vault"]);
                    assert.equal(pod.shareProcessNamespace, undefined);
                    return;
                }
                assert.deepEqual(names, ["vault", TLS_RELOADER_CONTAINER]);
                assert.equal(pod.shareProcessNamespace, true);
                const reloader: any = named(pod.containers, TLS_RELOADER_CONTAINER);
                const vault: any = named(pod.containers, "vault");
                // It watches exactly the files the listener reads, mounted from the same volume at the same path.
                const keyFile = /tls_key_file\s*=\s*"([^"]+)"/.exec(hcl)?.[1];
                assert.deepEqual(reloader.command.slice(4), [certFile, keyFile]);
                assert.equal(reloader.image, vault.image);
                for (const m of reloader.volumeMounts) {
                    assert.deepEqual(
                        vault.volumeMounts.find((v: any) => v.name === m.name),
                        m,
                    );
                    assert.equal(m.readOnly, true);
                }
                assert.ok(reloader.volumeMounts.some((m: any) => certFile.startsWith(m.mountPath + "/")));
                assert.equal(reloader.securityContext.readOnlyRootFilesystem, true);
                assert.deepEqual(reloader.securityContext.capabilities, { drop: ["ALL"] });
            });

            it("the server pods match every NetworkPolicy peer that names server pods", () => {
                const labels = one("StatefulSet", "vault").spec.template.metadata.labels as Record<string, string>;
                const server = policies.find((p) => p.metadata.name === "vault-server");
                assert.ok(server !== undefined);
                const selects = (sel: any) => Object.entries(sel?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
                assert.ok(selects(server.spec.podSelector), "vault-server's podSelector");
                // Peers that name server pods (raft peers, the unsealer's egress) select these pods too.
                for (const p of policies) {
                    for (const rule of [...(p.spec.egress ?? []), ...(p.spec.ingress ?? [])]) {
                        for (const peer of [...(rule.to ?? []), ...(rule.from ?? [])]) {
                            const sel = peer.podSelector?.matchLabels;
                            if (sel !== undefined && sel["component"] === "server")
                                assert.ok(selects(peer.podSelector));
                        }
                    }
                }
            });
        });
    }
});
