/**
 * The one dynamic provider of the bootstrap resources (VaultInit,
 * VaultUnsealed, VaultProviderToken; ./bootstrap-resources), which dispatches
 * each call to the CRUD of the resource's kind (./vault-init-provider,
 * ./vault-token-provider). One provider, so its code ships once: the
 * resources carry its serialized text (./serialized-provider).
 *
 * The host passes a provider only the properties (never the type or URN), so
 * the provider tells the kinds apart by the inputs each one alone has (kept in
 * its outputs too, which read and delete get): a token's `bootstrapSource`,
 * init's `shares`, the unseal check's `keysSecret` without `shares`. No input
 * is added for it, so the program's inputs and every diff are what they were
 * with three providers; a stack updated from then sees only `__provider`'s new
 * text, which the host never diffs. Outputs last written by an older provider
 * keep its text, so their refresh and delete run the code that wrote them.
 */
import type * as pulumi from "@pulumi/pulumi";
import * as initProviders from "./vault-init-provider";
import * as tokenProviders from "./vault-token-provider";

// Bound once at load: the closure captures the provider objects, not the modules (see ./vault-init-provider).
const { vaultInitProvider, vaultUnsealProvider } = initProviders;
const { vaultTokenProvider } = tokenProviders;

/** The bootstrap resources' kinds, one CRUD each. */
export type BootstrapKind = "init" | "unsealed" | "token";

const KINDS: readonly BootstrapKind[] = ["init", "unsealed", "token"];

/** The kind a property bag (inputs, or the stored outputs: they hold the inputs) belongs to. */
export function bootstrapKindOf(props: Record<string, unknown>): BootstrapKind {
    if (props.bootstrapSource !== undefined) return "token";
    if (props.shares !== undefined) return "init";
    if (props.keysSecret !== undefined) return "unsealed";
    throw new Error(
        `secret-platform bootstrap provider: properties ${JSON.stringify(Object.keys(props).sort())} are none of ${KINDS.join(", ")} (no bootstrapSource, shares or keysSecret)`,
    );
}

/** The CRUD of each kind; an absent method (VaultUnsealed and VaultProviderToken have no read) behaves as the host's default. */
const CRUD: Record<BootstrapKind, pulumi.dynamic.ResourceProvider> = {
    init: vaultInitProvider,
    unsealed: vaultUnsealProvider,
    token: vaultTokenProvider,
};

/**
 * The one provider of the bootstrap resources. Diff and update dispatch on the
 * new inputs. A method a kind lacks answers as the host does when a provider
 * has none (read: the properties as they are).
 */
export const bootstrapProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
        return CRUD[bootstrapKindOf(inputs)].create(inputs);
    },

    async diff(id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        const diff = CRUD[bootstrapKindOf(news)].diff;
        return diff === undefined ? {} : diff(id, olds, news);
    },

    async update(id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        const update = CRUD[bootstrapKindOf(news)].update;
        return update === undefined ? {} : update(id, olds, news);
    },

    async read(id: string, props: Record<string, unknown>) {
        const read = CRUD[bootstrapKindOf(props)].read;
        return read === undefined ? { id, props } : read(id, props);
    },

    async delete(id: string, props: Record<string, unknown>) {
        const del = CRUD[bootstrapKindOf(props)].delete;
        if (del !== undefined) await del(id, props);
    },
};
