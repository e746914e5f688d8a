import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "@cdktf/hcl2json";
import { hclString, renderServerHcl, ServerHclInput } from "../../components/lib/server-hcl";
import { requireTool } from "../support/tools";

/** The parsed HCL as hcl2json shows it: blocks are lists, labels are keys. */
type Parsed = Record<string, any>;

async function parsed(hcl: string): Promise<Parsed> {
    return (await parse("server.hcl", hcl)) as Parsed;
}

const garage: ServerHclInput = {
    s3: {
        bucket: "vault-amiya",
        region: "garage",
        endpoint: "https://s3.amiya.akn",
        forcePathStyle: true,
        prefix: "vault/",
    },
    apiAddr: "http://vault.vault.svc:8200",
    logLevel: "info",
};

describe("renderServerHcl", () => {
    it("standalone S3 (Garage, Shamir, TLS at the ingress): exactly the expected stanzas", async () => {
        const hcl = await parsed(renderServerHcl(garage));
        assert.deepEqual(hcl, {
            ui: true,
            log_level: "info",
            log_format: "json",
            api_addr: "http://vault.vault.svc:8200",
            listener: {
                tcp: [
                    {
                        address: "[::]:8200",
                        cluster_address: "[::]:8201",
                        tls_disable: true,
                    },
                ],
            },
            storage: {
                s3: [
                    {
                        bucket: "vault-amiya",
                        region: "garage",
                        endpoint: "https://s3.amiya.akn",
                        s3_force_path_style: "true",
                        path: "vault/",
                    },
                ],
            },
            telemetry: [{ prometheus_retention_time: "60s", disable_hostname: true }],
        });
    });

    it("AWS S3 with SSE-KMS and the awskms seal using the pod's AWS identity", async () => {
        const hcl = await parsed(
            renderServerHcl({
                s3: {
                    bucket: "prod-example-vault",
                    region: "eu-west-1",
                    forcePathStyle: false,
                    kmsKeyId: "arn:aws:kms:eu-west-1:123456789012:key/storage",
                },
                seal: { region: "eu-west-1", kmsKeyId: "arn:aws:kms:eu-west-1:123456789012:key/seal" },
                apiAddr: "http://vault.vault.svc:8200",
                logLevel: "warn",
            }),
        );
        assert.deepEqual(hcl.storage, {
            s3: [
                {
                    bucket: "prod-example-vault",
                    region: "eu-west-1",
                    kms_key_id: "arn:aws:kms:eu-west-1:123456789012:key/storage",
                },
            ],
        });
        // No access_key/secret_key: the seal takes the standard AWS chain (env or IRSA).
        assert.deepEqual(hcl.seal, {
            awskms: [{ region: "eu-west-1", kms_key_id: "arn:aws:kms:eu-west-1:123456789012:key/seal" }],
        });
        assert.equal(hcl.log_level, "warn");
    });

    it("a seal with its own credentials refers to mounted files, never to key material", async () => {
        const text = renderServerHcl({
            ...garage,
            seal: {
                region: "eu-central-1",
                kmsKeyId: "arn:aws:kms:eu-central-1:123456789012:key/abc",
                credentialsDir: "/vault/userconfig/vault-seal-credentials",
            },
        });
        const hcl = await parsed(text);
        assert.deepEqual(hcl.seal.awskms, [
            {
                region: "eu-central-1",
                kms_key_id: "arn:aws:kms:eu-central-1:123456789012:key/abc",
                access_key: "file:///vault/userconfig/vault-seal-credentials/access-key-id",
                secret_key: "file:///vault/userconfig/vault-seal-credentials/secret-access-key",
            },
        ]);
    });

    it("raft HA with TLS: per-pod addresses, one retry_join per replica, service registration", async () => {
        const hcl = await parsed(
            renderServerHcl({
                raft: { replicas: 3 },
                tls: { certDir: "/vault/userconfig/vault-server-tls", caFile: "/vault/userconfig/vault-ca/ca.crt" },
                apiAddr: "https://vault.vault.svc:8200",
                logLevel: "info",
                metricsListener: true,
            }),
        );
        assert.equal(hcl.api_addr, "https://HOSTNAME.vault-internal:8200");
        assert.equal(hcl.cluster_addr, "https://HOSTNAME.vault-internal:8201");
        assert.deepEqual(hcl.listener.tcp, [
            {
                address: "[::]:8200",
                cluster_address: "[::]:8201",
                tls_cert_file: "/vault/userconfig/vault-server-tls/tls.crt",
                tls_key_file: "/vault/userconfig/vault-server-tls/tls.key",
                tls_min_version: "tls12",
            },
            {
                address: "[::]:8202",
                tls_cert_file: "/vault/userconfig/vault-server-tls/tls.crt",
                tls_key_file: "/vault/userconfig/vault-server-tls/tls.key",
                tls_min_version: "tls12",
                telemetry: [{ unauthenticated_metrics_access: true }],
            },
        ]);
        assert.deepEqual(hcl.storage, {
            raft: [
                {
                    path: "/vault/data",
                    retry_join: [0, 1, 2].map((i) => ({
                        leader_api_addr: `https://vault-${i}.vault-internal:8200`,
                        leader_ca_cert_file: "/vault/userconfig/vault-ca/ca.crt",
                    })),
                },
            ],
        });
        assert.deepEqual(hcl.service_registration, { kubernetes: [{}] });
        assert.equal(hcl.seal, undefined);
    });

    it("never sets disable_mlock: the chart adds it, and a second one is a duplicate attribute", async () => {
        for (const input of [garage, { ...garage, s3: undefined, raft: { replicas: 5 } }]) {
            const text = renderServerHcl(input);
            // The chart's own check (vault.config helper) looks for this line before adding one.
            assert.doesNotMatch(text, /^\s*disable_mlock\s*=/m);
            assert.equal((await parsed(text)).disable_mlock, undefined);
        }
    });

    it("refuses both or neither storage", () => {
        assert.throws(() => renderServerHcl({ ...garage, raft: { replicas: 1 } }), {
            message: "renderServerHcl: exactly one of s3 or raft storage must be given",
        });
        assert.throws(() => renderServerHcl({ ...garage, s3: undefined }), {
            message: "renderServerHcl: exactly one of s3 or raft storage must be given",
        });
    });
});

describe("hclString", () => {
    it("escapes quotes and backslashes so the parser reads the value back unchanged", async () => {
        const tricky = 'alias/a"b\\c';
        const hcl = await parsed(`v = ${hclString(tricky, "unseal.kmsKeyId")}\n`);
        assert.equal(hcl.v, tricky);
    });

    const refused: [string, string][] = [
        ["line\nbreak", "control characters or line breaks"],
        ["a${b}", "'${' or '%{' (HCL template syntax)"],
        ["a%{b}", "'${' or '%{' (HCL template syntax)"],
        ["{{ .Release.Name }}", "'{{' or '}}' (the chart renders the config with Helm tpl)"],
        ["alias/HOSTNAME", "'HOSTNAME' (the chart's container replaces it with sed)"],
        ["x-POD_IP", "'POD_IP' (the chart's container replaces it with sed)"],
    ];
    for (const [value, what] of refused) {
        it(`refuses ${JSON.stringify(value)} naming the key`, () => {
            assert.throws(() => hclString(value, "storage.bucket"), {
                message: `secret-platform:storage.bucket: must not contain ${what} (value ${JSON.stringify(value)})`,
            });
        });
    }

    it("a bad value in the input fails the whole render with its key", () => {
        assert.throws(() => renderServerHcl({ ...garage, s3: { ...garage.s3!, prefix: "{{x}}/" } }), {
            message:
                "secret-platform:storage.prefix: must not contain '{{' or '}}' (the chart renders the config with Helm tpl) (value \"{{x}}/\")",
        });
    });
});

/**
 * The "Parse Configuration" step of `vault operator diagnose` on a config
 * file: Vault's own HCL loader, which fails on a duplicate attribute and warns
 * on a field it does not know (listener, telemetry and top-level keys).
 */
function vaultParse(vault: string, hcl: string): { status: string; warnings?: string[]; message?: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "server-hcl-"));
    try {
        const file = path.join(dir, "server.hcl");
        // Diagnose goes on to open storage after parsing: keep raft's data dir inside the temp dir.
        fs.writeFileSync(file, hcl.replaceAll('"/vault/data"', JSON.stringify(path.join(dir, "data"))));
        const run = spawnSync(
            vault,
            [
                "operator",
                "diagnose",
                `-config=${file}`,
                "-format=json",
                "-skip=storage",
                "-skip=listener",
                "-skip=autounseal",
            ],
            { encoding: "utf8", timeout: 20_000, env: { PATH: process.env.PATH ?? "", HOME: dir } },
        );
        const report = JSON.parse(run.stdout) as { children: { name: string; status: string }[] };
        const step = report.children.find((c) => c.name === "Parse Configuration");
        assert.ok(step !== undefined, `no Parse Configuration step in: ${run.stdout}`);
        return step as { status: string; warnings?: string[]; message?: string };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

// The chart adds this line to every config; Vault must accept the pair.
const CHART_SUFFIX = "\ndisable_mlock = true\n";

describe("renderServerHcl against a real Vault's config loader (the project's built Vault binary)", function () {
    let vault: string;
    before(function () {
        vault = requireTool(this, "vault");
    });

    it("the check itself: a duplicate attribute fails and an unknown listener field warns", () => {
        const dup = vaultParse(vault, renderServerHcl(garage) + "\nui = true\n");
        assert.equal(dup.status, "fail");
        assert.match(dup.message ?? "", /"ui" at \d+:\d+ was already set/);
        const typo = vaultParse(vault, renderServerHcl(garage).replace("tls_disable ", "tls_disabel "));
        assert.equal(typo.status, "ok");
        assert.match((typo.warnings ?? []).join("\n"), /Unknown or unsupported field tls_disabel/);
    });

    const modes: [string, ServerHclInput][] = [
        ["standalone S3 behind the ingress", garage],
        [
            "AWS S3 with SSE-KMS and the awskms seal with file:// keys",
            {
                ...garage,
                s3: {
                    bucket: "b-1",
                    region: "eu-west-1",
                    forcePathStyle: false,
                    kmsKeyId: "arn:aws:kms:eu-west-1:1:key/k",
                },
                seal: {
                    region: "eu-west-1",
                    kmsKeyId: "arn:aws:kms:eu-west-1:1:key/s",
                    credentialsDir: "/vault/userconfig/s",
                },
            },
        ],
        [
            "raft HA with internal TLS",
            {
                raft: { replicas: 5 },
                tls: { certDir: "/vault/userconfig/t", caFile: "/vault/userconfig/ca/ca.crt" },
                apiAddr: "https://vault.vault.svc:8200",
                logLevel: "debug",
            },
        ],
    ];
    for (const [name, input] of modes) {
        it(`${name}: parses with no unknown field, next to the chart's disable_mlock`, () => {
            const step = vaultParse(vault, renderServerHcl(input) + CHART_SUFFIX);
            assert.equal(step.status, "ok", step.message);
            assert.deepEqual(step.warnings ?? [], []);
        });
    }
});
