/**
 * The Pulumi mocks the offline plan runs the program under, and the specs too
 * (test/support/mocks.ts, loaded by .mocharc.cjs before any spec). It records
 * every resource the engine is asked to register, answers with plausible
 * computed outputs, and refuses any provider function call it does not know,
 * so a new data-source call cannot slip into the program unnoticed.
 */
import * as pulumi from "@pulumi/pulumi";

export interface Registration {
    readonly type: string;
    readonly name: string;
    /** Inputs as the engine received them (Outputs resolved, secrets unwrapped). */
    readonly inputs: Record<string, unknown>;
    readonly custom: boolean;
    readonly provider?: string;
    readonly id?: string;
}

/** Every registration since the last reset, in order. */
export const registrations: Registration[] = [];

export function resetRegistrations(): void {
    registrations.length = 0;
}

/** Computed outputs real providers add; only what the program reads. */
const computed: Record<string, (name: string, inputs: Record<string, unknown>) => Record<string, unknown>> = {
    "aws:s3/bucket:Bucket": (name, i) => ({
        bucket: i.bucket ?? name,
        arn: `arn:aws:s3:::${String(i.bucket ?? name)}`,
        region: "eu-west-1",
    }),
    "aws:s3/bucketV2:BucketV2": (name, i) => ({
        bucket: i.bucket ?? name,
        arn: `arn:aws:s3:::${String(i.bucket ?? name)}`,
    }),
    "aws:kms/key:Key": (name) => ({
        arn: `arn:aws:kms:eu-west-1:123456789012:key/${name}-key-id`,
        keyId: `${name}-key-id`,
    }),
    "aws:iam/user:User": (name, i) => ({ arn: `arn:aws:iam::123456789012:user/${String(i.name ?? name)}` }),
    "aws:iam/role:Role": (name, i) => ({ arn: `arn:aws:iam::123456789012:role/${String(i.name ?? name)}` }),
    "aws:iam/policy:Policy": (name, i) => ({ arn: `arn:aws:iam::123456789012:policy/${String(i.name ?? name)}` }),
    "aws:iam/accessKey:AccessKey": (name) => ({ id: `AKIAMOCK${name.length}`, secret: `mock-secret-${name}` }),
    // Bootstrap's dynamic resources: what create returns for a fresh Vault.
    "pulumi-nodejs:dynamic/secret-platform:VaultInit": (name, i) => ({
        initialized: true,
        adopted: false,
        rootToken: `mock-root-token-${name}`,
        keys: Array.from({ length: Number(i.shares) }, (_, k) => `mock-key-${k + 1}`),
    }),
    "pulumi-nodejs:dynamic/secret-platform:VaultUnsealed": () => ({ unsealed: true }),
    "pulumi-nodejs:dynamic/secret-platform:VaultProviderToken": (name) => ({
        token: `mock-provider-token-${name}`,
        accessor: `mock-accessor-${name}`,
        rootRevoked: true,
    }),
    // The API server's uid of a namespace (bootstrap tells Vault's server by it).
    "kubernetes:core/v1:Namespace": (name, i) => ({
        metadata: { ...(i.metadata as Record<string, unknown>), uid: `mock-uid-${name}` },
    }),
    "vault:jwt/authBackend:AuthBackend": (name) => ({ accessor: `auth_oidc_${name}` }),
    // A generated secret: 64 characters like the real one, fixed per name (the plan is stable); the
    // provider returns it as a secret output (the SDK lists result in additionalSecretOutputs).
    "random:index/randomPassword:RandomPassword": (name, i) => ({
        result: `mock-random-${name}-`.padEnd(Number(i.length ?? 16), "x"),
        bcryptHash: "$2a$10$mockmockmockmockmockmuMOCKMOCKMOCKMOCKMOCKMOCKMOCKMOC",
    }),
    "vault:index/authBackend:AuthBackend": (name) => ({ accessor: `auth_kubernetes_${name}` }),
};

/**
 * A spec's own answers for a type's computed outputs, in place of the table
 * above (e.g. a replaced RandomPassword's new result); undefined restores it.
 */
const overrides = new Map<string, (name: string, inputs: Record<string, unknown>) => Record<string, unknown>>();
export function overrideComputed(
    type: string,
    answer: ((name: string, inputs: Record<string, unknown>) => Record<string, unknown>) | undefined,
): void {
    if (answer === undefined) overrides.delete(type);
    else overrides.set(type, answer);
}

/** Provider functions the program may call, with canned answers. */
const calls: Record<string, (inputs: Record<string, unknown>) => Record<string, unknown>> = {
    "aws:index/getCallerIdentity:getCallerIdentity": () => ({
        accountId: "123456789012",
        arn: "arn:aws:iam::123456789012:user/ci",
        userId: "AIDAMOCK",
    }),
    "aws:index/getPartition:getPartition": () => ({ partition: "aws", dnsSuffix: "amazonaws.com" }),
};

void pulumi.runtime.setMocks(
    {
        newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
            const inputs = (args.inputs ?? {}) as Record<string, unknown>;
            registrations.push({
                type: args.type,
                name: args.name,
                inputs,
                custom: args.custom ?? true,
                provider: args.provider,
                id: args.id,
            });
            const extra = (overrides.get(args.type) ?? computed[args.type])?.(args.name, inputs) ?? {};
            return { id: `${args.name}-id`, state: { ...inputs, ...extra } };
        },
        call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
            const answer = calls[args.token];
            if (answer === undefined) {
                throw new Error(`unexpected provider call ${args.token}: add a canned answer to ops/plan/mocks.ts`);
            }
            return answer(args.inputs as Record<string, unknown>);
        },
    },
    "secret-platform",
    "test",
    false, // preview=false: applies run, as in `pulumi up`
);
