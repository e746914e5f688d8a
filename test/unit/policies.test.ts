import { strict as assert } from "node:assert";
import { parse as parseHcl } from "@cdktf/hcl2json";
import { loadConfig, PlatformConfig } from "../../components/config";
import { knownPolicyNames } from "../../components/lib/policy-names";
import {
    checkPolicy,
    groupPolicyNames,
    loadPolicyTemplates,
    parseTemplate,
    PolicyTemplateError,
    PolicyValues,
    renderPolicies,
    renderPolicy,
} from "../../components/lib/policies";
import { homelabStack } from "../support/fixtures";
import { setStackConfig } from "../support/program";

const KNOWN =
    "(known: {{cluster}}, {{cluster_mount}}, {{kv.mount}}, {{shared.mount}}, {{shared.path}}, {{tenant.namespace}})";

const values: PolicyValues = {
    cluster: "amiya.akn",
    clusterMount: "amiya.akn",
    kvMounts: ["amiya.akn", "shared"],
    shared: [
        { mount: "shared", path: "common" },
        { mount: "team", path: "ci/build" },
    ],
};

function rejects(fn: () => unknown, message: string): void {
    assert.throws(fn, (e: Error) => {
        assert.ok(e instanceof PolicyTemplateError, `expected PolicyTemplateError, got ${String(e)}`);
        assert.equal(e.message, message);
        return true;
    });
}

function homelab(change?: (s: ReturnType<typeof homelabStack>) => void): PlatformConfig {
    const s = homelabStack();
    change?.(s);
    setStackConfig(s);
    return loadConfig();
}

describe("policy files", () => {
    const templates = loadPolicyTemplates();
    const rendered = renderPolicies(
        homelab((s) => {
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
        }),
        templates,
    );

    it("are the policies the config loader knows (file names), but the machine-only raft-snapshot, kv-backup and pulumi", () => {
        assert.deepEqual(
            templates.map((t) => t.name),
            ["admin", "external-secrets-reader", "kv-backup", "operator", "pulumi", "raft-snapshot", "read-only"],
        );
        const machines = ["raft-snapshot", "kv-backup", "pulumi"];
        assert.deepEqual(
            knownPolicyNames(),
            ["default", ...templates.map((t) => t.name).filter((n) => !machines.includes(n))].sort(),
        );
    });

    it("render the reader once per served cluster and the others once", () => {
        assert.deepEqual(
            rendered.map((p) => p.name),
            [
                "admin",
                "external-secrets-reader-amiya.akn",
                "external-secrets-reader-kiana.akn",
                "operator",
                "pulumi",
                "read-only",
            ],
        );
        assert.deepEqual(
            templates.filter((t) => t.perCluster).map((t) => t.name),
            ["external-secrets-reader"],
        );
    });

    for (const name of ["admin", "external-secrets-reader", "operator", "pulumi", "read-only"]) {
        it(`${name}: every rendering leaves no placeholder and parses with the real HCL parser`, async () => {
            for (const p of rendered.filter((r) => r.template === name)) {
                assert.ok(!p.text.includes("{{") && !p.text.includes("}}"), `${p.name} has a placeholder left`);
                const json = (await parseHcl(`${p.name}.hcl`, p.text)) as { path: Record<string, unknown[]> };
                assert.deepEqual(Object.keys(json), ["path"]);
                assert.equal(await checkPolicy(p), p.text);
            }
        });
    }

    it("give the admin explicit denies on the dangerous endpoints", async () => {
        const admin = rendered.find((p) => p.name === "admin");
        const json = (await parseHcl("admin.hcl", admin?.text ?? "")) as {
            path: Record<string, { capabilities: string[] }[]>;
        };
        const denied = Object.entries(json.path)
            .filter(([, [b]]) => b.capabilities.join() === "deny")
            .map(([p]) => p)
            .sort();
        assert.deepEqual(denied, [
            "auth/token/create-orphan",
            "auth/token/create/*",
            "sys/audit/*",
            "sys/generate-recovery-token*",
            "sys/generate-root*",
            "sys/raw*",
            "sys/rekey*",
            "sys/rekey-recovery-key*",
            "sys/remount*",
            "sys/rotate*",
            "sys/seal",
            "sys/step-down",
            "sys/storage/raft/remove-peer",
            "sys/storage/raft/snapshot",
            "sys/storage/raft/snapshot-force",
        ]);
        // Every managed KV mount is read-only to admin (no delete, remount or tune), one block per mount; the glob
        // covers tune and the trailing-slash unmount (DELETE sys/mounts/<mount>/).
        for (const mount of ["amiya.akn", "shared"]) {
            for (const p of [`sys/mounts/${mount}`, `sys/mounts/${mount}/*`]) {
                assert.deepEqual(json.path[p]?.[0]?.capabilities, ["read"], p);
            }
        }
        // The audit HMAC exemptions are refused on every mount tune and at creation.
        assert.deepEqual((json.path["sys/mounts/*"]?.[0] as { denied_parameters?: unknown }).denied_parameters, {
            audit_non_hmac_request_keys: [],
            audit_non_hmac_response_keys: [],
            config: [],
        });
        // No sudo on "*": with it, Vault skips the child-token policy subset check.
        assert.deepEqual(json.path["*"][0].capabilities, ["create", "read", "update", "patch", "delete", "list"]);
        const sudo = Object.entries(json.path)
            .filter(([, [b]]) => b.capabilities.includes("sudo"))
            .map(([p]) => p)
            .sort();
        assert.deepEqual(sudo, ["sys/audit", "sys/leases/revoke-prefix/*"]);
    });

    it("give the provider's pulumi token the configuration endpoints only, no secret data", async () => {
        const pulumi = rendered.find((p) => p.name === "pulumi");
        const json = (await parseHcl("pulumi.hcl", pulumi?.text ?? "")) as { path: Record<string, unknown> };
        assert.deepEqual(Object.keys(json.path).sort(), [
            "+/config",
            "auth/*",
            // Its successor token: sudo on create-orphan only (docs/bootstrap.md, re-minted by age).
            "auth/token/create-orphan",
            "identity/*",
            "sys/audit",
            "sys/audit/*",
            "sys/auth",
            "sys/auth/*",
            "sys/mounts",
            "sys/mounts/*",
            "sys/policies/acl",
            "sys/policies/acl/*",
        ]);
    });

    it("give operator, read-only and reader no sys/ path and only KV v2 data/metadata/... segments", async () => {
        for (const p of rendered.filter((r) => r.name !== "admin" && r.name !== "pulumi")) {
            const json = (await parseHcl(`${p.name}.hcl`, p.text)) as { path: Record<string, unknown> };
            for (const path of Object.keys(json.path)) {
                assert.match(
                    path,
                    /^(amiya\.akn|kiana\.akn|shared)\/(data|metadata|subkeys|delete|undelete)\/([a-z]+\/)?\*$/,
                    `${p.name}: ${path}`,
                );
            }
        }
    });
});

describe("policy templates", () => {
    it("expand a list block once per item, pairing shared mount and path", () => {
        const t = parseTemplate(
            "t",
            [
                "# reader of {{cluster}}",
                'path "{{cluster_mount}}/data/*" {',
                '  capabilities = ["read"]',
                "}",
                "",
                'path "{{shared.mount}}/data/{{shared.path}}/*" {',
                '  capabilities = ["read"]',
                "}",
                "",
            ].join("\n"),
        );
        assert.equal(t.perCluster, true);
        assert.equal(
            renderPolicy(t, values),
            [
                "# reader of amiya.akn",
                'path "amiya.akn/data/*" {',
                '  capabilities = ["read"]',
                "}",
                "",
                'path "shared/data/common/*" {',
                '  capabilities = ["read"]',
                "}",
                "",
                'path "team/data/ci/build/*" {',
                '  capabilities = ["read"]',
                "}",
                "",
            ].join("\n"),
        );
    });

    it("leave out a list block when the list is empty", () => {
        const t = parseTemplate(
            "t",
            'path "a/*" {\n  capabilities = ["read"]\n}\n\npath "{{kv.mount}}/data/*" {\n  capabilities = ["read"]\n}\n',
        );
        assert.equal(t.perCluster, false);
        assert.equal(renderPolicy(t, { kvMounts: [], shared: [] }), 'path "a/*" {\n  capabilities = ["read"]\n}\n');
    });

    it("ignore braces inside strings and comments when finding blocks", () => {
        const t = parseTemplate(
            "t",
            '# a } in a comment\npath "{{kv.mount}}/data/*" {\n  /* } */ capabilities = ["read"] # }\n  allowed_parameters = { "k" = ["}"] }\n}\n',
        );
        assert.equal(
            renderPolicy(t, { kvMounts: ["a", "b"], shared: [] }),
            '# a } in a comment\npath "a/data/*" {\n  /* } */ capabilities = ["read"] # }\n  allowed_parameters = { "k" = ["}"] }\n}\n\n' +
                'path "b/data/*" {\n  /* } */ capabilities = ["read"] # }\n  allowed_parameters = { "k" = ["}"] }\n}\n',
        );
    });

    it("reject an unknown placeholder with file, line and the known ones", () => {
        rejects(
            () => parseTemplate("op", 'path "a" {\n  capabilities = ["read"]\n}\npath "{{mount}}/data/*" {\n}\n'),
            `policies/op.hcl:4: unknown placeholder {{mount}} ${KNOWN}`,
        );
        rejects(
            () => parseTemplate("op", 'path "{{ cluster }}/data/*" {\n}\n'),
            `policies/op.hcl:1: unknown placeholder {{ cluster }} ${KNOWN}`,
        );
    });

    it("reject a stray '{{' that is not a placeholder", () => {
        rejects(
            () => parseTemplate("op", '# ok\npath "{{cluster}/data/*" {\n  capabilities = ["read"]\n}\n'),
            "policies/op.hcl:2: stray '{{' (a placeholder is written {{name}}, no spaces)",
        );
    });

    it("reject a list placeholder outside a path block", () => {
        rejects(
            () => parseTemplate("op", '# serves {{kv.mount}}\npath "a" {\n  capabilities = ["read"]\n}\n'),
            "policies/op.hcl:1: {{kv.mount}} is a list and may only appear inside a path block (the block is rendered once per item)",
        );
    });

    it("reject two lists in one block", () => {
        rejects(
            () => parseTemplate("op", '\npath "{{kv.mount}}/data/{{shared.path}}" {\n  capabilities = ["read"]\n}\n'),
            "policies/op.hcl:2: a path block may use one list, not kv and shared",
        );
    });

    it("reject unbalanced braces and bad file names", () => {
        rejects(
            () => parseTemplate("op", 'path "a" {\n  capabilities = ["read"]\n'),
            "policies/op.hcl: unbalanced '{' (a block is not closed)",
        );
        rejects(() => parseTemplate("op", '}\npath "a" {}\n'), "policies/op.hcl:1: unbalanced '}'");
        rejects(
            () => parseTemplate("Ops Team", 'path "a" {}\n'),
            "policies/Ops Team.hcl: the file name must be a lower-case policy name (a-z, 0-9, '.', '_', '-')",
        );
    });

    it("refuse values that would widen a path (globs, quotes)", () => {
        const t = parseTemplate("t", 'path "{{kv.mount}}/data/*" {\n  capabilities = ["read"]\n}\n');
        rejects(
            () => renderPolicy(t, { kvMounts: ["*"], shared: [] }),
            "policies/t.hcl: value '*' for {{kv.mount}} must be a plain path (letters, digits, '.', '_', '-', '/'; no globs)",
        );
        rejects(
            () => renderPolicy(t, { kvMounts: ['a" {'], shared: [] }),
            "policies/t.hcl: value 'a\" {' for {{kv.mount}} must be a plain path (letters, digits, '.', '_', '-', '/'; no globs)",
        );
    });

    it("refuse to render a per-cluster template without a cluster", () => {
        const t = parseTemplate("t", 'path "{{cluster_mount}}/data/*" {\n  capabilities = ["read"]\n}\n');
        rejects(
            () => renderPolicy(t, { kvMounts: [], shared: [] }),
            "policies/t.hcl: no value for {{cluster_mount}} (render it per cluster)",
        );
    });
});

describe("checkPolicy (real HCL parser)", () => {
    const check = (text: string) => checkPolicy({ name: "p", file: "policies/p.hcl", text });
    const fails = async (text: string, message: string) =>
        assert.rejects(check(text), (e: Error) => e instanceof PolicyTemplateError && e.message === message);

    it("accepts a valid policy and returns its text", async () => {
        const text = 'path "a/*" {\n  capabilities = ["read", "list"]\n}\n';
        assert.equal(await check(text), text);
    });

    it("rejects invalid HCL", async () => {
        await assert.rejects(
            check('path "a" {\n  capabilities = [\n}\n'),
            (e: Error) =>
                e instanceof PolicyTemplateError && e.message.startsWith("policy p (policies/p.hcl): not valid HCL: "),
        );
    });

    it("rejects a path given twice, unknown capabilities and keys, and deny mixed with grants", async () => {
        await fails(
            'path "a" { capabilities = ["read"] }\npath "a" { capabilities = ["list"] }\n',
            'policy p (policies/p.hcl): path "a" appears 2 times',
        );
        await fails(
            'path "a" { capabilities = ["read", "write"] }\n',
            "policy p (policies/p.hcl): path \"a\": unknown capability 'write'",
        );
        await fails(
            'path "a" {\n  capabilities = ["read"]\n  policy = "write"\n}\n',
            "policy p (policies/p.hcl): path \"a\": unknown key 'policy'",
        );
        await fails(
            'path "a" { capabilities = ["deny", "read"] }\n',
            "policy p (policies/p.hcl): path \"a\": 'deny' must stand alone",
        );
        await fails(
            'path "a" { capabilities = [] }\n',
            'policy p (policies/p.hcl): path "a": capabilities must be a non-empty list',
        );
        await fails(
            'name = "x"\npath "a" { capabilities = ["read"] }\n',
            "policy p (policies/p.hcl): unexpected top-level 'name' (only path blocks)",
        );
        await fails("# nothing\n", "policy p (policies/p.hcl): has no path blocks");
    });
});

describe("groupPolicyNames", () => {
    it("maps file names to Vault names, per-cluster ones with this cluster's suffix", () => {
        const config = homelab((s) => {
            s.values.oidc.groups = { ops: ["admin", "external-secrets-reader"], everyone: ["default"] };
        });
        assert.deepEqual(groupPolicyNames(config), {
            ops: ["admin", "external-secrets-reader-amiya.akn"],
            everyone: ["default"],
        });
    });
});
