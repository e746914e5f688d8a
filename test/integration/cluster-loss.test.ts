/**
 * Cluster loss with the stack's state kept (docs/disaster-recovery.md,
 * "Recovery after losing the cluster", state survives), for the bootstrap
 * resources, on a real Vault server through the provider as Pulumi's dynamic
 * provider host loads it. The engine's calls are made as the engine makes
 * them: refresh is read, a preview passes an input that this update's create
 * makes (the uid of Vault's new namespace) as Pulumi's unknown sentinel, the
 * update passes the new uid.
 *
 * The cluster goes away (the server process stops; its storage stays, as the
 * bucket does), and while no Vault answers: refresh keeps the state, the
 * preview of an update that creates Vault's server plans a change instead of
 * failing, and the update starts and waits. Then the server comes back on the
 * same storage, sealed, like vault-0 in the new cluster: the update unseals it
 * with the shares in the state, the provider token is the same one, nothing is
 * initialized again. A Vault that does not answer while its server is not
 * being created is still an error naming the cause.
 */
import { strict as assert } from "node:assert";
import { PULUMI_POLICY } from "../../components/lib/policy-names";
import { renderPolicies } from "../../components/lib/policies";
import {
    clusterId,
    serverCreatedPreviewMessage,
    unreachableForPreviewMessage,
    UNKNOWN_INPUT,
} from "../../components/lib/vault-init";
import { initInputs, unsealInputs } from "../support/bootstrap-inputs";
import { capturing as captured } from "../support/console-capture";
import { hostLoaded, Provider } from "../support/dynamic-provider";
import { homelabStack } from "../support/fixtures";
import { configOf } from "../support/program";
import { requireTool } from "../support/tools";
import { startVault, vaultRequest, VaultServer } from "../support/vault-server";

/** Whether a promise has settled by now (without waiting for it). */
async function settled(p: Promise<unknown>): Promise<boolean> {
    const pending = Symbol("pending");
    return (
        (await Promise.race([
            p.then(
                () => true,
                () => true,
            ),
            Promise.resolve(pending),
        ])) !== pending
    );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("integration: cluster loss with the state kept: refresh, preview and up of the bootstrap resources on a real Vault", function () {
    this.timeout(90_000);
    let vault: VaultServer;
    let init: Provider;
    let unseal: Provider;
    let token: Provider;
    let initState: Record<string, any>;
    let unsealIn: Record<string, unknown>;
    let unsealState: Record<string, any>;
    let tokenIn: Record<string, unknown>;
    let tokenState: Record<string, any>;
    let kvAccessor: string;
    let vaultId: string | undefined;
    const printed: string[] = [];

    /** Runs fn with console.log captured (the provider's lines a user sees in the preview), and keeps them. */
    const capturing = <T>(fn: () => Promise<T>) => captured(fn, (out) => printed.push(out));

    const sealStatus = async () => (await vaultRequest(vault.address, undefined, "GET", "sys/seal-status")).body;
    const refused = (address: string) =>
        unreachableForPreviewMessage(
            address,
            `GET ${address}/v1/sys/seal-status: connect ECONNREFUSED 127.0.0.1:${new URL(address).port}`,
        );

    before(async function () {
        requireTool(this, "vault");
        [init, unseal, token] = await Promise.all([hostLoaded("init"), hostLoaded("unsealed"), hostLoaded("token")]);
        vault = await startVault();
        // The first pulumi up, in the graph's order: init, unseal, a KV mount (the configuration), the token.
        initState = (await capturing(() => init.create(initInputs(vault.address)))).result.outs;
        unsealIn = { ...unsealInputs(vault.address, { keys: initState.keys }), serverIdentity: "uid-first-cluster" };
        unsealState = (await capturing(() => unseal.create(unsealIn))).result.outs;
        const mount = await vaultRequest(vault.address, initState.rootToken, "POST", "sys/mounts/amiya.akn", {
            type: "kv",
            options: { version: "2" },
        });
        assert.equal(mount.status, 204);
        const policyText = renderPolicies(configOf(homelabStack())).find((p) => p.name === PULUMI_POLICY)?.text;
        tokenIn = {
            address: vault.address,
            skipTlsVerify: false,
            policy: PULUMI_POLICY,
            policyText,
            bootstrapToken: initState.rootToken,
            bootstrapSource: "root",
            serverIdentity: "uid-first-cluster",
        };
        tokenState = (await capturing(() => token.create(tokenIn))).result.outs;
        const mounts = await vaultRequest(vault.address, tokenState.token, "GET", "sys/mounts");
        kvAccessor = mounts.body.data["amiya.akn/"].accessor;
        vaultId = await clusterId({ address: vault.address, skipTlsVerify: false });
    });

    after(async function () {
        await vault?.stop();
    });

    it("the first up recorded the server's identity with the unseal check and the token", function () {
        assert.equal(unsealState.serverIdentity, "uid-first-cluster");
        assert.equal(unsealState.unsealed, true);
        assert.equal(tokenState.serverIdentity, "uid-first-cluster");
        assert.equal(tokenState.rootRevoked, true);
        assert.match(kvAccessor, /^kv_/);
        assert.match(String(vaultId), /^[0-9a-f-]{36}$/);
    });

    it("same cluster, Vault up: the preview asks Vault and plans nothing", async function () {
        assert.deepEqual((await unseal.diff("id", unsealState, unsealIn)).changes, false);
        assert.deepEqual((await token.diff("id", tokenState, tokenIn)).changes, false);
    });

    it("same cluster, Vault silent: the preview fails naming the address and the cause, for both resources", async function () {
        await vault.restart({
            whileDown: async () => {
                await assert.rejects(unseal.diff("id", unsealState, unsealIn), { message: refused(vault.address) });
                await assert.rejects(token.diff("id", tokenState, tokenIn), { message: refused(vault.address) });
            },
        });
        // Positive control: the same calls answer once Vault does (sealed after the restart: an update).
        const { result, out } = await capturing(() => unseal.diff("id", unsealState, unsealIn));
        assert.deepEqual(result, { changes: true, replaces: [] });
        assert.equal(
            out,
            `vault-unsealed: Vault at ${vault.address} is sealed; the update submits the stack's unseal keys\n`,
        );
        await unseal.update("id", unsealState, unsealIn);
        assert.equal((await sealStatus()).sealed, false);
        assert.deepEqual((await token.diff("id", tokenState, tokenIn)).changes, false);
    });

    it("cluster lost, state kept: refresh keeps it, the preview plans the unseal, the update waits for the new server and unseals it with the same shares", async function () {
        const address = vault.address;
        const next = (inputs: Record<string, unknown>, serverIdentity: string) => ({ ...inputs, serverIdentity });
        let up: Promise<{ outs?: Record<string, any> }> | undefined;
        const started = Date.now();
        await vault.restart({
            whileDown: async () => {
                // pulumi refresh: the bootstrap resources keep their state (init cannot tell, the others have no read).
                assert.deepEqual(await capturing(() => init.read("id", initState)).then((c) => c.result), {
                    id: "id",
                    props: initState,
                });
                assert.deepEqual(await unseal.read("id", unsealState), { id: "id", props: unsealState });
                assert.deepEqual(await token.read("id", tokenState), { id: "id", props: tokenState });
                // pulumi up's preview: the new namespace's uid is not known yet. A change, and why; no error.
                const u = await capturing(() => unseal.diff("id", unsealState, next(unsealIn, UNKNOWN_INPUT)));
                assert.deepEqual(u.result, { changes: true, replaces: [] });
                assert.equal(u.out, `${serverCreatedPreviewMessage("vault-unsealed", address)}\n`);
                const t = await capturing(() => token.diff("id", tokenState, next(tokenIn, UNKNOWN_INPUT)));
                assert.deepEqual(t.result, { changes: true, replaces: [] });
                assert.equal(t.out, `${serverCreatedPreviewMessage("vault-token", address)}\n`);
                // Init plans nothing: its record says Vault is initialized.
                assert.deepEqual(await init.diff("id", initState, initInputs(address)), {
                    changes: false,
                    replaces: [],
                });
                // pulumi up itself: the namespace exists now with a new uid, vault-0 is still starting.
                const upDiff = await capturing(() => unseal.diff("id", unsealState, next(unsealIn, "uid-new-cluster")));
                assert.deepEqual(upDiff.result, { changes: true, replaces: [] });
                up = capturing(() => unseal.update("id", unsealState, next(unsealIn, "uid-new-cluster"))).then(
                    (c) => c.result,
                );
                await sleep(1500);
                assert.equal(await settled(up), false, "the update waits for Vault instead of failing");
            },
        });
        assert.ok(up !== undefined);
        const updated = await up;
        const waited = Date.now() - started;
        assert.deepEqual(updated.outs, { ...next(unsealIn, "uid-new-cluster"), unsealed: true });
        const status = await sealStatus();
        assert.deepEqual([status.initialized, status.sealed], [true, false]);
        // The token: same token, same Vault (cluster id), recorded with the new identity.
        const t = await capturing(() => token.update("id", tokenState, next(tokenIn, "uid-new-cluster")));
        assert.equal(t.result.outs?.token, tokenState.token);
        assert.equal(t.result.outs?.accessor, tokenState.accessor);
        assert.equal(t.result.outs?.clusterId, vaultId);
        assert.equal(t.result.outs?.serverIdentity, "uid-new-cluster");
        assert.equal(t.out, "");
        // Nothing was initialized again: the mount written before the loss is the same one.
        const mounts = await vaultRequest(address, tokenState.token, "GET", "sys/mounts");
        assert.equal(mounts.body.data["amiya.akn/"].accessor, kvAccessor);
        assert.equal(await clusterId({ address, skipTlsVerify: false }), vaultId);
        // The next preview: nothing to do.
        const recordedUnseal = updated.outs as Record<string, unknown>;
        const recordedToken = t.result.outs as Record<string, unknown>;
        assert.equal((await unseal.diff("id", recordedUnseal, next(unsealIn, "uid-new-cluster"))).changes, false);
        assert.equal((await token.diff("id", recordedToken, next(tokenIn, "uid-new-cluster"))).changes, false);
        console.log(`      cluster loss: the update waited and unsealed in ${waited} ms from the loss`);
    });

    it("a state from before the server's identity was an input: the preview asks Vault and plans one update that records it", async function () {
        const without = (props: Record<string, unknown>) =>
            Object.fromEntries(Object.entries(props).filter(([key]) => key !== "serverIdentity"));
        const oldUnseal = without(unsealState);
        const oldToken = without(tokenState);
        assert.deepEqual(await unseal.diff("id", oldUnseal, unsealIn), { changes: true, replaces: [] });
        assert.deepEqual(await token.diff("id", oldToken, tokenIn), { changes: true, replaces: [] });
        // ...and is still an error when Vault is silent (it asked).
        await vault.restart({
            whileDown: async () => {
                await assert.rejects(unseal.diff("id", oldUnseal, unsealIn), { message: refused(vault.address) });
            },
        });
    });

    it("printed no key share and no token", function () {
        const all = printed.join("");
        for (const secret of [initState.rootToken, tokenState.token, ...initState.keys]) {
            assert.ok(!all.includes(secret), "a key share or token was printed");
        }
    });
});
