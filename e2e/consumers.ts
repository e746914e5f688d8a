/**
 * The platform's users after `up` (issue 15, scenario step 3): the consumer
 * path (ESO through the stack's own stores, and a bare TokenRequest token
 * through Vault's Kubernetes auth) and the human path (OIDC logins through
 * the real hydra). Every expectation comes from the stack file or from what
 * the policy files promise, never from the program's own computation.
 */
import { Cluster, createNamespace } from "./rig/kube";
import { apply } from "./node/identity";
import { RigHydra } from "./rig/hydra";
import { VaultClient } from "./rig/vault";
import { AutheliaClientOutput, oidcLogin, registerClient } from "./oidc";
import { Reach, readThroughStore } from "./rig/store-client";

export interface ConsumerRig {
    readonly cluster: Cluster;
    readonly vault: VaultClient;
    readonly caPem: string;
    /** How the rig reaches a store's in-cluster server from the host (its relay). */
    readonly reach: Reach;
}

/** The parts of the stack file the checks read (raw, before the program's defaults). */
export interface StackFacts {
    readonly clusterName: string;
    /** The cluster's KV mount (named after the cluster). */
    readonly clusterMount: string;
    readonly esoNamespace: string;
    /** server.namespace: Vault's namespace. */
    readonly vaultNamespace: string;
    /** networkPolicy.monitoringNamespace (the namespace that may scrape 8202). */
    readonly monitoringNamespace: string;
    /** The stores' login ServiceAccount (made by the stack in ESO's namespace). */
    readonly esoServiceAccount: string;
    /** backup.enabled: the KV export job (its policy and CronJob name every managed mount). */
    readonly backup: boolean;
    /** kubernetesAuth.audience: what the stores' tokens are for and the roles require. */
    readonly audience: string;
    /** A namespace the stores admit (externalSecrets.namespaceConditions), with the labels that admit it. */
    readonly admitted: { readonly name: string; readonly labels: Readonly<Record<string, string>> };
    readonly kubernetesAuthPath: string;
    readonly kubernetesAuthRole: string;
    readonly oidcPath: string;
    readonly oidcRole: string;
    /** The first shared KV mount and one path of it the cluster's reader may read (kv.shared[0]). */
    readonly sharedMount: string;
    readonly sharedReadable: string;
    /** oidc.groups: SSO group to policy file names. */
    readonly oidcGroups: Readonly<Record<string, readonly string[]>>;
}

function check(ok: boolean, what: string, seen: unknown): void {
    if (!ok) throw new Error(`check failed: ${what}; seen: ${JSON.stringify(seen).slice(0, 2000)}`);
}

const same = (a: readonly string[], b: readonly string[]) =>
    JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

/** A namespace the first of the stores' namespaceConditions admits: one it names, or a new one with its labels. */
function admittedNamespace(eso: Record<string, unknown>): StackFacts["admitted"] {
    const first = (
        (eso.namespaceConditions ?? []) as {
            namespaces?: string[];
            namespaceSelector?: { matchLabels?: Record<string, string> };
        }[]
    )[0];
    if (first?.namespaces?.[0] !== undefined) return { name: first.namespaces[0], labels: {} };
    return { name: "e2e-app", labels: { ...first?.namespaceSelector?.matchLabels } };
}

/** The stack file's facts, with the config schema's documented defaults where the file is silent. */
export function stackFacts(config: Record<string, unknown>): StackFacts {
    const get = (key: string) => (config[`secret-platform:${key}`] ?? {}) as Record<string, unknown>;
    const cluster = String(get("cluster").name);
    const eso = get("externalSecrets");
    const k = get("kubernetesAuth");
    const o = get("oidc");
    // The schema's default kv.shared: one mount `shared`, readable path `common`.
    const shared = ((get("kv").shared as { name: string; readablePaths?: string[] }[] | undefined) ?? [
        { name: "shared", readablePaths: ["common"] },
    ])[0];
    return {
        sharedMount: shared.name,
        sharedReadable: (shared.readablePaths ?? [])[0] ?? "common",
        clusterName: cluster,
        clusterMount: cluster,
        esoNamespace: String(eso.namespace ?? "external-secrets"),
        vaultNamespace: String(get("server").namespace ?? "vault"),
        monitoringNamespace: String(get("networkPolicy").monitoringNamespace ?? "monitoring"),
        esoServiceAccount: String(eso.serviceAccount ?? "vault-login"),
        audience: String(k.audience ?? "vault"),
        backup: get("backup").enabled === true,
        admitted: admittedNamespace(eso),
        kubernetesAuthPath: String(k.path ?? `kubernetes-${cluster}`),
        kubernetesAuthRole: String(k.role ?? "external-secrets"),
        oidcPath: String(o.path ?? "oidc"),
        oidcRole: String(o.defaultRole ?? "default"),
        oidcGroups: (o.groups ?? {}) as Record<string, string[]>,
    };
}

/** A break-glass root token from the keys in the cluster's Secret (the runbook's generate-root), for the rig's own reads and writes. */
export async function breakGlassRoot(r: ConsumerRig, namespace: string, secretName: string): Promise<string> {
    const secret = await r.cluster.request("GET", `/api/v1/namespaces/${namespace}/secrets/${secretName}`);
    const keys = Object.values(secret.body.data as Record<string, string>).map((k) =>
        Buffer.from(k, "base64").toString(),
    );
    const attempt = await r.vault.request("PUT", "/v1/sys/generate-root/attempt", {});
    let encoded = "";
    for (const key of keys) {
        const step = await r.vault.request("PUT", "/v1/sys/generate-root/update", { key, nonce: attempt.body.nonce });
        if (step.body.complete === true) encoded = step.body.encoded_token;
    }
    check(encoded !== "", "generate-root completes with the keys of the cluster's Secret", "");
    // Vault's OTP scheme: the encoded token XOR the one-time password.
    const tokenBytes = Buffer.from(encoded, "base64");
    const otp = Buffer.from(String(attempt.body.otp), "utf8");
    return Buffer.from(tokenBytes.map((b, i) => b ^ otp[i])).toString("utf8");
}

/**
 * A new key written as a user of the stack writes it: `cas=0` (create only)
 * works whether or not the mount has `casRequired` on, and a stack with it on
 * refuses a write without it.
 */
export function newKey(value: Record<string, string>): { data: Record<string, string>; options: { cas: number } } {
    return { data: value, options: { cas: 0 } };
}

/**
 * The consumer path, without the ESO controller (rig/store-client.ts does
 * what ESO's Vault provider does with each store's own spec): secrets written
 * to the cluster's KV mount and to a shared path are read through the stack's
 * own ClusterSecretStores (Kubernetes auth: a TokenRequest for the store's
 * ServiceAccount, Vault reviews it at the API server); a shared path outside
 * the reader policy is denied at the read.
 */
export async function syncThroughStores(
    r: ConsumerRig,
    facts: StackFacts,
    root: string,
    store: string,
    sharedStore: string,
    log: (m: string) => void,
): Promise<void> {
    const k = (method: string, p: string, body?: unknown) => r.cluster.request(method, p, body);
    const v = (method: string, p: string, body?: unknown) => r.vault.request(method, p, body, root);
    for (const [p, value] of [
        [`/v1/${facts.clusterMount}/data/app/db/password`, "db-from-vault"],
        [`/v1/${facts.sharedMount}/data/${facts.sharedReadable}/registry`, "registry-from-vault"],
        [`/v1/${facts.sharedMount}/data/e2e-private/x`, "not-for-the-cluster"],
    ]) {
        const res = await v("POST", p, newKey({ value }));
        check(res.status === 200, `write ${p}`, res.body);
    }
    // A namespace the stores admit (by name or by its labels), and one they do not.
    const ns = facts.admitted.name;
    await apply(r.cluster, `/api/v1/namespaces/${ns}`, {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: ns, labels: facts.admitted.labels },
    });
    const unlisted = "e2e-unlisted-app";
    await createNamespace(r.cluster, unlisted);
    const start = Date.now();
    const read = (storeName: string, key: string) =>
        readThroughStore(r.cluster, storeName, { namespace: ns, key, property: "value" }, r.reach);
    for (const [storeName, key, expected] of [
        [store, "app/db/password", "db-from-vault"],
        [sharedStore, `${facts.sharedReadable}/registry`, "registry-from-vault"],
    ]) {
        const got = await read(storeName, key);
        check(got.ok && got.value === expected, `${key} through ${storeName} holds Vault's value`, got);
    }
    const outside = await readThroughStore(
        r.cluster,
        store,
        { namespace: unlisted, key: "app/db/password", property: "value" },
        r.reach,
    );
    check(
        !outside.ok && outside.step === "conditions",
        `a namespace the stores do not admit (${unlisted}) stops at the store's conditions`,
        outside,
    );
    const denied = await read(sharedStore, "e2e-private/x");
    check(
        !denied.ok && denied.step === "read" && denied.reason.startsWith("HTTP 403"),
        "e2e-private/x is denied at the read (the login succeeds)",
        denied,
    );
    log(
        `  reads through the stack's stores (${store}, ${sharedStore}) as ESO's Vault provider makes them ` +
            `from the host through the rig's relay to the store's Service (TokenRequest, Kubernetes auth login ` +
            `reviewed by Vault's pod at the API server, KV v2 read; rig/store-client.ts, not the ESO controller): db and registry read in ${Date.now() - start} ms; e2e-private/x denied (${(denied as { reason: string }).reason.replace(/\s+/g, " ")})`,
    );
    log(
        `  ${unlisted} (not admitted by the stores' namespaceConditions) stops at the conditions: ${(outside as { reason: string }).reason}`,
    );
    await k("DELETE", `/api/v1/namespaces/${unlisted}`);
}

async function tokenRequest(r: ConsumerRig, namespace: string, sa: string, audience?: string): Promise<string> {
    const res = await r.cluster.request("POST", `/api/v1/namespaces/${namespace}/serviceaccounts/${sa}/token`, {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: { expirationSeconds: 600, ...(audience === undefined ? {} : { audiences: [audience] }) },
    });
    check(res.status === 201, `TokenRequest for ${namespace}/${sa}`, res.body);
    return res.body.status.token as string;
}

/**
 * Without ESO: a TokenRequest token of the store's ServiceAccount logs in
 * through the stack's Kubernetes auth and gets exactly the reader policy of
 * this cluster (and default); it reads the cluster's mount and writes
 * nothing. A token of another ServiceAccount in the same namespace is refused.
 */
export async function kubernetesLogin(r: ConsumerRig, facts: StackFacts, log: (m: string) => void): Promise<void> {
    const loginPath = `/v1/auth/${facts.kubernetesAuthPath}/login`;
    // A token for the API server's audience (TokenRequest's default) is refused; one for the stores' audience logs in.
    const apiAudience = await tokenRequest(r, facts.esoNamespace, facts.esoServiceAccount);
    const wrongAudience = await r.vault.request("PUT", loginPath, { role: facts.kubernetesAuthRole, jwt: apiAudience });
    check(wrongAudience.status === 403, "a token for the API server's audience is refused", wrongAudience.body);
    const jwt = await tokenRequest(r, facts.esoNamespace, facts.esoServiceAccount, facts.audience);
    const login = await r.vault.request("PUT", loginPath, { role: facts.kubernetesAuthRole, jwt });
    check(login.status === 200, "the store's ServiceAccount logs in through Kubernetes auth", login.body);
    const reader = `external-secrets-reader-${facts.clusterName}`;
    const policies = (login.body.auth.token_policies ?? []) as string[];
    check(same(policies, ["default", reader]), `token policies exactly default + ${reader}`, policies);
    check(
        (login.body.auth.identity_policies ?? []).length === 0,
        "no identity policy",
        login.body.auth.identity_policies,
    );
    const token = login.body.auth.client_token as string;
    const read = await r.vault.request("GET", `/v1/${facts.clusterMount}/data/app/db/password`, undefined, token);
    check(
        read.status === 200 && read.body.data.data.value === "db-from-vault",
        "the reader reads its mount",
        read.status,
    );
    const write = await r.vault.request("POST", `/v1/${facts.clusterMount}/data/app/x`, newKey({ a: "b" }), token);
    check(write.status === 403, "the reader writes nothing", write.status);
    await r.vault.request("PUT", "/v1/auth/token/revoke-self", {}, token);

    // The namespace's default ServiceAccount (made by the controller manager) is not the store's.
    const other = await tokenRequest(r, facts.esoNamespace, "default", facts.audience);
    const refused = await r.vault.request("PUT", loginPath, { role: facts.kubernetesAuthRole, jwt: other });
    check(refused.status === 403, "another ServiceAccount's token is refused", refused);
    log(
        `  TokenRequest token of ${facts.esoNamespace}/${facts.esoServiceAccount} -> auth/${facts.kubernetesAuthPath} role ${facts.kubernetesAuthRole}: ` +
            `audience ${facts.audience} (the API server's own audience refused: 403); policies exactly [${[...policies].sort().join(", ")}]; reads ${facts.clusterMount}/app/db/password, write denied (403); ` +
            `${facts.esoNamespace}/default refused (403: ${String(refused.body.errors?.[0]).slice(0, 80)})`,
    );
}

/** What each policy file promises on the cluster's KV mount (admin and operator write, read-only reads). */
const RIGHTS: Readonly<Record<string, "rw" | "r">> = { admin: "rw", operator: "rw", "read-only": "r" };

/**
 * The human path: the hydra client registered as the stack's
 * `autheliaOidcClient` output says, with the stack's client secret; one
 * login per group of oidc.groups and one by a user in no mapped group. Each
 * token has exactly `default` as token policy and the group's policies as
 * identity policies (the outsider: none), and the rights those promise.
 */
export async function humanPath(
    r: ConsumerRig,
    hydra: RigHydra,
    facts: StackFacts,
    client: AutheliaClientOutput,
    clientSecret: string,
    root: string,
    log: (m: string) => void,
): Promise<void> {
    check(client !== undefined, "the stack exports autheliaOidcClient (oidc on)", client);
    await registerClient(hydra, client, clientSecret);
    // The role as Vault holds it: the client and the role must agree (audience, redirect URIs).
    const role = await r.vault.request("GET", `/v1/auth/${facts.oidcPath}/role/${facts.oidcRole}`, undefined, root);
    check(role.status === 200, `the OIDC role ${facts.oidcRole}`, role.body);
    const rd = role.body.data;
    check(same(rd.bound_audiences, [client.client_id]), "the role's audience is the client id", rd.bound_audiences);
    check(same(rd.allowed_redirect_uris, client.redirect_uris), "the role allows the client's redirect URIs", rd);
    log(
        `  hydra client ${client.client_id} registered as the stack's autheliaOidcClient output says (redirect URIs ` +
            `${client.redirect_uris.join(", ")}; scopes ${client.scopes.join(" ")}; ${client.token_endpoint_auth_method}); ` +
            `Vault role ${facts.oidcRole}: bound audience ${rd.bound_audiences}, groups claim ${rd.groups_claim}, user claim ${rd.user_claim}`,
    );

    // A redirect URI the role does not allow gets no login URL (Vault answers 200 with an empty auth_url).
    const bad = await r.vault.request("PUT", `/v1/auth/${facts.oidcPath}/oidc/auth_url`, {
        role: facts.oidcRole,
        redirect_uri: "https://evil.invalid/callback",
    });
    check(bad.status === 200 && bad.body?.data?.auth_url === "", "an unlisted redirect URI gets no auth_url", bad);

    const mountProbe = `/v1/${facts.clusterMount}/data/app/db/password`;
    const users = [
        ...Object.entries(facts.oidcGroups).map(([group, policies]) => ({
            user: { name: `${group}-user`, groups: [group] },
            expected: [...policies].filter((p) => p !== "default"),
        })),
        { user: { name: "outsider", groups: ["e2e-unmapped"] }, expected: [] as string[] },
    ];
    for (const [i, { user, expected }] of users.entries()) {
        // Both allowed redirect URIs are used: the UI's for the first login, the CLI's for the rest.
        const redirectUri = client.redirect_uris[i === 0 ? 0 : client.redirect_uris.length - 1];
        const start = Date.now();
        const login = await oidcLogin(r.vault, hydra, r.caPem, {
            mount: facts.oidcPath,
            role: facts.oidcRole,
            redirectUri,
            groupsClaim: String(rd.groups_claim),
            user,
        });
        // Never the token itself in a failure's message.
        const seen = { ...login, token: "(hidden)" };
        check(same(login.tokenPolicies, ["default"]), `${user.name}: token policies exactly [default]`, seen);
        check(same(login.identityPolicies, expected), `${user.name}: identity policies exactly [${expected}]`, seen);
        check(
            login.displayName === `${facts.oidcPath}-${user.name}`,
            `${user.name}: named by preferred_username`,
            seen,
        );
        const read = await r.vault.request("GET", mountProbe, undefined, login.token);
        const write = await r.vault.request(
            "POST",
            `/v1/${facts.clusterMount}/data/e2e/oidc-${user.name}`,
            newKey({ by: user.name }),
            login.token,
        );
        // The rights are checked where every policy of the user is one of the project's own (RIGHTS).
        const known = expected.every((p) => RIGHTS[p] !== undefined);
        if (known) {
            const rw = expected.some((p) => RIGHTS[p] === "rw");
            check(read.status === (expected.length === 0 ? 403 : 200), `${user.name}: read ${mountProbe}`, read.status);
            check(write.status === (rw ? 200 : 403), `${user.name}: write on ${facts.clusterMount}`, write.status);
        }
        await r.vault.request("PUT", "/v1/auth/token/revoke-self", {}, login.token);
        log(
            `  OIDC login of ${user.name} (groups ${user.groups.join(", ")}) via ${redirectUri} in ${Date.now() - start} ms: ` +
                `token [default], identity [${login.identityPolicies.join(", ")}]; ` +
                `read ${read.status}, write ${write.status}${known ? "" : " (rights not checked: a policy of the stack's own)"}`,
        );
    }
}
