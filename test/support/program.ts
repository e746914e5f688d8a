/**
 * Builds the real program for a given config under the shared mocks and
 * returns what it registered: the engine's view (inputs) joined with the
 * program's view (resource options: parent, dependsOn, protect, provider).
 */
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { CONFIG_NAMESPACE, ConfigError, loadConfig, PlatformConfig } from "../../components/config";
import { registrations, resetRegistrations, Registration } from "./mocks";

export interface RecordedResource extends Registration {
    readonly resource: pulumi.Resource;
    readonly opts: pulumi.CustomResourceOptions & pulumi.ComponentResourceOptions;
    /** The props object the program passed (Outputs still wrapped). */
    readonly props: Record<string, unknown>;
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
    // The SDK takes a stack trace for every promise it makes (kept for its leak report at exit), and
    // under tsx each one is mapped through the source maps: that was most of a program run's CPU under
    // the mocks. No spec reads them, so none is taken while the program runs (errors keep their
    // messages). SPEC_STACK_TRACES=1 keeps them, to see where a program run throws.
    const stackTraceLimit = Error.stackTraceLimit;
    if (process.env.SPEC_STACK_TRACES !== "1") Error.stackTraceLimit = 0;
    let config: PlatformConfig;
    let result: T;
    try {
        config = loadConfig();
        result = build(config, { transformations: [record] });
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
    } finally {
        Error.stackTraceLimit = stackTraceLimit;
    }

    const joined: RecordedResource[] = registrations.map((reg) => {
        const match = seen.find((s) => s.type === reg.type && s.name === reg.name);
        return {
            ...reg,
            resource: match?.resource as pulumi.Resource,
            opts: match?.opts ?? {},
            props: match?.props ?? {},
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
    };
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
