/**
 * secret-platform:trust.caBundle, the PEM bundle of the private CA(s) that
 * sign the cluster's endpoints, and how each client gets it: in memory (the
 * bootstrap client), as a file next to the project (the Vault and S3
 * providers, which read only a file path), as a ConfigMap mounted in pods
 * (Vault's S3 client, the unsealer, the snapshot job), inline (OIDC discovery,
 * the ESO stores). A CA certificate is public: none of this is secret.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { PlatformConfig } from "../config";

/** The ConfigMap (in Vault's namespace) holding the bundle as `ca.crt`. */
export const TRUST_CA_CONFIGMAP = "vault-trust-ca";
/** The bundle's key in that ConfigMap, and its file name where it is mounted. */
export const TRUST_CA_KEY = "ca.crt";
/** Where the unsealer and snapshot pods mount the ConfigMap. */
export const TRUST_CA_POD_DIR = "/vault/trust-ca";
/**
 * The directory, relative to the project directory, where the program writes
 * the bundle for the providers (gitignored).
 */
export const TRUST_CA_FILE_DIR = ".secret-platform";

/** The configured bundle, or undefined. */
export function trustBundle(config: Pick<PlatformConfig, "trust">): string | undefined {
    return config.trust.caBundle;
}

/** Whether a URL is https (only then does a client verify a certificate). */
export function isHttpsUrl(url: string | undefined): boolean {
    return url !== undefined && url.startsWith("https://");
}

/**
 * The providers' CA file: `.secret-platform/trust-ca-<sha256 prefix>.pem`,
 * relative. terraform-provider-vault (ca_cert_file) and the AWS provider
 * (custom_ca_bundle) take only a path, and that path is a provider input kept
 * in the state: an absolute path (a temp dir, a home directory) differs
 * between a laptop and a CI runner, so every preview on the other machine
 * would show a provider diff and replan everything under it. A relative path
 * is the same everywhere, and resolves right because the Pulumi engine starts
 * the program and every provider plugin in the project directory (the
 * directory of `main`, pkg/engine/project.go getPwdMain -> plugin cmd.Dir, in
 * Pulumi v3.274). Named by content: a changed bundle is a changed input (the
 * provider is reconfigured), the same bundle the same path.
 */
export function trustCaFilePath(bundle: string): string {
    const digest = crypto.createHash("sha256").update(bundle).digest("hex").slice(0, 16);
    return path.posix.join(TRUST_CA_FILE_DIR, `trust-ca-${digest}.pem`);
}

/**
 * Writes the bundle to its relative path under `projectDir` (default: the
 * program's cwd, which is the project directory) and returns the relative
 * path. The program writes it on every run (preview included), before the
 * providers that read it are configured.
 */
export function writeTrustCaFile(bundle: string, projectDir: string = process.cwd()): string {
    const rel = trustCaFilePath(bundle);
    const abs = path.join(projectDir, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    if (!fs.existsSync(abs) || fs.readFileSync(abs, "utf8") !== bundle) fs.writeFileSync(abs, bundle, { mode: 0o644 });
    return rel;
}

/** The CA the Vault pod's S3 client needs: the bundle, when the pod's S3 backend talks to a private endpoint. */
export function vaultPodS3UsesBundle(
    config: Pick<PlatformConfig, "trust" | "server"> & {
        readonly storage: Pick<PlatformConfig["storage"], "mode" | "endpoint">;
    },
): boolean {
    return (
        trustBundle(config) !== undefined &&
        config.server.storageBackend === "s3" &&
        config.storage.mode === "s3-compatible" &&
        isHttpsUrl(config.storage.endpoint)
    );
}

/** Where an in-cluster client finds the CA of Vault's own https certificate. */
export type VaultCaSource =
    { readonly kind: "secret"; readonly name: string } | { readonly kind: "configMap"; readonly name: string };

/**
 * The CA source of the pods that call Vault's in-cluster URL (unsealer,
 * snapshot job): none over http; with internal TLS an explicit
 * server.tls.caSecretName, else trust.caBundle's ConfigMap, else the TLS
 * Secret's own ca.crt (cert-manager writes one).
 */
export function inClusterVaultCa(config: Pick<PlatformConfig, "trust" | "server">): VaultCaSource | undefined {
    const tls = config.server.tls;
    if (tls.mode !== "internal") return undefined;
    if (tls.caSecretName !== undefined) return { kind: "secret", name: tls.caSecretName };
    if (trustBundle(config) !== undefined) return { kind: "configMap", name: TRUST_CA_CONFIGMAP };
    return { kind: "secret", name: tls.secretName };
}
