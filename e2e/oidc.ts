/**
 * The human path (issue 15, scenario step 3): the hydra client registered
 * exactly as the program's `autheliaOidcClient` output describes, then a
 * real OIDC login through Vault's OIDC auth method: Vault's auth_url, the
 * browser's redirects to hydra (followed here by hand, with hydra's CSRF
 * cookies), the login and consent accepted through hydra's admin API with
 * the user's groups in the ID token, and Vault's callback with the code.
 * Nothing here decides a policy: Vault maps the groups claim through the
 * stack's external groups.
 */
import * as https from "https";
import { RigHydra } from "./rig/hydra";
import { VaultClient } from "./rig/vault";

function check(ok: boolean, what: string, seen: unknown): void {
    if (!ok) throw new Error(`check failed: ${what}; seen: ${JSON.stringify(seen).slice(0, 2000)}`);
}

/** The program's `autheliaOidcClient` output (components/lib/oidc.ts AutheliaClient). */
export interface AutheliaClientOutput {
    readonly client_id: string;
    readonly client_name: string;
    readonly public: boolean;
    readonly authorization_policy: string;
    readonly redirect_uris: string[];
    readonly scopes: string[];
    readonly grant_types: string[];
    readonly response_types: string[];
    readonly response_modes: string[];
    readonly token_endpoint_auth_method: string;
}

/**
 * Registers the client in hydra from the output, field by field, and reads
 * it back. Authelia-only fields: `public: false` is hydra's confidential
 * client (a secret, an auth method other than none); `authorization_policy`
 * (two_factor) is Authelia's own login policy, played here by the rig
 * accepting the login; `response_modes: [query]` is hydra's default for the
 * code flow, checked on the redirect.
 */
export async function registerClient(
    hydra: RigHydra,
    client: AutheliaClientOutput,
    secret: string,
): Promise<Record<string, unknown>> {
    check(client.public === false, "the output describes a confidential client", client.public);
    check(client.token_endpoint_auth_method !== "none", "a confidential client authenticates", client);
    check(JSON.stringify(client.response_modes) === JSON.stringify(["query"]), "response mode query", client);
    const body = {
        client_id: client.client_id,
        client_name: client.client_name,
        client_secret: secret,
        redirect_uris: client.redirect_uris,
        scope: client.scopes.join(" "),
        grant_types: client.grant_types,
        response_types: client.response_types,
        token_endpoint_auth_method: client.token_endpoint_auth_method,
    };
    const created = await hydra.adminRequest("POST", "/admin/clients", body);
    check(created.status === 201, "hydra registers the stack's client", created);
    const read = await hydra.adminRequest("GET", `/admin/clients/${encodeURIComponent(client.client_id)}`);
    const got = read.body as Record<string, unknown>;
    for (const key of ["client_id", "redirect_uris", "scope", "grant_types", "response_types"] as const) {
        check(JSON.stringify(got[key]) === JSON.stringify(body[key]), `hydra's client ${key} reads back`, got[key]);
    }
    check(got.token_endpoint_auth_method === body.token_endpoint_auth_method, "auth method", got);
    return got;
}

interface Hop {
    readonly status: number;
    readonly location?: string;
    readonly body: string;
}

/** One GET with the jar's cookies, no redirect followed; Set-Cookie goes into the jar. */
function hop(url: string, ca: string, jar: Map<string, string>): Promise<Hop> {
    return new Promise((resolve, reject) => {
        const cookie = [...jar.entries()].map(([k, v]) => `${k}=${v}`).join("; ");
        https
            .get(url, { ca, timeout: 10_000, headers: cookie === "" ? {} : { cookie } }, (res) => {
                for (const c of res.headers["set-cookie"] ?? []) {
                    const [pair] = c.split(";");
                    const eq = pair.indexOf("=");
                    jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
                }
                const chunks: Buffer[] = [];
                res.on("data", (d: Buffer) => chunks.push(d));
                res.on("end", () =>
                    resolve({
                        status: res.statusCode ?? 0,
                        location: res.headers.location,
                        body: Buffer.concat(chunks).toString("utf8"),
                    }),
                );
            })
            .on("error", reject);
    });
}

/** Follows the redirect of a hop that must be one (3xx with a Location), relative to the URL it came from. */
function redirectOf(h: Hop, from: string, what: string): URL {
    check(h.status >= 300 && h.status < 400 && h.location !== undefined, `${what}: a redirect`, {
        status: h.status,
        body: h.body.slice(0, 500),
    });
    return new URL(h.location as string, from);
}

export interface OidcUser {
    readonly name: string;
    readonly groups: readonly string[];
}

export interface OidcLogin {
    readonly token: string;
    readonly displayName: string;
    readonly tokenPolicies: string[];
    readonly identityPolicies: string[];
    /** The redirect URI the login used (one the role allows). */
    readonly redirectUri: string;
}

/**
 * One login: Vault's auth_url for the stack's role and redirect URI, the
 * redirects through hydra with the login and consent accepted on its admin
 * API (subject and groups of the user, the scopes and audience requested),
 * then Vault's callback with the state and code from the final redirect.
 */
export async function oidcLogin(
    vault: VaultClient,
    hydra: RigHydra,
    ca: string,
    opts: { mount: string; role: string; redirectUri: string; groupsClaim: string; user: OidcUser },
): Promise<OidcLogin> {
    const auth = await vault.request("PUT", `/v1/auth/${opts.mount}/oidc/auth_url`, {
        role: opts.role,
        redirect_uri: opts.redirectUri,
    });
    const authUrl = String(auth.body?.data?.auth_url ?? "");
    check(auth.status === 200 && authUrl.startsWith(hydra.issuer), "Vault's auth_url points at hydra", auth.body);
    const jar = new Map<string, string>();

    const toLogin = redirectOf(await hop(hydra.hostUrl(authUrl), ca, jar), authUrl, "hydra's authorization endpoint");
    const loginChallenge = toLogin.searchParams.get("login_challenge");
    check(
        toLogin.href.startsWith(hydra.loginUrl) && loginChallenge !== null,
        "hydra sends the browser to the login UI",
        toLogin.href,
    );
    const login = await hydra.adminRequest(
        "PUT",
        `/admin/oauth2/auth/requests/login/accept?login_challenge=${encodeURIComponent(loginChallenge as string)}`,
        { subject: opts.user.name, remember: false },
    );
    const afterLogin = String((login.body as { redirect_to?: string }).redirect_to ?? "");
    check(login.status === 200 && afterLogin !== "", "hydra accepts the login", login.body);

    const toConsent = redirectOf(await hop(hydra.hostUrl(afterLogin), ca, jar), afterLogin, "hydra after the login");
    const consentChallenge = toConsent.searchParams.get("consent_challenge");
    check(
        toConsent.href.startsWith(hydra.consentUrl) && consentChallenge !== null,
        "hydra sends the browser to the consent UI",
        toConsent.href,
    );
    const q = `consent_challenge=${encodeURIComponent(consentChallenge as string)}`;
    const request = await hydra.adminRequest("GET", `/admin/oauth2/auth/requests/consent?${q}`);
    const asked = request.body as { requested_scope?: string[]; requested_access_token_audience?: string[] };
    const consent = await hydra.adminRequest("PUT", `/admin/oauth2/auth/requests/consent/accept?${q}`, {
        grant_scope: asked.requested_scope ?? [],
        grant_access_token_audience: asked.requested_access_token_audience ?? [],
        remember: false,
        session: {
            id_token: {
                preferred_username: opts.user.name,
                email: `${opts.user.name}@e2e.invalid`,
                [opts.groupsClaim]: [...opts.user.groups],
            },
        },
    });
    const afterConsent = String((consent.body as { redirect_to?: string }).redirect_to ?? "");
    check(consent.status === 200 && afterConsent !== "", "hydra accepts the consent", consent.body);

    const back = redirectOf(await hop(hydra.hostUrl(afterConsent), ca, jar), afterConsent, "hydra after the consent");
    const code = back.searchParams.get("code");
    const state = back.searchParams.get("state");
    check(
        `${back.origin}${back.pathname}` === opts.redirectUri && code !== null && state !== null,
        "hydra returns to the role's redirect URI with a code and the state in the query (response mode query)",
        { to: `${back.origin}${back.pathname}`, params: [...back.searchParams.keys()] },
    );

    const callback = await vault.request(
        "GET",
        `/v1/auth/${opts.mount}/oidc/callback?state=${encodeURIComponent(state as string)}&code=${encodeURIComponent(code as string)}`,
    );
    check(callback.status === 200 && typeof callback.body?.auth?.client_token === "string", "Vault's callback", {
        status: callback.status,
        errors: callback.body?.errors,
    });
    const a = callback.body.auth;
    // The token as Vault holds it: its display name is the mount and the user claim's value.
    const self = await vault.request("GET", "/v1/auth/token/lookup-self", undefined, a.client_token);
    check(self.status === 200, "the new token looks itself up", self.status);
    return {
        token: a.client_token as string,
        displayName: String(self.body.data.display_name),
        tokenPolicies: [...((a.token_policies ?? []) as string[])].sort(),
        identityPolicies: [...((a.identity_policies ?? []) as string[])].sort(),
        redirectUri: opts.redirectUri,
    };
}
