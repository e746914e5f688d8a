/**
 * Builds the real program for a given config under the mocks (./mocks.ts) and
 * returns what it registered: the engine's view (inputs) joined with the
 * program's view (resource options: parent, dependsOn, protect, provider).
 * The offline plan records with it, and so do the specs (test/support/program.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { getAllResources } from "@pulumi/pulumi/output";
import { CONFIG_NAMESPACE, loadConfig, PlatformConfig } from "../../components/config";
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
    /** Keys outside the project's namespace, in full (`kubernetes:context`), as the engine passes them too. */
    readonly foreign?: Record<string, unknown>;
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
    for (const [key, value] of Object.entries(config.foreign ?? {})) {
        all[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    pulumi.runtime.setAllConfig(all, secretKeys);
}

/** Resolves an Output (or plain value) in a test. */
export function valueOf<T>(input: pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(input).apply((v) => resolve(v as T)));
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

/** The explicit dependsOn of a recorded resource, flattened. */
export async function dependsOnOf(r: RecordedResource): Promise<pulumi.Resource[]> {
    return [...new Set(await explicitDependencies(r.opts.dependsOn))];
}

/**
 * What the SDK makes of a `dependsOn` (runtime/dependsOn.ts): the resources
 * listed, and for an Output also the resources it depends on (readiness
 * Outputs carry their resources that way: components/lib/readiness.ts).
 */
async function explicitDependencies(deps: unknown): Promise<pulumi.Resource[]> {
    if (deps === undefined || deps === null) return [];
    if (Array.isArray(deps)) return (await Promise.all(deps.map(explicitDependencies))).flat();
    if (deps instanceof Promise) return explicitDependencies(await deps);
    if (pulumi.Output.isInstance(deps)) {
        const output = deps as pulumi.Output<unknown>;
        const listed = await explicitDependencies(await valueOf(output));
        return [...listed, ...(await getAllResources(output))];
    }
    return [deps as pulumi.Resource];
}
