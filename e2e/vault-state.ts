/**
 * Vault's configuration as the stack left it, object by object, in a form two
 * runs can be compared in: what the vault provider plugin created (audit
 * devices, mounts and their KV settings, ACL policies, auth methods with
 * their config and roles, identity groups and their aliases), with what
 * differs between two Vaults by nature (accessors, ids, UUIDs, timestamps)
 * left out. The e2e writes it where E2E_VAULT_STATE names (the GitHub e2e
 * workflow runs the scenario with the stand-in and with the official plugin
 * and compares the two files); every run checks it is complete.
 */
import * as fs from "fs";
import { VaultClient } from "./rig/vault";

/** One Vault object: its API path and what Vault answers for it, normalized. */
export type VaultObjects = Record<string, unknown>;

/** Keys whose values differ between two Vaults whatever created them. */
const BY_NATURE = new Set([
    "accessor",
    "id",
    "canonical_id",
    "mount_accessor",
    "uuid",
    "creation_time",
    "last_update_time",
    "running_plugin_version",
    "running_sha256",
    "member_entity_ids",
    "member_group_ids",
    "parent_group_ids",
    "modify_index",
    "alias",
    "request_id",
    "lease_id",
    "lease_duration",
    "renewable",
    "warnings",
    "wrap_info",
    "auth",
    "mount_type",
]);

/** The rig's own endpoints and CA, which differ per run, by the placeholder that stands for each. */
export type RigValues = Readonly<Record<string, string>>;

function normalized(value: unknown, rig: RigValues): unknown {
    if (typeof value === "string") {
        return Object.entries(rig).reduce((text, [placeholder, actual]) => text.split(actual).join(placeholder), value);
    }
    if (Array.isArray(value)) return value.map((v) => normalized(v, rig));
    if (value === null || typeof value !== "object") return value;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
        if (!BY_NATURE.has(key)) out[key] = normalized((value as Record<string, unknown>)[key], rig);
    }
    return out;
}

/** Reads every object the platform's configuration manages, keyed by API path. */
export async function vaultObjects(vault: VaultClient, token: string, rig: RigValues): Promise<VaultObjects> {
    const get = async (p: string) => {
        const res = await vault.request("GET", `/v1/${p}`, undefined, token);
        if (res.status !== 200) throw new Error(`vault-state: GET ${p}: HTTP ${res.status}`);
        return (res.body.data ?? res.body) as Record<string, unknown>;
    };
    const list = async (p: string): Promise<string[]> => {
        const res = await vault.request("LIST", `/v1/${p}`, undefined, token);
        return res.status === 200 ? ((res.body.data.keys ?? []) as string[]) : [];
    };
    const objects: VaultObjects = {};
    const put = (p: string, v: unknown) => (objects[p] = normalized(v, rig));

    put("sys/audit", await get("sys/audit"));
    const mounts = await get("sys/mounts");
    for (const [path, mount] of Object.entries(mounts)) {
        const m = mount as { type: string; options?: { version?: string } };
        if (["sys", "identity", "cubbyhole"].includes(m.type)) continue;
        put(`sys/mounts/${path}`, m);
        if (m.type === "kv" && m.options?.version === "2") put(`${path}config`, await get(`${path}config`));
    }
    for (const name of await list("sys/policies/acl")) {
        if (name !== "root") put(`sys/policies/acl/${name}`, await get(`sys/policies/acl/${name}`));
    }
    const auths = await get("sys/auth");
    for (const [path, auth] of Object.entries(auths)) {
        const a = auth as { type: string };
        if (a.type === "token") continue;
        put(`sys/auth/${path}`, a);
        put(`auth/${path}config`, await get(`auth/${path}config`));
        for (const role of await list(`auth/${path}role`))
            put(`auth/${path}role/${role}`, await get(`auth/${path}role/${role}`));
    }
    for (const name of await list("identity/group/name")) {
        const group = await get(`identity/group/name/${name}`);
        put(`identity/group/name/${name}`, group);
        const alias = (group.alias ?? {}) as { name?: string; mount_path?: string };
        if (alias.name !== undefined)
            put(`identity/group/name/${name}#alias`, { name: alias.name, mount_path: alias.mount_path });
    }
    return objects;
}

/** Writes the objects as JSON (one object per key, sorted) where E2E_VAULT_STATE names; returns the path or undefined. */
export function writeVaultObjects(objects: VaultObjects): string | undefined {
    const file = process.env.E2E_VAULT_STATE;
    if (file === undefined || file === "") return undefined;
    fs.writeFileSync(file, `${JSON.stringify(objects, null, 2)}\n`);
    return file;
}

/** The objects on which two snapshots differ, by API path (for the workflow's comparison). */
export function differingObjects(a: VaultObjects, b: VaultObjects): string[] {
    const paths = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return paths.filter((p) => JSON.stringify(a[p]) !== JSON.stringify(b[p]));
}
