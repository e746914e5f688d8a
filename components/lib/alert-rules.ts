/**
 * The alert pack as plain Prometheus rule groups (docs/monitoring.md): Vault
 * sealed or down, raft failure tolerance, the audit volume, the served
 * certificate, backup age, and External Secrets. A pure builder: the
 * MonitoringAlerts component registers what it returns, and
 * test/integration/alert-rules.test.ts runs every alert through
 * `promtool test rules` both ways.
 */
import { Cron } from "croner";
import * as YAML from "yaml";
import type { PlatformConfig } from "../config";
import { durationSeconds } from "../config/schema";
import { METRICS_SERVICE } from "./metrics";
import { metricsScrape } from "./helm-values";
import { BACKUP_NAME, SNAPSHOT_NAME } from "./contracts";
import { CANARY, sharedStoreMounts, tenantStoreName } from "./secret-store-manifests";

/** The Vault metrics the rules read; the metric-name spec scrapes a real Vault for each. */
export const VAULT_METRICS = ["vault_core_unsealed", "vault_core_active", "vault_autopilot_failure_tolerance"] as const;

/** Where every alert's runbook is (its section is the alert's name, lower-cased). */
export const RUNBOOK = "docs/monitoring.md";

/** Name of the PrometheusRule, or of the ConfigMap that holds the rule file. */
export const ALERTS_NAME = "secret-platform-alerts";
/** The rule file's key in that ConfigMap. */
export const RULE_FILE_KEY = "secret-platform-alerts.yaml";

export type AlertsMode = "prometheusRule" | "ruleFile";

export interface AlertRule {
    readonly alert: string;
    readonly expr: string;
    readonly for?: string;
    readonly labels: { readonly severity: "critical" | "warning" };
    readonly annotations: { readonly summary: string; readonly description: string; readonly runbook: string };
}
export interface RuleGroup {
    readonly name: string;
    readonly rules: readonly AlertRule[];
}

/** The keys the alert pack reads. */
export type AlertsSlice = Pick<
    PlatformConfig,
    "monitoring" | "networkPolicy" | "server" | "exposure" | "audit" | "externalSecrets" | "kv" | "backup"
>;

/** How the pack is delivered; undefined when it is off (no monitoring namespace, or monitoring.alerts: off). */
export function alertsMode(
    config: Pick<PlatformConfig, "monitoring" | "networkPolicy" | "server">,
): AlertsMode | undefined {
    const scrape = metricsScrape(config);
    const mode =
        config.monitoring.alerts ??
        (scrape === undefined ? "off" : scrape === "serviceMonitor" ? "prometheusRule" : "ruleFile");
    return mode === "off" ? undefined : mode;
}

/** The job label of Vault's targets: the ServiceMonitor's Service, or the usual annotations job. */
export function vaultJob(config: Pick<PlatformConfig, "monitoring" | "networkPolicy" | "server">): string {
    return (
        config.monitoring.vaultJob ?? (metricsScrape(config) === "serviceMonitor" ? METRICS_SERVICE : "kubernetes-pods")
    );
}

/** cert-manager Certificates watched: the Ingress certificate ingress-shim makes (named after its Secret). */
export function watchedCertificates(config: Pick<PlatformConfig, "monitoring" | "exposure">): readonly string[] {
    if (config.monitoring.certificates !== undefined) return config.monitoring.certificates;
    const e = config.exposure;
    return e.kind === "ingress" && e.certManagerIssuer !== undefined ? [e.tlsSecretName] : [];
}

/** The longest gap between two runs of a cron schedule (UTC), over the next year's runs. */
export function longestGapSeconds(schedule: string): number {
    const runs = new Cron(schedule, { paused: true, timezone: "UTC" }).nextRuns(1100, new Date(Date.UTC(2026, 0, 1)));
    let gap = 0;
    for (let i = 1; i < runs.length; i++) gap = Math.max(gap, (runs[i].getTime() - runs[i - 1].getTime()) / 1000);
    return gap;
}

/**
 * Backup CronJobs this stack runs in Vault's namespace, with their schedules: the raft
 * snapshots and the KV export (backup.enabled; suspended while backup.recipients is the
 * placeholder, so it never succeeds and the alert says no export is taken).
 */
export function backupJobs(
    config: Pick<PlatformConfig, "server" | "backup">,
): { readonly name: string; readonly schedule: string }[] {
    const s = config.server.snapshots;
    return [
        ...(s !== undefined && s.enabled ? [{ name: SNAPSHOT_NAME, schedule: s.schedule }] : []),
        ...(config.backup.enabled ? [{ name: BACKUP_NAME, schedule: config.backup.schedule }] : []),
    ];
}

/** Raft failures the replica count promises to survive: floor((n-1)/2). */
export function promisedFailureTolerance(replicas: number): number {
    return Math.floor((replicas - 1) / 2);
}

/** PromQL label matchers, values escaped. */
function sel(labels: Readonly<Record<string, string>>): string {
    return `{${Object.entries(labels)
        .map(([k, v]) => `${k}${v.startsWith("~") ? "=~" : "="}${JSON.stringify(v.replace(/^~/, ""))}`)
        .join(", ")}}`;
}

/** A duration in Prometheus' own notation (whole seconds). */
function promDuration(seconds: number): string {
    return `${Math.round(seconds)}s`;
}

function regexAlternatives(names: readonly string[]): string {
    return names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
}

function alert(
    name: string,
    severity: "critical" | "warning",
    expr: string,
    forDuration: string | undefined,
    summary: string,
    description: string,
): AlertRule {
    return {
        alert: name,
        expr,
        ...(forDuration === undefined ? {} : { for: forDuration }),
        labels: { severity },
        annotations: { summary, description, runbook: `${RUNBOOK}#${name.toLowerCase()}` },
    };
}

/** The ESO namespace label: `exported_namespace` when the scrape kept its own (honorLabels off), else `namespace`. */
const ES_NAMESPACE =
    "{{ if $labels.exported_namespace }}{{ $labels.exported_namespace }}{{ else }}{{ $labels.namespace }}{{ end }}";

/** The rule groups of the alert pack for this config. */
export function buildAlertRules(config: AlertsSlice): RuleGroup[] {
    const ns = config.server.namespace;
    const vault = sel({ job: vaultJob(config), namespace: ns });
    const replicas = config.server.replicas;

    const vaultRules: AlertRule[] = [
        // A sealed pod's listener still answers on Vault 1.21 (vault_core_unsealed 0), other versions fail the
        // scrape (up 0), and a stale {cluster=""} series stays beside the live one: max per target, or up.
        alert(
            "VaultSealedOrDown",
            "critical",
            `(up${vault} == 0) or (max by (namespace, instance) (vault_core_unsealed${vault}) == 0)`,
            "2m",
            "Vault {{ $labels.instance }} is sealed or not answering",
            "Vault target {{ $labels.instance }} in {{ $labels.namespace }} is sealed or its metrics listener does not answer: secrets cannot be read through it.",
        ),
        alert(
            "VaultTargetsMissing",
            "critical",
            `(count(up${vault} == 1) or vector(0)) < ${replicas}`,
            "5m",
            `Fewer than ${replicas} Vault targets answer`,
            `Prometheus scrapes {{ $value }} of the ${replicas} Vault pods in ${ns} (job ${vaultJob(config)}): pods are missing, or the scrape is broken.`,
        ),
    ];
    const tolerance = promisedFailureTolerance(replicas);
    if (config.server.storageBackend === "raft" && tolerance > 0) {
        // Autopilot runs on the active node; a standby's gauge may be stale.
        vaultRules.push(
            alert(
                "VaultRaftFailureToleranceLow",
                "warning",
                `max(vault_autopilot_failure_tolerance${vault} and on (instance) (vault_core_active${vault} == 1)) < ${tolerance}`,
                "10m",
                "Vault's raft cluster tolerates fewer failures than its replica count promises",
                `Raft tolerates {{ $value }} failed voters; ${replicas} replicas promise ${tolerance}. A peer is down, not a voter, or unhealthy.`,
            ),
        );
    }
    if (config.audit.enabled && config.audit.target === "file") {
        const audit = sel({ namespace: ns, persistentvolumeclaim: "~audit-vault-[0-9]+" });
        vaultRules.push(
            alert(
                "VaultAuditVolumeFilling",
                "critical",
                `(kubelet_volume_stats_available_bytes${audit} / kubelet_volume_stats_capacity_bytes${audit} < 0.10)` +
                    ` or (predict_linear(kubelet_volume_stats_available_bytes${audit}[6h], 86400) < 0)`,
                "15m",
                "Vault's audit volume {{ $labels.persistentvolumeclaim }} is filling",
                "The audit volume has under 10% free or fills within a day at its current rate. Vault refuses every request once no audit device can write.",
            ),
        );
    }
    const certificates = watchedCertificates(config);
    if (certificates.length > 0) {
        const warn = durationSeconds(config.monitoring.certificateExpiryWarning);
        vaultRules.push(
            alert(
                "VaultCertificateExpiring",
                "warning",
                `certmanager_certificate_expiration_timestamp_seconds${sel({ namespace: ns, name: `~${regexAlternatives(certificates)}` })} - time() < ${warn}`,
                "1h",
                "The certificate {{ $labels.name }} Vault is served with expires soon",
                `cert-manager's Certificate {{ $labels.name }} in ${ns} expires in under ${config.monitoring.certificateExpiryWarning} and was not renewed.`,
            ),
        );
    }
    const jobs = backupJobs(config);
    if (jobs.length > 0) {
        // kube-state-metrics' view of each CronJob: the last success, or since creation when it never succeeded.
        // One rule for all of them (promtool refuses two rules of one name and labels); each job its own limit.
        const terms = jobs.map((job) => {
            const limit = longestGapSeconds(job.schedule) + 3600;
            const cron = sel({ namespace: ns, cronjob: job.name });
            return {
                expr:
                    `(time() - kube_cronjob_status_last_successful_time${cron} > ${limit})` +
                    ` or ((time() - kube_cronjob_created${cron} > ${limit}) unless on (namespace, cronjob) kube_cronjob_status_last_successful_time${cron})`,
                text: `${job.name}: schedule ${job.schedule}, ${promDuration(limit)}`,
            };
        });
        vaultRules.push(
            alert(
                "VaultBackupTooOld",
                "critical",
                terms.map((t) => (terms.length === 1 ? t.expr : `(${t.expr})`)).join(" or "),
                undefined,
                "Vault's last good backup ({{ $labels.cronjob }}) is older than its schedule allows",
                `No run of the CronJob {{ $labels.cronjob }} succeeded for longer than its schedule's longest gap plus an hour (${terms.map((t) => t.text).join("; ")}).`,
            ),
        );
    }

    const es = config.externalSecrets;
    const stores = [
        es.storeName,
        ...sharedStoreMounts(config).map((m) => m.storeName),
        ...es.tenants.map((t) => tenantStoreName(es.storeName, t.name)),
    ];
    const stale = durationSeconds(config.monitoring.syncStaleAfter);
    const successes = (window: string, matchers: string) =>
        `(increase(externalsecret_sync_calls_total${matchers}[${window}]) - (increase(externalsecret_sync_calls_error${matchers}[${window}]) or increase(externalsecret_sync_calls_total${matchers}[${window}]) * 0))`;
    const esoRules: AlertRule[] = [
        alert(
            "ExternalSecretsStoreNotReady",
            "critical",
            `clustersecretstore_status_condition${sel({ name: `~${regexAlternatives(stores)}`, condition: "Ready", status: "False" })} == 1`,
            "10m",
            "ClusterSecretStore {{ $labels.name }} is not Ready",
            "External Secrets cannot log in to Vault or read the store's mount: no ExternalSecret of this store syncs.",
        ),
        alert(
            "ExternalSecretSyncErrors",
            "warning",
            "increase(externalsecret_sync_calls_error[15m]) > 0",
            "15m",
            `ExternalSecret {{ $labels.name }} in ${ES_NAMESPACE} fails to sync`,
            "Its sync calls have failed for 15 minutes: the synced Secret keeps old values or does not exist.",
        ),
        alert(
            "ExternalSecretNotSynced",
            "warning",
            `${successes(config.monitoring.syncStaleAfter, "")} < 0.5`,
            undefined,
            `ExternalSecret {{ $labels.name }} in ${ES_NAMESPACE} had no successful sync for ${config.monitoring.syncStaleAfter}`,
            `No sync succeeded within ${promDuration(stale)} (monitoring.syncStaleAfter): longer than its refresh interval.`,
        ),
    ];
    if (es.canary) {
        const canary = sel({ name: CANARY.name });
        esoRules.push(
            alert(
                "SecretPlatformCanaryFailing",
                "critical",
                `(externalsecret_status_condition${sel({ name: CANARY.name, condition: "Ready", status: "False" })} == 1)` +
                    ` or (${successes("5m", canary)} < 0.5)`,
                "5m",
                "The canary secret no longer syncs from Vault",
                `The ExternalSecret ${CANARY.name} (namespace ${CANARY.namespace}) reads the stack's canary key every ${CANARY.refreshInterval}; it is not Ready or has not synced for 5 minutes. The chain Vault, Kubernetes auth, store, ESO is broken somewhere: run npm run doctor.`,
            ),
        );
    }
    return [
        { name: "secret-platform-vault", rules: vaultRules },
        { name: "secret-platform-external-secrets", rules: esoRules },
    ];
}

/** The rule file Prometheus loads (`rule_files`): the groups as YAML, expressions on one line each. */
export function ruleFileText(groups: readonly RuleGroup[]): string {
    return YAML.stringify({ groups }, { lineWidth: 0 });
}
