/**
 * The platform itself under the real engine (issue 15's scenario, step 1 so
 * far): `pulumi preview` of the real program on a stack built from
 * Pulumi.amiya.yaml with the rig's endpoints, with the guard pack, and a
 * broken variant (the agent injector switched on by a transform) that the
 * pack must refuse. That refusal proves the chart rules see the rendered
 * children of the v4 Chart, which the engine hands the pack without props.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { PulumiFn } from "@pulumi/pulumi/automation";
import * as YAML from "yaml";
import { HelmRepo } from "./rig/helm-repo";
import { Cluster } from "./rig/kube";
import { RigCa } from "./rig/pki";
import { Rig } from "./rig/processes";
import { createStack, Engine, repoProgram } from "./rig/pulumi";
import { RigVault } from "./rig/vault";

export interface PlatformRig {
    readonly cluster: Cluster;
    readonly repo: HelmRepo;
    readonly vault: RigVault;
    readonly ca: RigCa;
}

/** The amiya stack's config with the rig's endpoints in place of the cluster's. */
export function rigStackConfig(repoRoot: string, stackFile: string, r: PlatformRig): Record<string, unknown> {
    const file = YAML.parse(fs.readFileSync(path.join(repoRoot, stackFile), "utf8")) as {
        config: Record<string, Record<string, unknown>>;
    };
    const c = { ...file.config };
    const ns = "secret-platform";
    return {
        ...c,
        [`${ns}:kubernetes`]: { context: r.cluster.context },
        [`${ns}:server`]: { ...c[`${ns}:server`], chartRepository: r.repo.url },
        [`${ns}:vault`]: { ...c[`${ns}:vault`], address: r.vault.address },
        [`${ns}:trust`]: { caBundle: r.ca.pem() },
    };
}

/** The program with the Vault chart's injector switched on, as a careless change would. */
function withInjectorOn(program: PulumiFn): PulumiFn {
    return async () => {
        pulumi.runtime.registerResourceTransform((args) => {
            if (args.type !== "kubernetes:helm.sh/v4:Chart" || args.props.chart !== "vault") return undefined;
            const values = pulumi.output(args.props.values).apply((v: Record<string, unknown>) => ({
                ...v,
                injector: { enabled: true },
            }));
            return { props: { ...args.props, values }, opts: args.opts };
        });
        return program();
    };
}

function check(ok: boolean, what: string, seen: unknown): void {
    if (!ok) throw new Error(`check failed: ${what}; seen: ${JSON.stringify(seen).slice(0, 2000)}`);
}

export async function previewPlatform(
    rig: Rig,
    engine: Engine,
    repoRoot: string,
    stackFile: string,
    r: PlatformRig,
    log = console.log,
): Promise<void> {
    const config = rigStackConfig(repoRoot, stackFile, r);
    const secrets = {
        // Placeholders: nothing in a preview sends them anywhere.
        storageAccessKeyId: `GKe2e${crypto.randomBytes(6).toString("hex")}`,
        storageSecretAccessKey: crypto.randomBytes(24).toString("hex"),
        oidcClientSecret: crypto.randomBytes(24).toString("hex"),
    };
    const run = async (name: string, program: PulumiFn) => {
        const stack = await createStack(rig, engine, {
            stackName: `e2e-${name}-${crypto.randomBytes(3).toString("hex")}`,
            workDir: repoRoot,
            program,
            config,
        });
        for (const [key, value] of Object.entries(secrets)) {
            await stack.setConfig(`secret-platform:${key}`, { value, secret: true });
        }
        return stack;
    };

    let start = Date.now();
    const good = await run("platform", repoProgram(repoRoot));
    const preview = await good.preview({ policyPacks: [engine.policyPack] });
    const summary = preview.changeSummary as Record<string, number>;
    check(/secret-platform-guard@v[0-9.]+/.test(preview.stdout), "the guard pack ran", preview.stdout.slice(-600));
    check((summary.create ?? 0) > 30, "the platform plans its resources", summary);
    for (const kind of ["StatefulSet", "ConfigMap", "NetworkPolicy", "VaultInit", "ClusterSecretStore"]) {
        check(preview.stdout.includes(kind), `the plan shows a ${kind}`, preview.stdout.slice(-3000));
    }
    for (const secret of Object.values(secrets)) check(!preview.stdout.includes(secret), "no secret printed", "");
    log(
        `  ${stackFile} on the rig: preview with the guard pack in ${Date.now() - start} ms, ${JSON.stringify(summary)}, no violation`,
    );

    start = Date.now();
    const broken = await run("injector", withInjectorOn(repoProgram(repoRoot)));
    let refused = "";
    try {
        await broken.preview({ policyPacks: [engine.policyPack] });
    } catch (err) {
        refused = (err as Error).message;
    }
    check(
        refused.includes("vault-injector-off") && refused.includes("the agent injector is on"),
        "the pack refuses the injector, seen in the Chart's rendered children",
        refused.slice(0, 3000),
    );
    log(`  the injector switched on: the pack refuses the preview (vault-injector-off) in ${Date.now() - start} ms`);
}

/**
 * The rig has no kubelet: no pod ever runs, so nothing may wait on one. The
 * provider's documented skip-await annotation on every Kubernetes object, and
 * `skipAwait` on the Chart (its rendered children), applied by the rig only.
 */
function withSkipAwait(program: PulumiFn): PulumiFn {
    return async () => {
        pulumi.runtime.registerResourceTransform((args) => {
            if (args.type === "kubernetes:helm.sh/v4:Chart")
                return { props: { ...args.props, skipAwait: true }, opts: args.opts };
            if (!args.type.startsWith("kubernetes:") || args.type.startsWith("pulumi:providers:")) return undefined;
            const metadata = pulumi
                .output(args.props.metadata ?? {})
                .apply((m: { annotations?: Record<string, string> }) => ({
                    ...m,
                    annotations: { ...m.annotations, "pulumi.com/skipAwait": "true" },
                }));
            return { props: { ...args.props, metadata }, opts: args.opts };
        });
        return program();
    };
}

export interface UpRig extends PlatformRig {
    /** The OIDC issuer (hydra) playing Authelia. */
    readonly issuer: string;
}

/**
 * Steps 2, 4 and 6: `pulumi up` of the real program on the rig, a preview
 * that must show no change, and a destroy that keeps the keys and the data.
 */
export async function upPlatform(
    rig: Rig,
    engine: Engine,
    repoRoot: string,
    stackFile: string,
    r: UpRig,
    log = console.log,
): Promise<void> {
    const ns = "secret-platform";
    const base = rigStackConfig(repoRoot, stackFile, r);
    const config = {
        ...base,
        // The rig's Vault is a local process: its audit device writes to stdout, not /vault/audit.
        [`${ns}:audit`]: { target: "stdout" },
        [`${ns}:oidc`]: { ...(base[`${ns}:oidc`] as object), issuer: r.issuer },
        [`${ns}:kubernetesAuth`]: {
            ...(base[`${ns}:kubernetesAuth`] as object),
            host: r.cluster.server,
            caCert: r.ca.pem(),
        },
        [`${ns}:externalSecrets`]: { ...(base[`${ns}:externalSecrets`] as object), serverUrl: r.vault.address },
        [`${ns}:vault`]: { address: r.vault.address, waitTimeoutSeconds: 60 },
        // protect on the data would make the destroy refuse; retainOnDelete still keeps it (the point of step 6).
        [`${ns}:storage`]: { ...(base[`${ns}:storage`] as object), protect: false },
    };
    const stack = await createStack(rig, engine, {
        stackName: `e2e-up-${crypto.randomBytes(3).toString("hex")}`,
        workDir: repoRoot,
        program: withSkipAwait(repoProgram(repoRoot)),
        config,
    });
    for (const key of ["storageAccessKeyId", "storageSecretAccessKey", "oidcClientSecret"]) {
        await stack.setConfig(`${ns}:${key}`, { value: crypto.randomBytes(20).toString("hex"), secret: true });
    }
    let start = Date.now();
    const up = await stack.up({ onOutput: () => undefined });
    check(up.summary.result === "succeeded", "the platform's up succeeds", up.summary);
    log(`  up in ${Date.now() - start} ms: ${JSON.stringify(up.summary.resourceChanges)}`);

    const seal = await r.vault.request("GET", "/v1/sys/seal-status");
    check(seal.body?.initialized === true && seal.body?.sealed === false, "Vault initialized and unsealed", seal.body);
    const keys = await r.cluster.request("GET", "/api/v1/namespaces/vault/secrets/vault-unseal-keys");
    check(keys.status === 200 && Object.keys(keys.body?.data ?? {}).length === 5, "the keys Secret", keys.status);
    const store = String(up.outputs.clusterSecretStore?.value ?? "");
    const stores = await r.cluster.request("GET", `/apis/external-secrets.io/v1/clustersecretstores/${store}`);
    check(stores.status === 200, `ClusterSecretStore ${store} in the API server`, stores.body);
    log(
        `  Vault initialized and unsealed over TLS; Secret vault/vault-unseal-keys (5 shares); ClusterSecretStore ${store}`,
    );

    start = Date.now();
    const again = await stack.preview({ onOutput: () => undefined });
    const changes = Object.entries(again.changeSummary as Record<string, number>).filter(([op]) => op !== "same");
    check(changes.length === 0, "a preview after up shows no change", { changes, tail: again.stdout.slice(-3000) });
    log(`  preview after up in ${Date.now() - start} ms: ${JSON.stringify(again.changeSummary)}`);

    // Destroy: the keys and Vault's data remain (docs/bootstrap.md), everything else goes.
    start = Date.now();
    const destroyed = await stack.destroy({ onOutput: () => undefined });
    check(destroyed.summary.result === "succeeded", "the destroy succeeds", destroyed.summary);
    const kept = await r.cluster.request("GET", "/api/v1/namespaces/vault/secrets/vault-unseal-keys");
    check(kept.status === 200, "the unseal keys Secret outlives the destroy", kept.status);
    const nsLeft = await r.cluster.request("GET", "/api/v1/namespaces/vault");
    check(nsLeft.status === 200 && nsLeft.body?.status?.phase === "Active", "the namespace is retained", nsLeft.body);
    const policies = await r.cluster.request("GET", "/apis/networking.k8s.io/v1/namespaces/vault/networkpolicies");
    check((policies.body?.items ?? []).length === 0, "the NetworkPolicies are gone", policies.body?.items?.length);
    const storeGone = await r.cluster.request("GET", `/apis/external-secrets.io/v1/clustersecretstores/${store}`);
    check(storeGone.status === 404, "the ClusterSecretStore is gone", storeGone.status);
    const after = await r.vault.request("GET", "/v1/sys/seal-status");
    check(after.body?.initialized === true, "Vault's data is untouched", after.body);
    const state = (await stack.exportStack()).deployment as { resources?: unknown[] };
    check((state.resources ?? []).length === 0, "nothing left in the state", (state.resources ?? []).length);
    log(
        `  destroy in ${Date.now() - start} ms: ${JSON.stringify(destroyed.summary.resourceChanges)}; namespace vault and ` +
            "Secret vault-unseal-keys retained, Vault still initialized; NetworkPolicies and the store gone; state empty",
    );
}
