import { Rule } from "./rule";

/** The Ingress's class, the HTTPRoute's Gateway, and the TLS mode a Gateway can front. */
export const exposureRules: Rule = (c, _facts, fail) => {
    const e = c.exposure;
    if (e.kind === "httproute" && e.gateway === undefined) {
        fail(
            "exposure.gateway",
            "is required when exposure.kind is httproute (the parent Gateway's name and namespace)",
        );
    }
    if (e.kind === "ingress" && e.className === undefined) {
        // The Ingress that keeps the unauthenticated sys/ ceremonies off the host is built per controller
        // (components/lib/exposure.ts): the default class's controller cannot be known here, and built for
        // the wrong one the block fails open (Traefik skips a backend with no endpoints and routes `/`).
        fail(
            "exposure.className",
            "is required when exposure.kind is ingress: name the IngressClass (e.g. traefik or nginx), since the Ingress that keeps sys/generate-root, sys/rekey and the other unauthenticated ceremonies off the exposed host is built for its controller, and the cluster's default class cannot be known here",
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
