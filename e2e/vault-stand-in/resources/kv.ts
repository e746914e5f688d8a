/**
 * vault_kv_secret_backend_v2: a KV v2 mount's engine settings
 * (`<mount>/config`). Vault cannot remove them, so Delete leaves them, as the
 * real provider does; they go with the mount.
 */
import { ArgSpecs } from "../arguments";
import { answerError } from "../connection";
import { durationSeconds } from "../properties";
import { apiPath, arg, boolField, dataOf, intField, LiveState, ResourceKind } from "./kind";

const args: ArgSpecs = {
    mount: { kind: "string", required: true, replaces: true },
    maxVersions: { kind: "int" },
    casRequired: { kind: "bool" },
    /** Seconds; Vault answers a Go duration ("768h0m0s"). */
    deleteVersionAfter: { kind: "int" },
};

const CONFIG_ID = /^(.+)\/config$/;

function configBody(news: Record<string, unknown>) {
    // Like the provider, every setting is written: an unset one goes back to Vault's default (0, false, 0).
    return {
        max_versions: typeof news.maxVersions === "number" ? news.maxVersions : 0,
        cas_required: news.casRequired === true,
        delete_version_after: typeof news.deleteVersionAfter === "number" ? news.deleteVersionAfter : 0,
    };
}

export const secretBackendV2: ResourceKind = {
    token: "vault:kv/secretBackendV2:SecretBackendV2",
    args,
    computed: [],
    identity: (a) => arg(a, "mount"),
    async create(vault, a) {
        const mount = arg(a, "mount").replace(/^\/+|\/+$/g, "");
        await vault.call("POST", `${apiPath(mount)}/config`, configBody(a));
        return `${mount}/config`;
    },
    async read(vault, id): Promise<LiveState | undefined> {
        const mount = CONFIG_ID.exec(id)?.[1];
        if (mount === undefined)
            throw new Error(`vault stand-in plugin: ${id} is not a KV v2 settings ID (<mount>/config)`);
        const path = `${apiPath(mount)}/config`;
        const res = await vault.request("GET", path);
        // No mount there any more: 404, or 400 "no handler for route" from the router.
        if (res.status === 404 || (res.status === 400 && /no handler for route/.test(res.text))) return undefined;
        if (res.status !== 200) throw answerError("GET", path, res);
        const data = dataOf(res.body ?? {});
        const after = data.delete_version_after;
        return {
            args: {
                mount,
                maxVersions: intField(data, "max_versions"),
                casRequired: boolField(data, "cas_required"),
                deleteVersionAfter:
                    typeof after === "string" ? (durationSeconds(after) ?? 0) : intField(data, "delete_version_after"),
            },
            computed: {},
        };
    },
    async update(vault, id, _olds, news) {
        await vault.call("POST", apiPath(id), configBody(news));
    },
    async delete() {
        // The provider's delete only forgets the settings; Vault has no way to remove them.
    },
};
