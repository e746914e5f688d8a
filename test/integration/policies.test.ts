/**
 * The configuration component's real inputs, applied to a real Vault server.
 * The component is built under the shared mocks; what it registered (mounts,
 * engine settings, policies, auth methods and roles, identity groups and
 * aliases) is then written to a real `vault server` through the HTTP API the
 * Vault provider uses, so Vault itself accepts or rejects every input. On that
 * server a token is minted per policy (with `default`, as real logins get it)
 * and `sys/capabilities` is checked against a table of what each role may and
 * may not do; a few real requests confirm the table means what it says, and
 * the KV v2 settings (max versions, check-and-set) are exercised. External
 * Secrets' logins go through both Kubernetes auth mounts against a fake
 * TokenReview API (the only Kubernetes call Vault makes), proving the role
 * bindings, the reader each cluster gets, and which bearer reviews the token;
 * the OIDC config is written against a fake issuer behind a private CA and the
 * login URL Vault builds is checked.
 * Skips without the Vault binary, except under CI=true (test/support/tools.ts).
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import * as vault from "@pulumi/vault";
import { KV_BACKUP_POLICY, POLICY_DIR, RAFT_SNAPSHOT_POLICY } from "../../components/lib/policy-names";
import { VaultConfiguration } from "../../components/vault-setup";
import { renderPolicies, tenantPolicies } from "../../components/lib/policies";
import { KvClient } from "../../ops/migrate/kv-client";
import { homelabStack } from "../support/fixtures";
import { Program, RecordedResource, runProgram, StackConfig } from "../support/program";
import { requireTool } from "../support/tools";
import { Account, API_AUDIENCE, FakeKubeApi, serviceAccountJwt, startFakeKubeApi } from "../support/fake-kube-api";
import { initAndUnseal, startVault, VaultServer, vaultRequest } from "../support/vault-server";

/** Every capability Vault grants on a path, as `sys/capabilities` reports them. */
const RW = ["create", "delete", "patch", "read", "update"];
const DENY = ["deny"];
/** Admin's grant on "*": everything but sudo. */
const ADMIN = ["create", "delete", "list", "patch", "read", "update"];

/**
 * A stack with a remote cluster and two shared mounts, so cross-mount rules
 * are tested. Both Kubernetes auth mounts point at the fake API server when
 * there is one.
 */
function stack(api: FakeKubeApi | undefined): StackConfig {
    const s = homelabStack();
    // The test server has no /vault/audit volume: the stdout variant of the device.
    s.values.audit = { target: "stdout" };
    s.values.kv = {
        cluster: { maxVersions: 3, casRequired: true },
        shared: [
            { name: "shared", readablePaths: ["common"] },
            { name: "team", maxVersions: 2, deleteVersionAfter: "1h", readablePaths: ["ci"] },
        ],
    };
    s.values.kubernetesAuth = {
        // Outside a pod there is no mounted CA to default to: give the local mount one.
        host: api?.host ?? "https://kubernetes.default.svc",
        caCert: api?.ca ?? TEST_CA,
        remoteClusters: [
            {
                name: "kiana.akn",
                host: api?.host ?? "https://kiana.akn:6443",
                caCert: api?.ca ?? TEST_CA,
            },
        ],
    };
    s.values.oidc.groups = { "vault-admins": ["admin"], developers: ["operator", "read-only"] };
    // One tenant group: its own store, role and policy, reading only its namespaces' paths.
    s.values.externalSecrets.tenants = [{ name: "media", namespaces: ["sonarr", "radarr"] }];
    if (api !== undefined) {
        s.values.oidc.issuer = api.host;
        s.values.oidc.discoveryCaPem = api.ca;
    }
    s.secrets.remoteClusterReviewerJwts = { "kiana.akn": "reviewer-jwt" };
    // The KV export: its policy is rendered over every managed mount (a public key; its private key was discarded).
    s.values.backup = { enabled: true, recipients: ["age195l04lrx37hay2qqtsglpmhyc43her5kywknf5xtqsujsp2gc57sujy7xe"] };
    return s;
}

/** A real self-signed CA certificate (its key was thrown away): Vault parses the CA it is given. */
const TEST_CA = `-----BEGIN CERTIFICATE-----
MIIBhzCCAS2gAwIBAgIUR52LSDPNgBDcXpiQvwtGjjCaqKkwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNdGVzdC1raWFuYS1jYTAgFw0yNjExMjcyMzIwNTNaGA8yMTI2
MTEwMzIzMjA1M1owGDEWMBQGA1UEAwwNdGVzdC1raWFuYS1jYTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABK4+SCPdkQCxtfpymsuhRQjztNDl0AryTwtexf03QI8g
ApdJQxSasygJsFEzwCNOnRoWnJ8+QGIKDHnVKR76aZWjUzBRMB0GA1UdDgQWBBSl
DklRf+NTbVAORsy6z8Sy0sH/PzAfBgNVHSMEGDAWgBSlDklRf+NTbVAORsy6z8Sy
0sH/PzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQDYStAC82Gw
tt4ou06d5W9wxKVP6zYRCrxX6fKPuPFj5AIgQ0tiIUxe/6H+OU/ik6lCzzJa30sm
MhUi/OUVcuZdTb4=
-----END CERTIFICATE-----`;

/** Provider input names are the API's in camelCase; secrets arrive wrapped. */
function apiBody(inputs: Record<string, unknown>, omit: readonly string[] = []): Record<string, unknown> {
    const body: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(inputs)) {
        if (omit.includes(key)) continue;
        const plain =
            typeof value === "object" && value !== null && specialSigKey in value
                ? (value as unknown as { value: unknown }).value
                : value;
        body[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = plain;
    }
    return body;
}

type Who =
    | "admin"
    | "operator"
    | "read-only"
    | "reader-amiya"
    | "reader-kiana"
    | "tenant-media"
    | "pulumi"
    | "raft-snapshot"
    | "kv-backup";

/** The intended semantics: who, on which API path, gets exactly which capabilities. */
const TABLE: readonly (readonly [Who, string, readonly string[]])[] = [
    // The amiya.akn External Secrets reader: its own cluster's data, read only.
    ["reader-amiya", "amiya.akn/data/app/db/password", ["read"]],
    ["reader-amiya", "amiya.akn/data/media/sonarr/api-key", ["read"]],
    // A tenant group's namespaces are its own store's: the cluster-wide reader neither reads nor lists them.
    ["reader-amiya", "amiya.akn/data/sonarr/api-key", DENY],
    ["reader-amiya", "amiya.akn/data/radarr/db/password", DENY],
    ["reader-amiya", "amiya.akn/metadata/sonarr/api-key", DENY],
    ["reader-amiya", "amiya.akn/data/sonarrx/api-key", ["read"]],
    ["reader-kiana", "kiana.akn/data/sonarr/api-key", ["read"]],
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
    // A tenant group's reader: its namespaces' own paths of the cluster mount, nothing else.
    ["tenant-media", "amiya.akn/data/sonarr/api-key", ["read"]],
    ["tenant-media", "amiya.akn/data/radarr/db/password", ["read"]],
    ["tenant-media", "amiya.akn/metadata/sonarr/", ["list", "read"]],
    ["tenant-media", "amiya.akn/data/grafana/admin", DENY],
    ["tenant-media", "amiya.akn/data/sonarrx/api-key", DENY],
    ["tenant-media", "amiya.akn/data/sonarr", DENY],
    ["tenant-media", "amiya.akn/metadata/", DENY],
    ["tenant-media", "amiya.akn/delete/sonarr/api-key", DENY],
    ["tenant-media", "kiana.akn/data/sonarr/api-key", DENY],
    ["tenant-media", "shared/data/common/registry", DENY],
    ["tenant-media", "sys/mounts", DENY],
    // The remote cluster's reader is the mirror image.
    ["reader-kiana", "kiana.akn/data/app/db/password", ["read"]],
    ["reader-kiana", "amiya.akn/data/app/db/password", DENY],
    ["reader-kiana", "shared/data/common/registry", ["read"]],
    // Operator: application secrets on every KV mount, no permanent destruction, no sys/.
    ["operator", "amiya.akn/data/app/db/password", RW],
    ["operator", "kiana.akn/data/app/db/password", RW],
    ["operator", "shared/data/anything/at/all", RW],
    ["operator", "team/data/prod/token", RW],
    ["operator", "amiya.akn/metadata/app/", ["list", "patch", "read"]],
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
    // The Vault provider's machine token: manages the configuration, reads no secret, cannot seal.
    ["pulumi", "sys/audit/file", ["create", "delete", "read", "sudo", "update"]],
    ["pulumi", "sys/policies/acl/admin", ["create", "delete", "list", "read", "update"]],
    ["pulumi", "sys/mounts/amiya.akn", ["create", "delete", "read", "update"]],
    ["pulumi", "amiya.akn/config", ["create", "read", "update"]],
    ["pulumi", "auth/oidc/role/default", ["create", "delete", "list", "read", "update"]],
    ["pulumi", "identity/group/name/vault-admins", ["create", "delete", "list", "read", "update"]],
    ["pulumi", "amiya.akn/data/app/db/password", DENY],
    ["pulumi", "amiya.akn/metadata/app/", DENY],
    ["pulumi", "sys/seal", DENY],
    // Its successor past vault.providerTokenMaxAgeDays: an orphan periodic token needs sudo.
    ["pulumi", "auth/token/create-orphan", ["sudo", "update"]],
    ["pulumi", "sys/raw/core/keyring", DENY],
    // Admin: every secret and mount, no sudo, nothing that grants a policy it does not hold.
    ["admin", "amiya.akn/data/app/db/password", ADMIN],
    ["admin", "amiya.akn/destroy/app/db/password", ADMIN],
    ["admin", "sys/mounts/new-mount", ADMIN],
    ["admin", "sys/leases/revoke-prefix/auth/oidc", ["sudo", "update"]],
    ["admin", "auth/token/create", ["create", "update"]],
    ["admin", "auth/token/create-orphan", DENY],
    ["admin", "auth/token/create/escalate", DENY],
    ["admin", "auth/token/roles/escalate", ["list", "read"]],
    ["admin", "auth/oidc/role/default", ["list", "read"]],
    ["admin", "auth/oidc/config", ["list", "read"]],
    ["admin", "auth/kubernetes-amiya.akn/role/external-secrets", ["list", "read"]],
    ["admin", "identity/group", ["list", "read"]],
    ["admin", "identity/group/name/vault-admins", ["list", "read"]],
    ["admin", "identity/group-alias", ["list", "read"]],
    ["admin", "identity/entity", ["list", "read"]],
    ["admin", "identity/entity-alias", ["list", "read"]],
    ["admin", "identity/lookup/entity", ["update"]],
    ["admin", "sys/policies/acl/operator", ["list", "read"]],
    ["admin", "sys/policies/acl/pulumi", ["list", "read"]],
    ["admin", "sys/policies/acl/admin", ["list", "read"]],
    ["admin", "sys/policy/admin", ["read"]],
    ["admin", "sys/audit", ["read", "sudo"]],
    ["admin", "sys/audit/file", DENY],
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
    // ...nor roll back, replace or shrink the dataset (raft), nor delete, move or tune a managed mount.
    ["admin", "sys/storage/raft/snapshot", DENY],
    ["admin", "sys/storage/raft/snapshot-force", DENY],
    ["admin", "sys/storage/raft/remove-peer", DENY],
    ["admin", "sys/storage/raft/configuration", ["list", "read"]],
    ["admin", "sys/storage/raft/autopilot/state", ["list", "read"]],
    ["admin", "sys/mounts/amiya.akn", ["read"]],
    ["admin", "sys/mounts/kiana.akn", ["read"]],
    ["admin", "sys/mounts/shared", ["read"]],
    ["admin", "sys/mounts/team", ["read"]],
    ["admin", "sys/mounts/amiya.akn/tune", ["read"]],
    ["admin", "sys/mounts/new-mount/tune", ADMIN],
    ["admin", "sys/mounts/auth/oidc/tune", ["read"]],
    ["admin", "sys/mounts/auth/kubernetes-amiya.akn/tune", ["read"]],
    ["admin", "sys/auth/oidc", ["list", "read"]],
    ["admin", "sys/auth/oidc/tune", ["list", "read"]],
    ["admin", "sys/remount", DENY],
    ["admin", "sys/remount/status/some-id", DENY],
    // The raft snapshot job: one read, nothing else.
    ["raft-snapshot", "sys/storage/raft/snapshot", ["read"]],
    ["raft-snapshot", "sys/storage/raft/snapshot-force", DENY],
    ["raft-snapshot", "amiya.akn/data/app/db/password", DENY],
    ["raft-snapshot", "sys/mounts", DENY],
    // The KV export job: read every version and list the metadata of every managed mount (remote and shared
    // ones too), and nothing else: no write, delete, undelete or destroy, no mount config, no other mount.
    ["kv-backup", "amiya.akn/data/app/db/password", ["read"]],
    ["kv-backup", "amiya.akn/metadata/", ["list", "read"]],
    ["kv-backup", "amiya.akn/metadata/app/db/password", ["list", "read"]],
    ["kv-backup", "kiana.akn/data/app/db/password", ["read"]],
    ["kv-backup", "shared/metadata/private/", ["list", "read"]],
    ["kv-backup", "team/data/prod/token", ["read"]],
    ["kv-backup", "amiya.akn/delete/app/db/password", DENY],
    ["kv-backup", "amiya.akn/undelete/app/db/password", DENY],
    ["kv-backup", "amiya.akn/destroy/app/db/password", DENY],
    ["kv-backup", "amiya.akn/subkeys/app/db/password", DENY],
    ["kv-backup", "amiya.akn/config", DENY],
    ["kv-backup", "unmanaged/data/x", DENY],
    ["kv-backup", "sys/mounts", DENY],
    ["kv-backup", "sys/storage/raft/snapshot", DENY],
    ["kv-backup", "auth/token/create", DENY],
    ["kv-backup", "sys/policies/acl/kv-backup", DENY],
];

/** The stores' login ServiceAccount (externalSecrets.serviceAccount), and two it is not. */
const ESO: Account = { namespace: "external-secrets", name: "vault-login", uid: "0d5e-eso" };
const WRONG_NAMESPACE: Account = { namespace: "default", name: "vault-login", uid: "0d5e-default" };
const WRONG_NAME: Account = { namespace: "external-secrets", name: "external-secrets", uid: "0d5e-controller" };
/** The audience the stores request and the roles require (kubernetesAuth.audience). */
const AUDIENCE = "vault";

interface Built {
    readonly component: VaultConfiguration;
}

/** Writes what the component registered to the real server, in dependency order. */
async function applyToVault(p: Program<Built>, call: Call, withOidcConfig: boolean): Promise<void> {
    const ok = async (what: RecordedResource, method: string, path: string, body: unknown) => {
        const res = await call(method, path, body);
        assert.ok(res.status < 300, `${what.name}: ${method} ${path}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
        return res;
    };
    const each = async (type: string, apply: (r: RecordedResource, i: Record<string, any>) => Promise<unknown>) => {
        for (const r of p.ofType(type)) await apply(r, r.inputs as Record<string, any>);
    };
    await each("vault:index/audit:Audit", (r, i) => ok(r, "PUT", `sys/audit/${i.path}`, apiBody(i, ["path"])));
    await each("vault:index/mount:Mount", (r, i) => ok(r, "POST", `sys/mounts/${i.path}`, apiBody(i, ["path"])));
    await each("vault:kv/secretBackendV2:SecretBackendV2", (r, i) =>
        ok(r, "POST", `${i.mount}/config`, apiBody(i, ["mount"])),
    );
    await each("vault:index/policy:Policy", (r, i) => ok(r, "PUT", `sys/policies/acl/${i.name}`, apiBody(i, ["name"])));
    // The OIDC mount, its tune and its config; Vault fetches the issuer's discovery document
    // when the config is written, so that needs the fake issuer.
    await each("vault:jwt/authBackend:AuthBackend", async (r, i) => {
        await ok(r, "POST", `sys/auth/${i.path}`, { type: i.type, description: i.description });
        await ok(r, "POST", `sys/auth/${i.path}/tune`, apiBody(i.tune));
        if (withOidcConfig) {
            await ok(r, "POST", `auth/${i.path}/config`, apiBody(i, ["path", "type", "description", "tune"]));
        }
    });
    await each("vault:jwt/authBackendRole:AuthBackendRole", (r, i) =>
        ok(r, "POST", `auth/${i.backend}/role/${i.roleName}`, apiBody(i, ["backend", "roleName"])),
    );
    await each("vault:index/authBackend:AuthBackend", (r, i) =>
        ok(r, "POST", `sys/auth/${i.path}`, apiBody(i, ["path"])),
    );
    await each("vault:kubernetes/authBackendConfig:AuthBackendConfig", (r, i) =>
        ok(r, "POST", `auth/${i.backend}/config`, apiBody(i, ["backend"])),
    );
    await each("vault:kubernetes/authBackendRole:AuthBackendRole", (r, i) =>
        ok(r, "POST", `auth/${i.backend}/role/${i.roleName}`, apiBody(i, ["backend", "roleName"])),
    );
    // Mocked ids and accessors are swapped for the real ones.
    const groupIds = new Map<string, string>();
    await each("vault:identity/group:Group", async (r, i) => {
        groupIds.set(`${r.name}-id`, (await ok(r, "POST", "identity/group", apiBody(i))).body.data.id);
    });
    const auths = (await call("GET", "sys/auth")).body.data as Record<string, { accessor: string }>;
    const oidcName = p.ofType("vault:jwt/authBackend:AuthBackend")[0]?.name;
    const oidcPath = p.ofType("vault:jwt/authBackend:AuthBackend")[0]?.inputs.path;
    await each("vault:identity/groupAlias:GroupAlias", (r, i) => {
        assert.equal(i.mountAccessor, `auth_oidc_${oidcName}`);
        return ok(r, "POST", "identity/group-alias", {
            name: i.name,
            mount_accessor: auths[`${String(oidcPath)}/`].accessor,
            canonical_id: groupIds.get(i.canonicalId),
        });
    });
}

type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;

describe("VaultConfiguration on a real Vault server", function () {
    this.timeout(60_000);
    let server: VaultServer | undefined;
    let root = "";
    let program: Program<Built>;
    const tokens = new Map<Who, string>();
    const jwts = new Map<Account, string>();
    /** The login ServiceAccount's tokens for other audiences: the API server's, and none named at all. */
    const apiServerJwt = serviceAccountJwt(ESO, [API_AUDIENCE]);
    const otherAudienceJwt = serviceAccountJwt(ESO, ["https://vault.evil.example"]);
    let api: FakeKubeApi | undefined;

    const as = (token: string, method: string, path: string, body?: unknown) =>
        vaultRequest((server as VaultServer).address, token, method, path, body);

    before(async function () {
        requireTool(this, "vault");
        for (const sa of [ESO, WRONG_NAMESPACE, WRONG_NAME]) jwts.set(sa, serviceAccountJwt(sa, [AUDIENCE]));
        const known = new Map([...jwts].map(([sa, jwt]) => [jwt, sa]));
        for (const jwt of [apiServerJwt, otherAudienceJwt]) known.set(jwt, ESO);
        api = await startFakeKubeApi(known, { oidcDiscovery: true });
        program = await runProgram(stack(api), (config, opts) => {
            const provider = new vault.Provider("vault", { address: config.vault.address }, opts);
            const ready = new pulumi.ComponentResource("test:bootstrap:Ready", "bootstrap-ready", {}, opts);
            return { component: new VaultConfiguration("cfg", { config, provider, ready: [ready] }, opts) };
        });
        server = await startVault();
        root = (await initAndUnseal(server.address)).rootToken;
        await applyToVault(program, (method, path, body) => as(root, method, path, body), api !== undefined);

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
        await mint("tenant-media", "external-secrets-tenant-amiya.akn-media");
        await mint("pulumi", "pulumi");
        // The snapshot policy is rendered only for raft stacks; it is static, so load it as it is.
        const snapshot = await as(root, "PUT", `sys/policies/acl/${RAFT_SNAPSHOT_POLICY}`, {
            policy: fs.readFileSync(path.join(POLICY_DIR, `${RAFT_SNAPSHOT_POLICY}.hcl`), "utf8"),
        });
        assert.equal(snapshot.status, 204, JSON.stringify(snapshot.body));
        await mint("raft-snapshot", RAFT_SNAPSHOT_POLICY);
        await mint("kv-backup", KV_BACKUP_POLICY);
    });

    after(async () => {
        await server?.stop();
        await api?.close();
    });

    it("accepts every rendered policy under its Vault name", async () => {
        const policies = [...renderPolicies(program.config), ...tenantPolicies(program.config)];
        const res = await as(root, "LIST", "sys/policies/acl");
        assert.deepEqual(
            (res.body.data.keys as string[])
                .filter((k) => !["default", "root", RAFT_SNAPSHOT_POLICY].includes(k))
                .sort(),
            policies.map((p) => p.name).sort(),
        );
        for (const p of policies) {
            const read = await as(root, "GET", `sys/policies/acl/${p.name}`);
            assert.equal(read.body.data.policy, p.text);
        }
    });

    it("runs the audit device the component defines", async () => {
        const res = await as(root, "GET", "sys/audit");
        assert.equal(res.body.data["file/"].type, "file");
        assert.deepEqual(res.body.data["file/"].options, { file_path: "stdout" });
    });

    it("binds each cluster's ESO role to its service account, short TTLs and its own reader", async () => {
        const local = (await as(root, "GET", "auth/kubernetes-amiya.akn/role/external-secrets")).body.data;
        assert.deepEqual(local.bound_service_account_names, ["vault-login"]);
        assert.deepEqual(local.bound_service_account_namespaces, ["external-secrets"]);
        assert.equal(local.audience, AUDIENCE);
        assert.deepEqual(local.token_policies, ["external-secrets-reader-amiya.akn"]);
        assert.equal(local.token_ttl, 600);
        assert.equal(local.token_max_ttl, 1200);
        const remote = (await as(root, "GET", "auth/kubernetes-kiana.akn/role/external-secrets")).body.data;
        assert.deepEqual(remote.token_policies, ["external-secrets-reader-kiana.akn"]);
        assert.equal(remote.audience, AUDIENCE);
        const tenant = (await as(root, "GET", "auth/kubernetes-amiya.akn/role/external-secrets-media")).body.data;
        assert.deepEqual(tenant.bound_service_account_names, ["vault-login"]);
        assert.deepEqual(tenant.token_policies, ["external-secrets-tenant-amiya.akn-media"]);
        assert.equal(tenant.audience, AUDIENCE);
        const config = (await as(root, "GET", "auth/kubernetes-kiana.akn/config")).body.data;
        assert.equal(config.kubernetes_host, api?.host ?? "https://kiana.akn:6443");
        assert.equal(config.kubernetes_ca_cert, api?.ca ?? TEST_CA);
        assert.equal(config.disable_local_ca_jwt, true);
        assert.equal(config.token_reviewer_jwt_set, true);
        const localConfig = (await as(root, "GET", "auth/kubernetes-amiya.akn/config")).body.data;
        assert.equal(localConfig.disable_local_ca_jwt, false);
    });

    describe("External Secrets logins through Kubernetes auth (fake TokenReview API)", () => {
        const loginWith = (mount: string, jwt: string | undefined, role = "external-secrets") =>
            vaultRequest((server as VaultServer).address, undefined, "POST", `auth/${mount}/login`, { role, jwt });
        const login = (mount: string, sa: Account) => loginWith(mount, jwts.get(sa));

        before(function () {
            if (api !== undefined) return;
            if (process.env.CI === "true") throw new Error("openssl is required for the fake Kubernetes API (CI=true)");
            console.warn("    skipped: openssl not found (it makes the fake Kubernetes API's certificate)");
            this.skip();
        });

        for (const [mount, cluster, bearer] of [
            ["kubernetes-amiya.akn", "amiya.akn", "the login's own token"],
            ["kubernetes-kiana.akn", "kiana.akn", "the configured reviewer JWT"],
        ] as const) {
            const other = cluster === "amiya.akn" ? "kiana.akn" : "amiya.akn";
            it(`${mount}: ESO's ServiceAccount gets ${cluster}'s reader, short-lived, reviewed with ${bearer}`, async () => {
                const seen = (api as FakeKubeApi).reviews.length;
                const res = await login(mount, ESO);
                assert.equal(res.status, 200, JSON.stringify(res.body));
                assert.deepEqual(res.body.auth.policies, ["default", `external-secrets-reader-${cluster}`]);
                assert.equal(res.body.auth.lease_duration, 600);
                const review = (api as FakeKubeApi).reviews[seen];
                assert.equal(review.token, jwts.get(ESO));
                assert.deepEqual(review.audiences, [AUDIENCE]);
                assert.equal(
                    review.bearer,
                    `Bearer ${cluster === "kiana.akn" ? "reviewer-jwt" : (jwts.get(ESO) as string)}`,
                );

                const token = res.body.auth.client_token as string;
                const put = await as(root, "POST", `${cluster}/data/app/login/probe`, {
                    options: { cas: 0 },
                    data: { value: cluster },
                });
                assert.equal(put.status, 200, JSON.stringify(put.body));
                const read = await as(token, "GET", `${cluster}/data/app/login/probe`);
                assert.equal(read.status, 200);
                assert.equal(read.body.data.data.value, cluster);
                assert.equal((await as(token, "GET", `${other}/data/app/login/probe`)).status, 403);
                assert.equal((await as(token, "POST", `${cluster}/data/app/login/probe`, { data: {} })).status, 403);
                const lookup = await as(token, "GET", "auth/token/lookup-self");
                assert.ok(lookup.body.data.ttl > 0 && lookup.body.data.ttl <= 600, String(lookup.body.data.ttl));
            });

            it(`${mount}: refuses other ServiceAccounts and namespaces`, async () => {
                const namespace = await login(mount, WRONG_NAMESPACE);
                assert.equal(namespace.status, 403);
                assert.match(JSON.stringify(namespace.body.errors), /namespace not authorized/);
                const name = await login(mount, WRONG_NAME);
                assert.equal(name.status, 403);
                assert.match(JSON.stringify(name.body.errors), /service account name not authorized/);
            });

            it(`${mount}: refuses the login ServiceAccount's token minted for another audience`, async () => {
                // Positive control: the same ServiceAccount, Vault's audience (the test above reads with it).
                assert.equal((await login(mount, ESO)).status, 200);
                for (const jwt of [apiServerJwt, otherAudienceJwt]) {
                    const seen = (api as FakeKubeApi).reviews.length;
                    const res = await loginWith(mount, jwt);
                    assert.equal(res.status, 403, JSON.stringify(res.body));
                    assert.match(JSON.stringify(res.body.errors), /invalid audience \(aud\) claim/);
                    // Refused by Vault itself: the token never reaches the API server.
                    assert.equal((api as FakeKubeApi).reviews.length, seen);
                }
            });
        }
    });

    it("a tenant group's role reads its namespaces' paths and nothing else (fake TokenReview API)", async function () {
        if (api === undefined) this.skip();
        const res = await vaultRequest(
            (server as VaultServer).address,
            undefined,
            "POST",
            "auth/kubernetes-amiya.akn/login",
            { role: "external-secrets-media", jwt: jwts.get(ESO) },
        );
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.deepEqual(res.body.auth.policies, ["default", "external-secrets-tenant-amiya.akn-media"]);
        const token = res.body.auth.client_token as string;
        for (const ns of ["sonarr", "grafana"]) {
            const put = await as(root, "POST", `amiya.akn/data/${ns}/tenant-probe`, {
                options: { cas: 0 },
                data: { value: ns },
            });
            assert.equal(put.status, 200, JSON.stringify(put.body));
        }
        const own = await as(token, "GET", "amiya.akn/data/sonarr/tenant-probe");
        assert.equal(own.status, 200);
        assert.equal(own.body.data.data.value, "sonarr");
        assert.equal((await as(token, "GET", "amiya.akn/data/grafana/tenant-probe")).status, 403);
        assert.equal((await as(token, "LIST", "amiya.akn/metadata/")).status, 403);
        // The cluster-wide reader (positive control) reads grafana's path, but not the tenant's.
        const reader = tokens.get("reader-amiya") as string;
        const wide = await as(reader, "GET", "amiya.akn/data/grafana/tenant-probe");
        assert.equal(wide.status, 200);
        assert.equal((await as(reader, "GET", "amiya.akn/data/sonarr/tenant-probe")).status, 403);
        assert.equal((await as(reader, "GET", "amiya.akn/metadata/sonarr/tenant-probe")).status, 403);
        // The known limit: Vault checks a LIST of "sonarr/" against the globs for "sonarr" first, which
        // "metadata/*" grants, so the names (never the values) stay listable (docs/architecture/external-secrets.md).
        const names = await as(reader, "LIST", "amiya.akn/metadata/sonarr/");
        assert.equal(names.status, 200);
        assert.deepEqual(names.body.data.keys, ["tenant-probe"]);
    });

    it("stores the OIDC role and tune the component defines", async () => {
        const role = (await as(root, "GET", "auth/oidc/role/default")).body.data;
        assert.equal(role.role_type, "oidc");
        assert.equal(role.user_claim, "preferred_username");
        assert.equal(role.groups_claim, "groups");
        assert.deepEqual(role.bound_audiences, ["vault"]);
        assert.deepEqual(role.oidc_scopes, ["profile", "email", "groups"]);
        assert.deepEqual(role.allowed_redirect_uris, [
            "https://vault.amiya.akn/ui/vault/auth/oidc/oidc/callback",
            "http://localhost:8250/oidc/callback",
        ]);
        assert.equal(role.token_ttl, 3600);
        assert.equal(role.token_max_ttl, 28800);
        const tune = (await as(root, "GET", "sys/auth/oidc/tune")).body.data;
        assert.equal(tune.listing_visibility, "unauth");
        assert.equal(tune.default_lease_ttl, 3600);
        assert.equal(tune.max_lease_ttl, 28800);
        assert.equal(tune.token_type, "default-service");
    });

    describe("OIDC login against the issuer's discovery document (fake issuer with a private CA)", () => {
        const UI = "https://vault.amiya.akn/ui/vault/auth/oidc/oidc/callback";
        const CLI = "http://localhost:8250/oidc/callback";
        const authUrl = (redirect: string) =>
            vaultRequest((server as VaultServer).address, undefined, "POST", "auth/oidc/oidc/auth_url", {
                role: "default",
                redirect_uri: redirect,
            });

        before(function () {
            if (api !== undefined) return;
            if (process.env.CI === "true") throw new Error("openssl is required for the fake OIDC issuer (CI=true)");
            console.warn("    skipped: openssl not found (it makes the fake issuer's certificate)");
            this.skip();
        });

        it("stores the discovery URL, its CA, the client and the default role", async () => {
            const config = (await as(root, "GET", "auth/oidc/config")).body.data;
            assert.equal(config.oidc_discovery_url, api?.host);
            assert.equal(config.oidc_discovery_ca_pem, api?.ca);
            assert.equal(config.oidc_client_id, "vault");
            assert.equal(config.default_role, "default");
            assert.equal(config.oidc_client_secret, undefined, "Vault never returns the client secret");
        });

        for (const redirect of [UI, CLI]) {
            it(`sends the browser to the issuer with the client, scopes and ${redirect}`, async () => {
                const res = await authUrl(redirect);
                assert.equal(res.status, 200, JSON.stringify(res.body));
                const url = new URL(res.body.data.auth_url);
                assert.equal(`${url.origin}${url.pathname}`, `${api?.host}/api/oidc/authorization`);
                assert.equal(url.searchParams.get("client_id"), "vault");
                assert.equal(url.searchParams.get("redirect_uri"), redirect);
                assert.equal(url.searchParams.get("response_type"), "code");
                assert.deepEqual(url.searchParams.get("scope")?.split(" ").sort(), [
                    "email",
                    "groups",
                    "openid",
                    "profile",
                ]);
            });
        }

        it("refuses a redirect URI Authelia's client does not list", async () => {
            // Vault answers without saying why: an empty URL, so no login can start.
            const res = await authUrl("https://evil.example/callback");
            assert.equal(res.status, 200);
            assert.equal(res.body.data.auth_url, "");
        });

        it("has Authelia's client list exactly the redirect URIs Vault accepts", () => {
            assert.deepEqual(program.result.component.autheliaClient?.redirect_uris, [UI, CLI]);
        });
    });

    it("maps each SSO group to its policies through an external group aliased on the OIDC mount", async () => {
        const accessor = (await as(root, "GET", "sys/auth")).body.data["oidc/"].accessor;
        for (const [group, policies] of Object.entries({
            "vault-admins": ["admin"],
            developers: ["operator", "read-only"],
        })) {
            const g = (await as(root, "GET", `identity/group/name/${group}`)).body.data;
            assert.equal(g.type, "external");
            assert.deepEqual(g.policies, policies);
            assert.equal(g.alias.name, group);
            assert.equal(g.alias.mount_accessor, accessor);
        }
    });

    it(`has a table of at least 40 intended allow/deny cases`, () => {
        assert.ok(TABLE.length >= 40, `${TABLE.length} cases`);
        // Every identity of Who has rows.
        assert.deepEqual([...new Set(TABLE.map(([who]) => who))].sort(), [
            "admin",
            "kv-backup",
            "operator",
            "pulumi",
            "raft-snapshot",
            "read-only",
            "reader-amiya",
            "reader-kiana",
            "tenant-media",
        ]);
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

        // The export job reads every version and lists, and changes nothing.
        const backup = tokens.get("kv-backup") as string;
        const v1 = await as(backup, "GET", "amiya.akn/data/app/db/password?version=1");
        assert.equal(v1.status, 200);
        assert.equal(v1.body.data.data.value, "s3cr3t");
        const listed = await as(backup, "LIST", "amiya.akn/metadata/app/");
        assert.equal(listed.status, 200);
        assert.deepEqual(listed.body.data.keys, ["db/"]);
        const meta = await as(backup, "GET", "amiya.akn/metadata/app/db/password");
        assert.equal(meta.status, 200);
        assert.equal(meta.body.data.current_version, 2);
        for (const [method, path, body] of [
            ["POST", "amiya.akn/data/app/db/password", { options: { cas: 2 }, data: { value: "x" } }],
            ["POST", "amiya.akn/metadata/app/db/password", { custom_metadata: { a: "b" } }],
            ["POST", "amiya.akn/delete/app/db/password", { versions: [2] }],
            ["POST", "amiya.akn/undelete/app/db/password", { versions: [1] }],
            ["DELETE", "amiya.akn/metadata/app/db/password", undefined],
            ["GET", "amiya.akn/config", undefined],
        ] as const) {
            assert.equal((await as(backup, method, path, body)).status, 403, `${method} ${path}`);
        }
        assert.equal((await as(root, "GET", "amiya.akn/data/app/db/password")).body.data.data.value, "rotated");
    });

    it("lets the operator run the migration's every Vault call, custom metadata included, and change no version limit", async () => {
        const operator = tokens.get("operator") as string;
        // The calls `npm run migrate` makes, through its own client, with the operator's token (docs/migration.md).
        const kv = new KvClient({ address: (server as VaultServer).address, token: operator });
        await kv.checkKv2Mount("amiya.akn");
        assert.equal(await kv.readMetadata("amiya.akn", "migrated/app"), undefined);
        const version = await kv.write("amiya.akn", "migrated/app", { key: "value" }, 0);
        assert.equal(version, 1);
        await kv.patchCustomMetadata("amiya.akn", "migrated/app", { "import-version": "1", owner: "ops" });
        const meta = await kv.readMetadata("amiya.akn", "migrated/app");
        assert.deepEqual(meta?.customMetadata, { "import-version": "1", owner: "ops" });
        assert.deepEqual(await kv.readData("amiya.akn", "migrated/app"), { key: "value" });
        // Version limits would destroy versions: admin's only, in a patch or a write, alone or beside custom metadata.
        const mergePatch = async (body: Record<string, unknown>) =>
            (
                await fetch(`${(server as VaultServer).address}/v1/amiya.akn/metadata/migrated/app`, {
                    method: "PATCH",
                    headers: { "X-Vault-Token": operator, "Content-Type": "application/merge-patch+json" },
                    body: JSON.stringify(body),
                })
            ).status;
        assert.equal(await mergePatch({ custom_metadata: { owner: "ops2" } }), 204, "the positive control");
        for (const body of [
            { max_versions: 1 },
            { delete_version_after: "1s" },
            { cas_required: false },
            { custom_metadata: { owner: "ops3" }, max_versions: 1 },
        ]) {
            assert.equal(await mergePatch(body), 403, JSON.stringify(body));
        }
        for (const [method, body] of [
            ["POST", { max_versions: 1 }],
            ["POST", { custom_metadata: { owner: "x" } }],
            ["DELETE", undefined],
        ] as const) {
            assert.equal((await as(operator, method, "amiya.akn/metadata/migrated/app", body)).status, 403, method);
        }
        const after = (await as(root, "GET", "amiya.akn/metadata/migrated/app")).body.data;
        assert.deepEqual(after.custom_metadata, { "import-version": "1", owner: "ops2" });
        assert.equal(after.max_versions, 0);
        assert.equal(after.delete_version_after, "0s");
    });

    it("contains the SSO admin on real requests: no token, policy, group, alias or role grants more than it holds", async () => {
        const admin = tokens.get("admin") as string;
        const errors = (res: { body: any }) => JSON.stringify(res.body?.errors ?? []);
        // Positive controls: the admin policy is loaded and does its job.
        assert.equal((await as(admin, "GET", "sys/audit")).status, 200, "lists audit devices");
        const child = await as(admin, "POST", "auth/token/create", { policies: ["admin"], ttl: "5m" });
        assert.equal(child.status, 200, errors(child));
        assert.deepEqual(child.body.auth.policies, ["admin", "default"]);
        const lookup = await as(admin, "GET", "identity/group/name/vault-admins");
        assert.equal(lookup.status, 200, errors(lookup));

        // Tokens carrying pulumi: as a child, as an orphan, through create-orphan or a token role.
        const toPulumi = await as(admin, "POST", "auth/token/create", { policies: ["pulumi"] });
        assert.equal(toPulumi.status, 400);
        assert.match(errors(toPulumi), /child policies must be subset of parent/);
        const mixed = await as(admin, "POST", "auth/token/create", { policies: ["admin", "pulumi"] });
        assert.match(errors(mixed), /child policies must be subset of parent/);
        const orphan = await as(admin, "POST", "auth/token/create", { policies: ["admin"], no_parent: true });
        assert.equal(orphan.status, 400);
        assert.match(errors(orphan), /root or sudo privileges required to create orphan token/);
        const periodic = await as(admin, "POST", "auth/token/create", { policies: ["admin"], period: "1h" });
        assert.match(errors(periodic), /root or sudo privileges required to create periodic token/);
        for (const [method, apiPath, body] of [
            ["POST", "auth/token/create-orphan", { policies: ["pulumi"] }],
            ["POST", "auth/token/roles/escalate", { allowed_policies: ["pulumi"] }],
            ["POST", "auth/token/create/escalate", {}],
            // Policies: its own, pulumi's, one it may hand out, a new one.
            ["PUT", "sys/policies/acl/admin", { policy: 'path "*" { capabilities = ["sudo"] }' }],
            ["PUT", "sys/policies/acl/pulumi", { policy: 'path "*" { capabilities = ["read"] }' }],
            ["PUT", "sys/policies/acl/operator", { policy: 'path "sys/*" { capabilities = ["sudo"] }' }],
            ["PUT", "sys/policies/acl/escalate", { policy: 'path "*" { capabilities = ["sudo"] }' }],
            // Identity: a new group, the admins' group, an alias, an entity with pulumi.
            ["POST", "identity/group", { name: "escalate", policies: ["pulumi"] }],
            ["POST", "identity/group/name/vault-admins", { policies: ["admin", "pulumi"] }],
            ["POST", "identity/group-alias", { name: "escalate", mount_accessor: "x", canonical_id: "x" }],
            ["POST", "identity/entity", { name: "escalate", policies: ["pulumi"] }],
            // Auth: roles that grant pulumi, a new auth method, the OIDC issuer.
            ["POST", "auth/oidc/role/default", { token_policies: ["pulumi"], user_claim: "sub" }],
            ["POST", "auth/kubernetes-amiya.akn/role/escalate", { token_policies: ["pulumi"] }],
            ["POST", "sys/auth/userpass", { type: "userpass" }],
            ["POST", "auth/oidc/config", { oidc_discovery_url: "https://attacker.example" }],
            // The audit trail.
            ["PUT", "sys/audit/sneaky", { type: "file", options: { file_path: "/dev/null" } }],
            ["DELETE", "sys/audit/stdout", undefined],
        ] as const) {
            const res = await as(admin, method, apiPath, body);
            assert.equal(res.status, 403, `${method} ${apiPath}: HTTP ${res.status} ${errors(res)}`);
        }
        // Nothing changed behind the refusals.
        const group = await as(root, "GET", "identity/group/name/vault-admins");
        assert.deepEqual(group.body.data.policies, ["admin"]);
        assert.equal((await as(root, "GET", "sys/policies/acl/escalate")).status, 404);
    });

    it("keeps the SSO admin from blinding the audit log or removing a managed mount, on real requests", async () => {
        const admin = tokens.get("admin") as string;
        const errors = (res: { body: any }) => JSON.stringify(res.body?.errors ?? []);
        // Positive controls: a mount of its own, created and tuned.
        const own = await as(admin, "POST", "sys/mounts/admin-scratch", { type: "kv", options: { version: "2" } });
        assert.equal(own.status, 204, errors(own));
        const tune = await as(admin, "POST", "sys/mounts/admin-scratch/tune", { max_lease_ttl: "2h" });
        assert.equal(tune.status, 204, errors(tune));
        for (const [method, apiPath, body] of [
            // Tokens and secret values in clear in the audit log: on a mount of its own, an auth mount, a managed mount.
            ["POST", "sys/mounts/admin-scratch/tune", { audit_non_hmac_request_keys: ["data"] }],
            ["POST", "sys/mounts/admin-scratch/tune", { audit_non_hmac_response_keys: ["data"] }],
            ["POST", "sys/mounts/auth/oidc/tune", { audit_non_hmac_response_keys: ["client_token"] }],
            ["POST", "sys/mounts/auth/kubernetes-amiya.akn/tune", { audit_non_hmac_request_keys: ["jwt"] }],
            ["POST", "sys/mounts/amiya.akn/tune", { audit_non_hmac_response_keys: ["data"] }],
            // The same through a new mount's nested config.
            [
                "POST",
                "sys/mounts/blind",
                { type: "kv", config: { audit_non_hmac_response_keys: ["data"] }, options: { version: "2" } },
            ],
            // A managed mount deleted, re-pointed or retuned.
            ["DELETE", "sys/mounts/amiya.akn", undefined],
            ["DELETE", "sys/mounts/shared", undefined],
            // Vault serves the unmount with a trailing slash too, a path "sys/mounts/<mount>" does not match
            // (sys/capabilities trims the slash, so only a real request shows it).
            ["DELETE", "sys/mounts/amiya.akn/", undefined],
            ["DELETE", "sys/mounts/kiana.akn/", undefined],
            ["DELETE", "sys/mounts/team%2F", undefined],
            ["POST", "sys/remount", { from: "amiya.akn", to: "elsewhere" }],
            ["POST", "sys/mounts/amiya.akn/tune", { max_lease_ttl: "1h" }],
            // Raft's dataset and membership (file storage here: the policy refuses before the backend is asked).
            ["POST", "sys/storage/raft/snapshot-force", {}],
            ["POST", "sys/storage/raft/remove-peer", { server_id: "vault-1" }],
            ["GET", "sys/storage/raft/snapshot", undefined],
        ] as const) {
            const res = await as(admin, method, apiPath, body);
            assert.equal(res.status, 403, `${method} ${apiPath}: HTTP ${res.status} ${errors(res)}`);
        }
        // Nothing changed behind the refusals; root (break-glass) still can.
        const mounts = (await as(root, "GET", "sys/mounts")).body.data as Record<string, unknown>;
        assert.ok(
            ["amiya.akn/", "kiana.akn/", "shared/", "team/"].every((m) => m in mounts) &&
                !("blind/" in mounts) &&
                !("elsewhere/" in mounts),
            Object.keys(mounts).join(", "),
        );
        const scratch = (await as(root, "GET", "sys/mounts/admin-scratch/tune")).body.data;
        assert.equal(scratch.audit_non_hmac_request_keys, undefined);
        const oidcTune = (await as(root, "GET", "sys/mounts/auth/oidc/tune")).body.data;
        assert.equal(oidcTune.audit_non_hmac_response_keys, undefined);
        const byRoot = await as(root, "POST", "sys/mounts/admin-scratch/tune", { audit_non_hmac_request_keys: ["x"] });
        assert.equal(byRoot.status, 204, errors(byRoot));
        // The trailing-slash unmount the managed mounts refused removes a mount of admin's own.
        const removed = await as(admin, "DELETE", "sys/mounts/admin-scratch/");
        assert.equal(removed.status, 204, errors(removed));
        assert.ok(!("admin-scratch/" in (await as(root, "GET", "sys/mounts")).body.data));
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
