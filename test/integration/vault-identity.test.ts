/**
 * Key shares and the provider token go only to the Vault this stack
 * recorded (security review #23, item 1), on two real Vault servers and the
 * bootstrap's dynamic provider as the host loads it. A recording proxy
 * stands for "another address": pointed at the same Vault it is a real
 * move, pointed at the other Vault it is an impostor.
 *
 * - A changed address (or CA) without `vault.movedFrom`: the preview asks
 *   the new address nothing, the update refuses, naming the key, and the new
 *   address receives no request at all, so no token and no share.
 * - With `vault.movedFrom` set to the recorded address: the move goes
 *   through (the positive control).
 * - Another Vault at the recorded address (another cluster id): the preview
 *   refuses before the token is sent.
 * - A new CA at the same address (an https proxy whose certificate is
 *   re-issued by another CA): refused without `vault.acknowledgeCa`, and
 *   with the wrong digest; accepted with the new bundle's digest, the same
 *   Vault then receiving the shares and the token; the acknowledgement never
 *   approves a changed address, nor another Vault behind the new CA.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { PULUMI_POLICY } from "../../components/lib/policy-names";
import { renderPolicies } from "../../components/lib/policies";
import { MOVED_FROM_KEY } from "../../components/lib/vault-init";
import { unsealInputs } from "../support/bootstrap-inputs";
import { hostLoaded, Provider } from "../support/dynamic-provider";
import { homelabStack } from "../support/fixtures";
import { configOf } from "../support/program";
import { RecordingProxy, startRecordingProxy } from "../support/recording-proxy";
import { requireTool } from "../support/tools";
import { makeTestCa, TestCa } from "../support/test-ca";
import { initAndUnseal, startVault, unseal, vaultRequest, VaultServer } from "../support/vault-server";

describe("integration: Vault's identity pins where tokens and key shares go (two real Vaults)", function () {
    this.timeout(60_000);
    let ours: VaultServer;
    let other: VaultServer;
    let proxy: RecordingProxy;
    let root: string;
    /** A non-root operator token (root is revoked when the provider token is minted with it). */
    let operator: string;
    let keys: readonly string[];
    let unsealer: Provider;
    let tokens: Provider;

    const health = async (address: string) =>
        (await vaultRequest(address, undefined, "GET", "sys/health?sealedcode=200&uninitcode=200")).body;
    const refusal = (what: string, recorded: string, change: string) =>
        `refusing to send ${what} to a Vault this stack did not initialize: ${change}. ` +
        `If Vault really moved, set ${MOVED_FROM_KEY} to ${recorded} for the pulumi up that moves it ` +
        "(pulumi config set --path vault.movedFrom ...), then remove it. Otherwise revert the change.";
    /** fn's result, with what it prints (the plugin's lines) kept out of the spec's output. */
    async function quietly<T>(fn: () => Promise<T>): Promise<T> {
        const log = console.log;
        console.log = () => undefined;
        try {
            return await fn();
        } finally {
            console.log = log;
        }
    }

    before(async function () {
        requireTool(this, "vault");
        [ours, other] = await Promise.all([startVault(), startVault()]);
        ({ rootToken: root, keys } = await initAndUnseal(ours.address, { shares: 3, threshold: 2 }));
        const everything = 'path "*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }';
        const written = await vaultRequest(ours.address, root, "PUT", "sys/policies/acl/spec-operator", {
            policy: everything,
        });
        assert.equal(written.status, 204);
        const minted = await vaultRequest(ours.address, root, "PUT", "auth/token/create-orphan", {
            policies: ["spec-operator"],
        });
        operator = minted.body.auth.client_token as string;
        await initAndUnseal(other.address, { shares: 1, threshold: 1 });
        proxy = await startRecordingProxy(ours.address);
        unsealer = await hostLoaded("unsealed");
        tokens = await hostLoaded("token");
    });

    after(async () => {
        await proxy?.close();
        await Promise.all([ours?.stop(), other?.stop()]);
    });

    it("the unseal key shares: a new address gets nothing without vault.movedFrom, and a real move with it", async () => {
        const recorded = { ...unsealInputs(ours.address, { keys: [...keys] }), unsealed: true };
        const moved = { ...unsealInputs(proxy.url, { keys: [...keys] }) };
        const sealed = await vaultRequest(ours.address, root, "PUT", "sys/seal");
        assert.equal(sealed.status, 204);
        const seen = proxy.requests.length;

        const diff = await quietly(() => unsealer.diff("id", recorded, moved));
        assert.deepEqual(diff, { changes: true, replaces: [] });
        await assert.rejects(
            quietly(() => unsealer.update("id", recorded, moved)),
            (e: Error) => {
                assert.equal(
                    e.message,
                    `vault-unsealed: ${refusal("the unseal key shares", ours.address, `address ${ours.address} -> ${proxy.url}`)}`,
                );
                return true;
            },
        );
        assert.equal(proxy.requests.length, seen, "the new address received no request");
        assert.equal((await health(ours.address)).sealed, true, "nothing unsealed it");

        // Acknowledged: the same Vault, reached at its new address, is unsealed through it.
        const acknowledged = { ...moved, movedFrom: ours.address };
        const done = await quietly(() => unsealer.update("id", recorded, acknowledged));
        assert.equal(done.outs?.address, proxy.url);
        assert.equal((await health(ours.address)).sealed, false);
        const sent = proxy.requests.slice(seen).filter((r) => r.path === "/v1/sys/unseal");
        assert.ok(sent.length >= 2, `the shares went through the acknowledged address (${sent.length} requests)`);
    });

    it("the provider token: never sent to a new address by a preview, refused by the update, moved with vault.movedFrom", async () => {
        const policy = renderPolicies(configOf(homelabStack())).find((p) => p.name === PULUMI_POLICY);
        const inputs = {
            address: ours.address,
            skipTlsVerify: false,
            policy: PULUMI_POLICY,
            policyText: policy?.text,
            bootstrapToken: root,
            bootstrapSource: "root",
        };
        const created = await quietly(() => tokens.create(inputs));
        const state = created.outs as Record<string, unknown>;
        const ourId = (await health(ours.address)).cluster_id as string;
        assert.equal(state.clusterId, ourId, "the cluster id Vault reported is recorded with the token");
        const token = String(state.token);
        const carriesToken = (from: number) =>
            proxy.requests.slice(from).filter((r) => r.headers["x-vault-token"] === token).length;

        // Steady state: no change (the cluster id matches).
        assert.deepEqual(await quietly(() => tokens.diff("id", state, inputs)), { changes: false, replaces: [] });

        const seen = proxy.requests.length;
        const moved = { ...inputs, address: proxy.url };
        assert.deepEqual(await quietly(() => tokens.diff("id", state, moved)), { changes: true, replaces: [] });
        await assert.rejects(
            quietly(() => tokens.update("id", state, moved)),
            (e: Error) => {
                assert.equal(
                    e.message,
                    `vault-token: ${refusal("the provider token", ours.address, `address ${ours.address} -> ${proxy.url}`)}`,
                );
                return true;
            },
        );
        assert.equal(proxy.requests.length, seen, "the new address received no request, so no token");

        // Acknowledged: the same token, now used at the new address; the cluster id is the same Vault's.
        const updated = await quietly(() => tokens.update("id", state, { ...moved, movedFrom: ours.address }));
        const after = updated.outs as Record<string, unknown>;
        assert.equal(after.token, token);
        assert.equal(after.address, proxy.url);
        assert.equal(after.clusterId, ourId);
        assert.ok(carriesToken(seen) > 0, "the token went to the acknowledged address");

        // Another Vault answers at the recorded address: the preview refuses before sending the token.
        proxy.setUpstream(other.address);
        const otherId = (await health(other.address)).cluster_id as string;
        assert.notEqual(otherId, ourId);
        const before = proxy.requests.length;
        const settled = { ...moved };
        await assert.rejects(
            quietly(() => tokens.diff("id", after, settled)),
            (e: Error) => {
                assert.equal(
                    e.message,
                    `Vault at ${proxy.url} reports cluster id ${otherId}, but this stack's Vault has cluster id ${ourId}: ` +
                        "another Vault (re-initialized, or another server at this address) answers there, so the " +
                        "provider token is not sent to it. See docs/bootstrap.md (Vault's identity).",
                );
                return true;
            },
        );
        assert.ok(proxy.requests.length > before, "the impostor was asked who it is");
        assert.equal(carriesToken(before), 0, "and received no token");
        proxy.setUpstream(ours.address);
        // Back to the real Vault: no change again.
        assert.deepEqual(await quietly(() => tokens.diff("id", after, settled)), { changes: false, replaces: [] });
    });

    describe("a new CA at the same address (TLS)", () => {
        let oldCa: TestCa;
        let newCa: TestCa;
        let tls: RecordingProxy;
        const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
        const serve = (ca: TestCa) => tls.setCertificate({ certPem: ca.certPem, keyPem: ca.keyPem });
        const caRefusal = (what: string, address: string, digest: string) =>
            `refusing to send ${what} to a Vault this stack did not initialize: the CA pinned for it (trust.caBundle) ` +
            `at ${address} changed. If Vault's certificate really is now verified with the new trust.caBundle, set ` +
            `secret-platform:vault.acknowledgeCa to ${digest} (the SHA-256 of that bundle) for the pulumi up that ` +
            `rotates it (pulumi config set --path vault.acknowledgeCa ${digest}); removing it afterwards is ` +
            "optional, since it approves only this bundle at this address. Otherwise revert the change.";
        /** fn's result and the lines it printed. */
        async function printed<T>(fn: () => Promise<T>): Promise<[T, string[]]> {
            const lines: string[] = [];
            const log = console.log;
            console.log = (...args: unknown[]) => lines.push(args.join(" "));
            try {
                return [await fn(), lines];
            } finally {
                console.log = log;
            }
        }

        before(() => {
            oldCa = makeTestCa("identity spec old CA");
            newCa = makeTestCa("identity spec new CA");
        });
        beforeEach(async () => {
            // Vault's address serves a certificate from the old CA until the spec rotates it.
            tls = await startRecordingProxy(ours.address, { certPem: oldCa.certPem, keyPem: oldCa.keyPem });
        });
        afterEach(async () => tls?.close());
        after(() => {
            oldCa?.cleanup();
            newCa?.cleanup();
        });

        it("the unseal key shares: refused without vault.acknowledgeCa or with another digest, sent to the same Vault with the new bundle's", async () => {
            const digest = sha256(newCa.caPem);
            const recorded = { ...unsealInputs(tls.url, { keys: [...keys], caBundle: oldCa.caPem }), unsealed: true };
            const rotated = unsealInputs(tls.url, { keys: [...keys], caBundle: newCa.caPem });
            serve(newCa);
            assert.equal((await vaultRequest(ours.address, operator, "PUT", "sys/seal")).status, 204);

            const [diff, lines] = await printed(() => unsealer.diff("id", recorded, rotated));
            assert.deepEqual(diff, { changes: true, replaces: [] });
            assert.deepEqual(lines, [
                "vault-unsealed: Vault's identity changed (the CA pinned for it (trust.caBundle)); the update sends " +
                    `the key shares nowhere unless vault.acknowledgeCa is ${digest} (the SHA-256 of the new trust.caBundle)`,
            ]);
            const refused = `vault-unsealed: ${caRefusal("the unseal key shares", tls.url, digest)}`;
            await assert.rejects(
                quietly(() => unsealer.update("id", recorded, rotated)),
                { message: refused },
            );
            // A leftover acknowledgement of another bundle (the old CA's) approves nothing.
            await assert.rejects(
                quietly(() => unsealer.update("id", recorded, { ...rotated, acknowledgeCa: sha256(oldCa.caPem) })),
                { message: refused },
            );
            // A changed address is a move: the new bundle's digest does not approve it.
            const elsewhere = tls.url.replace("127.0.0.1", "localhost");
            await assert.rejects(
                quietly(() =>
                    unsealer.update("id", recorded, { ...rotated, address: elsewhere, acknowledgeCa: digest }),
                ),
                {
                    message: `vault-unsealed: ${refusal("the unseal key shares", tls.url, `address ${tls.url} -> ${elsewhere}, the CA pinned for it (trust.caBundle)`)}`,
                },
            );
            assert.equal(tls.requests.length, 0, "no request reached Vault's address, so no share");
            assert.equal((await health(ours.address)).sealed, true, "nothing unsealed it");

            // Acknowledged: the shares go to the same address, verified with the new CA only.
            const done = await quietly(() => unsealer.update("id", recorded, { ...rotated, acknowledgeCa: digest }));
            assert.equal(done.outs?.caBundle, newCa.caPem);
            assert.equal((await health(ours.address)).sealed, false);
            const sent = tls.requests.filter((r) => r.path === "/v1/sys/unseal");
            assert.ok(sent.length >= 2, `the shares went to Vault through its address (${sent.length} requests)`);
        });

        it("the provider token: refused without vault.acknowledgeCa, never to another Vault or address, kept for the same Vault with it", async () => {
            const policy = renderPolicies(configOf(homelabStack())).find((p) => p.name === PULUMI_POLICY);
            const digest = sha256(newCa.caPem);
            // Independent of the spec before: Vault unsealed, as a token check needs.
            if ((await health(ours.address)).sealed === true) await unseal(ours.address, keys);
            const inputs = {
                address: tls.url,
                skipTlsVerify: false,
                caBundle: oldCa.caPem,
                policy: PULUMI_POLICY,
                policyText: policy?.text,
                bootstrapToken: operator,
                bootstrapSource: "vaultToken",
            };
            const state = (await quietly(() => tokens.create(inputs))).outs as Record<string, unknown>;
            const token = String(state.token);
            const ourId = (await health(ours.address)).cluster_id as string;
            assert.equal(state.clusterId, ourId);
            const carriesToken = (from: number) =>
                tls.requests.slice(from).filter((r) => r.headers["x-vault-token"] === token).length;
            serve(newCa);
            const rotated = { ...inputs, caBundle: newCa.caPem };
            const seen = tls.requests.length;

            assert.deepEqual(await quietly(() => tokens.diff("id", state, rotated)), { changes: true, replaces: [] });
            await assert.rejects(
                quietly(() => tokens.update("id", state, rotated)),
                {
                    message: `vault-token: ${caRefusal("the provider token", tls.url, digest)}`,
                },
            );
            const elsewhere = tls.url.replace("127.0.0.1", "localhost");
            await assert.rejects(
                quietly(() => tokens.update("id", state, { ...rotated, address: elsewhere, acknowledgeCa: digest })),
                {
                    message: `vault-token: ${refusal("the provider token", tls.url, `address ${tls.url} -> ${elsewhere}, the CA pinned for it (trust.caBundle)`)}`,
                },
            );
            assert.equal(tls.requests.length, seen, "neither the preview nor the refused updates sent a request");

            // Another Vault behind the address and the new CA: the acknowledgement approves a bundle, not a Vault.
            tls.setUpstream(other.address);
            const otherId = (await health(other.address)).cluster_id as string;
            await assert.rejects(
                quietly(() => tokens.update("id", state, { ...rotated, acknowledgeCa: digest })),
                {
                    message:
                        `Vault at ${tls.url} reports cluster id ${otherId}, but this stack's Vault has cluster id ${ourId}: ` +
                        "another Vault (re-initialized, or another server at this address) answers there, so the " +
                        "provider token is not sent to it. See docs/bootstrap.md (Vault's identity).",
                },
            );
            assert.equal(carriesToken(seen), 0, "the other Vault was asked who it is, and received no token");
            tls.setUpstream(ours.address);

            // Acknowledged: the same token, verified with the new CA, at the same Vault.
            const acknowledged = { ...rotated, acknowledgeCa: digest };
            const after = (await quietly(() => tokens.update("id", state, acknowledged))).outs as Record<
                string,
                unknown
            >;
            assert.equal(after.token, token);
            assert.equal(after.caBundle, newCa.caPem);
            assert.equal(after.clusterId, ourId);
            assert.ok(carriesToken(seen) > 0, "the token went to Vault at its address");
            // Settled: no change, with the acknowledgement left in place or removed.
            assert.deepEqual(await quietly(() => tokens.diff("id", after, acknowledged)), {
                changes: false,
                replaces: [],
            });
            assert.deepEqual(await quietly(() => tokens.diff("id", after, rotated)), { changes: false, replaces: [] });
        });
    });
});
