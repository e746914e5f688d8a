/**
 * The audit-rotator sidecar against a real Vault writing a real file audit
 * log, the way the pod runs them: both processes in one PID namespace
 * (`unshare`, standing in for the pod's shareProcessNamespace), the sidecar's
 * program run by busybox with only the applets it may use on PATH (the Vault
 * image is Alpine busybox). Above the size the log is renamed, Vault gets
 * SIGHUP and writes a new file; at most `KEEP` rotated files stay.
 */
import { strict as assert } from "node:assert";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AUDIT_ROTATE_SCRIPT, auditRotatorContainer } from "../../components/lib/audit-rotator";
import { onPath, requireTool } from "../support/tools";
import { exited, freePort, vaultRequest, waitForExit } from "../support/vault-server";

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
    const deadline = Date.now() + ms;
    let last: unknown;
    for (;;) {
        try {
            const value = await probe();
            if (value !== undefined) return value;
        } catch (e) {
            last = e;
        }
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last ?? "no match")}`);
        await new Promise((r) => setTimeout(r, 200));
    }
}

describe("integration: the audit-rotator sidecar rotates a real Vault's file audit log", function () {
    this.timeout(60_000);
    let root: string;
    let child: ChildProcess | undefined;
    let output = "";
    let address: string;
    const log = () => path.join(root, "audit", "vault-audit.log");
    const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "");
    const as = (method: string, apiPath: string, body?: unknown) =>
        vaultRequest(address, "root", method, apiPath, body);

    before(async function () {
        const vault = requireTool(this, "vault");
        const busybox = requireTool(this, "busybox");
        const unshare = onPath("unshare") ?? assert.fail("unshare (util-linux) is not on PATH");
        root = fs.mkdtempSync(path.join(os.tmpdir(), "sp-audit-rotate-"));
        const bin = path.join(root, "bin");
        fs.mkdirSync(bin);
        fs.mkdirSync(path.join(root, "audit"));
        // Only busybox's applets: the script may use nothing else.
        for (const applet of ["sh", "wc", "mv", "rm", "sleep", "pidof", "kill"]) {
            fs.symlinkSync(busybox, path.join(bin, applet));
        }
        const port = await freePort();
        address = `http://127.0.0.1:${port}`;
        const userns = process.getuid?.() === 0 ? [] : ["--user", "--map-root-user"];
        child = spawn(
            unshare,
            [
                ...userns,
                "--pid",
                "--fork",
                "--mount-proc",
                "--kill-child",
                busybox,
                "sh",
                "-c",
                `"$VAULT" server -dev -dev-root-token-id=root -dev-listen-address="$LISTEN" >"$VAULT_LOG" 2>&1 &\n` +
                    `exec sh -c "$SCRIPT" audit-rotator "$AUDIT_FILE"`,
            ],
            {
                env: {
                    PATH: bin,
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
                stdio: ["ignore", "pipe", "pipe"],
            },
        );
        child.stdout?.on("data", (d) => (output += String(d)));
        child.stderr?.on("data", (d) => (output += String(d)));
        await until("Vault to answer", 20_000, async () =>
            (await as("GET", "sys/health")).status === 200 ? true : undefined,
        );
        const enabled = await as("PUT", "sys/audit/file", { type: "file", options: { file_path: log() } });
        assert.equal(enabled.status, 204, JSON.stringify(enabled.body));
    });

    after(async () => {
        if (child !== undefined && !exited(child)) {
            child.kill("SIGTERM");
            if (!(await waitForExit(child, 5000))) child.kill("SIGKILL");
        }
        if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
    });

    it("below the size: nothing moves", async () => {
        await as("GET", "secret/data/below-marker");
        await new Promise((r) => setTimeout(r, 2500));
        assert.ok(read(log()).includes("below-marker"));
        assert.equal(fs.existsSync(`${log()}.1`), false);
        assert.doesNotMatch(output, /SIGHUP/);
    });

    it("above it: renamed to .1, SIGHUP, and Vault writes the next entries to a new file", async () => {
        for (let i = 0; i < 20; i += 1) await as("GET", `secret/data/fill-${i}`);
        assert.ok(fs.statSync(log()).size > 4000, "the log is above MAX_BYTES");
        await until("the rotation", 10_000, () => (/sent SIGHUP to vault/.test(output) ? true : undefined));
        assert.match(
            output,
            /audit-rotator: \S+vault-audit\.log had \d+ bytes: now \S+vault-audit\.log\.1; sent SIGHUP/,
        );
        assert.ok(read(`${log()}.1`).includes("fill-19"), "the old entries are in .1");
        // The new file is Vault's own, made on SIGHUP: a request after the rotation lands there only.
        await as("GET", "secret/data/after-marker");
        await until("the new file", 10_000, () => (read(log()).includes("after-marker") ? true : undefined));
        assert.ok(!read(`${log()}.1`).includes("after-marker"));
        assert.ok(!read(log()).includes("fill-19"));
    });

    it("keeps at most KEEP rotated files", async () => {
        for (let round = 0; round < 3; round += 1) {
            const before = (output.match(/sent SIGHUP to vault \(/g) ?? []).length;
            for (let i = 0; i < 20; i += 1) await as("GET", `secret/data/round-${round}-${i}`);
            await until(`rotation ${round}`, 10_000, () =>
                (output.match(/sent SIGHUP to vault \(/g) ?? []).length > before ? true : undefined,
            );
        }
        const files = fs.readdirSync(path.join(root, "audit")).sort();
        assert.deepEqual(
            files.filter((f) => f !== "vault-audit.log"),
            ["vault-audit.log.1", "vault-audit.log.2"],
        );
        assert.ok(read(`${log()}.1`).includes("round-2-19"));
        assert.ok(read(`${log()}.2`).includes("round-1-19"));
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
