/**
 * The platform itself under the real engine (issue 15's scenario): the real
 * program, run from a throw-away copy of the project (rig/project.ts), on a
 * stack built from a stack file (Pulumi.amiya.yaml unless --stack-file) with
 * the rig's endpoints.
 *
 * - previewPlatform: `pulumi preview` with the guard pack, and broken
 *   variants the pack must refuse (the agent injector on, a credential in
 *   the Helm values, S3 storage with HA), each by exactly its own rule. The
 *   refusals prove the chart rules see the rendered children of the v4
 *   Chart, which the engine hands the pack without props.
 * - platformLifecycle: up, the consumers and the humans (consumers.ts), up
 *   again, preview --expect-no-changes, refresh and a preview, a day-2
 *   change (a policy file and a shared KV mount), destroy.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import * as YAML from "yaml";
import { backupConfig, backupDrill, RigBackup } from "./backup-drill";
import { AutheliaClientOutput } from "./oidc";
import { proveAuditRotation, RIG_AUDIT_ROTATION } from "./audit-rotation";
import { breakGlassRoot, humanPath, kubernetesLogin, stackFacts, syncThroughStores } from "./consumers";
import { Figure, measured, Timing } from "./figures";
import {
    endpointOf,
    ensureNamespace,
    InCluster,
    kvValue,
    probePod,
    proveConsumerPod,
    proveNetworkPolicies,
    proveRestart,
    proveVaultPod,
    readFromPod,
    storeView,
} from "./in-cluster";
import { NODE_API_PORT } from "./node/api-relay";
import { Node } from "./node/node";
import { Endpoint, RelayOutOfNode } from "./node/relays";
import { RigS3 } from "./rig/s3";
import { HelmRepo } from "./rig/helm-repo";
import { RigHydra } from "./rig/hydra";
import { Cluster } from "./rig/kube";
import { RigCa } from "./rig/pki";
import { Rig } from "./rig/processes";
import { copyProject, ProgramEntry, ProjectCopy } from "./rig/project";
import { createStack, Engine } from "./rig/pulumi";
import { RigVault, vaultClient, VaultClient } from "./rig/vault";
import { vaultObjects, writeVaultObjects } from "./vault-state";

const NS = "secret-platform";

export interface PlatformRig {
    readonly cluster: Cluster;
    readonly repo: HelmRepo;
    readonly vault: RigVault;
    readonly ca: RigCa;
}

/** The stack file's config with the rig's endpoints in place of the cluster's. */
export function rigStackConfig(stackFile: string, r: PlatformRig): Record<string, unknown> {
    const file = YAML.parse(fs.readFileSync(stackFile, "utf8")) as {
        config: Record<string, Record<string, unknown>>;
    };
    const c = { ...file.config };
    return {
        ...c,
        [`${NS}:kubernetes`]: { context: r.cluster.context },
        [`${NS}:server`]: { ...c[`${NS}:server`], chartRepository: r.repo.url },
        [`${NS}:vault`]: { ...c[`${NS}:vault`], address: r.vault.address },
        [`${NS}:trust`]: { caBundle: r.ca.pem() },
    };
}

/**
 * The rig's changes to the program cannot be closures of this process: the
 * CLI runs the program in a process of its own, through the language host.
 * They live in an entry of the rig's own, written into a separate project
 * copy whose Pulumi.yaml names it as `main:` (rig/project.ts): it registers
 * the resource transform that the stack's E2E_PROGRAM_CHANGE names, then
 * loads the unchanged index.ts (whose exports are the stack's outputs). The
 * project's own copy runs index.ts itself. Plain JavaScript, so it loads
 * under whatever runtime options Pulumi.yaml sets.
 *
 * `chartValues`: each change's function from the Vault chart's values to
 * the changed values, as JavaScript source.
 */
function rigEntry(chartValues: Readonly<Record<string, string>>): ProgramEntry {
    const edits = Object.entries(chartValues)
        .map(([name, edit]) => `    ${JSON.stringify(name)}: ${edit},`)
        .join("\n");
    const text = `"use strict";
// Written by the e2e rig (e2e/scenario.ts), never part of the project: the program with the change
// E2E_PROGRAM_CHANGE names, made by a resource transform, then the unchanged index.ts.
const pulumi = require("@pulumi/pulumi");
const chartValues = {
${edits}
};
const change = process.env.E2E_PROGRAM_CHANGE ?? "";
if (Object.hasOwn(chartValues, change)) {
    // The Vault chart's values changed as a careless change would.
    pulumi.runtime.registerResourceTransform((args) => {
        if (args.type !== "kubernetes:helm.sh/v4:Chart" || args.props.chart !== "vault") return undefined;
        const values = pulumi.output(args.props.values).apply(chartValues[change]);
        return { props: { ...args.props, values }, opts: args.opts };
    });
} else if (change !== "") {
    throw new Error(\`E2E_PROGRAM_CHANGE: no change \${JSON.stringify(change)} in \${__filename}\`);
}
module.exports = require("./index");
`;
    return { file: "rig-entry.js", text };
}

/** A stack's environment for the rig entry: the Vault chart's values changed by the named edit. */
function withChartValues(variant: string, planted: string): Record<string, string> {
    return { E2E_PROGRAM_CHANGE: variant, E2E_PLANTED_CREDENTIAL: planted };
}

function check(ok: boolean, what: string, seen: unknown): void {
    if (!ok) throw new Error(`check failed: ${what}; seen: ${JSON.stringify(seen).slice(0, 3000)}`);
}

/** The policy names the CLI lists as violated, by enforcement level (`- [mandatory]  name  (...)`). */
export function violations(output: string): { mandatory: string[]; advisory: string[] } {
    const found = { mandatory: new Set<string>(), advisory: new Set<string>() };
    for (const m of output.matchAll(/- \[(mandatory|advisory)\]\s+([a-z0-9-]+)/g)) {
        found[m[1] as "mandatory" | "advisory"].add(m[2]);
    }
    return { mandatory: [...found.mandatory].sort(), advisory: [...found.advisory].sort() };
}

/** The CLI's policy report (from its `Policies:` or `Policy Violations:` heading), for a failure's message. */
function policySection(output: string): string {
    const i = output.search(/Polic(y Violations|ies):/);
    return i < 0 ? "(no policy section)" : output.slice(i, i + 3000);
}

export interface PreviewResult {
    /** The guard-pack preview of the fresh stack. */
    readonly figure: Figure;
}

export async function previewPlatform(
    rig: Rig,
    engine: Engine,
    project: ProjectCopy,
    stackFile: string,
    r: PlatformRig,
    log = console.log,
): Promise<PreviewResult> {
    const config = rigStackConfig(stackFile, r);
    const secrets = {
        // Placeholders: nothing in a preview sends them anywhere.
        storageAccessKeyId: `GKe2e${crypto.randomBytes(6).toString("hex")}`,
        storageSecretAccessKey: crypto.randomBytes(24).toString("hex"),
        oidcClientSecret: crypto.randomBytes(24).toString("hex"),
    };
    const run = async (name: string, workDir: string, envVars?: Record<string, string>) => {
        const stack = await createStack(rig, engine, {
            stackName: `e2e-${name}-${crypto.randomBytes(3).toString("hex")}`,
            workDir,
            config,
            envVars,
        });
        for (const [key, value] of Object.entries(secrets)) {
            await stack.setConfig(`${NS}:${key}`, { value, secret: true });
        }
        return stack;
    };

    const good = await run("platform", project.dir);
    const { result: preview, figure } = await measured("preview of a fresh stack with the guard pack", () =>
        good.preview({ policyPacks: [engine.policyPack] }),
    );
    const summary = preview.changeSummary as Record<string, number>;
    check(/secret-platform-guard@v[0-9.]+/.test(preview.stdout), "the guard pack ran", preview.stdout.slice(-600));
    check((summary.create ?? 0) > 30, "the platform plans its resources", summary);
    for (const kind of ["StatefulSet", "ConfigMap", "NetworkPolicy", "VaultInit", "ClusterSecretStore"]) {
        check(preview.stdout.includes(kind), `the plan shows a ${kind}`, preview.stdout.slice(-3000));
    }
    const clean = violations(preview.stdout);
    check(clean.mandatory.length === 0 && clean.advisory.length === 0, "no violation at all", {
        clean,
        policies: policySection(preview.stdout),
    });
    for (const secret of Object.values(secrets)) check(!preview.stdout.includes(secret), "no secret printed", "");
    log(
        `  ${stackFile} on the rig: preview with the guard pack in ${figure.wallMs} ms, ${JSON.stringify(summary)}, no violation`,
    );

    // Each broken variant is refused by exactly its own rule (and no other).
    const planted = crypto.randomBytes(16).toString("hex");
    // `edit`: JavaScript run in the program's process by the rig entry (rigEntry); the planted value reaches
    // it through the stack's environment (E2E_PLANTED_CREDENTIAL), never a file.
    const variants: { name: string; rule: string; message: string; edit: string }[] = [
        {
            name: "injector",
            rule: "vault-injector-off",
            message: "the agent injector is on (injector.enabled must be false)",
            edit: `(v) => ({ ...v, injector: { enabled: true } })`,
        },
        {
            name: "credential",
            rule: "vault-values-no-credentials",
            message: "env S3_SECRET_KEY of container vault looks like a credential; use a Secret reference",
            edit: `(v) => ({
        ...v,
        server: {
            ...v.server,
            extraEnvironmentVars: {
                ...v.server?.extraEnvironmentVars,
                S3_SECRET_KEY: process.env.E2E_PLANTED_CREDENTIAL,
            },
        },
    })`,
        },
        {
            name: "s3-ha",
            rule: "vault-no-ha-with-s3",
            message: 'HA mode with storage "s3" (the S3 backend has no HA; use raft)',
            edit: `(v) => {
        const standalone = v.server?.standalone ?? {};
        return {
            ...v,
            server: {
                ...v.server,
                standalone: { enabled: false },
                ha: { enabled: true, replicas: 3, config: standalone.config },
            },
        };
    }`,
        },
    ];
    const brokenCopy = copyProject(rig, project.dir, {
        name: "project-broken-variants",
        main: rigEntry(Object.fromEntries(variants.map((v) => [v.name, v.edit]))),
    });
    for (const variant of variants) {
        const start = Date.now();
        const broken = await run(variant.name, brokenCopy.dir, withChartValues(variant.name, planted));
        let refused = "";
        try {
            await broken.preview({ policyPacks: [engine.policyPack] });
        } catch (err) {
            refused = (err as Error).message;
        }
        const seen = violations(refused);
        check(
            JSON.stringify(seen.mandatory) === JSON.stringify([variant.rule]) && seen.advisory.length === 0,
            `the ${variant.name} variant is refused by exactly ${variant.rule}`,
            { seen, policies: policySection(refused) },
        );
        check(refused.includes(variant.message), `${variant.rule} says why`, refused.slice(-3000));
        check(!refused.includes(planted), "the planted credential is not printed", "");
        log(
            `  broken variant (${variant.name}): refused by exactly [${seen.mandatory.join(", ")}] ("${variant.message}") in ${Date.now() - start} ms`,
        );
    }
    return { figure };
}

/** The rig the lifecycle runs on: the control plane, a node, and the outside services relayed to its pods. */
export interface PodRig {
    readonly cluster: Cluster;
    readonly repo: HelmRepo;
    readonly ca: RigCa;
    /** The OIDC provider (hydra) playing Authelia; its issuer is at `oidcAt`. */
    readonly hydra: RigHydra;
    readonly node: Node;
    /** The S3 server playing Garage, and where pods reach it (TLS from the rig CA at the node's address). */
    readonly s3: { readonly server: RigS3; readonly at: Endpoint };
    readonly oidcAt: Endpoint;
    /** hydra again on a port no stack lists (a live peer Vault's egress must not reach). */
    readonly unlisted: Endpoint;
    /** The Vault image built here (repository:tag). */
    readonly vaultImage: string;
    /**
     * The KV export's images and the operator's age key pair (backup-drill.ts), when the KV export drill runs
     * (always, unless E2E_KV_BACKUP=0).
     */
    readonly backup?: RigBackup;
}

/** The StorageClass name of the rig's hostPath volumes (no provisioner: the rig makes each PV). */
const LOCAL_STORAGE_CLASS = "e2e-local";

/**
 * The stack file's config on the node: the rig's endpoints in place of the
 * cluster's (S3, OIDC and the API server at the node's address, each an
 * egress rule of its own), the Vault image built here, the audit volume on
 * the rig's StorageClass, the KV export on (the rig's age recipient, bucket
 * and images; its egress to S3 is the same rule as Vault's), the smallest audit rotation
 * (e2e/audit-rotation.ts), and no exposure (the rig has no ingress
 * controller: its relay on the host's loopback plays the Ingress, so
 * vault.address names it). Everything else is the stack file's own.
 */
export function podStackConfig(stackFile: string, r: PodRig, vaultAddress: string): Record<string, unknown> {
    const file = YAML.parse(fs.readFileSync(stackFile, "utf8")) as { config: Record<string, unknown> };
    const c = file.config;
    const get = (key: string) => (c[`${NS}:${key}`] ?? {}) as Record<string, unknown>;
    const server = get("server");
    const colon = r.vaultImage.lastIndexOf(":");
    const nodeAddress = `${r.node.network.nodeIp}/32`;
    const egress = (at: Endpoint) => ({ cidrs: [nodeAddress], ports: [at.port] });
    return {
        ...c,
        [`${NS}:kubernetes`]: { context: r.cluster.context },
        [`${NS}:server`]: {
            ...server,
            chartRepository: r.repo.url,
            image: { repository: r.vaultImage.slice(0, colon), tag: r.vaultImage.slice(colon + 1) },
            auditStorage: { ...(server.auditStorage as object), storageClass: LOCAL_STORAGE_CLASS },
        },
        [`${NS}:vault`]: { ...get("vault"), address: vaultAddress, waitTimeoutSeconds: 300 },
        [`${NS}:trust`]: { caBundle: r.ca.pem() },
        [`${NS}:storage`]: {
            ...get("storage"),
            endpoint: `https://${r.s3.at.host}:${r.s3.at.port}`,
            bucket: r.s3.server.bucket,
            // protect on the data would make the destroy refuse; retainOnDelete still keeps it (step 6).
            protect: false,
        },
        // The smallest rotation the schema allows, and one rotated file: the e2e rotates twice (audit-rotation.ts).
        [`${NS}:audit`]: {
            ...get("audit"),
            rotation: { ...(get("audit").rotation as object), enabled: true, ...RIG_AUDIT_ROTATION },
        },
        [`${NS}:exposure`]: { kind: "none" },
        ...(r.backup === undefined
            ? {}
            : { [`${NS}:backup`]: backupConfig(get("backup"), r.backup, r.s3.server.bucket) }),
        // No ESO controller runs here (docs/e2e.md, stand-ins): nothing would make the canary ExternalSecret Ready.
        [`${NS}:externalSecrets`]: { ...get("externalSecrets"), canary: false },
        [`${NS}:oidc`]: { ...get("oidc"), issuer: r.hydra.issuer },
        [`${NS}:networkPolicy`]: {
            ...get("networkPolicy"),
            egress: {
                s3: egress(r.s3.at),
                oidc: egress(r.oidcAt),
                kubernetesApi: egress({ host: r.node.network.nodeIp, port: NODE_API_PORT }),
            },
        },
    };
}

/**
 * A hostPath PersistentVolume of the rig's class for `claim`, its directory owned by Vault's uid:gid (fsGroup skips
 * hostPath); returns the directory.
 */
export async function localVolume(
    rig: Rig,
    cluster: Cluster,
    claim: { namespace: string; name: string; size: string },
): Promise<string> {
    const dir = rig.subdir(`node/volumes/${claim.namespace}-${claim.name}`);
    fs.chmodSync(dir, 0o750);
    fs.chownSync(dir, 100, 1000);
    const res = await cluster.request("POST", "/api/v1/persistentvolumes", {
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: `e2e-${claim.namespace}-${claim.name}` },
        spec: {
            capacity: { storage: claim.size },
            accessModes: ["ReadWriteOnce"],
            persistentVolumeReclaimPolicy: "Retain",
            storageClassName: LOCAL_STORAGE_CLASS,
            claimRef: { namespace: claim.namespace, name: claim.name },
            hostPath: { path: dir, type: "Directory" },
        },
    });
    check(res.status === 201, `PersistentVolume for ${claim.namespace}/${claim.name}`, res.body);
    return dir;
}

/** Connects the relay to the Service once the chart has made it (its cluster IP is known only then). */
export function connectWhenServed(
    cluster: Cluster,
    relay: RelayOutOfNode,
    service: { namespace: string; name: string; port: number },
): { stop(): void; connected: Promise<string> } {
    let stopped = false;
    const connected = (async () => {
        while (!stopped) {
            const res = await cluster.request(
                "GET",
                `/api/v1/namespaces/${service.namespace}/services/${service.name}`,
            );
            const ip = res.status === 200 ? (res.body.spec?.clusterIP as string | undefined) : undefined;
            if (ip !== undefined && ip !== "" && ip !== "None") {
                relay.connect({ host: ip, port: service.port });
                return ip;
            }
            await new Promise((r) => setTimeout(r, 500));
        }
        return "";
    })();
    return { stop: () => (stopped = true), connected };
}

/** What the engine reported for each resource of a preview, by operation. */
export function stepCollector(): {
    onEvent: (e: EngineEvent) => void;
    steps: { op: string; urn: string; type: string; ms?: number }[];
    /** The `n` slowest steps that changed something, as `op name seconds`: where an up's time went. */
    slowest: (n: number) => string[];
} {
    const steps: { op: string; urn: string; type: string; ms?: number }[] = [];
    const started = new Map<string, number>();
    return {
        steps,
        onEvent: (e) => {
            const m = e.resourcePreEvent?.metadata;
            if (m !== undefined) {
                steps.push({ op: m.op, urn: m.urn, type: m.type });
                started.set(m.urn, Date.now());
            }
            const done = e.resOutputsEvent?.metadata.urn;
            const step = done === undefined ? undefined : steps.find((x) => x.urn === done && x.ms === undefined);
            if (step !== undefined) step.ms = Date.now() - (started.get(step.urn) ?? Date.now());
        },
        slowest: (n) =>
            steps
                .filter((x) => x.op !== "same" && x.ms !== undefined)
                .sort((a, b) => (b.ms ?? 0) - (a.ms ?? 0))
                .slice(0, n)
                .map((x) => `${x.op} ${nameOf(x.urn)} ${((x.ms ?? 0) / 1000).toFixed(1)} s`),
    };
}

export const nameOf = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);
export const noChange = (summary: Record<string, number | undefined>) =>
    Object.entries(summary).filter(([op, n]) => op !== "same" && (n ?? 0) > 0);

/** The day-2 change's inputs: a policy file and a shared KV mount, both new. */
const DAY2_POLICY = "e2e-day2-reports";
const DAY2_MOUNT = "e2e-day2";
const DAY2_POLICY_TEXT = [
    `# ${DAY2_POLICY}: a day-2 policy the e2e adds: reads the reports of the ${DAY2_MOUNT} mount.`,
    `path "${DAY2_MOUNT}/data/reports/*" {`,
    `  capabilities = ["read"]`,
    `}`,
    ``,
].join("\n");

export interface LifecycleFigures {
    readonly firstUp: Figure;
    readonly secondUp: Figure;
    readonly preview: Figure;
    /** The first up's start to the first secret read by a pod; a restart's sealed-to-unsealed time. */
    readonly timings: readonly Timing[];
}

/**
 * Issue 21's scenario on the node, with the product's own awaits: the first
 * up on an empty cluster (the chart's vault-0 runs; bootstrap initializes it,
 * Vault is configured, the stores accepted), the consumers (from a pod and
 * through the stores as ESO reads them) and the humans (OIDC through hydra),
 * the NetworkPolicies both ways, the audit log rotated twice by its sidecar
 * (audit-rotation.ts), a restart unsealed by the unsealer, up
 * again with no change, preview --expect-no-changes, refresh, the day-2
 * change, and the destroy (what docs/bootstrap.md says remains, remains).
 */
export async function platformLifecycle(
    rig: Rig,
    engine: Engine,
    project: ProjectCopy,
    stackFile: string,
    r: PodRig,
    log = console.log,
): Promise<LifecycleFigures> {
    const relayTls = await r.ca.issueServer("vault-relay", { ips: ["127.0.0.1"] });
    const relay = await r.node.relayOut("vault", { tls: relayTls });
    const vault = vaultClient(relay.address, r.ca.pem());
    const config = podStackConfig(stackFile, r, relay.address);
    const facts = stackFacts(config);
    const vaultNs = facts.vaultNamespace;
    const auditSize = String(
        ((config[`${NS}:server`] as { auditStorage?: { size?: string } }).auditStorage ?? {}).size ?? "2Gi",
    );
    const auditVolume = await localVolume(rig, r.cluster, {
        namespace: vaultNs,
        name: "audit-vault-0",
        size: auditSize,
    });
    const stackName = `e2e-up-${crypto.randomBytes(3).toString("hex")}`;
    // The stack runs from a copy of its own (the day-2 change edits this copy).
    const program = copyProject(rig, project.dir, { name: "project-up" });
    const stack = await createStack(rig, engine, { stackName, workDir: program.dir, config });
    const secrets: Record<string, string> = {};
    for (const key of ["storageAccessKeyId", "storageSecretAccessKey", "oidcClientSecret"]) {
        secrets[key] = crypto.randomBytes(20).toString("hex");
        await stack.setConfig(`${NS}:${key}`, { value: secrets[key], secret: true });
    }
    const quiet = { onOutput: () => undefined };

    // What the cluster has before the stack runs: ESO's namespace (the stack makes the login ServiceAccount
    // there) and the monitoring namespace (the stack puts its alert rules there).
    await ensureNamespace(r.cluster, facts.esoNamespace);
    await ensureNamespace(r.cluster, facts.monitoringNamespace);
    // Step 1. The first up; the rig's relay (its Ingress) follows the chart's Service once it exists.
    const served = connectWhenServed(r.cluster, relay, { namespace: vaultNs, name: "vault", port: 8200 });
    const upStart = Date.now();
    let up;
    let firstUp: Figure;
    try {
        ({ result: up, figure: firstUp } = await measured("first up (real awaits, on the node)", () =>
            stack.up(quiet),
        ));
    } finally {
        served.stop();
    }
    check(up.summary.result === "succeeded", "the platform's up succeeds", up.summary);
    const created = up.summary.resourceChanges ?? {};
    check(
        noChange(created).every(([op]) => op === "create"),
        "the first up only creates",
        created,
    );
    log(
        `  up in ${firstUp.wallMs} ms with the product's awaits: ${JSON.stringify(created)}; the relay follows Service ${vaultNs}/vault at ${await served.connected}`,
    );
    const inCluster: InCluster = {
        cluster: r.cluster,
        node: r.node,
        vaultNamespace: vaultNs,
        monitoringNamespace: facts.monitoringNamespace,
        s3: r.s3.at,
        apiServer: { host: r.node.network.nodeIp, port: NODE_API_PORT },
        oidc: r.oidcAt,
        unlisted: r.unlisted,
        vaultImage: r.vaultImage,
    };
    await proveVaultPod(inCluster, r.vaultImage, log);
    const prefix = String((config[`${NS}:storage`] as { prefix?: string }).prefix ?? "");
    const objectsInBucket = await r.s3.server.list(prefix);
    check(
        objectsInBucket.some((k: string) => k.includes("core/")),
        "Vault keeps its data in the bucket, over TLS through the node",
        objectsInBucket.slice(0, 5),
    );
    const seal = await vault.request("GET", "/v1/sys/seal-status");
    check(seal.body?.initialized === true && seal.body?.sealed === false, "Vault initialized and unsealed", seal.body);
    const [keysNs, keysSecret] = String(up.outputs.unsealKeysSecret?.value ?? "").split("/");
    check(keysSecret !== undefined, "unsealKeysSecret names a Secret (the rig needs unseal.mode shamir)", up.outputs);
    const keys = await r.cluster.request("GET", `/api/v1/namespaces/${keysNs}/secrets/${keysSecret}`);
    const shares = Object.keys(keys.body?.data ?? {}).length;
    check(keys.status === 200 && shares > 0, "the keys Secret", keys.status);
    const store = String(up.outputs.clusterSecretStore?.value ?? "");
    const stores = await r.cluster.request("GET", `/apis/external-secrets.io/v1/clustersecretstores/${store}`);
    check(stores.status === 200, `ClusterSecretStore ${store} in the API server`, stores.body);
    log(
        `  Vault on S3 over TLS (${objectsInBucket.length} objects under the prefix), initialized and unsealed; Secret ${keysNs}/${keysSecret} (${shares} shares); ClusterSecretStore ${store}`,
    );

    // The rig's own token for seeding and reading Vault back, from the keys in the cluster (the runbook's way).
    const relayed = (server: string) => {
        check(
            endpointOf(server).host === `vault.${vaultNs}.svc` ||
                endpointOf(server).host.startsWith(`vault.${vaultNs}.`),
            "the store names Vault's Service",
            server,
        );
        return { address: relay.address, caBundle: r.ca.pem() };
    };
    const consumers = { cluster: r.cluster, vault, caPem: r.ca.pem(), reach: relayed };
    const root = await breakGlassRoot(consumers, keysNs, keysSecret);
    const objects = await vaultObjects(vault, root, {
        "<the rig CA>": r.ca.pem().trim(),
        "<the rig's OIDC issuer>": r.hydra.issuer,
        "<the rig's API server>": "https://kubernetes.default.svc",
    });
    const expectedObjects = [
        "sys/audit",
        `sys/mounts/${facts.clusterMount}/`,
        `${facts.clusterMount}/config`,
        `sys/mounts/${facts.sharedMount}/`,
        "sys/policies/acl/admin",
        `sys/policies/acl/external-secrets-reader-${facts.clusterName}`,
        `sys/auth/${facts.kubernetesAuthPath}/`,
        `auth/${facts.kubernetesAuthPath}/role/${facts.kubernetesAuthRole}`,
        `sys/auth/${facts.oidcPath}/`,
        `auth/${facts.oidcPath}/config`,
        `auth/${facts.oidcPath}/role/${facts.oidcRole}`,
        ...Object.keys(facts.oidcGroups).map((g) => `identity/group/name/${g}#alias`),
    ];
    const absent = expectedObjects.filter((p) => !(p in objects));
    check(absent.length === 0, "Vault's snapshot holds every object the stack manages", { absent });
    const written = writeVaultObjects(objects);
    log(
        `  Vault's configuration: ${Object.keys(objects).length} objects read back${written === undefined ? "" : ` and written to ${written}`}`,
    );
    const shared = (up.outputs.sharedSecretStores?.value ?? {}) as Record<string, string>;
    await syncThroughStores(consumers, facts, root, store, String(shared[facts.sharedMount]), log);

    // Step 2. The consumer in the cluster, and a tenant that is not one.
    await ensureNamespace(r.cluster, TENANT_NS);
    const tenant = await probePod(r.cluster, r.node, { namespace: TENANT_NS, name: "e2e-tenant" });
    const view = await storeView(r.cluster, store);
    await proveConsumerPod(inCluster, view, tenant, "app/db/password", "db-from-vault", log);
    const upToFirstRead: Timing = {
        what: "first up's start to the first secret read by a pod",
        ms: Date.now() - upStart,
    };
    await kubernetesLogin(consumers, facts, log);
    await humanPath(
        consumers,
        r.hydra,
        facts,
        up.outputs.autheliaOidcClient?.value as AutheliaClientOutput,
        secrets.oidcClientSecret,
        root,
        log,
    );

    // The KV export CronJob, run by hand as its pods, over the secrets written above; its export restored.
    const backupTimings =
        r.backup === undefined
            ? []
            : await backupDrill(
                  {
                      rig,
                      cluster: r.cluster,
                      node: r.node,
                      ca: r.ca,
                      vault,
                      root,
                      s3: r.s3.server,
                      backup: r.backup,
                      namespace: vaultNs,
                      kubernetesAuthPath: facts.kubernetesAuthPath,
                      auditDir: rig.subdir(`node/volumes/${vaultNs}-audit-vault-0`),
                      stackState: async () => JSON.stringify((await stack.exportStack()).deployment),
                  },
                  log,
              );

    // Step 3. NetworkPolicy both ways.
    const monitoring = await probePod(r.cluster, r.node, { namespace: facts.monitoringNamespace, name: "e2e-scraper" });
    const serviceIp = await served.connected;
    await proveNetworkPolicies(
        inCluster,
        { consumer: { namespace: view.serviceAccount.namespace, name: "e2e-consumer" }, tenant, monitoring },
        { host: serviceIp, port: 8200 },
        log,
    );

    // Step 3b. The audit log rotated twice on the live pod, read on the volume.
    const audit = (config[`${NS}:audit`] ?? {}) as { enabled?: boolean; target?: string };
    const auditRotations =
        audit.enabled !== false && (audit.target ?? "file") === "file"
            ? await proveAuditRotation({ volumeDir: auditVolume, vault, token: root, ...RIG_AUDIT_ROTATION }, log)
            : [];
    if (auditRotations.length === 0) log("  audit rotation: not proved (the stack's audit device is not the file)");

    // Step 4. Restart: the unsealer alone brings vault-0 back.
    const restart = await proveRestart(
        inCluster,
        async () => {
            const res = await vault.request("GET", "/v1/sys/seal-status");
            return res.status === 200 ? { initialized: res.body.initialized, sealed: res.body.sealed } : undefined;
        },
        log,
    );
    const again0 = await readFromPod(
        r.node,
        { namespace: view.serviceAccount.namespace, name: "e2e-consumer" },
        view,
        "app/db/password",
    );
    check(kvValue(again0, "value") === "db-from-vault", "reads work again after the restart", again0.slice(0, 400));
    log("  after the restart the consumer pod reads app/db/password again");

    // Step 5: up again, preview --expect-no-changes, refresh, preview, with the real awaits.
    const { result: again, figure: secondUp } = await measured("second up", () => stack.up(quiet));
    check(again.summary.result === "succeeded", "the second up succeeds", again.summary);
    check(noChange(again.summary.resourceChanges ?? {}).length === 0, "the second up changes nothing", again.summary);
    log(`  up again in ${secondUp.wallMs} ms: ${JSON.stringify(again.summary.resourceChanges)}`);

    const { result: quietPreview, figure: preview } = await measured("preview after up", () =>
        stack.preview({ ...quiet, expectNoChanges: true }),
    );
    check(noChange(quietPreview.changeSummary).length === 0, "preview --expect-no-changes", quietPreview.changeSummary);
    log(`  preview --expect-no-changes in ${preview.wallMs} ms: ${JSON.stringify(quietPreview.changeSummary)}`);

    let start = Date.now();
    const refresh = await stack.refresh(quiet);
    const drift = noChange(refresh.summary.resourceChanges ?? {});
    check(refresh.summary.result === "succeeded" && drift.length === 0, "refresh finds no drift", {
        summary: refresh.summary.resourceChanges,
        tail: refresh.stdout.slice(-4000),
    });
    const afterRefresh = await stack.preview({ ...quiet, expectNoChanges: true });
    check(noChange(afterRefresh.changeSummary).length === 0, "preview after refresh", afterRefresh.changeSummary);
    log(
        `  refresh + preview --expect-no-changes in ${Date.now() - start} ms: refresh ${JSON.stringify(refresh.summary.resourceChanges)}, ` +
            `preview ${JSON.stringify(afterRefresh.changeSummary)}`,
    );

    await day2(stack, program, stackName, facts, { cluster: r.cluster, vault }, root, log);

    // Step 6. Destroy: the keys and Vault's data remain (docs/bootstrap.md), everything else goes.
    await vault.request("PUT", "/v1/auth/token/revoke-self", {}, root);
    start = Date.now();
    const destroyed = await stack.destroy(quiet);
    check(destroyed.summary.result === "succeeded", "the destroy succeeds", destroyed.summary);
    const kept = await r.cluster.request("GET", `/api/v1/namespaces/${keysNs}/secrets/${keysSecret}`);
    check(kept.status === 200, "the unseal keys Secret outlives the destroy", kept.status);
    check(
        JSON.stringify(kept.body.data) === JSON.stringify(keys.body.data),
        "the keys Secret is byte for byte what bootstrap wrote",
        "",
    );
    const nsLeft = await r.cluster.request("GET", `/api/v1/namespaces/${keysNs}`);
    check(nsLeft.status === 200 && nsLeft.body?.status?.phase === "Active", "the namespace is retained", nsLeft.body);
    const pvc = await r.cluster.request("GET", `/api/v1/namespaces/${vaultNs}/persistentvolumeclaims/audit-vault-0`);
    check(pvc.status === 200, "the audit PVC is retained", pvc.status);
    const sts = await r.cluster.request("GET", `/apis/apps/v1/namespaces/${vaultNs}/statefulsets/vault`);
    check(sts.status === 404, "the StatefulSet is gone", sts.status);
    const netpols = await r.cluster.request("GET", `/apis/networking.k8s.io/v1/namespaces/${keysNs}/networkpolicies`);
    check((netpols.body?.items ?? []).length === 0, "the NetworkPolicies are gone", netpols.body?.items?.length);
    const storeGone = await r.cluster.request("GET", `/apis/external-secrets.io/v1/clustersecretstores/${store}`);
    check(storeGone.status === 404, "the ClusterSecretStore is gone", storeGone.status);
    const bucketAfter = await r.s3.server.list(prefix);
    check(bucketAfter.length >= objectsInBucket.length, "Vault's data stays in the bucket", bucketAfter.length);
    const state = (await stack.exportStack()).deployment as { resources?: unknown[] };
    check((state.resources ?? []).length === 0, "nothing left in the state", (state.resources ?? []).length);
    log(
        `  destroy in ${Date.now() - start} ms: ${JSON.stringify(destroyed.summary.resourceChanges)}; namespace ${keysNs}, ` +
            `Secret ${keysSecret} (unchanged) and PVC audit-vault-0 retained, ${bucketAfter.length} objects of Vault's data in the bucket; ` +
            `StatefulSet, NetworkPolicies and the store gone; state empty`,
    );
    return {
        firstUp,
        secondUp,
        preview,
        timings: [
            upToFirstRead,
            { what: "restart: vault-0 deleted to answering sealed", ms: restart.deleteToSealedMs },
            { what: "restart: vault-0 sealed to unsealed by the unsealer", ms: restart.sealedToUnsealedMs },
            ...backupTimings,
            ...auditRotations,
        ],
    };
}

/** A namespace no rule lists: its pods must not reach Vault. */
const TENANT_NS = "e2e-tenant";

/**
 * Step 5, a day-2 change: a new policy file (in the project copy's
 * policies/, never the repository's) and a new shared KV mount in the stack
 * file. The preview shows exactly the new resources as creates, and only the
 * policies rendered over every mount as updates; `up` applies them, read back
 * from Vault and the API server.
 */
async function day2(
    stack: Stack,
    project: ProjectCopy,
    stackName: string,
    facts: ReturnType<typeof stackFacts>,
    r: { cluster: Cluster; vault: VaultClient },
    root: string,
    log: (m: string) => void,
): Promise<void> {
    const policyFile = project.addPolicy(DAY2_POLICY, DAY2_POLICY_TEXT);
    // The operator's edit of the stack file: one more entry under kv.shared.
    const stackFile = `${project.dir}/Pulumi.${stackName}.yaml`;
    const doc = YAML.parse(fs.readFileSync(stackFile, "utf8")) as { config: Record<string, unknown> };
    const kv = (doc.config[`${NS}:kv`] ?? {}) as { shared?: unknown[] };
    doc.config[`${NS}:kv`] = {
        ...kv,
        shared: [
            ...(kv.shared ?? []),
            { name: DAY2_MOUNT, description: "Day-2 reports", maxVersions: 7, readablePaths: ["reports"] },
        ],
    };
    fs.writeFileSync(stackFile, YAML.stringify(doc), { mode: 0o600 });

    const collector = stepCollector();
    let start = Date.now();
    const preview = await stack.preview({ onOutput: () => undefined, onEvent: collector.onEvent });
    const byOp = (op: string) =>
        collector.steps
            .filter((s) => s.op === op)
            .map((s) => `${s.type} ${nameOf(s.urn)}`)
            .sort();
    const creates = byOp("create");
    const configuration = "platform-configuration";
    const storeSuffix = DAY2_MOUNT;
    const expectedCreates = [
        `vault:index/policy:Policy ${configuration}-policy-${DAY2_POLICY}`,
        `vault:index/mount:Mount ${configuration}-kv-${DAY2_MOUNT}`,
        `vault:kv/secretBackendV2:SecretBackendV2 ${configuration}-kv-${DAY2_MOUNT}-settings`,
        `kubernetes:external-secrets.io/v1:ClusterSecretStore platform-external-secrets-store-${storeSuffix}`,
    ].sort();
    check(JSON.stringify(creates) === JSON.stringify(expectedCreates), "the day-2 preview creates exactly these", {
        creates,
        expectedCreates,
    });
    const updates = byOp("update");
    // Replaced: only the alert rule file (its store alerts list the new store), as the kubernetes provider
    // replaces a ConfigMap whose data changes; nothing else is replaced or deleted.
    const others = collector.steps.filter((s) => !["same", "create", "update"].includes(s.op));
    const rulesFile = "kubernetes:core/v1:ConfigMap platform-alerts-rule-file";
    const replaced = others.map((s) => `${s.op} ${s.type} ${nameOf(s.urn)}`).sort();
    check(
        replaced.length === 0 ||
            JSON.stringify(replaced) ===
                JSON.stringify([
                    `create-replacement ${rulesFile}`,
                    `delete-replaced ${rulesFile}`,
                    `replace ${rulesFile}`,
                ]),
        "no replace or delete but the alert rule file's",
        replaced,
    );
    // Updated: the policies rendered over every KV mount (admin's read-only managed mounts; the cluster's reader lists the shared readable paths),
    // and the default dynamic provider, whose inputs are the stack's config (the kv key changed).
    // With the KV export on, its policy and its CronJob name every managed mount: the new one too.
    const backupOn = (facts.backup ?? false) === true;
    const expectedUpdates = [
        ...(backupOn
            ? [
                  "kubernetes:batch/v1:CronJob platform-backup-cronjob",
                  `vault:index/policy:Policy ${configuration}-policy-kv-backup`,
              ]
            : []),
        "pulumi:providers:pulumi-nodejs default",
        `vault:index/policy:Policy ${configuration}-policy-admin`,
        `vault:index/policy:Policy ${configuration}-policy-external-secrets-reader-${facts.clusterName}`,
        `vault:index/policy:Policy ${configuration}-policy-operator`,
        `vault:index/policy:Policy ${configuration}-policy-read-only`,
    ].sort();
    check(JSON.stringify(updates) === JSON.stringify(expectedUpdates), "the day-2 preview updates exactly these", {
        updates,
        expectedUpdates,
    });
    log(
        `  day-2 preview in ${Date.now() - start} ms: creates exactly ${creates.map((c) => c.split(" ")[1]).join(", ")}; ` +
            `updates ${updates.map((u) => u.split(" ")[1]).join(", ")}; ${JSON.stringify(preview.changeSummary)}`,
    );

    start = Date.now();
    const up = await stack.up({ onOutput: () => undefined });
    check(up.summary.result === "succeeded", "the day-2 up succeeds", up.summary);
    const v = (p: string) => r.vault.request("GET", p, undefined, root);
    const policy = await v(`/v1/sys/policies/acl/${DAY2_POLICY}`);
    check(
        policy.status === 200 && policy.body.data.policy === DAY2_POLICY_TEXT,
        "the new policy's text in Vault",
        policy.body,
    );
    const mount = await v(`/v1/sys/mounts/${DAY2_MOUNT}`);
    check(
        mount.status === 200 && mount.body.type === "kv" && mount.body.options.version === "2",
        "a KV v2 mount",
        mount.body,
    );
    const settings = await v(`/v1/${DAY2_MOUNT}/config`);
    check(settings.status === 200 && settings.body.data.max_versions === 7, "its max_versions", settings.body);
    const reader = await v(`/v1/sys/policies/acl/external-secrets-reader-${facts.clusterName}`);
    check(
        String(reader.body?.data?.policy).includes(`"${DAY2_MOUNT}/data/reports/*"`),
        "the cluster's reader may read the new mount's readable paths",
        reader.body?.data?.policy,
    );
    const sharedStores = (up.outputs.sharedSecretStores?.value ?? {}) as Record<string, string>;
    const newStore = sharedStores[DAY2_MOUNT];
    const storeRes = await r.cluster.request("GET", `/apis/external-secrets.io/v1/clustersecretstores/${newStore}`);
    check(
        storeRes.status === 200 && storeRes.body.spec.provider.vault.path === DAY2_MOUNT,
        "the new mount's ClusterSecretStore",
        storeRes.body,
    );
    const again = await stack.preview({ onOutput: () => undefined, expectNoChanges: true });
    check(noChange(again.changeSummary).length === 0, "no change after the day-2 up", again.changeSummary);
    log(
        `  day-2 up in ${Date.now() - start} ms: ${JSON.stringify(up.summary.resourceChanges)}; policy ${DAY2_POLICY} ` +
            `(from ${policyFile.slice(project.dir.length + 1)}) and KV v2 mount ${DAY2_MOUNT} (max_versions 7) read back from Vault, ` +
            `store ${newStore} in the API server; then no change`,
    );
}
