/**
 * Readiness as data: a component publishes what a later step must wait for
 * as one Output, and the later step passes it on as `dependsOn` (which takes
 * an Output of resources). No hand-threaded `Resource[]` lists between
 * components.
 *
 * The resources travel as the Output's dependencies, not as its value (which
 * is empty): `dependsOn` counts both, but the SDK walks every key of an
 * Output's value for unknowns each time one is made, and a value holding
 * Resources makes that a walk of the whole resource graph for every
 * dependent, quadratic in the stack's size (measured: 100 remote clusters
 * took 9.9 s of program CPU instead of 5.4 s).
 */
import * as pulumi from "@pulumi/pulumi";

/** Resolves once each resource it names is registered; `dependsOn` it to wait for them. */
export type Readiness = pulumi.Output<pulumi.Resource[]>;

/** The readiness of these resources. */
export function readinessOf(resources: readonly pulumi.Resource[]): Readiness {
    return pulumi.all(resources.map((r) => r.urn)).apply((): pulumi.Resource[] => []);
}

/** `ready`, then these resources: for a `dependsOn` that adds a component's own children to what it was given. */
export function after(ready: pulumi.Input<pulumi.Resource[]>, ...more: pulumi.Resource[]): Readiness {
    const given: pulumi.Output<unknown> = Array.isArray(ready) ? readinessOf(ready) : pulumi.output(ready);
    return pulumi.all([given, ...more.map((r) => r.urn)]).apply((): pulumi.Resource[] => []);
}
