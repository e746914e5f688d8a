/**
 * The platform seen from pods on the node (issue 21, section 4, steps 2-4):
 * a consumer pod reads a secret through a store's own spec, the
 * NetworkPolicies hold both ways (each denial beside its positive control),
 * and a deleted Vault pod comes back unsealed by the unsealer alone.
 *
 * Pods here run with the project's security context: busybox pods probe
 * connections with `nc -z`; the consumer runs the Vault image's CLI. A token
 * read in a pod stays in the pod: it is never in an argument list or printed.
 */
import { Cluster, expectStatus } from "./rig/kube";
import { apply } from "./node/identity";
import { CLUSTER_DOMAIN, Node } from "./node/node";
import { PodRef, PROJECT_CONTAINER_SECURITY, PROJECT_POD_SECURITY } from "./node/pods";
import { Endpoint } from "./node/relays";

/** Where a projected ServiceAccount token is mounted in a consumer pod. */
const TOKEN_DIR = "/var/run/secrets/vault-login";
const CONNECT_SECONDS = 3;

function check(ok: boolean, what: string, seen: unknown): void {
    if (!ok) throw new Error(`check failed: ${what}; seen: ${JSON.stringify(seen).slice(0, 2000)}`);
}

export interface ProbePod extends PodRef {
    readonly podIp: string;
}

/** Applies a namespace (idempotent: the stack may have made it). */
export async function ensureNamespace(cluster: Cluster, name: string): Promise<void> {
    await apply(cluster, `/api/v1/namespaces/${name}`, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
}

/**
 * A busybox pod that sleeps, for probes run in it: `labels` (e.g. the
 * unsealer's, so that its NetworkPolicy selects it), and with `login` a
 * projected token of that ServiceAccount for those audiences.
 */
export async function probePod(
    cluster: Cluster,
    node: Node,
    ref: PodRef,
    opts: {
        labels?: Record<string, string>;
        login?: { serviceAccount: string; audiences?: readonly string[] };
        /** The pod's image (default: the node's busybox). */
        image?: string;
    } = {},
): Promise<ProbePod> {
    const login = opts.login;
    expectStatus(
        `create pod ${ref.namespace}/${ref.name}`,
        await cluster.request("POST", `/api/v1/namespaces/${ref.namespace}/pods`, {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: ref.name, namespace: ref.namespace, labels: { ...opts.labels, "e2e-probe": ref.name } },
            spec: {
                automountServiceAccountToken: false,
                ...(login === undefined ? {} : { serviceAccountName: login.serviceAccount }),
                securityContext: PROJECT_POD_SECURITY,
                terminationGracePeriodSeconds: 1,
                containers: [
                    {
                        name: "main",
                        image: opts.image ?? node.images.busybox,
                        imagePullPolicy: "Never",
                        command: ["sleep", "3600"],
                        securityContext: PROJECT_CONTAINER_SECURITY,
                        ...(login === undefined
                            ? {}
                            : { volumeMounts: [{ name: "vault-login", mountPath: TOKEN_DIR, readOnly: true }] }),
                    },
                ],
                ...(login === undefined
                    ? {}
                    : {
                          volumes: [
                              {
                                  name: "vault-login",
                                  projected: {
                                      sources: (login.audiences ?? [undefined]).map((audience) => ({
                                          serviceAccountToken: {
                                              path: audience ?? "token",
                                              expirationSeconds: 600,
                                              ...(audience === undefined ? {} : { audience }),
                                          },
                                      })),
                                  },
                              },
                          ],
                      }),
            },
        }),
    );
    const running = await node.waitPodRunning(ref);
    return { ...ref, podIp: running.podIp };
}

/**
 * Whether a TCP connection from the pod to host:port is made within
 * CONNECT_SECONDS. Busybox's nc has no -z: it connects with nothing to send
 * and exits 0 once the peer closes (1 when it cannot connect); a peer that
 * keeps the connection open is cut by `timeout` (143), which still means it
 * connected.
 */
export async function connects(node: Node, pod: PodRef, container: string, to: Endpoint): Promise<boolean> {
    const res = await node.exec(pod, container, [
        "/bin/sh",
        "-c",
        `timeout ${CONNECT_SECONDS + 3} nc -w ${CONNECT_SECONDS} ${to.host} ${to.port} </dev/null >/dev/null`,
    ]);
    return res.code === 0 || res.code === 143;
}

export interface StoreView {
    readonly server: string;
    readonly path: string;
    readonly version: string;
    readonly mountPath: string;
    readonly role: string;
    readonly serviceAccount: { readonly name: string; readonly namespace: string; readonly audiences?: string[] };
}

/** The fields of a ClusterSecretStore's Vault provider that a consumer uses, from the API server. */
export async function storeView(cluster: Cluster, store: string): Promise<StoreView> {
    const res = await cluster.request("GET", `/apis/external-secrets.io/v1/clustersecretstores/${store}`);
    check(res.status === 200, `ClusterSecretStore ${store}`, res.status);
    const v = res.body.spec.provider.vault;
    const k = v.auth.kubernetes;
    return {
        server: v.server,
        path: v.path,
        version: v.version ?? "v2",
        mountPath: k.mountPath ?? "kubernetes",
        role: k.role,
        serviceAccount: {
            name: k.serviceAccountRef.name,
            namespace: k.serviceAccountRef.namespace,
            ...(k.serviceAccountRef.audiences === undefined ? {} : { audiences: k.serviceAccountRef.audiences }),
        },
    };
}

export function endpointOf(url: string): Endpoint {
    const u = new URL(url);
    return { host: u.hostname, port: Number(u.port || (u.protocol === "https:" ? 443 : 80)) };
}

/**
 * A login through the store's Kubernetes auth with the pod's projected token,
 * then a read of `key` at the store's path, all from the pod with the Vault
 * CLI of the Vault image (a real client: busybox's nc ends a request when its
 * input ends, and Vault cancels a request whose client has gone). The JWT is
 * read from its file by the CLI (`jwt=@file`), the Vault token moves through
 * the shell's variables and the CLI's environment only, and is revoked at the
 * end. Returns the read's JSON (or what came back).
 */
export async function readFromPod(node: Node, pod: PodRef, store: StoreView, key: string): Promise<string> {
    const tokenFile = `${TOKEN_DIR}/${store.serviceAccount.audiences?.[0] ?? "token"}`;
    const read =
        store.version === "v2"
            ? `vault kv get -format=json -mount=${store.path} ${key}`
            : `vault read -format=json ${store.path}/${key}`;
    const res = await node.exec(pod, "main", [
        "/bin/sh",
        "-c",
        [
            "set -u",
            `export VAULT_ADDR=${store.server}`,
            `if ! token=$(vault write -field=token auth/${store.mountPath}/login role=${store.role} jwt=@${tokenFile}); then echo "LOGIN FAILED"; exit 1; fi`,
            `VAULT_TOKEN=$token ${read}; status=$?`,
            `VAULT_TOKEN=$token vault token revoke -self >/dev/null`,
            `exit $status`,
        ].join("\n"),
    ]);
    return `${res.stdout}${res.code === 0 ? "" : `\n(exit ${res.code}) ${res.stderr}`}`;
}

/** The value of `property` in a KV v2 read's JSON body, or undefined. */
export function kvValue(body: string, property: string): string | undefined {
    const start = body.indexOf("{");
    if (start < 0) return undefined;
    try {
        const doc = JSON.parse(body.slice(start)) as { data?: { data?: Record<string, unknown> } };
        const value = doc.data?.data?.[property];
        return typeof value === "string" ? value : undefined;
    } catch {
        return undefined;
    }
}

/** The Vault pod and what the steps below need of the rig. */
export interface InCluster {
    readonly cluster: Cluster;
    readonly node: Node;
    readonly vaultNamespace: string;
    readonly monitoringNamespace: string;
    /** Where pods reach the S3 server, the API server (its node address) and the OIDC issuer. */
    readonly s3: Endpoint;
    readonly apiServer: Endpoint;
    readonly oidc: Endpoint;
    /** The OIDC provider again, on a port no stack lists: a live peer Vault's egress must not reach. */
    readonly unlisted: Endpoint;
    /** The Vault image built here: the consumer's client (the Vault CLI). */
    readonly vaultImage: string;
}

const VAULT_POD = "vault-0";

async function podIp(cluster: Cluster, ns: string, name: string): Promise<string> {
    const res = await cluster.request("GET", `/api/v1/namespaces/${ns}/pods/${name}`);
    check(res.status === 200 && typeof res.body.status?.podIP === "string", `pod ${ns}/${name} has an IP`, res.status);
    return res.body.status.podIP as string;
}

/**
 * Step 1's pod: vault-0 runs the chart's pod spec as the StatefulSet holds it
 * (containers field by field), with the rig's image at the version built, as
 * uid 100 with no capabilities, and its process is the entrypoint's `vault
 * server` under dumb-init.
 */
export async function proveVaultPod(c: InCluster, image: string, log: (m: string) => void): Promise<void> {
    const ns = c.vaultNamespace;
    const pod = (await c.cluster.request("GET", `/api/v1/namespaces/${ns}/pods/${VAULT_POD}`)).body;
    const sts = (await c.cluster.request("GET", `/apis/apps/v1/namespaces/${ns}/statefulsets/vault`)).body;
    const fields = [
        "name",
        "image",
        "command",
        "args",
        "env",
        "ports",
        "volumeMounts",
        "securityContext",
        "readinessProbe",
    ];
    // The ServiceAccount admission adds its token mount (kube-api-access-*) to the pod, never to the template.
    const admitted = (m: { name: string }) => !m.name.startsWith("kube-api-access-");
    const pick = (containers: Record<string, unknown>[]) =>
        containers.map((ct) =>
            Object.fromEntries(
                fields.map((f) => [
                    f,
                    f === "volumeMounts" ? ((ct[f] ?? []) as { name: string }[]).filter(admitted) : ct[f],
                ]),
            ),
        );
    const running = pick(pod.spec.containers);
    const template = pick(sts.spec.template.spec.containers);
    check(JSON.stringify(running) === JSON.stringify(template), "vault-0 runs the StatefulSet's containers exactly", {
        running,
        template,
    });
    check(
        JSON.stringify(pod.spec.securityContext) === JSON.stringify(sts.spec.template.spec.securityContext),
        "vault-0 has the template's pod security context",
        pod.spec.securityContext,
    );
    check(pod.spec.containers[0].image === image, `vault-0 runs ${image}`, pod.spec.containers[0].image);
    const vault = pod.spec.containers[0].name as string;
    const ps = await c.node.exec({ namespace: ns, name: VAULT_POD }, vault, [
        "/bin/sh",
        "-c",
        "id -u; grep -E '^CapEff:' /proc/self/status; for p in /proc/[0-9]*; do tr '\\0' ' ' <$p/cmdline 2>/dev/null; echo; done",
    ]);
    const [uid, capEff, ...processes] = ps.stdout.trim().split("\n");
    check(uid === "100", "Vault's container runs as uid 100", uid);
    check(/^CapEff:\s*0+$/.test(capEff ?? ""), "no effective capabilities", capEff);
    // The chart's command (sh -ec) runs the image's entrypoint, whose interpreter line is dumb-init, which runs Vault.
    const entrypoint = processes.find((p) =>
        p.startsWith("/usr/bin/dumb-init /bin/sh /usr/local/bin/docker-entrypoint.sh"),
    );
    const server = processes.find((p) => /^vault server -config=/.test(p));
    check(entrypoint !== undefined, "dumb-init runs the image's docker-entrypoint.sh", processes);
    check(server !== undefined, "the entrypoint runs `vault server -config=...`", processes);
    log(
        `  ${ns}/${VAULT_POD} runs the StatefulSet's containers exactly (${fields.join(", ")}): ${image}, uid 100, no capabilities, ` +
            `dumb-init -> docker-entrypoint.sh -> ${String(server).trim().slice(0, 80)}`,
    );
}

/**
 * Step 2: a pod in the store's ServiceAccount namespace, running as it with a
 * projected token for the store's audiences, resolves the store's server
 * through CoreDNS, logs in and reads `key`; a pod in `tenant` cannot even
 * connect. Returns the value read.
 */
export async function proveConsumerPod(
    c: InCluster,
    store: StoreView,
    tenant: ProbePod,
    key: string,
    expected: string,
    log: (m: string) => void,
): Promise<void> {
    const sa = store.serviceAccount;
    const consumer = await probePod(
        c.cluster,
        c.node,
        { namespace: sa.namespace, name: "e2e-consumer" },
        { login: { serviceAccount: sa.name, audiences: sa.audiences }, image: c.vaultImage },
    );
    const server = endpointOf(store.server);
    // busybox's nslookup does not walk the search list as the resolver does: ask for the name it completes to.
    const fqdn = server.host.endsWith(`.${CLUSTER_DOMAIN}`) ? server.host : `${server.host}.${CLUSTER_DOMAIN}`;
    const dns = await c.node.exec(consumer, "main", ["nslookup", fqdn]);
    check(dns.code === 0, `CoreDNS resolves ${fqdn} for the consumer`, dns.stdout + dns.stderr);
    const start = Date.now();
    const body = await readFromPod(c.node, consumer, store, key);
    if (kvValue(body, "value") !== expected) {
        // What the API server says of the pod's token (reviewed by the rig, never printed), for the failure's report.
        const token = await c.node.exec(consumer, "main", ["cat", `${TOKEN_DIR}/${sa.audiences?.[0] ?? "token"}`]);
        const review = await c.cluster.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
            apiVersion: "authentication.k8s.io/v1",
            kind: "TokenReview",
            spec: { token: token.stdout.trim(), ...(sa.audiences === undefined ? {} : { audiences: sa.audiences }) },
        });
        const payload = Buffer.from(token.stdout.split(".")[1] ?? "", "base64url").toString();
        const claims = (payload === "" ? {} : JSON.parse(payload)) as { aud?: unknown; iss?: string; sub?: string };
        throw new Error(
            `check failed: the consumer pod reads ${key} through the store; seen: ${body.slice(0, 400)}; the API server's review of its token: ` +
                `${JSON.stringify(review.body?.status)}; its claims aud=${JSON.stringify(claims.aud)} iss=${claims.iss} sub=${claims.sub}`,
        );
    }
    const readMs = Date.now() - start;
    check(await connects(c.node, consumer, "main", server), "positive control: the consumer connects to Vault", "");
    check(
        !(await connects(c.node, tenant, "main", server)),
        `a pod in ${tenant.namespace} cannot connect to ${store.server}`,
        "",
    );
    log(
        `  consumer pod ${sa.namespace}/e2e-consumer (ServiceAccount ${sa.name}, token audiences ${JSON.stringify(sa.audiences ?? ["<API server>"])}): ` +
            `resolves ${server.host} through CoreDNS, logs in at auth/${store.mountPath} role ${store.role} and reads ${store.path}/${key} in ${readMs} ms; ` +
            `the same Service from ${tenant.namespace}: no connection`,
    );
}

/** Step 3: the NetworkPolicies both ways, each denial beside a connection that works. */
export async function proveNetworkPolicies(
    c: InCluster,
    pods: { consumer: PodRef; tenant: ProbePod; monitoring: ProbePod },
    vaultService: Endpoint,
    log: (m: string) => void,
): Promise<void> {
    const ns = c.vaultNamespace;
    const vaultIp = await podIp(c.cluster, ns, VAULT_POD);
    const vaultPod = { namespace: ns, name: VAULT_POD };
    const corednsIp = await podIp(c.cluster, "kube-system", "coredns");
    const can = (pod: PodRef, container: string, to: Endpoint) => connects(c.node, pod, container, to);
    const rows: [string, boolean, boolean][] = [];
    const expectRow = async (what: string, pod: PodRef, container: string, to: Endpoint, want: boolean) => {
        const got = await can(pod, container, to);
        rows.push([`${what} (${pod.namespace}/${pod.name} -> ${to.host}:${to.port})`, want, got]);
        check(got === want, `${what}: ${want ? "connects" : "refused"}`, { pod, to, got });
    };
    const metrics = { host: vaultIp, port: 8202 };
    const listener = { host: vaultIp, port: 8200 };
    await expectRow("8200 from the consumer's namespace", pods.consumer, "main", listener, true);
    await expectRow("8200 from an unlisted namespace", pods.tenant, "main", listener, false);
    await expectRow("8200 through the Service from an unlisted namespace", pods.tenant, "main", vaultService, false);
    await expectRow("8202 from the monitoring namespace", pods.monitoring, "main", metrics, true);
    await expectRow("8202 from an unlisted namespace", pods.tenant, "main", metrics, false);
    await expectRow("8202 from the consumer's namespace", pods.consumer, "main", metrics, false);
    await expectRow("Vault's egress to S3", vaultPod, "vault", c.s3, true);
    await expectRow("Vault's egress to the API server", vaultPod, "vault", c.apiServer, true);
    await expectRow("Vault's egress to the OIDC issuer", vaultPod, "vault", c.oidc, true);
    await expectRow(
        "a live port no rule lists, from an unlisted namespace (control)",
        pods.tenant,
        "main",
        c.unlisted,
        true,
    );
    await expectRow("Vault's egress to that unlisted port", vaultPod, "vault", c.unlisted, false);
    const corednsHealth = { host: corednsIp, port: 8080 };
    await expectRow(
        "CoreDNS's health port from an unlisted namespace (control)",
        pods.tenant,
        "main",
        corednsHealth,
        true,
    );
    await expectRow(
        "Vault's egress to CoreDNS's health port (a peer, not DNS)",
        vaultPod,
        "vault",
        corednsHealth,
        false,
    );

    // The unsealer's policy, on a pod with the unsealer's own labels (read from its CronJob).
    const cron = await c.cluster.request("GET", `/apis/batch/v1/namespaces/${ns}/cronjobs/vault-unsealer`);
    check(cron.status === 200, "the unsealer CronJob", cron.status);
    const labels = cron.body.spec.jobTemplate.spec.template.metadata.labels as Record<string, string>;
    const unsealer = await probePod(c.cluster, c.node, { namespace: ns, name: "e2e-unsealer-peer" }, { labels });
    await expectRow("the unsealer's labels: Vault's API", unsealer, "main", listener, true);
    const dns = await c.node.exec(unsealer, "main", ["nslookup", `vault.${ns}.svc.cluster.local`]);
    check(dns.code === 0, "the unsealer's labels: DNS answers", dns.stdout + dns.stderr);
    rows.push(["the unsealer's labels: DNS (nslookup)", true, true]);
    await expectRow("the unsealer's labels: S3", unsealer, "main", c.s3, false);
    await expectRow("the unsealer's labels: the API server", unsealer, "main", c.apiServer, false);
    await expectRow("the unsealer's labels: the metrics port", unsealer, "main", metrics, false);
    await expectRow("the unsealer's labels: an unlisted live port", unsealer, "main", c.unlisted, false);
    await c.cluster.request("DELETE", `/api/v1/namespaces/${ns}/pods/e2e-unsealer-peer?gracePeriodSeconds=0`);
    log(`  NetworkPolicies (kube-router), each from a pod, ${rows.length} connections:`);
    for (const [what, want, got] of rows)
        log(`    ${got ? "connects" : "refused "} ${want === got ? "as required" : "WRONG"}: ${what}`);
}

export interface RestartFigures {
    /** From the delete to the new pod answering sealed. */
    readonly deleteToSealedMs: number;
    /** From the first sealed answer to unsealed (the unsealer's schedule dominates). */
    readonly sealedToUnsealedMs: number;
}

/**
 * Step 4: vault-0 deleted; the StatefulSet makes a new pod, which starts
 * sealed; the unsealer (its CronJob, no human step) unseals it.
 * `sealStatus` asks the Service through the rig's relay.
 */
export async function proveRestart(
    c: InCluster,
    sealStatus: () => Promise<{ initialized: boolean; sealed: boolean } | undefined>,
    log: (m: string) => void,
): Promise<RestartFigures> {
    const ns = c.vaultNamespace;
    const before = (await c.cluster.request("GET", `/api/v1/namespaces/${ns}/pods/${VAULT_POD}`)).body.metadata.uid;
    const deleted = Date.now();
    expectStatus("delete vault-0", await c.cluster.request("DELETE", `/api/v1/namespaces/${ns}/pods/${VAULT_POD}`));
    let sealedAt = 0;
    const deadline = deleted + 300_000;
    for (;;) {
        const pod = await c.cluster.request("GET", `/api/v1/namespaces/${ns}/pods/${VAULT_POD}`);
        const fresh = pod.status === 200 && pod.body.metadata.uid !== before;
        const status = fresh ? await sealStatus().catch(() => undefined) : undefined;
        if (status !== undefined && sealedAt === 0) {
            // A Shamir-sealed Vault always starts sealed; an unsealer Job already waiting for the pod may unseal it
            // before the first poll (seen under load). Nobody else unseals here, so that still shows the unsealer.
            check(status.initialized, "the new pod starts initialized (not a fresh Vault)", status);
            if (!status.sealed)
                log("  the new pod was unsealed before the first poll (an unsealer Job was waiting for it)");
            sealedAt = Date.now();
        }
        if (status !== undefined && !status.sealed) break;
        if (Date.now() > deadline)
            throw new Error(`vault-0 was not unsealed within 300 s of its delete (sealed seen: ${sealedAt > 0})`);
        await new Promise((r) => setTimeout(r, 500));
    }
    const figures = { deleteToSealedMs: sealedAt - deleted, sealedToUnsealedMs: Date.now() - sealedAt };
    log(
        `  vault-0 deleted: the new pod answered sealed ${figures.deleteToSealedMs} ms later and was unsealed by the unsealer ` +
            `${figures.sealedToUnsealedMs} ms after that (no human step)`,
    );
    return figures;
}
