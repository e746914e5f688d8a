/**
 * The specs' harness: the recorder of ops/plan/program.ts (the offline plan's
 * own), and helpers only specs need (config problems, secret inputs, parents).
 */
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { ConfigError, loadConfig, PlatformConfig } from "../../components/config";
import { RecordedResource, setStackConfig, StackConfig } from "../../ops/plan/program";

export * from "../../ops/plan/program";

/** The validated config of a stack, without running a program. */
export function configOf(stack: StackConfig): PlatformConfig {
    setStackConfig(stack);
    return loadConfig();
}

/**
 * The problem lines of the ConfigError a stack's config is rejected with: by
 * loadConfig, or else by `check` on the loaded config. Fails the test when the
 * config is accepted or anything other than a ConfigError is thrown.
 */
export function configProblems(
    stack: StackConfig,
    check: (config: PlatformConfig) => void = () => undefined,
): string[] {
    try {
        check(configOf(stack));
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
        return [...e.problems];
    }
    assert.fail("expected the config to be rejected");
}

/**
 * The plaintext of an input the engine received marked secret (Pulumi's
 * signature-wrapped value); fails when it arrived in the clear.
 */
export function secretInput(input: unknown): unknown {
    assert.ok(typeof input === "object" && input !== null, `expected a secret input, got ${JSON.stringify(input)}`);
    const wire = input as Record<string, unknown>;
    assert.equal(wire[specialSigKey], specialSecretSig, `expected a secret input, got ${JSON.stringify(input)}`);
    return wire.value;
}

/** Whether an Output is marked secret. */
export function isSecret(input: unknown): Promise<boolean> {
    return pulumi.Output.isInstance(input) ? pulumi.isSecret(input as pulumi.Output<unknown>) : Promise.resolve(false);
}

/** The parent of a recorded resource, as the program set it. */
export function parentOf(r: RecordedResource): pulumi.Resource | undefined {
    return r.opts.parent;
}
