/**
 * What a valid config may still get wrong, said before anything is created:
 * each a sentence naming the key. SecretPlatform logs them (`pulumi
 * preview`/`up` print them) and the offline plan lists them.
 */
import type { PlatformConfig } from "./resolve";
import { BACKUP_RECIPIENT_PLACEHOLDER, CONFIG_NAMESPACE } from "./schema";

export type WarningSlice = Pick<PlatformConfig, "vault" | "exposure" | "server" | "backup">;

export function configWarnings(config: WarningSlice): string[] {
    const warnings: string[] = [];
    const key = (k: string) => `${CONFIG_NAMESPACE}:${k}`;
    const e = config.exposure;
    const addressHost = new URL(config.vault.address).hostname;
    if (e.kind !== "none" && addressHost !== e.host) {
        warnings.push(
            `${key("vault.address")}: ${config.vault.address} is not exposure.host (${e.host}): this program and the Vault provider reach Vault at vault.address, users at exposure.host. Leave vault.address unset to follow exposure.host, unless Vault is reached another way from where pulumi runs`,
        );
    }
    if (e.kind === "ingress" && e.certManagerIssuer === undefined) {
        warnings.push(
            `${key("exposure.tlsSecretName")}: the Ingress serves TLS from Secret ${config.server.namespace}/${e.tlsSecretName}, which nothing in this stack creates: create it (kubectl -n ${config.server.namespace} create secret tls ${e.tlsSecretName} --cert=... --key=...), or set exposure.certManagerIssuer so cert-manager issues it; without it the ingress serves its default certificate and the first pulumi up fails verifying ${config.vault.address}`,
        );
    }
    if (config.vault.allowInsecure) {
        warnings.push(
            `${key("vault.allowInsecure")}: true: the provider token (root-equivalent) and the unseal key shares go to ${config.vault.address}${config.vault.skipTlsVerify ? " without verifying its certificate" : ""} where anyone on the path can read or impersonate it; trust Vault's CA with trust.caBundle and remove vault.allowInsecure`,
        );
    }
    if (config.backup.enabled && config.backup.recipients.includes(BACKUP_RECIPIENT_PLACEHOLDER)) {
        warnings.push(
            `${key("backup.recipients")}: holds the placeholder ${BACKUP_RECIPIENT_PLACEHOLDER}, so the KV export CronJob is created suspended and NO export is taken: set the operator's age public key (age-keygen -y <key file>; docs/disaster-recovery.md#kv-export-and-import)`,
        );
    }
    return warnings;
}
