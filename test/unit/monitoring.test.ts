/**
 * The alert pack: which object carries it (PrometheusRule, ConfigMap rule
 * file, or none), its exact contents and place, the config rule, and which
 * alerts a config has. promtool runs the rules themselves
 * (test/integration/alert-rules.test.ts).
 */
import { strict as assert } from "node:assert";
import {
    ALERTS_NAME,
    buildAlertRules,
    longestGapSeconds,
    promisedFailureTolerance,
    RULE_FILE_KEY,
    ruleFileText,
} from "../../components/lib/alert-rules";
import { BACKUP_RECIPIENT_PLACEHOLDER } from "../../components/config/schema";
import { buildPlatform, SecretPlatform } from "../../components/platform";
import { homelabStack } from "../support/fixtures";
import { configOf, configProblems, parentOf, Program, runProgram, valueOf } from "../support/program";

const ns = "secret-platform";
const T = { rule: "kubernetes:monitoring.coreos.com/v1:PrometheusRule", cm: "kubernetes:core/v1:ConfigMap" };
const LABELS = { "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "secret-platform" };

function monitored(scrape?: "serviceMonitor") {
    const s = homelabStack();
    s.values.networkPolicy.monitoringNamespace = "monitoring";
    if (scrape !== undefined) s.values.server = { metricsScrape: scrape };
    return s;
}
const alertsOf = (s: ReturnType<typeof homelabStack>) =>
    buildAlertRules(configOf(s)).flatMap((g) => g.rules.map((r) => r.alert));

describe("the alert pack (MonitoringAlerts)", () => {
    it("with annotations scraping: a ConfigMap in the monitoring namespace holding the rule file, no PrometheusRule", async () => {
        const s = monitored();
        const p: Program<SecretPlatform> = await runProgram(s, (c, o) => buildPlatform(c, o));
        const cm = p.find(T.cm, "platform-alerts-rule-file");
        assert.deepEqual(cm.inputs, {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: ALERTS_NAME, namespace: "monitoring", labels: LABELS },
            data: { [RULE_FILE_KEY]: ruleFileText(buildAlertRules(configOf(s))) },
        });
        assert.equal(parentOf(cm), p.result.alerts);
        assert.equal(p.ofType(T.rule).length, 0);
        assert.equal(await valueOf(p.result.alerts!.rulesObject), `monitoring/${ALERTS_NAME}`);
    });

    it("with a ServiceMonitor: a PrometheusRule with the same groups and the rule selector's labels, no ConfigMap", async () => {
        const s = monitored("serviceMonitor");
        s.values.monitoring = { ruleLabels: { release: "kube-prometheus-stack" } };
        const p = await runProgram(s, (c, o) => buildPlatform(c, o));
        const rule = p.find(T.rule, "platform-alerts-prometheus-rule");
        assert.deepEqual(rule.inputs, {
            apiVersion: "monitoring.coreos.com/v1",
            kind: "PrometheusRule",
            metadata: {
                name: ALERTS_NAME,
                namespace: "monitoring",
                labels: { ...LABELS, release: "kube-prometheus-stack" },
            },
            spec: { groups: JSON.parse(JSON.stringify(buildAlertRules(configOf(s)))) },
        });
        assert.equal(parentOf(rule), p.result.alerts);
        assert.equal(p.ofType(T.cm).filter((r) => r.name.startsWith("platform-alerts")).length, 0);
    });

    it("is absent without a monitoring namespace, and with monitoring.alerts off", async () => {
        for (const s of [homelabStack(), Object.assign(monitored(), {})]) {
            if (s.values.networkPolicy.monitoringNamespace !== undefined) s.values.monitoring = { alerts: "off" };
            const p = await runProgram(s, (c, o) => buildPlatform(c, o));
            assert.equal(p.result.alerts, undefined);
            assert.equal(p.ofType(T.rule).length, 0);
            assert.deepEqual(
                p.ofType("secret-platform:monitoring:").map((r) => r.name),
                [],
            );
        }
    });

    it("refuses monitoring.alerts without networkPolicy.monitoringNamespace, naming both keys", () => {
        const s = homelabStack();
        s.values.monitoring = { alerts: "prometheusRule" };
        assert.deepEqual(configProblems(s), [
            `${ns}:monitoring.alerts: prometheusRule needs networkPolicy.monitoringNamespace (the namespace of the Prometheus that loads the rules); set it, or leave monitoring.alerts unset`,
        ]);
    });

    it("each alert only where its subject exists: raft tolerance with 3+ raft replicas, backups with snapshots, the certificate with cert-manager, the canary when on", () => {
        const base = monitored();
        assert.deepEqual(alertsOf(base), [
            "VaultSealedOrDown",
            "VaultTargetsMissing",
            "VaultAuditVolumeFilling",
            "ExternalSecretsStoreNotReady",
            "ExternalSecretSyncErrors",
            "ExternalSecretNotSynced",
            "SecretPlatformCanaryFailing",
        ]);
        const full = monitored();
        full.values.server = { storageBackend: "raft", replicas: 3 };
        full.values.exposure = { className: "nginx", certManagerIssuer: "amiya-ca" };
        full.values.externalSecrets.canary = false;
        full.values.audit = { target: "stdout" };
        assert.deepEqual(alertsOf(full), [
            "VaultSealedOrDown",
            "VaultTargetsMissing",
            "VaultRaftFailureToleranceLow",
            "VaultCertificateExpiring",
            "VaultBackupTooOld",
            "ExternalSecretsStoreNotReady",
            "ExternalSecretSyncErrors",
            "ExternalSecretNotSynced",
        ]);
        const single = monitored();
        single.values.server = { storageBackend: "raft", replicas: 1, snapshots: { enabled: false } };
        assert.ok(!alertsOf(single).includes("VaultRaftFailureToleranceLow"));
        assert.ok(!alertsOf(single).includes("VaultBackupTooOld"));
    });

    it("selects Vault's targets by job and namespace, the stack's stores by name, the certificates by name", () => {
        const s = monitored();
        s.values.server = { namespace: "vault-prod" };
        s.values.monitoring = { vaultJob: "vault", certificates: ["vault-internal", "vault-api"] };
        const rules = Object.fromEntries(buildAlertRules(configOf(s)).flatMap((g) => g.rules.map((r) => [r.alert, r])));
        assert.equal(
            rules.VaultSealedOrDown.expr,
            '(up{job="vault", namespace="vault-prod"} == 0) or (max by (namespace, instance) (vault_core_unsealed{job="vault", namespace="vault-prod"}) == 0)',
        );
        assert.equal(
            rules.VaultCertificateExpiring.expr,
            'certmanager_certificate_expiration_timestamp_seconds{namespace="vault-prod", name=~"vault-internal|vault-api"} - time() < 604800',
        );
        assert.equal(
            rules.ExternalSecretsStoreNotReady.expr,
            'clustersecretstore_status_condition{name=~"vault-amiya-akn|vault-amiya-akn-shared", condition="Ready", status="False"} == 1',
        );
        for (const r of Object.values(rules))
            assert.equal(r.annotations.runbook, `docs/monitoring.md#${r.alert.toLowerCase()}`);
    });

    it("watches the KV export CronJob (backup.enabled) beside the snapshots, each with its own schedule's limit, in one rule", () => {
        const kvOnly = monitored();
        kvOnly.values.server = { storageBackend: "raft", replicas: 1, snapshots: { enabled: false } };
        kvOnly.values.backup = { enabled: true, recipients: [BACKUP_RECIPIENT_PLACEHOLDER], schedule: "15 3 * * *" };
        const rule = (s: ReturnType<typeof homelabStack>) =>
            buildAlertRules(configOf(s))
                .flatMap((g) => g.rules)
                .filter((r) => r.alert === "VaultBackupTooOld");
        const kv = 'namespace="vault", cronjob="vault-kv-backup"';
        const [only] = rule(kvOnly);
        assert.equal(
            only.expr,
            `(time() - kube_cronjob_status_last_successful_time{${kv}} > 90000) or ((time() - kube_cronjob_created{${kv}} > 90000) unless on (namespace, cronjob) kube_cronjob_status_last_successful_time{${kv}})`,
        );
        assert.equal(
            only.annotations.description,
            "No run of the CronJob {{ $labels.cronjob }} succeeded for longer than its schedule's longest gap plus an hour (vault-kv-backup: schedule 15 3 * * *, 90000s).",
        );
        const both = monitored();
        both.values.server = { storageBackend: "raft", replicas: 3 };
        both.values.backup = { enabled: true, recipients: [BACKUP_RECIPIENT_PLACEHOLDER] };
        const rules = rule(both);
        assert.equal(rules.length, 1);
        const snap = 'namespace="vault", cronjob="vault-snapshot"';
        const term = (sel: string) =>
            `((time() - kube_cronjob_status_last_successful_time{${sel}} > 25200) or ((time() - kube_cronjob_created{${sel}} > 25200) unless on (namespace, cronjob) kube_cronjob_status_last_successful_time{${sel}}))`;
        assert.equal(rules[0].expr, `${term(snap)} or ${term(kv)}`);
        // Off: no KV export term.
        assert.doesNotMatch(rule(monitored())[0]?.expr ?? "", /vault-kv-backup/);
    });

    it("names the tenant groups' stores (externalSecrets.tenants) in the store alert", () => {
        const s = monitored();
        s.values.externalSecrets.tenants = [{ name: "media", namespaces: ["sonarr"] }];
        const rule = buildAlertRules(configOf(s))
            .flatMap((g) => g.rules)
            .find((r) => r.alert === "ExternalSecretsStoreNotReady");
        assert.equal(
            rule?.expr,
            'clustersecretstore_status_condition{name=~"vault-amiya-akn|vault-amiya-akn-shared|vault-amiya-akn-media", condition="Ready", status="False"} == 1',
        );
    });

    it("derives the backup age limit from the schedule's longest gap, and the promised tolerance from the replicas", () => {
        assert.equal(longestGapSeconds("0 */6 * * *"), 6 * 3600);
        assert.equal(longestGapSeconds("30 2 * * 1-5"), 3 * 86400);
        assert.equal(longestGapSeconds("0 0 1 * *"), 31 * 86400);
        assert.deepEqual([1, 3, 5].map(promisedFailureTolerance), [0, 1, 2]);
    });
});
