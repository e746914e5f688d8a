import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ALERTS_NAME, AlertsMode, RULE_FILE_KEY, RuleGroup, ruleFileText } from "./lib/alert-rules";
import { MANAGED_LABELS } from "./lib/contracts";

/** What MonitoringAlerts is built from; alertsArgs (platform-args.ts) makes it when the pack is on. */
export interface MonitoringAlertsArgs {
    /** `prometheusRule` (Prometheus Operator) or `ruleFile` (a ConfigMap with a plain rule file). */
    readonly mode: AlertsMode;
    /** The rule groups (buildAlertRules). */
    readonly groups: readonly RuleGroup[];
    /** networkPolicy.monitoringNamespace: where the scraper, and so the rules, live. */
    readonly namespace: string;
    /** monitoring.ruleLabels, beside the platform's own labels. */
    readonly labels: Readonly<Record<string, string>>;
    /** The cluster's explicit Kubernetes provider. */
    readonly provider: k8s.Provider;
}

/**
 * The alert pack (docs/monitoring.md) in the monitoring namespace: a
 * PrometheusRule for the Prometheus Operator, or a ConfigMap holding the same
 * groups as a rule file for a Prometheus configured by hand.
 */
export class MonitoringAlerts extends pulumi.ComponentResource {
    /** `<namespace>/<name>` of the PrometheusRule or ConfigMap. */
    public readonly rulesObject: pulumi.Output<string>;

    constructor(name: string, args: MonitoringAlertsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secret-platform:monitoring:MonitoringAlerts", name, {}, opts);
        const child = { parent: this, provider: args.provider };
        const metadata = {
            name: ALERTS_NAME,
            namespace: args.namespace,
            labels: { ...MANAGED_LABELS, ...args.labels },
        };
        const groups = args.groups.map((g) => ({ name: g.name, rules: g.rules }));
        const resource =
            args.mode === "prometheusRule"
                ? new k8s.apiextensions.CustomResource(
                      `${name}-prometheus-rule`,
                      { apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule", metadata, spec: { groups } },
                      child,
                  )
                : new k8s.core.v1.ConfigMap(
                      `${name}-rule-file`,
                      { metadata, data: { [RULE_FILE_KEY]: ruleFileText(groups) } },
                      child,
                  );
        this.rulesObject = pulumi.interpolate`${args.namespace}/${resource.metadata.name}`;
        this.registerOutputs({ rulesObject: this.rulesObject });
    }
}
