/**
 * The chart's probes, asked of a real Vault with raft storage in each state the
 * pods go through: uninitialized (before bootstrap), unsealed, and sealed again
 * after a restart. The raft HA readiness path must pass only when initialized
 * and unsealed (a pod that has not joined answers uninitialized); the liveness
 * path (and standalone readiness) must never fail for a sealed pod.
 */
import { strict as assert } from "node:assert";
import { HA_READINESS_PATH, HEALTH_PATH } from "../../components/lib/helm-values";
import { requireTool } from "../support/tools";
import { initAndUnseal, startVault, VaultServer } from "../support/vault-server";

/** The kubelet's httpGet rule: a status in [200, 400) passes. */
async function probePasses(address: string, probePath: string): Promise<{ status: number; passes: boolean }> {
    const res = await fetch(`${address}${probePath}`, { signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    return { status: res.status, passes: res.status >= 200 && res.status < 400 };
}

describe("health probes against a real raft Vault", function () {
    this.timeout(60_000);
    let server: VaultServer | undefined;

    before(async function () {
        requireTool(this, "vault");
        server = await startVault({ storage: "raft" });
    });
    after(async () => {
        await server?.stop();
    });

    it("uninitialized (a pod that has not joined yet): the HA readiness path fails, the others pass", async () => {
        const s = server as VaultServer;
        assert.deepEqual(await probePasses(s.address, HA_READINESS_PATH), { status: 503, passes: false });
        assert.deepEqual(await probePasses(s.address, HEALTH_PATH), { status: 204, passes: true });
    });

    it("unsealed active: both pass; sealed after a restart: only the HA readiness path fails", async () => {
        const s = server as VaultServer;
        await initAndUnseal(s.address);
        assert.deepEqual(await probePasses(s.address, HA_READINESS_PATH), { status: 200, passes: true });
        assert.deepEqual(await probePasses(s.address, HEALTH_PATH), { status: 200, passes: true });

        await s.restart();
        assert.deepEqual(await probePasses(s.address, HA_READINESS_PATH), { status: 503, passes: false });
        assert.deepEqual(await probePasses(s.address, HEALTH_PATH), { status: 204, passes: true });
    });
});
