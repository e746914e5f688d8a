/**
 * Bootstrap with raft HA (server.replicas above 1), on a real Vault behind a
 * recording proxy that plays vault.address (the `vault` Service, which with
 * raft HA routes only to Ready pods: initialized and unsealed). The provider
 * is loaded as Pulumi's dynamic provider host loads it, and called as the
 * engine calls it.
 *
 * What drill 1 of the raft drills found (a scale-up `up` judged Vault through
 * the Service while the pods rolled): an update that changes the chart (a new
 * `serverRevision`) leaves the check to the update, which waits for a pod that
 * serves and never sends a key share through the Service; a new raft HA Vault
 * is refused at once (it has no pod to answer). Each with its positive control.
 */
import { strict as assert } from "node:assert";
import { PULUMI_POLICY } from "../../components/lib/policy-names";
import { renderPolicies } from "../../components/lib/policies";
import {
    raftHaInitMessage,
    raftHaWhatToCheck,
    serverRolledPreviewMessage,
    UNKNOWN_INPUT,
} from "../../components/lib/vault-init";
import { initInputs, KEYS_SECRET, unsealInputs } from "../support/bootstrap-inputs";
import { capturing } from "../support/console-capture";
import { hostLoaded, Provider } from "../support/dynamic-provider";
import { homelabStack } from "../support/fixtures";
import { configOf } from "../support/program";
import { RecordingProxy, startRecordingProxy } from "../support/recording-proxy";
import { requireTool } from "../support/tools";
import { startVault, unseal as unsealVault, vaultRequest, VaultServer } from "../support/vault-server";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("integration: bootstrap with raft HA on a real Vault: the update waits for a pod that serves, no share through the Service", function () {
    this.timeout(90_000);
    let vault: VaultServer;
    let proxy: RecordingProxy;
    let init: Provider;
    let unseal: Provider;
    let token: Provider;
    let keys: string[];
    let rootToken: string;
    let unsealIn: Record<string, unknown>;
    let unsealState: Record<string, any>;
    let tokenIn: Record<string, unknown>;
    let tokenState: Record<string, any>;
    const HA_WAIT = { waitTimeoutSeconds: 30, sealType: "shamir", keysSecret: KEYS_SECRET };

    const sealed = async () => (await vaultRequest(vault.address, undefined, "GET", "sys/seal-status")).body.sealed;
    /** The requests that reached vault.address since `from`, as `METHOD path`. */
    const sent = (from: number) => proxy.requests.slice(from).map((r) => `${r.method} ${r.path}`);

    before(async function () {
        requireTool(this, "vault");
        [init, unseal, token] = await Promise.all([hostLoaded("init"), hostLoaded("unsealed"), hostLoaded("token")]);
        vault = await startVault();
        proxy = await startRecordingProxy(vault.address);
        // The first up, with one replica (not HA): init and unseal through vault.address.
        const initState = (await capturing(() => init.create(initInputs(proxy.url)))).result.outs;
        keys = initState.keys;
        rootToken = initState.rootToken;
        const first = { ...unsealInputs(proxy.url, { keys }), serverIdentity: "uid", serverRevision: "chart-1" };
        await capturing(() => unseal.create(first));
        const policyText = renderPolicies(configOf(homelabStack())).find((p) => p.name === PULUMI_POLICY)?.text;
        const firstToken = {
            address: proxy.url,
            skipTlsVerify: false,
            policy: PULUMI_POLICY,
            policyText,
            bootstrapToken: rootToken,
            bootstrapSource: "root",
            serverIdentity: "uid",
            serverRevision: "chart-1",
        };
        tokenState = (await capturing(() => token.create(firstToken))).result.outs;
        // server.replicas 3: the inputs of the scale-up, with the chart's new digest.
        unsealIn = { ...first, serverRevision: "chart-2", raftHa: true };
        unsealState = { ...first, unsealed: true };
        tokenIn = { ...firstToken, serverRevision: "chart-2", raftHa: HA_WAIT };
    });

    after(async function () {
        await proxy?.close();
        await vault?.stop();
    });

    it("a chart that changes in this update: both diffs plan a change, say why, and ask Vault nothing", async function () {
        for (const revision of [UNKNOWN_INPUT, "chart-2"]) {
            const from = proxy.requests.length;
            const u = await capturing(() => unseal.diff("id", unsealState, { ...unsealIn, serverRevision: revision }));
            assert.deepEqual(u.result, { changes: true, replaces: [] });
            assert.equal(u.out, `${serverRolledPreviewMessage("vault-unsealed", proxy.url)}\n`);
            const t = await capturing(() => token.diff("id", tokenState, { ...tokenIn, serverRevision: revision }));
            assert.deepEqual(t.result, { changes: true, replaces: [] });
            assert.equal(t.out, `${serverRolledPreviewMessage("vault-token", proxy.url)}\n`);
            assert.deepEqual(sent(from), [], "no request while the pods may be rolling");
        }
        // Positive control: the same chart, and the diffs ask Vault (unsealed: nothing to do).
        const from = proxy.requests.length;
        const same = { ...unsealIn, serverRevision: "chart-1" };
        assert.deepEqual((await unseal.diff("id", unsealState, same)).changes, false);
        assert.deepEqual(
            (await token.diff("id", tokenState, { ...tokenIn, serverRevision: "chart-1" })).changes,
            false,
        );
        assert.ok(sent(from).includes("GET /v1/sys/seal-status"), JSON.stringify(sent(from)));
        assert.ok(sent(from).includes("GET /v1/auth/token/lookup-self"), JSON.stringify(sent(from)));
    });

    it("the update waits while Vault answers sealed, sends no key share, and ends once the unsealer unseals it; the token update then checks the same token", async function () {
        await vault.restart();
        assert.equal(await sealed(), true);
        const from = proxy.requests.length;
        const update = capturing(() => unseal.update("id", unsealState, unsealIn));
        const tokenUpdate = capturing(() => token.update("id", tokenState, tokenIn));
        await sleep(3000);
        assert.equal(await sealed(), true, "bootstrap did not unseal it");
        // The unsealer: each pod at its own address (here the server itself, not through vault.address).
        await unsealVault(vault.address, keys);
        const { result } = await update;
        assert.deepEqual(result.outs, { ...unsealIn, unsealed: true });
        const t = (await tokenUpdate).result.outs as Record<string, unknown>;
        assert.equal(t.token, tokenState.token);
        assert.equal(t.serverRevision, "chart-2");
        const through = sent(from);
        assert.ok(
            through.filter((r) => r === "GET /v1/sys/seal-status").length >= 2,
            `it asked again while sealed: ${JSON.stringify(through)}`,
        );
        assert.deepEqual(
            through.filter((r) => r.includes("sys/unseal")),
            [],
            "no key share went through vault.address",
        );
        // Positive control: without raftHa (one replica) the same update submits the stack's shares itself.
        await vault.restart();
        const single = proxy.requests.length;
        await unseal.update("id", unsealState, { ...unsealIn, raftHa: undefined });
        assert.equal(await sealed(), false);
        assert.ok(sent(single).includes("PUT /v1/sys/unseal"), JSON.stringify(sent(single)));
    });

    it("no pod serves within the wait: the update fails naming the address, the last answer and what to check", async function () {
        await vault.restart();
        const waitTimeoutSeconds = 3;
        await assert.rejects(unseal.update("id", unsealState, { ...unsealIn, waitTimeoutSeconds }), {
            message:
                `Vault API at ${proxy.url} did not answer initialized and unsealed within ${waitTimeoutSeconds}s ` +
                `(last error: it answered sealed). ${raftHaWhatToCheck({ sealType: "shamir", keysSecret: KEYS_SECRET })}`,
        });
        assert.equal(
            raftHaWhatToCheck({ sealType: "shamir", keysSecret: KEYS_SECRET }),
            "With raft HA (secret-platform:server.replicas above 1) vault.address reaches only pods that are " +
                "initialized and unsealed: check that Vault's pods run, and that the unsealer unseals each pod (its " +
                `CronJob and loop read Secret ${KEYS_SECRET}). If every pod lost its raft data, restore a snapshot ` +
                "(docs/disaster-recovery.md, HA (raft) mode: snapshots). secret-platform:vault.waitTimeoutSeconds sets how long to wait.",
        );
        await unsealVault(vault.address, keys);
    });

    it("a new Vault with raft HA: init refuses at once, naming server.replicas, and asks Vault nothing; adopting one with a token works", async function () {
        const from = proxy.requests.length;
        await assert.rejects(init.create({ ...initInputs(proxy.url), raftHa: true }), {
            message: raftHaInitMessage(proxy.url),
        });
        assert.equal(
            raftHaInitMessage(proxy.url),
            `Vault at ${proxy.url} cannot be initialized with secret-platform:server.replicas above 1: with raft HA, ` +
                "vault.address reaches only pods that are initialized and unsealed, so a new Vault has no pod that answers. " +
                "Set server.replicas to 1 for the first pulumi up (pulumi config set --path server.replicas 1), then to 3 " +
                "or 5 and pulumi up again (docs/bootstrap.md, Raft HA: bootstrap with one replica, then scale).",
        );
        assert.deepEqual(sent(from), []);
        // Positive control: an operator's token adopts the running Vault through vault.address.
        const adopted = await capturing(() =>
            init.create({ ...initInputs(proxy.url), raftHa: true, adoptExisting: true }),
        );
        assert.equal(adopted.result.outs.adopted, true);
        assert.deepEqual(adopted.result.outs.keys, []);
    });
});
