import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import * as vault from "@pulumi/vault";
import { loadConfig } from "../../components/config";
import { auditFilePath, kvMounts, VaultConfiguration } from "../../components/vault-setup";
import { autheliaClient, CLI_REDIRECT_URI, oidcRedirectUris, oidcRoleInputs } from "../../components/lib/oidc";
import { PolicyTemplateError, renderPolicies } from "../../components/lib/policies";
import { buildPlatform } from "../../components/platform";
import { homelabStack } from "../support/fixtures";
import { registrations } from "../support/mocks";
import {
    configOf,
    dependsOnOf,
    isSecret,
    parentOf,
    Program,
    RecordedResource,
    runProgram,
    setStackConfig,
    StackConfig,
    valueOf,
    readinessResources,
} from "../support/program";

type Stack = ReturnType<typeof homelabStack>;

const T = {
    audit: "vault:index/audit:Audit",
    mount: "vault:index/mount:Mount",
    kv: "vault:kv/secretBackendV2:SecretBackendV2",
    policy: "vault:index/policy:Policy",
    oidc: "vault:jwt/authBackend:AuthBackend",
    oidcRole: "vault:jwt/authBackendRole:AuthBackendRole",
    group: "vault:identity/group:Group",
    alias: "vault:identity/groupAlias:GroupAlias",
    auth: "vault:index/authBackend:AuthBackend",
    k8sConfig: "vault:kubernetes/authBackendConfig:AuthBackendConfig",
    k8sRole: "vault:kubernetes/authBackendRole:AuthBackendRole",
};

const REMOTE_CA = "-----BEGIN CERTIFICATE-----\nMIIremote\n-----END CERTIFICATE-----";

interface Built {
    readonly component: VaultConfiguration;
    readonly provider: vault.Provider;
    readonly ready: pulumi.Resource;
}

/** The component alone, with its own provider and a stand-in for bootstrap readiness. */
function run(stack: StackConfig, policyDir?: string): Promise<Program<Built>> {
    return runProgram(stack, (config, opts) => {
        const provider = new vault.Provider("vault", { address: config.vault.address, skipChildToken: true }, opts);
        const ready = new pulumi.ComponentResource("test:bootstrap:Ready", "bootstrap-ready", {}, opts);
        const component = new VaultConfiguration("cfg", { config, provider, ready: [ready], policyDir }, opts);
        return { component, provider, ready };
    });
}

function withRemote(s: Stack): Stack {
    s.values.kubernetesAuth = {
        remoteClusters: [{ name: "kiana.akn", host: "https://kiana.akn:6443", caCert: REMOTE_CA, namespace: "eso" }],
    };
    s.secrets.remoteClusterReviewerJwts = { "kiana.akn": "reviewer-jwt-of-kiana" };
    return s;
}

/** How a secret input reaches the engine: wrapped in Pulumi's secret signature. */
function onTheWireAsSecret(value: string) {
    return { [specialSigKey]: specialSecretSig, value };
}

describe("VaultConfiguration (mocks)", () => {
    let p: Program<Built>;
    before(async () => {
        p = await run(homelabStack());
    });

    const vaultResources = () => p.ofPackage("vault:").filter((r) => r.type !== "pulumi:providers:vault");

    it("creates exactly the expected Vault resources for the homelab stack", () => {
        const names = vaultResources()
            .map((r) => `${r.type.split(":").slice(1).join(":")} ${r.name}`)
            .sort();
        assert.deepEqual(names, [
            "identity/group:Group cfg-group-developers",
            "identity/group:Group cfg-group-vault-admins",
            "identity/group:Group cfg-group-viewers",
            "identity/groupAlias:GroupAlias cfg-group-developers-alias",
            "identity/groupAlias:GroupAlias cfg-group-vault-admins-alias",
            "identity/groupAlias:GroupAlias cfg-group-viewers-alias",
            "index/audit:Audit cfg-audit",
            "index/authBackend:AuthBackend cfg-k8s-auth",
            "index/mount:Mount cfg-kv-amiya.akn",
            "index/mount:Mount cfg-kv-shared",
            "index/policy:Policy cfg-policy-admin",
            "index/policy:Policy cfg-policy-external-secrets-reader-amiya.akn",
            "index/policy:Policy cfg-policy-operator",
            "index/policy:Policy cfg-policy-pulumi",
            "index/policy:Policy cfg-policy-read-only",
            "jwt/authBackend:AuthBackend cfg-oidc",
            "jwt/authBackendRole:AuthBackendRole cfg-oidc-role",
            "kubernetes/authBackendConfig:AuthBackendConfig cfg-k8s-auth-config",
            "kubernetes/authBackendRole:AuthBackendRole cfg-k8s-auth-role",
            "kv/secretBackendV2:SecretBackendV2 cfg-kv-amiya.akn-settings",
            "kv/secretBackendV2:SecretBackendV2 cfg-kv-shared-settings",
            "kv/secretV2:SecretV2 cfg-canary",
        ]);
    });

    it("parents every resource to the component and uses the explicit provider", () => {
        for (const r of vaultResources()) {
            assert.equal(parentOf(r), p.result.component, `${r.name} parent`);
            assert.equal(r.opts.provider, p.result.provider, `${r.name} provider`);
        }
    });

    it("creates the audit device after bootstrap readiness and everything else after the audit device", async () => {
        const audit = p.find(T.audit, "cfg-audit");
        assert.deepEqual(await dependsOnOf(audit), [p.result.ready]);
        for (const r of vaultResources().filter((x) => x !== audit)) {
            const deps = await dependsOnOf(r);
            assert.ok(deps.includes(p.result.ready), `${r.name} waits for bootstrap readiness`);
            assert.ok(deps.includes(audit.resource), `${r.name} waits for the audit device`);
        }
    });

    it("writes the audit log to the audit volume", () => {
        assert.deepEqual(p.find(T.audit, "cfg-audit").inputs, {
            type: "file",
            path: "file",
            description: "Every request and response, HMAC'd",
            options: { file_path: "/vault/audit/vault-audit.log" },
        });
    });

    it("mounts KV v2 for the cluster and the shared mount, protected, with their settings", () => {
        const cluster = p.find(T.mount, "cfg-kv-amiya.akn");
        assert.deepEqual(cluster.inputs, {
            path: "amiya.akn",
            type: "kv",
            options: { version: "2" },
            description: "Secrets of cluster amiya.akn: <app>/<category>/<secret>",
        });
        assert.equal(cluster.opts.protect, true);
        assert.equal(cluster.opts.retainOnDelete, true);
        assert.deepEqual(p.find(T.mount, "cfg-kv-shared").inputs, {
            path: "shared",
            type: "kv",
            options: { version: "2" },
            description: "Shared secrets (readable paths: common)",
        });
        assert.deepEqual(p.find(T.kv, "cfg-kv-amiya.akn-settings").inputs, {
            mount: "amiya.akn",
            maxVersions: 10,
            casRequired: false,
            deleteVersionAfter: 0,
        });
        assert.deepEqual(p.find(T.kv, "cfg-kv-shared-settings").inputs, {
            mount: "shared",
            maxVersions: 10,
            casRequired: false,
            deleteVersionAfter: 0,
        });
    });

    it("creates one policy per template, with the rendered and parsed text", async () => {
        const expected = renderPolicies(p.config);
        assert.deepEqual(
            p
                .ofType(T.policy)
                .map((r) => r.inputs.name)
                .sort(),
            ["admin", "external-secrets-reader-amiya.akn", "operator", "pulumi", "read-only"],
        );
        for (const e of expected) {
            const r = p.find(T.policy, `cfg-policy-${e.name}`);
            assert.deepEqual(r.inputs, { name: e.name, policy: e.text });
        }
        assert.deepEqual((await valueOf(p.result.component.policyNames)).sort(), expected.map((e) => e.name).sort());
    });

    it("keeps the pulumi policy on destroy (the provider's own token carries it), and only that one", () => {
        const retained = p
            .ofType(T.policy)
            .filter((r) => r.opts.retainOnDelete === true)
            .map((r) => r.inputs.name);
        assert.deepEqual(retained, ["pulumi"]);
    });

    it("configures the OIDC backend for Authelia with the client secret as a secret", async () => {
        const oidc = p.find(T.oidc, "cfg-oidc");
        assert.deepEqual(oidc.inputs, {
            path: "oidc",
            type: "oidc",
            description: "SSO through https://auth.amiya.akn",
            oidcDiscoveryUrl: "https://auth.amiya.akn",
            oidcClientId: "vault",
            oidcClientSecret: onTheWireAsSecret("test-oidc-client-secret"),
            defaultRole: "default",
            tune: {
                listingVisibility: "unauth",
                defaultLeaseTtl: "1h",
                maxLeaseTtl: "8h",
                tokenType: "default-service",
            },
        });
        assert.equal(await isSecret(oidc.props.oidcClientSecret), true);
        assert.ok(oidc.opts.additionalSecretOutputs?.includes("oidcClientSecret"));
    });

    it("creates the OIDC role with groups claim, audience, scopes, redirect URIs and TTLs", async () => {
        const role = p.find(T.oidcRole, "cfg-oidc-role");
        assert.ok((await dependsOnOf(role)).includes(p.find(T.oidc, "cfg-oidc").resource));
        assert.deepEqual(role.inputs, {
            backend: "oidc",
            roleName: "default",
            roleType: "oidc",
            userClaim: "preferred_username",
            groupsClaim: "groups",
            boundAudiences: ["vault"],
            oidcScopes: ["profile", "email", "groups"],
            allowedRedirectUris: [
                "https://vault.amiya.akn/ui/vault/auth/oidc/oidc/callback",
                "http://localhost:8250/oidc/callback",
            ],
            tokenPolicies: ["default"],
            tokenTtl: 3600,
            tokenMaxTtl: 28800,
        });
    });

    it("maps each SSO group to its policies through an external group and an alias on the OIDC mount", async () => {
        const expected: Record<string, string[]> = {
            "vault-admins": ["admin"],
            developers: ["operator"],
            viewers: ["read-only"],
        };
        for (const [group, policies] of Object.entries(expected)) {
            const g = p.find(T.group, `cfg-group-${group}`);
            assert.deepEqual(g.inputs, {
                name: group,
                type: "external",
                policies,
                metadata: { source: "sso", issuer: "https://auth.amiya.akn" },
            });
            assert.deepEqual(p.find(T.alias, `cfg-group-${group}-alias`).inputs, {
                name: group,
                mountAccessor: "auth_oidc_cfg-oidc",
                canonicalId: `cfg-group-${group}-id`,
            });
        }
    });

    it("configures Kubernetes auth for this cluster's External Secrets with short TTLs and the reader policy", async () => {
        assert.deepEqual(p.find(T.auth, "cfg-k8s-auth").inputs, {
            type: "kubernetes",
            path: "kubernetes-amiya.akn",
            description: "Kubernetes service accounts of cluster amiya.akn",
        });
        assert.deepEqual(p.find(T.k8sConfig, "cfg-k8s-auth-config").inputs, {
            backend: "kubernetes-amiya.akn",
            kubernetesHost: "https://kubernetes.default.svc",
            disableLocalCaJwt: false,
        });
        const role = p.find(T.k8sRole, "cfg-k8s-auth-role");
        assert.deepEqual(role.inputs, {
            backend: "kubernetes-amiya.akn",
            roleName: "external-secrets",
            boundServiceAccountNames: ["vault-login"],
            boundServiceAccountNamespaces: ["external-secrets"],
            audience: "vault",
            tokenPolicies: ["external-secrets-reader-amiya.akn"],
            tokenTtl: 600,
            tokenMaxTtl: 1200,
        });
        // Logins need the config: the role (what the store waits for) comes after it.
        assert.ok((await dependsOnOf(role)).includes(p.find(T.k8sConfig, "cfg-k8s-auth-config").resource));
    });

    it("outputs the auth path, role and mount, and makes the store wait for role and mounts", async () => {
        const c = p.result.component;
        assert.equal(await valueOf(c.kubernetesAuthPath), "kubernetes-amiya.akn");
        assert.equal(await valueOf(c.externalSecretsRole), "external-secrets");
        assert.equal(await valueOf(c.clusterMount), "amiya.akn");
        assert.deepEqual(
            (await readinessResources(c.ready)).map((r) => p.resources.find((x) => x.resource === r)?.name),
            [
                "cfg-k8s-auth-role",
                "cfg-kv-amiya.akn",
                "cfg-kv-shared",
                "cfg-kv-amiya.akn-settings",
                "cfg-kv-shared-settings",
            ],
        );
    });

    it("exposes the matching Authelia client definition, without any secret", () => {
        const client = p.result.component.autheliaClient;
        assert.deepEqual(client, {
            client_id: "vault",
            client_name: "Vault (amiya.akn)",
            public: false,
            authorization_policy: "two_factor",
            redirect_uris: [
                "https://vault.amiya.akn/ui/vault/auth/oidc/oidc/callback",
                "http://localhost:8250/oidc/callback",
            ],
            scopes: ["openid", "profile", "email", "groups"],
            grant_types: ["authorization_code"],
            response_types: ["code"],
            response_modes: ["query"],
            token_endpoint_auth_method: "client_secret_basic",
        });
        assert.ok(!JSON.stringify(client).includes("test-oidc-client-secret"));
    });
});

describe("VaultConfiguration with a remote cluster", () => {
    let p: Program<Built>;
    before(async () => {
        p = await run(withRemote(homelabStack()));
    });

    it("creates the remote cluster's KV mount with the cluster settings", () => {
        assert.deepEqual(p.find(T.mount, "cfg-kv-kiana.akn").inputs, {
            path: "kiana.akn",
            type: "kv",
            options: { version: "2" },
            description: "Secrets of cluster kiana.akn: <app>/<category>/<secret>",
        });
        assert.deepEqual(p.find(T.kv, "cfg-kv-kiana.akn-settings").inputs, {
            mount: "kiana.akn",
            maxVersions: 10,
            casRequired: false,
            deleteVersionAfter: 0,
        });
    });

    it("mounts kubernetes-<remote> with the remote API, its CA and the reviewer JWT as a secret", async () => {
        assert.deepEqual(p.find(T.auth, "cfg-k8s-auth-kiana.akn").inputs, {
            type: "kubernetes",
            path: "kubernetes-kiana.akn",
            description: "Kubernetes service accounts of cluster kiana.akn",
        });
        const config = p.find(T.k8sConfig, "cfg-k8s-auth-kiana.akn-config");
        assert.deepEqual(config.inputs, {
            backend: "kubernetes-kiana.akn",
            kubernetesHost: "https://kiana.akn:6443",
            kubernetesCaCert: REMOTE_CA,
            tokenReviewerJwt: onTheWireAsSecret("reviewer-jwt-of-kiana"),
            disableLocalCaJwt: true,
        });
        assert.equal(await isSecret(config.props.tokenReviewerJwt), true);
        assert.ok(config.opts.additionalSecretOutputs?.includes("tokenReviewerJwt"));
    });

    it("binds the remote role to the remote ESO and that cluster's own reader policy", () => {
        assert.deepEqual(p.find(T.k8sRole, "cfg-k8s-auth-kiana.akn-role").inputs, {
            backend: "kubernetes-kiana.akn",
            roleName: "external-secrets",
            boundServiceAccountNames: ["vault-login"],
            boundServiceAccountNamespaces: ["eso"],
            audience: "vault",
            tokenPolicies: ["external-secrets-reader-kiana.akn"],
            tokenTtl: 600,
            tokenMaxTtl: 1200,
        });
        const reader = String(p.find(T.policy, "cfg-policy-external-secrets-reader-kiana.akn").inputs.policy);
        assert.match(reader, /path "kiana\.akn\/data\/\*"/);
        assert.match(reader, /path "shared\/data\/common\/\*"/);
        assert.doesNotMatch(reader, /amiya\.akn\//);
    });

    it("lets the store wait for both roles", async () => {
        const names = (await readinessResources(p.result.component.ready)).map(
            (r) => p.resources.find((x) => x.resource === r)?.name,
        );
        assert.ok(names.includes("cfg-k8s-auth-role"));
        assert.ok(names.includes("cfg-k8s-auth-kiana.akn-role"));
    });
});

describe("VaultConfiguration switches", () => {
    it("creates no audit device when audit is off, and then waits for bootstrap readiness alone", async () => {
        const s = homelabStack();
        s.values.audit = { enabled: false };
        const p = await run(s);
        assert.deepEqual(p.ofType(T.audit), []);
        const mount = p.find(T.mount, "cfg-kv-amiya.akn");
        assert.deepEqual(await dependsOnOf(mount), [p.result.ready]);
    });

    it("sends the audit log to stdout when asked", async () => {
        const s = homelabStack();
        s.values.audit = { target: "stdout", path: "stdout-audit" };
        const p = await run(s);
        assert.deepEqual(p.find(T.audit, "cfg-audit").inputs.options, { file_path: "stdout" });
        assert.equal(p.find(T.audit, "cfg-audit").inputs.path, "stdout-audit");
    });

    it("creates nothing of OIDC when oidc is off", async () => {
        const s = homelabStack();
        s.values.oidc = { enabled: false };
        delete s.secrets.oidcClientSecret;
        const p = await run(s);
        for (const type of [T.oidc, T.oidcRole, T.group, T.alias]) assert.deepEqual(p.ofType(type), [], type);
        assert.equal(p.result.component.autheliaClient, undefined);
    });

    it("applies the configured KV settings; unprotected mounts for throw-away stacks are still retained", async () => {
        const s = homelabStack();
        s.values.storage.protect = false;
        s.values.kv = {
            cluster: { maxVersions: 20, casRequired: true, deleteVersionAfter: "2h" },
            shared: [
                { name: "team", description: "Team secrets", maxVersions: 3, readablePaths: ["ci", "registry/pull"] },
            ],
        };
        const p = await run(s);
        assert.deepEqual(p.find(T.kv, "cfg-kv-amiya.akn-settings").inputs, {
            mount: "amiya.akn",
            maxVersions: 20,
            casRequired: true,
            deleteVersionAfter: 7200,
        });
        assert.deepEqual(p.find(T.kv, "cfg-kv-team-settings").inputs, {
            mount: "team",
            maxVersions: 3,
            casRequired: false,
            deleteVersionAfter: 0,
        });
        assert.equal(p.find(T.mount, "cfg-kv-team").inputs.description, "Team secrets");
        assert.deepEqual(
            p.ofType(T.mount).map((m) => m.inputs.path),
            ["amiya.akn", "team"],
        );
        assert.equal(p.find(T.mount, "cfg-kv-amiya.akn").opts.protect, false);
        assert.equal(p.find(T.mount, "cfg-kv-amiya.akn").opts.retainOnDelete, true);
        const reader = String(p.find(T.policy, "cfg-policy-external-secrets-reader-amiya.akn").inputs.policy);
        for (const expected of [
            'path "team/data/ci/*"',
            'path "team/metadata/ci/*"',
            'path "team/data/registry/pull/*"',
            'path "team/metadata/registry/pull/*"',
        ]) {
            assert.ok(reader.includes(expected), expected);
        }
    });

    it("trusts the issuer's private CA when oidc.discoveryCaPem is set, and refuses a non-PEM value", async () => {
        const pem = "-----BEGIN CERTIFICATE-----\nMIIamiyaca\n-----END CERTIFICATE-----";
        const s = homelabStack();
        s.values.oidc.discoveryCaPem = pem;
        const p = await run(s);
        assert.equal(p.find(T.oidc, "cfg-oidc").inputs.oidcDiscoveryCaPem, pem);

        const bad = homelabStack();
        bad.values.oidc.discoveryCaPem = "amiya-ca";
        setStackConfig(bad);
        assert.throws(
            () => loadConfig(),
            (e: Error) =>
                e.message.includes(
                    "secret-platform:oidc.discoveryCaPem: must be a PEM certificate (-----BEGIN CERTIFICATE-----)",
                ),
        );
    });

    it("maps a group to the per-cluster reader under its Vault name", async () => {
        const s = homelabStack();
        s.values.oidc.groups = { "eso-debug": ["external-secrets-reader", "default"] };
        const p = await run(s);
        assert.deepEqual(p.find(T.group, "cfg-group-eso-debug").inputs.policies, [
            "external-secrets-reader-amiya.akn",
            "default",
        ]);
    });

    it("refuses a policy set without the per-cluster External Secrets reader", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "policies-"));
        try {
            fs.writeFileSync(path.join(dir, "admin.hcl"), 'path "*" {\n  capabilities = ["read"]\n}\n');
            await assert.rejects(
                run(homelabStack(), dir),
                (e: Error) =>
                    e instanceof PolicyTemplateError &&
                    e.message ===
                        "policies/external-secrets-reader.hcl: required, and must use {{cluster_mount}} (the External Secrets reader)",
            );
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("stops on a bad policy template before any resource is created", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "policies-"));
        try {
            for (const f of fs
                .readdirSync(path.join(__dirname, "..", "..", "policies"))
                .filter((x) => x.endsWith(".hcl"))) {
                fs.copyFileSync(path.join(__dirname, "..", "..", "policies", f), path.join(dir, f));
            }
            fs.writeFileSync(path.join(dir, "operator.hcl"), 'path "{{kv.mount}}/data/{{app}}/*" {\n}\n');
            await assert.rejects(
                run(homelabStack(), dir),
                (e: Error) =>
                    e instanceof PolicyTemplateError &&
                    e.message ===
                        "policies/operator.hcl:1: unknown placeholder {{app}} (known: {{cluster}}, {{cluster_mount}}, {{kv.mount}}, {{shared.mount}}, {{shared.path}}, {{tenant.namespace}})",
            );
            assert.deepEqual(
                registrations.filter((r) => r.type.startsWith("vault:") && !r.type.startsWith("pulumi:")),
                [],
            );
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("VaultConfiguration in the platform", () => {
    it("waits for the bootstrap's readiness and uses the bootstrap's provider", async () => {
        const p = await runProgram(homelabStack(), (config, opts) => buildPlatform(config, opts));
        const platform = p.result;
        const mount: RecordedResource = p.find(T.mount, "platform-configuration-kv-amiya.akn");
        assert.equal(mount.opts.provider, platform.bootstrap.vaultProvider);
        const deps = await dependsOnOf(mount);
        for (const r of await readinessResources(platform.bootstrap.ready)) assert.ok(deps.includes(r));
        assert.equal(parentOf(mount), platform.configuration);
    });
});

describe("configuration builders", () => {
    const config = configOf(withRemote(homelabStack()));

    it("puts the audit log on the audit volume or stdout", () => {
        assert.equal(auditFilePath("file"), "/vault/audit/vault-audit.log");
        assert.equal(auditFilePath("stdout"), "stdout");
    });

    it("lists cluster, remote and shared KV mounts in that order", () => {
        assert.deepEqual(
            kvMounts(config).map((m) => m.path),
            ["amiya.akn", "kiana.akn", "shared"],
        );
    });

    it("builds the UI and CLI redirect URIs from the host and the OIDC path", () => {
        const s = homelabStack();
        s.values.exposure = { host: "secrets.example.org", className: "nginx" };
        s.values.oidc.path = "sso";
        assert.deepEqual(oidcRedirectUris(configOf(s)), [
            "https://secrets.example.org/ui/vault/auth/sso/oidc/callback",
            CLI_REDIRECT_URI,
        ]);
    });

    it("keeps the role's redirect URIs and Authelia's in step", () => {
        assert.deepEqual(autheliaClient(config).redirect_uris, oidcRoleInputs(config).allowedRedirectUris);
        assert.deepEqual(autheliaClient(config).scopes, ["openid", ...oidcRoleInputs(config).oidcScopes]);
    });
});
