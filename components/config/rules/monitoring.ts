import { Rule } from "./rule";

/** The alert pack goes to the scraper's namespace: asking for it without one is a mistake, not a silent no-op. */
export const monitoringRules: Rule = (c, _facts, fail) => {
    const alerts = c.monitoring.alerts;
    if (alerts !== undefined && alerts !== "off" && c.networkPolicy.monitoringNamespace === undefined) {
        fail(
            "monitoring.alerts",
            `${alerts} needs networkPolicy.monitoringNamespace (the namespace of the Prometheus that loads the rules); set it, or leave monitoring.alerts unset`,
        );
    }
};
