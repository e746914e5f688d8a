// Entry point: load and validate the whole stack config (nothing is created
// when it is invalid), build the platform, export what operators need.
import { loadConfig } from "./components/config";
import { buildPlatform } from "./components/platform";

const config = loadConfig();
const platform = buildPlatform(config);

export const vaultAddress = config.vault.address;
export const vaultNamespace = platform.server.namespace;
export const storageBucket = platform.storage.binding.bucket;
export const clusterSecretStore = platform.externalSecrets.storeName;
/** The ClusterSecretStores of the shared KV mounts, by mount name. */
export const sharedSecretStores = platform.externalSecrets.sharedStoreNames;
/** Per remote cluster, what its admin applies there (token reviewer, stores); no secrets. */
export const remoteClusterManifests = platform.externalSecrets.remoteClusterManifests;
/** Bootstrap facts, none secret: whether Vault is initialized, how it unseals, where the unseal keys live. */
export const vaultInitialized = platform.bootstrap.initialized;
export const unsealMode = config.unseal.mode;
export const unsealKeysSecret = platform.bootstrap.unsealKeysSecret;
/** The Authelia OIDC client matching Vault's OIDC login (no secret; undefined when oidc is off). */
export const autheliaOidcClient = platform.configuration.autheliaClient;
