/**
 * Kubernetes auth: a method's config (vault_kubernetes_auth_backend_config)
 * and its roles (vault_kubernetes_auth_backend_role).
 */
import { ArgSpecs } from "../arguments";
import {
    apiPath,
    arg,
    boolField,
    bodyOf,
    dataOf,
    fieldsOf,
    LiveState,
    ResourceKind,
    roleKind,
    stringField,
} from "./kind";

const configArgs: ArgSpecs = {
    backend: { kind: "string", replaces: true, default: "kubernetes" },
    kubernetesHost: { kind: "string", required: true },
    kubernetesCaCert: { kind: "string" },
    /** Vault only says whether one is set. */
    tokenReviewerJwt: { kind: "string", secret: true, writeOnly: true },
    disableLocalCaJwt: { kind: "bool" },
};

const CONFIG_FIELDS = fieldsOf(configArgs, ["backend"]);

const CONFIG_ID = /^auth\/(.+)\/config$/;

function backendOf(id: string): string {
    const backend = CONFIG_ID.exec(id)?.[1];
    if (backend === undefined)
        throw new Error(`vault stand-in plugin: ${id} is not an auth config ID (auth/<backend>/config)`);
    return backend;
}

/** The config endpoint replaces the whole config on each write, so every argument is sent each time. */
export const authBackendConfig: ResourceKind = {
    token: "vault:kubernetes/authBackendConfig:AuthBackendConfig",
    args: configArgs,
    computed: [],
    identity: (args) => arg(args, "backend"),
    async create(vault, args) {
        const id = `auth/${arg(args, "backend").replace(/^\/+|\/+$/g, "")}/config`;
        await vault.call("POST", `auth/${apiPath(backendOf(id))}/config`, bodyOf(CONFIG_FIELDS, args));
        return id;
    },
    async read(vault, id): Promise<LiveState | undefined> {
        const backend = backendOf(id);
        const body = await vault.read(`auth/${apiPath(backend)}/config`);
        if (body === undefined) return undefined;
        const data = dataOf(body);
        return {
            args: {
                backend,
                kubernetesHost: stringField(data, "kubernetes_host"),
                kubernetesCaCert: stringField(data, "kubernetes_ca_cert"),
                // Vault never returns the reviewer JWT; when it has none, an input that sets one has drifted.
                ...(boolField(data, "token_reviewer_jwt_set") ? {} : { tokenReviewerJwt: "" }),
                disableLocalCaJwt: boolField(data, "disable_local_ca_jwt"),
            },
            computed: {},
        };
    },
    async update(vault, id, _olds, news) {
        await vault.call("POST", `auth/${apiPath(backendOf(id))}/config`, bodyOf(CONFIG_FIELDS, news));
    },
    async delete() {
        // As the provider: Vault has no call to remove an auth method's config; it goes with the method.
    },
};

const roleArgs: ArgSpecs = {
    backend: { kind: "string", replaces: true, default: "kubernetes" },
    roleName: { kind: "string", required: true, replaces: true },
    boundServiceAccountNames: { kind: "set", required: true },
    boundServiceAccountNamespaces: { kind: "set", required: true },
    audience: { kind: "string" },
    tokenPolicies: { kind: "set" },
    tokenTtl: { kind: "int" },
    tokenMaxTtl: { kind: "int" },
    tokenNoDefaultPolicy: { kind: "bool" },
};

export const authBackendRole = roleKind("vault:kubernetes/authBackendRole:AuthBackendRole", roleArgs);
