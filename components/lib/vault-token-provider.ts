/**
 * The Vault provider's token as a Pulumi dynamic resource: minted (and the
 * root token revoked) on create, checked by every preview, renewed by
 * `pulumi up` when half its period is gone, re-minted from an operator's
 * token when it was lost, revoked on destroy. The logic lives in
 * ./vault-token; this maps Pulumi's calls onto it (see ./vault-init-provider
 * for why the closure stays small).
 */
import * as pulumi from "@pulumi/pulumi";
import { previewSealState } from "./vault-init";
import {
    checkProviderToken,
    lookupSelf,
    mintProviderToken,
    PROVIDER_TOKEN_PERIOD_SECONDS,
    providerTokenInvalidMessage,
    renewProviderToken,
    revokeProviderToken,
} from "./vault-token";

/** The inputs as the engine passes them (it adds __provider). */
function inputsOf(raw: Record<string, unknown>) {
    return {
        address: String(raw.address),
        skipTlsVerify: raw.skipTlsVerify === true,
        caBundle: typeof raw.caBundle === "string" && raw.caBundle !== "" ? raw.caBundle : undefined,
        policy: String(raw.policy),
        policyText: String(raw.policyText),
        bootstrapToken: String(raw.bootstrapToken ?? ""),
        bootstrapSource: raw.bootstrapSource === "vaultToken" ? ("vaultToken" as const) : ("root" as const),
    };
}

type Inputs = ReturnType<typeof inputsOf>;

async function mint(i: Inputs) {
    const ep = { address: i.address, skipTlsVerify: i.skipTlsVerify, caBundle: i.caBundle };
    const minted = await mintProviderToken(ep, i.bootstrapToken, i.bootstrapSource, i);
    console.log(
        `vault-token: minted the provider token (accessor ${minted.accessor}, policy ${i.policy})` +
            (minted.rootRevoked ? "; the root token it was made with is revoked" : ""),
    );
    return { ...i, token: minted.token, accessor: minted.accessor, rootRevoked: minted.rootRevoked };
}

export const vaultTokenProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
        const outs = await mint(inputsOf(inputs));
        return { id: `vault-token:${outs.accessor}`, outs };
    },

    async diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        const o = inputsOf(olds);
        const n = inputsOf(news);
        const ep = { address: n.address, skipTlsVerify: n.skipTlsVerify, caBundle: n.caBundle, requestTimeoutMs: 5000 };
        if ((await previewSealState(ep)) === "sealed") {
            console.log(
                `vault-token: Vault at ${n.address} is sealed; the update checks the provider token after the unseal`,
            );
            return { changes: true, replaces: [] };
        }
        const stored = { token: String(olds.token ?? ""), accessor: String(olds.accessor ?? "") };
        let state: "valid" | "renew";
        try {
            state = await checkProviderToken(ep, stored);
        } catch (e) {
            // A refused token with a new operator token in the config: the update re-mints with it.
            if (n.bootstrapSource === "vaultToken" && n.bootstrapToken !== o.bootstrapToken) {
                console.log(`vault-token: the provider token was refused; the update mints a new one with vaultToken`);
                return { changes: true, replaces: [] };
            }
            throw e;
        }
        if (state === "renew")
            console.log(`vault-token: the provider token is past half its period; the update renews it`);
        const moved =
            o.address !== n.address ||
            o.skipTlsVerify !== n.skipTlsVerify ||
            o.caBundle !== n.caBundle ||
            o.policy !== n.policy;
        return { changes: state === "renew" || moved, replaces: [] };
    },

    async update(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        const n = inputsOf(news);
        const ep = { address: n.address, skipTlsVerify: n.skipTlsVerify, caBundle: n.caBundle };
        const stored = { token: String(olds.token ?? ""), accessor: String(olds.accessor ?? "") };
        const self = await lookupSelf(ep, stored.token);
        if (self === undefined) {
            if (n.bootstrapSource !== "vaultToken")
                throw new Error(providerTokenInvalidMessage(n.address, stored.accessor));
            return { outs: await mint(n) };
        }
        if (self.ttl * 2 < PROVIDER_TOKEN_PERIOD_SECONDS) await renewProviderToken(ep, stored);
        return { outs: { ...n, ...stored, rootRevoked: olds.rootRevoked === true } };
    },

    async delete(_id: string, props: Record<string, unknown>) {
        const i = inputsOf(props);
        const stored = { token: String(props.token ?? ""), accessor: String(props.accessor ?? "") };
        const revoked = await revokeProviderToken(
            { address: i.address, skipTlsVerify: i.skipTlsVerify, caBundle: i.caBundle },
            stored,
        ).catch(() => false);
        console.log(
            revoked
                ? `vault-token: revoked the provider token (accessor ${stored.accessor})`
                : `vault-token: could not revoke the provider token (accessor ${stored.accessor}); revoke it by accessor`,
        );
    },
};

/** Inputs of VaultProviderToken. */
export interface VaultProviderTokenArgs {
    /** Vault's API address as this program reaches it (secret-platform:vault.address). */
    readonly address: pulumi.Input<string>;
    /** Skip TLS verification (secret-platform:vault.skipTlsVerify). */
    readonly skipTlsVerify: pulumi.Input<boolean>;
    /** PEM bundle of the private CAs that may sign Vault's certificate (secret-platform:trust.caBundle); unset for none. */
    readonly caBundle?: pulumi.Input<string>;
    /** The machine-only policy the token carries. */
    readonly policy: pulumi.Input<string>;
    /** That policy's rendered HCL (bootstrap writes it before minting). */
    readonly policyText: pulumi.Input<string>;
    /** The token to mint with: init's root token, or secret-platform:vaultToken (secret). */
    readonly bootstrapToken: pulumi.Input<string>;
    /** Which of the two bootstrapToken is, for messages and re-minting. */
    readonly bootstrapSource: pulumi.Input<"root" | "vaultToken">;
}

/** The Vault provider's periodic, orphan token with the `pulumi` policy (secret). */
export class VaultProviderToken extends pulumi.dynamic.Resource {
    declare public readonly token: pulumi.Output<string>;
    declare public readonly accessor: pulumi.Output<string>;
    /** Whether the root token it was minted with was revoked. */
    declare public readonly rootRevoked: pulumi.Output<boolean>;

    constructor(name: string, args: VaultProviderTokenArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            vaultTokenProvider,
            name,
            { ...args, token: undefined, accessor: undefined, rootRevoked: undefined },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["token", "bootstrapToken"] }),
            "secret-platform",
            "VaultProviderToken",
        );
    }
}
