/**
 * The stack outputs, from the config and the built platform: index.ts exports
 * them, and the offline plan shows them (the Authelia client must exist
 * before the first `pulumi up`, so the plan prints its definition).
 */
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "./config";
import { SecretPlatform } from "./platform";

export function stackOutputs(config: PlatformConfig, platform: SecretPlatform) {
    return {
        vaultAddress: config.vault.address,
        vaultNamespace: platform.server.namespace,
        storageBucket: platform.storage.binding.bucket,
        clusterSecretStore: platform.externalSecrets.storeName,
        /** The ClusterSecretStores of the shared KV mounts, by mount name. */
        sharedSecretStores: platform.externalSecrets.sharedStoreNames,
        /** Per remote cluster, what its admin applies there (token reviewer, stores); no secrets. */
        remoteClusterManifests: platform.externalSecrets.remoteClusterManifests,
        /** Bootstrap facts, none secret: whether Vault is initialized, how it unseals, where the unseal keys live. */
        vaultInitialized: platform.bootstrap.initialized,
        unsealMode: config.unseal.mode,
        unsealKeysSecret: platform.bootstrap.unsealKeysSecret,
        /** The Authelia OIDC client matching Vault's OIDC login (no secret; undefined when oidc is off). */
        autheliaOidcClient: platform.configuration.autheliaClient,
        /**
         * The same client with `client_secret`: the digest of the client secret, in the form Authelia's
         * configuration takes. A secret output (`pulumi stack output --show-secrets autheliaOidcClientConfig`);
         * undefined when oidc is off.
         */
        autheliaOidcClientConfig: platform.configuration.autheliaClientConfig,
        /**
         * The canary (docs/monitoring.md#the-canary): the synced Secret, and the SHA-256 of the value the stack
         * wrote, which that Secret's key sha256 must equal. Undefined with externalSecrets.canary off.
         */
        canarySecret: platform.externalSecrets.canarySecret,
        canarySha256: platform.configuration.canarySha256,
    } satisfies Record<string, pulumi.Input<unknown> | undefined>;
}

export type StackOutputs = ReturnType<typeof stackOutputs>;
