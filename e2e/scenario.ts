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
import { Cluster, createNamespace } from "./rig/kube";
import { RigCa } from "./rig/pki";
import { Rig } from "./rig/processes";
import { createStack, Engine, repoProgram } from "./rig/pulumi";
import { until } from "./proofs";
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

    const shared = (up.outputs.sharedSecretStores?.value ?? {}) as Record<string, string>;
    await syncThroughStores(r, store, String(shared.shared), log);

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

/** A break-glass root token from the keys in the cluster's Secret (the runbook's generate-root), for the rig to seed data. */
async function breakGlassRoot(r: UpRig): Promise<string> {
    const secret = await r.cluster.request("GET", "/api/v1/namespaces/vault/secrets/vault-unseal-keys");
    const keys = Object.values(secret.body.data as Record<string, string>).map((k) =>
        Buffer.from(k, "base64").toString(),
    );
    const attempt = await r.vault.request("PUT", "/v1/sys/generate-root/attempt", {});
    let encoded = "";
    for (const key of keys) {
        const step = await r.vault.request("PUT", "/v1/sys/generate-root/update", { key, nonce: attempt.body.nonce });
        if (step.body.complete === true) encoded = step.body.encoded_token;
    }
    // Vault's OTP scheme: the encoded token XOR the one-time password, both base64url/raw.
    const tokenBytes = Buffer.from(encoded, "base64");
    const otp = Buffer.from(String(attempt.body.otp), "utf8");
    return Buffer.from(tokenBytes.map((b, i) => b ^ otp[i])).toString("utf8");
}

/**
 * Step 3, the consumer path: secrets written to the cluster's KV mount and to
 * a shared path reach Kubernetes Secrets through ExternalSecrets on the
 * stack's own ClusterSecretStores (Kubernetes auth: ESO asks the API server
 * for the store ServiceAccount's token, Vault reviews it there); a shared path
 * outside the reader policy is denied.
 */
async function syncThroughStores(
    r: UpRig,
    store: string,
    sharedStore: string,
    log: (m: string) => void,
): Promise<void> {
    const k = (method: string, p: string, body?: unknown) => r.cluster.request(method, p, body);
    // What ESO's own install provides: its namespace and ServiceAccount. The review uses the client's token
    // (the rig's Vault has no pod token of its own), so the rig binds it to system:auth-delegator.
    await createNamespace(r.cluster, "external-secrets");
    await k("POST", "/api/v1/namespaces/external-secrets/serviceaccounts", {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name: "external-secrets" },
    });
    await k("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: "e2e-eso-auth-delegator" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
        subjects: [{ kind: "ServiceAccount", name: "external-secrets", namespace: "external-secrets" }],
    });
    const root = await breakGlassRoot(r);
    const v = (method: string, p: string, body?: unknown) => r.vault.request(method, p, body, root);
    for (const [p, value] of [
        ["/v1/amiya.akn/data/app/db/password", "db-from-vault"],
        ["/v1/shared/data/common/registry", "registry-from-vault"],
        ["/v1/shared/data/private/x", "not-for-amiya"],
    ]) {
        const res = await v("POST", p, { data: { value } });
        check(res.status === 200, `write ${p}`, res.body);
    }
    await v("PUT", "/v1/auth/token/revoke-self", {});
    const ns = "e2e-app";
    await createNamespace(r.cluster, ns);
    const es = (name: string, storeName: string, key: string) => ({
        apiVersion: "external-secrets.io/v1",
        kind: "ExternalSecret",
        metadata: { name, namespace: ns },
        spec: {
            refreshInterval: "10s",
            secretStoreRef: { kind: "ClusterSecretStore", name: storeName },
            target: { name },
            data: [{ secretKey: "value", remoteRef: { key, property: "value" } }],
        },
    });
    const start = Date.now();
    for (const [name, storeName, key] of [
        ["db", store, "app/db/password"],
        ["registry", sharedStore, "common/registry"],
        ["denied", sharedStore, "private/x"],
    ]) {
        const res = await k(
            "POST",
            `/apis/external-secrets.io/v1/namespaces/${ns}/externalsecrets`,
            es(name, storeName, key),
        );
        check(res.status === 201, `ExternalSecret ${name}`, res.body);
    }
    for (const [name, expected] of [
        ["db", "db-from-vault"],
        ["registry", "registry-from-vault"],
    ]) {
        const got = await until(`Secret ${ns}/${name}`, 60_000, async () => {
            const res = await k("GET", `/api/v1/namespaces/${ns}/secrets/${name}`);
            return res.status === 200 ? Buffer.from(res.body.data.value, "base64").toString("utf8") : undefined;
        });
        check(got === expected, `Secret ${name} holds Vault's value`, got);
    }
    const denial = await until("the denied ExternalSecret's condition", 60_000, async () => {
        const res = await k("GET", `/apis/external-secrets.io/v1/namespaces/${ns}/externalsecrets/denied`);
        const c = (res.body.status?.conditions ?? []).find((x: { type: string }) => x.type === "Ready");
        return c?.status === "False" ? String(c.reason) : undefined;
    });
    check(
        (await k("GET", `/api/v1/namespaces/${ns}/secrets/denied`)).status === 404,
        "no Secret for the denied key",
        "",
    );
    log(
        `  ESO through the stack's stores (${store}, ${sharedStore}; Kubernetes auth reviewed by the rig's API server): ` +
            `db and registry synced in ${Date.now() - start} ms; private/x denied (${denial}), no Secret`,
    );
    await k("DELETE", `/api/v1/namespaces/${ns}`);
}
