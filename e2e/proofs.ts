/**
 * The rig's self-proofs: each part is exercised for real and its result
 * checked (a failed check throws with what was seen). They stand until the
 * scenario steps (up, ESO, OIDC, destroy) use the same parts.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { EngineEvent } from "@pulumi/pulumi/automation";
import * as YAML from "yaml";
import { HelmRepo } from "./rig/helm-repo";
import { Cluster, createNamespace, expectStatus, installCrds } from "./rig/kube";
import { RigCa } from "./rig/pki";
import { Rig } from "./rig/processes";
import { createStack, Engine, installedPlugins } from "./rig/pulumi";
import { RigHydra } from "./rig/hydra";
import { RigVault } from "./rig/vault";
import { OBJECT_KEYS, SECRET_KEYS } from "../components/config";

export type Log = (line: string) => void;

function check(ok: boolean, what: string, seen: unknown): void {
    if (!ok) throw new Error(`check failed: ${what}; seen: ${JSON.stringify(seen)}`);
}

export async function until<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
        const value = await probe();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 250));
    }
}

/** The CA verifies its own certificates and refuses one used for the wrong purpose. */
export async function provePki(ca: RigCa, rig: Rig, log: Log): Promise<void> {
    const server = await ca.issueServer("proof-server", { dnsNames: ["localhost"], ips: ["127.0.0.1"] });
    const client = await ca.issueClient("proof-client", { commonName: "proof", organizations: ["proofs"] });
    await ca.verify(server.cert, "sslserver");
    await ca.verify(client.cert, "sslclient");
    let refused = false;
    try {
        await ca.verify(client.cert, "sslserver");
    } catch {
        refused = true;
    }
    check(refused, "a client certificate does not verify as a server certificate", refused);
    const mode = fs.statSync(server.key).mode & 0o777;
    check(mode === 0o600, "keys are 0600", mode.toString(8));
    log(
        `  rig CA ${ca.cert}: server and client certificates verify; a client cert is refused as a server cert; keys 0600`,
    );
    void rig;
}

/** etcd + API server + controllers: CRDs, a ServiceAccount token requested and reviewed, a namespace deleted. */
export async function proveKube(cluster: Cluster, crdFiles: readonly string[], log: Log): Promise<void> {
    const crds = await installCrds(cluster, crdFiles);
    log(`  ESO CRDs established: ${crds.join(", ")}`);
    // The served schema is enforced: a ClusterSecretStore without a provider is refused.
    const bad = await cluster.request("POST", "/apis/external-secrets.io/v1/clustersecretstores", {
        apiVersion: "external-secrets.io/v1",
        kind: "ClusterSecretStore",
        metadata: { name: "proof-invalid" },
        spec: { provider: { vault: { server: 42 } } },
    });
    check(bad.status === 422, "an invalid ClusterSecretStore is refused by the CRD's schema (422)", bad.status);
    log(`  an invalid ClusterSecretStore is refused (HTTP 422: ${String(bad.body.message).slice(0, 120)}...)`);

    const ns = "e2e-proof";
    await createNamespace(cluster, ns);
    // The controller manager's serviceaccount and root-ca-cert-publisher controllers fill a new namespace.
    await until("the namespace's default ServiceAccount", 30_000, async () =>
        (await cluster.request("GET", `/api/v1/namespaces/${ns}/serviceaccounts/default`)).status === 200
            ? true
            : undefined,
    );
    const rootCa = await until("kube-root-ca.crt", 30_000, async () => {
        const res = await cluster.request("GET", `/api/v1/namespaces/${ns}/configmaps/kube-root-ca.crt`);
        return res.status === 200 ? (res.body.data["ca.crt"] as string) : undefined;
    });
    check(
        rootCa.trim() === fs.readFileSync(cluster.caFile, "utf8").trim(),
        "kube-root-ca.crt holds the rig CA",
        "other",
    );
    log(`  namespace ${ns}: default ServiceAccount and kube-root-ca.crt (the rig CA) made by the controllers`);

    const sa = "proof-reader";
    expectStatus(
        "create ServiceAccount",
        await cluster.request("POST", `/api/v1/namespaces/${ns}/serviceaccounts`, {
            apiVersion: "v1",
            kind: "ServiceAccount",
            metadata: { name: sa },
        }),
    );
    const tr = expectStatus(
        "TokenRequest",
        await cluster.request("POST", `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, {
            apiVersion: "authentication.k8s.io/v1",
            kind: "TokenRequest",
            spec: { expirationSeconds: 600 },
        }),
    );
    const token = tr.body.status.token as string;
    const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
    check(claims.iss === cluster.issuer, "the token's issuer is the API server's --service-account-issuer", claims.iss);
    check(claims.sub === `system:serviceaccount:${ns}:${sa}`, "the token's subject", claims.sub);
    const review = async (t: string) =>
        expectStatus(
            "TokenReview",
            await cluster.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
                apiVersion: "authentication.k8s.io/v1",
                kind: "TokenReview",
                spec: { token: t },
            }),
        ).body.status;
    const good = await review(token);
    check(good.authenticated === true, "the TokenReview authenticates the token", good.authenticated);
    check(good.user.username === `system:serviceaccount:${ns}:${sa}`, "the reviewed user", good.user.username);
    check(good.user.groups.includes(`system:serviceaccounts:${ns}`), "the reviewed groups", good.user.groups);
    // The same token with another signature is refused.
    const forged = `${token.split(".").slice(0, 2).join(".")}.${crypto.randomBytes(256).toString("base64url")}`;
    const bogus = await review(forged);
    check(bogus.authenticated !== true, "a forged token is not authenticated", bogus.authenticated);
    log(
        `  TokenRequest for ${ns}/${sa} (iss ${claims.iss}); TokenReview: authenticated as ${good.user.username}; a forged signature is refused`,
    );

    expectStatus("delete namespace", await cluster.request("DELETE", `/api/v1/namespaces/${ns}`));
    const start = Date.now();
    await until(`namespace ${ns} to be gone`, 60_000, async () =>
        (await cluster.request("GET", `/api/v1/namespaces/${ns}`)).status === 404 ? true : undefined,
    );
    log(`  namespace ${ns} deleted and finalized by the namespace controller in ${Date.now() - start} ms`);
}

function get(url: string, ca: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        https
            .get(url, { ca }, (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () =>
                    res.statusCode === 200
                        ? resolve(Buffer.concat(chunks))
                        : reject(new Error(`GET ${url}: HTTP ${res.statusCode}`)),
                );
            })
            .on("error", reject);
    });
}

/** The repository's index and archive, fetched over https trusting only the rig CA. */
export async function proveHelmRepo(repo: HelmRepo, ca: RigCa, log: Log): Promise<void> {
    const index = YAML.parse((await get(`${repo.url}/index.yaml`, ca.pem())).toString("utf8"));
    for (const chart of repo.charts) {
        const entry = index.entries[chart.name][0];
        const tgz = await get(entry.urls[0], ca.pem());
        const digest = crypto.createHash("sha256").update(tgz).digest("hex");
        check(digest === entry.digest, `${chart.name}: the archive's sha256 is the index's digest`, digest);
        log(
            `  ${repo.url}: ${chart.name} ${entry.version} (app ${entry.appVersion}), ${tgz.length} bytes, sha256 ${digest.slice(0, 12)}...` +
                (chart.changes.length > 0 ? `; served copy: ${chart.changes.join("; ")}` : ""),
        );
    }
    let refused = false;
    try {
        await get(`${repo.url}/index.yaml`, "");
    } catch {
        refused = true;
    }
    check(refused, "a client that does not trust the rig CA is refused", refused);
}

/** The smallest dynamic resource: the engine runs its provider through the nodejs launcher. */
class ProbeResource extends pulumi.dynamic.Resource {
    constructor(name: string, props: { n: number }) {
        super(
            {
                async create(inputs: { n: number }) {
                    return { id: `probe-${inputs.n}`, outs: inputs };
                },
            },
            name,
            props,
        );
    }
}

/** Resource types the engine reported as planned/applied (from the event stream). */
function typeCollector(): { onEvent: (e: EngineEvent) => void; types: Map<string, number> } {
    const types = new Map<string, number>();
    return {
        types,
        onEvent: (e) => {
            const type = e.resourcePreEvent?.metadata.type;
            if (type !== undefined) types.set(type, (types.get(type) ?? 0) + 1);
        },
    };
}

/**
 * The engine: plugins installed, an inline program's `up` (a dynamic resource
 * through the nodejs launcher, outputs), a preview under the guard pack, and
 * the real program in the real project (a local program: the CLI runs it
 * through the Node language host, rig/language-host.ts) failing in loadConfig
 * with its exact text.
 */
export async function proveEngine(rig: Rig, engine: Engine, repoRoot: string, log: Log): Promise<void> {
    const plugins = await installedPlugins(engine);
    log(`  PULUMI_HOME plugins: ${plugins.join(", ")}`);

    const stack = await createStack(rig, engine, {
        stackName: "probe",
        projectName: "secret-platform-probe",
        workDir: rig.subdir("probe-project"),
        program: async () => {
            const res = new ProbeResource("probe", { n: 42 });
            return { greeting: "hello from the inline program", probeId: res.id };
        },
    });
    let start = Date.now();
    const up = await stack.up();
    const outputs = Object.fromEntries(Object.entries(up.outputs).map(([k, v]) => [k, v.value]));
    check(up.summary.result === "succeeded", "the probe's up succeeds", up.summary.result);
    check(outputs.probeId === "probe-42" && outputs.greeting === "hello from the inline program", "outputs", outputs);
    log(
        `  inline program up in ${Date.now() - start} ms: ${JSON.stringify(up.summary.resourceChanges)}, outputs ${JSON.stringify(outputs)}`,
    );

    start = Date.now();
    const preview = await stack.preview({ policyPacks: [engine.policyPack] });
    check(/secret-platform-guard@v[0-9.]+/.test(preview.stdout), "the guard pack ran", preview.stdout.slice(-400));
    check(JSON.stringify(preview.changeSummary) === JSON.stringify({ same: 2 }), "no change", preview.changeSummary);
    log(
        `  preview with the guard pack (launcher) in ${Date.now() - start} ms: ${JSON.stringify(preview.changeSummary)}, pack secret-platform-guard loaded`,
    );

    // The real project: Pulumi.yaml read in place, the stack file written next to it (and removed on exit),
    // its index.ts run by the CLI through the Node language host, as `pulumi preview` runs it.
    const config = YAML.parse(fs.readFileSync(`${repoRoot}/Pulumi.amiya.yaml`, "utf8")).config as Record<
        string,
        unknown
    >;
    const real = await createStack(rig, engine, {
        stackName: `e2e-proof-${crypto.randomBytes(3).toString("hex")}`,
        workDir: repoRoot,
        config: { ...config, "secret-platform:bogusKey": "x" },
    });
    // The secrets amiya's storage needs, set as an operator would (placeholders: the program stops in loadConfig),
    // so that the unknown key is the one problem.
    for (const key of ["storageAccessKeyId", "storageSecretAccessKey"]) {
        await real.setConfig(`secret-platform:${key}`, { value: crypto.randomBytes(12).toString("hex"), secret: true });
    }
    // The loader's own list of keys: the message is the program's, not a copy kept here.
    const known = [...OBJECT_KEYS, ...Object.keys(SECRET_KEYS)].sort().join(", ");
    const expected = `invalid stack config (1 problem):\n  secret-platform:bogusKey: unknown key (known keys: ${known})`;
    start = Date.now();
    let failure = "";
    try {
        await real.preview();
    } catch (err) {
        failure = (err as Error).message;
    }
    const normalized = failure.replace(/\n {4,}/g, "\n  ");
    check(
        normalized.includes(`ConfigError: ${expected}`),
        "the real program fails in loadConfig with the exact text",
        failure.slice(0, 1500),
    );
    log(
        `  real program, amiya config + an unknown key: preview fails in ${Date.now() - start} ms with the exact ConfigError (secret-platform:bogusKey: unknown key ...)`,
    );
}

/**
 * The kubernetes plugin against the rig's API server: a Namespace and a
 * ConfigMap through an explicit provider on the kubeconfig's context, up,
 * seen in the API server, destroyed; and the vault chart from the rig's
 * Helm repository rendered by Chart v4 in a preview.
 */
export async function proveKubernetesPlugin(
    rig: Rig,
    engine: Engine,
    cluster: Cluster,
    repo: HelmRepo,
    log: Log,
): Promise<void> {
    const ns = "e2e-plugin-proof";
    const stack = await createStack(rig, engine, {
        stackName: "probe-kube",
        projectName: "secret-platform-probe",
        workDir: rig.subdir("probe-kube-project"),
        program: async () => {
            const provider = new k8s.Provider("rig", { context: cluster.context });
            const namespace = new k8s.core.v1.Namespace("ns", { metadata: { name: ns } }, { provider });
            const cm = new k8s.core.v1.ConfigMap(
                "cm",
                { metadata: { namespace: namespace.metadata.name, name: "proof" }, data: { answer: "42" } },
                { provider },
            );
            return { configMap: cm.metadata.name };
        },
    });
    let start = Date.now();
    const up = await stack.up();
    check(up.summary.result === "succeeded", "the kube probe's up succeeds", up.summary.result);
    const cm = expectStatus("get ConfigMap", await cluster.request("GET", `/api/v1/namespaces/${ns}/configmaps/proof`));
    check(cm.body.data.answer === "42", "the ConfigMap is in the API server", cm.body.data);
    log(
        `  kubernetes plugin: up in ${Date.now() - start} ms (${JSON.stringify(up.summary.resourceChanges)}); ConfigMap ${ns}/proof in the API server`,
    );
    start = Date.now();
    const down = await stack.destroy();
    check(down.summary.result === "succeeded", "the kube probe's destroy succeeds", down.summary.result);
    await until(`namespace ${ns} gone`, 60_000, async () =>
        (await cluster.request("GET", `/api/v1/namespaces/${ns}`)).status === 404 ? true : undefined,
    );
    log(`  destroy in ${Date.now() - start} ms: namespace ${ns} gone from the API server`);

    const vaultChart = repo.charts.find((c) => c.name === "vault");
    if (vaultChart === undefined) throw new Error("the Helm repository serves no vault chart");
    const chartStack = await createStack(rig, engine, {
        stackName: "probe-chart",
        projectName: "secret-platform-probe",
        workDir: rig.subdir("probe-chart-project"),
        program: async () => {
            const provider = new k8s.Provider("rig", { context: cluster.context });
            new k8s.helm.v4.Chart(
                "vault",
                {
                    chart: "vault",
                    version: vaultChart.version,
                    namespace: "vault",
                    repositoryOpts: { repo: repo.url },
                    values: { injector: { enabled: false } },
                },
                { provider },
            );
            return {};
        },
    });
    const before = repo.requests.length;
    const collector = typeCollector();
    start = Date.now();
    const preview = await chartStack.preview({ onEvent: collector.onEvent });
    check((preview.changeSummary.create ?? 0) > 1, "the chart preview plans creates", preview.changeSummary);
    const fetched = repo.requests.slice(before);
    check(
        fetched.includes(`/vault-${vaultChart.version}.tgz`),
        "the provider fetched the chart from the rig repo",
        fetched,
    );
    check(collector.types.has("kubernetes:apps/v1:StatefulSet"), "the chart rendered Vault's StatefulSet", [
        ...collector.types.keys(),
    ]);
    const rendered = [...collector.types.entries()].map(
        ([t, n]) => `${t.replace(/^kubernetes:/, "")}${n > 1 ? ` x${n}` : ""}`,
    );
    log(
        `  Chart v4 preview in ${Date.now() - start} ms: fetched ${fetched.join(", ")} from ${repo.url} (trusting the rig CA via SSL_CERT_FILE); planned ${rendered.join(", ")}`,
    );
}

/**
 * The vault plugin against the real Vault over TLS: initialized and unsealed
 * here (one key share: a probe, not the platform's bootstrap), a KV v2 mount
 * and a policy created through the plugin, seen in Vault, then a preview with
 * no change and a destroy that removes them. The root token lives in this
 * process and in the state as a secret; it is never printed.
 */
export async function proveVaultPlugin(
    rig: Rig,
    engine: Engine,
    vaultServer: RigVault,
    pluginLabel: string,
    log: Log,
): Promise<void> {
    const init = expectStatus(
        "vault init",
        await vaultServer.request("PUT", "/v1/sys/init", { secret_shares: 1, secret_threshold: 1 }),
        [200],
    );
    const rootToken = init.body.root_token as string;
    const unseal = expectStatus(
        "vault unseal",
        await vaultServer.request("PUT", "/v1/sys/unseal", { key: init.body.keys_base64[0] }),
        [200],
    );
    check(unseal.body.sealed === false, "vault unsealed", unseal.body.sealed);
    const mountPath = "e2e-kv";
    const policyText = `path "${mountPath}/data/*" {\n  capabilities = ["read"]\n}\n`;
    const stack = await createStack(rig, engine, {
        stackName: "probe-vault",
        projectName: "secret-platform-probe",
        workDir: rig.subdir("probe-vault-project"),
        program: async () => {
            const provider = new vault.Provider("rig", {
                address: vaultServer.address,
                token: pulumi.secret(rootToken),
                caCertFile: vaultServer.caFile,
                skipChildToken: true,
            });
            const kv = new vault.Mount("kv", { path: mountPath, type: "kv", options: { version: "2" } }, { provider });
            new vault.Policy("reader", { name: "e2e-reader", policy: policyText }, { provider, dependsOn: [kv] });
            return {};
        },
    });
    let start = Date.now();
    const up = await stack.up();
    check(up.summary.result === "succeeded", "the vault probe's up succeeds", up.summary.result);
    const mount = expectStatus(
        "read mount",
        await vaultServer.request("GET", `/v1/sys/mounts/${mountPath}`, undefined, rootToken),
        [200],
    );
    check(mount.body.type === "kv" && mount.body.options.version === "2", "a KV v2 mount in Vault", mount.body);
    const policy = expectStatus(
        "read policy",
        await vaultServer.request("GET", "/v1/sys/policies/acl/e2e-reader", undefined, rootToken),
        [200],
    );
    check(policy.body.data.policy === policyText, "the policy's text in Vault", policy.body.data.policy);
    log(
        `  ${pluginLabel}: up in ${Date.now() - start} ms (${JSON.stringify(up.summary.resourceChanges)}); KV v2 mount ${mountPath} and policy e2e-reader in Vault over TLS`,
    );
    start = Date.now();
    const preview = await stack.preview();
    const changes = Object.keys(preview.changeSummary).filter((op) => op !== "same");
    check(changes.length === 0, "a second preview shows no change", preview.changeSummary);
    log(`  preview in ${Date.now() - start} ms: ${JSON.stringify(preview.changeSummary)}`);
    start = Date.now();
    const down = await stack.destroy();
    check(down.summary.result === "succeeded", "the vault probe's destroy succeeds", down.summary.result);
    const gone = await vaultServer.request("GET", `/v1/sys/mounts/${mountPath}`, undefined, rootToken);
    check(gone.status !== 200, "the mount is gone after destroy", gone.status);
    log(`  destroy in ${Date.now() - start} ms: mount and policy gone (mount read: HTTP ${gone.status})`);
}

/** Hydra serves discovery over TLS and accepts a client through its admin API. */
export async function proveHydra(hydra: RigHydra, log: Log): Promise<void> {
    const client = {
        client_id: "e2e-proof",
        client_name: "e2e proof",
        redirect_uris: ["https://127.0.0.1:8200/ui/vault/auth/oidc/oidc/callback"],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        scope: "openid profile email groups",
        token_endpoint_auth_method: "client_secret_basic",
    };
    const created = await hydra.adminRequest("POST", "/admin/clients", client);
    check(created.status === 201, "hydra registers the client", created.status);
    const read = await hydra.adminRequest("GET", `/admin/clients/${client.client_id}`);
    const body = read.body as Record<string, unknown>;
    check(
        read.status === 200 &&
            JSON.stringify(body.redirect_uris) === JSON.stringify(client.redirect_uris) &&
            body.scope === client.scope &&
            body.token_endpoint_auth_method === client.token_endpoint_auth_method,
        "the client reads back as registered",
        { status: read.status, redirect_uris: body.redirect_uris, scope: body.scope },
    );
    log(
        `  hydra client ${client.client_id} registered through ${hydra.admin}/admin/clients and read back (redirect URIs, scopes, auth method)`,
    );
}
