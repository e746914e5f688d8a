/**
 * The stack config: schema.ts (each key's shape, schema defaults and docs),
 * resolve.ts (defaults derived from other keys, and the typed config),
 * rules/ (checks between fields, by concern), load.ts (the one pass).
 */
export { ConfigError, echo, loadConfig, requiredSecretKeys, secretNeeds, stackConfigSource } from "./load";
export type { ConfigSource, SecretNeeds } from "./load";
export type {
    AwsKmsUnseal,
    AwsStorage,
    ExposureConfig,
    IngressTls,
    InternalTls,
    KubernetesAuthConfig,
    OidcDisabled,
    OidcEnabled,
    PlatformConfig,
    PlatformSecrets,
    RemoteCluster,
    S3CompatibleStorage,
    ServerConfig,
    ShamirUnseal,
} from "./resolve";
export { configWarnings } from "./warnings";
export { CONFIG_NAMESPACE, CONFIG_SCHEMAS, durationSeconds, OBJECT_KEYS, REQUIRED_KEYS, SECRET_KEYS } from "./schema";
export type { ObjectKey, SecretKey } from "./schema";
