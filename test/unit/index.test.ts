import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { homelabStack } from "../support/fixtures";
import { registrations, resetRegistrations } from "../support/mocks";
import { isSecret, setStackConfig, valueOf } from "../support/program";

/**
 * The real entry point, imported as the Pulumi host imports it: its stack
 * outputs are what operators (and CI logs) see, so none may be or carry a
 * secret.
 */
describe("index.ts (the stack's entry point)", () => {
    const stack = homelabStack();
    let outputs: Record<string, unknown>;

    before(async () => {
        setStackConfig(stack);
        resetRegistrations();
        // Imported after the config is set, as the Pulumi host runs the program.
        outputs = { ...(require("../../index") as Record<string, unknown>) };
        // Let every registration the import started finish.
        await Promise.all(Object.values(outputs).map((o) => valueOf(o as pulumi.Input<unknown>)));
    });

    it("builds the platform through buildPlatform", () => {
        const platforms = registrations.filter((r) => r.type === "secret-platform:index:SecretPlatform");
        assert.deepEqual(
            platforms.map((r) => r.name),
            ["platform"],
        );
    });

    it("exports exactly the documented outputs", () => {
        assert.deepEqual(Object.keys(outputs).sort(), [
            "autheliaOidcClient",
            "autheliaOidcClientConfig",
            "canarySecret",
            "canarySha256",
            "clusterSecretStore",
            "remoteClusterManifests",
            "sharedSecretStores",
            "storageBucket",
            "unsealKeysSecret",
            "unsealMode",
            "vaultAddress",
            "vaultInitialized",
            "vaultNamespace",
        ]);
    });

    it("exports no secret and no secret value, but the Authelia client with its digest as a secret", async () => {
        const secretValues = Object.values(stack.secrets).map(String);
        assert.equal(await isSecret(outputs.autheliaOidcClientConfig), true, "autheliaOidcClientConfig is not secret");
        for (const [name, output] of Object.entries(outputs)) {
            if (name === "autheliaOidcClientConfig") continue;
            assert.equal(await isSecret(output), false, `${name} is a secret output`);
            const text = JSON.stringify(await valueOf(output as pulumi.Input<unknown>)) ?? "";
            for (const value of secretValues) assert.ok(!text.includes(value), `${name} carries a secret value`);
        }
        assert.equal(await valueOf(outputs.clusterSecretStore as pulumi.Input<string>), "vault-amiya-akn");
        assert.equal(outputs.vaultAddress, "https://vault.amiya.akn");
    });
});
