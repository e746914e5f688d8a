/**
 * The digest Authelia stores for an OIDC client secret: the `$pbkdf2-sha512$`
 * crypt format its `client_secret` accepts (go-crypt: `$pbkdf2-sha512$<iterations>$<salt>$<key>`,
 * salt and key in base64 without padding, with `.` for `+`). Node's own PBKDF2,
 * no dependency.
 */
import { createHash, pbkdf2Sync } from "node:crypto";

/** Authelia's documented iterations for pbkdf2-sha512 client secrets (go-crypt accepts 100000 and more). */
export const PBKDF2_ITERATIONS = 310000;
/** Bytes of derived key: SHA-512's output. */
const KEY_BYTES = 64;
/** Bytes of salt (go-crypt's minimum is 8; Authelia's examples use 16). */
const SALT_BYTES = 16;

/** crypt's adapted base64: the standard alphabet with `.` for `+`, no padding. */
export function adaptedBase64(bytes: Buffer): string {
    return bytes.toString("base64").replace(/=+$/, "").replace(/\+/g, ".");
}

/**
 * The salt of a secret's digest, derived from the secret itself: the digest
 * is then a pure function of the secret, so it is the same on every run (no
 * change in the stack output) and changes exactly when the secret does. A
 * random salt guards against tables built ahead for many users; the secret
 * this digests is 64 random characters (or the operator's own, already held
 * in the same encrypted state), and the digest only ever leaves as a secret.
 */
function saltOf(secret: string): Buffer {
    return createHash("sha256")
        .update("secret-platform/authelia-client-secret-salt\0")
        .update(secret)
        .digest()
        .subarray(0, SALT_BYTES);
}

const memo = new Map<string, string>();

/** `$pbkdf2-sha512$310000$<salt>$<key>` for `secret`: what Authelia's `client_secret` takes. */
export function autheliaSecretDigest(secret: string, iterations: number = PBKDF2_ITERATIONS): string {
    // ~0.3 s of CPU each: the program computes it once per secret and process.
    const memoKey = `${iterations}\0${secret}`;
    const known = memo.get(memoKey);
    if (known !== undefined) return known;
    const salt = saltOf(secret);
    const key = pbkdf2Sync(secret, salt, iterations, KEY_BYTES, "sha512");
    const digest = `$pbkdf2-sha512$${iterations}$${adaptedBase64(salt)}$${adaptedBase64(key)}`;
    memo.set(memoKey, digest);
    return digest;
}
