import { strict as assert } from "node:assert";
import { parse as parseHcl } from "@cdktf/hcl2json";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../../components/config";
import { buildVaultValues, serverHclOf } from "../../components/lib/helm-values";
import { buildMetricsScrape } from "../../components/lib/metrics";
import { buildNetworkPolicies } from "../../components/lib/network-policy";
import { MANAGED_LABELS } from "../../components/lib/contracts";
import { buildPlatform } from "../../components/platform";
import { CREDENTIALS_CHECKSUM_ANNOTATION, PSA_LABELS, VaultServer } from "../../components/server";
import { StorageBinding, VAULT_SERVICE_ACCOUNT } from "../../components/storage";
import { awsStack, homelabStack, KMS_EGRESS } from "../support/fixtures";
import { at, Doc, objectAt, only, stringAt } from "../support/inputs";
import {
    dependsOnOf,
    parentOf,
    Program,
    RecordedResource,
    runProgram,
    secretInput,
    StackConfig,
    readinessResources,
} from "../support/program";

// kubernetes-models (CommonJS): the Kubernetes OpenAPI schemas of the objects written here.
const { Namespace } = require("kubernetes-models/v1/Namespace");
const { Secret } = require("kubernetes-models/v1/Secret");
const { NetworkPolicy } = require("kubernetes-models/networking.k8s.io/v1/NetworkPolicy");
const { Ingress } = require("kubernetes-models/networking.k8s.io/v1/Ingress");
const { HTTPRoute } = require("@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute");

type Stack = StackConfig & { values: Record<string, any>; secrets: Record<string, any> };

const T = {
    component: "secret-platform:server:VaultServer",
    provider: "pulumi:providers:kubernetes",
    namespace: "kubernetes:core/v1:Namespace",
    secret: "kubernetes:core/v1:Secret",
    netpol: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    ingress: "kubernetes:networking.k8s.io/v1:Ingress",
    route: "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
    chart: "kubernetes:helm.sh/v4:Chart",
    transport: "kubernetes:traefik.io/v1alpha1:ServersTransport",
    middleware: "kubernetes:traefik.io/v1alpha1:Middleware",
    service: "kubernetes:core/v1:Service",
};

// How the engine sees a secret input: Pulumi's signature-wrapped value.
const SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** What VaultStorage hands over, built from config as it does (secrets stay secret Outputs). */
type BindingOf = (config: PlatformConfig) => StorageBinding;

/** The unauthenticated sys/ ceremonies the exposed host refuses (components/lib/exposure.ts). */
const BLOCKED = [
    "/v1/sys/generate-root",
    "/v1/sys/generate-recovery-token",
    "/v1/sys/rekey",
    "/v1/sys/rekey-recovery-key",
    "/v1/sys/storage/raft/bootstrap",
];
/** Request paths, and whether the exposed host must refuse them. */
const PROBES: readonly (readonly [string, boolean])[] = [
    // Each blocked prefix itself, then the endpoints under it.
    ...BLOCKED.map((p) => [p, true] as const),
    ["/v1/sys/generate-root/attempt", true],
    ["/v1/sys/generate-root/update", true],
    ["/v1/sys/generate-recovery-token/attempt", true],
    ["/v1/sys/rekey/init", true],
    ["/v1/sys/rekey/verify", true],
    ["/v1/sys/rekey-recovery-key/init", true],
    ["/v1/sys/storage/raft/bootstrap/challenge", true],
    ["/v1/sys/storage/raft/bootstrap/answer", true],
    // Still routed: bootstrap's init and unseal (docs/threat-model.md), status, the UI, secrets.
    ["/v1/sys/init", false],
    ["/v1/sys/unseal", false],
    ["/v1/sys/seal-status", false],
    ["/v1/sys/rekeyed", false],
    ["/v1/sys/generate-rootx", false],
    ["/v1/sys/storage/raft/bootstrapped", false],
    ["/v1/sys/storage/raft/configuration", false],
    ["/ui/", false],
    ["/v1/amiya.akn/data/app/db/password", false],
];

/** Prefix matching by whole path segments, as Ingress `Prefix` and Gateway `PathPrefix` match. */
function prefixMatches(prefix: string, requestPath: string): boolean {
    if (prefix === "/") return true;
    return requestPath === prefix || requestPath.startsWith(`${prefix}/`);
}

const garageBinding: BindingOf = (c) => ({
    bucket: pulumi.output(c.storage.bucket),
    region: c.storage.region,
    endpoint: c.storage.endpoint,
    forcePathStyle: c.storage.forcePathStyle,
    prefix: c.storage.prefix,
    credentials: {
        accessKeyId: c.secrets.storageAccessKeyId as pulumi.Output<string>,
        secretAccessKey: c.secrets.storageSecretAccessKey as pulumi.Output<string>,
    },
    seal:
        c.unseal.mode === "awskms"
            ? { kmsKeyId: pulumi.output(c.unseal.kmsKeyId as string), region: c.unseal.kmsRegion }
            : undefined,
    sealCredentials:
        c.secrets.sealAccessKeyId === undefined
            ? undefined
            : {
                  accessKeyId: c.secrets.sealAccessKeyId,
                  secretAccessKey: c.secrets.sealSecretAccessKey as pulumi.Output<string>,
              },
});

const awsUserBinding: BindingOf = (c) => ({
    bucket: pulumi.output(c.storage.bucket),
    region: c.storage.region,
    forcePathStyle: false,
    storageKmsKeyId: pulumi.output("arn:aws:kms:eu-west-1:123456789012:key/storage"),
    seal: { kmsKeyId: pulumi.output("arn:aws:kms:eu-west-1:123456789012:key/seal"), region: c.unseal.kmsRegion },
    credentials: {
        accessKeyId: pulumi.secret("AKIAAWSUSERTEST"),
        secretAccessKey: pulumi.secret("aws-user-secret-test"),
    },
});

const awsRoleBinding: BindingOf = (c) => ({
    ...awsUserBinding(c),
    credentials: undefined,
    roleArn: pulumi.output("arn:aws:iam::123456789012:role/prod-example-vault"),
    serviceAccount: { namespace: c.server.namespace, name: VAULT_SERVICE_ACCOUNT },
});

function run(stack: Stack, binding: BindingOf): Promise<Program<VaultServer>> {
    return runProgram(stack, (config, opts) => {
        const provider = new k8s.Provider("k8s", {}, opts);
        return new VaultServer("server", { config, storage: binding(config), provider }, opts);
    });
}

/** The provider reference the engine records for resources of the k8s provider "k8s". */
const PROVIDER_REF = "urn:pulumi:test::secret-platform::pulumi:providers:kubernetes::k8s::k8s-id";

/** The pod annotations the values builder set: all but the credentials checksum VaultServer adds. */
function builderAnnotations(values: Doc): Record<string, unknown> {
    const { [CREDENTIALS_CHECKSUM_ANNOTATION]: checksum, ...rest } = objectAt(values, "server", "annotations");
    assert.match(String(checksum), /^[0-9a-f]{64}$/);
    return rest;
}

function chartOf(p: Program<VaultServer>): RecordedResource {
    return p.find(T.chart, "server-chart");
}

/** The chart's values, as the engine received them. */
function valuesOf(chart: RecordedResource): Doc {
    return objectAt(chart.inputs, "values");
}

/** The server HCL in the chart's values, read by the real HCL parser. */
async function hclOf(chart: RecordedResource): Promise<Doc> {
    return objectAt(await parseHcl("server.hcl", serverHclOf(valuesOf(chart))));
}

/** A NetworkPolicy's spec, by resource name. */
describe("VaultServer", () => {
    describe("homelab stack: Garage storage, Shamir keys, TLS at the ingress", () => {
        let p: Program<VaultServer>;
        before(async () => {
            p = await run(homelabStack(), garageBinding);
        });

        it("registers exactly these resources", () => {
            const mine = p.resources.filter((r) => r.type !== T.provider).map((r) => `${r.type} ${r.name}`);
            assert.deepEqual(
                mine.sort(),
                [
                    `${T.component} server`,
                    `${T.secret} server-storage-credentials`,
                    `${T.namespace} server-namespace`,
                    `${T.chart} server-chart`,
                    `${T.netpol} server-netpol-default-deny`,
                    `${T.netpol} server-netpol-server`,
                    `${T.netpol} server-netpol-unsealer`,
                    `${T.ingress} server-ingress`,
                    `${T.ingress} server-sys-blocked`,
                    `${T.service} server-unrouted`,
                ].sort(),
            );
        });

        it("every child has the component as parent and the explicit k8s provider", () => {
            for (const r of p.resources.filter((x) => x.type !== T.component && x.type !== T.provider)) {
                assert.equal(parentOf(r), p.result, `${r.name} parent`);
                assert.equal(r.provider, PROVIDER_REF, `${r.name} provider`);
            }
        });

        it("the namespace enforces Pod Security restricted and validates", () => {
            const ns = p.find(T.namespace, "server-namespace");
            assert.deepEqual(ns.inputs.metadata, {
                name: "vault",
                labels: {
                    "app.kubernetes.io/managed-by": "pulumi",
                    "app.kubernetes.io/part-of": "secret-platform",
                    ...PSA_LABELS,
                },
            });
            assert.equal(PSA_LABELS["pod-security.kubernetes.io/enforce"], "restricted");
            // It holds the key shares Secret and the audit PVC: never deleted by the stack.
            assert.equal(ns.opts.retainOnDelete, true);
            new Namespace(ns.inputs).validate();
        });

        it("the storage credentials Secret holds the keys as a secret, and validates", () => {
            const s = p.find(T.secret, "server-storage-credentials");
            assert.deepEqual(s.inputs.metadata, {
                name: "vault-storage-credentials",
                namespace: "vault",
                labels: { "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "secret-platform" },
            });
            assert.equal(s.inputs.type, "Opaque");
            const stringData = s.inputs.stringData as Record<string, unknown>;
            assert.equal(stringData[SIG], SECRET_SIG, "stringData reaches the engine as a secret");
            assert.deepEqual(stringData.value, {
                AWS_ACCESS_KEY_ID: "GKtestaccesskey",
                AWS_SECRET_ACCESS_KEY: "test-storage-secret-key",
            });
            // The outputs stay secret too (the SDK's Secret class adds these).
            for (const key of ["data", "stringData"]) assert.ok(s.opts.additionalSecretOutputs?.includes(key));
            new Secret({ ...s.inputs, stringData: stringData.value }).validate();
        });

        it("the chart: v4, pinned version and repo, release vault, explicit provider, values from the builder", async () => {
            const chart = chartOf(p);
            const { values, ...rest } = chart.inputs;
            assert.deepEqual(rest, {
                chart: "vault",
                version: "0.34.1",
                repositoryOpts: { repo: "https://helm.releases.hashicorp.com" },
                name: "vault",
                namespace: "vault",
            });
            assert.equal(chart.opts.provider, only(p.ofType(T.provider), "kubernetes providers").resource);
            const expected = buildVaultValues(p.config, {
                bucket: "vault-amiya",
                region: "garage",
                endpoint: "https://s3.amiya.akn",
                forcePathStyle: true,
                prefix: "vault/",
                storageCredentials: { secretName: "vault-storage-credentials", delivery: "env" },
            });
            // The builder's values plus the credentials checksum (test/unit/rotation.test.ts).
            const doc = objectAt(values);
            const { annotations, ...server } = objectAt(doc, "server");
            assert.match(stringAt(annotations, "vault-platform/start-inputs-checksum"), /^[0-9a-f]{64}$/);
            assert.deepEqual(
                { ...doc, server: { ...server, annotations: builderAnnotations(doc) } },
                JSON.parse(JSON.stringify(expected)),
            );
            const hcl = await hclOf(chart);
            assert.deepEqual(only(at(hcl, "storage", "s3"), "storage.s3"), {
                bucket: "vault-amiya",
                region: "garage",
                endpoint: "https://s3.amiya.akn",
                s3_force_path_style: "true",
                path: "vault/",
            });
            assert.equal(at(hcl, "seal"), undefined, "Shamir: no seal stanza");
        });

        it("the chart waits for the namespace, the credentials Secret and the NetworkPolicies", async () => {
            const deps = await dependsOnOf(chartOf(p));
            const expected = [
                p.find(T.namespace, "server-namespace"),
                p.find(T.secret, "server-storage-credentials"),
                ...p.ofType(T.netpol),
            ].map((r) => r.resource);
            assert.equal(deps.length, expected.length);
            for (const r of expected) assert.ok(deps.includes(r), "missing dependency");
        });

        it("no credential appears in the values, the HCL or any object but the Secret", () => {
            const secrets = ["GKtestaccesskey", "test-storage-secret-key", "test-oidc-client-secret"];
            const values = valuesOf(chartOf(p));
            const serialized = [JSON.stringify(values), serverHclOf(values)];
            for (const r of p.resources.filter((x) => x.type !== T.secret)) {
                serialized.push(JSON.stringify(r.inputs));
            }
            for (const text of serialized) {
                for (const s of secrets) assert.ok(!text.includes(s), "a credential leaked");
            }
        });

        it("every NetworkPolicy the builder makes is a child named, labelled and specified as built; each validates", async () => {
            const raft = homelabStack();
            raft.values.server = { storageBackend: "raft", replicas: 3 };
            for (const [stack, binding] of [
                [homelabStack(), garageBinding],
                [awsStack(), awsUserBinding],
                [raft, garageBinding],
            ] as const) {
                const run1 = await run(stack, binding);
                const built = buildNetworkPolicies(run1.config);
                assert.ok(built.length >= 2, "the builder made the policies");
                const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
                assert.deepEqual(
                    run1
                        .ofType(T.netpol)
                        .map((r) => ({ name: r.name, inputs: r.inputs }))
                        .sort(byName),
                    built
                        .map((b) => ({
                            name: `server-netpol-${b.id}`,
                            inputs: {
                                apiVersion: "networking.k8s.io/v1",
                                kind: "NetworkPolicy",
                                metadata: { name: b.name, namespace: "vault", labels: MANAGED_LABELS },
                                spec: b.spec,
                            },
                        }))
                        .sort(byName),
                );
                for (const r of run1.ofType(T.netpol)) new NetworkPolicy(r.inputs).validate();
            }
        });

        it("the Ingress: host, TLS Secret, backend vault:8200; validates", () => {
            const ing = p.find(T.ingress, "server-ingress");
            assert.deepEqual(objectAt(ing.inputs, "metadata", "annotations"), {});
            assert.deepEqual(ing.inputs.spec, {
                ingressClassName: "nginx",
                tls: [{ hosts: ["vault.amiya.akn"], secretName: "vault-tls" }],
                rules: [
                    {
                        host: "vault.amiya.akn",
                        http: {
                            paths: [
                                {
                                    path: "/",
                                    pathType: "Prefix",
                                    backend: { service: { name: "vault", port: { number: 8200 } } },
                                },
                            ],
                        },
                    },
                ],
            });
            new Ingress(ing.inputs).validate();
        });

        it("outputs: namespace, in-cluster URL, service account, ready", async () => {
            const server = p.result;
            assert.equal(await new Promise((r) => server.namespace.apply(r)), "vault");
            assert.equal(server.internalUrl, "http://vault.vault.svc:8200");
            assert.equal(server.serviceAccountName, "vault");
            assert.ok((await readinessResources(server.ready)).includes(server.chart));
        });
    });

    describe("metrics: a listener of their own, scraped from the monitoring namespace only", () => {
        const metricsListeners = (hcl: string) => hcl.match(/address\s+=\s+"\[::\]:8202"/g)?.length ?? 0;

        it("without a monitoring namespace: no metrics listener, no scrape annotations, no Service", async () => {
            const p = await run(homelabStack(), garageBinding);
            const values = valuesOf(chartOf(p));
            assert.equal(metricsListeners(serverHclOf(values)), 0);
            assert.doesNotMatch(serverHclOf(values), /unauthenticated_metrics_access/);
            assert.deepEqual(builderAnnotations(values), {});
            assert.deepEqual(
                p.ofType("kubernetes:core/v1:Service").map((r) => r.name),
                ["server-unrouted"],
                "only the blocked paths' Service",
            );
        });

        it("annotations (the default): one metrics listener and the prometheus.io pod annotations", async () => {
            const s = homelabStack();
            s.values.networkPolicy.monitoringNamespace = "monitoring";
            const p = await run(s, garageBinding);
            const values = valuesOf(chartOf(p));
            const hcl = serverHclOf(values);
            assert.equal(metricsListeners(hcl), 1);
            assert.equal(hcl.match(/unauthenticated_metrics_access\s+=\s+true/g)?.length, 1);
            assert.deepEqual(builderAnnotations(values), {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": "8202",
                "prometheus.io/path": "/v1/sys/metrics",
                "prometheus.io/scheme": "http",
            });
            assert.deepEqual(p.ofType("kubernetes:monitoring.coreos.com/v1:ServiceMonitor"), []);
        });

        it("serviceMonitor with internal TLS: a metrics Service and a ServiceMonitor verifying the CA", async () => {
            const s = homelabStack();
            s.values.networkPolicy.monitoringNamespace = "monitoring";
            s.values.server = {
                metricsScrape: "serviceMonitor",
                tls: { mode: "internal", secretName: "vault-server-tls" },
            };
            const p = await run(s, garageBinding);
            const values = valuesOf(chartOf(p));
            assert.deepEqual(builderAnnotations(values), {});
            // The documents are the builder's (test/unit/metrics.test.ts); here: names, namespace, labels, wiring.
            const built = buildMetricsScrape(p.config);
            assert.ok(built !== undefined, "the builder makes the scrape objects for this config");
            const service = p.find("kubernetes:core/v1:Service", "server-metrics");
            assert.deepEqual(service.inputs, {
                apiVersion: "v1",
                kind: "Service",
                metadata: {
                    name: "vault-metrics",
                    namespace: "vault",
                    labels: { ...MANAGED_LABELS, ...built.service.labels },
                },
                spec: built.service.spec,
            });
            const monitor = p.find("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "server-service-monitor");
            assert.deepEqual(monitor.inputs, {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "ServiceMonitor",
                metadata: { name: "vault-metrics", namespace: "vault", labels: MANAGED_LABELS },
                spec: built.serviceMonitor.spec,
            });
            const provider = only(p.ofType(T.provider), "kubernetes providers").resource;
            for (const r of [service, monitor]) {
                assert.equal(parentOf(r), p.result, `${r.name} parent`);
                assert.equal(r.opts.provider, provider, `${r.name} provider`);
                assert.equal(r.provider, PROVIDER_REF, `${r.name} provider reference`);
            }
            assert.deepEqual(await dependsOnOf(monitor), [service.resource]);
            // The Ingress and the UI Service never route the metrics port.
            assert.doesNotMatch(JSON.stringify(p.find(T.ingress, "server-ingress").inputs), /8202/);
        });
    });

    it("networkPolicy.enabled false: no NetworkPolicy at all, the chart depends on the rest", async () => {
        const s = homelabStack();
        s.values.networkPolicy = { enabled: false };
        const p = await run(s, garageBinding);
        assert.deepEqual(p.ofType(T.netpol), []);
        const deps = await dependsOnOf(chartOf(p));
        assert.deepEqual(deps, [
            p.find(T.namespace, "server-namespace").resource,
            p.find(T.secret, "server-storage-credentials").resource,
        ]);
    });

    it("exposure httproute: a Gateway API HTTPRoute to vault:8200 and no Ingress; validates", async () => {
        const s = homelabStack();
        s.values.exposure = {
            kind: "httproute",
            gateway: { name: "main", namespace: "gateway", sectionName: "https" },
        };
        const p = await run(s, garageBinding);
        assert.deepEqual(p.ofType(T.ingress), []);
        const route = p.find(T.route, "server-httproute");
        assert.equal(parentOf(route), p.result);
        assert.equal(route.inputs.apiVersion, "gateway.networking.k8s.io/v1");
        assert.equal(route.inputs.kind, "HTTPRoute");
        assert.deepEqual(route.inputs.spec, {
            parentRefs: [
                {
                    group: "gateway.networking.k8s.io",
                    kind: "Gateway",
                    name: "main",
                    namespace: "gateway",
                    sectionName: "https",
                },
            ],
            hostnames: ["vault.amiya.akn"],
            rules: [
                {
                    matches: [{ path: { type: "PathPrefix", value: "/" } }],
                    backendRefs: [{ group: "", kind: "Service", name: "vault", port: 8200 }],
                },
                {
                    matches: BLOCKED.map((value) => ({ path: { type: "PathPrefix", value } })),
                    backendRefs: [{ group: "", kind: "Service", name: "vault-sys-blocked", port: 8200 }],
                },
            ],
        });
        new HTTPRoute(route.inputs).validate();
        // Gateway API: the longest matching PathPrefix wins; the blocked rule's Service never exists (500).
        const rules = at(route.inputs, "spec", "rules") as { matches: any[]; backendRefs: any[] }[];
        const routeTo = (requestPath: string) => {
            let best = { length: -1, backend: "" };
            for (const rule of rules)
                for (const m of rule.matches)
                    if (prefixMatches(m.path.value, requestPath) && m.path.value.length > best.length)
                        best = { length: m.path.value.length, backend: rule.backendRefs[0].name };
            return best.backend;
        };
        assert.deepEqual(
            PROBES.map(([path]) => [path, routeTo(path)]),
            PROBES.map(([path, blocked]) => [path, blocked ? "vault-sys-blocked" : "vault"]),
        );
        assert.deepEqual(p.ofType(T.service), [], "no Service is ever made for the blocked rule");
    });

    describe("the unauthenticated ceremonies are off the exposed route (exposure ingress)", () => {
        /** Ingress path matching: Exact first, then the longest Prefix over every Ingress of the host (merged). */
        const routeTo = (ingresses: RecordedResource[], requestPath: string) => {
            let best = { length: -1, ingress: "", service: "" };
            for (const ing of ingresses)
                for (const rule of at(ing.inputs, "spec", "rules") as any[])
                    for (const p of rule.http.paths)
                        if (prefixMatches(p.path, requestPath) && p.path.length > best.length)
                            best = { length: p.path.length, ingress: ing.name, service: p.backend.service.name };
            return best;
        };

        it("any class: the ceremonies' paths go to a Service with no endpoints, denied to every source", async () => {
            // Any class but traefik is built the same way: ingress-nginx's, HAProxy's, ...
            for (const className of ["nginx", "haproxy"]) {
                const s = homelabStack();
                s.values.exposure = { className };
                const p = await run(s, garageBinding);
                const blocked = p.find(T.ingress, "server-sys-blocked");
                assert.deepEqual(blocked.inputs.metadata, {
                    name: "vault-sys-blocked",
                    namespace: "vault",
                    labels: MANAGED_LABELS,
                    annotations: { "nginx.ingress.kubernetes.io/denylist-source-range": "0.0.0.0/0,::/0" },
                });
                const backend = { service: { name: "vault-unrouted", port: { number: 8200 } } };
                assert.deepEqual(blocked.inputs.spec, {
                    ingressClassName: className,
                    tls: [{ hosts: ["vault.amiya.akn"], secretName: "vault-tls" }],
                    rules: [
                        {
                            host: "vault.amiya.akn",
                            http: { paths: BLOCKED.map((path) => ({ path, pathType: "Prefix", backend })) },
                        },
                    ],
                });
                new Ingress(blocked.inputs).validate();
                const unrouted = p.find(T.service, "server-unrouted");
                // No selector: no endpoints, ever; the controller answers 503.
                assert.deepEqual(unrouted.inputs.spec, {
                    type: "ClusterIP",
                    ports: [{ name: "http", port: 8200, targetPort: 8200 }],
                });
                assert.deepEqual(await dependsOnOf(blocked), [unrouted.resource]);
                assert.deepEqual(await dependsOnOf(p.find(T.ingress, "server-ingress")), [blocked.resource]);
                const both = p.ofType(T.ingress);
                assert.deepEqual(
                    PROBES.map(([path]) => [path, routeTo(both, path).service]),
                    PROBES.map(([path, isBlocked]) => [path, isBlocked ? "vault-unrouted" : "vault"]),
                );
            }
        });

        it("traefik: routed through a Middleware that admits no client (Traefik drops routers without endpoints)", async () => {
            const s = homelabStack();
            s.values.exposure = { className: "traefik" };
            const p = await run(s, garageBinding);
            const blocked = p.find(T.ingress, "server-sys-blocked");
            assert.deepEqual(at(blocked.inputs, "metadata", "annotations"), {
                "traefik.ingress.kubernetes.io/router.middlewares": "vault-vault-sys-blocked@kubernetescrd",
            });
            const middleware = p.find(T.middleware, "server-sys-blocked-middleware");
            assert.deepEqual(middleware.inputs, {
                apiVersion: "traefik.io/v1alpha1",
                kind: "Middleware",
                metadata: { name: "vault-sys-blocked", namespace: "vault", labels: MANAGED_LABELS },
                spec: { ipAllowList: { sourceRange: ["255.255.255.255/32"] } },
            });
            assert.deepEqual(await dependsOnOf(blocked), [middleware.resource]);
            assert.deepEqual(p.ofType(T.service), [], "no endpoint-less Service under Traefik");
            const both = p.ofType(T.ingress);
            assert.deepEqual(
                PROBES.map(([path]) => [path, routeTo(both, path).ingress]),
                PROBES.map(([path, isBlocked]) => [path, isBlocked ? "server-sys-blocked" : "server-ingress"]),
            );
        });

        it("exposure none or httproute: no blocking Ingress, Service or Middleware", async () => {
            for (const exposure of [
                { kind: "none" },
                { kind: "httproute", gateway: { name: "main", namespace: "gateway" } },
            ]) {
                const s = homelabStack();
                s.values.exposure = exposure;
                const p = await run(s, garageBinding);
                assert.deepEqual([...p.ofType(T.ingress), ...p.ofType(T.service), ...p.ofType(T.middleware)], []);
            }
        });
    });

    it("exposure none: neither Ingress nor HTTPRoute", async () => {
        const s = homelabStack();
        s.values.exposure = { kind: "none" };
        const p = await run(s, garageBinding);
        assert.deepEqual(p.ofType(T.ingress), []);
        assert.deepEqual(p.ofType(T.route), []);
    });

    it("cert-manager issuer and internal TLS: ingress annotations and https everywhere", async () => {
        const s = homelabStack();
        s.values.exposure = { className: "nginx", certManagerIssuer: "letsencrypt", certManagerIssuerKind: "Issuer" };
        s.values.server = { tls: { mode: "internal", secretName: "vault-server-tls" } };
        const p = await run(s, garageBinding);
        const ing = p.find(T.ingress, "server-ingress");
        assert.deepEqual(at(ing.inputs, "metadata", "annotations"), {
            "cert-manager.io/issuer": "letsencrypt",
            "nginx.ingress.kubernetes.io/backend-protocol": "HTTPS",
        });
        assert.equal(at(ing.inputs, "spec", "ingressClassName"), "nginx");
        new Ingress(ing.inputs).validate();
        assert.equal(p.result.internalUrl, "https://vault.vault.svc:8200");
        const hcl = await hclOf(chartOf(p));
        assert.equal(
            at(only(at(hcl, "listener", "tcp"), "listener.tcp"), "tls_cert_file"),
            "/vault/userconfig/vault-server-tls/tls.crt",
        );
        assert.equal(hcl.api_addr, "https://vault.vault.svc:8200");
        // Not Traefik: no ServersTransport, no Traefik annotations on the chart's Service.
        assert.deepEqual(p.ofType(T.transport), []);
        assert.equal(at(valuesOf(chartOf(p)), "server", "service"), undefined);
    });

    it("Traefik and internal TLS: a ServersTransport trusting the CA Secret, named by the chart's Service", async () => {
        const s = homelabStack();
        s.values.exposure = { className: "traefik" };
        s.values.server = { tls: { mode: "internal", secretName: "vault-server-tls", caSecretName: "vault-ca" } };
        const p = await run(s, garageBinding);
        const st = p.find(T.transport, "server-servers-transport");
        assert.deepEqual(st.inputs, {
            apiVersion: "traefik.io/v1alpha1",
            kind: "ServersTransport",
            metadata: {
                name: "vault-backend-tls",
                namespace: "vault",
                labels: { "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "secret-platform" },
            },
            spec: { serverName: "vault.vault.svc", rootCAs: [{ secret: "vault-ca" }] },
        });
        assert.equal(parentOf(st), p.result);
        // The Ingress's backend is Service `vault`: its annotations come from server.service.annotations.
        assert.deepEqual(at(valuesOf(chartOf(p)), "server", "service"), {
            annotations: {
                "traefik.ingress.kubernetes.io/service.serversscheme": "https",
                "traefik.ingress.kubernetes.io/service.serverstransport": "vault-vault-backend-tls@kubernetescrd",
            },
        });
        const ing = p.find(T.ingress, "server-ingress");
        assert.deepEqual(objectAt(ing.inputs, "metadata", "annotations"), {});
        const rule = only(at(ing.inputs, "spec", "rules"), "spec.rules");
        assert.deepEqual(at(only(at(rule, "http", "paths"), "http.paths"), "backend"), {
            service: { name: "vault", port: { number: 8200 } },
        });
    });

    it("Traefik and internal TLS without caSecretName: the TLS Secret's own ca.crt", async () => {
        const s = homelabStack();
        s.values.exposure = { className: "traefik" };
        s.values.server = { tls: { mode: "internal", secretName: "vault-server-tls" } };
        const p = await run(s, garageBinding);
        assert.deepEqual(at(p.find(T.transport, "server-servers-transport").inputs, "spec"), {
            serverName: "vault.vault.svc",
            rootCAs: [{ secret: "vault-server-tls" }],
        });
    });

    it("Traefik with TLS at the ingress: plain http to the pods, no ServersTransport, no Service annotations", async () => {
        const s = homelabStack();
        s.values.exposure = { className: "traefik" };
        const p = await run(s, garageBinding);
        assert.deepEqual(p.ofType(T.transport), []);
        assert.equal(at(valuesOf(chartOf(p)), "server", "service"), undefined);
    });

    it("aws with an IAM user: the Secret feeds both the S3 backend and the awskms seal", async () => {
        const p = await run(awsStack(), awsUserBinding);
        const s = p.find(T.secret, "server-storage-credentials");
        assert.deepEqual(secretInput(s.inputs.stringData), {
            AWS_ACCESS_KEY_ID: "AKIAAWSUSERTEST",
            AWS_SECRET_ACCESS_KEY: "aws-user-secret-test",
        });
        const text = JSON.stringify(valuesOf(chartOf(p)));
        assert.ok(!text.includes("AKIAAWSUSERTEST") && !text.includes("aws-user-secret-test"));
        const hcl = await hclOf(chartOf(p));
        assert.deepEqual(at(hcl, "seal", "awskms"), [
            { region: "eu-west-1", kms_key_id: "arn:aws:kms:eu-west-1:123456789012:key/seal" },
        ]);
        assert.equal(
            at(only(at(hcl, "storage", "s3"), "storage.s3"), "kms_key_id"),
            "arn:aws:kms:eu-west-1:123456789012:key/storage",
        );
    });

    it("aws with IRSA: no credential Secret, the service account carries the role", async () => {
        const s = awsStack();
        s.values.storage.identity = "role";
        s.values.storage.irsa = {
            oidcProviderArn: "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC",
            oidcProviderUrl: "oidc.eks.eu-west-1.amazonaws.com/id/ABC",
        };
        const p = await run(s, awsRoleBinding);
        assert.deepEqual(p.ofType(T.secret), []);
        const values = valuesOf(chartOf(p));
        assert.deepEqual(at(values, "server", "serviceAccount", "annotations"), {
            "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/prod-example-vault",
        });
        assert.deepEqual(at(values, "server", "extraSecretEnvironmentVars"), []);
    });

    it("Garage with an AWS KMS seal: the seal's keys go in their own Secret, read as files", async () => {
        const s = homelabStack();
        s.values.unseal = {
            mode: "awskms",
            kmsKeyId: "arn:aws:kms:eu-central-1:123456789012:key/abc",
            kmsRegion: "eu-central-1",
        };
        s.values.networkPolicy.egress.kms = KMS_EGRESS;
        // A pasted key with a trailing newline: Vault reads file:// values byte for byte, so it is trimmed.
        s.secrets.sealAccessKeyId = "AKIASEALTEST\n";
        s.secrets.sealSecretAccessKey = "seal-secret-test";
        const p = await run(s, garageBinding);
        const storage = p.find(T.secret, "server-storage-credentials");
        assert.deepEqual(secretInput(storage.inputs.stringData), {
            credentials:
                "[default]\naws_access_key_id = GKtestaccesskey\naws_secret_access_key = test-storage-secret-key\n",
        });
        const seal = p.find(T.secret, "server-seal-credentials");
        assert.equal(at(seal.inputs, "metadata", "name"), "vault-seal-credentials");
        assert.deepEqual(secretInput(seal.inputs.stringData), {
            "access-key-id": "AKIASEALTEST",
            "secret-access-key": "seal-secret-test",
        });
        const deps = await dependsOnOf(chartOf(p));
        assert.ok(deps.includes(seal.resource) && deps.includes(storage.resource));
        const values = valuesOf(chartOf(p));
        // No AWS key in the env: Vault would map it over the seal stanza's keys.
        assert.deepEqual(at(values, "server", "extraSecretEnvironmentVars"), []);
        assert.deepEqual(at(values, "server", "extraEnvironmentVars"), {
            AWS_SHARED_CREDENTIALS_FILE: "/vault/userconfig/vault-storage-credentials/credentials",
        });
        const hclText = serverHclOf(values);
        for (const secret of ["AKIASEALTEST", "seal-secret-test", "GKtestaccesskey", "test-storage-secret-key"]) {
            assert.ok(!JSON.stringify(values).includes(secret) && !hclText.includes(secret), "a credential leaked");
        }
        const hcl = objectAt(await parseHcl("server.hcl", hclText));
        assert.deepEqual(only(at(hcl, "seal", "awskms"), "seal.awskms"), {
            region: "eu-central-1",
            kms_key_id: "arn:aws:kms:eu-central-1:123456789012:key/abc",
            access_key: "file:///vault/userconfig/vault-seal-credentials/access-key-id",
            secret_key: "file:///vault/userconfig/vault-seal-credentials/secret-access-key",
        });
    });

    it("raft HA: the namespace is retained on delete; no Secret in the pod", async () => {
        const s = homelabStack();
        s.values.server = { storageBackend: "raft", replicas: 3 };
        const p = await run(s, garageBinding);
        assert.equal(p.find(T.namespace, "server-namespace").opts.retainOnDelete, true);
        const values = valuesOf(chartOf(p));
        assert.equal(at(values, "server", "ha", "replicas"), 3);
        // Raft does not use the S3 credentials and Shamir has no seal: no Secret in the pod.
        assert.deepEqual(p.ofType(T.secret), []);
        assert.deepEqual(at(values, "server", "extraSecretEnvironmentVars"), []);
    });

    describe("wired into the platform with the real VaultStorage", () => {
        it("homelab: the storage binding's bucket and keys reach the chart and its Secret", async () => {
            const p = await runProgram(homelabStack(), buildPlatform);
            const chart = p.find(T.chart, "platform-server-chart");
            assert.equal(parentOf(chart), p.result.server);
            assert.match(String(chart.provider), /pulumi:providers:kubernetes::platform-k8s::/);
            const hcl = await hclOf(chart);
            assert.deepEqual(only(at(hcl, "storage", "s3"), "storage.s3"), {
                bucket: "vault-amiya",
                region: "garage",
                endpoint: "https://s3.amiya.akn",
                s3_force_path_style: "true",
                path: "vault/",
            });
            const secret = p.find(T.secret, "platform-server-storage-credentials");
            assert.deepEqual(secretInput(secret.inputs.stringData), {
                AWS_ACCESS_KEY_ID: "GKtestaccesskey",
                AWS_SECRET_ACCESS_KEY: "test-storage-secret-key",
            });
        });

        it("aws: the created keys' ARNs reach the HCL, the IAM user's key only the Secret", async () => {
            const p = await runProgram(awsStack(), buildPlatform);
            const chart = p.find(T.chart, "platform-server-chart");
            const hcl = await hclOf(chart);
            assert.match(stringAt(only(at(hcl, "storage", "s3"), "storage.s3"), "kms_key_id"), /^arn:aws:kms:/);
            assert.match(stringAt(only(at(hcl, "seal", "awskms"), "seal.awskms"), "kms_key_id"), /^arn:aws:kms:/);
            const secret = p.find(T.secret, "platform-server-storage-credentials");
            const keys = objectAt(secretInput(secret.inputs.stringData));
            assert.deepEqual(Object.keys(keys).sort(), ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
            const text = JSON.stringify(valuesOf(chart));
            for (const key of Object.keys(keys)) {
                assert.ok(!text.includes(stringAt(keys, key)), "a credential leaked");
            }
        });
    });

    it("refuses an IRSA role that trusts another service account than Vault's", async () => {
        await assert.rejects(
            run(awsStack(), (c) => ({
                ...awsRoleBinding(c),
                serviceAccount: { namespace: "vault", name: "vault-server" },
            })),
            (e: Error) =>
                e.message.includes(
                    "the storage IAM role trusts service account vault/vault-server, but Vault runs as vault/vault",
                ),
        );
    });

    it("refuses seal credentials when the seal is Shamir", async () => {
        await assert.rejects(
            run(homelabStack(), (c) => ({
                ...garageBinding(c),
                sealCredentials: { accessKeyId: pulumi.secret("a"), secretAccessKey: pulumi.secret("b") },
            })),
            (e: Error) => e.message.includes("seal credentials were given but unseal.mode is not awskms"),
        );
    });

    it("refuses an awskms seal without a seal key, naming the problem", async () => {
        await assert.rejects(
            run(awsStack(), (c) => ({ ...awsUserBinding(c), seal: undefined })),
            (e: Error) =>
                e.message.includes(
                    "unseal.mode is awskms but the storage binding has no seal key (VaultStorage must provide one)",
                ),
        );
    });
});
