/**
 * Drill 6's TLS part, internal TLS renewal (docs/credential-rotation.md,
 * "Internal TLS renewal"), on the node but NOT on the drills' stack: that
 * stack serves plain HTTP behind the rig's TLS relay (server.tls.mode
 * ingress), and switching it to internal TLS needs more of the rig than this
 * drill has (docs/e2e.md lists what). What runs here is a Vault pod with the
 * program's own `tls-reloader` sidecar (tlsReloaderContainer, the pod spec
 * parts the chart values give it: the TLS Secret mounted 0440 under
 * /vault/userconfig/<secret>, a shared process namespace, the Vault image,
 * the restricted security contexts), Vault listening with that Secret's
 * certificate. The Secret is renewed in place (a server-side apply, as
 * cert-manager writes it); the drill waits until the certificate served
 * through a relay out of the node (TLS passes through, so the host sees
 * Vault's own) is the new one, and checks the pod was not restarted (same
 * uid, restartCount 0) and the sidecar logged its SIGHUP. The kubelet, its
 * Secret volume refresh (syncFrequency 10 s here), containerd's shared PID
 * namespace and the image's busybox are the real ones.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as tls from "tls";
import { POD_SECURITY_CONTEXT, CONTAINER_SECURITY_CONTEXT } from "../../components/lib/pod-security";
import { USERCONFIG_DIR } from "../../components/lib/server-hcl";
import { TLS_RELOADER_CONTAINER, tlsReloaderContainer } from "../../components/lib/tls-reloader";
import { podLog } from "../cron-job";
import { Timing } from "../figures";
import { apply } from "../node/identity";
import { Endpoint } from "../node/relays";
import { expectStatus } from "../rig/kube";
import { KeyPair } from "../rig/pki";
import { PodRig } from "../scenario";
import { check, Drill, until } from "./drill";

const NAMESPACE = "e2e-tls-renewal";
const POD = "vault-tls";
const SECRET = "vault-tls";
const CONFIG = "vault-tls-config";
const PORT = 8200;
const WAIT_MS = 240_000;

/** The certificate's names: the pod's Service names as cert-manager would list them, and the relay's 127.0.0.1. */
const SERVER_NAMES = {
    dnsNames: [`vault.${NAMESPACE}.svc`, `vault.${NAMESPACE}.svc.cluster.local`],
    ips: ["127.0.0.1"],
};

const SERVER_HCL = (certDir: string) =>
    [
        `ui = false`,
        `disable_mlock = true`,
        `storage "inmem" {}`,
        `listener "tcp" {`,
        `  address       = "0.0.0.0:${PORT}"`,
        `  tls_cert_file = "${certDir}/tls.crt"`,
        `  tls_key_file  = "${certDir}/tls.key"`,
        `}`,
    ].join("\n");

async function applySecret(r: PodRig, pair: KeyPair): Promise<void> {
    const b64 = (file: string) => fs.readFileSync(file).toString("base64");
    await apply(r.cluster, `/api/v1/namespaces/${NAMESPACE}/secrets/${SECRET}`, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: SECRET, namespace: NAMESPACE },
        type: "kubernetes.io/tls",
        data: {
            "tls.crt": b64(pair.cert),
            "tls.key": b64(pair.key),
            "ca.crt": Buffer.from(r.ca.pem()).toString("base64"),
        },
    });
}

/** The certificate served at `at` (verified against the rig CA for 127.0.0.1): its serial and SHA-256 fingerprint. */
function servedCertificate(at: Endpoint, caPem: string): Promise<{ serial: string; fingerprint: string }> {
    return new Promise((resolve, reject) => {
        const socket = tls.connect({ host: at.host, port: at.port, ca: caPem, timeout: 3_000 }, () => {
            const c = socket.getPeerCertificate();
            socket.end();
            resolve({ serial: c.serialNumber, fingerprint: c.fingerprint256 });
        });
        socket.on("timeout", () => socket.destroy(new Error("TLS handshake timed out")));
        socket.on("error", reject);
    });
}

const fingerprintOf = (certFile: string) => new crypto.X509Certificate(fs.readFileSync(certFile)).fingerprint256;

async function podState(r: PodRig): Promise<{ uid: string; restarts: Record<string, number>; body: unknown }> {
    const res = expectStatus(
        `pod ${NAMESPACE}/${POD}`,
        await r.cluster.request("GET", `/api/v1/namespaces/${NAMESPACE}/pods/${POD}`),
    );
    const statuses = (res.body.status?.containerStatuses ?? []) as { name: string; restartCount: number }[];
    return {
        uid: String(res.body.metadata.uid),
        restarts: Object.fromEntries(statuses.map((s) => [s.name, s.restartCount])),
        body: res.body,
    };
}

export async function tlsRenewalDrill(d: Drill, r: PodRig): Promise<Timing[]> {
    const log = d.log;
    const certDir = `${USERCONFIG_DIR}/${SECRET}`;
    const tlsMount = { name: "tls", mountPath: certDir, readOnly: true };
    await apply(r.cluster, `/api/v1/namespaces/${NAMESPACE}`, {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: NAMESPACE },
    });
    // The ServiceAccount admission refuses a pod until the controller manager has made the namespace's default one.
    await until(`the ServiceAccount ${NAMESPACE}/default`, 60_000, async () =>
        (await r.cluster.request("GET", `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/default`)).status === 200
            ? true
            : undefined,
    );
    const first = await r.ca.issueServer("vault-tls-1", SERVER_NAMES);
    await applySecret(r, first);
    await apply(r.cluster, `/api/v1/namespaces/${NAMESPACE}/configmaps/${CONFIG}`, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: CONFIG, namespace: NAMESPACE },
        data: { "server.hcl": SERVER_HCL(certDir) },
    });
    expectStatus(
        `create pod ${NAMESPACE}/${POD}`,
        await r.cluster.request("POST", `/api/v1/namespaces/${NAMESPACE}/pods`, {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: POD, namespace: NAMESPACE },
            spec: {
                automountServiceAccountToken: false,
                // As the chart values set it with a sidecar: the reloader signals the vault process it sees.
                shareProcessNamespace: true,
                securityContext: POD_SECURITY_CONTEXT,
                terminationGracePeriodSeconds: 1,
                containers: [
                    {
                        name: "vault",
                        image: r.vaultImage,
                        imagePullPolicy: "Never",
                        command: ["vault", "server", "-config=/vault/config/server.hcl"],
                        securityContext: CONTAINER_SECURITY_CONTEXT,
                        volumeMounts: [
                            tlsMount,
                            { name: "config", mountPath: "/vault/config", readOnly: true },
                            { name: "tmp", mountPath: "/tmp" },
                        ],
                    },
                    tlsReloaderContainer({
                        image: r.vaultImage,
                        volumeMounts: [tlsMount],
                        files: [`${certDir}/tls.crt`, `${certDir}/tls.key`],
                    }),
                ],
                volumes: [
                    { name: "tls", secret: { secretName: SECRET, defaultMode: 0o440 } },
                    { name: "config", configMap: { name: CONFIG } },
                    { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
                ],
            },
        }),
    );
    const running = await r.node.waitPodRunning({ namespace: NAMESPACE, name: POD }, WAIT_MS);
    const relay = await r.node.relayOut("vault-tls");
    relay.connect({ host: running.podIp, port: PORT });
    const at = { host: "127.0.0.1", port: Number(new URL(relay.address).port) };
    const before = await until("Vault serves its first certificate through the relay", 60_000, () =>
        servedCertificate(at, r.ca.pem()),
    );
    check(before.fingerprint === fingerprintOf(first.cert), "the served certificate is the Secret's first", before);
    const podBefore = await podState(r);
    check(
        podBefore.restarts.vault === 0 && podBefore.restarts[TLS_RELOADER_CONTAINER] === 0,
        "vault and the tls-reloader run, never restarted",
        podBefore.restarts,
    );

    // The renewal: a new key and certificate written over the Secret, as cert-manager does.
    const second = await r.ca.issueServer("vault-tls-2", SERVER_NAMES);
    const renewed = Date.now();
    await applySecret(r, second);
    const after = await until("Vault serves the renewed certificate", WAIT_MS, async () => {
        const c = await servedCertificate(at, r.ca.pem());
        return c.fingerprint !== before.fingerprint ? c : undefined;
    });
    const servedMs = Date.now() - renewed;
    check(after.fingerprint === fingerprintOf(second.cert), "the served certificate is the renewed one", after);
    const podAfter = await podState(r);
    check(podAfter.uid === podBefore.uid, "the same pod (uid)", [podBefore.uid, podAfter.uid]);
    check(
        JSON.stringify(podAfter.restarts) === JSON.stringify(podBefore.restarts),
        "no container restarted",
        podAfter.restarts,
    );
    // The sidecar's line reaches the kubelet's log file a moment after its SIGHUP.
    const sighup = /^tls-reloader: certificate changed; sent SIGHUP to vault \(\d+\)$/;
    const reloads = await until("the tls-reloader's SIGHUP line in its log", 15_000, async () => {
        const lines = podLog(d.rig, podAfter.body, TLS_RELOADER_CONTAINER).filter((l) => sighup.test(l));
        return lines.length > 0 ? lines : undefined;
    });
    check(reloads.length === 1, "the tls-reloader logged one SIGHUP to vault", reloads);
    log(
        `  drill 6 (internal TLS renewal, a Vault pod with the program's tls-reloader, not the stack's vault-0): ` +
            `served serial ${before.serial} -> ${after.serial} ${servedMs} ms after the Secret was renewed; ` +
            `pod uid unchanged, restartCount ${JSON.stringify(podAfter.restarts)}; reloader: "${reloads[0]}"`,
    );
    expectStatus(
        `delete namespace ${NAMESPACE}`,
        await r.cluster.request("DELETE", `/api/v1/namespaces/${NAMESPACE}`),
        [200, 202],
    );
    return [{ what: "drill 6: internal TLS Secret renewed to the new certificate served (no restart)", ms: servedMs }];
}
