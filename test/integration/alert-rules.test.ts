/**
 * Every alert of the pack through the real `promtool test rules` (Prometheus
 * 2.42, Debian's): each fires on its failure series with its exact labels and
 * stays silent on a healthy set. The rule file is the builder's own output
 * for a raft HA stack with every optional alert on.
 */
import * as assert from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as util from "util";
import * as YAML from "yaml";
import { buildAlertRules, RuleGroup, ruleFileText, VAULT_METRICS } from "../../components/lib/alert-rules";
import { BACKUP_RECIPIENT_PLACEHOLDER } from "../../components/config/schema";
import { METRICS_PORT } from "../../components/lib/contracts";
import { buildVaultValues, serverHclOf } from "../../components/lib/helm-values";
import { homelabStack } from "../support/fixtures";
import { configOf } from "../support/program";
import { requireTool } from "../support/tools";
import { freePort, initAndUnseal, startVault, VaultServer } from "../support/vault-server";

const run = util.promisify(execFile);

/**
 * A raft HA stack with the Ingress certificate from cert-manager, snapshots, the KV export
 * (suspended: placeholder recipient), a shared store, a tenant store and the canary.
 */
function fullStack() {
    const stack = homelabStack();
    stack.values.server = { storageBackend: "raft", replicas: 3, metricsScrape: "serviceMonitor" };
    stack.values.networkPolicy.monitoringNamespace = "monitoring";
    stack.values.exposure = { ...stack.values.exposure, certManagerIssuer: "amiya-ca" };
    stack.values.backup = { enabled: true, recipients: [BACKUP_RECIPIENT_PLACEHOLDER] };
    stack.values.externalSecrets.tenants = [{ name: "media", namespaces: ["sonarr"] }];
    return stack;
}

type Series = { series: string; values: string };
interface Case {
    readonly alert: string;
    readonly evalTime: string;
    /** Sample spacing of the input series (default 1m). */
    readonly interval?: string;
    readonly failing: readonly Series[];
    /** Labels of each alert the failing series raise (severity and alertname added here). */
    readonly fires: readonly Record<string, string>[];
    readonly healthy: readonly Series[];
}

const V = 'job="vault-metrics", namespace="vault"';
const pod = (i: number) => `instance="10.0.0.${i}:8202"`;
const vaultUp = (values: readonly string[]) => values.map((v, i) => ({ series: `up{${V}, ${pod(i)}}`, values: v }));
/** Vault 1.21 keeps a stale {cluster=""} 0 beside the live series after unseal. */
const unsealed = (values: readonly string[]) =>
    values.flatMap((v, i) => [
        { series: `vault_core_unsealed{${V}, ${pod(i)}, cluster=""}`, values: "0x10" },
        { series: `vault_core_unsealed{${V}, ${pod(i)}, cluster="vault-cluster-1"}`, values: v },
    ]);
const audit = (pvc: string, available: string, capacity = "2000000000x400") => [
    {
        series: `kubelet_volume_stats_available_bytes{namespace="vault", persistentvolumeclaim="${pvc}"}`,
        values: available,
    },
    {
        series: `kubelet_volume_stats_capacity_bytes{namespace="vault", persistentvolumeclaim="${pvc}"}`,
        values: capacity,
    },
];
const DAY = 86400;
const cert = (expiresAt: number) => [
    {
        series: 'certmanager_certificate_expiration_timestamp_seconds{namespace="vault", name="vault-tls"}',
        values: `${expiresAt}x120`,
    },
];
const SNAP = 'namespace="vault", cronjob="vault-snapshot"';
const KV_EXPORT = 'namespace="vault", cronjob="vault-kv-backup"';
const store = (name: string, ready: boolean) => [
    {
        series: `clustersecretstore_status_condition{name="${name}", condition="Ready", status="True"}`,
        values: `${ready ? 1 : 0}x20`,
    },
    {
        series: `clustersecretstore_status_condition{name="${name}", condition="Ready", status="False"}`,
        values: `${ready ? 0 : 1}x20`,
    },
];
const ES = 'name="grafana-admin", exported_namespace="grafana", namespace="external-secrets"';
const CANARY =
    'name="secret-platform-canary", exported_namespace="secret-platform-canary", namespace="external-secrets"';

const CASES: readonly Case[] = [
    {
        alert: "VaultSealedOrDown",
        evalTime: "5m",
        // Every pod sealed: the listener answers (up 1) and every series says sealed.
        failing: [...vaultUp(["1x10", "1x10", "1x10"]), ...unsealed(["0x10", "0x10", "0x10"])],
        fires: [0, 1, 2].map((i) => ({ namespace: "vault", instance: `10.0.0.${i}:8202` })),
        healthy: [...vaultUp(["1x10", "1x10", "1x10"]), ...unsealed(["1x10", "1x10", "1x10"])],
    },
    {
        alert: "VaultSealedOrDown",
        evalTime: "5m",
        // A sealed Vault whose listener refuses the scrape (other versions): up 0, no vault_ series at all.
        failing: [...vaultUp(["0x10", "1x10", "1x10"]), ...unsealed(["1x10", "1x10"])],
        fires: [{ job: "vault-metrics", namespace: "vault", instance: "10.0.0.0:8202" }],
        healthy: [...vaultUp(["1x10", "1x10", "1x10"]), ...unsealed(["1x10", "1x10", "1x10"])],
    },
    {
        alert: "VaultTargetsMissing",
        evalTime: "10m",
        // No target at all (the StatefulSet is gone): absent, not zero.
        failing: [{ series: 'up{job="other", namespace="monitoring"}', values: "1x20" }],
        fires: [{}],
        healthy: vaultUp(["1x20", "1x20", "1x20"]),
    },
    {
        alert: "VaultTargetsMissing",
        evalTime: "10m",
        failing: vaultUp(["1x20", "1x20", "0x20"]),
        fires: [{}],
        healthy: vaultUp(["1x20", "1x20", "1x20"]),
    },
    {
        alert: "VaultRaftFailureToleranceLow",
        evalTime: "15m",
        // The active node says 0; a standby's stale gauge still says 1.
        failing: [
            { series: `vault_autopilot_failure_tolerance{${V}, ${pod(0)}}`, values: "0x20" },
            { series: `vault_autopilot_failure_tolerance{${V}, ${pod(1)}}`, values: "1x20" },
            { series: `vault_core_active{${V}, ${pod(0)}, cluster="vault-cluster-1"}`, values: "1x20" },
            { series: `vault_core_active{${V}, ${pod(1)}, cluster="vault-cluster-1"}`, values: "0x20" },
        ],
        fires: [{}],
        healthy: [
            { series: `vault_autopilot_failure_tolerance{${V}, ${pod(0)}}`, values: "1x20" },
            { series: `vault_autopilot_failure_tolerance{${V}, ${pod(1)}}`, values: "0x20" },
            { series: `vault_core_active{${V}, ${pod(0)}, cluster="vault-cluster-1"}`, values: "1x20" },
            { series: `vault_core_active{${V}, ${pod(1)}, cluster="vault-cluster-1"}`, values: "0x20" },
        ],
    },
    {
        alert: "VaultAuditVolumeFilling",
        evalTime: "30m",
        failing: audit("audit-vault-0", "150000000x400"),
        fires: [{ namespace: "vault", persistentvolumeclaim: "audit-vault-0" }],
        // 75% free and steady; another PVC of the namespace nearly full is not the audit volume.
        healthy: [...audit("audit-vault-0", "1500000000x400"), ...audit("data-vault-0", "1000x400")],
    },
    {
        alert: "VaultAuditVolumeFilling",
        evalTime: "6h",
        // Half free, but losing 1 MB a minute: empty in under 17 hours.
        failing: audit("audit-vault-1", "1000000000-1000000x400"),
        fires: [{ namespace: "vault", persistentvolumeclaim: "audit-vault-1" }],
        healthy: audit("audit-vault-1", "1000000000-10000x400"),
    },
    {
        alert: "VaultCertificateExpiring",
        evalTime: "90m",
        failing: cert(3 * DAY),
        fires: [{ namespace: "vault", name: "vault-tls" }],
        healthy: cert(30 * DAY),
    },
    {
        alert: "VaultBackupTooOld",
        evalTime: "30h",
        interval: "10m",
        // Schedule 0 */6: the last success 30 hours ago is over 6h + 1h.
        failing: [
            { series: `kube_cronjob_created{${SNAP}}`, values: "0x200" },
            { series: `kube_cronjob_status_last_successful_time{${SNAP}}`, values: "0x200" },
        ],
        fires: [{ namespace: "vault", cronjob: "vault-snapshot" }],
        healthy: [
            { series: `kube_cronjob_created{${SNAP}}`, values: "0x200" },
            { series: `kube_cronjob_status_last_successful_time{${SNAP}}`, values: `${30 * 3600 - 5 * 3600}x200` },
        ],
    },
    {
        alert: "VaultBackupTooOld",
        evalTime: "30h",
        interval: "10m",
        // Never succeeded since it was made 30 hours ago; the healthy one was made an hour ago.
        failing: [{ series: `kube_cronjob_created{${SNAP}}`, values: "0x200" }],
        fires: [{ namespace: "vault", cronjob: "vault-snapshot" }],
        healthy: [{ series: `kube_cronjob_created{${SNAP}}`, values: `${29 * 3600}x200` }],
    },
    {
        alert: "VaultBackupTooOld",
        evalTime: "30h",
        interval: "10m",
        // The KV export (schedule 30 */6): its last success 8 hours ago is over 6h + 1h; the snapshots are fine.
        failing: [
            { series: `kube_cronjob_created{${KV_EXPORT}}`, values: "0x200" },
            { series: `kube_cronjob_status_last_successful_time{${KV_EXPORT}}`, values: `${22 * 3600}x200` },
            { series: `kube_cronjob_created{${SNAP}}`, values: "0x200" },
            { series: `kube_cronjob_status_last_successful_time{${SNAP}}`, values: `${29 * 3600}x200` },
        ],
        fires: [{ namespace: "vault", cronjob: "vault-kv-backup" }],
        healthy: [
            { series: `kube_cronjob_created{${KV_EXPORT}}`, values: "0x200" },
            { series: `kube_cronjob_status_last_successful_time{${KV_EXPORT}}`, values: `${24 * 3600}x200` },
        ],
    },
    {
        alert: "VaultBackupTooOld",
        evalTime: "30h",
        interval: "10m",
        // A suspended KV export (backup.recipients still the placeholder) never succeeds: no export is taken.
        failing: [{ series: `kube_cronjob_created{${KV_EXPORT}}`, values: "0x200" }],
        fires: [{ namespace: "vault", cronjob: "vault-kv-backup" }],
        healthy: [{ series: `kube_cronjob_created{${KV_EXPORT}}`, values: `${24 * 3600}x200` }],
    },
    {
        alert: "ExternalSecretsStoreNotReady",
        evalTime: "15m",
        failing: store("vault-amiya-akn-shared", false),
        fires: [{ name: "vault-amiya-akn-shared", condition: "Ready", status: "False" }],
        // Ready; and another team's store that is not Ready is not this platform's to page on.
        healthy: [...store("vault-amiya-akn", true), ...store("aws-team-store", false)],
    },
    {
        alert: "ExternalSecretsStoreNotReady",
        evalTime: "15m",
        // A tenant group's store (externalSecrets.tenants) is this platform's too.
        failing: store("vault-amiya-akn-media", false),
        fires: [{ name: "vault-amiya-akn-media", condition: "Ready", status: "False" }],
        healthy: store("vault-amiya-akn-media", true),
    },
    {
        alert: "ExternalSecretSyncErrors",
        evalTime: "40m",
        failing: [
            { series: `externalsecret_sync_calls_total{${ES}}`, values: "0+1x60" },
            { series: `externalsecret_sync_calls_error{${ES}}`, values: "0+1x60" },
        ],
        fires: [{ name: "grafana-admin", exported_namespace: "grafana", namespace: "external-secrets" }],
        healthy: [
            { series: `externalsecret_sync_calls_total{${ES}}`, values: "0+1x60" },
            { series: `externalsecret_sync_calls_error{${ES}}`, values: "3x60" },
        ],
    },
    {
        alert: "ExternalSecretNotSynced",
        evalTime: "3h",
        // Every call in the last two hours failed.
        failing: [
            { series: `externalsecret_sync_calls_total{${ES}}`, values: "0+1x200" },
            { series: `externalsecret_sync_calls_error{${ES}}`, values: "0+1x200" },
        ],
        fires: [{ name: "grafana-admin", exported_namespace: "grafana", namespace: "external-secrets" }],
        // One reconcile an hour, never an error (no error series exists at all).
        healthy: [{ series: `externalsecret_sync_calls_total{${ES}}`, values: "0+0.0167x200" }],
    },
    {
        alert: "ExternalSecretNotSynced",
        evalTime: "3h",
        // No reconcile at all for three hours (ESO stopped): the counter is flat.
        failing: [{ series: `externalsecret_sync_calls_total{${ES}}`, values: "7x200" }],
        fires: [{ name: "grafana-admin", exported_namespace: "grafana", namespace: "external-secrets" }],
        healthy: [{ series: `externalsecret_sync_calls_total{${ES}}`, values: "7+1x200" }],
    },
    {
        alert: "SecretPlatformCanaryFailing",
        evalTime: "20m",
        failing: [
            {
                series: `externalsecret_status_condition{${CANARY}, condition="Ready", status="False"}`,
                values: "1x30",
            },
            { series: `externalsecret_sync_calls_total{${CANARY}}`, values: "0+1x30" },
            { series: `externalsecret_sync_calls_error{${CANARY}}`, values: "0+1x30" },
        ],
        fires: [
            {
                name: "secret-platform-canary",
                exported_namespace: "secret-platform-canary",
                namespace: "external-secrets",
                condition: "Ready",
                status: "False",
            },
            {
                name: "secret-platform-canary",
                exported_namespace: "secret-platform-canary",
                namespace: "external-secrets",
            },
        ],
        healthy: [
            {
                series: `externalsecret_status_condition{${CANARY}, condition="Ready", status="False"}`,
                values: "0x30",
            },
            { series: `externalsecret_sync_calls_total{${CANARY}}`, values: "0+1x30" },
            // A stale ExternalSecret elsewhere is another alert's business.
            { series: `externalsecret_sync_calls_total{${ES}}`, values: "7x30" },
        ],
    },
];

function severityOf(groups: readonly RuleGroup[], alert: string): string {
    const rule = groups.flatMap((g) => g.rules).find((r) => r.alert === alert);
    assert.ok(rule, `the pack has ${alert}`);
    return rule.labels.severity;
}

describe("integration: the alert pack under promtool test rules", function () {
    let promtool: string;
    let dir: string;
    let groups: RuleGroup[];

    before(function () {
        promtool = requireTool(this, "promtool");
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "alert-rules-"));
        groups = buildAlertRules(configOf(fullStack()));
        fs.writeFileSync(path.join(dir, "rules.yaml"), ruleFileText(groups));
        // promtool compares annotations exactly: the label cases run on a copy without them,
        // and the annotations spec below checks the rendered text on the real file.
        const bare = groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _, ...r }) => r) }));
        fs.writeFileSync(path.join(dir, "labels.yaml"), YAML.stringify({ groups: bare }));
    });

    after(() => {
        if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("passes promtool check rules", async function () {
        const { stdout } = await run(promtool, ["check", "rules", path.join(dir, "rules.yaml")]);
        assert.match(stdout, /SUCCESS: 10 rules found/);
    });

    it("tests every alert of the pack, each both ways", () => {
        const alerts = groups.flatMap((g) => g.rules.map((r) => r.alert));
        assert.deepEqual([...new Set(CASES.map((c) => c.alert))].sort(), [...alerts].sort());
        // Each backup CronJob the stack runs fires in a case of its own.
        const cronjobs = CASES.filter((c) => c.alert === "VaultBackupTooOld").flatMap((c) =>
            c.fires.map((f) => f.cronjob),
        );
        assert.deepEqual([...new Set(cronjobs)].sort(), ["vault-kv-backup", "vault-snapshot"]);
    });

    it("renders the annotations: the ExternalSecret's own namespace, the count of answering targets, the runbook", async function () {
        const file = path.join(dir, "annotations.yaml");
        fs.writeFileSync(
            file,
            YAML.stringify({
                rule_files: ["rules.yaml"],
                evaluation_interval: "1m",
                tests: [
                    {
                        interval: "1m",
                        input_series: [
                            { series: `externalsecret_sync_calls_total{${ES}}`, values: "0+1x60" },
                            { series: `externalsecret_sync_calls_error{${ES}}`, values: "0+1x60" },
                            ...vaultUp(["1x20", "0x20", "1x20"]),
                        ],
                        alert_rule_test: [
                            {
                                eval_time: "40m",
                                alertname: "ExternalSecretSyncErrors",
                                exp_alerts: [
                                    {
                                        exp_labels: {
                                            severity: "warning",
                                            name: "grafana-admin",
                                            exported_namespace: "grafana",
                                            namespace: "external-secrets",
                                        },
                                        exp_annotations: {
                                            summary: "ExternalSecret grafana-admin in grafana fails to sync",
                                            description:
                                                "Its sync calls have failed for 15 minutes: the synced Secret keeps old values or does not exist.",
                                            runbook: "docs/monitoring.md#externalsecretsyncerrors",
                                        },
                                    },
                                ],
                            },
                            {
                                eval_time: "10m",
                                alertname: "VaultTargetsMissing",
                                exp_alerts: [
                                    {
                                        exp_labels: { severity: "critical" },
                                        exp_annotations: {
                                            summary: "Fewer than 3 Vault targets answer",
                                            description:
                                                "Prometheus scrapes 2 of the 3 Vault pods in vault (job vault-metrics): pods are missing, or the scrape is broken.",
                                            runbook: "docs/monitoring.md#vaulttargetsmissing",
                                        },
                                    },
                                ],
                            },
                        ],
                    },
                ],
            }),
        );
        try {
            await run(promtool, ["test", "rules", file], { cwd: dir });
        } catch (e) {
            const err = e as { stdout?: string; stderr?: string };
            assert.fail(`${err.stdout ?? ""}${err.stderr ?? ""}`);
        }
    });

    for (const [i, c] of CASES.entries()) {
        it(`${c.alert} (case ${i + 1}): fires on its failure series, silent on a healthy set`, async function () {
            const severity = severityOf(groups, c.alert);
            const test = (series: readonly Series[], fires: readonly Record<string, string>[]) => ({
                interval: c.interval ?? "1m",
                input_series: series,
                alert_rule_test: [
                    {
                        eval_time: c.evalTime,
                        alertname: c.alert,
                        exp_alerts: fires.map((labels) => ({ exp_labels: { severity, ...labels } })),
                    },
                ],
            });
            const file = path.join(dir, `case-${i + 1}.yaml`);
            fs.writeFileSync(
                file,
                YAML.stringify({
                    rule_files: ["labels.yaml"],
                    evaluation_interval: c.interval ?? "1m",
                    tests: [test(c.failing, c.fires), test(c.healthy, [])],
                }),
            );
            try {
                await run(promtool, ["test", "rules", file], { cwd: dir });
            } catch (e) {
                const err = e as { stdout?: string; stderr?: string };
                assert.fail(`promtool test rules failed for ${c.alert}:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
            }
        });

        it(`${c.alert} (case ${i + 1}): the test is not vacuous (promtool fails when the failure series are expected silent)`, async function () {
            const file = path.join(dir, `inverse-${i + 1}.yaml`);
            fs.writeFileSync(
                file,
                YAML.stringify({
                    rule_files: ["labels.yaml"],
                    evaluation_interval: c.interval ?? "1m",
                    tests: [
                        {
                            interval: c.interval ?? "1m",
                            input_series: c.failing,
                            alert_rule_test: [{ eval_time: c.evalTime, alertname: c.alert, exp_alerts: [] }],
                        },
                    ],
                }),
            );
            await assert.rejects(
                run(promtool, ["test", "rules", file], { cwd: dir }),
                (e: { stdout?: string; stderr?: string }) => {
                    assert.match(`${e.stdout ?? ""}${e.stderr ?? ""}`, new RegExp(`alertname: ${c.alert}, time: `));
                    return true;
                },
            );
        });
    }
});

describe("integration: every Vault metric the alert pack reads exists on a real Vault's metrics listener", function () {
    let vault: VaultServer;
    let metricsAddress: string;

    before(async function () {
        requireTool(this, "vault");
        const config = configOf(fullStack());
        const hcl = serverHclOf(buildVaultValues(config, { bucket: "b", region: "garage", forcePathStyle: true }));
        // The program's own metrics listener and telemetry stanzas, bound to loopback; raft storage, as the
        // autopilot gauges exist only there (one node: autopilot runs, its tolerance is 0).
        const blocks = hcl.split(/\n(?=[a-z])/).filter((b) => /^listener "tcp"|^telemetry/.test(b));
        const metrics = blocks.filter((b) => b.includes(`:${METRICS_PORT}"`) || b.startsWith("telemetry"));
        assert.equal(metrics.length, 2, `the metrics listener and telemetry stanzas of:\n${hcl}`);
        const port = await freePort();
        metricsAddress = `http://127.0.0.1:${port}/v1/sys/metrics?format=prometheus`;
        vault = await startVault({
            storage: "raft",
            extraConfig: metrics.join("\n").replace(`[::]:${METRICS_PORT}`, `127.0.0.1:${port}`),
        });
    });

    after(async () => {
        await vault?.stop();
    });

    /** Metric names (without labels) of one scrape. */
    async function scrape(): Promise<Set<string>> {
        const res = await fetch(metricsAddress);
        assert.equal(res.status, 200);
        return new Set(
            (await res.text())
                .split("\n")
                .filter((l) => l !== "" && !l.startsWith("#"))
                .map((l) => l.split(/[{ ]/)[0]),
        );
    }

    it("names only metrics listed in VAULT_METRICS", () => {
        const exprs = buildAlertRules(configOf(fullStack())).flatMap((g) => g.rules.map((r) => r.expr));
        const used = new Set(exprs.flatMap((e) => e.match(/\bvault_[a-z_]+/g) ?? []));
        assert.deepEqual([...used].sort(), [...VAULT_METRICS].sort());
    });

    it("sealed: vault_core_unsealed is served as 0 (Vault 1.21.4 answers the scrape while sealed)", async () => {
        const res = await fetch(metricsAddress);
        assert.equal(res.status, 200);
        assert.match(await res.text(), /^vault_core_unsealed\{cluster=""\} 0$/m);
    });

    it("unsealed raft node: one scrape has each of VAULT_METRICS under that exact name", async function () {
        this.timeout(60_000);
        await initAndUnseal(vault.address);
        // Autopilot publishes its gauges a few seconds after the node becomes leader.
        let names = new Set<string>();
        for (let i = 0; i < 40 && !VAULT_METRICS.every((m) => names.has(m)); i++) {
            await new Promise((r) => setTimeout(r, 500));
            names = await scrape();
        }
        assert.deepEqual(
            VAULT_METRICS.filter((m) => !names.has(m)),
            [],
            "metrics the rules read that the real Vault does not serve",
        );
    });
});
