import { caBundleDigest } from "../../lib/vault-init";
import { Rule } from "./rule";

/** Loopback is this machine: plain http there crosses no network. */
function isLoopback(hostname: string): boolean {
    return hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/**
 * The provider token (root-equivalent) and the unseal key shares travel to
 * vault.address: only over verified TLS, unless the stack says in so many
 * words that it accepts the risk (vault.allowInsecure). And a move names the
 * address Vault had before, not the one it has; a CA acknowledgement names the
 * configured bundle, so a typo fails the preview rather than the update.
 */
export const vaultRules: Rule = (c, _facts, fail) => {
    const v = c.vault;
    if (v.address !== undefined) {
        const url = new URL(v.address);
        if (url.protocol === "http:" && !isLoopback(url.hostname) && !v.allowInsecure) {
            fail(
                "vault.address",
                `is plain http to ${url.host}: the provider token and the unseal key shares would cross the network in clear; use https (trust a private CA with trust.caBundle), or set vault.allowInsecure: true to accept that`,
            );
        }
        if (v.movedFrom !== undefined && v.movedFrom === v.address) {
            fail(
                "vault.movedFrom",
                "is vault.address itself: it names the address Vault had before the move (remove it when nothing moved)",
            );
        }
    }
    if (v.acknowledgeCa !== undefined) {
        const expected = caBundleDigest(c.trust.caBundle);
        if (v.acknowledgeCa !== expected) {
            fail(
                "vault.acknowledgeCa",
                `is not the SHA-256 of trust.caBundle as configured: that is ${expected}${c.trust.caBundle === undefined ? " (no trust.caBundle: the empty string's)" : ""}; set it to that value to acknowledge this bundle, or remove it`,
            );
        }
    }
    if (v.skipTlsVerify && !v.allowInsecure) {
        fail(
            "vault.skipTlsVerify",
            "is true: any server could then stand in for Vault and receive the provider token and the unseal key shares; trust the CA with trust.caBundle instead, or set vault.allowInsecure: true to accept that",
        );
    }
};
