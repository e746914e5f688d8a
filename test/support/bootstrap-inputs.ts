/**
 * The inputs the bootstrap code gets for a Vault a spec (or bench) started
 * itself: Shamir, 3 shares with threshold 2, the keys Secret named as the
 * program names it, 30 s to wait. Each caller overrides what it is about.
 */
import type { BootstrapInputs, UnsealInputs } from "../../components/lib/vault-init";

export const KEYS_SECRET = "vault/vault-unseal-keys";

/** VaultInit's inputs for the Vault at `address`. */
export function initInputs(address: string, extra: Partial<BootstrapInputs> = {}): BootstrapInputs {
    return {
        address,
        skipTlsVerify: false,
        waitTimeoutSeconds: 30,
        sealType: "shamir",
        shares: 3,
        threshold: 2,
        adoptExisting: false,
        keysSecret: KEYS_SECRET,
        ...extra,
    };
}

/** VaultUnsealed's inputs for the Vault at `address`: by default no keys (this stack holds none). */
export function unsealInputs(address: string, extra: Partial<UnsealInputs> = {}): UnsealInputs {
    return {
        address,
        skipTlsVerify: false,
        waitTimeoutSeconds: 30,
        sealType: "shamir",
        keys: [],
        keysSecret: KEYS_SECRET,
        ...extra,
    };
}
