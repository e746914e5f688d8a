/**
 * The bootstrap resources' one dynamic provider as Pulumi's dynamic provider
 * host runs it: the text the SDK serialized into the resources' `__provider`,
 * loaded with require-from-string, whose handler() returns the provider.
 */
import type * as pulumi from "@pulumi/pulumi";
import { BootstrapKind, bootstrapKindOf } from "../../components/lib/bootstrap-provider";
import { buildPlatform } from "../../components/platform";
import { homelabStack } from "./fixtures";
import { runProgram } from "./program";

const VAULT_INIT = "pulumi-nodejs:dynamic/secret-platform:VaultInit";

export type Provider = Required<pulumi.dynamic.ResourceProvider>;

let loaded: Promise<{ text: string; provider: Provider }> | undefined;

/**
 * The `__provider` text the bootstrap resources carry (taken from the program
 * run once under the mocks, the homelab stack) and the provider loaded from
 * it as the host loads it; once per process.
 */
export function hostLoadedBootstrapProvider(): Promise<{ text: string; provider: Provider }> {
    loaded ??= runProgram(homelabStack(), buildPlatform).then((p) => {
        const text = p.find(VAULT_INIT, "platform-bootstrap-init").inputs.__provider;
        if (typeof text !== "string") throw new Error(`VaultInit's __provider is ${typeof text}, not its text`);
        const requireFromString = require("require-from-string") as (code: string) => { handler(): Provider };
        return { text, provider: requireFromString(text).handler() };
    });
    return loaded;
}

/** Init's inputs that VaultUnsealed does not declare. */
function withoutInitOnly(props: Record<string, unknown>): Record<string, unknown> {
    return Object.fromEntries(
        Object.entries(props).filter(([key]) => !["shares", "threshold", "adoptExisting"].includes(key)),
    );
}

/**
 * The host-loaded provider used for one kind of resource: every property bag
 * the engine would pass (create's inputs, the new inputs of diff and update,
 * the stored outputs read and delete get) must dispatch to that kind, or the
 * call fails before it reaches the provider.
 */
export async function hostLoaded(kind: BootstrapKind): Promise<Provider> {
    const { provider } = await hostLoadedBootstrapProvider();
    const k = (given: Record<string, unknown>) => {
        // Specs build the unseal check's inputs from init's; the engine gives it only its own.
        const props = kind === "unsealed" ? withoutInitOnly(given) : given;
        const dispatched = bootstrapKindOf(props);
        if (dispatched !== kind) throw new Error(`these properties dispatch to ${dispatched}, not ${kind}`);
        return props;
    };
    return {
        check: (olds, news) => provider.check(olds, k(news)),
        create: (inputs) => provider.create(k(inputs)),
        diff: (id, olds, news) => provider.diff(id, olds, k(news)),
        update: (id, olds, news) => provider.update(id, olds, k(news)),
        read: (id, props) => provider.read(id, k(props)),
        delete: (id, props) => provider.delete(id, k(props)),
        configure: (req) => provider.configure(req),
    };
}
