/**
 * The audit-rotator sidecar against a real Vault writing a real file audit
 * log, the way the pod runs them: both processes in one PID namespace
 * (`unshare`, standing in for the pod's shareProcessNamespace), the sidecar's
 * program run by busybox with only the applets it may use on PATH (the Vault
 * image is Alpine busybox). Above the size the log is renamed, Vault gets
 * SIGHUP and writes a new file; at most `KEEP` rotated files stay.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AUDIT_ROTATE_SCRIPT, auditRotatorContainer } from "../../components/lib/audit-rotator";
import { busyboxBin, SharedPidPod, startSharedPidPod, until } from "../support/shared-pid-pod";
import { requireTool } from "../support/tools";
import { freePort, vaultRequest } from "../support/vault-server";

/**
 * A path whose one audit entry is above MAX_BYTES (paths are logged in clear, values only as HMACs):
 * one request crosses the size at once, so the sidecar's next check rotates exactly once, however
 * slowly the machine runs (twenty small requests raced its one-second checks under load).
 */
const bigPath = (tag: string) => `secret/data/${tag}-${"x".repeat(4100)}`;

describe("integration: the audit-rotator sidecar rotates a real Vault's file audit log", function () {
    this.timeout(60_000);
    let root: string;
    let pod: SharedPidPod | undefined;
    let address: string;
    const log = () => path.join(root, "audit", "vault-audit.log");
    const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "");
    const as = (method: string, apiPath: string, body?: unknown) =>
        vaultRequest(address, "root", method, apiPath, body);

    before(async function () {
        const vault = requireTool(this, "vault");
        const busybox = requireTool(this, "busybox");
        root = fs.mkdtempSync(path.join(os.tmpdir(), "sp-audit-rotate-"));
        fs.mkdirSync(path.join(root, "audit"));
        // Only busybox's applets: the script may use nothing else.
        const bin = busyboxBin(root, busybox, ["sh", "wc", "mv", "rm", "sleep", "pidof", "kill"]);
        const port = await freePort();
        address = `http://127.0.0.1:${port}`;
        pod = startSharedPidPod(
            busybox,
            bin,
            `"$VAULT" server -dev -dev-root-token-id=root -dev-listen-address="$LISTEN" >"$VAULT_LOG" 2>&1 &\n` +
                `exec sh -c "$SCRIPT" audit-rotator "$AUDIT_FILE"`,
            {
                HOME: root,
                VAULT: vault,
                LISTEN: `127.0.0.1:${port}`,
                VAULT_LOG: path.join(root, "vault.log"),
                SCRIPT: AUDIT_ROTATE_SCRIPT,
                AUDIT_FILE: log(),
                MAX_BYTES: "4000",
                KEEP: "2",
                CHECK_INTERVAL_SECONDS: "1",
            },
        );
        await until("Vault to answer", 20_000, async () =>
            (await as("GET", "sys/health")).status === 200 ? true : undefined,
        );
        const enabled = await as("PUT", "sys/audit/file", { type: "file", options: { file_path: log() } });
        assert.equal(enabled.status, 204, JSON.stringify(enabled.body));
    });

    after(async () => {
        await pod?.stop();
        if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
    });

    it("below the size: nothing moves", async () => {
        await as("GET", "secret/data/below-marker");
        await new Promise((r) => setTimeout(r, 2500));
        assert.ok(read(log()).includes("below-marker"));
        assert.equal(fs.existsSync(`${log()}.1`), false);
        assert.doesNotMatch(pod!.output(), /SIGHUP/);
    });

    it("above it: renamed to .1, SIGHUP, and Vault writes the next entries to a new file", async () => {
        await as("GET", bigPath("fill"));
        assert.ok(fs.statSync(log()).size > 4000, "the log is above MAX_BYTES");
        await until("the rotation", 10_000, () => (/sent SIGHUP to vault/.test(pod!.output()) ? true : undefined));
        assert.match(
            pod!.output(),
            /audit-rotator: \S+vault-audit\.log had \d+ bytes: now \S+vault-audit\.log\.1; sent SIGHUP/,
        );
        assert.ok(read(`${log()}.1`).includes("fill-x"), "the old entries are in .1");
        // The new file is Vault's own, made on SIGHUP: a request after the rotation lands there only.
        await as("GET", "secret/data/after-marker");
        await until("the new file", 10_000, () => (read(log()).includes("after-marker") ? true : undefined));
        assert.ok(!read(`${log()}.1`).includes("after-marker"));
        assert.ok(!read(log()).includes("fill-x"));
    });

    it("keeps at most KEEP rotated files", async () => {
        for (let round = 0; round < 3; round += 1) {
            const before = (pod!.output().match(/sent SIGHUP to vault \(/g) ?? []).length;
            await as("GET", bigPath(`round-${round}`));
            await until(`rotation ${round}`, 10_000, () =>
                (pod!.output().match(/sent SIGHUP to vault \(/g) ?? []).length > before ? true : undefined,
            );
        }
        const files = fs.readdirSync(path.join(root, "audit")).sort();
        assert.deepEqual(
            files.filter((f) => f !== "vault-audit.log"),
            ["vault-audit.log.1", "vault-audit.log.2"],
        );
        assert.ok(read(`${log()}.1`).includes("round-2-x"));
        assert.ok(read(`${log()}.2`).includes("round-1-x"));
    });

    it("the pod's container runs exactly this script on the audit volume", () => {
        const c = auditRotatorContainer({
            image: "hashicorp/vault:1.21.4",
            file: "/vault/audit/vault-audit.log",
            mountPath: "/vault/audit",
            maxSizeMi: 400,
            keep: 3,
        });
        assert.deepEqual(c.command, [
            "/bin/sh",
            "-c",
            AUDIT_ROTATE_SCRIPT,
            "audit-rotator",
            "/vault/audit/vault-audit.log",
        ]);
        assert.deepEqual(c.env, [
            { name: "MAX_BYTES", value: String(400 * 1024 * 1024) },
            { name: "KEEP", value: "3" },
            { name: "CHECK_INTERVAL_SECONDS", value: "30" },
        ]);
        assert.deepEqual(c.volumeMounts, [{ name: "audit", mountPath: "/vault/audit" }]);
    });
});
