import { Rule } from "./rule";

/** The HTTPRoute's Gateway, and the TLS mode a Gateway can front. */
export const exposureRules: Rule = (c, _facts, fail) => {
    const e = c.exposure;
    if (e.kind === "httproute" && e.gateway === undefined) {
        fail(
            "exposure.gateway",
            "is required when exposure.kind is httproute (the parent Gateway's name and namespace)",
        );
    }
    if (e.kind !== "httproute" && e.gateway !== undefined)
        fail("exposure.gateway", "is only used when exposure.kind is httproute");
    if (e.kind === "httproute" && c.server.tls.mode === "internal") {
        // The Gateway would need a BackendTLSPolicy with Vault's CA, which this program does not build.
        fail(
            "server.tls.mode",
            "internal is not supported with exposure.kind httproute (the Gateway would need a BackendTLSPolicy trusting Vault's CA, which this program does not create): use server.tls.mode ingress, or exposure.kind ingress",
        );
    }
};
