/**
 * `npm run e2e`: the platform under the real Pulumi engine, on a rig of real
 * parts on this machine only (a CA, etcd + kube-apiserver +
 * kube-controller-manager, an https Helm repository, the CLI with locally
 * built plugins) and a single-node Kubernetes (e2e/node/) whose pods run the
 * chart's Vault from an image built here, against the rig's S3 server and
 * OIDC provider relayed into the node.
 *
 *   npm run e2e [-- --allow-missing] [--stack-file <path>] [--vault-plugin auto|official|stand-in] [--scenario lifecycle|drills|raft-drills]
 *
 * --scenario drills (`npm run e2e:drills`): the day-2 drills of e2e/drills/
 * on the node instead of the preview and the lifecycle.
 * --scenario raft-drills (`npm run e2e:raft-drills`): the raft HA drills
 * (e2e/drills/raft-scenario.ts) on the node instead.
 * --vault-plugin: the official vault plugin (`pulumi plugin install`) or the
 * stand-in of e2e/vault-stand-in/ (rig/vault-plugin.ts; default auto: the
 * official one where it can be had, else the stand-in, said on every line).
 * --stack-file: the stack put through the rig (default: Pulumi.amiya.yaml);
 * the rig puts its own endpoints in place of the cluster's (see scenario.ts).
 * Missing tools are named, with the command that builds them; the run then
 * fails, unless --allow-missing is given (.ci/run on a cold tool cache),
 * where it exits 0 after that loud line. The reference charts and CRDs come
 * from the tool cache, as `npm run tools` checked them in.
 * E2E_KEEP=1 keeps the rig's temp dir (logs, state) for a look after the run.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { startHelmRepo } from "./rig/helm-repo";
import { esoCrdFiles, startCluster } from "./rig/kube";
import { installVaultPlugin, VAULT_PLUGIN_CHOICES, VaultPlugin, VaultPluginChoice } from "./rig/vault-plugin";
import { RigCa } from "./rig/pki";
import { Rig } from "./rig/processes";
import { prepareEngine } from "./rig/pulumi";
import { buildHint, E2eTool, missingTools, pulumiRoot, referenceDir, toolPath, VERSIONS } from "./rig/tools";
import { startHydra } from "./rig/hydra";
import { startVault } from "./rig/vault";
import { startS3 } from "./rig/s3";
import { Figure, formatFigure, formatTiming, Timing } from "./figures";
import { nodeClusterOptions, startNode } from "./node/node";
import { missingNodeTools, nodeTools } from "./node/tools";
import { vaultImage } from "./node/vault-image";
import { copyProject } from "./rig/project";
import { platformLifecycle, previewPlatform } from "./scenario";
import { dayTwoDrills } from "./drills/scenario";
import { raftDrills } from "./drills/raft-scenario";
import { BuiltImage } from "./node/images";
import { prepareBackup, RigBackup } from "./backup-drill";
import {
    proveEngine,
    proveHelmRepo,
    proveHydra,
    proveKube,
    proveKubernetesPlugin,
    provePki,
    proveVaultPlugin,
} from "./proofs";

const REPO_ROOT = path.resolve(__dirname, "..");
const DEFAULT_STACK_FILE = path.join(REPO_ROOT, "Pulumi.amiya.yaml");
const USAGE =
    "usage: npm run e2e [-- --allow-missing] [--stack-file <path>] [--vault-plugin auto|official|stand-in] [--scenario lifecycle|drills|raft-drills]";
const SCENARIOS = ["lifecycle", "drills", "raft-drills"] as const;

/** The tools the steps below run. */
const NEEDED: readonly E2eTool[] = [
    "pulumi",
    "pulumi-resource-kubernetes",
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "vault",
    "hydra",
    "gofakes3",
];

function log(line: string): void {
    console.log(line);
}

async function step(name: string, fn: () => Promise<void>): Promise<void> {
    log(`e2e: ${name}`);
    const start = Date.now();
    await fn();
    log(`e2e: ${name}: done in ${((Date.now() - start) / 1000).toFixed(1)} s`);
}

async function main(argv: readonly string[]): Promise<number> {
    let allowMissing = false;
    let stackFile = DEFAULT_STACK_FILE;
    let vaultPluginChoice: VaultPluginChoice = "auto";
    let scenario: (typeof SCENARIOS)[number] = "lifecycle";
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--allow-missing") allowMissing = true;
        else if (a === "--stack-file" && i + 1 < argv.length) stackFile = path.resolve(argv[++i]);
        else if (a.startsWith("--stack-file=")) stackFile = path.resolve(a.slice("--stack-file=".length));
        else if ((a === "--vault-plugin" && i + 1 < argv.length) || a.startsWith("--vault-plugin=")) {
            const value = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
            if (!(VAULT_PLUGIN_CHOICES as readonly string[]).includes(value)) {
                console.error(`e2e: --vault-plugin takes ${VAULT_PLUGIN_CHOICES.join(", ")}, not ${value} (${USAGE})`);
                return 2;
            }
            vaultPluginChoice = value as VaultPluginChoice;
        } else if ((a === "--scenario" && i + 1 < argv.length) || a.startsWith("--scenario=")) {
            const value = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
            if (!(SCENARIOS as readonly string[]).includes(value)) {
                console.error(`e2e: --scenario takes ${SCENARIOS.join(", ")}, not ${value} (${USAGE})`);
                return 2;
            }
            scenario = value as (typeof SCENARIOS)[number];
        } else {
            console.error(`e2e: unknown or incomplete argument ${a} (${USAGE})`);
            return 2;
        }
    }
    if (!fs.existsSync(stackFile)) {
        console.error(`e2e: no stack file ${stackFile} (${USAGE})`);
        return 2;
    }
    const missing: { tool: string; path: string }[] = missingTools(NEEDED);
    for (const m of missingNodeTools()) missing.push({ tool: "node", path: m });
    let vaultChartDir = "";
    let esoCrdDir = "";
    try {
        vaultChartDir = referenceDir("vault-helm-0.34.1");
        esoCrdDir = referenceDir("external-secrets-2.9.0");
    } catch (err) {
        missing.push({ tool: "reference", path: (err as Error).message });
    }
    if (missing.length > 0) {
        for (const m of missing) {
            console.error(
                m.tool === "reference"
                    ? `e2e: MISSING REFERENCE DATA: ${m.path}`
                    : m.tool === "node"
                      ? `e2e: MISSING NODE TOOL ${m.path}: build it with \`bash scripts/build-node-tools.sh\``
                      : `e2e: MISSING TOOL ${m.tool} (looked at ${m.path}): build it with \`${buildHint(m.tool as E2eTool)}\``,
            );
        }
        console.error(
            allowMissing
                ? "e2e: NOT RUN: tools missing (--allow-missing: exit 0)"
                : "e2e: FAILED: tools missing (pass --allow-missing to skip on a cold tool cache)",
        );
        return allowMissing ? 0 : 1;
    }

    const total = Date.now();
    const rig = new Rig();
    log(`e2e: rig dir ${rig.dir} (logs in ${rig.logDir}); stack file ${stackFile}`);
    const figures: Figure[] = [];
    const timings: Timing[] = [];
    let nodeMemory = "";
    let vaultPlugin!: VaultPlugin;
    try {
        // Temp files of this process and of the CLI (the Automation API's event logs) go under the rig's dir.
        process.env.TMPDIR = rig.subdir("tmp");
        const project = copyProject(rig, REPO_ROOT);
        log(
            `e2e: the project copied to ${project.dir} (the preview stack's workDir and this process's cwd; the broken variants and the lifecycle run from copies of their own)`,
        );
        const ca = await RigCa.create(rig.subdir("pki"));
        await step("PKI", () => provePki(ca, rig, log));

        let cluster!: Awaited<ReturnType<typeof startCluster>>;
        const kubeBins = {
            etcd: toolPath("etcd"),
            kubeApiserver: toolPath("kube-apiserver"),
            kubeControllerManager: toolPath("kube-controller-manager"),
        };
        await step(`Kubernetes ${VERSIONS.kubernetes} control plane`, async () => {
            cluster = await startCluster(rig, ca, kubeBins, log, nodeClusterOptions());
            log(`  kubeconfig ${cluster.kubeconfig}, context ${cluster.context}`);
        });
        await step("Kubernetes proofs", () => proveKube(cluster, esoCrdFiles(esoCrdDir), log));

        let repo!: Awaited<ReturnType<typeof startHelmRepo>>;
        await step("Helm repository", async () => {
            const tls = await ca.issueServer("helm-repo", { dnsNames: ["localhost"], ips: ["127.0.0.1"] });
            repo = await startHelmRepo(rig.subdir("charts"), tls, [{ dir: vaultChartDir }]);
            rig.onCleanup(repo.close);
            await proveHelmRepo(repo, ca, log);
        });

        let vaultServer!: Awaited<ReturnType<typeof startVault>>;
        let engine!: Awaited<ReturnType<typeof prepareEngine>>;
        await step(`Pulumi engine ${VERSIONS.pulumi}`, async () => {
            engine = await prepareEngine(
                rig,
                {
                    repoRoot: REPO_ROOT,
                    cliRoot: pulumiRoot(),
                    caFile: ca.cert,
                    kubeconfig: cluster.kubeconfig,
                    plugins: [
                        {
                            name: "kubernetes",
                            file: toolPath("pulumi-resource-kubernetes"),
                            builtVersion: VERSIONS.kubernetesProvider,
                            sdkPackage: "@pulumi/kubernetes",
                        },
                    ],
                },
                log,
            );
            await proveEngine(rig, engine, project.dir, log);
            vaultPlugin = await installVaultPlugin(rig, engine, REPO_ROOT, vaultPluginChoice, log);
        });
        // The drills prove recovery paths only: the plugins' proofs and the preview are the lifecycle's.
        const lifecycleStep = (name: string, fn: () => Promise<void>) =>
            scenario === "lifecycle" ? step(name, fn) : Promise.resolve();
        await lifecycleStep("kubernetes plugin against the rig", () =>
            proveKubernetesPlugin(rig, engine, cluster, repo, log),
        );
        await lifecycleStep(`${vaultPlugin.label} against the real Vault ${VERSIONS.vault} over TLS`, async () => {
            const server = await startVault(rig, ca, toolPath("vault"), log);
            await proveVaultPlugin(rig, engine, server, vaultPlugin.label, log);
            vaultServer = server;
        });
        await lifecycleStep(
            `the platform's preview with the guard pack and broken variants (${path.basename(stackFile)} on the rig)`,
            async () => {
                // A preview of a new stack registers VaultInit without calling Vault: the rig's one Vault serves.
                const preview = await previewPlatform(
                    rig,
                    engine,
                    project,
                    stackFile,
                    { cluster, repo, vault: vaultServer, ca },
                    log,
                );
                figures.push(preview.figure);
            },
        );
        let node!: Awaited<ReturnType<typeof startNode>>;
        let image = "";
        let builtImage!: BuiltImage;
        let backup: RigBackup | undefined;
        await step(
            `single-node Kubernetes (kubelet ${VERSIONS.kubernetes}, containerd, kube-proxy, kube-router, CoreDNS)`,
            async () => {
                node = await startNode(rig, ca, cluster, { log });
                const start = Date.now();
                const built = await vaultImage(nodeTools(), toolPath("vault"), rig.subdir("node/images"));
                await node.loadImage(built);
                image = built.ref;
                builtImage = built;
                log(
                    `  node Ready in ${node.figures.startMs} ms; Vault image ${image} built and imported in ${Date.now() - start} ms`,
                );
                timings.push({
                    what: "node start (images, containerd, kubelet, kube-proxy, kube-router, CoreDNS Ready)",
                    ms: node.figures.startMs,
                });
                // E2E_KV_BACKUP=0 leaves the KV export drill out (a quicker run while working on something else).
                if (process.env.E2E_KV_BACKUP !== "0") backup = await prepareBackup(rig, nodeTools(), node, log);
            },
        );
        let s3!: Awaited<ReturnType<typeof startS3>>;
        let s3At!: Awaited<ReturnType<typeof node.relayIn>>;
        await step("S3 server (gofakes3 playing Garage) behind TLS at the node's address", async () => {
            s3 = await startS3(rig, toolPath("gofakes3"), "vault-e2e", log);
            const tls = await ca.issueServer("s3", { ips: [node.network.nodeIp] });
            s3At = await node.relayIn("s3", s3.guard.endpoint, { tls });
            log(`  pods reach it at https://${s3At.host}:${s3At.port} (TLS from the rig CA ends there)`);
        });
        let hydra!: Awaited<ReturnType<typeof startHydra>>;
        let oidcAt!: Awaited<ReturnType<typeof node.relayIn>>;
        let unlisted!: Awaited<ReturnType<typeof node.relayIn>>;
        await step(`OIDC provider (hydra ${VERSIONS.hydra}) at the node's address`, async () => {
            hydra = await startHydra(rig, ca, toolPath("hydra"), log, { publicIp: node.network.nodeIp });
            await proveHydra(hydra, log);
            const upstream = { host: "127.0.0.1", port: hydra.publicPort };
            oidcAt = await node.relayIn("oidc", upstream, { port: hydra.publicPort });
            unlisted = await node.relayIn("unlisted", upstream);
            log(
                `  issuer ${hydra.issuer} for pods and the rig; the same provider on ${unlisted.host}:${unlisted.port}, a port no stack lists`,
            );
        });
        // The rig the scenarios run on: the control plane, the node, and the outside services relayed to its pods.
        const podRig = () => ({
            cluster,
            repo,
            ca,
            hydra,
            node,
            s3: { server: s3, at: s3At },
            oidcAt,
            unlisted,
            vaultImage: image,
            backup,
        });
        await lifecycleStep(
            "the platform's lifecycle on the node: up, vault-0 and its pod spec, consumers in and out of the cluster, OIDC logins, the KV export job, NetworkPolicy both ways, restart, up again, refresh, day-2, destroy",
            async () => {
                const f = await platformLifecycle(rig, engine, project, stackFile, podRig(), log);
                figures.push(f.firstUp, f.secondUp, f.preview);
                timings.push(...f.timings);
            },
        );
        if (scenario === "drills") {
            await step(
                "the day-2 drills on the node: wiped storage refused and put back (5), storage key rotated (6), cluster loss recovered (4)",
                async () => {
                    const make = { bins: kubeBins, crdFiles: esoCrdFiles(esoCrdDir), vaultImage: builtImage };
                    const f = await dayTwoDrills(rig, engine, project, stackFile, podRig(), make, log);
                    // Drill 4 replaced the cluster: the node to tear down is the new one.
                    node = f.rig.node;
                    timings.push(...f.timings);
                },
            );
        }
        let raftFailures: readonly string[] = [];
        if (scenario === "raft-drills") {
            await step(
                "the raft drills on the node: HA first up (1), snapshot taken (3), budget and rolling change (2), restore on a new cluster (3)",
                async () => {
                    const make = { bins: kubeBins, crdFiles: esoCrdFiles(esoCrdDir), vaultImage: builtImage };
                    const f = await raftDrills(rig, engine, project, stackFile, podRig(), make, log);
                    // Drill 3 replaced the cluster: the node to tear down is the new one.
                    node = f.rig.node;
                    timings.push(...f.timings);
                    raftFailures = f.failures;
                },
            );
        }
        await step("the node's teardown", async () => {
            const peak = node.peakMemory();
            nodeMemory = `the node's peak memory: its daemons ${peak.daemonsMiB} MiB (each one's peak RSS, summed) and its pods ${peak.podsMiB} MiB (the kubepods cgroup's peak)`;
            const { errors, checks } = await node.stop();
            for (const c of checks) log(`  ${c.ok ? "ok" : "LEFT"}: ${c.what}: ${c.detail}`);
            if (errors.length > 0 || checks.some((c) => !c.ok)) {
                throw new Error(
                    `the node's teardown left the host changed: ${[...errors, ...checks.filter((c) => !c.ok).map((c) => c.what)].join("; ")}`,
                );
            }
        });
        log(
            `e2e: figures (${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB; a benchmark, not an assertion)`,
        );
        for (const f of figures) log(`  ${formatFigure(f)}`);
        for (const t of timings) log(`  ${formatTiming(t)}`);
        if (nodeMemory !== "") log(`  ${nodeMemory}`);
        if (raftFailures.length > 0) throw new Error(raftFailures.join("; "));
    } catch (err) {
        console.error(`e2e: the rig at the failure:\n${rig.describe()}`);
        throw err;
    } finally {
        await rig.cleanup();
    }
    if (scenario === "raft-drills") {
        log(
            `e2e: PASSED in ${((Date.now() - total) / 1000).toFixed(1)} s with ${vaultPlugin.label} (scenario raft-drills, on the node: drill 1: a raft stack up with one replica and scaled to three, initialized once, every pod joined and unsealed, the store read; drill 3: the snapshot CronJob's Job put a snapshot in the bucket over TLS; drill 2: a sealed pod not Ready and not counted by the budget, an eviction refused while it was sealed (and allowed with all unsealed), a rolling change one pod at a time with its read gap; drill 3: the cluster lost, the runbook's restore on a new cluster, every secret back by value; the node torn down)`,
        );
        return 0;
    }
    if (scenario === "drills") {
        log(
            `e2e: PASSED in ${((Date.now() - total) / 1000).toFixed(1)} s with ${vaultPlugin.label} (scenario drills, on the node: up, secrets written; drill 5: the bucket's prefix emptied, vault-0 uninitialized, pulumi up refused with the documented message, nothing initialized, the keys Secret and the state's shares unchanged, the objects put back and read again; drill 6: the storage key rotated by the runbook on the enforcing S3 key check, the old key refused, reads kept, a renewed TLS Secret served by a tls-reloader pod with no restart; drill 4: the cluster lost, a new one, the runbook's refresh and up, the same Vault unsealed with the same shares, every secret read in-cluster; the node torn down)`,
        );
        return 0;
    }
    log(
        `e2e: PASSED in ${((Date.now() - total) / 1000).toFixed(1)} s with ${vaultPlugin.label} (scenario: preview with the guard pack and three broken variants refused; on the node: up with the product's awaits, vault-0 running the chart's pod spec, a consumer pod reading through a store, reads through the stores as ESO's Vault provider makes them, Kubernetes auth reviewed by Vault's pod, OIDC logins through hydra, NetworkPolicy both ways, the audit log rotated twice on its volume, the KV export CronJob run as pods and its export decrypted and compared, vault-0 restarted and unsealed by the unsealer, up again, preview --expect-no-changes, refresh, day-2 change, destroy, the node torn down)`,
    );
    return 0;
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
        console.error(`e2e: FAILED: ${err.stack ?? err.message}`);
        process.exit(1);
    },
);
