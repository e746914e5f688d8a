/**
 * The Vault provider's token on a real Vault server, through the dynamic
 * provider in its serialized form (as Pulumi's dynamic provider host loads
 * it): the first `pulumi up` mints it and revokes the root token; later runs
 * work from the state alone; a token past half its period is renewed by the
 * update; a token older than the maximum age is replaced by the update and
 * revoked, a younger one kept; a refused token fails the preview with how to recover; the
 * break-glass path (a root token from `vault operator generate-root`, handed
 * over as vaultToken) re-mints and revokes that root token too; destroy
 * revokes the provider token.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { PULUMI_POLICY } from "../../components/lib/policy-names";
import { renderPolicies } from "../../components/lib/policies";
import {
    PROVIDER_TOKEN_DISPLAY_NAME,
    PROVIDER_TOKEN_PERIOD_SECONDS,
    providerTokenInvalidMessage,
} from "../../components/lib/vault-token";
import { hostLoaded, Provider } from "../support/dynamic-provider";
import { homelabStack } from "../support/fixtures";
import { configOf } from "../support/program";
import { requireTool } from "../support/tools";
import { initAndUnseal, startVault, vaultRequest, VaultServer } from "../support/vault-server";

describe("integration: the Vault provider's token on a real Vault server", function () {
    this.timeout(60_000);
    let vault: VaultServer;
    let vaultBin: string;
    let provider: Provider;
    let root: string;
    let keys: readonly string[];
    let inputs: Record<string, unknown>;
    let state: Record<string, any>;
    const printed: string[] = [];
    /** Every token a create or update returned: none may be printed. */
    const minted: string[] = [];

    const as = (token: string | undefined, method: string, apiPath: string, body?: unknown) =>
        vaultRequest(vault.address, token, method, apiPath, body);
    const lookup = async (token: string) => as(token, "GET", "auth/token/lookup-self");

    /** Runs fn with console.log captured (the plugin's output a user sees). */
    async function capturing<T>(fn: () => Promise<T>): Promise<{ result: T; out: string }> {
        const log = console.log;
        let out = "";
        console.log = (...args: unknown[]) => {
            out += `${args.join(" ")}\n`;
        };
        try {
            const result = await fn();
            const token = (result as { outs?: { token?: unknown } } | undefined)?.outs?.token;
            if (typeof token === "string") minted.push(token);
            return { result, out };
        } finally {
            console.log = log;
            printed.push(out);
        }
    }

    /** `vault operator generate-root` with the key shares: the break-glass runbook, for real. */
    async function generateRoot(): Promise<string> {
        const attempt = await as(undefined, "PUT", "sys/generate-root/attempt", {});
        assert.equal(attempt.status, 200, JSON.stringify(attempt.body));
        let encoded = "";
        for (const key of keys) {
            const step = await as(undefined, "PUT", "sys/generate-root/update", { key, nonce: attempt.body.nonce });
            if (step.body.complete === true) encoded = step.body.encoded_token;
        }
        // As docs/bootstrap.md runs it: the encoded token on stdin (-decode=-), never on the command line.
        const decoded = spawnSync(
            vaultBin,
            ["operator", "generate-root", "-decode=-", `-otp=${attempt.body.otp}`, "-format=json"],
            { env: { ...process.env, VAULT_ADDR: vault.address }, encoding: "utf8", input: `${encoded}\n` },
        );
        assert.equal(decoded.status, 0, decoded.stderr);
        return JSON.parse(decoded.stdout).token;
    }

    before(async function () {
        vaultBin = requireTool(this, "vault");
        vault = await startVault();
        ({ rootToken: root, keys } = await initAndUnseal(vault.address, { shares: 3, threshold: 2 }));
        provider = await hostLoaded("token");
        const policy = renderPolicies(configOf(homelabStack())).find((p) => p.name === PULUMI_POLICY);
        inputs = {
            address: vault.address,
            skipTlsVerify: false,
            policy: PULUMI_POLICY,
            policyText: policy?.text,
            bootstrapToken: root,
            bootstrapSource: "root",
            maxAgeSeconds: 30 * 86400,
        };
    });

    after(async () => {
        await vault?.stop();
    });

    it("first pulumi up: mints an orphan periodic pulumi token and revokes the root token", async () => {
        const { result, out } = await capturing(() => provider.create(inputs));
        state = result.outs;
        assert.equal(state.rootRevoked, true);
        assert.match(
            out,
            /^vault-token: minted the provider token \(accessor \S+, policy pulumi\); the root token it was made with is revoked\n$/,
        );
        // The root token is gone; the provider's token works and is exactly what it should be.
        assert.equal((await lookup(root)).status, 403);
        const self = await lookup(state.token);
        assert.equal(self.status, 200);
        assert.deepEqual(self.body.data.policies, ["default", PULUMI_POLICY]);
        assert.equal(self.body.data.period, PROVIDER_TOKEN_PERIOD_SECONDS);
        assert.equal(self.body.data.orphan, true);
        assert.equal(self.body.data.display_name, `token-${PROVIDER_TOKEN_DISPLAY_NAME}`);
        assert.equal(result.id, `vault-token:${state.accessor}`);
        // It can do the configuration's job at once (the policy was written first), and reads no secret.
        const policy = await as(state.token, "PUT", "sys/policies/acl/probe", {
            policy: 'path "x/*" { capabilities = ["read"] }',
        });
        assert.equal(policy.status, 204);
        assert.equal((await as(state.token, "GET", "sys/policies/acl/pulumi")).body.data.policy, inputs.policyText);
        assert.equal((await as(state.token, "GET", "cubbyhole/x")).status, 404, "its own cubbyhole only");
        assert.equal((await as(state.token, "PUT", "sys/seal")).status, 403);
    });

    it("second pulumi up: no change, and the update keeps the same token, from the state alone", async () => {
        const { result } = await capturing(() => provider.diff("id", state, inputs));
        assert.deepEqual(result, { changes: false, replaces: [] });
        const updated = await provider.update("id", state, { ...inputs, __provider: "x" });
        assert.equal(updated.outs.token, state.token);
        assert.equal(updated.outs.accessor, state.accessor);
    });

    it("a token younger than the maximum age: the preview says no change and the update keeps it", async () => {
        const young = { ...inputs, maxAgeSeconds: 3600 };
        const { result, out } = await capturing(() => provider.diff("id", state, young));
        assert.deepEqual(result, { changes: false, replaces: [] });
        assert.equal(out, "");
        const { result: updated } = await capturing(() => provider.update("id", state, young));
        assert.equal(updated.outs.token, state.token);
        assert.equal(updated.outs.accessor, state.accessor);
        assert.equal((await lookup(state.token)).status, 200);
    });

    it("a token past the maximum age: the update mints a new one and revokes the old accessor", async () => {
        // Vault's creation_time counts whole seconds: past 2s, the token is at least 1s old.
        await new Promise((r) => setTimeout(r, 2000));
        const aged = { ...inputs, maxAgeSeconds: 1 };
        const { result: diff, out } = await capturing(() => provider.diff("id", state, aged));
        assert.deepEqual(diff, { changes: true, replaces: [] });
        assert.equal(
            out,
            `vault-token: the provider token (accessor ${state.accessor}) is older than vault.providerTokenMaxAgeDays; ` +
                "the update mints a new one and revokes it\n",
        );
        const { result: updated, out: said } = await capturing(() => provider.update("id", state, aged));
        const fresh = updated.outs;
        assert.notEqual(fresh.token, state.token);
        assert.notEqual(fresh.accessor, state.accessor);
        assert.equal(
            said,
            `vault-token: minted a new provider token (accessor ${fresh.accessor}) and revoked the one 0 days old ` +
                `(accessor ${state.accessor})\n`,
        );
        // The old token and its accessor are gone; the new one is the same kind of token.
        assert.equal((await lookup(state.token)).status, 403);
        const byAccessor = await as(fresh.token, "PUT", "auth/token/lookup-accessor", { accessor: state.accessor });
        assert.equal(byAccessor.status, 400, JSON.stringify(byAccessor.body));
        assert.match(String(byAccessor.body.errors), /\* invalid accessor/);
        const self = await lookup(fresh.token);
        assert.deepEqual(self.body.data.policies, ["default", PULUMI_POLICY]);
        assert.equal(self.body.data.period, PROVIDER_TOKEN_PERIOD_SECONDS);
        assert.equal(self.body.data.orphan, true);
        assert.equal(self.body.data.display_name, `token-${PROVIDER_TOKEN_DISPLAY_NAME}`);
        assert.equal(fresh.rootRevoked, true, "the record that the root token was revoked is kept");
        assert.equal(fresh.maxAgeSeconds, 1);
        assert.equal(fresh.clusterId, state.clusterId);
        // The positive control: the new token does the configuration's job.
        assert.equal((await as(fresh.token, "GET", "sys/policies/acl/pulumi")).status, 200);
        state = { ...fresh, maxAgeSeconds: inputs.maxAgeSeconds };
    });

    it("a token past half its period: the preview says so and the update renews it", async () => {
        // A short-period pulumi token stands in for one a month old (minted with a break-glass root).
        const breakGlass = await generateRoot();
        const short = await as(breakGlass, "PUT", "auth/token/create-orphan", {
            policies: [PULUMI_POLICY],
            period: "120s",
        });
        await as(breakGlass, "PUT", "auth/token/revoke-self", {});
        const aged = { ...state, token: short.body.auth.client_token, accessor: short.body.auth.accessor };
        const { result, out } = await capturing(() => provider.diff("id", aged, inputs));
        assert.deepEqual(result, { changes: true, replaces: [] });
        assert.equal(out, "vault-token: the provider token is past half its period; the update renews it\n");
        await new Promise((r) => setTimeout(r, 1100));
        // expire_time, not ttl: Vault rounds "now" to the second in ttl, so two lookups a second apart can agree.
        const expiry = async () => Date.parse((await lookup(aged.token)).body.data.expire_time as string);
        const before = await expiry();
        const updated = await provider.update("id", aged, inputs);
        assert.equal(updated.outs.token, aged.token);
        assert.ok((await expiry()) - before >= 1000, "renewed: the expiry moved by the time waited");
    });

    it("a revoked token fails the preview with how to recover; a root token as vaultToken re-mints and is revoked", async () => {
        const lost = { ...state };
        assert.equal((await as(lost.token, "PUT", "auth/token/revoke-self", {})).status, 204);
        await assert.rejects(provider.diff("id", lost, inputs), {
            message: providerTokenInvalidMessage(vault.address, lost.accessor),
        });
        assert.match(
            providerTokenInvalidMessage(vault.address, "a"),
            /pulumi config set --secret vaultToken` \(it prompts for the token: never on the command line\)/,
        );
        // Without a new operator token the update refuses too, with the same message.
        await assert.rejects(provider.update("id", lost, inputs), {
            message: providerTokenInvalidMessage(vault.address, lost.accessor),
        });

        const breakGlass = await generateRoot();
        const recovering = { ...inputs, bootstrapToken: breakGlass, bootstrapSource: "vaultToken" };
        const { result: diff } = await capturing(() => provider.diff("id", lost, recovering));
        assert.deepEqual(diff, { changes: true, replaces: [] });
        const { result: updated } = await capturing(() => provider.update("id", lost, recovering));
        assert.notEqual(updated.outs.token, lost.token);
        assert.equal(updated.outs.rootRevoked, true);
        assert.equal((await lookup(breakGlass)).status, 403, "the break-glass root token is revoked");
        assert.equal((await lookup(updated.outs.token)).status, 200);
        state = updated.outs;
    });

    it("adopting a Vault with vaultToken works the same: mint, then revoke that root token", async () => {
        const breakGlass = await generateRoot();
        const { result } = await capturing(() =>
            provider.create({ ...inputs, bootstrapToken: breakGlass, bootstrapSource: "vaultToken" }),
        );
        assert.equal(result.outs.rootRevoked, true);
        assert.equal((await lookup(breakGlass)).status, 403);
        await capturing(() => provider.delete("id", result.outs));
    });

    it("destroy revokes the provider token", async () => {
        const { out } = await capturing(() => provider.delete("id", state));
        assert.equal(out, `vault-token: revoked the provider token (accessor ${state.accessor})\n`);
        assert.equal((await lookup(state.token)).status, 403);
    });

    it("printed no token", () => {
        const all = printed.join("");
        assert.ok(all.includes("vault-token: minted"), "the capture saw the provider's log");
        for (const secret of [root, ...minted]) assert.ok(!all.includes(secret), "a token was printed");
    });
});
