/**
 * Defaults that depend on other keys, decided once, before the rules run; and
 * the typed config the components read, narrowed per mode.
 */
import * as pulumi from "@pulumi/pulumi";
import { isKmsKeyArn } from "../lib/storage-policies";
import { Parsed, snapshotsSchema } from "./schema";

type StorageFields = Omit<Parsed["storage"], "mode" | "endpoint" | "forcePathStyle" | "identity" | "irsa">;
type Irsa = NonNullable<Parsed["storage"]["irsa"]>;

/** aws mode: a bucket with IAM and KMS made here; `identity` defaults to user. */
export type AwsStorage = StorageFields & {
    readonly mode: "aws";
    readonly endpoint?: undefined;
    /** Default false. */
    readonly forcePathStyle: boolean;
} & ({ readonly identity: "user"; readonly irsa?: undefined } | { readonly identity: "role"; readonly irsa: Irsa });

/** s3-compatible mode (Garage, MinIO): an endpoint, and no AWS identity options. */
export type S3CompatibleStorage = StorageFields & {
    readonly mode: "s3-compatible";
    readonly endpoint: string;
    /** Default true. */
    readonly forcePathStyle: boolean;
    readonly identity?: undefined;
    readonly irsa?: undefined;
};

type UnsealFields = Omit<Parsed["unseal"], "mode" | "kmsKeyId" | "kmsRegion">;
/** The awskms seal. kmsKeyId is set with s3-compatible storage (the rules require it); unset in aws mode, a key is made. */
export type AwsKmsUnseal = UnsealFields & {
    readonly mode: "awskms";
    readonly kmsKeyId?: string;
    /** Default: the region in a kmsKeyId ARN, else storage.region (aws mode). */
    readonly kmsRegion: string;
};
/** Shamir keys in a Secret, submitted by the unsealer. */
export type ShamirUnseal = UnsealFields & {
    readonly mode: "shamir";
    readonly kmsKeyId?: undefined;
    /** storage.region (unused by the Shamir seal). */
    readonly kmsRegion: string;
};

/** TLS ends at the ingress; Vault listens in plain HTTP. */
export interface IngressTls {
    readonly mode: "ingress";
    readonly secretName?: string;
    readonly caSecretName?: string;
}
/** Vault serves TLS itself, from a Secret with tls.crt and tls.key. */
export interface InternalTls {
    readonly mode: "internal";
    readonly secretName: string;
    /** Secret holding ca.crt when a private CA signed the certificate. */
    readonly caSecretName?: string;
}

type Snapshots = NonNullable<Parsed["server"]["snapshots"]>;
export type ServerConfig = Omit<Parsed["server"], "tls" | "snapshots"> & {
    readonly tls: IngressTls | InternalTls;
    /** Defined with raft storage only: on unless configured off. */
    readonly snapshots?: Snapshots;
};

type ExposureFields = Omit<Parsed["exposure"], "kind" | "host" | "gateway">;
type Gateway = NonNullable<Parsed["exposure"]["gateway"]>;
export type ExposureConfig = ExposureFields & {
    /** Default vault.<cluster.domain>. */
    readonly host: string;
} & (
        | { readonly kind: "httproute"; readonly gateway: Gateway }
        | { readonly kind: "ingress" | "none"; readonly gateway?: undefined }
    );

type OidcFields = Omit<Parsed["oidc"], "enabled" | "issuer">;
/** OIDC login on: the issuer is known; the client secret is the operator's, or generated. */
export type OidcEnabled = OidcFields & {
    readonly enabled: true;
    readonly issuer: string;
    /** The oidcClientSecret key, as a secret Output; unset: VaultConfiguration generates one. */
    readonly clientSecret?: pulumi.Output<string>;
};
export type OidcDisabled = OidcFields & {
    readonly enabled: false;
    readonly issuer?: string;
    readonly clientSecret?: undefined;
};

type RemoteClusterFields = Parsed["kubernetesAuth"]["remoteClusters"][number];
/** A remote cluster, with its token-reviewer JWT from remoteClusterReviewerJwts. */
export type RemoteCluster = RemoteClusterFields & { readonly reviewerJwt: pulumi.Output<string> };
export type KubernetesAuthConfig = Omit<Parsed["kubernetesAuth"], "path" | "remoteClusters"> & {
    /** Default kubernetes-<cluster.name>. */
    readonly path: string;
    readonly remoteClusters: readonly RemoteCluster[];
};

/** The secret keys no mode owns, only ever as secret Outputs. */
export interface PlatformSecrets {
    readonly storageAccessKeyId?: pulumi.Output<string>;
    readonly storageSecretAccessKey?: pulumi.Output<string>;
    readonly sealAccessKeyId?: pulumi.Output<string>;
    readonly sealSecretAccessKey?: pulumi.Output<string>;
    readonly snapshotAccessKeyId?: pulumi.Output<string>;
    readonly snapshotSecretAccessKey?: pulumi.Output<string>;
    readonly vaultToken?: pulumi.Output<string>;
}

/** The validated, defaulted stack config every component reads. */
export interface PlatformConfig {
    readonly cluster: Parsed["cluster"];
    readonly storage: AwsStorage | S3CompatibleStorage;
    readonly unseal: AwsKmsUnseal | ShamirUnseal;
    readonly server: ServerConfig;
    readonly exposure: ExposureConfig;
    readonly networkPolicy: Parsed["networkPolicy"];
    /** address: default https://<exposure.host>. */
    readonly vault: Parsed["vault"] & { readonly address: string };
    readonly trust: Parsed["trust"];
    readonly audit: Parsed["audit"];
    readonly kv: Parsed["kv"];
    readonly oidc: OidcEnabled | OidcDisabled;
    readonly kubernetesAuth: KubernetesAuthConfig;
    /** storeName: default vault-<cluster.name with '.' as '-'>. */
    readonly externalSecrets: Parsed["externalSecrets"] & { readonly storeName: string };
    readonly monitoring: Parsed["monitoring"];
    readonly kubernetes: Parsed["kubernetes"];
    /** bucket: default storage.bucket. */
    readonly backup: Parsed["backup"] & { readonly bucket: string };
    readonly secrets: PlatformSecrets;
}

/**
 * Every default applied, before the rules have checked it: the modes' fields
 * are as loose as the user may have written them. The rules check this; once
 * they pass it is a PlatformConfig.
 */
export interface ResolvedConfig extends Omit<
    PlatformConfig,
    "storage" | "unseal" | "server" | "exposure" | "oidc" | "kubernetesAuth"
> {
    readonly storage: Omit<Parsed["storage"], "forcePathStyle"> & { readonly forcePathStyle: boolean };
    readonly unseal: Omit<Parsed["unseal"], "mode"> & { readonly mode: "awskms" | "shamir" };
    readonly server: Parsed["server"];
    readonly exposure: Parsed["exposure"] & { readonly host: string };
    readonly oidc: Parsed["oidc"] & { readonly clientSecret?: pulumi.Output<string> };
    readonly kubernetesAuth: Omit<KubernetesAuthConfig, "remoteClusters"> & {
        readonly remoteClusters: readonly (RemoteClusterFields & { readonly reviewerJwt?: pulumi.Output<string> })[];
    };
}

/** The plain values of the secret keys that are set (never logged, wrapped as secrets here). */
export interface SecretValues {
    readonly oidcClientSecret?: string;
    readonly storageAccessKeyId?: string;
    readonly storageSecretAccessKey?: string;
    readonly sealAccessKeyId?: string;
    readonly sealSecretAccessKey?: string;
    readonly snapshotAccessKeyId?: string;
    readonly snapshotSecretAccessKey?: string;
    readonly vaultToken?: string;
    readonly remoteClusterReviewerJwts?: Readonly<Record<string, string>>;
}

/** The region in a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); undefined for an alias or bare id. */
function kmsKeyArnRegion(keyId: string | undefined): string | undefined {
    return keyId !== undefined && isKmsKeyArn(keyId) ? keyId.split(":")[3] : undefined;
}

/** The default unseal mode of a storage mode: AWS has KMS; elsewhere the keys stay in the cluster. */
function defaultUnsealMode(storageMode: Parsed["storage"]["mode"]): "awskms" | "shamir" {
    return storageMode === "aws" ? "awskms" : "shamir";
}

/** Applies every default that depends on another key: the one place they are decided. */
export function resolveDefaults(c: Parsed, secrets: SecretValues = {}): ResolvedConfig {
    const aws = c.storage.mode === "aws";
    const unsealMode = c.unseal.mode ?? defaultUnsealMode(c.storage.mode);
    const host = c.exposure.host ?? `vault.${c.cluster.domain}`;
    const secret = (value: string | undefined) => (value === undefined ? undefined : pulumi.secret(value));
    const jwts = secrets.remoteClusterReviewerJwts;
    const arnRegion = kmsKeyArnRegion(c.unseal.kmsKeyId);
    return {
        ...c,
        storage: {
            ...c.storage,
            forcePathStyle: c.storage.forcePathStyle ?? !aws,
            // An AWS option: left as given elsewhere, for the rules to refuse.
            identity: aws ? (c.storage.identity ?? "user") : c.storage.identity,
        },
        unseal: {
            ...c.unseal,
            mode: unsealMode,
            // A key ARN names its region; storage.region is AWS's only in aws mode, so the
            // awskms seal on s3-compatible storage gets no fallback (the rules then ask for it).
            kmsRegion:
                c.unseal.kmsRegion ?? arnRegion ?? (unsealMode === "awskms" && !aws ? undefined : c.storage.region),
        },
        server: {
            ...c.server,
            // raft: snapshots on unless configured off; s3: as given, for the rules to refuse.
            snapshots:
                c.server.storageBackend === "raft"
                    ? snapshotsSchema.parse(c.server.snapshots ?? {})
                    : c.server.snapshots,
        },
        exposure: { ...c.exposure, host },
        backup: { ...c.backup, bucket: c.backup.bucket ?? c.storage.bucket },
        vault: { ...c.vault, address: c.vault.address ?? `https://${host}` },
        oidc: { ...c.oidc, clientSecret: c.oidc.enabled ? secret(secrets.oidcClientSecret) : undefined },
        kubernetesAuth: {
            ...c.kubernetesAuth,
            path: c.kubernetesAuth.path ?? `kubernetes-${c.cluster.name}`,
            remoteClusters: c.kubernetesAuth.remoteClusters.map((r) => ({
                ...r,
                reviewerJwt: secret(jwts?.[r.name]),
            })),
        },
        externalSecrets: {
            ...c.externalSecrets,
            storeName: c.externalSecrets.storeName ?? `vault-${c.cluster.name.replace(/\./g, "-")}`,
        },
        secrets: {
            storageAccessKeyId: secret(secrets.storageAccessKeyId),
            storageSecretAccessKey: secret(secrets.storageSecretAccessKey),
            sealAccessKeyId: secret(secrets.sealAccessKeyId),
            sealSecretAccessKey: secret(secrets.sealSecretAccessKey),
            snapshotAccessKeyId: secret(secrets.snapshotAccessKeyId),
            snapshotSecretAccessKey: secret(secrets.snapshotSecretAccessKey),
            vaultToken: secret(secrets.vaultToken),
        },
    };
}

/** Compiles only when T is true. */
type Holds<T extends true> = T;
/** PlatformConfig only narrows ResolvedConfig, which load.ts's one cast relies on: the build fails otherwise. */
export type PlatformConfigNarrowsResolved = Holds<PlatformConfig extends ResolvedConfig ? true : false>;
