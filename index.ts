// Entry point: load and validate the whole stack config (nothing is created
// when it is invalid), build the platform, export what operators need
// (components/outputs.ts: each output and what it holds).
import { loadConfig } from "./components/config";
import { stackOutputs } from "./components/outputs";
import { buildPlatform } from "./components/platform";

const config = loadConfig();
const platform = buildPlatform(config);

export const {
    vaultAddress,
    vaultNamespace,
    storageBucket,
    clusterSecretStore,
    sharedSecretStores,
    remoteClusterManifests,
    vaultInitialized,
    unsealMode,
    unsealKeysSecret,
    autheliaOidcClient,
    autheliaOidcClientConfig,
    canarySecret,
    canarySha256,
} = stackOutputs(config, platform);
