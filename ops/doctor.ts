/**
 * `npm run doctor -- --stack <name>`: asks Vault about the usual causes of a
 * 403 or a silent ExternalSecret, and prints one line per finding
 * (docs/monitoring.md#the-doctor). It reads the stack file with the program's
 * own loader and talks to Vault only through vaultApi, with the token in
 * VAULT_TOKEN (never an argument: it would land in shell history).
 *
 * What it can see from Vault alone: the seal, TLS trust of Vault's
 * certificate by trust.caBundle, the Kubernetes auth config and the stores'
 * roles, the cluster's and each tenant group's (issuer, kubernetesAuth.audience,
 * only the login ServiceAccount and its namespace bound) against what the stack
 * configures, the KV v2 capabilities of the store's policies (sys/capabilities
 * with a short-lived token holding exactly the role's policies), the OIDC
 * role's redirect URIs and groups claim against the stack's client, and the
 * canary key against the value the stack writes. The OIDC provider itself is
 * asked without admin rights (./oidc-provider.ts): its discovery document, the
 * role's redirect URIs against its client, its groups scope and claim.
 */
import * as crypto from "node:crypto";
import { parseArgs } from "node:util";
import { ConfigSource, loadConfig, PlatformConfig } from "../components/config";
import { oidcRedirectUris, oidcRoleInputs } from "../components/lib/oidc";
import { CANARY, canaryValue, sharedStoreMounts, tenantRoleName } from "../components/lib/secret-store-manifests";
import { apiErrors, ApiResponse, NoAnswerError, vaultApi, VaultEndpoint } from "../components/lib/vault-api";
import { fault, Finding, listed, ok, strings, UNTRUSTED } from "./doctor-finding";
import { GROUPS_SCOPE, oidcProviderFindings } from "./oidc-provider";
import { readStackFile, StackFile } from "./stack-file";

export type { Finding, Severity } from "./doctor-finding";

/** The keys the doctor reads. */
export type DoctorSlice = Pick<
    PlatformConfig,
    "cluster" | "kubernetesAuth" | "externalSecrets" | "kv" | "oidc" | "exposure" | "trust" | "vault"
>;

/** The probe key under each readable path: a path nothing writes, asked about, never read. */
const PROBE = "doctor-probe";

function data(res: ApiResponse): Record<string, unknown> {
    return (res.body?.data as Record<string, unknown> | undefined) ?? {};
}

/** The endpoint the stack's clients use: vault.address, trusting trust.caBundle only. */
export function stackEndpoint(config: DoctorSlice, address?: string): VaultEndpoint {
    return {
        address: address ?? config.vault.address,
        caBundle: config.trust.caBundle,
        skipTlsVerify: config.vault.skipTlsVerify,
    };
}

/** Runs every check; the first two (reachability/trust, seal) stop the rest when they fail. */
export async function diagnose(config: DoctorSlice, ep: VaultEndpoint, token: string): Promise<Finding[]> {
    const api = (method: string, p: string, body?: unknown, as: string = token) => vaultApi(ep, method, p, body, as);
    const findings: Finding[] = [];

    let seal: ApiResponse;
    try {
        seal = await api("GET", "sys/seal-status");
    } catch (e) {
        const err = e as NoAnswerError;
        if (err.code !== undefined && UNTRUSTED.has(err.code)) {
            const trusted =
                config.trust.caBundle === undefined ? "the public roots (trust.caBundle is unset)" : "trust.caBundle";
            return [
                fault(
                    "ca trust",
                    `Vault's certificate at ${ep.address} does not chain to ${trusted} (${err.code}): every client of this stack (provider, ESO, unsealer) refuses it; set trust.caBundle to the CA that signs it`,
                ),
            ];
        }
        return [fault("vault reachable", `no answer from ${ep.address}: ${err.reason ?? err.message}`)];
    }
    findings.push(
        ok(
            "ca trust",
            ep.address.startsWith("https:")
                ? `Vault's certificate at ${ep.address} is trusted`
                : `${ep.address} is plain http: no certificate to trust`,
        ),
    );
    if (seal.body?.sealed === true) {
        const b = seal.body;
        findings.push(
            fault(
                "vault sealed",
                `Vault at ${ep.address} is sealed (unseal progress ${String(b.progress)}/${String(b.t)}): every read fails with 503 until it is unsealed (docs/monitoring.md#vaultsealedordown)`,
            ),
        );
        return findings;
    }
    findings.push(ok("vault sealed", "Vault is unsealed"));

    // Kubernetes auth: the stack validates tokens by TokenReview and sets no issuer; its roles require kubernetesAuth.audience.
    const k = config.kubernetesAuth;
    const es = config.externalSecrets;
    const authConfig = await api("GET", `auth/${k.path}/config`);
    if (authConfig.status !== 200) {
        findings.push(
            fault(
                "kubernetes auth",
                `cannot read auth/${k.path}/config (HTTP ${authConfig.status}${apiErrors(authConfig)})`,
            ),
        );
    } else {
        const c = data(authConfig);
        const issuer = typeof c.issuer === "string" ? c.issuer : "";
        if (issuer !== "" && c.disable_iss_validation !== true) {
            findings.push(
                fault(
                    "kubernetes auth issuer",
                    `auth/${k.path}/config requires issuer ${issuer}, which this stack does not set (it validates tokens by TokenReview): tokens whose iss differs are refused with 403 "invalid issuer (iss) claim"; remove the issuer or run pulumi up`,
                ),
            );
        } else findings.push(ok("kubernetes auth issuer", `auth/${k.path}/config pins no issuer`));
    }
    // The stores' roles (the cluster's, one per tenant group): all log in as the one login ServiceAccount.
    const rolePolicies = await roleFindings(config, api, k.role, findings);
    for (const t of es.tenants) await roleFindings(config, api, tenantRoleName(k.role, t.name), findings);

    // KV v2 capabilities of exactly the role's policies, through a short-lived token that holds only them.
    if (rolePolicies.length > 0) {
        findings.push(...(await capabilities(config, api, rolePolicies)));
    }

    if (config.externalSecrets.canary) findings.push(await canaryFinding(config, api));
    if (config.oidc.enabled) findings.push(...(await oidcFindings(config, api)));
    return findings;
}

type Api = (method: string, p: string, body?: unknown, as?: string) => Promise<ApiResponse>;

/**
 * One store role: it exists, requires exactly kubernetesAuth.audience (the audience the stores
 * request), and binds only the login ServiceAccount in ESO's namespace. Returns its policies.
 */
async function roleFindings(config: DoctorSlice, api: Api, name: string, findings: Finding[]): Promise<string[]> {
    const k = config.kubernetesAuth;
    const es = config.externalSecrets;
    const login = `${es.namespace}/${es.serviceAccount}`;
    const role = await api("GET", `auth/${k.path}/role/${name}`);
    if (role.status !== 200) {
        findings.push(
            fault(
                "kubernetes auth binding",
                `no role ${name} at auth/${k.path} (HTTP ${role.status}): ESO's login fails with 400 "invalid role name"`,
            ),
        );
        return [];
    }
    const r = data(role);
    const audience = typeof r.audience === "string" ? r.audience : "";
    if (audience === "") {
        findings.push(
            fault(
                "kubernetes auth audience",
                `role ${name} at auth/${k.path} requires no audience, so a token minted for the API server (any pod's own) logs in too; the stack requires ${k.audience} (kubernetesAuth.audience): run pulumi up`,
            ),
        );
    } else if (audience !== k.audience) {
        findings.push(
            fault(
                "kubernetes auth audience",
                `role ${name} at auth/${k.path} requires audience ${audience}, but the stores request tokens for ${k.audience} (kubernetesAuth.audience): logins fail with 403 "invalid audience (aud) claim"`,
            ),
        );
    } else
        findings.push(
            ok("kubernetes auth audience", `role ${name} requires audience ${audience}, as the stores request`),
        );
    const names = strings(r.bound_service_account_names);
    const namespaces = strings(r.bound_service_account_namespaces);
    const bad: Finding[] = [];
    if (!names.includes(es.serviceAccount) && !names.includes("*")) {
        bad.push(
            fault(
                "kubernetes auth binding",
                `role ${name} at auth/${k.path} does not bind ServiceAccount ${es.serviceAccount} (bound: ${listed(names)}): ESO's login fails with 403 "service account name not authorized"`,
            ),
        );
    }
    if (!namespaces.includes(es.namespace) && !namespaces.includes("*")) {
        bad.push(
            fault(
                "kubernetes auth binding",
                `role ${name} at auth/${k.path} does not bind namespace ${es.namespace} (bound: ${listed(namespaces)}): ESO's login fails with 403 "namespace not authorized"`,
            ),
        );
    }
    // Least privilege: anything beyond the login ServiceAccount (a wildcard, ESO's controller) reads with the stores' policies.
    const extra = [...names.filter((n) => n !== es.serviceAccount), ...namespaces.filter((n) => n !== es.namespace)];
    if (bad.length === 0 && extra.length > 0) {
        bad.push(
            fault(
                "kubernetes auth binding",
                `role ${name} at auth/${k.path} binds more than ${login} (ServiceAccounts: ${listed(names)}; namespaces: ${listed(namespaces)}): those log in with the stores' policies; run pulumi up`,
            ),
        );
    }
    findings.push(...(bad.length > 0 ? bad : [ok("kubernetes auth binding", `role ${name} binds only ${login}`)]));
    return strings(r.token_policies);
}

async function capabilities(config: DoctorSlice, api: Api, policies: string[]): Promise<Finding[]> {
    const created = await api("POST", "auth/token/create-orphan", {
        policies,
        no_default_policy: true,
        ttl: "60s",
        renewable: false,
        display_name: "doctor",
    });
    const probe = (created.body?.auth as { client_token?: string } | undefined)?.client_token;
    if (created.status !== 200 || probe === undefined) {
        return [
            fault(
                "kv capabilities",
                `cannot check the store's capabilities: this token may not create a token with ${policies.join(", ")} (HTTP ${created.status}${apiErrors(created)})`,
            ),
        ];
    }
    try {
        const stores = [
            { store: config.externalSecrets.storeName, mount: `${config.cluster.name}`, prefix: "" },
            ...sharedStoreMounts(config).flatMap((m) =>
                (config.kv.shared.find((s) => s.name === m.mount)?.readablePaths ?? []).map((p) => ({
                    store: m.storeName,
                    mount: m.mount,
                    prefix: `${p}/`,
                })),
            ),
        ];
        const findings: Finding[] = [];
        for (const s of stores) {
            const paths = {
                data: `${s.mount}/data/${s.prefix}${PROBE}`,
                metadata: `${s.mount}/metadata/${s.prefix}${PROBE}`,
            };
            const res = await api("POST", "sys/capabilities", { token: probe, paths: Object.values(paths) });
            const caps = (p: string) => strings((res.body as Record<string, unknown> | undefined)?.[p]);
            const missing: string[] = [];
            if (!caps(paths.data).includes("read")) missing.push(`read on ${s.mount}/data/${s.prefix}*`);
            for (const c of ["read", "list"]) {
                if (!caps(paths.metadata).includes(c)) missing.push(`${c} on ${s.mount}/metadata/${s.prefix}*`);
            }
            findings.push(
                missing.length === 0
                    ? ok(
                          "kv capabilities",
                          `store ${s.store}: ${policies.join(", ")} grant read on data/ and read, list on metadata/ of ${s.mount}/${s.prefix}`,
                      )
                    : fault(
                          "kv capabilities",
                          `store ${s.store}: the role's policies (${policies.join(", ")}) lack ${missing.join(", ")}: ESO gets 403 "permission denied" (KV v2 needs the data/ and metadata/ prefixes, not the bare path)`,
                      ),
            );
        }
        return findings;
    } finally {
        await api("POST", "auth/token/revoke-self", undefined, probe);
    }
}

/** The canary key holds what the stack wrote (its hash is the stack output canarySha256). */
async function canaryFinding(config: DoctorSlice, api: Api): Promise<Finding> {
    const where = `${config.cluster.name}/${CANARY.remoteKey}`;
    const res = await api("GET", `${config.cluster.name}/data/${CANARY.remoteKey}`);
    const value = ((res.body?.data as { data?: Record<string, unknown> } | undefined)?.data ?? {})[CANARY.property];
    const sha = (v: string) => crypto.createHash("sha256").update(v).digest("hex");
    const want = sha(canaryValue(config.cluster.name));
    if (res.status !== 200 || typeof value !== "string") {
        return fault(
            "canary",
            `no canary at ${where} (HTTP ${res.status}): the canary ExternalSecret cannot sync; run pulumi up`,
        );
    }
    if (sha(value) !== want) {
        return fault(
            "canary",
            `the canary at ${where} has SHA-256 ${sha(value)}, not the stack's canarySha256 ${want}: something else wrote it; run pulumi up`,
        );
    }
    return ok("canary", `${where} holds the stack's value (SHA-256 ${want}, as the synced Secret's key sha256 must)`);
}

async function oidcFindings(config: DoctorSlice, api: Api): Promise<Finding[]> {
    const o = config.oidc;
    const res = await api("GET", `auth/${o.path}/role/${o.defaultRole}`);
    if (res.status !== 200) {
        // The provider is still asked, with the stack's redirect URIs and scopes.
        const inputs = oidcRoleInputs(config);
        return [
            fault("oidc role", `no role ${o.defaultRole} at auth/${o.path} (HTTP ${res.status}): OIDC login fails`),
            ...(await oidcProviderFindings(config, {
                redirectUris: inputs.allowedRedirectUris,
                scopes: ["openid", ...inputs.oidcScopes],
            })),
        ];
    }
    const r = data(res);
    const findings: Finding[] = [];
    const want = oidcRedirectUris(config).sort();
    const have = strings(r.allowed_redirect_uris).sort();
    if (JSON.stringify(want) !== JSON.stringify(have)) {
        findings.push(
            fault(
                "oidc redirect uris",
                `role ${o.defaultRole} at auth/${o.path} allows ${listed(have)}, but the stack's client (${o.clientId}) registers ${want.join(", ")}: run pulumi up (the oidc provider lines say what the provider accepts)`,
            ),
        );
    } else findings.push(ok("oidc redirect uris", `role ${o.defaultRole} allows exactly the client's redirect URIs`));
    const claim = typeof r.groups_claim === "string" ? r.groups_claim : "";
    const scopes = strings(r.oidc_scopes);
    if (claim !== o.groupsClaim) {
        findings.push(
            fault(
                "oidc groups claim",
                `role ${o.defaultRole} at auth/${o.path} reads groups from claim "${claim}", the stack from "${o.groupsClaim}": logins succeed with no group policies`,
            ),
        );
    } else if (!scopes.includes(GROUPS_SCOPE)) {
        findings.push(
            fault(
                "oidc groups claim",
                `role ${o.defaultRole} at auth/${o.path} does not request the groups scope (scopes: ${listed(scopes)}): the ID token carries no ${o.groupsClaim} claim, so logins get no group policies`,
            ),
        );
    } else
        findings.push(
            ok("oidc groups claim", `role ${o.defaultRole} requests the groups scope and reads claim ${claim}`),
        );
    // Vault always requests openid, then the role's scopes.
    const requested = ["openid", ...scopes.filter((s) => s !== "openid")];
    findings.push(...(await oidcProviderFindings(config, { redirectUris: have, scopes: requested })));
    return findings;
}

/** One line per finding: `FAULT <check>: <message>` or `ok    <check>: <message>`. */
export function formatFinding(f: Finding): string {
    return `${f.severity === "fault" ? "FAULT" : "ok   "} ${f.check}: ${f.message}`;
}

export const DOCTOR_USAGE = `usage: npm run doctor -- --stack <name> [--address <url>]

Asks the stack's Vault (and its OIDC provider, as a browser would) about the
usual causes of 403s, silent ExternalSecrets and failed logins, and prints one
line per finding; exits 1 when any is a FAULT.
  --stack    the stack whose Pulumi.<name>.yaml describes the platform
  --address  reach Vault here instead of vault.address (e.g. a kubectl port-forward)
The Vault token comes from VAULT_TOKEN (it needs to read the auth mounts and
create a short-lived token with the store's policies: an admin token).`;

/** The stack file as the loader's ConfigSource (secrets stay placeholders: the doctor reads none). */
function stackSource(file: StackFile): ConfigSource {
    const all: Record<string, unknown> = { ...file.values, ...file.secrets };
    return {
        get: (key) => {
            const v = all[key];
            return v === undefined ? undefined : typeof v === "string" ? v : JSON.stringify(v);
        },
        isSecret: (key) => file.secrets[key] !== undefined,
        keys: () => Object.keys(all),
    };
}

/** The command: parses argv, loads the stack's config, diagnoses, prints; returns the exit code. */
export async function doctorMain(
    argv: readonly string[],
    env: Readonly<Record<string, string | undefined>>,
    print: (line: string) => void,
    root?: string,
): Promise<number> {
    const { values } = parseArgs({
        args: [...argv],
        options: { stack: { type: "string" }, address: { type: "string" }, help: { type: "boolean", short: "h" } },
        strict: true,
    });
    if (values.help === true) {
        print(DOCTOR_USAGE);
        return 0;
    }
    if (values.stack === undefined) throw new Error(`--stack is required\n\n${DOCTOR_USAGE}`);
    const token = env.VAULT_TOKEN;
    if (token === undefined || token === "")
        throw new Error("VAULT_TOKEN is not set: export an admin token (vault login prints one)");
    const config = loadConfig(stackSource(readStackFile(values.stack, root)));
    const findings = await diagnose(config, stackEndpoint(config, values.address), token);
    for (const f of findings) print(formatFinding(f));
    const faults = findings.filter((f) => f.severity === "fault").length;
    print(faults === 0 ? "doctor: no fault found" : `doctor: ${faults} fault${faults === 1 ? "" : "s"}`);
    return faults === 0 ? 0 : 1;
}
