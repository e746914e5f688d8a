/**
 * The tls-reloader sidecar against a real Vault, the way the pod runs them:
 * both processes in one PID namespace (`unshare`, standing in for the pod's
 * shareProcessNamespace), the sidecar's program run by busybox with only
 * busybox's applets on PATH (the Vault image is Alpine: busybox sh, sha256sum,
 * pidof, kill), and the certificate files laid out as the kubelet lays out a
 * Secret volume (`tls.crt -> ..data/tls.crt`, `..data` swapped atomically on
 * an update, as it does when cert-manager renews the Secret).
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { TLS_RELOAD_SCRIPT } from "../../components/lib/tls-reloader";
import { makeTestCa, TestCa } from "../support/test-ca";
import { busyboxBin, startSharedPidPod, until } from "../support/shared-pid-pod";
import { requireTool } from "../support/tools";
import { freePort } from "../support/vault-server";

/** A Secret volume as the kubelet writes it: data in a timestamped dir, `..data` swapped by rename. */
class SecretVolume {
    private version = 0;
    constructor(readonly dir: string) {
        fs.mkdirSync(dir, { recursive: true });
    }
    write(files: Record<string, string>): void {
        this.version += 1;
        const data = path.join(this.dir, `..2026_12_02_00_00_0${this.version}`);
        fs.mkdirSync(data);
        for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(data, name), content);
        const tmp = path.join(this.dir, "..data_tmp");
        fs.symlinkSync(path.basename(data), tmp);
        fs.renameSync(tmp, path.join(this.dir, "..data"));
        for (const name of Object.keys(files)) {
            const link = path.join(this.dir, name);
            if (!fs.existsSync(link)) fs.symlinkSync(path.join("..data", name), link);
        }
    }
}

/** The SHA-256 fingerprint of the certificate a TLS server presents. */
async function servedFingerprint(port: number, cas: readonly string[]): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = tls.connect({ host: "127.0.0.1", port, ca: [...cas], servername: "localhost" }, () => {
            const fingerprint = socket.getPeerCertificate().fingerprint256;
            socket.end();
            resolve(fingerprint);
        });
        socket.once("error", reject);
    });
}

const fingerprintOf = (ca: TestCa) => new crypto.X509Certificate(ca.certPem).fingerprint256;

interface Pod {
    readonly port: number;
    readonly volume: SecretVolume;
    output(): string;
    stop(): Promise<void>;
}

describe("integration: a renewed internal-TLS certificate reaches a running Vault (tls-reloader)", function () {
    this.timeout(60_000);
    let vault: string;
    let busybox: string;
    let bin: string;
    let first: TestCa;
    let renewed: TestCa;
    let root: string;
    const pods: Pod[] = [];

    before(function () {
        vault = requireTool(this, "vault");
        busybox = requireTool(this, "busybox");
        first = makeTestCa("tls-reload first");
        renewed = makeTestCa("tls-reload renewed");
        root = fs.mkdtempSync(path.join(os.tmpdir(), "sp-tls-reload-"));
        // Only busybox's applets on PATH, as in the Vault image: the script may use nothing else.
        bin = busyboxBin(root, busybox, ["sh", "cat", "sha256sum", "sleep", "pidof", "kill"]);
    });

    after(async () => {
        for (const pod of pods) await pod.stop();
        first?.cleanup();
        renewed?.cleanup();
        if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
    });

    /** Vault and (optionally) the sidecar in one fresh PID namespace, serving the first certificate. */
    async function startPod(name: string, sidecar: boolean): Promise<Pod> {
        const dir = path.join(root, name);
        const volume = new SecretVolume(path.join(dir, "vault-server-tls"));
        volume.write({ "tls.crt": first.certPem, "tls.key": first.keyPem });
        const port = await freePort();
        const cert = path.join(volume.dir, "tls.crt");
        const key = path.join(volume.dir, "tls.key");
        const config = path.join(dir, "server.hcl");
        fs.writeFileSync(
            config,
            [
                `storage "inmem" {}`,
                `listener "tcp" {`,
                `  address       = "127.0.0.1:${port}"`,
                `  tls_cert_file = ${JSON.stringify(cert)}`,
                `  tls_key_file  = ${JSON.stringify(key)}`,
                `}`,
                `disable_mlock = true`,
                ``,
            ].join("\n"),
        );
        // The pod's second container: the reloader's program exactly as the chart values give it, or a sleeper.
        const container = sidecar ? `exec sh -c "$SCRIPT" tls-reloader "$CERT" "$KEY"` : `exec sleep 3600`;
        const shared = startSharedPidPod(
            busybox,
            bin,
            `"$VAULT" server -config="$CONFIG" >"$LOG" 2>&1 &\n${container}`,
            {
                HOME: dir,
                VAULT: vault,
                CONFIG: config,
                LOG: path.join(dir, "vault.log"),
                SCRIPT: TLS_RELOAD_SCRIPT,
                RELOAD_INTERVAL_SECONDS: "1",
                CERT: cert,
                KEY: key,
            },
        );
        const pod: Pod = { port, volume, output: shared.output, stop: shared.stop };
        pods.push(pod);
        await until("Vault to serve the first certificate", 20_000, async () =>
            (await servedFingerprint(port, [first.caPem])) === fingerprintOf(first) ? true : undefined,
        );
        return pod;
    }

    it("without the sidecar, a running Vault keeps serving the old certificate after the Secret is renewed", async () => {
        const pod = await startPod("no-sidecar", false);
        pod.volume.write({ "tls.crt": renewed.certPem, "tls.key": renewed.keyPem });
        await new Promise((r) => setTimeout(r, 3000));
        assert.equal(await servedFingerprint(pod.port, [first.caPem, renewed.caPem]), fingerprintOf(first));
    });

    it("with it: an unchanged swap sends nothing, a renewed certificate is served within seconds", async () => {
        const pod = await startPod("sidecar", true);
        await until("the reloader to start", 10_000, async () =>
            pod.output().includes("tls-reloader: watching") ? true : undefined,
        );
        // The kubelet rewrites a volume on any Secret update: the same bytes must not signal Vault.
        pod.volume.write({ "tls.crt": first.certPem, "tls.key": first.keyPem });
        await new Promise((r) => setTimeout(r, 2500));
        assert.doesNotMatch(pod.output(), /SIGHUP/);
        assert.equal(await servedFingerprint(pod.port, [first.caPem]), fingerprintOf(first));

        pod.volume.write({ "tls.crt": renewed.certPem, "tls.key": renewed.keyPem });
        await until("Vault to serve the renewed certificate", 15_000, async () =>
            (await servedFingerprint(pod.port, [first.caPem, renewed.caPem])) === fingerprintOf(renewed)
                ? true
                : undefined,
        );
        assert.match(pod.output(), /^tls-reloader: certificate changed; sent SIGHUP to vault \(\d+\)$/m);
        assert.equal(pod.output().match(/SIGHUP/g)?.length, 1, pod.output());
    });
});
