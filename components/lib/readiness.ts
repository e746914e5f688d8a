/**
 * Readiness as data: a component publishes what a later step must wait for
 * as one Output, and the later step passes it on as `dependsOn` (which takes
 * an Output of resources). No hand-threaded `Resource[]` lists between
 * components.
 */
import * as pulumi from "@pulumi/pulumi";

/**
 * Resolves, once each resource is registered, to the resources a dependent
 * waits for; it carries them as its dependencies too, so it also orders the
 * resources that read it as an input.
 */
export type Readiness = pulumi.Output<pulumi.Resource[]>;

/** The readiness of these resources. */
export function readinessOf(resources: readonly pulumi.Resource[]): Readiness {
    return pulumi.all(resources.map((r) => r.urn)).apply(() => [...resources]);
}

/** `ready`, then these resources: for a `dependsOn` that adds a component's own children to what it was given. */
export function after(ready: pulumi.Input<pulumi.Resource[]>, ...more: pulumi.Resource[]): Readiness {
    return pulumi.output(ready).apply((resources) => [...resources, ...more]);
}
