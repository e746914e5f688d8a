/**
 * `npm run doctor` against a real Vault configured as the program configures
 * it (KV mounts, the rendered reader policy, Kubernetes auth and its role, the
 * OIDC mount and role) and a real OIDC provider (hydra, the e2e's, playing
 * Authelia: its client registered as the stack's autheliaOidcClient output,
 * its discovery listing the groups scope and claim as Authelia's does): the
 * healthy setup exits 0; each seeded misconfiguration is named in its FAULT
 * lines and exits 1; the fault is then undone, so each case is checked alone.
 * The CA cases run a second Vault serving TLS from a test CA, and the stack
 * trusting another CA than the provider's.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { RigHydra, startHydra } from "../../e2e/rig/hydra";
import { RigCa } from "../../e2e/rig/pki";
import { Rig } from "../../e2e/rig/processes";
import { autheliaClient, oidcRedirectUris } from "../../components/lib/oidc";
import { canaryValue } from "../../components/lib/secret-store-manifests";
import { renderPolicies } from "../../components/lib/policies";
import { doctorMain } from "../../ops/doctor";
import { homelabStack } from "../support/fixtures";
import { configOf } from "../support/program";
import { makeTestCa, TestCa } from "../support/test-ca";
import { requireTool } from "../support/tools";
import { initAndUnseal, startVault, unseal, VaultInit, vaultRequest, VaultServer } from "../support/vault-server";

const K8S = "kubernetes-amiya.akn";
const READER = "external-secrets-reader-amiya.akn";

/** What Authelia's discovery lists beyond hydra's own: its groups scope and claim. */
const AUTHELIA_DISCOVERY = {
    scopes: ["profile", "email", "groups"],
    claims: ["preferred_username", "email", "groups"],
};
/** hydra's own words (fosite's), which the doctor quotes. */
const HYDRA = {
    redirectMismatch:
        "invalid_request: The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed. The 'redirect_uri' parameter does not match any of the OAuth 2.0 Client's pre-registered redirect urls.",
    unknownClient:
        "invalid_client: Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method). The requested OAuth 2.0 Client does not exist.",
    groupsScope:
        "invalid_scope: The requested scope is invalid, unknown, or malformed. The OAuth 2.0 Client is not allowed to request scope 'groups'.",
};

/** A project root holding Pulumi.doctor.yaml for a stack's values (secrets as `secure` placeholders). */
function stackRoot(values: Record<string, unknown>, secrets: Record<string, unknown>): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "doctor-stack-"));
    const config: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(values)) config[`secret-platform:${k}`] = v;
    for (const k of Object.keys(secrets)) config[`secret-platform:${k}`] = { secure: "v1:placeholder" };
    fs.writeFileSync(path.join(root, "Pulumi.doctor.yaml"), YAML.stringify({ config }));
    return root;
}

describe("integration: npm run doctor names each seeded fault on a real Vault", function () {
    let vault: VaultServer;
    let init: VaultInit;
    let root: string;
    const stack = homelabStack();
    const config = configOf(stack);
    const put = async (p: string, body: unknown) => {
        const res = await vaultRequest(vault.address, init.rootToken, "POST", p, body);
        assert.ok(res.status < 300, `${p}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    };
    // As the stack makes it: only the login ServiceAccount (not ESO's controller), kubernetesAuth.audience required.
    const healthyRole = {
        bound_service_account_names: [config.externalSecrets.serviceAccount],
        bound_service_account_namespaces: [config.externalSecrets.namespace],
        audience: config.kubernetesAuth.audience,
        token_policies: [READER],
        token_ttl: 600,
    };
    const oidcRole = {
        role_type: "oidc",
        user_claim: "preferred_username",
        groups_claim: "groups",
        bound_audiences: ["vault"],
        oidc_scopes: ["profile", "email", "groups"],
        allowed_redirect_uris: oidcRedirectUris(config),
    };
    // Outside a pod there is no mounted CA: the API server's CA is given, as kubernetesAuth.caCert would.
    let apiCa: TestCa;
    // The OIDC provider: hydra over TLS from its own CA, which the stack trusts (trust.caBundle).
    let rig: Rig;
    let oidcCa: RigCa;
    let hydra: RigHydra;
    const clientSecret = crypto.randomBytes(24).toString("hex");
    /** The stack's client as hydra registers it (components/lib/oidc.ts autheliaClient). */
    const hydraClient = (change: Record<string, unknown> = {}) => {
        const c = autheliaClient(config);
        return {
            client_id: c.client_id,
            client_secret: clientSecret,
            redirect_uris: c.redirect_uris,
            scope: c.scopes.join(" "),
            grant_types: c.grant_types,
            response_types: c.response_types,
            token_endpoint_auth_method: c.token_endpoint_auth_method,
            ...change,
        };
    };
    const hydraAdmin = async (h: RigHydra, method: string, p: string, body?: unknown) => {
        const res = await h.adminRequest(method, p, body);
        assert.ok(res.status < 300, `hydra ${method} ${p}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    };
    /** The stack file's values with the provider's issuer and CA (and any change). */
    const stackValues = (issuer: string, trust: Record<string, unknown>, oidc: Record<string, unknown> = {}) => ({
        ...stack.values,
        oidc: { ...stack.values.oidc, issuer, ...oidc },
        trust,
    });
    const k8sConfig = () => ({ kubernetes_host: "https://kubernetes.default.svc", kubernetes_ca_cert: apiCa.caPem });
    const oidcConfig = (change: Record<string, unknown> = {}) => ({
        oidc_discovery_url: hydra.issuer,
        oidc_discovery_ca_pem: oidcCa.pem(),
        oidc_client_id: config.oidc.clientId,
        oidc_client_secret: clientSecret,
        default_role: "default",
        ...change,
    });
    const readerText = () => renderPolicies(config).find((p) => p.name === READER)!.text;

    async function doctor(dir = root): Promise<{ code: number; lines: string[] }> {
        const lines: string[] = [];
        const code = await doctorMain(
            ["--stack", "doctor", "--address", vault.address],
            { VAULT_TOKEN: init.rootToken },
            (l) => lines.push(l),
            dir,
        );
        return { code, lines };
    }
    /** The doctor exits 1 with exactly these FAULT lines (one, or several). */
    async function expectFault(expected: string | string[], dir = root) {
        const want = typeof expected === "string" ? [expected] : expected;
        const { code, lines } = await doctor(dir);
        assert.equal(code, 1, lines.join("\n"));
        const faults = lines.filter((l) => l.startsWith("FAULT"));
        assert.deepEqual(faults, want, lines.join("\n"));
        assert.equal(lines.at(-1), `doctor: ${want.length} fault${want.length === 1 ? "" : "s"}`);
    }

    before(async function () {
        this.timeout(90_000);
        requireTool(this, "vault");
        const hydraBin = requireTool(this, "hydra");
        rig = new Rig();
        oidcCa = await RigCa.create(rig.subdir("oidc-ca"), "the OIDC provider's CA");
        hydra = await startHydra(rig, oidcCa, hydraBin, () => undefined, { discovery: AUTHELIA_DISCOVERY });
        await hydraAdmin(hydra, "POST", "/admin/clients", hydraClient());
        root = stackRoot(stackValues(hydra.issuer, { caBundle: oidcCa.pem() }), stack.secrets);
        apiCa = makeTestCa("the API server's CA");
        vault = await startVault();
        init = await initAndUnseal(vault.address);
        await put("sys/mounts/amiya.akn", { type: "kv", options: { version: "2" } });
        await put("sys/mounts/shared", { type: "kv", options: { version: "2" } });
        await put(`sys/policies/acl/${READER}`, { policy: readerText() });
        await put(`sys/auth/${K8S}`, { type: "kubernetes" });
        await put(`auth/${K8S}/config`, k8sConfig());
        await put(`auth/${K8S}/role/external-secrets`, healthyRole);
        await put("amiya.akn/data/canary/platform/check", { data: { value: canaryValue("amiya.akn") } });
        await put("sys/auth/oidc", { type: "oidc" });
        // Vault itself fetches hydra's discovery here (with the CA the stack trusts): it accepts this provider.
        await put("auth/oidc/config", oidcConfig());
        await put("auth/oidc/role/default", oidcRole);
    });

    after(async () => {
        await vault?.stop();
        await rig?.cleanup();
        apiCa?.cleanup();
        if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
    });

    it("the healthy setup: every check ok, exit 0", async () => {
        const { code, lines } = await doctor();
        assert.equal(code, 0, lines.join("\n"));
        assert.deepEqual(
            lines.map((l) => l.slice(0, 6) + l.slice(6).split(":")[0]),
            [
                "ok    ca trust",
                "ok    vault sealed",
                "ok    kubernetes auth issuer",
                "ok    kubernetes auth audience",
                "ok    kubernetes auth binding",
                "ok    kv capabilities",
                "ok    kv capabilities",
                "ok    canary",
                "ok    oidc redirect uris",
                "ok    oidc groups claim",
                "ok    oidc discovery",
                "ok    oidc provider redirect uri",
                "ok    oidc provider redirect uri",
                "ok    oidc provider scopes",
                "ok    oidc provider groups claim",
                "doctor",
            ],
        );
        assert.equal(lines.at(-1), "doctor: no fault found");
        // What the provider said, exactly: each of the role's redirect URIs goes on to hydra's login.
        const endpoint = `${hydra.issuer}oauth2/auth`;
        assert.deepEqual(lines.slice(-6, -1), [
            `ok    oidc discovery: ${hydra.issuer}.well-known/openid-configuration is trusted and names issuer ${hydra.issuer}; authorization endpoint ${endpoint}`,
            `ok    oidc provider redirect uri: ${endpoint} accepts redirect URI http://localhost:8250/oidc/callback for client vault (on to ${hydra.loginUrl})`,
            `ok    oidc provider redirect uri: ${endpoint} accepts redirect URI https://vault.amiya.akn/ui/vault/auth/oidc/oidc/callback for client vault (on to ${hydra.loginUrl})`,
            "ok    oidc provider scopes: the provider supports scope groups, and client vault may request openid profile email groups",
            "ok    oidc provider groups claim: the provider lists claim groups in claims_supported",
        ]);
    });

    it("1. a Kubernetes auth issuer the stack does not set", async () => {
        await put(`auth/${K8S}/config`, {
            ...k8sConfig(),
            issuer: "https://oidc.eks.example/id/1",
            disable_iss_validation: false,
        });
        try {
            await expectFault(
                `FAULT kubernetes auth issuer: auth/${K8S}/config requires issuer https://oidc.eks.example/id/1, which this stack does not set (it validates tokens by TokenReview): tokens whose iss differs are refused with 403 "invalid issuer (iss) claim"; remove the issuer or run pulumi up`,
            );
        } finally {
            await put(`auth/${K8S}/config`, { ...k8sConfig(), issuer: "" });
        }
    });

    it("2. a role audience the store's tokens do not carry, and a role that requires none", async () => {
        assert.deepEqual(
            [config.externalSecrets.serviceAccount, config.kubernetesAuth.audience],
            ["vault-login", "vault"],
        );
        await put(`auth/${K8S}/role/external-secrets`, { ...healthyRole, audience: "https://kubernetes.default.svc" });
        try {
            await expectFault(
                `FAULT kubernetes auth audience: role external-secrets at auth/${K8S} requires audience https://kubernetes.default.svc, but the stores request tokens for vault (kubernetesAuth.audience): logins fail with 403 "invalid audience (aud) claim"`,
            );
            await put(`auth/${K8S}/role/external-secrets`, { ...healthyRole, audience: "" });
            await expectFault(
                `FAULT kubernetes auth audience: role external-secrets at auth/${K8S} requires no audience, so a token minted for the API server (any pod's own) logs in too; the stack requires vault (kubernetesAuth.audience): run pulumi up`,
            );
        } finally {
            await put(`auth/${K8S}/role/external-secrets`, healthyRole);
        }
    });

    it("3. the store's ServiceAccount not bound to the role", async () => {
        await put(`auth/${K8S}/role/external-secrets`, { ...healthyRole, bound_service_account_names: ["eso"] });
        try {
            await expectFault(
                `FAULT kubernetes auth binding: role external-secrets at auth/${K8S} does not bind ServiceAccount vault-login (bound: eso): ESO's login fails with 403 "service account name not authorized"`,
            );
        } finally {
            await put(`auth/${K8S}/role/external-secrets`, healthyRole);
        }
    });

    it("4. the store's namespace not bound to the role", async () => {
        await put(`auth/${K8S}/role/external-secrets`, {
            ...healthyRole,
            bound_service_account_namespaces: ["default", "eso"],
        });
        try {
            await expectFault(
                `FAULT kubernetes auth binding: role external-secrets at auth/${K8S} does not bind namespace external-secrets (bound: default, eso): ESO's login fails with 403 "namespace not authorized"`,
            );
        } finally {
            await put(`auth/${K8S}/role/external-secrets`, healthyRole);
        }
    });

    it("4b. a role that binds more than the login ServiceAccount (ESO's controller, a wildcard)", async () => {
        for (const names of [["vault-login", "external-secrets"], ["*"]]) {
            await put(`auth/${K8S}/role/external-secrets`, { ...healthyRole, bound_service_account_names: names });
            try {
                await expectFault(
                    `FAULT kubernetes auth binding: role external-secrets at auth/${K8S} binds more than external-secrets/vault-login (ServiceAccounts: ${names.join(", ")}; namespaces: external-secrets): those log in with the stores' policies; run pulumi up`,
                );
            } finally {
                await put(`auth/${K8S}/role/external-secrets`, healthyRole);
            }
        }
    });

    it("5. the reader policy without the KV v2 metadata/ capability (sys/capabilities)", async () => {
        const noMetadata = readerText().replace('path "amiya.akn/metadata/*"', 'path "amiya.akn/meta/*"');
        assert.notEqual(noMetadata, readerText());
        await put(`sys/policies/acl/${READER}`, { policy: noMetadata });
        try {
            await expectFault(
                `FAULT kv capabilities: store vault-amiya-akn: the role's policies (${READER}) lack read on amiya.akn/metadata/*, list on amiya.akn/metadata/*: ESO gets 403 "permission denied" (KV v2 needs the data/ and metadata/ prefixes, not the bare path)`,
            );
        } finally {
            await put(`sys/policies/acl/${READER}`, { policy: readerText() });
        }
    });

    it("6. OIDC role redirect URIs that differ from the stack's client, and that the provider refuses", async () => {
        await put("auth/oidc/role/default", {
            ...oidcRole,
            allowed_redirect_uris: ["https://vault.example/ui/vault/auth/oidc/oidc/callback"],
        });
        try {
            await expectFault([
                `FAULT oidc redirect uris: role default at auth/oidc allows https://vault.example/ui/vault/auth/oidc/oidc/callback, but the stack's client (vault) registers ${[...oidcRedirectUris(config)].sort().join(", ")}: run pulumi up (the oidc provider lines say what the provider accepts)`,
                `FAULT oidc provider redirect uri: the provider refuses redirect URI https://vault.example/ui/vault/auth/oidc/oidc/callback for client vault (${HYDRA.redirectMismatch}): add it to the client's redirect_uris at the provider (the stack output autheliaOidcClient lists them), or remove it from role default`,
            ]);
        } finally {
            await put("auth/oidc/role/default", oidcRole);
        }
    });

    it("7. no groups scope requested, so no groups claim in the ID token", async () => {
        await put("auth/oidc/role/default", { ...oidcRole, oidc_scopes: ["profile", "email"] });
        try {
            await expectFault(
                `FAULT oidc groups claim: role default at auth/oidc does not request the groups scope (scopes: profile, email): the ID token carries no groups claim, so logins get no group policies`,
            );
        } finally {
            await put("auth/oidc/role/default", oidcRole);
        }
    });

    it("8. a canary value the stack did not write (and none at all)", async () => {
        const sha = (v: string) => crypto.createHash("sha256").update(v).digest("hex");
        const want = sha(canaryValue("amiya.akn"));
        await put("amiya.akn/data/canary/platform/check", { data: { value: "edited by hand" } });
        try {
            await expectFault(
                `FAULT canary: the canary at amiya.akn/canary/platform/check has SHA-256 ${sha("edited by hand")}, not the stack's canarySha256 ${want}: something else wrote it; run pulumi up`,
            );
            const del = await vaultRequest(
                vault.address,
                init.rootToken,
                "DELETE",
                "amiya.akn/metadata/canary/platform/check",
            );
            assert.ok(del.status < 300);
            await expectFault(
                "FAULT canary: no canary at amiya.akn/canary/platform/check (HTTP 404): the canary ExternalSecret cannot sync; run pulumi up",
            );
        } finally {
            await put("amiya.akn/data/canary/platform/check", { data: { value: canaryValue("amiya.akn") } });
        }
    });

    it("9. Vault sealed (and only that: the other checks need it unsealed)", async () => {
        await put("sys/seal", {});
        try {
            const { code, lines } = await doctor();
            assert.equal(code, 1);
            assert.deepEqual(lines, [
                `ok    ca trust: ${vault.address} is plain http: no certificate to trust`,
                `FAULT vault sealed: Vault at ${vault.address} is sealed (unseal progress 0/1): every read fails with 503 until it is unsealed (docs/monitoring.md#vaultsealedordown)`,
                "doctor: 1 fault",
            ]);
        } finally {
            await unseal(vault.address, init.keys);
        }
        assert.equal((await doctor()).code, 0, "unsealed again: healthy");
    });

    describe("10. a CA not trusted", function () {
        let tlsVault: VaultServer;
        let served: TestCa;
        let other: TestCa;
        let tlsRoot: string;

        before(async function () {
            this.timeout(30_000);
            served = makeTestCa("the CA that signed Vault's certificate");
            other = makeTestCa("the CA trust.caBundle names");
            tlsVault = await startVault({ tls: { certFile: served.certFile, keyFile: served.keyFile } });
            const values = { ...stack.values, trust: { caBundle: other.caPem } };
            tlsRoot = stackRoot(values, stack.secrets);
        });

        after(async () => {
            await tlsVault?.stop();
            served?.cleanup();
            other?.cleanup();
            if (tlsRoot !== undefined) fs.rmSync(tlsRoot, { recursive: true, force: true });
        });

        it("Vault's certificate does not chain to trust.caBundle: named, exit 1; the right CA: trusted", async () => {
            const run = async (dir: string) => {
                const lines: string[] = [];
                const code = await doctorMain(
                    ["--stack", "doctor", "--address", tlsVault.address],
                    { VAULT_TOKEN: "unused" },
                    (l) => lines.push(l),
                    dir,
                );
                return { code, lines };
            };
            const bad = await run(tlsRoot);
            assert.equal(bad.code, 1);
            assert.deepEqual(bad.lines, [
                `FAULT ca trust: Vault's certificate at ${tlsVault.address} does not chain to trust.caBundle (UNABLE_TO_VERIFY_LEAF_SIGNATURE): every client of this stack (provider, ESO, unsealer) refuses it; set trust.caBundle to the CA that signs it`,
                "doctor: 1 fault",
            ]);
            // Positive control: the CA that signed it is trusted (the fresh Vault is then only sealed).
            fs.rmSync(tlsRoot, { recursive: true, force: true });
            tlsRoot = stackRoot({ ...stack.values, trust: { caBundle: served.caPem } }, stack.secrets);
            const good = await run(tlsRoot);
            assert.equal(good.lines[0], `ok    ca trust: Vault's certificate at ${tlsVault.address} is trusted`);
            assert.match(good.lines[1], /^FAULT vault sealed: /);
        });
    });
    describe("the OIDC provider, asked with no admin rights (hydra)", function () {
        // Each case runs the doctor two to four times (about 0.3 s each when idle).
        this.timeout(60_000);
        const cli = "http://localhost:8250/oidc/callback";
        const web = "https://vault.amiya.akn/ui/vault/auth/oidc/oidc/callback";
        const endpoint = () => `${hydra.issuer}oauth2/auth`;
        const discovery = () => `${hydra.issuer}.well-known/openid-configuration`;
        const dirs: string[] = [];
        /** A stack file with other provider settings (removed after the suite). */
        const variant = (issuer: string, trust: Record<string, unknown>, oidc: Record<string, unknown> = {}) => {
            const dir = stackRoot(stackValues(issuer, trust, oidc), stack.secrets);
            dirs.push(dir);
            return dir;
        };
        after(() => {
            for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
        });

        it("11. the provider's client lacks one of the role's redirect URIs: named with what to change", async () => {
            await hydraAdmin(hydra, "PUT", "/admin/clients/vault", hydraClient({ redirect_uris: [web] }));
            try {
                await expectFault(
                    `FAULT oidc provider redirect uri: the provider refuses redirect URI ${cli} for client vault (${HYDRA.redirectMismatch}): add it to the client's redirect_uris at the provider (the stack output autheliaOidcClient lists them), or remove it from role default`,
                );
                // The other URI is still accepted, on the same run's line.
                const { lines } = await doctor();
                assert.ok(
                    lines.includes(
                        `ok    oidc provider redirect uri: ${endpoint()} accepts redirect URI ${web} for client vault (on to ${hydra.loginUrl})`,
                    ),
                    lines.join("\n"),
                );
            } finally {
                await hydraAdmin(hydra, "PUT", "/admin/clients/vault", hydraClient());
            }
            assert.equal((await doctor()).code, 0, "the client's redirect URIs restored: healthy");
        });

        it("12. the stack's client not registered at the provider: one line, not one per URI", async () => {
            await hydraAdmin(hydra, "DELETE", "/admin/clients/vault");
            try {
                await expectFault(
                    `FAULT oidc provider client: the provider has no client vault (oidc.clientId) (${HYDRA.unknownClient}): register the stack's autheliaOidcClient output with it`,
                );
            } finally {
                await hydraAdmin(hydra, "POST", "/admin/clients", hydraClient());
            }
            assert.equal((await doctor()).code, 0, "registered again: healthy");
        });

        it("13. the client may not request the groups scope, so the ID token has no groups claim", async () => {
            await hydraAdmin(hydra, "PUT", "/admin/clients/vault", hydraClient({ scope: "openid profile email" }));
            try {
                await expectFault(
                    `FAULT oidc provider scopes: client vault may not request the scopes Vault asks for (openid profile email groups) at the provider (${HYDRA.groupsScope}): allow them in the client's scopes (the stack output autheliaOidcClient lists them)`,
                );
            } finally {
                await hydraAdmin(hydra, "PUT", "/admin/clients/vault", hydraClient());
            }
            assert.equal((await doctor()).code, 0, "the client's scopes restored: healthy");
        });

        describe("14. a provider whose discovery lists no groups scope and no groups claim", function () {
            // A rig of its own: a second hydra in the first's rig would rewrite the config file the first watches.
            let plainRig: Rig;
            let plainCa: RigCa;
            let plain: RigHydra;
            before(async function () {
                this.timeout(60_000);
                plainRig = new Rig();
                plainCa = await RigCa.create(plainRig.subdir("ca"), "the second provider's CA");
                // hydra's own discovery: scopes_supported offline_access, offline, openid; claims_supported sub.
                plain = await startHydra(plainRig, plainCa, requireTool(this, "hydra"), () => undefined);
                await hydraAdmin(plain, "POST", "/admin/clients", hydraClient());
            });
            after(async () => {
                await plainRig?.cleanup();
            });

            it("both named; the provider that lists them (the healthy run's) is the positive control", async () => {
                await expectFault(
                    [
                        "FAULT oidc provider scopes: the provider's scopes_supported (offline_access, offline, openid) lacks groups: its ID tokens carry no groups claim, so logins get no group policies; enable the groups scope at the provider",
                        "FAULT oidc provider groups claim: the provider's claims_supported (sub) lacks groups (oidc.groupsClaim): its ID tokens carry no groups claim, so logins get no group policies; set oidc.groupsClaim to the claim it sends, or make it send groups",
                    ],
                    variant(plain.issuer, { caBundle: plainCa.pem() }),
                );
                const healthy = await doctor();
                assert.equal(healthy.code, 0, healthy.lines.join("\n"));
                assert.ok(
                    healthy.lines.some((l) =>
                        l.startsWith("ok    oidc provider scopes: the provider supports scope groups"),
                    ),
                );
            });
        });

        it("15. the provider's certificate from a CA the stack does not trust: URL and key named; the right CA: ok", async () => {
            const other = await RigCa.create(rig.subdir("other-ca"), "a CA that signs nothing here");
            const untrusted = (trusted: string, key: string) =>
                `FAULT oidc discovery: the OIDC provider's certificate at ${discovery()} does not chain to ${trusted} (UNABLE_TO_VERIFY_LEAF_SIGNATURE): Vault cannot fetch the discovery document, so pulumi up and every OIDC login fail; set ${key} to the CA that signs it`;
            const bothKeys = "trust.caBundle (or oidc.discoveryCaPem, for the issuer alone)";
            await expectFault(untrusted("trust.caBundle", bothKeys), variant(hydra.issuer, { caBundle: other.pem() }));
            // oidc.discoveryCaPem overrides trust.caBundle for the issuer (as Vault's oidc_discovery_ca_pem).
            await expectFault(
                untrusted("oidc.discoveryCaPem", "oidc.discoveryCaPem"),
                variant(hydra.issuer, { caBundle: oidcCa.pem() }, { discoveryCaPem: other.pem() }),
            );
            // Real Vault agrees: it refuses the provider with that CA, and accepts it with the right one.
            const refused = await vaultRequest(vault.address, init.rootToken, "POST", "auth/oidc/config", {
                ...oidcConfig({ oidc_discovery_ca_pem: other.pem() }),
            });
            assert.deepEqual([refused.status, refused.body?.errors], [400, ["error checking oidc discovery URL"]]);
            assert.ok(
                vault
                    .logTail(5)
                    .includes(
                        `Get \\"${discovery()}\\": tls: failed to verify certificate: x509: certificate signed by unknown authority`,
                    ),
                vault.logTail(5),
            );
            await put("auth/oidc/config", oidcConfig());
            // Positive controls: the right CA in oidc.discoveryCaPem (trust.caBundle wrong), and in trust.caBundle.
            for (const dir of [
                variant(hydra.issuer, { caBundle: other.pem() }, { discoveryCaPem: oidcCa.pem() }),
                root,
            ]) {
                const { code, lines } = await doctor(dir);
                assert.equal(code, 0, lines.join("\n"));
            }
        });

        it("16. oidc.issuer not the provider's exact issuer (a trailing slash): named; Vault refuses it too", async () => {
            const bare = hydra.issuer.replace(/\/$/, "");
            await expectFault(
                `FAULT oidc discovery: ${discovery()} names issuer ${hydra.issuer}, but oidc.issuer is ${bare}: Vault refuses the provider ("issuer did not match"); set oidc.issuer to ${hydra.issuer}`,
                variant(bare, { caBundle: oidcCa.pem() }),
            );
            const refused = await vaultRequest(vault.address, init.rootToken, "POST", "auth/oidc/config", {
                ...oidcConfig({ oidc_discovery_url: bare }),
            });
            assert.deepEqual([refused.status, refused.body?.errors], [400, ["error checking oidc discovery URL"]]);
            assert.ok(
                vault
                    .logTail(5)
                    .includes(
                        `oidc: issuer did not match the issuer returned by provider, expected \\"${bare}\\" got \\"${hydra.issuer}\\"`,
                    ),
                vault.logTail(5),
            );
            await put("auth/oidc/config", oidcConfig());
        });
    });
});
