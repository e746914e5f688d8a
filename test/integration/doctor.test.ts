/**
 * `npm run doctor` against a real Vault configured as the program configures
 * it (KV mounts, the rendered reader policy, Kubernetes auth and its role, the
 * OIDC role): the healthy setup exits 0; each seeded misconfiguration is named
 * in one FAULT line and exits 1; the fault is then undone, so each case is
 * checked alone. The CA case runs a second Vault serving TLS from a test CA.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { oidcRedirectUris } from "../../components/lib/oidc";
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
    const k8sConfig = () => ({ kubernetes_host: "https://kubernetes.default.svc", kubernetes_ca_cert: apiCa.caPem });
    const readerText = () => renderPolicies(config).find((p) => p.name === READER)!.text;

    async function doctor(): Promise<{ code: number; lines: string[] }> {
        const lines: string[] = [];
        const code = await doctorMain(
            ["--stack", "doctor", "--address", vault.address],
            { VAULT_TOKEN: init.rootToken },
            (l) => lines.push(l),
            root,
        );
        return { code, lines };
    }
    async function expectFault(line: string) {
        const { code, lines } = await doctor();
        assert.equal(code, 1, lines.join("\n"));
        const faults = lines.filter((l) => l.startsWith("FAULT"));
        assert.deepEqual(faults, [line], lines.join("\n"));
        assert.equal(lines.at(-1), "doctor: 1 fault");
    }

    before(async function () {
        this.timeout(60_000);
        requireTool(this, "vault");
        root = stackRoot(stack.values, stack.secrets);
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
        await put("auth/oidc/role/default", oidcRole);
    });

    after(async () => {
        await vault?.stop();
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
                "doctor",
            ],
        );
        assert.equal(lines.at(-1), "doctor: no fault found");
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

    it("6. OIDC redirect URIs that differ from the client's", async () => {
        await put("auth/oidc/role/default", {
            ...oidcRole,
            allowed_redirect_uris: ["https://vault.example/ui/vault/auth/oidc/oidc/callback"],
        });
        try {
            await expectFault(
                `FAULT oidc redirect uris: role default at auth/oidc allows https://vault.example/ui/vault/auth/oidc/oidc/callback, but the stack's client (vault) registers ${[...oidcRedirectUris(config)].sort().join(", ")}: the provider refuses the login with "redirect_uri mismatch"`,
            );
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
});
