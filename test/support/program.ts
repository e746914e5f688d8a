/**
 * The specs' harness: the recorder of ops/plan/program.ts (the offline plan's
 * own), and helpers only specs need (config problems, secret inputs, parents).
 */
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { getAllResources } from "@pulumi/pulumi/output";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { ConfigError, loadConfig, PlatformConfig } from "../../components/config";
import {
    Program as RecordedProgram,
    RecordedResource,
    runProgram as recordProgram,
    setStackConfig,
    StackConfig,
    valueOf,
} from "../../ops/plan/program";
import { registeredOutputs } from "./mocks";

export * from "../../ops/plan/program";

/** A recorded run, plus what the program's own components registered as outputs. */
export interface Program<T> extends RecordedProgram<T> {
    /** The registered outputs of a component the program built; throws when it is not one. */
    outputsOf(component: pulumi.Resource): Record<string, unknown>;
}

/** The offline plan's recorder, and then the outputs of the program's components (specs assert them). */
export async function runProgram<T>(
    stack: StackConfig,
    build: (config: PlatformConfig, opts: pulumi.ComponentResourceOptions) => T,
): Promise<Program<T>> {
    // The SDK takes a stack trace for every promise it makes (kept for its leak report at exit), and
    // under tsx each one is mapped through the source maps: most of a program run's CPU under the
    // mocks. No spec reads them, so none is taken while the program runs (errors keep their
    // messages). SPEC_STACK_TRACES=1 keeps them, to see where a program run throws.
    const stackTraceLimit = Error.stackTraceLimit;
    if (process.env.SPEC_STACK_TRACES !== "1") Error.stackTraceLimit = 0;
    let recorded: RecordedProgram<T>;
    try {
        recorded = await recordProgram(stack, build);
    } finally {
        Error.stackTraceLimit = stackTraceLimit;
    }
    const outputs = await componentOutputs(recorded.resources.map((r) => r.resource).filter((r) => r !== undefined));
    return {
        ...recorded,
        outputsOf: (component) => {
            const hit = recorded.resources.find((r) => r.resource === component);
            assert.ok(hit !== undefined, "outputsOf: not a resource this program registered");
            const registered = outputs.get(component);
            assert.ok(
                registered !== undefined,
                `outputsOf: ${hit.type} ${hit.name} is not one of the program's components`,
            );
            return registered;
        },
    };
}

/** Type prefix of the program's own components (remote ones, such as helm.sh/v4's Chart, register outputs provider-side). */
const OWN_COMPONENT_TYPES = "secret-platform:";

/** The resource type a URN names (the last of its `$`-qualified types). */
function typeOfUrn(urn: string): string {
    return urn.split("::")[2].split("$").pop() ?? "";
}

/**
 * The outputs each of the program's own components among `resources`
 * registered, read from the mock monitor once they have all arrived
 * (registerResourceOutputs runs after the component's Outputs resolve, a few
 * turns after its URN). Read here, at the end of the run, because a later run
 * that registers the same URN replaces them.
 */
async function componentOutputs(resources: pulumi.Resource[]): Promise<Map<pulumi.Resource, Record<string, unknown>>> {
    const all = await Promise.all(
        resources
            .filter((r) => pulumi.ComponentResource.isInstance(r))
            .map(async (r) => ({ resource: r, urn: await valueOf(r.urn) })),
    );
    const components = all.filter((c) => typeOfUrn(c.urn).startsWith(OWN_COMPONENT_TYPES));
    const found = new Map<pulumi.Resource, Record<string, unknown>>();
    // A bound on event-loop turns, not on time: each turn lets pending registrations land.
    for (let turn = 0; turn < 1000 && found.size < components.length; turn++) {
        for (const c of components) {
            const registered = found.has(c.resource) ? undefined : registeredOutputs(c.urn);
            if (registered !== undefined) found.set(c.resource, registered);
        }
        if (found.size < components.length) await new Promise((r) => setImmediate(r));
    }
    const missing = components.filter((c) => !found.has(c.resource)).map((c) => c.urn);
    assert.deepStrictEqual(missing, [], "components whose registerOutputs never reached the engine");
    return found;
}

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

/** The problem lines a stack's config is rejected with; none when it loads (for properties over both). */
export function problemsOf(stack: StackConfig): string[] {
    try {
        configOf(stack);
        return [];
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
        return [...e.problems];
    }
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

/** The resources a readiness waits for, as `dependsOn` sees them (as the engine reads a dependsOn). */
export async function readinessResources(ready: pulumi.Input<pulumi.Resource[]>): Promise<pulumi.Resource[]> {
    const output = pulumi.output(ready);
    const listed = await new Promise<pulumi.Resource[]>((resolve) => output.apply((v) => resolve(v)));
    return [...new Set([...listed, ...(await getAllResources(output))])];
}
