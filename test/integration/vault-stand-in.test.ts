/**
 * The vault stand-in plugin (e2e/vault-stand-in), started as the engine
 * starts a plugin (its launcher, the port on the first stdout line) and
 * driven over gRPC with the SDK's client stubs exactly as the engine drives a
 * provider: CheckConfig/DiffConfig/Configure, then per resource type Check,
 * Diff, Create, Read, Update and Delete, against a real Vault serving TLS
 * signed by a test CA. After each step Vault's own state is read over HTTP:
 *   - every resource type the program registers, with the program's own
 *     arguments (OIDC role and tune from the builders), exact values in Vault;
 *   - no change when equal, in-place updates, a replace for an identifying
 *     change (delete-first when the name in Vault stays), drift made in Vault
 *     found by Read, delete removing the object, Read of a gone object;
 *   - secret outputs kept secret; every unimplemented argument refused by name;
 *   - the program's way (a token with only the `pulumi` policy, a child token
 *     minted from it) and the e2e probe's way (root token, skipChildToken,
 *     caCertFile relative to the program's directory); without the CA, no
 *     request reaches Vault.
 */
import { strict as assert } from "node:assert";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { ResourceProviderClient } from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as providerpb from "@pulumi/pulumi/proto/provider_pb";
import { oidcRoleInputs, oidcTune } from "../../components/lib/oidc";
import { PULUMI_POLICY } from "../../components/lib/policy-names";
import { renderPolicies } from "../../components/lib/policies";
import { vaultApi } from "../../components/lib/vault-api";
import { writeStandInLauncher } from "../../e2e/vault-stand-in/install";
import { homelabStack } from "../support/fixtures";
import { configOf } from "../support/program";
import { makeTestCa, TestCa } from "../support/test-ca";
import { requireTool } from "../support/tools";
import { startVault, VaultServer } from "../support/vault-server";

const REPO = path.resolve(__dirname, "..", "..");

/** Pulumi's wire forms of a secret and of an unknown value, spelled out as the engine sends them. */
const SIG = "4dabf18193072939515e22adb298388d";
const secret = (value: unknown) => ({ [SIG]: "1b47061264138c4ac30d75fd1eb44270", value });
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

type Props = Record<string, any>;

const struct = (props: Props) => Struct.fromJavaScript(props);
const propsOf = (s: Struct | undefined): Props => (s === undefined ? {} : (s.toJavaScript() as Props));
const urnOf = (type: string, name: string) => `urn:pulumi:spec::secret-platform::${type}::${name}`;

/** One unary call, as a promise. */
function unary<Res>(start: (done: (err: grpc.ServiceError | null, res: Res) => void) => unknown): Promise<Res> {
    return new Promise((resolve, reject) => start((err, res) => (err === null ? resolve(res) : reject(err))));
}

/** The plugin as the engine sees it: a process, its first stdout line, a gRPC client. */
interface Plugin {
    readonly firstLine: string;
    readonly client: ResourceProviderClient;
    readonly stderr: () => string;
    stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on("exit", () => live.forEach((p) => p.kill("SIGKILL")));

/** Starts the launcher in `cwd` (the engine starts plugins in the program's directory) with the engine's address. */
async function startPlugin(launcher: string, cwd: string): Promise<Plugin> {
    const child = spawn(launcher, ["127.0.0.1:1"], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    live.add(child);
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const firstLine = await new Promise<string>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(() => reject(new Error(`no port within 30 s; stderr:\n${stderr}`)), 30_000);
        child.stdout.on("data", (d: Buffer) => {
            out += d.toString();
            if (out.includes("\n")) {
                clearTimeout(timer);
                resolve(out.split("\n")[0]);
            }
        });
        child.once("exit", (code) => reject(new Error(`plugin exited (${code}) before its port; stderr:\n${stderr}`)));
    });
    const client = new ResourceProviderClient(`127.0.0.1:${firstLine}`, grpc.credentials.createInsecure());
    return {
        firstLine,
        client,
        stderr: () => stderr,
        stop: async () => {
            client.close();
            if (child.exitCode === null) {
                const exited = new Promise((resolve) => child.once("exit", resolve));
                child.kill("SIGTERM");
                await exited;
            }
            live.delete(child);
        },
    };
}

/** The engine's side of the provider protocol, one helper per call. */
class Engine {
    constructor(private readonly client: ResourceProviderClient) {}

    checkConfig(news: Props) {
        const req = new providerpb.CheckRequest()
            .setUrn(urnOf("pulumi:providers:vault", "vault"))
            .setType("pulumi:providers:vault")
            .setName("vault")
            .setOlds(struct({}))
            .setNews(struct(news));
        return unary<providerpb.CheckResponse>((cb) => this.client.checkConfig(req, cb)).then((res) => ({
            inputs: propsOf(res.getInputs()),
            failures: res.getFailuresList().map((f) => ({ property: f.getProperty(), reason: f.getReason() })),
        }));
    }

    diffConfig(oldInputs: Props, news: Props) {
        const req = new providerpb.DiffRequest()
            .setUrn(urnOf("pulumi:providers:vault", "vault"))
            .setType("pulumi:providers:vault")
            .setOldInputs(struct(oldInputs))
            .setOlds(struct(oldInputs))
            .setNews(struct(news));
        return unary<providerpb.DiffResponse>((cb) => this.client.diffConfig(req, cb));
    }

    configure(args: Props) {
        const req = new providerpb.ConfigureRequest()
            .setArgs(struct(args))
            .setAcceptsecrets(true)
            .setAcceptresources(true)
            .setSendsOldInputs(true)
            .setSendsOldInputsToDelete(true)
            .setType("pulumi:providers:vault")
            .setName("vault")
            .setUrn(urnOf("pulumi:providers:vault", "vault"));
        return unary<providerpb.ConfigureResponse>((cb) => this.client.configure(req, cb));
    }

    check(type: string, news: Props, olds: Props = {}) {
        const req = new providerpb.CheckRequest()
            .setUrn(urnOf(type, "r"))
            .setType(type)
            .setName("r")
            .setOlds(struct(olds))
            .setNews(struct(news));
        return unary<providerpb.CheckResponse>((cb) => this.client.check(req, cb)).then((res) => ({
            inputs: propsOf(res.getInputs()),
            failures: res.getFailuresList().map((f) => ({ property: f.getProperty(), reason: f.getReason() })),
        }));
    }

    async diff(type: string, id: string, olds: Props, oldInputs: Props, news: Props, ignore: string[] = []) {
        const req = new providerpb.DiffRequest()
            .setUrn(urnOf(type, "r"))
            .setType(type)
            .setName("r")
            .setId(id)
            .setOlds(struct(olds))
            .setOldInputs(struct(oldInputs))
            .setNews(struct(news))
            .setIgnorechangesList(ignore);
        const res = await unary<providerpb.DiffResponse>((cb) => this.client.diff(req, cb));
        const detailed: Record<string, number> = {};
        res.getDetaileddiffMap().forEach((d, key) => (detailed[key] = d.getKind()));
        return {
            changes: res.getChanges(),
            replaces: res.getReplacesList(),
            diffs: res.getDiffsList(),
            deleteBeforeReplace: res.getDeletebeforereplace(),
            detailed,
        };
    }

    async create(type: string, props: Props, preview = false) {
        const req = new providerpb.CreateRequest()
            .setUrn(urnOf(type, "r"))
            .setType(type)
            .setName("r")
            .setProperties(struct(props))
            .setPreview(preview);
        const res = await unary<providerpb.CreateResponse>((cb) => this.client.create(req, cb));
        return { id: res.getId(), outputs: propsOf(res.getProperties()) };
    }

    async read(type: string, id: string, outputs: Props, inputs: Props) {
        const req = new providerpb.ReadRequest()
            .setUrn(urnOf(type, "r"))
            .setType(type)
            .setName("r")
            .setId(id)
            .setProperties(struct(outputs))
            .setInputs(struct(inputs));
        const res = await unary<providerpb.ReadResponse>((cb) => this.client.read(req, cb));
        return { id: res.getId(), outputs: propsOf(res.getProperties()), inputs: propsOf(res.getInputs()) };
    }

    async update(type: string, id: string, olds: Props, oldInputs: Props, news: Props, preview = false) {
        const req = new providerpb.UpdateRequest()
            .setUrn(urnOf(type, "r"))
            .setType(type)
            .setName("r")
            .setId(id)
            .setOlds(struct(olds))
            .setOldInputs(struct(oldInputs))
            .setNews(struct(news))
            .setPreview(preview);
        const res = await unary<providerpb.UpdateResponse>((cb) => this.client.update(req, cb));
        return propsOf(res.getProperties());
    }

    async delete(type: string, id: string, outputs: Props, oldInputs: Props) {
        const req = new providerpb.DeleteRequest()
            .setUrn(urnOf(type, "r"))
            .setType(type)
            .setName("r")
            .setId(id)
            .setProperties(struct(outputs))
            .setOldInputs(struct(oldInputs));
        await unary<Empty>((cb) => this.client.delete(req, cb));
    }
}

const NONE = providerpb.DiffResponse.DiffChanges.DIFF_NONE;
const SOME = providerpb.DiffResponse.DiffChanges.DIFF_SOME;
const { UPDATE, UPDATE_REPLACE, ADD } = providerpb.PropertyDiff.Kind;

/** Every resource type the program registers, with the arguments the stand-in implements, as it must name them. */
const IMPLEMENTED: Record<string, string> = {
    "vault:index/audit:Audit": "description, options, path, type",
    "vault:index/mount:Mount": "description, options, path, type",
    "vault:kv/secretBackendV2:SecretBackendV2": "casRequired, deleteVersionAfter, maxVersions, mount",
    "vault:index/policy:Policy": "name, policy",
    "vault:jwt/authBackend:AuthBackend":
        "defaultRole, description, oidcClientId, oidcClientSecret, oidcDiscoveryCaPem, oidcDiscoveryUrl, path, tune, type",
    "vault:jwt/authBackendRole:AuthBackendRole":
        "allowedRedirectUris, backend, boundAudiences, groupsClaim, oidcScopes, roleName, roleType, tokenMaxTtl, tokenPolicies, tokenTtl, userClaim",
    "vault:identity/group:Group": "metadata, name, policies, type",
    "vault:identity/groupAlias:GroupAlias": "canonicalId, mountAccessor, name",
    "vault:index/authBackend:AuthBackend": "description, path, type",
    "vault:kubernetes/authBackendConfig:AuthBackendConfig":
        "backend, disableLocalCaJwt, kubernetesCaCert, kubernetesHost, tokenReviewerJwt",
    "vault:kubernetes/authBackendRole:AuthBackendRole":
        "audience, backend, boundServiceAccountNames, boundServiceAccountNamespaces, roleName, tokenMaxTtl, tokenNoDefaultPolicy, tokenPolicies, tokenTtl",
};

/** For each type: valid arguments, and one argument of the real provider the program does not use. */
const REFUSAL_CASES: Record<string, { valid: Props; unimplemented: [string, unknown] }> = {
    "vault:index/audit:Audit": {
        valid: { type: "file", options: { file_path: "stdout" } },
        unimplemented: ["local", true],
    },
    "vault:index/mount:Mount": { valid: { path: "p", type: "kv" }, unimplemented: ["sealWrap", true] },
    "vault:kv/secretBackendV2:SecretBackendV2": { valid: { mount: "p" }, unimplemented: ["namespace", "ns1"] },
    "vault:index/policy:Policy": { valid: { name: "p", policy: "" }, unimplemented: ["namespace", "ns1"] },
    "vault:jwt/authBackend:AuthBackend": { valid: { path: "oidc" }, unimplemented: ["boundIssuer", "x"] },
    "vault:jwt/authBackendRole:AuthBackendRole": {
        valid: { roleName: "r", userClaim: "sub" },
        unimplemented: ["boundClaims", { groups: "a" }],
    },
    "vault:identity/group:Group": { valid: { name: "g" }, unimplemented: ["memberEntityIds", ["e"]] },
    "vault:identity/groupAlias:GroupAlias": {
        valid: { name: "g", mountAccessor: "a", canonicalId: "c" },
        unimplemented: ["customMetadata", { a: "b" }],
    },
    "vault:index/authBackend:AuthBackend": { valid: { type: "kubernetes" }, unimplemented: ["local", true] },
    "vault:kubernetes/authBackendConfig:AuthBackendConfig": {
        valid: { kubernetesHost: "https://k8s" },
        unimplemented: ["issuer", "https://issuer"],
    },
    "vault:kubernetes/authBackendRole:AuthBackendRole": {
        valid: { roleName: "r", boundServiceAccountNames: ["a"], boundServiceAccountNamespaces: ["b"] },
        unimplemented: ["aliasNameSource", "serviceaccount_name"],
    },
};

/** A throw-away OIDC issuer over TLS: the discovery document and an empty key set, counting requests. */
async function startIssuer(ca: TestCa): Promise<{ url: string; requests: () => number; close(): Promise<void> }> {
    let requests = 0;
    let url = "";
    const server = https.createServer({ cert: ca.certPem, key: ca.keyPem }, (req, res) => {
        requests += 1;
        res.setHeader("Content-Type", "application/json");
        if (req.url === "/.well-known/openid-configuration") {
            res.end(
                JSON.stringify({
                    issuer: url,
                    authorization_endpoint: `${url}/oauth2/auth`,
                    token_endpoint: `${url}/oauth2/token`,
                    jwks_uri: `${url}/jwks`,
                    response_types_supported: ["code"],
                    subject_types_supported: ["public"],
                    id_token_signing_alg_values_supported: ["RS256"],
                }),
            );
        } else if (req.url === "/jwks") {
            res.end(JSON.stringify({ keys: [] }));
        } else {
            res.statusCode = 404;
            res.end("{}");
        }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
        url,
        requests: () => requests,
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

describe("integration: the vault stand-in plugin, driven as the engine drives a provider", function () {
    this.timeout(60_000);
    let ca: TestCa;
    let work: string;
    let launcher: string;
    let plugin: Plugin;
    let engine: Engine;

    before(async function () {
        this.timeout(60_000);
        ca = makeTestCa("vault stand-in test CA");
        work = fs.mkdtempSync(path.join(os.tmpdir(), "sp-vault-stand-in-"));
        launcher = writeStandInLauncher(REPO, path.join(work, "bin"));
        plugin = await startPlugin(launcher, work);
        engine = new Engine(plugin.client);
    });
    after(async function () {
        await plugin?.stop();
        ca?.cleanup();
        if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
    });

    describe("as a plugin, before any Vault", function () {
        it("starts from its launcher: the first stdout line is the port; the version is the one @pulumi/vault asks for", async function () {
            assert.match(fs.readFileSync(launcher, "utf8"), /^#!\/bin\/sh\n/);
            assert.equal(fs.statSync(launcher).mode & 0o777, 0o755);
            assert.match(plugin.firstLine, /^\d+$/);
            const sdk = JSON.parse(fs.readFileSync(path.join(REPO, "node_modules/@pulumi/vault/package.json"), "utf8"));
            const info = await unary<any>((cb) => plugin.client.getPluginInfo(new Empty(), cb));
            assert.equal(info.getVersion(), sdk.pulumi?.version ?? sdk.version);
            assert.equal(info.getVersion(), "7.8.0");
            const hello = await unary<providerpb.ProviderHandshakeResponse>((cb) =>
                plugin.client.handshake(new providerpb.ProviderHandshakeRequest().setEngineAddress("127.0.0.1:1"), cb),
            );
            assert.equal(hello.getAcceptSecrets(), true);
            const schema = await unary<providerpb.GetSchemaResponse>((cb) =>
                plugin.client.getSchema(new providerpb.GetSchemaRequest(), cb),
            );
            assert.deepEqual(JSON.parse(schema.getSchema()), {
                name: "vault",
                version: "7.8.0",
                description:
                    "vault stand-in plugin: serves the resource types secret-platform registers; not the real pulumi-vault provider",
            });
        });

        it("CheckConfig accepts the provider's arguments as the SDK sends them and refuses missing or unimplemented ones by name", async function () {
            // As @pulumi/vault sends them: flags and numbers JSON-encoded, defaults for the two it always sets.
            const sent = {
                address: "https://127.0.0.1:8200",
                token: "s.secret",
                caCertFile: "ca.pem",
                skipChildToken: "true",
                maxLeaseTtlSeconds: "1200",
                maxRetries: "2",
                version: "7.8.0",
            };
            assert.deepEqual(await engine.checkConfig(sent), { inputs: sent, failures: [] });
            // In a preview the token is not known yet: nothing to refuse.
            assert.deepEqual((await engine.checkConfig({ ...sent, token: UNKNOWN })).failures, []);
            assert.deepEqual((await engine.checkConfig({ version: "7.8.0" })).failures, [
                {
                    property: "address",
                    reason: 'vault stand-in plugin: provider argument "address" is required (the Vault server\'s URL, e.g. https://127.0.0.1:8200); the stand-in does not read VAULT_ADDR',
                },
                {
                    property: "token",
                    reason: 'vault stand-in plugin: provider argument "token" is required; the stand-in reads no VAULT_TOKEN, token helper or auth_login',
                },
            ]);
            assert.deepEqual(
                (await engine.checkConfig({ ...sent, namespace: "team-a", skipTlsVerify: "maybe" })).failures,
                [
                    {
                        property: "namespace",
                        reason: 'vault stand-in plugin: provider argument "namespace" is not implemented (it implements: address, caCertFile, maxLeaseTtlSeconds, maxRetries, skipChildToken, skipTlsVerify, token, tokenName)',
                    },
                    {
                        property: "skipTlsVerify",
                        reason: 'vault stand-in plugin: provider argument "skipTlsVerify" must be a boolean',
                    },
                ],
            );
        });

        it("DiffConfig: no change when equal, an in-place update (never a replace of every resource) when the token changes", async function () {
            const old = { address: "https://127.0.0.1:8200", token: "s.one", version: "7.8.0" };
            const same = await engine.diffConfig(old, { ...old });
            assert.equal(same.getChanges(), NONE);
            const changed = await engine.diffConfig(old, { ...old, token: "s.two" });
            assert.equal(changed.getChanges(), SOME);
            assert.deepEqual(changed.getDiffsList(), ["token"]);
            assert.deepEqual(changed.getReplacesList(), []);
        });

        it("refuses every argument of the real provider it does not implement, naming it and what it implements; accepts the same arguments without it", async function () {
            for (const [type, { valid, unimplemented }] of Object.entries(REFUSAL_CASES)) {
                const [key, value] = unimplemented;
                const ok = await engine.check(type, valid);
                assert.deepEqual(ok.failures, [], type);
                const refused = await engine.check(type, { ...valid, [key]: value });
                assert.deepEqual(
                    refused.failures,
                    [
                        {
                            property: key,
                            reason: `vault stand-in plugin: ${type} does not implement argument "${key}" (it implements: ${IMPLEMENTED[type]})`,
                        },
                    ],
                    type,
                );
            }
            assert.deepEqual(Object.keys(IMPLEMENTED).sort(), Object.keys(REFUSAL_CASES).sort());
            // Exact text, spelled out once.
            assert.deepEqual(
                (await engine.check("vault:index/mount:Mount", { path: "p", type: "kv", sealWrap: true })).failures,
                [
                    {
                        property: "sealWrap",
                        reason: 'vault stand-in plugin: vault:index/mount:Mount does not implement argument "sealWrap" (it implements: description, options, path, type)',
                    },
                ],
            );
            // Inside the tune block too, and a missing required argument.
            const tune = await engine.check("vault:jwt/authBackend:AuthBackend", {
                path: "oidc",
                tune: { listingVisibility: "unauth", passthroughRequestHeaders: ["X-Id"] },
            });
            assert.deepEqual(tune.failures, [
                {
                    property: "tune.passthroughRequestHeaders",
                    reason: 'vault stand-in plugin: vault:jwt/authBackend:AuthBackend does not implement argument "tune.passthroughRequestHeaders" (it implements: defaultLeaseTtl, listingVisibility, maxLeaseTtl, tokenType)',
                },
            ]);
            assert.deepEqual((await engine.check("vault:index/policy:Policy", { name: "p" })).failures, [
                {
                    property: "policy",
                    reason: 'vault stand-in plugin: vault:index/policy:Policy: argument "policy" is required',
                },
            ]);
            await assert.rejects(engine.check("vault:index/token:Token", {}), {
                details:
                    "vault stand-in plugin: resource type vault:index/token:Token is not implemented (it serves: vault:index/audit:Audit, vault:index/mount:Mount, vault:kv/secretBackendV2:SecretBackendV2, vault:index/policy:Policy, vault:jwt/authBackend:AuthBackend, vault:jwt/authBackendRole:AuthBackendRole, vault:identity/group:Group, vault:identity/groupAlias:GroupAlias, vault:index/authBackend:AuthBackend, vault:kubernetes/authBackendConfig:AuthBackendConfig, vault:kubernetes/authBackendRole:AuthBackendRole)",
            });
        });

        it("Check fills the provider's defaults and keeps secrets and unknowns as sent", async function () {
            const audit = await engine.check("vault:index/audit:Audit", {
                type: "file",
                options: { file_path: "stdout" },
            });
            assert.deepEqual(audit.inputs, { type: "file", path: "file", options: { file_path: "stdout" } });
            const sent = { path: "oidc", type: "oidc", oidcClientSecret: secret("s3cr3t"), oidcClientId: UNKNOWN };
            assert.deepEqual((await engine.check("vault:jwt/authBackend:AuthBackend", sent)).inputs, sent);
            assert.deepEqual((await engine.check("vault:identity/group:Group", { name: "g" })).inputs, {
                name: "g",
                type: "internal",
            });
        });
    });

    describe("against a real Vault over TLS", function () {
        let vault: VaultServer;
        let root: string;
        let pulumiToken: string;
        let issuer: Awaited<ReturnType<typeof startIssuer>>;
        const config = configOf(homelabStack());

        /** Vault's API as an operator sees it (root token, the test CA). */
        const api = async (method: string, apiPath: string, body?: unknown) => {
            const res = await vaultApi({ address: vault.address, caBundle: ca.caPem }, method, apiPath, body, root);
            return { status: res.status, body: (res.body ?? {}) as Props };
        };
        const data = async (apiPath: string) => {
            const res = await api("GET", apiPath);
            assert.equal(res.status, 200, `GET ${apiPath}: ${JSON.stringify(res.body)}`);
            return res.body.data as Props;
        };
        /** Tokens the stand-in minted as its child tokens (display name token-pulumi-vault-stand-in). */
        const childTokens = async () => {
            const accessors = (await api("LIST", "auth/token/accessors")).body.data.keys as string[];
            const found: Props[] = [];
            for (const accessor of accessors) {
                const token = (await api("POST", "auth/token/lookup-accessor", { accessor })).body.data as Props;
                if (token.display_name === "token-pulumi-vault-stand-in") found.push(token);
            }
            return found;
        };

        before(async function () {
            this.timeout(60_000);
            requireTool(this, "vault");
            vault = await startVault({ tls: { certFile: ca.certFile, keyFile: ca.keyFile } });
            const init = await vaultApi({ address: vault.address, caBundle: ca.caPem }, "PUT", "sys/init", {
                secret_shares: 1,
                secret_threshold: 1,
            });
            root = (init.body as Props).root_token;
            await vaultApi({ address: vault.address, caBundle: ca.caPem }, "PUT", "sys/unseal", {
                key: (init.body as Props).keys[0],
            });
            for (let i = 0; (await api("GET", "sys/health")).status !== 200; i++) {
                assert.ok(i < 400, "Vault did not become active");
                await new Promise((r) => setTimeout(r, 25));
            }
            // The program's provider token: only the `pulumi` policy (bootstrap mints it the same way).
            const policy = renderPolicies(config).find((p) => p.name === PULUMI_POLICY);
            assert.ok(policy !== undefined);
            assert.equal((await api("PUT", `sys/policies/acl/${PULUMI_POLICY}`, { policy: policy.text })).status, 204);
            const minted = await api("POST", "auth/token/create-orphan", { policies: [PULUMI_POLICY], period: "768h" });
            pulumiToken = minted.body.auth.client_token;
            issuer = await startIssuer(ca);
            fs.writeFileSync(path.join(work, "ca.pem"), ca.caPem);
        });
        after(async function () {
            await issuer?.close();
            await vault?.stop();
        });

        it("Configure takes the program's arguments (a secret token, JSON-encoded flags, a CA file) and says it accepts secrets", async function () {
            const res = await engine.configure({
                address: vault.address,
                token: secret(pulumiToken),
                caCertFile: ca.caFile,
                maxLeaseTtlSeconds: "1200",
                maxRetries: "2",
                version: "7.8.0",
            });
            assert.equal(res.getAcceptsecrets(), true);
            assert.equal(res.getSupportspreview(), true);
            assert.deepEqual(await childTokens(), [], "no child token before the first operation");
        });

        describe("each resource type the program registers, through the pulumi policy's token", function () {
            const AUDIT = "vault:index/audit:Audit";
            const MOUNT = "vault:index/mount:Mount";
            const KV = "vault:kv/secretBackendV2:SecretBackendV2";
            const POLICY = "vault:index/policy:Policy";
            const JWT = "vault:jwt/authBackend:AuthBackend";
            const JWT_ROLE = "vault:jwt/authBackendRole:AuthBackendRole";
            const GROUP = "vault:identity/group:Group";
            const ALIAS = "vault:identity/groupAlias:GroupAlias";
            const AUTH = "vault:index/authBackend:AuthBackend";
            const K8S_CONFIG = "vault:kubernetes/authBackendConfig:AuthBackendConfig";
            const K8S_ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole";

            /** One object's state in the engine: id, outputs, and the inputs last recorded. */
            interface Created {
                readonly id: string;
                outputs: Props;
                inputs: Props;
            }
            const created: Record<string, Created> = {};

            /** Check, then Create (a preview first), as `pulumi up` does; returns the state the engine would keep. */
            async function up(type: string, program: Props): Promise<Created> {
                const { inputs, failures } = await engine.check(type, program);
                assert.deepEqual(failures, []);
                const preview = await engine.create(type, inputs, true);
                assert.equal(preview.id, "");
                const made = await engine.create(type, inputs);
                return { id: made.id, outputs: made.outputs, inputs };
            }

            /** A refresh: Read must give back exactly the recorded inputs and outputs, and a Diff then shows nothing. */
            async function refreshShowsNoChange(type: string, state: Created): Promise<void> {
                const read = await engine.read(type, state.id, state.outputs, state.inputs);
                assert.equal(read.id, state.id);
                assert.deepEqual(read.inputs, state.inputs);
                assert.deepEqual(read.outputs, state.outputs);
                const diff = await engine.diff(type, state.id, read.outputs, read.inputs, state.inputs);
                assert.deepEqual(diff, {
                    changes: NONE,
                    replaces: [],
                    diffs: [],
                    deleteBeforeReplace: false,
                    detailed: {},
                });
            }

            /** An in-place change: Diff says which, Update applies it; returns the new state. */
            async function updateInPlace(type: string, state: Created, change: Props): Promise<Created> {
                const news = { ...state.inputs, ...change };
                const diff = await engine.diff(type, state.id, state.outputs, state.inputs, news);
                assert.equal(diff.changes, SOME);
                assert.deepEqual(diff.replaces, []);
                assert.deepEqual(diff.diffs.sort(), Object.keys(change).sort());
                const preview = await engine.update(type, state.id, state.outputs, state.inputs, news, true);
                assert.deepEqual(Object.keys(preview).sort(), Object.keys(state.outputs).sort());
                const outputs = await engine.update(type, state.id, state.outputs, state.inputs, news);
                return { id: state.id, outputs, inputs: news };
            }

            /** An identifying change: Diff asks for a replace of exactly that argument. */
            async function replacedBy(
                type: string,
                state: Created,
                change: Props,
                deleteFirst: boolean,
            ): Promise<void> {
                const diff = await engine.diff(type, state.id, state.outputs, state.inputs, {
                    ...state.inputs,
                    ...change,
                });
                const keys = Object.keys(change);
                assert.equal(diff.changes, SOME);
                assert.deepEqual(diff.replaces, keys);
                assert.deepEqual(diff.detailed, Object.fromEntries(keys.map((k) => [k, UPDATE_REPLACE])));
                assert.equal(diff.deleteBeforeReplace, deleteFirst);
            }

            /** Read after a change made in Vault: the drift shows in the inputs, and a Diff against the program says so. */
            async function driftFound(type: string, state: Created, drifted: Props): Promise<void> {
                const read = await engine.read(type, state.id, state.outputs, state.inputs);
                assert.equal(read.id, state.id);
                assert.deepEqual(read.inputs, { ...state.inputs, ...drifted });
                const diff = await engine.diff(type, state.id, read.outputs, read.inputs, state.inputs);
                assert.equal(diff.changes, SOME);
                assert.deepEqual(diff.diffs.sort(), Object.keys(drifted).sort());
            }

            /** Delete, then a Read of the same ID says it is gone. */
            async function destroy(type: string, state: Created): Promise<void> {
                await engine.delete(type, state.id, state.outputs, state.inputs);
                const read = await engine.read(type, state.id, state.outputs, state.inputs);
                assert.deepEqual(read, { id: "", outputs: {}, inputs: {} });
            }

            it("Audit (file device): created exactly, read back equal, every change a replace (delete first at the same path), deleted", async function () {
                const file = path.join(work, "vault-audit.log");
                const program = {
                    type: "file",
                    path: "file-audit",
                    description: "Every request and response, HMAC'd",
                    options: { file_path: file },
                };
                const state = await up(AUDIT, program);
                assert.equal(state.id, "file-audit");
                assert.deepEqual(state.outputs, program);
                const device = (await data("sys/audit"))["file-audit/"];
                assert.deepEqual(
                    { type: device.type, description: device.description, options: device.options },
                    { type: "file", description: program.description, options: { file_path: file } },
                );
                assert.ok(fs.statSync(file).size > 0, "Vault writes the audit log");
                await refreshShowsNoChange(AUDIT, state);
                await replacedBy(AUDIT, state, { description: "other" }, true);
                await replacedBy(AUDIT, state, { path: "file-audit-2" }, false);
                await destroy(AUDIT, state);
                assert.equal((await data("sys/audit"))["file-audit/"], undefined);
            });

            it("Policy: exact text in Vault, an in-place rewrite, a rename replaces, drift found, deleted", async function () {
                const text = 'path "amiya.akn/data/*" {\n  capabilities = ["read"]\n}\n';
                let state = await up(POLICY, { name: "stand-in-reader", policy: text });
                assert.equal(state.id, "stand-in-reader");
                assert.deepEqual(state.outputs, { name: "stand-in-reader", policy: text });
                assert.equal((await data("sys/policies/acl/stand-in-reader")).policy, text);
                await refreshShowsNoChange(POLICY, state);
                const listed = text.replace('["read"]', '["read", "list"]');
                state = await updateInPlace(POLICY, state, { policy: listed });
                assert.equal((await data("sys/policies/acl/stand-in-reader")).policy, listed);
                await refreshShowsNoChange(POLICY, state);
                await replacedBy(POLICY, state, { name: "stand-in-reader-2" }, false);
                await api("PUT", "sys/policies/acl/stand-in-reader", { policy: text });
                await driftFound(POLICY, state, { policy: text });
                await destroy(POLICY, state);
                assert.equal((await api("GET", "sys/policies/acl/stand-in-reader")).status, 404);
            });

            it("Mount (KV v2): created with type, options and description; tuned in place; a new path or type replaces", async function () {
                const program = {
                    path: "stand-in-kv",
                    type: "kv",
                    options: { version: "2" },
                    description: "Secrets of cluster amiya.akn",
                };
                let state = await up(MOUNT, program);
                assert.equal(state.id, "stand-in-kv");
                assert.match(state.outputs.accessor, /^kv_[0-9a-f]+$/);
                assert.deepEqual({ ...state.outputs, accessor: undefined }, { ...program, accessor: undefined });
                const mount = await data("sys/mounts/stand-in-kv");
                assert.deepEqual(
                    {
                        type: mount.type,
                        options: mount.options,
                        description: mount.description,
                        accessor: mount.accessor,
                    },
                    {
                        type: "kv",
                        options: { version: "2" },
                        description: program.description,
                        accessor: state.outputs.accessor,
                    },
                );
                await refreshShowsNoChange(MOUNT, state);
                state = await updateInPlace(MOUNT, state, { description: "renamed" });
                assert.equal((await data("sys/mounts/stand-in-kv")).description, "renamed");
                await replacedBy(MOUNT, state, { path: "stand-in-kv-2" }, false);
                // Same path, new type: the replacement needs the path, so the old mount goes first.
                await replacedBy(MOUNT, state, { type: "generic" }, true);
                await api("POST", "sys/mounts/stand-in-kv/tune", { description: "changed in Vault" });
                await driftFound(MOUNT, state, { description: "changed in Vault" });
                await engine.update(MOUNT, state.id, state.outputs, state.inputs, state.inputs);
                assert.equal((await data("sys/mounts/stand-in-kv")).description, "renamed");
                created.mount = state;
            });

            it("SecretBackendV2: the mount's settings exactly, updated in place; Delete leaves them as the provider does; gone with the mount", async function () {
                let state = await up(KV, {
                    mount: "stand-in-kv",
                    maxVersions: 10,
                    casRequired: true,
                    deleteVersionAfter: 3600,
                });
                assert.equal(state.id, "stand-in-kv/config");
                assert.deepEqual(await data("stand-in-kv/config"), {
                    max_versions: 10,
                    cas_required: true,
                    delete_version_after: "1h0m0s",
                });
                await refreshShowsNoChange(KV, state);
                state = await updateInPlace(KV, state, { maxVersions: 5, deleteVersionAfter: 0 });
                assert.deepEqual(await data("stand-in-kv/config"), {
                    max_versions: 5,
                    cas_required: true,
                    delete_version_after: "0s",
                });
                await refreshShowsNoChange(KV, state);
                await replacedBy(KV, state, { mount: "other-kv" }, false);
                await api("POST", "stand-in-kv/config", { max_versions: 7 });
                await driftFound(KV, state, { maxVersions: 7 });
                await engine.delete(KV, state.id, state.outputs, state.inputs);
                assert.equal((await data("stand-in-kv/config")).max_versions, 7, "Delete leaves the settings");
                // The mount's Delete removes the mount, its settings with it.
                await destroy(MOUNT, created.mount);
                assert.equal((await api("GET", "sys/mounts/stand-in-kv")).status, 400);
                const read = await engine.read(KV, state.id, state.outputs, state.inputs);
                assert.equal(read.id, "");
            });

            it("jwt AuthBackend (OIDC): enabled, configured against the issuer over TLS, tuned; the client secret stays secret", async function () {
                const tune = oidcTune(config);
                const program = {
                    path: "stand-in-oidc",
                    type: "oidc",
                    description: `SSO through ${issuer.url}`,
                    oidcDiscoveryUrl: issuer.url,
                    oidcDiscoveryCaPem: ca.caPem,
                    oidcClientId: "vault",
                    oidcClientSecret: secret("client-s3cr3t"),
                    defaultRole: "reader",
                    tune,
                };
                const before = issuer.requests();
                const state = await up(JWT, program);
                assert.ok(issuer.requests() > before, "Vault fetched the issuer's discovery document");
                assert.equal(state.id, "stand-in-oidc");
                assert.match(state.outputs.accessor, /^auth_oidc_[0-9a-f]+$/);
                assert.deepEqual(state.outputs.oidcClientSecret, secret("client-s3cr3t"));
                assert.deepEqual({ ...state.outputs, accessor: undefined }, { ...program, accessor: undefined });
                const auth = (await data("sys/auth"))["stand-in-oidc/"];
                assert.deepEqual(
                    { type: auth.type, description: auth.description, accessor: auth.accessor },
                    { type: "oidc", description: program.description, accessor: state.outputs.accessor },
                );
                const cfg = await data("auth/stand-in-oidc/config");
                assert.deepEqual(
                    {
                        url: cfg.oidc_discovery_url,
                        pem: cfg.oidc_discovery_ca_pem,
                        client: cfg.oidc_client_id,
                        role: cfg.default_role,
                        secretShown: "oidc_client_secret" in cfg,
                    },
                    { url: issuer.url, pem: ca.caPem, client: "vault", role: "reader", secretShown: false },
                );
                const tuned = await data("sys/auth/stand-in-oidc/tune");
                assert.deepEqual(
                    {
                        listing: tuned.listing_visibility,
                        ttl: tuned.default_lease_ttl,
                        max: tuned.max_lease_ttl,
                        type: tuned.token_type,
                    },
                    { listing: "unauth", ttl: 3600, max: 28800, type: "default-service" },
                );
                assert.deepEqual(tune, {
                    listingVisibility: "unauth",
                    defaultLeaseTtl: "1h",
                    maxLeaseTtl: "8h",
                    tokenType: "default-service",
                });
                await refreshShowsNoChange(JWT, state);
                // The secret sent in plain text still comes back as a secret (the provider marks it sensitive).
                const plain = await engine.read(JWT, state.id, state.outputs, {
                    ...state.inputs,
                    oidcClientSecret: "client-s3cr3t",
                });
                assert.deepEqual(plain.outputs.oidcClientSecret, secret("client-s3cr3t"));
                await replacedBy(JWT, state, { path: "stand-in-oidc-2" }, false);
                await replacedBy(JWT, state, { type: "jwt" }, true);
                created.jwt = state;
            });

            it("jwt AuthBackend: tune and config changed in place, drift in the tune found by Read", async function () {
                let state = created.jwt;
                state = await updateInPlace(JWT, state, {
                    defaultRole: "other",
                    tune: { ...state.inputs.tune, maxLeaseTtl: "12h" },
                });
                assert.equal((await data("auth/stand-in-oidc/config")).default_role, "other");
                assert.equal((await data("sys/auth/stand-in-oidc/tune")).max_lease_ttl, 43200);
                await refreshShowsNoChange(JWT, state);
                const detailed = await engine.diff(JWT, state.id, state.outputs, state.inputs, {
                    ...state.inputs,
                    tune: { ...state.inputs.tune, defaultLeaseTtl: "2h" },
                });
                assert.deepEqual(detailed.detailed, { "tune.defaultLeaseTtl": UPDATE });
                // The same duration written another way is no change.
                const same = await engine.diff(JWT, state.id, state.outputs, state.inputs, {
                    ...state.inputs,
                    tune: { ...state.inputs.tune, defaultLeaseTtl: "60m" },
                });
                assert.equal(same.changes, NONE);
                await api("POST", "sys/auth/stand-in-oidc/tune", { default_lease_ttl: "2h" });
                await driftFound(JWT, state, { tune: { ...state.inputs.tune, defaultLeaseTtl: "7200s" } });
                created.jwt = state;
            });

            it("jwt AuthBackendRole: the program's OIDC role exactly; sets compared as sets; updated in place; backend or name replaces", async function () {
                const role = oidcRoleInputs(config);
                let state = await up(JWT_ROLE, { backend: "stand-in-oidc", ...role });
                assert.equal(state.id, `auth/stand-in-oidc/role/${role.roleName}`);
                const read = await data(`auth/stand-in-oidc/role/${role.roleName}`);
                assert.deepEqual(
                    {
                        role_type: read.role_type,
                        user_claim: read.user_claim,
                        groups_claim: read.groups_claim,
                        bound_audiences: read.bound_audiences,
                        oidc_scopes: read.oidc_scopes,
                        allowed_redirect_uris: read.allowed_redirect_uris,
                        token_policies: read.token_policies,
                        token_ttl: read.token_ttl,
                        token_max_ttl: read.token_max_ttl,
                    },
                    {
                        role_type: "oidc",
                        user_claim: role.userClaim,
                        groups_claim: role.groupsClaim,
                        bound_audiences: role.boundAudiences,
                        oidc_scopes: role.oidcScopes,
                        allowed_redirect_uris: role.allowedRedirectUris,
                        token_policies: role.tokenPolicies,
                        token_ttl: role.tokenTtl,
                        token_max_ttl: role.tokenMaxTtl,
                    },
                );
                await refreshShowsNoChange(JWT_ROLE, state);
                const reordered = await engine.diff(JWT_ROLE, state.id, state.outputs, state.inputs, {
                    ...state.inputs,
                    allowedRedirectUris: [...role.allowedRedirectUris].reverse(),
                });
                assert.equal(reordered.changes, NONE);
                state = await updateInPlace(JWT_ROLE, state, {
                    tokenPolicies: ["default", "read-only"],
                    tokenTtl: 600,
                });
                const updated = await data(`auth/stand-in-oidc/role/${role.roleName}`);
                assert.deepEqual([updated.token_policies, updated.token_ttl], [["default", "read-only"], 600]);
                await refreshShowsNoChange(JWT_ROLE, state);
                await replacedBy(JWT_ROLE, state, { roleName: "other" }, false);
                await replacedBy(JWT_ROLE, state, { backend: "other-oidc" }, false);
                await api("POST", `auth/stand-in-oidc/role/${role.roleName}`, { groups_claim: "roles" });
                await driftFound(JWT_ROLE, state, { groupsClaim: "roles" });
                await destroy(JWT_ROLE, state);
                assert.equal((await api("GET", `auth/stand-in-oidc/role/${role.roleName}`)).status, 404);
            });

            it("identity Group and GroupAlias: an external group for an SSO group, its alias on the OIDC accessor; updates, replaces, drift, delete", async function () {
                let group = await up(GROUP, {
                    name: "vault-admins",
                    type: "external",
                    policies: ["admin"],
                    metadata: { source: "sso", issuer: issuer.url },
                });
                assert.match(group.id, /^[0-9a-f-]{36}$/);
                const inVault = await data(`identity/group/id/${group.id}`);
                assert.deepEqual(
                    [inVault.name, inVault.type, inVault.policies, inVault.metadata],
                    ["vault-admins", "external", ["admin"], { source: "sso", issuer: issuer.url }],
                );
                await refreshShowsNoChange(GROUP, group);
                group = await updateInPlace(GROUP, group, { policies: ["admin", "operator"] });
                assert.deepEqual((await data(`identity/group/id/${group.id}`)).policies.sort(), ["admin", "operator"]);
                await refreshShowsNoChange(GROUP, group);
                await replacedBy(GROUP, group, { name: "renamed" }, false);
                await replacedBy(GROUP, group, { type: "internal" }, true);

                const accessor = created.jwt.outputs.accessor as string;
                let alias = await up(ALIAS, { name: "vault-admins", mountAccessor: accessor, canonicalId: group.id });
                const aliasInVault = await data(`identity/group-alias/id/${alias.id}`);
                assert.deepEqual(
                    [aliasInVault.name, aliasInVault.mount_accessor, aliasInVault.canonical_id],
                    ["vault-admins", accessor, group.id],
                );
                assert.equal((await data(`identity/group/id/${group.id}`)).alias.id, alias.id);
                await refreshShowsNoChange(ALIAS, alias);
                // The provider re-points an alias in place: no argument replaces it.
                alias = await updateInPlace(ALIAS, alias, { name: "vault-admins-2" });
                assert.equal((await data(`identity/group-alias/id/${alias.id}`)).name, "vault-admins-2");
                await api("POST", `identity/group-alias/id/${alias.id}`, {
                    name: "edited",
                    mount_accessor: accessor,
                    canonical_id: group.id,
                });
                await driftFound(ALIAS, alias, { name: "edited" });
                await destroy(ALIAS, alias);
                assert.equal((await api("GET", `identity/group-alias/id/${alias.id}`)).status, 404);

                await api("POST", `identity/group/id/${group.id}`, { policies: ["read-only"] });
                await driftFound(GROUP, group, { policies: ["read-only"] });
                await destroy(GROUP, group);
                assert.equal((await api("GET", `identity/group/id/${group.id}`)).status, 404);
            });

            it("jwt AuthBackend: Delete disables the auth method", async function () {
                await destroy(JWT, created.jwt);
                assert.equal((await data("sys/auth"))["stand-in-oidc/"], undefined);
            });

            it("AuthBackend (kubernetes): enabled with its description, tuned in place, path or type replaces", async function () {
                const program = {
                    type: "kubernetes",
                    path: "stand-in-k8s",
                    description: "Kubernetes service accounts of cluster amiya.akn",
                };
                let state = await up(AUTH, program);
                assert.equal(state.id, "stand-in-k8s");
                assert.match(state.outputs.accessor, /^auth_kubernetes_[0-9a-f]+$/);
                const auth = (await data("sys/auth"))["stand-in-k8s/"];
                assert.deepEqual(
                    [auth.type, auth.description, auth.accessor],
                    ["kubernetes", program.description, state.outputs.accessor],
                );
                await refreshShowsNoChange(AUTH, state);
                state = await updateInPlace(AUTH, state, { description: "renamed" });
                assert.equal((await data("sys/auth"))["stand-in-k8s/"].description, "renamed");
                await replacedBy(AUTH, state, { path: "stand-in-k8s-2" }, false);
                await replacedBy(AUTH, state, { type: "approle" }, true);
                const defaulted = await engine.check(AUTH, { type: "kubernetes" });
                assert.deepEqual(defaulted.inputs, { type: "kubernetes", path: "kubernetes" });
                created.auth = state;
            });

            it("kubernetes AuthBackendConfig: host, CA and reviewer JWT in Vault; the JWT stays secret; drift of an unset JWT found", async function () {
                const program = {
                    backend: "stand-in-k8s",
                    kubernetesHost: "https://kube.remote.example:6443",
                    kubernetesCaCert: ca.caPem,
                    tokenReviewerJwt: secret("reviewer.jwt.value"),
                    disableLocalCaJwt: true,
                };
                let state = await up(K8S_CONFIG, program);
                assert.equal(state.id, "auth/stand-in-k8s/config");
                assert.deepEqual(state.outputs, program);
                const cfg = await data("auth/stand-in-k8s/config");
                assert.deepEqual(
                    [
                        cfg.kubernetes_host,
                        cfg.kubernetes_ca_cert,
                        cfg.disable_local_ca_jwt,
                        cfg.token_reviewer_jwt_set,
                        "token_reviewer_jwt" in cfg,
                    ],
                    [program.kubernetesHost, ca.caPem, true, true, false],
                );
                await refreshShowsNoChange(K8S_CONFIG, state);
                state = await updateInPlace(K8S_CONFIG, state, { kubernetesHost: "https://kube.other.example:6443" });
                const after = await data("auth/stand-in-k8s/config");
                assert.deepEqual(
                    [after.kubernetes_host, after.token_reviewer_jwt_set],
                    ["https://kube.other.example:6443", true],
                );
                await refreshShowsNoChange(K8S_CONFIG, state);
                await replacedBy(K8S_CONFIG, state, { backend: "other-k8s" }, false);
                // The JWT given in plain text is still a secret output (the provider marks it sensitive).
                const plainJwt = await engine.create(
                    K8S_CONFIG,
                    { ...state.inputs, tokenReviewerJwt: "reviewer.jwt.value" },
                    true,
                );
                assert.deepEqual(plainJwt.outputs.tokenReviewerJwt, secret("reviewer.jwt.value"));
                // Drift: the config rewritten in Vault without a reviewer JWT.
                await api("POST", "auth/stand-in-k8s/config", {
                    kubernetes_host: "https://kube.other.example:6443",
                    kubernetes_ca_cert: ca.caPem,
                    disable_local_ca_jwt: true,
                });
                await driftFound(K8S_CONFIG, state, { tokenReviewerJwt: secret("") });
                await engine.update(K8S_CONFIG, state.id, state.outputs, state.inputs, state.inputs);
                assert.equal((await data("auth/stand-in-k8s/config")).token_reviewer_jwt_set, true);
                await engine.delete(K8S_CONFIG, state.id, state.outputs, state.inputs);
                assert.equal(
                    (await data("auth/stand-in-k8s/config")).kubernetes_host,
                    "https://kube.other.example:6443",
                    "Delete leaves the config, as the provider does",
                );
            });

            it("kubernetes AuthBackendRole: ESO's reader role exactly; updated in place; role name replaces; drift; deleted", async function () {
                const program = {
                    backend: "stand-in-k8s",
                    roleName: "external-secrets",
                    boundServiceAccountNames: ["external-secrets"],
                    boundServiceAccountNamespaces: ["external-secrets"],
                    audience: "vault",
                    tokenPolicies: ["external-secrets-reader-amiya.akn"],
                    tokenTtl: 600,
                    tokenMaxTtl: 1200,
                    tokenNoDefaultPolicy: true,
                };
                let state = await up(K8S_ROLE, program);
                assert.equal(state.id, "auth/stand-in-k8s/role/external-secrets");
                const role = await data("auth/stand-in-k8s/role/external-secrets");
                assert.deepEqual(
                    [
                        role.bound_service_account_names,
                        role.bound_service_account_namespaces,
                        role.audience,
                        role.token_policies,
                        role.token_ttl,
                        role.token_max_ttl,
                        role.token_no_default_policy,
                    ],
                    [
                        ["external-secrets"],
                        ["external-secrets"],
                        "vault",
                        ["external-secrets-reader-amiya.akn"],
                        600,
                        1200,
                        true,
                    ],
                );
                await refreshShowsNoChange(K8S_ROLE, state);
                state = await updateInPlace(K8S_ROLE, state, {
                    tokenTtl: 300,
                    boundServiceAccountNamespaces: ["eso", "external-secrets"],
                });
                const updated = await data("auth/stand-in-k8s/role/external-secrets");
                assert.deepEqual(
                    [updated.token_ttl, updated.bound_service_account_namespaces.sort()],
                    [300, ["eso", "external-secrets"]],
                );
                await refreshShowsNoChange(K8S_ROLE, state);
                // A removed argument is reset in Vault, not left behind.
                const withoutFlag = { ...state.inputs };
                delete withoutFlag.tokenNoDefaultPolicy;
                const diff = await engine.diff(K8S_ROLE, state.id, state.outputs, state.inputs, withoutFlag);
                assert.deepEqual(diff.detailed, { tokenNoDefaultPolicy: providerpb.PropertyDiff.Kind.DELETE });
                await engine.update(K8S_ROLE, state.id, state.outputs, state.inputs, withoutFlag);
                assert.equal((await data("auth/stand-in-k8s/role/external-secrets")).token_no_default_policy, false);
                state = {
                    ...state,
                    inputs: withoutFlag,
                    outputs: (await engine.read(K8S_ROLE, state.id, state.outputs, withoutFlag)).outputs,
                };
                await replacedBy(K8S_ROLE, state, { roleName: "other" }, false);
                await api("POST", "auth/stand-in-k8s/role/external-secrets", { token_max_ttl: 3600 });
                await driftFound(K8S_ROLE, state, { tokenMaxTtl: 3600 });
                await destroy(K8S_ROLE, state);
                assert.equal((await api("GET", "auth/stand-in-k8s/role/external-secrets")).status, 404);
                // The auth method's Delete removes it and its config.
                await destroy(AUTH, created.auth);
                assert.equal((await data("sys/auth"))["stand-in-k8s/"], undefined);
                assert.equal((await engine.read(K8S_CONFIG, "auth/stand-in-k8s/config", {}, {})).id, "");
            });

            it("did all of it through one child token of the pulumi token (its policies, 1200 s), as the real provider does", async function () {
                const children = await childTokens();
                assert.equal(children.length, 1);
                assert.deepEqual(children[0].policies, ["default", PULUMI_POLICY]);
                assert.equal(children[0].creation_ttl, 1200);
                assert.equal(children[0].orphan, false);
            });

            it("a preview adds nothing to Vault: Create and Update with preview=true send no request", async function () {
                const preview = await engine.create(POLICY, { name: "preview-only", policy: "" }, true);
                assert.deepEqual(preview, { id: "", outputs: { name: "preview-only", policy: "" } });
                const accessorUnknown = await engine.create(MOUNT, { path: "preview-kv", type: "kv" }, true);
                assert.equal(accessorUnknown.outputs.accessor, UNKNOWN);
                assert.equal((await api("GET", "sys/policies/acl/preview-only")).status, 404);
                assert.equal((await data("sys/mounts"))["preview-kv/"], undefined);
                const added = await engine.diff(
                    MOUNT,
                    "preview-kv",
                    {},
                    { path: "preview-kv", type: "kv" },
                    { path: "preview-kv", type: "kv", description: UNKNOWN },
                );
                assert.deepEqual([added.changes, added.detailed], [SOME, { description: ADD }]);
            });

            it("once its child token is revoked, the next operation fails naming the stand-in and Vault's answer", async function () {
                const [child] = await childTokens();
                assert.equal(
                    (await api("POST", "auth/token/revoke-accessor", { accessor: child.accessor })).status,
                    204,
                );
                await assert.rejects(engine.create(POLICY, { name: "after-revoke", policy: "" }), {
                    details:
                        "vault stand-in plugin: PUT sys/policies/acl/after-revoke: Vault answered HTTP 403: permission denied; invalid token",
                });
                assert.equal((await api("GET", "sys/policies/acl/after-revoke")).status, 404);
            });
        });

        describe("the e2e probe's way: root token, skipChildToken, caCertFile relative to the program's directory", function () {
            let probe: Plugin;
            let probeEngine: Engine;
            before(async function () {
                probe = await startPlugin(launcher, work);
                probeEngine = new Engine(probe.client);
            });
            after(async function () {
                await probe?.stop();
            });

            it("configures from JSON-encoded flags, creates a KV v2 mount and a policy, reads them back, deletes them; mints no child token", async function () {
                const before = (await childTokens()).length;
                await probeEngine.configure({
                    address: vault.address,
                    token: secret(root),
                    caCertFile: "ca.pem",
                    skipChildToken: "true",
                    skipTlsVerify: "false",
                    maxLeaseTtlSeconds: "1200",
                    maxRetries: "2",
                });
                const mount = await probeEngine.create("vault:index/mount:Mount", {
                    path: "e2e-kv",
                    type: "kv",
                    options: { version: "2" },
                });
                const text = 'path "e2e-kv/data/*" {\n  capabilities = ["read"]\n}\n';
                const policy = await probeEngine.create("vault:index/policy:Policy", {
                    name: "e2e-reader",
                    policy: text,
                });
                assert.deepEqual((await data("sys/mounts/e2e-kv")).options, { version: "2" });
                assert.equal((await data("sys/policies/acl/e2e-reader")).policy, text);
                assert.equal((await childTokens()).length, before, "skipChildToken: the root token itself is used");
                await probeEngine.delete("vault:index/policy:Policy", policy.id, policy.outputs, {
                    name: "e2e-reader",
                    policy: text,
                });
                await probeEngine.delete("vault:index/mount:Mount", mount.id, mount.outputs, {
                    path: "e2e-kv",
                    type: "kv",
                    options: { version: "2" },
                });
                assert.equal((await api("GET", "sys/policies/acl/e2e-reader")).status, 404);
                assert.equal((await data("sys/mounts"))["e2e-kv/"], undefined);
                assert.match(probe.stderr(), /^vault stand-in plugin: version 7\.8\.0 serving on 127\.0\.0\.1:\d+/);
                for (const line of probe.stderr().trimEnd().split("\n")) assert.match(line, /^vault stand-in plugin: /);
                assert.ok(!probe.stderr().includes(root), "the token never reaches the log");
            });
        });

        describe("without the CA", function () {
            let bare: Plugin;
            let bareEngine: Engine;
            before(async function () {
                bare = await startPlugin(launcher, work);
                bareEngine = new Engine(bare.client);
            });
            after(async function () {
                await bare?.stop();
            });

            it("Configure fails on a CA file that is not there, naming it; without one, no request gets past Vault's certificate", async function () {
                const missing = path.join(work, "missing.pem");
                await assert.rejects(
                    bareEngine.configure({
                        address: vault.address,
                        token: secret(root),
                        caCertFile: "missing.pem",
                        skipChildToken: "true",
                    }),
                    {
                        details: `vault stand-in plugin: caCertFile ${missing}: ENOENT: no such file or directory, open '${missing}'`,
                    },
                );
                await bareEngine.configure({ address: vault.address, token: secret(root), skipChildToken: "true" });
                await assert.rejects(
                    bareEngine.create("vault:index/policy:Policy", { name: "untrusted", policy: "" }),
                    {
                        details: `vault stand-in plugin: PUT ${vault.address}/v1/sys/policies/acl/untrusted: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`,
                    },
                );
                assert.equal((await api("GET", "sys/policies/acl/untrusted")).status, 404);
            });
        });
    });
});
