/**
 * Identity: groups (vault_identity_group) and group aliases
 * (vault_identity_group_alias), both named in Vault by the ID it generates.
 */
import { ArgSpecs } from "../arguments";
import { apiPath, arg, bodyOf, dataOf, emptyFor, fieldsOf, readObject, ResourceKind } from "./kind";

const groupArgs: ArgSpecs = {
    name: { kind: "string", replaces: true },
    type: { kind: "string", replaces: true, default: "internal" },
    policies: { kind: "set" },
    metadata: { kind: "map" },
};

const GROUP_FIELDS = fieldsOf(groupArgs);

function generatedId(body: Record<string, unknown>, what: string): string {
    const id = dataOf(body).id;
    if (typeof id !== "string" || id === "")
        throw new Error(`vault stand-in plugin: Vault created the ${what} but answered no id`);
    return id;
}

export const group: ResourceKind = {
    token: "vault:identity/group:Group",
    args: groupArgs,
    computed: [],
    identity: (args) => arg(args, "name"),
    async create(vault, args) {
        return generatedId(await vault.call("POST", "identity/group", bodyOf(GROUP_FIELDS, args)), "group");
    },
    read: (vault, id) => readObject(vault, `identity/group/id/${apiPath(id)}`, groupArgs, GROUP_FIELDS),
    async update(vault, id, olds, news) {
        // The type is fixed at creation (a change replaces the group).
        await vault.call(
            "POST",
            `identity/group/id/${apiPath(id)}`,
            bodyOf({ policies: "policies", metadata: "metadata" }, news, olds, emptyFor(groupArgs)),
        );
    },
    async delete(vault, id) {
        await vault.call("DELETE", `identity/group/id/${apiPath(id)}`);
    },
};

const aliasArgs: ArgSpecs = {
    name: { kind: "string", required: true },
    mountAccessor: { kind: "string", required: true },
    canonicalId: { kind: "string", required: true },
};

const ALIAS_FIELDS = fieldsOf(aliasArgs);

/** An alias is re-pointed in place, as the provider does: none of its arguments replaces it. */
export const groupAlias: ResourceKind = {
    token: "vault:identity/groupAlias:GroupAlias",
    args: aliasArgs,
    computed: [],
    identity: (args) => `${arg(args, "mountAccessor")}/${arg(args, "name")}`,
    async create(vault, args) {
        return generatedId(await vault.call("POST", "identity/group-alias", bodyOf(ALIAS_FIELDS, args)), "group alias");
    },
    read: (vault, id) => readObject(vault, `identity/group-alias/id/${apiPath(id)}`, aliasArgs, ALIAS_FIELDS),
    async update(vault, id, _olds, news) {
        await vault.call("POST", `identity/group-alias/id/${apiPath(id)}`, bodyOf(ALIAS_FIELDS, news));
    },
    async delete(vault, id) {
        await vault.call("DELETE", `identity/group-alias/id/${apiPath(id)}`);
    },
};
