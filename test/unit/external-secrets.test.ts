import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { Namespace, Secret, ServiceAccount } from "kubernetes-models/v1";
import { parseAllDocuments } from "yaml";
import { ConfigError } from "../../components/config";
import { ExternalSecrets } from "../../components/external-secrets";
import {
    esoChartValues,
    esoNamespaceLabels,
    remoteClusterManifests,
    remoteReviewerManifests,
    sharedStoreName,
    CANARY,
    canaryExternalSecret,
    vaultCaReference,
    vaultClusterSecretStore,
} from "../../components/lib/secret-store-manifests";
import { buildPlatform, SecretPlatform } from "../../components/platform";
import { homelabStack, STORE_LABEL } from "../support/fixtures";
import { registrations } from "../support/mocks";
import {
    configOf,
    configProblems,
    dependsOnOf,
    isSecret,
    parentOf,
    secretInput,
    Program,
    RecordedResource,
    runProgram,
    valueOf,
    readinessResources,
} from "../support/program";
import { at, objectAt, only, stringAt } from "../support/inputs";
import { requireReference } from "../support/reference";

/** What a kubernetes-models class takes: its validate() is the shape check, so the cast carries no trust. */
type ModelInput<M extends abstract new (...args: never[]) => unknown> = ConstructorParameters<M>[0];

type Stack = ReturnType<typeof homelabStack>;

const STORE = "kubernetes:external-secrets.io/v1:ClusterSecretStore";
const EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret";
const CHART = "kubernetes:helm.sh/v4:Chart";
const NAMESPACE = "kubernetes:core/v1:Namespace";
const COMPONENT = "secret-platform:eso:ExternalSecrets";
const DOCS = path.join(__dirname, "..", "..", "docs", "architecture", "external-secrets.md");

/** The ESO chart's release, told apart from any other chart the platform installs. */
function esoCharts(p: Program<unknown>): RecordedResource[] {
    return p.ofType(CHART).filter((r) => r.inputs.chart === "external-secrets");
}

/** The stack with `change` applied to a fresh homelab fixture. */
function homelab(change: (s: Stack) => void = () => undefined): Stack {
    const s = homelabStack();
    change(s);
    return s;
}

/**
 * Builds only the ExternalSecrets component, with inputs that differ from
 * what config would give, so each value's source is visible.
 */
interface Direct {
    readonly component: ExternalSecrets;
    readonly role: pulumi.Resource;
    readonly provider: k8s.Provider;
}
function direct(stack: Stack, tenantRoles: Record<string, string> = {}): Promise<Program<Direct>> {
    return runProgram(stack, (config, opts) => {
        const provider = new k8s.Provider("k8s", {}, opts);
        const role = new pulumi.ComponentResource("test:index:VaultRole", "role", {}, opts);
        const component = new ExternalSecrets(
            "eso",
            {
                config,
                provider,
                vaultUrl: pulumi.output("https://vault.from-args:8200"),
                kubernetesAuthPath: pulumi.output("auth-from-args"),
                role: pulumi.output("role-from-args"),
                tenantRoles: pulumi.output(tenantRoles),
                clusterMount: pulumi.output("mount-from-args"),
                ready: [role],
            },
            opts,
        );
        return { component, role, provider };
    });
}

/** The login ServiceAccount the stores name (builder input), and the serviceAccountRef it becomes. */
const LOGIN = { name: "vault-login", namespace: "external-secrets" };
const SA_REF = { ...LOGIN, audiences: ["vault"] };
/** The homelab fixture's conditions (amiya's). */
const CONDITIONS = [{ namespaceSelector: { matchLabels: { ...STORE_LABEL } } }];
const SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount";

describe("ExternalSecrets", () => {
    describe("wired into the platform (homelab stack)", () => {
        let p: Program<SecretPlatform>;
        before(async () => {
            p = await runProgram(homelabStack(), buildPlatform);
        });

        it("creates the cluster's store from VaultConfiguration's role, auth mount and KV mount", async () => {
            const configuration = p.result.configuration;
            const [authPath, role, mount] = await Promise.all([
                valueOf(configuration.kubernetesAuthPath),
                valueOf(configuration.externalSecretsRole),
                valueOf(configuration.clusterMount),
            ]);
            assert.deepEqual([authPath, role, mount], ["kubernetes-amiya.akn", "external-secrets", "amiya.akn"]);
            // The document is the builder's (test/unit/secret-store-manifests.test.ts); here: where each input comes from.
            assert.deepEqual(
                p.find(STORE, "platform-external-secrets-store").inputs,
                vaultClusterSecretStore({
                    name: "vault-amiya-akn",
                    server: p.result.server.internalUrl,
                    mount,
                    authMountPath: authPath,
                    role,
                    serviceAccount: LOGIN,
                    audience: "vault",
                    conditions: CONDITIONS,
                }),
            );
            assert.equal(p.result.server.internalUrl, "http://vault.vault.svc:8200");
        });

        it("gives the readable shared mount its own store with the same login", () => {
            assert.deepEqual(
                p.find(STORE, "platform-external-secrets-store-shared").inputs,
                vaultClusterSecretStore({
                    name: "vault-amiya-akn-shared",
                    server: "http://vault.vault.svc:8200",
                    mount: "shared",
                    authMountPath: "kubernetes-amiya.akn",
                    role: "external-secrets",
                    serviceAccount: LOGIN,
                    audience: "vault",
                    conditions: CONDITIONS,
                }),
            );
            assert.equal(p.ofType(STORE).length, 2);
        });

        it("waits for every resource VaultConfiguration marks ready (the role and mounts)", async () => {
            const ready = await readinessResources(p.result.configuration.ready);
            assert.ok(ready.length > 0, "VaultConfiguration.ready is empty");
            for (const name of ["platform-external-secrets-store", "platform-external-secrets-store-shared"]) {
                assert.deepEqual(
                    await dependsOnOf(p.find(STORE, name)),
                    [...ready, p.find(SERVICE_ACCOUNT, "platform-external-secrets-login").resource],
                    name,
                );
            }
        });

        it("parents every child to the component and uses the platform's Kubernetes provider", () => {
            const component = p.find(COMPONENT, "platform-external-secrets");
            assert.equal(parentOf(component), p.result);
            for (const store of p.ofType(STORE)) {
                assert.equal(parentOf(store), component.resource);
                assert.match(String(store.provider), /\$pulumi:providers:kubernetes::platform-k8s::/);
            }
        });

        it("installs nothing else by default but the login ServiceAccount and the canary: no ESO chart, ESO namespace or RBAC", async () => {
            assert.deepEqual(esoCharts(p), []);
            assert.deepEqual(
                p.ofType(NAMESPACE).filter((r) => at(r.inputs, "metadata", "name") === "external-secrets"),
                [],
            );
            const children = p.resources.filter((r) => r.name.startsWith("platform-external-secrets"));
            assert.deepEqual(
                children.map((r) => r.type).sort(),
                [EXTERNAL_SECRET, NAMESPACE, SERVICE_ACCOUNT, STORE, STORE, COMPONENT].sort(),
            );
            assert.equal(
                await valueOf(p.result.externalSecrets.canarySecret!),
                "secret-platform-canary/secret-platform-canary",
            );
            assert.equal(await valueOf(p.result.externalSecrets.storeName), "vault-amiya-akn");
            assert.deepEqual(await valueOf(p.result.externalSecrets.sharedStoreNames), {
                shared: "vault-amiya-akn-shared",
            });
        });
    });

    describe("its inputs (component alone)", () => {
        it("takes URL, auth mount, role and KV mount from its arguments, not from config", async () => {
            const p = await direct(homelabStack());
            assert.deepEqual(at(p.find(STORE, "eso-store").inputs, "spec", "provider", "vault"), {
                server: "https://vault.from-args:8200",
                path: "mount-from-args",
                version: "v2",
                auth: {
                    kubernetes: { mountPath: "auth-from-args", role: "role-from-args", serviceAccountRef: SA_REF },
                },
            });
            // A shared mount's path is the mount's name; the login is the same.
            assert.equal(at(p.find(STORE, "eso-store-shared").inputs, "spec", "provider", "vault", "path"), "shared");
        });

        it("depends on exactly the resources passed as ready", async () => {
            const p = await direct(homelabStack());
            const login = p.find(SERVICE_ACCOUNT, "eso-login").resource;
            for (const store of p.ofType(STORE)) assert.deepEqual(await dependsOnOf(store), [p.result.role, login]);
        });

        it("names the login ServiceAccount, its namespace and Vault's audience from config in serviceAccountRef", async () => {
            const p = await direct(
                homelab((s) => {
                    Object.assign(s.values.externalSecrets, { namespace: "eso", serviceAccount: "eso-login" });
                    s.values.kubernetesAuth = { audience: "vault.amiya.akn" };
                }),
            );
            for (const store of p.ofType(STORE)) {
                const k = at(store.inputs, "spec", "provider", "vault", "auth", "kubernetes");
                assert.deepEqual(at(k, "serviceAccountRef"), {
                    name: "eso-login",
                    namespace: "eso",
                    audiences: ["vault.amiya.akn"],
                });
            }
        });

        it("creates the login ServiceAccount: no mounted token, no RBAC; every store waits for it", async () => {
            const p = await direct(homelabStack());
            const sa = p.find(SERVICE_ACCOUNT, "eso-login");
            assert.deepEqual(sa.inputs, {
                apiVersion: "v1",
                kind: "ServiceAccount",
                metadata: {
                    name: "vault-login",
                    namespace: "external-secrets",
                    labels: {
                        "app.kubernetes.io/managed-by": "pulumi",
                        "app.kubernetes.io/part-of": "secret-platform",
                    },
                },
                automountServiceAccountToken: false,
            });
            new ServiceAccount(sa.inputs as ModelInput<typeof ServiceAccount>).validate();
            assert.equal(parentOf(sa), p.result.component);
            assert.deepEqual(
                p.resources.filter((r) => /RoleBinding|:Role$|ClusterRole$/.test(r.type)),
                [],
                "no RBAC for the login ServiceAccount",
            );
            for (const store of p.ofType(STORE))
                assert.deepEqual(await dependsOnOf(store), [p.result.role, sa.resource]);
        });

        it("names the store from externalSecrets.storeName, and shared stores after it", async () => {
            const p = await direct(homelab((s) => (s.values.externalSecrets.storeName = "vault")));
            assert.deepEqual(
                p
                    .ofType(STORE)
                    .map((r) => [r.name, stringAt(r.inputs, "metadata", "name")])
                    .sort(),
                [
                    ["eso-store", "vault"],
                    ["eso-store-shared", "vault-shared"],
                ],
            );
            assert.equal(await valueOf(p.result.component.storeName), "vault");
        });

        it("one store per shared mount with a readable path, names made Kubernetes-safe", async () => {
            const p = await direct(
                homelab(
                    (s) =>
                        (s.values.kv = {
                            shared: [
                                { name: "shared", readablePaths: ["common"] },
                                { name: "team_a.x", readablePaths: ["db", "ci"] },
                                { name: "archive", readablePaths: [] },
                            ],
                        }),
                ),
            );
            assert.deepEqual(
                p
                    .ofType(STORE)
                    .map((r) => [
                        r.name,
                        stringAt(r.inputs, "metadata", "name"),
                        stringAt(r.inputs, "spec", "provider", "vault", "path"),
                    ])
                    .sort(),
                [
                    ["eso-store", "vault-amiya-akn", "mount-from-args"],
                    ["eso-store-shared", "vault-amiya-akn-shared", "shared"],
                    ["eso-store-team-a-x", "vault-amiya-akn-team-a-x", "team_a.x"],
                ],
            );
            assert.deepEqual(await valueOf(p.result.component.sharedStoreNames), {
                shared: "vault-amiya-akn-shared",
                "team_a.x": "vault-amiya-akn-team-a-x",
            });
        });

        it("restricts every store to the configured namespaces", async () => {
            const conditions = [
                { namespaces: ["grafana", "authelia"] },
                { namespaceSelector: { matchLabels: { "secret-platform/vault": "read" } } },
            ];
            const p = await direct(
                homelab((s) => (s.values.externalSecrets = { namespaceConditions: conditions, canary: false })),
            );
            for (const store of p.ofType(STORE)) assert.deepEqual(at(store.inputs, "spec", "conditions"), conditions);
        });

        it("opens the stores to every namespace only with allNamespaces: no conditions at all", async () => {
            const p = await direct(homelab((s) => (s.values.externalSecrets = { allNamespaces: true })));
            assert.equal(p.ofType(STORE).length, 2);
            for (const store of p.ofType(STORE)) assert.equal(at(store.inputs, "spec", "conditions"), undefined);
        });

        it("gives each tenant group a store that admits only its namespaces and logs in with its role", async () => {
            const tenants = [
                { name: "media", namespaces: ["sonarr", "radarr"] },
                { name: "grafana", namespaces: ["grafana"] },
            ];
            const p = await direct(
                homelab((s) => (s.values.externalSecrets.tenants = tenants)),
                { media: "media-role-from-args", grafana: "grafana-role-from-args" },
            );
            assert.deepEqual(
                p.find(STORE, "eso-store-tenant-media").inputs,
                vaultClusterSecretStore({
                    name: "vault-amiya-akn-media",
                    server: "https://vault.from-args:8200",
                    mount: "mount-from-args",
                    authMountPath: "auth-from-args",
                    role: "media-role-from-args",
                    serviceAccount: LOGIN,
                    audience: "vault",
                    conditions: [{ namespaces: ["sonarr", "radarr"] }],
                }),
            );
            const grafana = p.find(STORE, "eso-store-tenant-grafana").inputs;
            assert.deepEqual(at(grafana, "spec", "conditions"), [{ namespaces: ["grafana"] }]);
            assert.equal(
                at(grafana, "spec", "provider", "vault", "auth", "kubernetes", "role"),
                "grafana-role-from-args",
            );
            assert.deepEqual(await valueOf(p.result.component.tenantStoreNames), {
                media: "vault-amiya-akn-media",
                grafana: "vault-amiya-akn-grafana",
            });
            // The cluster-wide stores keep their own conditions.
            assert.deepEqual(at(p.find(STORE, "eso-store").inputs, "spec", "conditions"), CONDITIONS);
        });
    });

    describe("trusting Vault's certificate", () => {
        const internalTls = (s: Stack) =>
            (s.values.server = { tls: { mode: "internal", secretName: "vault-tls", caSecretName: "vault-ca" } });

        it("uses caProvider (ca.crt of the CA Secret in Vault's namespace) with internal TLS", async () => {
            const p = await direct(homelab(internalTls));
            const ca = { type: "Secret", name: "vault-ca", namespace: "vault", key: "ca.crt" };
            for (const store of p.ofType(STORE))
                assert.deepEqual(at(store.inputs, "spec", "provider", "vault", "caProvider"), ca);
        });

        it("has no caProvider when the ingress ends TLS, or without a CA Secret", () => {
            assert.equal(vaultCaReference(configOf(homelabStack())), undefined);
            const noCa = homelab((s) => (s.values.server = { tls: { mode: "internal", secretName: "vault-tls" } }));
            assert.equal(vaultCaReference(configOf(noCa)), undefined);
        });

        it("uses externalSecrets.serverUrl, without the in-cluster CA, when set", async () => {
            const p = await runProgram(
                homelab((s) => {
                    internalTls(s);
                    s.values.externalSecrets.serverUrl = "https://vault.amiya.akn";
                }),
                buildPlatform,
            );
            const vault = objectAt(
                p.find(STORE, "platform-external-secrets-store").inputs,
                "spec",
                "provider",
                "vault",
            );
            assert.equal(vault.server, "https://vault.amiya.akn");
            assert.equal(vault.caProvider, undefined);
        });
    });

    describe("installing External Secrets Operator (externalSecrets.install)", () => {
        let p: Program<Direct>;
        before(async () => {
            p = await direct(homelab((s) => (s.values.externalSecrets.install = true)));
        });

        it("creates ESO's namespace with restricted Pod Security labels", () => {
            const ns = p.find(NAMESPACE, "eso-namespace");
            assert.deepEqual(ns.inputs, {
                apiVersion: "v1",
                kind: "Namespace",
                metadata: {
                    name: "external-secrets",
                    labels: {
                        "app.kubernetes.io/managed-by": "pulumi",
                        "app.kubernetes.io/part-of": "secret-platform",
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/audit": "restricted",
                        "pod-security.kubernetes.io/warn": "restricted",
                    },
                },
            });
            new Namespace(ns.inputs as ModelInput<typeof Namespace>).validate();
            assert.deepEqual(at(ns.inputs, "metadata", "labels"), esoNamespaceLabels());
        });

        it("installs the pinned chart with its CRDs, ExternalSecret rights not aggregated to edit/admin", () => {
            const chart = p.find(CHART, "eso-operator");
            assert.deepEqual(chart.inputs, {
                name: "external-secrets",
                chart: "external-secrets",
                version: "2.9.0",
                repositoryOpts: { repo: "https://charts.external-secrets.io" },
                namespace: "external-secrets",
                values: {
                    installCRDs: true,
                    serviceAccount: { create: true, name: "external-secrets" },
                    rbac: { aggregateToEdit: false, aggregateToAdmin: false },
                },
            });
            assert.equal(parentOf(chart), p.result.component);
            assert.match(String(chart.provider), /::pulumi:providers:kubernetes::k8s::/);
        });

        it("sets only values the ESO chart has, of its types; aggregation to edit/admin is the chart's default otherwise", function () {
            const chart = path.join(requireReference(this, "external-secrets-2.9.0"), "chart", "values.yaml");
            // The chart itself is in the reference only when copied from SECRET_PLATFORM_REFERENCE (the download fetches the CRDs).
            if (!fs.existsSync(chart)) this.skip();
            const defaults = parseAllDocuments(fs.readFileSync(chart, "utf8"))[0].toJSON() as Record<string, unknown>;
            const leaves = (o: Record<string, unknown>, at: string[] = []): [string[], unknown][] =>
                Object.entries(o).flatMap(([k, v]) =>
                    typeof v === "object" && v !== null
                        ? leaves(v as Record<string, unknown>, [...at, k])
                        : [[[...at, k], v]],
                );
            for (const [key, value] of leaves(esoChartValues())) {
                const upstream = key.reduce<unknown>(
                    (o, k) => (o as Record<string, unknown> | undefined)?.[k],
                    defaults,
                );
                assert.equal(typeof upstream, typeof value, `${key.join(".")} in the chart's values.yaml`);
            }
            assert.deepEqual(
                [at(defaults, "rbac", "aggregateToEdit"), at(defaults, "rbac", "aggregateToAdmin")],
                [true, true],
            );
        });

        it("makes every store wait for the chart (CRDs and webhook) as well as the Vault role", async () => {
            const chart = p.find(CHART, "eso-operator").resource;
            const login = p.find(SERVICE_ACCOUNT, "eso-login");
            for (const store of p.ofType(STORE))
                assert.deepEqual(await dependsOnOf(store), [p.result.role, chart, login.resource]);
        });

        it("follows externalSecrets.chartVersion and chartRepository", async () => {
            const q = await direct(
                homelab(
                    (s) =>
                        (s.values.externalSecrets = {
                            ...s.values.externalSecrets,
                            install: true,
                            chartVersion: "2.8.1",
                            chartRepository: "https://mirror.example/eso",
                        }),
                ),
            );
            const inputs = q.find(CHART, "eso-operator").inputs;
            assert.deepEqual(
                [at(inputs, "version"), at(inputs, "repositoryOpts", "repo")],
                ["2.8.1", "https://mirror.example/eso"],
            );
        });

        it("creates no chart and no namespace when install is false", async () => {
            const q = await direct(homelabStack());
            assert.deepEqual(esoCharts(q), []);
            assert.deepEqual(
                q.ofType(NAMESPACE).map((r) => at(r.inputs, "metadata", "name")),
                ["secret-platform-canary"],
            );
        });
    });

    describe("the canary (externalSecrets.canary, on by default)", () => {
        it("reads <cluster>/canary/platform/check into a Secret of its own namespace, after the store and the key, and waits for Ready", async () => {
            const key = new pulumi.ComponentResource("test:index:CanaryKey", "canary-key", {});
            const p = await runProgram(homelab(), (config, opts) => {
                const provider = new k8s.Provider("k8s", {}, opts);
                const component = new ExternalSecrets(
                    "eso",
                    {
                        config,
                        provider,
                        vaultUrl: "https://vault.from-args:8200",
                        kubernetesAuthPath: "auth-from-args",
                        role: "role-from-args",
                        tenantRoles: {},
                        clusterMount: "mount-from-args",
                        ready: [],
                        canaryReady: [key],
                    },
                    opts,
                );
                return { component };
            });
            const namespace = p.find(NAMESPACE, "eso-canary-namespace");
            assert.deepEqual(namespace.inputs, {
                apiVersion: "v1",
                kind: "Namespace",
                // The stores admit by label (amiya's selector): the canary's namespace carries it.
                metadata: { name: CANARY.namespace, labels: { ...esoNamespaceLabels(), ...STORE_LABEL } },
            });
            new Namespace(namespace.inputs as object).validate();
            assert.deepEqual(at(p.find(STORE, "eso-store").inputs, "spec", "conditions"), CONDITIONS);
            const canary = p.find(EXTERNAL_SECRET, "eso-canary");
            // The document is the builder's (test/unit/secret-store-manifests.test.ts): the cluster's store.
            assert.deepEqual(canary.inputs, canaryExternalSecret("vault-amiya-akn"));
            assert.deepEqual(await dependsOnOf(canary), [key, p.find(STORE, "eso-store").resource]);
            assert.deepEqual(canary.opts.customTimeouts, { create: "5m", update: "5m" });
            assert.equal(parentOf(canary), p.result.component);
            assert.equal(parentOf(namespace), p.result.component);
            assert.equal(
                await valueOf(p.result.component.canarySecret!),
                "secret-platform-canary/secret-platform-canary",
            );
        });

        it("the platform writes the key through the Vault provider under the cluster's mount, a secret; its hash is a plain output", async () => {
            const p = await runProgram(homelabStack(), buildPlatform);
            const write = p.find("vault:kv/secretV2:SecretV2", "platform-configuration-canary");
            assert.equal(write.inputs.mount, "amiya.akn");
            assert.equal(write.inputs.name, "canary/platform/check");
            // Secret on the wire, though not a credential.
            assert.equal(secretInput(write.inputs.dataJson), '{"value":"secret-platform canary of amiya.akn"}');
            assert.deepEqual(p.ofPackage("random:"), [], "no random plugin: the real engine may lack it");
            assert.match(String(write.provider), /\$pulumi:providers:vault::/);
            assert.equal(parentOf(write), p.result.configuration);
            const sha = p.result.configuration.canarySha256!;
            assert.equal(await isSecret(sha), false);
            assert.equal(
                await valueOf(sha),
                crypto.createHash("sha256").update("secret-platform canary of amiya.akn").digest("hex"),
            );
            // The ExternalSecret waits for the write.
            const canary = p.find(EXTERNAL_SECRET, "platform-external-secrets-canary");
            assert.ok((await dependsOnOf(canary)).includes(write.resource!));
        });

        it("is absent with externalSecrets.canary: false: no key, no namespace, no ExternalSecret, no output", async () => {
            const p = await runProgram(
                homelab((s) => (s.values.externalSecrets.canary = false)),
                buildPlatform,
            );
            assert.deepEqual(p.ofType(EXTERNAL_SECRET), []);
            assert.deepEqual(p.ofType("vault:kv/secretV2:SecretV2"), []);
            assert.deepEqual(
                p.ofType("random:index/randomPassword:RandomPassword").map((r) => r.name),
                [],
            );
            assert.deepEqual(
                p.ofType(NAMESPACE).filter((r) => at(r.inputs, "metadata", "name") === CANARY.namespace),
                [],
            );
            assert.equal(p.result.externalSecrets.canarySecret, undefined);
            assert.equal(p.result.configuration.canarySha256, undefined);
        });
    });

    describe("settings the schema cannot check", () => {
        const ns = "secret-platform";
        const es = (value: Record<string, unknown>) => (s: Stack) => (s.values.externalSecrets = value);

        it("fails closed: no conditions and no allNamespaces is refused, both at once too", () => {
            assert.deepEqual(configProblems(homelab(es({}))), [
                `${ns}:externalSecrets.namespaceConditions: required: list the namespaces that may use the stores (namespaces or namespaceSelector.matchLabels), or set externalSecrets.allNamespaces: true to let every namespace read the whole cluster mount`,
            ]);
            assert.deepEqual(
                configProblems(homelab(es({ allNamespaces: true, namespaceConditions: [{ namespaces: ["a"] }] }))),
                [
                    `${ns}:externalSecrets.allNamespaces: must not be true together with externalSecrets.namespaceConditions`,
                ],
            );
            configOf(homelab(es({ allNamespaces: true })));
        });

        it("refuses the ESO controller's own ServiceAccount as the login", () => {
            assert.deepEqual(configProblems(homelab(es({ allNamespaces: true, serviceAccount: "external-secrets" }))), [
                `${ns}:externalSecrets.serviceAccount: must not be external-secrets, the ESO controller's own ServiceAccount (cluster-wide Secret rights): name a dedicated login ServiceAccount`,
            ]);
        });

        it("rejects tenant groups that collide or share a namespace", () => {
            const tenants = [
                { name: "shared", namespaces: ["a", "b"] },
                { name: "x", namespaces: ["b"] },
                { name: "y", namespaces: [] },
            ];
            assert.deepEqual(configProblems(homelab(es({ allNamespaces: true, tenants }))), [
                `${ns}:externalSecrets.tenants[2].namespaces: must list at least one namespace (got [])`,
            ]);
            assert.deepEqual(configProblems(homelab(es({ allNamespaces: true, tenants: tenants.slice(0, 2) }))), [
                `${ns}:externalSecrets.tenants[0].name: gives the same store name 'vault-amiya-akn-shared' as mount 'shared'`,
                `${ns}:externalSecrets.tenants[1].namespaces[0]: namespace b is already in tenant 'shared' (a namespace belongs to one group)`,
            ]);
        });

        it("rejects a tenant namespace the cluster-wide stores' conditions name; a tenant apart is accepted", () => {
            const tenants = [{ name: "media", namespaces: ["sonarr", "radarr"] }];
            const namespaceConditions = [
                { namespaces: ["grafana", "secret-platform-canary"] },
                { namespaces: ["radarr"] },
            ];
            assert.deepEqual(configProblems(homelab(es({ namespaceConditions, tenants }))), [
                `${ns}:externalSecrets.tenants[0].namespaces[1]: namespace radarr is also admitted to the cluster-wide stores by externalSecrets.namespaceConditions[1], through which it would read the whole cluster mount: take it out there`,
            ]);
            // Positive control: the same tenant group with conditions that leave its namespaces out.
            const apart = configOf(homelab(es({ namespaceConditions: namespaceConditions.slice(0, 1), tenants })));
            assert.deepEqual(apart.externalSecrets.tenants, tenants);
        });

        it("rejects an empty condition list", () => {
            assert.deepEqual(configProblems(homelab(es({ namespaceConditions: [] }))), [
                `${ns}:externalSecrets.namespaceConditions: must list at least one condition (or set externalSecrets.allNamespaces: true instead)`,
            ]);
        });

        it("rejects conditions that admit no namespace", () => {
            const conditions = [{ namespaces: [] }, { namespaceSelector: { matchLabels: {} } }, { namespaces: ["a"] }];
            assert.deepEqual(configProblems(homelab(es({ namespaceConditions: conditions }))), [
                `${ns}:externalSecrets.namespaceConditions[0]: must set namespaces or namespaceSelector.matchLabels (an empty condition admits no namespace)`,
                `${ns}:externalSecrets.namespaceConditions[1]: must set namespaces or namespaceSelector.matchLabels (an empty condition admits no namespace)`,
            ]);
        });

        it("rejects a canary the namespace conditions would refuse; a label selector admits it (its namespace carries the labels)", () => {
            assert.deepEqual(configProblems(homelab(es({ namespaceConditions: [{ namespaces: ["grafana"] }] }))), [
                `${ns}:externalSecrets.canary: the canary ExternalSecret lives in namespace secret-platform-canary, which externalSecrets.namespaceConditions does not admit (add it to a condition's namespaces, add a condition with namespaceSelector.matchLabels (the stack labels the canary's namespace to match), or set externalSecrets.canary: false)`,
            ]);
            // Admitted by name, by a selector (amiya's; or any other: the stack labels the namespace), or with
            // every namespace; or the canary is off: accepted.
            for (const e of [
                { namespaceConditions: [{ namespaces: ["secret-platform-canary"] }] },
                { namespaceConditions: [{ namespaceSelector: { matchLabels: { ...STORE_LABEL } } }] },
                {
                    namespaceConditions: [
                        { namespaces: ["grafana"] },
                        { namespaceSelector: { matchLabels: { team: "a" } } },
                    ],
                },
                { allNamespaces: true },
                { canary: false, namespaceConditions: [{ namespaces: ["grafana"] }] },
            ]) {
                configOf(homelab(es(e)));
            }
        });

        it("rejects shared mounts whose store names collide", () => {
            const stack = homelab(
                (s) =>
                    (s.values.kv = {
                        shared: [
                            { name: "team.a", readablePaths: ["x"] },
                            { name: "team_a", readablePaths: ["y"] },
                        ],
                    }),
            );
            assert.deepEqual(configProblems(stack), [
                `${ns}:kv.shared[1].name: gives the same store name 'vault-amiya-akn-team-a' as mount 'team.a'`,
            ]);
        });

        it("fails before any resource of the platform registers", async () => {
            const stack = homelab(es({ namespaceConditions: [] }));
            await assert.rejects(
                runProgram(stack, buildPlatform),
                (e: unknown) => e instanceof ConfigError && e.problems.length === 1,
            );
            await new Promise((r) => setImmediate(r));
            assert.deepEqual(registrations, []);
        });

        it("accepts the defaults and the amiya stack's settings", () => {
            configOf(homelabStack());
            assert.equal(sharedStoreName("vault-amiya-akn", "team_a.x"), "vault-amiya-akn-team-a-x");
        });
    });

    describe("remote clusters", () => {
        const remote = (s: Stack) => {
            s.values.kubernetesAuth = {
                remoteClusters: [
                    {
                        name: "nova.akn",
                        host: "https://api.nova.akn:6443",
                        caCert: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                    },
                ],
            };
            s.secrets.remoteClusterReviewerJwts = JSON.stringify({ "nova.akn": "reviewer-jwt" });
        };

        it("builds the reviewer a remote admin applies: a ServiceAccount bound to system:auth-delegator only", () => {
            const [sa, binding, token] = remoteReviewerManifests({
                cluster: "amiya.akn",
                namespace: "external-secrets",
            });
            new ServiceAccount(sa as ModelInput<typeof ServiceAccount>).validate();
            new ClusterRoleBinding(binding as unknown as ModelInput<typeof ClusterRoleBinding>).validate();
            new Secret(token as ModelInput<typeof Secret>).validate();
            assert.deepEqual(binding.roleRef, {
                apiGroup: "rbac.authorization.k8s.io",
                kind: "ClusterRole",
                name: "system:auth-delegator",
            });
            assert.deepEqual(binding.subjects, [
                { kind: "ServiceAccount", name: "vault-token-reviewer", namespace: "external-secrets" },
            ]);
            assert.equal(sa.automountServiceAccountToken, false);
            assert.deepEqual(
                [token.type, token.metadata.annotations],
                [
                    "kubernetes.io/service-account-token",
                    { "kubernetes.io/service-account.name": "vault-token-reviewer" },
                ],
            );
        });

        it("builds the remote cluster's stores against Vault's public address, mount kubernetes-<remote>", () => {
            const objects = remoteClusterManifests(configOf(homelab(remote)))["nova.akn"];
            assert.deepEqual(
                objects.map((o) => `${o.kind}/${o.metadata.name}`),
                [
                    "ServiceAccount/vault-token-reviewer",
                    "ClusterRoleBinding/vault-token-reviewer-external-secrets",
                    "Secret/vault-token-reviewer-token",
                    "ServiceAccount/vault-login",
                    "ClusterSecretStore/vault-nova-akn",
                    "ClusterSecretStore/vault-nova-akn-shared",
                ],
            );
            const stores = objects.filter(
                (o) => o.kind === "ClusterSecretStore" && o.metadata.name === "vault-nova-akn",
            );
            assert.deepEqual(at(only(stores, "stores named vault-nova-akn"), "spec", "provider", "vault"), {
                server: "https://vault.amiya.akn",
                path: "nova.akn",
                version: "v2",
                auth: {
                    kubernetes: {
                        mountPath: "kubernetes-nova.akn",
                        role: "external-secrets",
                        serviceAccountRef: SA_REF,
                    },
                },
            });
        });

        it("creates nothing for the remote cluster in this one, and exposes its manifests", async () => {
            const p = await direct(homelab(remote));
            assert.deepEqual(
                p.resources
                    .filter((r) => r.name.startsWith("eso"))
                    .map((r) => r.type)
                    .sort(),
                // The login, the stores and this cluster's canary; nothing named after the remote cluster.
                [NAMESPACE, SERVICE_ACCOUNT, STORE, STORE, EXTERNAL_SECRET, COMPONENT].sort(),
            );
            assert.deepEqual(p.result.component.remoteClusterManifests, remoteClusterManifests(p.config));
            assert.deepEqual(Object.keys(p.result.component.remoteClusterManifests), ["nova.akn"]);
        });

        it("the docs' reviewer manifests are the builder's, for its example remote", () => {
            const docs = fs.readFileSync(DOCS, "utf8");
            const block = /<!-- remote-reviewer: (\S+) (\S+) -->\n+```yaml\n([\s\S]*?)```/.exec(docs);
            assert.ok(block, "docs/architecture/external-secrets.md has no marked reviewer block");
            const [, cluster, namespace, yaml] = block;
            const shown = parseAllDocuments(yaml).map((d) => d.toJSON());
            assert.deepEqual(shown, remoteReviewerManifests({ cluster, namespace }));
        });
    });
});
