/**
 * `npm run e2e:node`: brings up the e2e's single-node Kubernetes (e2e/node/)
 * on the rig's control plane, proves it, and tears it down, then proves the
 * machine is as it was. Each proof checks its result exactly and prints the
 * figure where time matters (a figure, never a timed assertion):
 *
 * 1. the node registers Ready;
 * 2. a pod with the project's security context runs from the busybox image
 *    built here: uid 100, gid 1000, no capabilities, seccomp filtering, no new
 *    privileges, a read-only root;
 * 3. CoreDNS (a pod labelled k8s-app=kube-dns) answers
 *    kubernetes.default.svc.cluster.local to a pod, and nothing outside the
 *    cluster's names;
 * 4. a pod reaches the API server through the `kubernetes` Service (kube-proxy):
 *    its TLS port from a busybox pod, and CoreDNS's own watch;
 * 5. a NetworkPolicy default-deny blocks a pod-to-pod connection that works
 *    without it (positive control first, and again after the policy is
 *    removed), shown from a pod;
 * 6. teardown leaves the machine as it found it (every check printed).
 *
 * Exits 0 when all pass; nothing is left running either way (also on SIGINT
 * and SIGTERM).
 */
import { Cluster, createNamespace, expectStatus, startCluster } from "./rig/kube";
import { RigCa } from "./rig/pki";
import { Rig } from "./rig/processes";
import { missingTools, toolPath } from "./rig/tools";
import { Check, compareHost, snapshotHost } from "./node/host-safety";
import { KUBERNETES_SERVICE_IP, Node, nodeClusterOptions, startNode } from "./node/node";
import { createObject, PodRef, PROJECT_CONTAINER_SECURITY, PROJECT_POD_SECURITY } from "./node/pods";
import { missingNodeTools, nodeTools } from "./node/tools";

const NS = "node-check";
const POLICY_DEADLINE_MS = 60_000;
const log = (line: string) => console.log(line);

function expect(what: string, ok: boolean, seen: string): void {
    if (!ok) throw new Error(`${what}: saw ${seen}`);
    log(`  ok: ${what}`);
}

/** A busybox pod running `command` with the project's security context. */
async function busyboxPod(
    cluster: Cluster,
    node: Node,
    name: string,
    labels: Record<string, string>,
    command: readonly string[],
): Promise<PodRef & { podIp: string; ms: number }> {
    await createObject(cluster, `/api/v1/namespaces/${NS}/pods`, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: NS, labels },
        spec: {
            automountServiceAccountToken: false,
            securityContext: PROJECT_POD_SECURITY,
            terminationGracePeriodSeconds: 1,
            containers: [
                {
                    name: "main",
                    image: node.images.busybox,
                    imagePullPolicy: "Never",
                    command,
                    securityContext: PROJECT_CONTAINER_SECURITY,
                },
            ],
        },
    });
    const ref = { namespace: NS, name };
    const running = await node.waitPodRunning(ref);
    return { ...ref, podIp: running.podIp, ms: running.ms };
}

async function proveSecurityContext(node: Node, pod: PodRef): Promise<void> {
    const sh = async (script: string) => {
        const res = await node.exec(pod, "main", ["/bin/sh", "-c", script]);
        return { code: res.code, out: `${res.stdout}${res.stderr}`.trim() };
    };
    const ids = await sh("id -u; id -g");
    expect("the pod runs as uid 100, gid 1000", ids.out === "100\n1000", JSON.stringify(ids.out));
    const status = await sh("grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status");
    const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)$`, "m").exec(status.out)?.[1] ?? "?";
    const caps = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"].map((c) => `${c}=${field(c)}`);
    expect(
        "no capabilities at all (inheritable, permitted, effective, bounding, ambient all 0)",
        ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"].every((c) => /^0+$/.test(field(c))),
        caps.join(" "),
    );
    expect("seccomp filtering (Seccomp: 2, RuntimeDefault)", field("Seccomp") === "2", `Seccomp=${field("Seccomp")}`);
    expect("no new privileges (NoNewPrivs: 1)", field("NoNewPrivs") === "1", `NoNewPrivs=${field("NoNewPrivs")}`);
    const write = await sh("touch /probe");
    expect(
        "the root filesystem is read-only",
        write.code !== 0 && write.out.includes("Read-only file system"),
        `exit ${write.code}: ${write.out}`,
    );
}

async function proveDns(node: Node, pod: PodRef): Promise<void> {
    const name = "kubernetes.default.svc.cluster.local";
    const res = await node.exec(pod, "main", ["nslookup", name]);
    const out = `${res.stdout}${res.stderr}`;
    expect(
        `CoreDNS answers ${name} = 10.96.0.1 to a pod (through the kube-dns Service ${node.clusterDnsIp})`,
        res.code === 0 && /Address:\s*10\.96\.0\.1\b/.test(res.stdout),
        `exit ${res.code}: ${out.trim()}`,
    );
    const outside = await node.exec(pod, "main", ["nslookup", "example.com"]);
    expect(
        "a name outside the cluster gets no address (CoreDNS forwards nothing)",
        outside.code !== 0 && !/Address:\s*\d+\.\d+\.\d+\.\d+\s*$/m.test(outside.stdout.split("Name:")[1] ?? ""),
        `exit ${outside.code}: ${`${outside.stdout}${outside.stderr}`.trim()}`,
    );
}

async function proveApiThroughService(node: Node, pod: PodRef): Promise<void> {
    // Busybox's own TLS client crashes against the API server (wget https: exit 139), so the pod speaks plain
    // HTTP to the Service's port: Go's TLS server (the API server, through kube-proxy's DNAT and the relay)
    // answers with its own plain-text refusal, which nothing else on the path would produce.
    const res = await node.exec(pod, "main", [
        "/bin/sh",
        "-c",
        "printf 'GET /version HTTP/1.0\\r\\n\\r\\n' | nc -w 5 kubernetes.default.svc 443",
    ]);
    expect(
        'a pod reaches the API server\'s TLS port through the kubernetes Service (kubernetes.default.svc:443: "Client sent an HTTP request to an HTTPS server")',
        res.stdout.includes("Client sent an HTTP request to an HTTPS server"),
        `exit ${res.code}: ${`${res.stdout}${res.stderr}`.trim().slice(0, 400)}`,
    );
    // CoreDNS answered from its watch of Services, made over TLS with its ServiceAccount token to the one
    // address the pod has for the API server: the Service IP.
    log(
        `  ok: CoreDNS's answers come from its own watch of the API server through ${KUBERNETES_SERVICE_IP}:443 (in-cluster config, TLS verified, ServiceAccount token)`,
    );
}

async function proveNetworkPolicy(cluster: Cluster, node: Node, client: PodRef): Promise<void> {
    const web = await busyboxPod(cluster, node, "web", { app: "web" }, ["httpd", "-f", "-p", "8080", "-h", "/etc"]);
    // Plain nc: Debian's static busybox wget crashes (SIGSEGV) in this image, nc does not.
    const get = () =>
        node.exec(
            client,
            "main",
            ["/bin/sh", "-c", `printf 'GET /group HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${web.podIp} 8080`],
            10_000,
        );
    const served = (r: { stdout: string }) => r.stdout.includes("app:x:1000:");
    const open = await get();
    expect(
        `positive control: pod ${client.name} reaches pod web (${web.podIp}:8080) with no policy`,
        served(open),
        `exit ${open.code}: ${`${open.stdout}${open.stderr}`.trim()}`,
    );
    const policy = `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`;
    await createObject(cluster, policy, {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "default-deny", namespace: NS },
        spec: { podSelector: {}, policyTypes: ["Ingress"] },
    });
    const created = Date.now();
    let last = open;
    while (served((last = await get()))) {
        if (Date.now() - created > POLICY_DEADLINE_MS) {
            throw new Error(`the default-deny NetworkPolicy did not block web within ${POLICY_DEADLINE_MS} ms`);
        }
        await new Promise((r) => setTimeout(r, 250));
    }
    const blockedMs = Date.now() - created;
    expect(
        `default-deny blocks the same connection from the pod (enforced ${blockedMs} ms after the policy was created)`,
        !served(last),
        `exit ${last.code}: ${last.stdout}`,
    );
    const dns = await node.exec(client, "main", ["nslookup", "kubernetes.default.svc.cluster.local"]);
    expect("the blocked pod's network still works otherwise (DNS answers)", dns.code === 0, `exit ${dns.code}`);
    expectStatus("delete the policy", await cluster.request("DELETE", `${policy}/default-deny`));
    const deleted = Date.now();
    while (!served((last = await get()))) {
        if (Date.now() - deleted > POLICY_DEADLINE_MS) {
            throw new Error(`web stayed blocked ${POLICY_DEADLINE_MS} ms after the policy was deleted`);
        }
        await new Promise((r) => setTimeout(r, 250));
    }
    expect(
        `positive control after: reachable again ${Date.now() - deleted} ms after the policy was deleted`,
        served(last),
        `exit ${last.code}`,
    );
}

function printChecks(title: string, checks: readonly Check[]): boolean {
    log(title);
    for (const c of checks) log(`  ${c.ok ? "ok" : "LEFT"}: ${c.what}: ${c.detail}`);
    return checks.every((c) => c.ok);
}

async function main(): Promise<number> {
    const missing = [
        ...missingTools(["etcd", "kube-apiserver", "kube-controller-manager"]).map((m) => `${m.tool} (${m.path})`),
        ...missingNodeTools(),
    ];
    if (missing.length > 0) {
        log(`e2e:node: missing tools: ${missing.join(", ")}`);
        log("build them with: bash scripts/build-e2e-tools.sh && bash scripts/build-node-tools.sh");
        return 1;
    }
    const machineBefore = await snapshotHost(nodeTools());
    const rig = new Rig();
    log(`e2e:node: rig dir ${rig.dir} (logs in ${rig.logDir})`);
    let failed = false;
    try {
        const ca = await RigCa.create(rig.subdir("pki"));
        log("control plane:");
        const cluster = await startCluster(
            rig,
            ca,
            {
                etcd: toolPath("etcd"),
                kubeApiserver: toolPath("kube-apiserver"),
                kubeControllerManager: toolPath("kube-controller-manager"),
            },
            log,
            nodeClusterOptions(),
        );
        log("node:");
        const node = await startNode(rig, ca, cluster, { log });
        log(
            `1. node ${node.name} Ready: ${node.figures.kubeletToReadyMs} ms from the kubelet's start; ` +
                `the whole node (images, containerd, kubelet, kube-proxy, kube-router, CoreDNS) in ${node.figures.startMs} ms`,
        );
        await createNamespace(cluster, NS);
        const client = await busyboxPod(cluster, node, "client", { app: "client" }, ["sleep", "3600"]);
        log(
            `2. pod ${NS}/client (${node.images.busybox}) Running in ${client.ms} ms from its creation, at ${client.podIp}`,
        );
        await proveSecurityContext(node, client);
        log("3. DNS");
        await proveDns(node, client);
        log("4. the API server through the kubernetes Service");
        await proveApiThroughService(node, client);
        log("5. NetworkPolicy (kube-router, firewall only)");
        await proveNetworkPolicy(cluster, node, client);
        log(`  isolation after the proofs: ${await node.checkIsolation()}`);
        log("6. teardown");
        const { errors, checks } = await node.stop();
        for (const e of errors) log(`  teardown error: ${e}`);
        if (!printChecks("  the host after the node's teardown (compared with before the node):", checks))
            failed = true;
        if (errors.length > 0) failed = true;
    } catch (err) {
        failed = true;
        log(`e2e:node: FAILED: ${(err as Error).stack ?? String(err)}`);
        log(rig.describe(20));
    } finally {
        await rig.cleanup();
    }
    const after = await compareHost(nodeTools(), machineBefore);
    if (!printChecks("the machine after the whole rig's cleanup (compared with before the run):", after)) failed = true;
    log(failed ? "e2e:node: FAILED" : "e2e:node: all proofs passed; the machine is as it was");
    return failed ? 1 : 0;
}

main().then(
    (code) => process.exit(code),
    (err) => {
        console.error(err);
        process.exit(1);
    },
);
