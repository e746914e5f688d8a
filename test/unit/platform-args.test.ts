import { strict as assert } from "node:assert";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { PlatformConfig } from "../../components/config";
import {
    bootstrapArgs,
    externalSecretsArgs,
    serverArgs,
    setupArgs,
    snapshotsArgs,
    storageArgs,
} from "../../components/platform-args";
import { StorageBinding } from "../../components/storage";
import { awsStack, homelabStack } from "../support/fixtures";
import { configOf, isSecret, runProgram, StackConfig } from "../support/program";

interface Providers {
    readonly config: PlatformConfig;
    readonly provider: k8s.Provider;
    readonly vaultProvider: vault.Provider;
}

/** The config and the two providers the args carry, registered under the mocks. */
async function withProvider(stack: StackConfig): Promise<Providers> {
    const p = await runProgram(stack, (config, opts) => ({
        config,
        provider: new k8s.Provider("k8s", {}, opts),
        vaultProvider: new vault.Provider("vault", { address: config.vault.address }, opts),
    }));
    return p.result;
}

const binding = (c: PlatformConfig): StorageBinding => ({
    bucket: pulumi.output(c.storage.bucket),
    region: c.storage.region,
    forcePathStyle: c.storage.forcePathStyle,
});

describe("platform-args: config -> each component's Args", () => {
    it("storageArgs: the storage and seal settings, and the storage keys as secret Outputs", async () => {
        const c = configOf(homelabStack());
        const a = storageArgs(c);
        assert.equal(a.storage, c.storage);
        assert.equal(a.unseal, c.unseal);
        assert.equal(a.clusterName, "amiya.akn");
        assert.equal(a.vaultNamespace, c.server.namespace);
        assert.equal(a.caBundle, undefined);
        assert.ok(a.credentials !== undefined, "s3-compatible mode has static keys");
        assert.equal(await isSecret(a.credentials.secretAccessKey), true);
        assert.equal(a.sealCredentials, undefined);
        assert.equal(storageArgs(configOf(awsStack())).credentials, undefined, "aws mode makes its own keys");
    });

    it("serverArgs: the server's keys, and of oidc, storage and externalSecrets only the fields it reads", async () => {
        const { config, provider } = await withProvider(homelabStack());
        const a = serverArgs(config, binding(config), provider);
        assert.deepEqual(Object.keys(a.config).sort(), [
            "audit",
            "backup",
            "exposure",
            "externalSecrets",
            "networkPolicy",
            "oidc",
            "server",
            "storage",
            "trust",
            "unseal",
        ]);
        // The OIDC client secret never reaches the server component.
        assert.deepEqual(a.config.oidc, { enabled: true });
        assert.deepEqual(a.config.storage, { mode: "s3-compatible", endpoint: "https://s3.amiya.akn" });
        assert.deepEqual(a.config.externalSecrets, { namespace: config.externalSecrets.namespace });
        // Of the backup, only the switch its NetworkPolicies follow (never the recipients or images).
        assert.deepEqual(a.config.backup, { enabled: false });
    });

    it("bootstrapArgs: of the secrets only vaultToken, and the rendered pulumi policy", async () => {
        const { config, provider } = await withProvider(homelabStack());
        const server = {
            namespace: pulumi.output("vault"),
            identity: pulumi.output("uid-of-vault"),
            revision: pulumi.output("digest-of-the-chart"),
            internalUrl: "http://vault.vault.svc:8200",
            ready: pulumi.output([] as pulumi.Resource[]),
        };
        const a = bootstrapArgs(config, server, provider);
        assert.deepEqual(Object.keys(a.config).sort(), ["secrets", "server", "trust", "unseal", "vault"]);
        assert.deepEqual(Object.keys(a.config.secrets), ["vaultToken"]);
        assert.equal(a.pulumiPolicy.name, "pulumi");
    });

    it("setupArgs, snapshotsArgs, externalSecretsArgs: their slices, and readiness handed on as given", async () => {
        const { config, provider, vaultProvider } = await withProvider(homelabStack());
        const ready = pulumi.output([] as pulumi.Resource[]);
        const setup = setupArgs(config, { vaultProvider, ready });
        assert.equal(setup.provider, vaultProvider);
        assert.equal(setup.ready, ready);
        assert.deepEqual(setup.config.storage, { protect: config.storage.protect });
        assert.equal("secrets" in setup.config, false);
        const configuration = {
            kubernetesAuthPath: pulumi.output("kubernetes-amiya.akn"),
            externalSecretsRole: pulumi.output("external-secrets"),
            clusterMount: pulumi.output("amiya.akn"),
            ready,
        };
        const eso = externalSecretsArgs(
            config,
            { internalUrl: "http://vault.vault.svc:8200" },
            configuration,
            provider,
        );
        assert.equal(eso.ready, ready);
        assert.equal(eso.vaultUrl, "http://vault.vault.svc:8200");
        assert.equal("secrets" in eso.config, false);
        const snap = snapshotsArgs(
            config,
            { namespace: pulumi.output("vault") },
            binding(config),
            configuration,
            provider,
        );
        assert.deepEqual(snap.ready, [], "no snapshot role: nothing to wait for");
        assert.deepEqual(snap.config.storage, { prefix: "vault/" });
    });
});
