import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "./config";

/** What the Vault server needs to know about its storage and seal. */
export interface StorageBinding {
    readonly bucket: pulumi.Output<string>;
    readonly region: string;
    /** S3-compatible endpoint; undefined on AWS. */
    readonly endpoint?: string;
    readonly forcePathStyle: boolean;
    /** Key prefix inside the bucket (Vault's `path`). */
    readonly prefix?: string;
    /** SSE-KMS key for Vault's `kms_key_id` (aws mode). */
    readonly storageKmsKeyId?: pulumi.Output<string>;
    /** The awskms seal's key (created here in aws mode, or the configured one). */
    readonly seal?: { readonly kmsKeyId: pulumi.Output<string>; readonly region: string };
    /** Static credentials for the S3 backend, as secret Outputs. */
    readonly credentials?: {
        readonly accessKeyId: pulumi.Output<string>;
        readonly secretAccessKey: pulumi.Output<string>;
    };
    /** Static credentials for the awskms seal when they differ from the storage's (s3-compatible mode). */
    readonly sealCredentials?: {
        readonly accessKeyId: pulumi.Output<string>;
        readonly secretAccessKey: pulumi.Output<string>;
    };
    /** IAM role for IRSA / pod identity (aws mode, identity role). */
    readonly roleArn?: pulumi.Output<string>;
}

export interface VaultStorageArgs {
    /** The validated stack config. */
    readonly config: PlatformConfig;
}

/** Vault's S3 storage: the hardened bucket with IAM and KMS on AWS, or a bucket on an S3-compatible endpoint. */
export class VaultStorage extends pulumi.ComponentResource {
    public readonly binding: StorageBinding;

    constructor(name: string, args: VaultStorageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secret-platform:storage:VaultStorage", name, {}, opts);
        const s = args.config.storage;
        this.binding = {
            bucket: pulumi.output(s.bucket),
            region: s.region,
            endpoint: s.endpoint,
            forcePathStyle: s.forcePathStyle,
            prefix: s.prefix,
        };
        this.registerOutputs({ bucket: this.binding.bucket });
    }
}
