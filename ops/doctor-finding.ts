/**
 * What every doctor check shares: a finding (one printed line), its two
 * severities, and the TLS verification codes that mean "not signed by a CA we
 * trust" (as opposed to a server that is down).
 */

export type Severity = "ok" | "fault";
export interface Finding {
    readonly severity: Severity;
    /** What was checked, e.g. `vault sealed`, `kubernetes auth binding`. */
    readonly check: string;
    readonly message: string;
}

export const ok = (check: string, message: string): Finding => ({ severity: "ok", check, message });
export const fault = (check: string, message: string): Finding => ({ severity: "fault", check, message });

/** TLS verification codes Node reports when a certificate does not chain to the trusted CAs. */
export const UNTRUSTED: ReadonlySet<string> = new Set([
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "SELF_SIGNED_CERT_IN_CHAIN",
    "DEPTH_ZERO_SELF_SIGNED_CERT",
    "UNABLE_TO_GET_ISSUER_CERT",
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "CERT_UNTRUSTED",
]);

/** A list for a message: its items, or "none". */
export function listed(items: readonly string[]): string {
    return items.length === 0 ? "none" : items.join(", ");
}

/** A list field as Vault or a provider returns it: an array, or a comma-separated string. */
export function strings(v: unknown): string[] {
    return Array.isArray(v) ? v.map(String) : typeof v === "string" && v !== "" ? v.split(",") : [];
}
