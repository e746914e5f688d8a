/**
 * The one Pulumi mocks setup for the whole mocha run (loaded by .mocharc.cjs
 * before any spec): the offline plan's own mocks (ops/plan/mocks.ts), so the
 * specs and `npm run plan` see the same engine.
 */
export * from "../../ops/plan/mocks";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { deserializeProperties } from "@pulumi/pulumi/runtime/rpc";

/**
 * The outputs a component passed to registerOutputs, as the engine received
 * them (Outputs resolved, secrets still signature-wrapped, undefined values
 * dropped), or undefined while that registration has not arrived. The mock
 * monitor keeps each resource's state under its URN: the serialized state of
 * registerResource first, replaced by the outputs Struct when
 * registerResourceOutputs arrives (the SDK sends it once per component).
 */
export function registeredOutputs(urn: string): Record<string, unknown> | undefined {
    const monitor = pulumi.runtime.getMonitor();
    if (!(monitor instanceof MockMonitor)) throw new Error("the Pulumi mocks are not installed");
    const state: unknown = monitor.getRegisteredResources().get(urn)?.state;
    const isStruct = typeof (state as { toJavaScript?: unknown } | undefined)?.toJavaScript === "function";
    return isStruct ? deserializeProperties(state as Parameters<typeof deserializeProperties>[0]) : undefined;
}
