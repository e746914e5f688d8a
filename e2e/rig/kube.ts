/**
 * A real Kubernetes control plane on loopback, without kubelets: etcd,
 * kube-apiserver (TLS and client certs from the rig CA, an admin in a token
 * file, ServiceAccount tokens signed by the rig's key, RBAC) and
 * kube-controller-manager with only the controllers a destroy needs
 * (namespace deletion, garbage collection, ServiceAccounts and their CA
 * ConfigMap). There is no kubelet and no container runtime: pods stay
 * Pending, so nothing the e2e deploys may wait on a pod.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import * as YAML from "yaml";
import { RigCa } from "./pki";
import { serviceAccountKeyPair } from "./pki";
import { freePort, Rig, RigProcess } from "./processes";

const ETCD_READY_MS = 30_000;
const APISERVER_READY_MS = 120_000;
const CONTROLLERS_READY_MS = 60_000;
export const KUBE_CONTEXT = "secret-platform-e2e";
/** The Services' range (the `kubernetes` Service takes its first address). */
export const SERVICE_CIDR = "10.96.0.0/16";
/** What a destroy needs: namespaces emptied and removed, owned objects collected; and what ServiceAccount users need. */
const DESTROY_CONTROLLERS = [
    "namespace",
    "garbagecollector",
    "serviceaccount",
    "serviceaccount-token",
    "root-ca-cert-publisher",
];

export interface KubeBinaries {
    readonly etcd: string;
    readonly kubeApiserver: string;
    readonly kubeControllerManager: string;
}

export interface KubeResponse {
    readonly status: number;
    readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface Cluster {
    /** https://127.0.0.1:<port> */
    readonly server: string;
    /** A kubeconfig whose context KUBE_CONTEXT is the admin (client certificate; file paths only). */
    readonly kubeconfig: string;
    readonly context: string;
    /** The ServiceAccount tokens' issuer (what Vault's Kubernetes auth must expect). */
    readonly issuer: string;
    /** The CA of the API server's serving certificate (the rig CA). */
    readonly caFile: string;
    /** A request as the admin; JSON in and out. Throws only on transport errors. */
    request(method: string, urlPath: string, body?: unknown, contentType?: string): Promise<KubeResponse>;
    readonly processes: readonly RigProcess[];
}

function httpRequest(
    url: string,
    opts: https.RequestOptions,
    body?: string,
): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
        const req = https.request(url, { ...opts, timeout: 30_000 }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
            res.on("error", reject);
        });
        req.on("timeout", () => req.destroy(new Error(`timeout: ${opts.method ?? "GET"} ${url}`)));
        req.on("error", reject);
        if (body !== undefined) req.write(body);
        req.end();
    });
}

async function etcdHealthy(url: string): Promise<boolean> {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    const body = (await res.json()) as { health?: string };
    return res.ok && body.health === "true";
}

/** What a node (e2e/node/) adds to the control plane; nothing by default. */
export interface ClusterOptions {
    /** More IP SANs in the API server's certificate: where a node's pods reach it (the `kubernetes` Service IP, the node's address). */
    readonly extraServingIps?: readonly string[];
    /** Controllers beside the destroy set (e.g. endpointslice for Services with pods behind them). */
    readonly extraControllers?: readonly string[];
}

/** Starts etcd, kube-apiserver and kube-controller-manager; resolves when all three answer. */
export async function startCluster(
    rig: Rig,
    ca: RigCa,
    bins: KubeBinaries,
    log = console.log,
    opts: ClusterOptions = {},
): Promise<Cluster> {
    const dir = rig.subdir("kube");
    const [etcdClient, etcdPeer, apiPort, kcmPort] = [
        await freePort(),
        await freePort(),
        await freePort(),
        await freePort(),
    ];

    // etcd: one member, plain http on loopback (only the API server talks to it).
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    const etcd = rig.start("etcd", bins.etcd, [
        "--name=rig",
        `--data-dir=${rig.subdir("kube/etcd-data")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=rig=${peerUrl}`,
        "--initial-cluster-state=new",
        "--log-level=warn",
    ]);
    const etcdMs = await rig.waitReady(etcd, `health at ${etcdUrl}/health`, () => etcdHealthy(etcdUrl), ETCD_READY_MS);
    log(`  etcd ready on ${etcdUrl} in ${etcdMs} ms`);

    const serving = await ca.issueServer("kube-apiserver", {
        dnsNames: ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
        ips: ["127.0.0.1", ...(opts.extraServingIps ?? [])],
    });
    const admin = await ca.issueClient("kube-admin", { commonName: "e2e-admin", organizations: ["system:masters"] });
    const kcmClient = await ca.issueClient("kube-controller-manager", { commonName: "system:kube-controller-manager" });
    const sa = serviceAccountKeyPair(dir);

    // The rig's own client authenticates with a static token (a file the API server reads; never on a command line).
    const adminToken = crypto.randomBytes(32).toString("hex");
    const tokenFile = path.join(dir, "tokens.csv");
    fs.writeFileSync(tokenFile, `${adminToken},e2e-token-admin,e2e-token-admin,system:masters\n`, { mode: 0o600 });

    const server = `https://127.0.0.1:${apiPort}`;
    const issuer = server;
    const apiserver = rig.start("kube-apiserver", bins.kubeApiserver, [
        `--etcd-servers=${etcdUrl}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${apiPort}`,
        `--cert-dir=${rig.subdir("kube/apiserver-certs")}`,
        `--tls-cert-file=${serving.cert}`,
        `--tls-private-key-file=${serving.key}`,
        `--client-ca-file=${ca.cert}`,
        `--token-auth-file=${tokenFile}`,
        "--authorization-mode=RBAC",
        `--service-account-key-file=${sa.publicKey}`,
        `--service-account-signing-key-file=${sa.privateKey}`,
        `--service-account-issuer=${issuer}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        // The endpoint reconciler refuses a loopback advertise address.
        "--endpoint-reconciler-type=none",
        "--v=1",
    ]);

    const request = async (method: string, urlPath: string, body?: unknown, contentType = "application/json") => {
        const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
        const res = await httpRequest(
            `${server}${urlPath}`,
            {
                method,
                ca: ca.pem(),
                headers: {
                    authorization: `Bearer ${adminToken}`,
                    accept: "application/json",
                    ...(payload === undefined ? {} : { "content-type": contentType }),
                },
            },
            payload,
        );
        let parsed: unknown = res.text;
        try {
            parsed = JSON.parse(res.text);
        } catch {
            // Plain text (e.g. /readyz).
        }
        return { status: res.status, body: parsed };
    };

    const apiMs = await rig.waitReady(
        apiserver,
        `ok from ${server}/readyz`,
        async () => {
            const res = await request("GET", "/readyz");
            if (res.status !== 200) throw new Error(`/readyz: ${res.status} ${String(res.body).slice(-300)}`);
            return true;
        },
        APISERVER_READY_MS,
    );
    log(`  kube-apiserver ready on ${server} in ${apiMs} ms`);

    const kubeconfig = writeKubeconfig(path.join(dir, "kubeconfig"), server, ca.cert, {
        user: "e2e-admin",
        cert: admin.cert,
        key: admin.key,
    });
    const kcmKubeconfig = writeKubeconfig(path.join(dir, "kube-controller-manager.kubeconfig"), server, ca.cert, {
        user: "system:kube-controller-manager",
        cert: kcmClient.cert,
        key: kcmClient.key,
    });
    const kcm = rig.start("kube-controller-manager", bins.kubeControllerManager, [
        `--kubeconfig=${kcmKubeconfig}`,
        `--authentication-kubeconfig=${kcmKubeconfig}`,
        `--authorization-kubeconfig=${kcmKubeconfig}`,
        "--bind-address=127.0.0.1",
        `--secure-port=${kcmPort}`,
        `--cert-dir=${rig.subdir("kube/kcm-certs")}`,
        "--leader-elect=false",
        `--controllers=${[...DESTROY_CONTROLLERS, ...(opts.extraControllers ?? [])].join(",")}`,
        `--service-account-private-key-file=${sa.privateKey}`,
        `--root-ca-file=${ca.cert}`,
        // Each controller runs as its own ServiceAccount (the RBAC bootstrap roles grant per controller).
        "--use-service-account-credentials=true",
        "--v=1",
    ]);
    // Ready when its ServiceAccount controller has made kube-system's default ServiceAccount.
    const kcmMs = await rig.waitReady(
        kcm,
        "the default ServiceAccount in kube-system",
        async () => (await request("GET", "/api/v1/namespaces/kube-system/serviceaccounts/default")).status === 200,
        CONTROLLERS_READY_MS,
    );
    log(`  kube-controller-manager ready in ${kcmMs} ms`);

    return {
        server,
        kubeconfig,
        context: KUBE_CONTEXT,
        issuer,
        caFile: ca.cert,
        request,
        processes: [etcd, apiserver, kcm],
    };
}

/** A kubeconfig with one context, the client authenticated by certificate files. */
function writeKubeconfig(
    file: string,
    server: string,
    caFile: string,
    user: { user: string; cert: string; key: string },
): string {
    const doc = {
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "rig", cluster: { server, "certificate-authority": caFile } }],
        users: [{ name: user.user, user: { "client-certificate": user.cert, "client-key": user.key } }],
        contexts: [{ name: KUBE_CONTEXT, context: { cluster: "rig", user: user.user } }],
        "current-context": KUBE_CONTEXT,
    };
    fs.writeFileSync(file, YAML.stringify(doc), { mode: 0o600 });
    return file;
}

/** Throws with the response when the status is not one of `ok`. */
/** Creates a namespace through the admin's API (201 expected). */
export async function createNamespace(cluster: Cluster, name: string): Promise<void> {
    expectStatus(
        `create namespace ${name}`,
        await cluster.request("POST", "/api/v1/namespaces", {
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name },
        }),
    );
}

export function expectStatus(what: string, res: KubeResponse, ok: readonly number[] = [200, 201]): KubeResponse {
    if (!ok.includes(res.status)) {
        const message = typeof res.body === "object" && res.body !== null ? res.body.message : String(res.body);
        throw new Error(`${what}: HTTP ${res.status}: ${String(message).slice(0, 500)}`);
    }
    return res;
}

/** ESO's CRD files (external-secrets.io_*.yaml) in `dir`: the reference copy, checked by scripts/install-reference.sh. */
export function esoCrdFiles(dir: string): string[] {
    const files = fs
        .readdirSync(dir)
        .filter((f) => /^external-secrets\.io_[a-z]+\.yaml$/.test(f))
        .sort()
        .map((f) => path.join(dir, f));
    if (files.length === 0) throw new Error(`no ESO CRDs (external-secrets.io_*.yaml) in ${dir}`);
    return files;
}

/** Server-side applies every CRD in `files` and waits until each is Established; returns their names. */
export async function installCrds(cluster: Cluster, files: readonly string[], deadlineMs = 60_000): Promise<string[]> {
    const names: string[] = [];
    for (const file of files) {
        for (const doc of YAML.parseAllDocuments(fs.readFileSync(file, "utf8"))) {
            const crd = doc.toJS();
            if (crd === null || crd.kind !== "CustomResourceDefinition") continue;
            const name = crd.metadata.name as string;
            expectStatus(
                `apply CRD ${name}`,
                await cluster.request(
                    "PATCH",
                    `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}?fieldManager=secret-platform-e2e&force=true`,
                    JSON.stringify(crd),
                    "application/apply-patch+yaml",
                ),
            );
            names.push(name);
        }
    }
    const deadline = Date.now() + deadlineMs;
    for (const name of names) {
        for (;;) {
            const res = expectStatus(
                `get CRD ${name}`,
                await cluster.request("GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`),
            );
            const conditions: { type: string; status: string }[] = res.body.status?.conditions ?? [];
            if (conditions.some((c) => c.type === "Established" && c.status === "True")) break;
            if (Date.now() > deadline) throw new Error(`CRD ${name} not Established within ${deadlineMs} ms`);
            await new Promise((r) => setTimeout(r, 200));
        }
    }
    return names;
}
