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
import { AUDIT_ROTATOR_CONTAINER } from "../../components/lib/audit-rotator";
import { buildPlatform } from "../../components/platform";
import { readStackFile } from "../../ops/stack-file";
import { awsStack, homelabStack } from "../support/fixtures";
import { at, Doc, listAt, named, objectAt, only, stringAt } from "../support/inputs";
import { runProgram, StackConfig } from "../support/program";
import { requireReference } from "../support/reference";
import { requireTool } from "../support/tools";

/** A rendered manifest: read through the typed accessors (test/support/inputs.ts). */
type Obj = Doc;

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

/** `helm template` of the chart with these values: the manifests Kubernetes would get. */
function renderChart(helm: string, chartDir: string, values: Doc): Obj[] {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chart-render-"));
    const file = path.join(dir, "values.json");
    fs.writeFileSync(file, JSON.stringify(values));
    try {
        const out = execFileSync(helm, ["template", "vault", chartDir, "--namespace", "vault", "-f", file], {
            encoding: "utf8",
        });
        return parseAllDocuments(out)
            .map((d) => d.toJSON() as unknown)
            .filter((d): d is Obj => d !== null)
            .map((d) => objectAt(d));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
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
            let values: Doc;
            let policies: Doc[];
            before(async () => {
                const p = await runProgram(c.stack(), buildPlatform);
                const chart = only(
                    p.ofType("kubernetes:helm.sh/v4:Chart").filter((r) => r.name.endsWith("server-chart")),
                    "server charts",
                );
                values = objectAt(chart.inputs, "values");
                policies = p.ofType("kubernetes:networking.k8s.io/v1:NetworkPolicy").map((r) => r.inputs);
                docs = renderChart(helm, chartDir, values);
            });
            const one = (kind: string, name: string): Obj =>
                only(
                    docs.filter((d) => d.kind === kind && at(d, "metadata", "name") === name),
                    `${kind}/${name}`,
                );
            const podOf = (sts: Obj) => objectAt(sts, "spec", "template", "spec");
            const server = () => objectAt(values, "server");

            it("the ConfigMap holds the program's HCL plus the chart's disable_mlock line", () => {
                const hcl = stringAt(one("ConfigMap", "vault-config"), "data", "extraconfig-from-values.hcl");
                assert.equal(hcl, serverHclOf(values) + "\ndisable_mlock = true");
            });

            it("the pod template carries the program's credentials checksum next to the chart's config checksum", () => {
                const annotations = objectAt(
                    one("StatefulSet", "vault"),
                    "spec",
                    "template",
                    "metadata",
                    "annotations",
                );
                const ours = objectAt(server(), "annotations");
                assert.deepEqual(
                    Object.keys(annotations).sort(),
                    [...Object.keys(ours), "vault.hashicorp.com/config-checksum"].sort(),
                );
                for (const [k, v] of Object.entries(ours)) assert.equal(annotations[k], v);
            });

            it("every file the HCL names lies under a volumeMount of the vault container", () => {
                const sts = one("StatefulSet", "vault");
                const container = named(listAt(podOf(sts), "containers"), "vault");
                const mounts = listAt(container, "volumeMounts").map((m) => stringAt(m, "mountPath"));
                const volumeNames = [
                    ...listAt(podOf(sts), "volumes").map((v) => stringAt(v, "name")),
                    ...((at(sts, "spec", "volumeClaimTemplates") ?? []) as unknown[]).map((v) =>
                        stringAt(v, "metadata", "name"),
                    ),
                ];
                for (const m of listAt(container, "volumeMounts")) {
                    assert.ok(volumeNames.includes(stringAt(m, "name")), stringAt(m, "name"));
                }
                const files = [...serverHclOf(values).matchAll(/"(?:file:\/\/)?(\/vault\/[^"]+)"/g)].map((m) => m[1]);
                for (const f of files) {
                    assert.ok(
                        mounts.some((m) => f === m || f.startsWith(m + "/")),
                        `${f} is under no mount (${mounts.join(", ")})`,
                    );
                }
                // Every env var the program adds is defined in the container.
                const env = listAt(container, "env");
                const names = env.map((e) => stringAt(e, "name"));
                for (const name of Object.keys(objectAt(server(), "extraEnvironmentVars"))) {
                    assert.ok(names.includes(name), name);
                }
                for (const e of listAt(server(), "extraSecretEnvironmentVars")) {
                    const def = named(env, stringAt(e, "envName"));
                    assert.deepEqual(def.valueFrom, {
                        secretKeyRef: { name: stringAt(e, "secretName"), key: stringAt(e, "secretKey") },
                    });
                }
            });

            it("a changed pod template rolls the pods, and internal TLS gets the SIGHUP reloader on Vault's own files", () => {
                const sts = one("StatefulSet", "vault");
                assert.deepEqual(at(sts, "spec", "updateStrategy"), { type: "RollingUpdate" });
                const pod = podOf(sts);
                const names = listAt(pod, "containers").map((x) => stringAt(x, "name"));
                const hcl = serverHclOf(values);
                const certFile = /tls_cert_file\s*=\s*"([^"]+)"/.exec(hcl)?.[1];
                // The audit log's rotator (every stack here keeps the default file audit device).
                const rotator = named(listAt(pod, "containers"), AUDIT_ROTATOR_CONTAINER);
                const auditMount = named(listAt(podOf(sts), "containers"), "vault");
                assert.deepEqual(listAt(rotator, "volumeMounts"), [named(listAt(auditMount, "volumeMounts"), "audit")]);
                assert.equal(pod.shareProcessNamespace, true);
                if (certFile === undefined) {
                    assert.deepEqual(names, ["vault", AUDIT_ROTATOR_CONTAINER]);
                    return;
                }
                assert.deepEqual(names, ["vault", TLS_RELOADER_CONTAINER, AUDIT_ROTATOR_CONTAINER]);
                const reloader = named(listAt(pod, "containers"), TLS_RELOADER_CONTAINER);
                const vault = named(listAt(pod, "containers"), "vault");
                // It watches exactly the files the listener reads, mounted from the same volume at the same path.
                const keyFile = /tls_key_file\s*=\s*"([^"]+)"/.exec(hcl)?.[1];
                assert.deepEqual(listAt(reloader, "command").slice(4), [certFile, keyFile]);
                assert.equal(reloader.image, vault.image);
                const reloaderMounts = listAt(reloader, "volumeMounts");
                for (const m of reloaderMounts) {
                    assert.deepEqual(named(listAt(vault, "volumeMounts"), stringAt(m, "name")), m);
                    assert.equal(at(m, "readOnly"), true);
                }
                assert.ok(reloaderMounts.some((m) => certFile.startsWith(stringAt(m, "mountPath") + "/")));
                assert.equal(at(reloader, "securityContext", "readOnlyRootFilesystem"), true);
                assert.deepEqual(at(reloader, "securityContext", "capabilities"), { drop: ["ALL"] });
            });

            it("the server pods match every NetworkPolicy peer that names server pods", () => {
                const labels = objectAt(one("StatefulSet", "vault"), "spec", "template", "metadata", "labels");
                const serverPolicy = only(
                    policies.filter((p) => at(p, "metadata", "name") === "vault-server"),
                    "vault-server policies",
                );
                const selects = (selector: unknown) =>
                    Object.entries(objectAt(selector, "matchLabels")).every(([k, v]) => labels[k] === v);
                assert.ok(selects(at(serverPolicy, "spec", "podSelector")), "vault-server's podSelector");
                // Peers that name server pods (raft peers, the unsealer's egress) select these pods too.
                for (const p of policies) {
                    const rules = [
                        ...((at(p, "spec", "egress") ?? []) as unknown[]),
                        ...((at(p, "spec", "ingress") ?? []) as unknown[]),
                    ];
                    for (const rule of rules) {
                        const peers = [
                            ...((at(rule, "to") ?? []) as unknown[]),
                            ...((at(rule, "from") ?? []) as unknown[]),
                        ];
                        for (const peer of peers) {
                            const selector = at(peer, "podSelector");
                            if (selector !== undefined && at(selector, "matchLabels", "component") === "server") {
                                assert.ok(selects(selector));
                            }
                        }
                    }
                }
            });
        });
    }
    it("server.image.digest: every container of the Vault image pulls repository:tag@digest, and nothing else moves", async () => {
        const digest = `sha256:${"ab12".repeat(16)}`;
        const pinned = `hashicorp/vault:2.0.4@${digest}`;
        const s = raftTlsStack();
        s.values.server = { ...(s.values.server as object), image: { digest } };
        const p = await runProgram(s, buildPlatform);
        const chart = only(
            p.ofType("kubernetes:helm.sh/v4:Chart").filter((r) => r.name.endsWith("server-chart")),
            "server charts",
        );
        const values = objectAt(chart.inputs, "values");
        assert.deepEqual(at(values, "server", "image"), {
            repository: "hashicorp/vault",
            tag: `2.0.4@${digest}`,
            pullPolicy: "IfNotPresent",
        });
        // The chart's own rendering of the StatefulSet: Vault and both sidecars.
        const sts = only(
            renderChart(helm, chartDir, values).filter((d) => d.kind === "StatefulSet"),
            "StatefulSets",
        );
        const containers = listAt(objectAt(sts, "spec", "template", "spec"), "containers");
        assert.deepEqual(
            containers.map((c) => [stringAt(c, "name"), stringAt(c, "image")]),
            [
                ["vault", pinned],
                [TLS_RELOADER_CONTAINER, pinned],
                [AUDIT_ROTATOR_CONTAINER, pinned],
            ],
        );
        // Everything the program registers outside the chart: the unsealer (its CronJob and its loop) and the
        // snapshot's save step run the pinned image, no Vault image is left without the digest, and the upload
        // step's own image is untouched.
        const refs = p.resources
            .filter((r) => r !== chart)
            .flatMap((r) =>
                [...JSON.stringify(r.inputs).matchAll(/"image":"([^"]+)"/g)].map((m) => `${r.name} ${m[1]}`),
            );
        assert.deepEqual(refs.sort(), [
            `platform-bootstrap-unsealer ${pinned}`,
            `platform-bootstrap-unsealer-loop ${pinned}`,
            "platform-snapshots-cronjob amazon/aws-cli:2.15.61",
            `platform-snapshots-cronjob ${pinned}`,
        ]);
    });
});
