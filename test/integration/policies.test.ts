/**
 * The ACL policies' intended semantics, proven on a real Vault server: every
 * rendered policy is loaded, a token is minted per policy (with `default`, as
 * real logins get it), and `sys/capabilities` is checked against a table of
 * what each role may and may not do. A few real requests confirm the table
 * means what it says, and the KV v2 mount settings are exercised for real.
 * Skips without the Vault binary, except under CI=true (test/support/tools.ts).
 */
import { strict as assert } from "node:assert";
import { loadConfig, PlatformConfig } from "../../components/config";
import { kvMounts } from "../../components/configuration";
import { renderPolicies, RenderedPolicy } from "../../components/lib/policies";
import { homelabStack } from "../support/fixtures";
import { setStackConfig } from "../support/program";
import { requireTool } from "../support/tools";
import { initAndUnseal, startVault, VaultServer, vaultRequest } from "../support/vault-server";

/** Every capability Vault grants on a path, as `sys/capabilities` reports them. */
const ALL = ["create", "delete", "list", "patch", "read", "sudo", "update"];
const RW = ["create", "delete", "patch", "read", "update"];
const DENY = ["deny"];

/** A stack with a remote cluster and two shared mounts, so cross-mount rules are tested. */
function platformConfig(): PlatformConfig {
    const s = homelabStack();
    s.values.kv = {
        cluster: { maxVersions: 3, casRequired: true },
        shared: [
            { name: "shared", readablePaths: ["common"] },
            { name: "team", maxVersions: 2, deleteVersionAfter: "1h", readablePaths: ["ci"] },
        ],
    };
    s.values.kubernetesAuth = {
        remoteClusters: [
            {
                name: "kiana.akn",
                host: "https://kiana.akn:6443",
                caCert: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----",
            },
        ],
    };
    s.secrets.remoteClusterReviewerJwts = { "kiana.akn": "jwt" };
    setStackConfig(s);
    return loadConfig();
}

type Who = "admin" | "operator" | "read-only" | "reader-amiya" | "reader-kiana";

/** The intended semantics: who, on which API path, gets exactly which capabilities. */
const TABLE: readonly (readonly [Who, string, readonly string[]])[] = [
    // The amiya.akn External Secrets reader: its own cluster's data, read only.
    ["reader-amiya", "amiya.akn/data/app/db/password", ["read"]],
    ["reader-amiya", "amiya.akn/data/media/sonarr/api-key", ["read"]],
    ["reader-amiya", "amiya.akn/metadata/app/", ["list", "read"]],
    ["reader-amiya", "amiya.akn/delete/app/db/password", DENY],
    ["reader-amiya", "amiya.akn/destroy/app/db/password", DENY],
    ["reader-amiya", "amiya.akn/config", DENY],
    // ...plus exactly what is shared with it.
    ["reader-amiya", "shared/data/common/registry", ["read"]],
    ["reader-amiya", "shared/metadata/common/", ["list", "read"]],
    ["reader-amiya", "shared/data/private/x", DENY],
    ["reader-amiya", "shared/data/commonplace/x", DENY],
    ["reader-amiya", "team/data/ci/token", ["read"]],
    ["reader-amiya", "team/data/prod/token", DENY],
    // ...and nothing of another cluster, nor of Vault itself.
    ["reader-amiya", "kiana.akn/data/app/db/password", DENY],
    ["reader-amiya", "kiana.akn/metadata/", DENY],
    ["reader-amiya", "sys/", DENY],
    ["reader-amiya", "sys/mounts", DENY],
    ["reader-amiya", "sys/policies/acl/external-secrets-reader-amiya.akn", DENY],
    ["reader-amiya", "auth/token/create", DENY],
    ["reader-amiya", "identity/group/name/vault-admins", DENY],
    // The remote cluster's reader is the mirror image.
    ["reader-kiana", "kiana.akn/data/app/db/password", ["read"]],
    ["reader-kiana", "amiya.akn/data/app/db/password", DENY],
    ["reader-kiana", "shared/data/common/registry", ["read"]],
    // Operator: application secrets on every KV mount, no permanent destruction, no sys/.
    ["operator", "amiya.akn/data/app/db/password", RW],
    ["operator", "kiana.akn/data/app/db/password", RW],
    ["operator", "shared/data/anything/at/all", RW],
    ["operator", "team/data/prod/token", RW],
    ["operator", "amiya.akn/metadata/app/", ["list", "read"]],
    ["operator", "amiya.akn/subkeys/app/db/password", ["read"]],
    ["operator", "amiya.akn/delete/app/db/password", ["update"]],
    ["operator", "amiya.akn/undelete/app/db/password", ["update"]],
    ["operator", "amiya.akn/destroy/app/db/password", DENY],
    ["operator", "amiya.akn/config", DENY],
    ["operator", "sys/mounts", DENY],
    ["operator", "sys/mounts/amiya.akn", DENY],
    ["operator", "sys/policies/acl/operator", DENY],
    ["operator", "auth/oidc/role/default", DENY],
    ["operator", "identity/group/name/vault-admins", DENY],
    // Read-only: reads and browses, writes nothing.
    ["read-only", "amiya.akn/data/app/db/password", ["read"]],
    ["read-only", "shared/data/private/x", ["read"]],
    ["read-only", "kiana.akn/metadata/app/", ["list", "read"]],
    ["read-only", "amiya.akn/delete/app/db/password", DENY],
    ["read-only", "amiya.akn/undelete/app/db/password", DENY],
    ["read-only", "sys/policies/acl", DENY],
    // Admin: everything, except the seal, root material and the audit trail.
    ["admin", "amiya.akn/data/app/db/password", ALL],
    ["admin", "amiya.akn/destroy/app/db/password", ALL],
    ["admin", "sys/mounts/new-mount", ALL],
    ["admin", "sys/policies/acl/operator", ALL],
    ["admin", "sys/auth/oidc", ALL],
    ["admin", "sys/audit", ALL],
    ["admin", "sys/generate-root/attempt", DENY],
    ["admin", "sys/generate-root/update", DENY],
    ["admin", "sys/generate-recovery-token/attempt", DENY],
    ["admin", "sys/rekey/init", DENY],
    ["admin", "sys/rekey-recovery-key/init", DENY],
    ["admin", "sys/rotate", DENY],
    ["admin", "sys/rotate/config", DENY],
    ["admin", "sys/raw/core/keyring", DENY],
    ["admin", "sys/seal", DENY],
    ["admin", "sys/step-down", DENY],
    ["admin", "sys/audit/file", DENY],
    ["admin", "sys/policies/acl/admin", ["read"]],
    ["admin", "sys/policy/admin", ["read"]],
];

describe("ACL policies on a real Vault server", function () {
    this.timeout(60_000);
    let server: VaultServer | undefined;
    let root = "";
    let config: PlatformConfig;
    let policies: RenderedPolicy[];
    const tokens = new Map<Who, string>();

    const as = (token: string, method: string, path: string, body?: unknown) =>
        vaultRequest((server as VaultServer).address, token, method, path, body);

    before(async function () {
        requireTool(this, "vault");
        config = platformConfig();
        policies = renderPolicies(config);
        server = await startVault();
        root = (await initAndUnseal(server.address)).rootToken;

        // The mounts and engine settings the component creates (vault.Mount + vault.kv.SecretBackendV2).
        for (const m of kvMounts(config)) {
            const mounted = await as(root, "POST", `sys/mounts/${m.path}`, {
                type: "kv",
                options: { version: "2" },
                description: m.description,
            });
            assert.equal(mounted.status, 204, `mount ${m.path}: ${JSON.stringify(mounted.body)}`);
            const tuned = await as(root, "POST", `${m.path}/config`, {
                max_versions: m.maxVersions,
                cas_required: m.casRequired,
                delete_version_after: `${m.deleteVersionAfter}s`,
            });
            assert.ok([200, 204].includes(tuned.status), `config ${m.path}: ${JSON.stringify(tuned.body)}`);
        }
        for (const p of policies) {
            const res = await as(root, "PUT", `sys/policies/acl/${p.name}`, { policy: p.text });
            assert.equal(res.status, 204, `policy ${p.name}: ${JSON.stringify(res.body)}`);
        }
        const mint = async (who: Who, policy: string) => {
            const res = await as(root, "POST", "auth/token/create", { policies: [policy], ttl: "15m" });
            assert.equal(res.status, 200, `token for ${policy}: ${JSON.stringify(res.body?.errors)}`);
            tokens.set(who, res.body.auth.client_token);
        };
        await mint("admin", "admin");
        await mint("operator", "operator");
        await mint("read-only", "read-only");
        await mint("reader-amiya", "external-secrets-reader-amiya.akn");
        await mint("reader-kiana", "external-secrets-reader-kiana.akn");
    });

    after(async () => {
        await server?.stop();
    });

    it("accepts every rendered policy under its Vault name", async () => {
        const res = await as(root, "LIST", "sys/policies/acl");
        assert.deepEqual(
            (res.body.data.keys as string[]).filter((k) => k !== "default" && k !== "root").sort(),
            policies.map((p) => p.name).sort(),
        );
        for (const p of policies) {
            const read = await as(root, "GET", `sys/policies/acl/${p.name}`);
            assert.equal(read.body.data.policy, p.text);
        }
    });

    it(`has a table of at least 40 intended allow/deny cases`, () => {
        assert.ok(TABLE.length >= 40, `${TABLE.length} cases`);
        assert.deepEqual(new Set(TABLE.map(([who]) => who)).size, 5);
    });

    for (const [who, path, expected] of TABLE) {
        it(`${who} on ${path}: ${expected.join(", ")}`, async () => {
            const res = await as(root, "POST", "sys/capabilities", { token: tokens.get(who), paths: [path] });
            assert.equal(res.status, 200, JSON.stringify(res.body?.errors));
            assert.deepEqual([...(res.body.data[path] as string[])].sort(), [...expected].sort());
        });
    }

    it("does what the table says on real requests", async () => {
        const written = await as(root, "POST", "amiya.akn/data/app/db/password", {
            options: { cas: 0 },
            data: { value: "s3cr3t" },
        });
        assert.equal(written.status, 200, JSON.stringify(written.body));
        const reader = tokens.get("reader-amiya") as string;
        const read = await as(reader, "GET", "amiya.akn/data/app/db/password");
        assert.equal(read.status, 200);
        assert.equal(read.body.data.data.value, "s3cr3t");
        const write = await as(reader, "POST", "amiya.akn/data/app/db/password", {
            options: { cas: 1 },
            data: { value: "x" },
        });
        assert.equal(write.status, 403);
        assert.equal((await as(reader, "GET", "kiana.akn/data/app/db/password")).status, 403);
        assert.equal((await as(reader, "LIST", "sys/policies/acl")).status, 403);

        const operator = tokens.get("operator") as string;
        const update = await as(operator, "POST", "amiya.akn/data/app/db/password", {
            options: { cas: 1 },
            data: { value: "rotated" },
        });
        assert.equal(update.status, 200, JSON.stringify(update.body));
        const destroy = await as(operator, "PUT", "amiya.akn/destroy/app/db/password", { versions: [1] });
        assert.equal(destroy.status, 403);

        const admin = tokens.get("admin") as string;
        // sys/generate-root and sys/rekey are unauthenticated by design (the key shares are the
        // gate), and sys/step-down is a no-op without HA, so only the capability table can show
        // their deny; these endpoints check the token.
        assert.equal((await as(admin, "PUT", "sys/seal")).status, 403);
        assert.equal((await as(admin, "PUT", "sys/rotate")).status, 403);
        assert.equal((await as(admin, "PUT", "sys/audit/sneaky", { type: "file", options: {} })).status, 403);
        const selfEdit = await as(admin, "PUT", "sys/policies/acl/admin", {
            policy: 'path "*" { capabilities = ["sudo"] }',
        });
        assert.equal(selfEdit.status, 403);
        assert.equal((await as(admin, "GET", "sys/mounts")).status, 200);
    });

    describe("KV v2 mount settings", () => {
        it("stores each mount's max versions, check-and-set and delete-version-after", async () => {
            const expected: Record<string, unknown> = {
                "amiya.akn": { max_versions: 3, cas_required: true, delete_version_after: "0s" },
                "kiana.akn": { max_versions: 3, cas_required: true, delete_version_after: "0s" },
                shared: { max_versions: 10, cas_required: false, delete_version_after: "0s" },
                team: { max_versions: 2, cas_required: false, delete_version_after: "1h0m0s" },
            };
            for (const [mount, settings] of Object.entries(expected)) {
                const res = await as(root, "GET", `${mount}/config`);
                assert.deepEqual(res.body.data, settings, mount);
                const info = await as(root, "GET", `sys/mounts/${mount}`);
                assert.equal(info.body.data.type, "kv");
                assert.equal(info.body.data.options.version, "2");
            }
        });

        it("enforces check-and-set on the cluster mount", async () => {
            const path = "amiya.akn/data/app/cas/demo";
            const noCas = await as(root, "POST", path, { data: { v: "1" } });
            assert.equal(noCas.status, 400);
            assert.match(JSON.stringify(noCas.body.errors), /check-and-set parameter required/);
            assert.equal((await as(root, "POST", path, { options: { cas: 0 }, data: { v: "1" } })).status, 200);
            const stale = await as(root, "POST", path, { options: { cas: 0 }, data: { v: "2" } });
            assert.equal(stale.status, 400);
            assert.match(
                JSON.stringify(stale.body.errors),
                /check-and-set parameter did not match the current version/,
            );
        });

        it("keeps only max versions", async () => {
            const path = "amiya.akn/data/app/versions/demo";
            for (let v = 0; v < 5; v++) {
                const res = await as(root, "POST", path, { options: { cas: v }, data: { v: String(v + 1) } });
                assert.equal(res.status, 200, JSON.stringify(res.body));
            }
            const meta = await as(root, "GET", "amiya.akn/metadata/app/versions/demo");
            assert.equal(meta.body.data.current_version, 5);
            assert.deepEqual(Object.keys(meta.body.data.versions).sort(), ["3", "4", "5"]);
            assert.equal((await as(root, "GET", `${path}?version=1`)).status, 404);
            assert.equal((await as(root, "GET", `${path}?version=3`)).body.data.data.v, "3");

            // The team mount keeps two and does not require check-and-set.
            for (const v of ["a", "b", "c"]) {
                assert.equal((await as(root, "POST", "team/data/ci/token", { data: { v } })).status, 200);
            }
            const team = await as(root, "GET", "team/metadata/ci/token");
            assert.deepEqual(Object.keys(team.body.data.versions).sort(), ["2", "3"]);
        });
    });
});
