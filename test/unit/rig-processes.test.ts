import { strict as assert } from "node:assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pulumiTrees, Rig } from "../../e2e/rig/processes";
import { waitForExit } from "../support/vault-server";

/** True while the process exists and is not a zombie. */
function alive(pid: number): boolean {
    try {
        return !fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].startsWith("Z");
    } catch {
        return false;
    }
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
        if (Date.now() > deadline) throw new Error("condition not met in time");
        await new Promise((r) => setTimeout(r, 50));
    }
}

describe("the rig's cleanup (e2e/rig/processes.ts)", () => {
    let dir: string;
    const spawned: ChildProcess[] = [];

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "rig-processes-"));
        // A stand-in CLI named `pulumi` that starts a plugin of its own, as the real CLI does.
        fs.writeFileSync(path.join(dir, "pulumi"), "#!/bin/sh\nsleep 300 &\nwait\n", { mode: 0o755 });
    });

    afterEach(async () => {
        for (const child of spawned.splice(0)) {
            child.kill("SIGKILL");
            await waitForExit(child, 5000);
        }
        fs.rmSync(dir, { recursive: true, force: true });
    });

    function child(bin: string, args: string[]): ChildProcess {
        const proc = spawn(bin, args, { stdio: "ignore" });
        spawned.push(proc);
        return proc;
    }

    it("stops the Pulumi CLI and its plugins, and leaves this process's other children (tsx's esbuild) alone", async () => {
        const bystander = child("sleep", ["300"]);
        const cli = child(path.join(dir, "pulumi"), []);
        await until(() => pulumiTrees().length === 2);
        const tree = pulumiTrees();
        assert.equal(tree[0].pid, cli.pid);
        assert.equal(tree[1].ppid, cli.pid);
        const plugin = tree[1].pid;

        await new Rig(false).cleanup();

        await until(() => cli.exitCode !== null || cli.signalCode !== null);
        assert.equal(cli.signalCode, "SIGTERM");
        await until(() => !alive(plugin));
        assert.equal(alive(bystander.pid!), true, "the bystander child was stopped");
        assert.equal(bystander.exitCode, null);
        assert.deepEqual(pulumiTrees(), []);
    });
});
