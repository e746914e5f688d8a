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
import { AutheliaClientOutput } from "./oidc";
import { breakGlassRoot, humanPath, kubernetesLogin, stackFacts, syncThroughStores } from "./consumers";
import { Figure, measured } from "./figures";
import { HelmRepo } from "./rig/helm-repo";
import { RigHydra } from "./rig/hydra";
import { Cluster } from "./rig/kube";
import { RigCa } from "./rig/pki";
import { Rig } from "./rig/processes";
import { copyProject, ProgramEntry, ProjectCopy } from "./rig/project";
import { createStack, Engine } from "./rig/pulumi";
import { RigVault } from "./rig/vault";
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
if (change === "skip-await") {
    ${SKIP_AWAIT}
} else if (Object.hasOwn(chartValues, change)) {
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

/**
 * The rig has no kubelet: no pod ever runs, so nothing may wait on one. The
 * provider's documented skip-await annotation on every Kubernetes object, and
 * `skipAwait` on the Chart (its rendered children), applied by the rig only
 * (JavaScript of the rig entry, rigEntry).
 */
const SKIP_AWAIT = `// No kubelet on the rig: nothing may wait on a pod.
    pulumi.runtime.registerResourceTransform((args) => {
        if (args.type === "kubernetes:helm.sh/v4:Chart")
            return { props: { ...args.props, skipAwait: true }, opts: args.opts };
        if (!args.type.startsWith("kubernetes:") || args.type.startsWith("pulumi:providers:")) return undefined;
        const metadata = pulumi.output(args.props.metadata ?? {}).apply((m) => ({
            ...m,
            annotations: { ...m.annotations, "pulumi.com/skipAwait": "true" },
        }));
        return { props: { ...args.props, metadata }, opts: args.opts };
    });`;

/** A stack's environment for the rig entry: skip-await on every Kubernetes object. */
function withSkipAwait(): Record<string, string> {
    return { E2E_PROGRAM_CHANGE: "skip-await" };
}

export interface UpRig extends PlatformRig {
    /** The OIDC provider (hydra) playing Authelia. */
    readonly hydra: RigHydra;
}

/** What the engine reported for each resource of a preview, by operation. */
function stepCollector(): { onEvent: (e: EngineEvent) => void; steps: { op: string; urn: string; type: string }[] } {
    const steps: { op: string; urn: string; type: string }[] = [];
    return {
        steps,
        onEvent: (e) => {
            const m = e.resourcePreEvent?.metadata;
            if (m !== undefined) steps.push({ op: m.op, urn: m.urn, type: m.type });
        },
    };
}

const nameOf = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);
const noChange = (summary: Record<string, number | undefined>) =>
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
}

/**
 * Steps 2 to 6: up, the consumers and the humans, up again (no change),
 * preview --expect-no-changes, refresh then preview (no change), the day-2
 * change (exactly its creates), destroy (the keys and the data stay).
 */
export async function platformLifecycle(
    rig: Rig,
    engine: Engine,
    project: ProjectCopy,
    stackFile: string,
    r: UpRig,
    log = console.log,
): Promise<LifecycleFigures> {
    const base = rigStackConfig(stackFile, r);
    const facts = stackFacts(base);
    const config = {
        ...base,
        // The rig's Vault is a local process: its audit device writes to stdout, not /vault/audit.
        [`${NS}:audit`]: { target: "stdout" },
        [`${NS}:oidc`]: { ...(base[`${NS}:oidc`] as object), issuer: r.hydra.issuer },
        [`${NS}:kubernetesAuth`]: {
            ...(base[`${NS}:kubernetesAuth`] as object),
            host: r.cluster.server,
            caCert: r.ca.pem(),
        },
        [`${NS}:externalSecrets`]: { ...(base[`${NS}:externalSecrets`] as object), serverUrl: r.vault.address },
        [`${NS}:vault`]: { address: r.vault.address, waitTimeoutSeconds: 60 },
        // protect on the data would make the destroy refuse; retainOnDelete still keeps it (the point of step 6).
        [`${NS}:storage`]: { ...(base[`${NS}:storage`] as object), protect: false },
    };
    const stackName = `e2e-up-${crypto.randomBytes(3).toString("hex")}`;
    // The stack runs from a copy of its own whose entry adds skip-await (the day-2 change edits this copy).
    const program = copyProject(rig, project.dir, { name: "project-up", main: rigEntry({}) });
    const stack = await createStack(rig, engine, {
        stackName,
        workDir: program.dir,
        config,
        envVars: withSkipAwait(),
    });
    const secrets: Record<string, string> = {};
    for (const key of ["storageAccessKeyId", "storageSecretAccessKey", "oidcClientSecret"]) {
        secrets[key] = crypto.randomBytes(20).toString("hex");
        await stack.setConfig(`${NS}:${key}`, { value: secrets[key], secret: true });
    }
    const quiet = { onOutput: () => undefined };

    const { result: up, figure: firstUp } = await measured("first up", () => stack.up(quiet));
    check(up.summary.result === "succeeded", "the platform's up succeeds", up.summary);
    const created = up.summary.resourceChanges ?? {};
    check(
        noChange(created).every(([op]) => op === "create"),
        "the first up only creates",
        created,
    );
    log(`  up in ${firstUp.wallMs} ms: ${JSON.stringify(created)}`);

    const seal = await r.vault.request("GET", "/v1/sys/seal-status");
    check(seal.body?.initialized === true && seal.body?.sealed === false, "Vault initialized and unsealed", seal.body);
    // `<namespace>/<name>` with shamir unseal; the rig has no KMS, so a stack for it unseals with shamir.
    const [keysNs, keysSecret] = String(up.outputs.unsealKeysSecret?.value ?? "").split("/");
    check(keysSecret !== undefined, "unsealKeysSecret names a Secret (the rig needs unseal.mode shamir)", up.outputs);
    const keys = await r.cluster.request("GET", `/api/v1/namespaces/${keysNs}/secrets/${keysSecret}`);
    const shares = Object.keys(keys.body?.data ?? {}).length;
    check(keys.status === 200 && shares > 0, "the keys Secret", keys.status);
    const store = String(up.outputs.clusterSecretStore?.value ?? "");
    const stores = await r.cluster.request("GET", `/apis/external-secrets.io/v1/clustersecretstores/${store}`);
    check(stores.status === 200, `ClusterSecretStore ${store} in the API server`, stores.body);
    log(
        `  Vault initialized and unsealed over TLS; Secret ${keysNs}/${keysSecret} (${shares} shares); ClusterSecretStore ${store}`,
    );

    // The rig's own token for seeding and reading Vault back, from the keys in the cluster (the runbook's way).
    const consumers = { cluster: r.cluster, vault: r.vault, caPem: r.ca.pem() };
    const root = await breakGlassRoot(consumers, keysNs, keysSecret);
    // Vault's configuration object by object, as the vault plugin left it (the workflow compares plugins on it).
    const objects = await vaultObjects(r.vault, root, {
        "<the rig CA>": r.ca.pem().trim(),
        "<the rig's OIDC issuer>": r.hydra.issuer,
        "<the rig's API server>": r.cluster.server,
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

    // Step 4: up again, preview --expect-no-changes, refresh, preview.
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

    await day2(stack, program, stackName, facts, r, root, log);

    // Step 6. Destroy: the keys and Vault's data remain (docs/bootstrap.md), everything else goes.
    await r.vault.request("PUT", "/v1/auth/token/revoke-self", {}, root);
    start = Date.now();
    const destroyed = await stack.destroy(quiet);
    check(destroyed.summary.result === "succeeded", "the destroy succeeds", destroyed.summary);
    const kept = await r.cluster.request("GET", `/api/v1/namespaces/${keysNs}/secrets/${keysSecret}`);
    check(kept.status === 200, "the unseal keys Secret outlives the destroy", kept.status);
    const nsLeft = await r.cluster.request("GET", `/api/v1/namespaces/${keysNs}`);
    check(nsLeft.status === 200 && nsLeft.body?.status?.phase === "Active", "the namespace is retained", nsLeft.body);
    const netpols = await r.cluster.request("GET", `/apis/networking.k8s.io/v1/namespaces/${keysNs}/networkpolicies`);
    check((netpols.body?.items ?? []).length === 0, "the NetworkPolicies are gone", netpols.body?.items?.length);
    const storeGone = await r.cluster.request("GET", `/apis/external-secrets.io/v1/clustersecretstores/${store}`);
    check(storeGone.status === 404, "the ClusterSecretStore is gone", storeGone.status);
    const after = await r.vault.request("GET", "/v1/sys/seal-status");
    check(after.body?.initialized === true, "Vault's data is untouched", after.body);
    const state = (await stack.exportStack()).deployment as { resources?: unknown[] };
    check((state.resources ?? []).length === 0, "nothing left in the state", (state.resources ?? []).length);
    log(
        `  destroy in ${Date.now() - start} ms: ${JSON.stringify(destroyed.summary.resourceChanges)}; namespace ${keysNs} and ` +
            `Secret ${keysSecret} retained, Vault still initialized; NetworkPolicies and the store gone; state empty`,
    );
    return { firstUp, secondUp, preview };
}

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
    r: UpRig,
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
    const others = collector.steps.filter((s) => !["same", "create", "update"].includes(s.op));
    check(others.length === 0, "no replace or delete", others);
    // Updated: the policies rendered over every KV mount (admin's read-only managed mounts; the cluster's reader lists the shared readable paths),
    // and the default dynamic provider, whose inputs are the stack's config (the kv key changed).
    const expectedUpdates = [
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
