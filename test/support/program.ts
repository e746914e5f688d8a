/**
 * Builds the real program for a given config under the shared mocks and
 * returns what it registered: the engine's view (inputs) joined with the
 * program's view (resource options: parent, dependsOn, protect, provider).
 */
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { CONFIG_NAMESPACE, ConfigError, loadConfig, PlatformConfig } from "../../components/config";
import { registeredOutputs, registrations, resetRegistrations, Registration } from "./mocks";

export interface RecordedResource extends Registration {
    readonly resource: pulumi.Resource;
    readonly opts: pulumi.CustomResourceOptions & pulumi.ComponentResourceOptions;
    /** The props object the program passed (Outputs still wrapped). */
    readonly props: Record<string, unknown>;
    /**
     * For one of the program's components (types secret-platform:*): what it passed to registerOutputs, as the engine
     * received it (resolved, secrets signature-wrapped as in `inputs`,
     * undefined values dropped). Undefined for custom resources.
     */
    readonly outputs?: Record<string, unknown>;
}

export interface Program<T> {
    readonly result: T;
    readonly config: PlatformConfig;
    readonly resources: readonly RecordedResource[];
    /** The one resource of this type and logical name; throws when absent. */
    find(type: string, name: string): RecordedResource;
    /** Every resource of a type (a type token, or a prefix ending in ':'). */
    ofType(type: string): RecordedResource[];
    /** Resources whose type starts with a package prefix such as "aws:". */
    ofPackage(prefix: string): RecordedResource[];
    /** The registered outputs of a component the program built; throws when it is not one. */
    outputsOf(component: pulumi.Resource): Record<string, unknown>;
}

/** Stack config for a run: plain values, and secret values set with --secret. */
export interface StackConfig {
    readonly values: Record<string, unknown>;
    readonly secrets?: Record<string, unknown>;
}

/** Sets the mocked stack config; objects are passed as JSON, as the CLI does. */
export function setStackConfig(config: StackConfig): void {
    const all: Record<string, string> = {};
    const secretKeys: string[] = [];
    const put = (key: string, value: unknown) => {
        all[`${CONFIG_NAMESPACE}:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
    };
    for (const [key, value] of Object.entries(config.values)) put(key, value);
    for (const [key, value] of Object.entries(config.secrets ?? {})) {
        put(key, value);
        secretKeys.push(`${CONFIG_NAMESPACE}:${key}`);
    }
    pulumi.runtime.setAllConfig(all, secretKeys);
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

/** Resolves an Output (or plain value) in a test. */
export function valueOf<T>(input: pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(input).apply((v) => resolve(v as T)));
}

/** Whether an Output is marked secret. */
export function isSecret(input: unknown): Promise<boolean> {
    return pulumi.Output.isInstance(input) ? pulumi.isSecret(input as pulumi.Output<unknown>) : Promise.resolve(false);
}

/**
 * Runs `build` with config loaded from `stack`, records every resource it and
 * its children register, and waits until nothing new is registered.
 */
export async function runProgram<T>(
    stack: StackConfig,
    build: (config: PlatformConfig, opts: pulumi.ComponentResourceOptions) => T,
): Promise<Program<T>> {
    setStackConfig(stack);
    resetRegistrations();
    const seen: {
        resource: pulumi.Resource;
        type: string;
        name: string;
        opts: pulumi.ResourceOptions;
        props: Record<string, unknown>;
    }[] = [];
    const record: pulumi.ResourceTransformation = (args) => {
        seen.push({
            resource: args.resource,
            type: args.type,
            name: args.name,
            opts: args.opts,
            props: args.props as Record<string, unknown>,
        });
        return undefined;
    };
    const config = loadConfig();
    const result = build(config, { transformations: [record] });
    if (pulumi.Resource.isInstance(result)) {
        seen.unshift({ resource: result, type: "", name: "", opts: {}, props: {} });
    }

    // Wait until every recorded resource has its URN, and nothing new appeared.
    let settled = -1;
    while (settled !== seen.length) {
        settled = seen.length;
        await Promise.all(seen.map((s) => valueOf(s.resource.urn)));
        await new Promise((r) => setImmediate(r));
    }
    const outputs = await componentOutputs(seen.map((s) => s.resource));

    const joined: RecordedResource[] = registrations.map((reg) => {
        const match = seen.find((s) => s.type === reg.type && s.name === reg.name);
        return {
            ...reg,
            resource: match?.resource as pulumi.Resource,
            opts: match?.opts ?? {},
            props: match?.props ?? {},
            outputs: match === undefined ? undefined : outputs.get(match.resource),
        };
    });
    const find = (type: string, name: string) => {
        const hits = joined.filter((r) => r.type === type && r.name === name);
        if (hits.length !== 1) {
            const names = joined.filter((r) => r.type === type).map((r) => r.name);
            const others = names.length > 0 ? names.join(", ") : "none";
            throw new Error(`expected one ${type} named ${name}, found ${hits.length} (of this type: ${others})`);
        }
        return hits[0];
    };
    return {
        result,
        config,
        resources: joined,
        find,
        ofType: (type) => joined.filter((r) => (type.endsWith(":") ? r.type.startsWith(type) : r.type === type)),
        ofPackage: (prefix) => joined.filter((r) => r.type.startsWith(prefix)),
        outputsOf: (component) => {
            const hit = joined.find((r) => r.resource === component);
            assert.ok(hit !== undefined, "outputsOf: not a resource this program registered");
            assert.ok(
                hit.outputs !== undefined,
                `outputsOf: ${hit.type} ${hit.name} is not one of the program's components`,
            );
            return hit.outputs;
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

/** The parent of a recorded resource, as the program set it. */
export function parentOf(r: RecordedResource): pulumi.Resource | undefined {
    return r.opts.parent;
}

/** The explicit dependsOn of a recorded resource, flattened. */
export async function dependsOnOf(r: RecordedResource): Promise<pulumi.Resource[]> {
    const deps = r.opts.dependsOn;
    if (deps === undefined) return [];
    const resolved = await valueOf(deps as pulumi.Input<pulumi.Input<pulumi.Resource>[] | pulumi.Resource>);
    const list = Array.isArray(resolved) ? resolved : [resolved];
    return Promise.all(list.map((d) => valueOf(d as pulumi.Input<pulumi.Resource>)));
}
