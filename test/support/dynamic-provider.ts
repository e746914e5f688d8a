/**
 * The bootstrap resources' one dynamic provider as Pulumi's dynamic provider
 * host runs it: the text the SDK serialized into the resources' `__provider`,
 * loaded with require-from-string, whose handler() returns the provider.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { BootstrapKind } from "../../components/lib/bootstrap-resources";
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

/**
 * The host-loaded provider seen as one kind of resource: `kind` is added to
 * what the engine would pass with it (create's inputs, the new inputs of diff
 * and update, and the stored outputs read and delete get, which the provider
 * stamps). Old outputs (diff, update) are passed as given.
 */
export async function hostLoaded(kind: BootstrapKind): Promise<Provider> {
    const { provider } = await hostLoadedBootstrapProvider();
    const k = (props: Record<string, unknown>) => ({ ...props, kind });
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
