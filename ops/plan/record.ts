/**
 * Records the offline plan of a stack: runs the real program (loadConfig +
 * buildPlatform) under the Pulumi mocks of ./mocks.ts and turns what it
 * registered into a Plan. Secret inputs are masked twice over: by the
 * secretness the program gave them (the engine's secret wrappers and
 * pulumi.isSecret on the Outputs it passed), and by value, so a secret that
 * lost its secretness on the way is masked too and reported as a warning.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { configWarnings, PlatformConfig } from "../../components/config";
import { stackOutputs } from "../../components/outputs";
import { buildPlatform, SecretPlatform } from "../../components/platform";
// Installs the mocks (setMocks) once per process; a no-op when mocha already loaded it.
import "./mocks";
import { dependsOnOf, RecordedResource, runProgram, StackConfig, valueOf } from "./program";
import { PROJECT_ROOT, StackFile } from "../stack-file";
import {
    isDynamic,
    isProvider,
    joinPath,
    Plan,
    PLAN_FORMAT,
    PlanResource,
    SECRET_MASK,
    sortKeys,
    summarize,
    UNMARKED_SECRET_MASK,
} from "./model";

/** Builds the program from a validated config; the real one unless a test passes its own. */
export type Build = (config: PlatformConfig, opts: pulumi.ComponentResourceOptions) => unknown;

/** Resource options recorded when the program sets them (they change what the engine does). */
const RECORDED_OPTIONS = [
    "protect",
    "retainOnDelete",
    "deleteBeforeReplace",
    "ignoreChanges",
    "replaceOnChanges",
    "additionalSecretOutputs",
    "customTimeouts",
    "import",
    "version",
] as const;

const rpc = pulumi.runtime;

/** Runs the program of a stack file (secrets are its placeholders) and returns its plan. */
export async function planStackFile(file: StackFile, build: Build = buildPlatform): Promise<Plan> {
    const plan = await recordPlan(
        file.stack,
        { values: file.values, secrets: file.secrets, foreign: file.foreign },
        build,
    );
    return { ...plan, secrets: file.secretStatus.map((s) => ({ ...s })) };
}

// The mocks record into one process-wide list: recordings take turns.
let turn: Promise<unknown> = Promise.resolve();

/** Runs the program for a stack config and returns its plan. */
export function recordPlan(stack: string, config: StackConfig, build: Build = buildPlatform): Promise<Plan> {
    const run = turn.then(() => record(stack, config, build));
    turn = run.catch(() => undefined);
    return run;
}

async function record(stack: string, config: StackConfig, build: Build): Promise<Plan> {
    // The program writes the providers' trust CA file into its working directory (components/lib/trust.ts):
    // under the plan that is a throw-away directory, never the repository.
    const cwd = process.cwd();
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "secret-platform-plan-cwd-"));
    process.chdir(scratch);
    try {
        return await recordIn(stack, config, build);
    } finally {
        process.chdir(cwd);
        fs.rmSync(scratch, { recursive: true, force: true });
    }
}

async function recordIn(stack: string, config: StackConfig, build: Build): Promise<Plan> {
    const program = await failOnProgramError(runProgram(config, (c, opts) => build(c, opts)));
    const recorded = program.resources;

    // URN of every recorded resource object, to name parents and dependsOn.
    const urnOf = new Map<pulumi.Resource, string>();
    for (const r of recorded) {
        if (r.resource !== undefined) urnOf.set(r.resource, shortUrn(await valueOf(r.resource.urn)));
    }
    const urnOfResource = async (res: pulumi.Resource) => urnOf.get(res) ?? shortUrn(await valueOf(res.urn));

    const masks = new Masks(secretStrings(config), await secretOutputStrings(recorded));
    const warnings: string[] = [];
    const resources: PlanResource[] = [];
    for (const r of recorded) {
        const urn = r.resource !== undefined ? (urnOf.get(r.resource) as string) : `${r.type}::${r.name}`;
        const parentRes = r.opts.parent;
        const deps = await dependsOnOf(r);
        const secretPaths = await secretPathsOf(r.props);
        const inputs = normalizeInputs(r.inputs, secretPaths, masks, (p) =>
            warnings.push(`${urn}: input ${p} holds a secret value but is not marked secret`),
        );
        const provider = r.provider ? shortUrn(r.provider.slice(0, r.provider.lastIndexOf("::"))) : null;
        if (r.custom && provider === null && !isProvider(r.type) && !isDynamic(r.type)) {
            warnings.push(`${urn}: no explicit provider (would use the ambient default provider)`);
        }
        resources.push({
            urn,
            type: r.type,
            name: r.name,
            custom: r.custom,
            parent: parentRes !== undefined ? await urnOfResource(parentRes) : null,
            provider,
            dependsOn: [...new Set(await Promise.all(deps.map(urnOfResource)))].sort(),
            options: optionsOf(r),
            inputs,
        });
    }
    resources.sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
    // What the platform itself warns about (SecretPlatform logs these), and its stack outputs.
    if (program.result instanceof SecretPlatform) warnings.push(...configWarnings(program.config));
    const outputs =
        program.result instanceof SecretPlatform
            ? await outputValues(stackOutputs(program.config, program.result), masks, (name) =>
                  warnings.push(`stack output ${name} holds a secret value but is not marked secret`),
              )
            : undefined;
    return {
        format: PLAN_FORMAT,
        stack,
        summary: summarize(resources),
        resources,
        warnings: [...new Set(warnings)].sort(),
        ...(outputs === undefined ? {} : { outputs }),
    };
}

/** The stack outputs as the plan shows them: secret ones masked, unset ones left out. */
async function outputValues(
    outputs: Record<string, pulumi.Input<unknown> | undefined>,
    masks: Masks,
    unmarked: (name: string) => void,
): Promise<Record<string, unknown>> {
    const shown: Record<string, unknown> = {};
    for (const [name, output] of Object.entries(outputs)) {
        if (output === undefined) continue;
        if (pulumi.Output.isInstance(output) && (await pulumi.isSecret(output))) {
            shown[name] = SECRET_MASK;
            continue;
        }
        const value = await valueOf(output);
        if (value === undefined) continue;
        shown[name] = normalizeInputs({ value }, [], masks, () => unmarked(name)).value;
    }
    return shown;
}

/**
 * An error thrown inside an apply of the program surfaces as an unhandled
 * rejection, and the resource it fed never gets a URN: fail the plan with it
 * instead of waiting forever.
 */
async function failOnProgramError<T>(run: Promise<T>): Promise<T> {
    let onError: (e: unknown) => void = () => undefined;
    const failed = new Promise<never>((_, reject) => {
        onError = (e) => reject(e instanceof Error ? e : new Error(String(e)));
    });
    process.on("unhandledRejection", onError);
    try {
        return await Promise.race([run, failed]);
    } finally {
        process.off("unhandledRejection", onError);
    }
}

/** `urn:pulumi:<stack>::<project>::<types>::<name>` without stack and project. */
export function shortUrn(urn: string): string {
    return urn.split("::").slice(2).join("::");
}

function optionsOf(r: RecordedResource): Record<string, unknown> {
    const options: Record<string, unknown> = {};
    const opts = r.opts as Record<string, unknown>;
    for (const key of RECORDED_OPTIONS) {
        const value = opts[key];
        if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
        options[key] = value;
    }
    // The SDK stamps its package version on every resource; on a provider it is the plugin version that
    // matters (an upgrade shows once, there), elsewhere it repeats the same number.
    if (!isProvider(r.type)) delete options.version;
    // The SDK appends its own list to the program's, with repeats.
    if (Array.isArray(options.additionalSecretOutputs)) {
        options.additionalSecretOutputs = [...new Set(options.additionalSecretOutputs as string[])].sort();
    }
    // protect is inherited from the parent; the resource holds the effective value.
    const effective = (r.resource as unknown as { __protect?: boolean } | undefined)?.__protect;
    if (effective !== undefined) options.protect = effective;
    if (options.protect === false) delete options.protect;
    if (options.retainOnDelete === false) delete options.retainOnDelete;
    return sortKeys(options) as Record<string, unknown>;
}

/** Leaf strings of the stack's secret config values (JSON-valued secrets included). */
function secretStrings(config: StackConfig): string[] {
    const out: string[] = [];
    const visit = (v: unknown) => {
        if (typeof v === "string") {
            out.push(v);
            try {
                visit(JSON.parse(v));
            } catch {
                // a plain string
            }
        } else if (v !== null && typeof v === "object") Object.values(v).forEach(visit);
    };
    Object.values(config.secrets ?? {}).forEach(visit);
    return out;
}

/**
 * Values of outputs the providers would return as secrets
 * (additionalSecretOutputs, e.g. a RandomPassword's result): the mocks return
 * them as plain values, Pulumi would keep them secret wherever they flow.
 */
async function secretOutputStrings(recorded: readonly RecordedResource[]): Promise<string[]> {
    const out: string[] = [];
    for (const r of recorded) {
        const names = (r.opts.additionalSecretOutputs ?? []) as string[];
        for (const name of names) {
            const output = (r.resource as unknown as Record<string, unknown> | undefined)?.[name];
            if (!pulumi.Output.isInstance(output)) continue;
            const leaves = (v: unknown): unknown[] =>
                v !== null && typeof v === "object" ? Object.values(v).flatMap(leaves) : [v];
            for (const leaf of leaves(await valueOf(output as pulumi.Output<unknown>))) {
                if (typeof leaf === "string") out.push(leaf);
            }
        }
    }
    return out;
}

/** Paths (as key lists) of the Outputs in the program's props that are secret. */
async function secretPathsOf(props: Record<string, unknown>): Promise<(string | number)[][]> {
    const found: (string | number)[][] = [];
    const visit = async (v: unknown, at: (string | number)[]): Promise<void> => {
        if (pulumi.Output.isInstance(v)) {
            if (await pulumi.isSecret(v as pulumi.Output<unknown>)) found.push(at);
            return; // an Output's properties are lifted Outputs: do not walk into it
        }
        if (Array.isArray(v)) await Promise.all(v.map((x, i) => visit(x, [...at, i])));
        else if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
            await Promise.all(Object.entries(v).map(([k, x]) => visit(x, [...at, k])));
        }
    };
    await visit(props, []);
    return found;
}

/** Strings that must never be shown, and their base64 forms (Kubernetes Secret data). */
class Masks {
    private readonly config: string[];
    private readonly outputs: string[];

    constructor(configSecrets: string[], outputSecrets: string[]) {
        const expand = (list: string[]) =>
            [...new Set(list.flatMap((s) => [s, Buffer.from(s).toString("base64")]))].filter((s) => s !== "");
        this.config = expand(configSecrets);
        this.outputs = expand(outputSecrets);
    }

    /** "config" for a stack secret's value, "output" for a provider's secret output, or undefined. */
    match(s: string): "config" | "output" | undefined {
        const hit = (m: string) => s === m || (m.length >= 6 && s.includes(m));
        if (this.config.some(hit)) return "config";
        if (this.outputs.some(hit)) return "output";
        return undefined;
    }
}

/** The engine's inputs made displayable: secrets masked, noise dropped, paths relative. */
function normalizeInputs(
    inputs: Record<string, unknown>,
    secretPaths: (string | number)[][],
    masks: Masks,
    unmarked: (displayPath: string) => void,
): Record<string, unknown> {
    const root = path.resolve(PROJECT_ROOT);
    const visit = (v: unknown, display: string): unknown => {
        if (typeof v === "string") {
            if (v === rpc.unknownValue) return "[unknown]";
            const m = masks.match(v);
            if (m === "config") {
                unmarked(display);
                return UNMARKED_SECRET_MASK;
            }
            if (m === "output") return SECRET_MASK;
            return v.split(root).join("<root>");
        }
        if (Array.isArray(v)) return v.map((x, i) => visit(x, joinPath(display, i)));
        if (v !== null && typeof v === "object") {
            const o = v as Record<string, unknown>;
            const sig = o[rpc.specialSigKey];
            if (sig === rpc.specialSecretSig) return SECRET_MASK;
            if (sig === rpc.specialOutputValueSig) {
                if (o.secret === true) return SECRET_MASK;
                return "value" in o ? visit(o.value, display) : "[unknown]";
            }
            if (sig === rpc.specialResourceSig) return { resource: shortUrn(String(o.urn)) };
            const out: Record<string, unknown> = {};
            for (const key of Object.keys(o).sort()) out[key] = visit(o[key], joinPath(display, key));
            return out;
        }
        return v;
    };

    const copy = structuredClone(inputs);
    // A dynamic resource's serialized provider code: kilobytes of closure text, not an input a reviewer reads.
    delete copy.__provider;
    for (const p of secretPaths) maskAt(copy, p);
    return visit(copy, "") as Record<string, unknown>;
}

/** Replaces the value at a key path with the secret mask, when the engine's view has that path. */
function maskAt(target: Record<string, unknown>, at: (string | number)[]): void {
    if (at.length === 0) return;
    let node: unknown = target;
    for (const key of at.slice(0, -1)) {
        if (node === null || typeof node !== "object") return;
        node = (node as Record<string | number, unknown>)[key];
    }
    const last = at[at.length - 1];
    if (node !== null && typeof node === "object" && last in (node as object)) {
        (node as Record<string | number, unknown>)[last] = SECRET_MASK;
    }
}
