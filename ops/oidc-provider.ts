/**
 * The doctor's OIDC checks against the provider itself, with no admin rights
 * (Authelia has no client API): the discovery document at the stack's issuer,
 * fetched with the stack's trust; then, for each redirect URI the Vault role
 * allows, the login request Vault would send to the provider's authorization
 * endpoint (client_id, redirect_uri, response_type=code, Vault's scopes, a
 * random state and nonce), read without following its redirect: a redirect to
 * the provider's login means the client accepts that URI; an OAuth error
 * (a redirect to an error page, or an error page) means it refuses it.
 * Everything but `oidcProviderFindings` is a pure function of what was fetched.
 */
import * as crypto from "node:crypto";
import { PlatformConfig } from "../components/config";
import { fault, Finding, listed, ok, strings, UNTRUSTED } from "./doctor-finding";
import { ProviderAnswer, ProviderGet, providerGet, ProviderNoAnswer } from "./provider-http";

/** The keys these checks read. */
export type OidcProviderSlice = Pick<PlatformConfig, "oidc" | "trust">;

/** The scope that makes Authelia put the groups claim in the ID token. */
export const GROUPS_SCOPE = "groups";

/** Where Vault (go-oidc) fetches the discovery document for an issuer. */
export function discoveryUrl(issuer: string): string {
    return `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
}

/** The CAs Vault trusts for the provider (oidc.discoveryCaPem, else trust.caBundle), and the key that sets them. */
export function providerTrust(config: OidcProviderSlice): { caBundle?: string; trusted: string; key: string } {
    const key = "trust.caBundle (or oidc.discoveryCaPem, for the issuer alone)";
    if (config.oidc.discoveryCaPem !== undefined)
        return { caBundle: config.oidc.discoveryCaPem, trusted: "oidc.discoveryCaPem", key: "oidc.discoveryCaPem" };
    if (config.trust.caBundle !== undefined) return { caBundle: config.trust.caBundle, trusted: "trust.caBundle", key };
    return { trusted: "the public roots (trust.caBundle and oidc.discoveryCaPem are unset)", key };
}

/** What the checks use of a discovery document. */
export interface Discovery {
    readonly issuer: string;
    readonly authorizationEndpoint: string;
    /** Undefined when the document does not list it (it is optional). */
    readonly scopesSupported?: string[];
    readonly claimsSupported?: string[];
}

/** An answer, or why none came. */
export type Fetched = { readonly answer: ProviderAnswer } | { readonly error: ProviderNoAnswer };

function json(text: string): Record<string, unknown> | undefined {
    try {
        const v: unknown = JSON.parse(text);
        return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    } catch {
        return undefined;
    }
}

/** The discovery line, and the document when it is one Vault can use. */
export function discoveryFinding(
    config: OidcProviderSlice,
    url: string,
    fetched: Fetched,
): { finding: Finding; discovery?: Discovery } {
    const check = "oidc discovery";
    const issuer = config.oidc.issuer ?? "";
    if ("error" in fetched) {
        const { code, reason } = fetched.error;
        if (code !== undefined && UNTRUSTED.has(code)) {
            const t = providerTrust(config);
            return {
                finding: fault(
                    check,
                    `the OIDC provider's certificate at ${url} does not chain to ${t.trusted} (${code}): Vault cannot fetch the discovery document, so pulumi up and every OIDC login fail; set ${t.key} to the CA that signs it`,
                ),
            };
        }
        return { finding: fault(check, `no answer from ${url}: ${reason}; check oidc.issuer (${issuer})`) };
    }
    const { answer } = fetched;
    const doc = answer.status === 200 ? json(answer.text) : undefined;
    const endpoint = doc?.authorization_endpoint;
    if (doc === undefined || typeof endpoint !== "string" || endpoint === "") {
        return {
            finding: fault(
                check,
                `${url} answers HTTP ${answer.status} without a discovery document (no authorization_endpoint): check oidc.issuer (${issuer})`,
            ),
        };
    }
    const discovery: Discovery = {
        issuer: typeof doc.issuer === "string" ? doc.issuer : "",
        authorizationEndpoint: endpoint,
        scopesSupported: doc.scopes_supported === undefined ? undefined : strings(doc.scopes_supported),
        claimsSupported: doc.claims_supported === undefined ? undefined : strings(doc.claims_supported),
    };
    // go-oidc, in Vault, compares the two strings exactly (a trailing slash counts).
    if (discovery.issuer === "") {
        return {
            discovery,
            finding: fault(check, `${url} names no issuer: Vault refuses the provider; check oidc.issuer (${issuer})`),
        };
    }
    if (discovery.issuer !== issuer) {
        return {
            discovery,
            finding: fault(
                check,
                `${url} names issuer ${discovery.issuer}, but oidc.issuer is ${issuer}: Vault refuses the provider ("issuer did not match"); set oidc.issuer to ${discovery.issuer}`,
            ),
        };
    }
    return {
        discovery,
        finding: ok(check, `${url} is trusted and names issuer ${issuer}; authorization endpoint ${endpoint}`),
    };
}

/** Vault's login request for one redirect URI (what the role's auth_url would send the browser to). */
export interface ProbeRequest {
    readonly clientId: string;
    readonly redirectUri: string;
    /** openid and the role's oidc_scopes, as Vault requests them. */
    readonly scopes: readonly string[];
    readonly state: string;
    readonly nonce: string;
}

export function authorizeUrl(endpoint: string, r: ProbeRequest): string {
    const url = new URL(endpoint);
    url.searchParams.set("client_id", r.clientId);
    url.searchParams.set("redirect_uri", r.redirectUri);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("scope", r.scopes.join(" "));
    url.searchParams.set("state", r.state);
    url.searchParams.set("nonce", r.nonce);
    return url.href;
}

/** How the provider answered one login request. */
export type ProbeOutcome =
    /** It sends the browser on (to its login, or straight back with a code): the redirect URI is registered. */
    | { readonly kind: "accepted"; readonly to: string }
    /** An OAuth error not sent back to the redirect URI (or an error page): it refuses the redirect URI. */
    | { readonly kind: "refused"; readonly error: string; readonly description: string }
    /** The client does not exist. */
    | { readonly kind: "unknown client"; readonly error: string; readonly description: string }
    /** Sent back to the redirect URI with an error: the URI is registered, the request is refused. */
    | { readonly kind: "request refused"; readonly error: string; readonly description: string }
    | { readonly kind: "no answer"; readonly reason: string };

/** Whether a redirect goes to the redirect URI (origin and path; the query holds the code or error). */
function toRedirectUri(to: URL, redirectUri: string): boolean {
    try {
        const uri = new URL(redirectUri);
        return to.origin === uri.origin && to.pathname === uri.pathname;
    } catch {
        return false;
    }
}

/** Classifies the provider's answer to `requestUrl` (a login request for `redirectUri`). */
export function classifyProbe(redirectUri: string, requestUrl: string, fetched: Fetched): ProbeOutcome {
    if ("error" in fetched) return { kind: "no answer", reason: fetched.error.reason };
    const { answer } = fetched;
    const refusal = (error: string, description: string, toClient: boolean): ProbeOutcome =>
        toClient
            ? { kind: "request refused", error, description }
            : error === "invalid_client"
              ? { kind: "unknown client", error, description }
              : { kind: "refused", error, description };
    if (answer.status >= 300 && answer.status < 400 && answer.location !== undefined) {
        const to = new URL(answer.location, requestUrl);
        const toClient = toRedirectUri(to, redirectUri);
        const error = to.searchParams.get("error");
        if (error === null) return { kind: "accepted", to: `${to.origin}${to.pathname}` };
        return refusal(error, to.searchParams.get("error_description") ?? "", toClient);
    }
    const body = json(answer.text);
    if (typeof body?.error === "string") {
        return refusal(body.error, typeof body.error_description === "string" ? body.error_description : "", false);
    }
    if (answer.status >= 200 && answer.status < 300) return { kind: "accepted", to: `a page (HTTP ${answer.status})` };
    return {
        kind: "refused",
        error: `HTTP ${answer.status}`,
        description: "an error page instead of a redirect to the provider's login",
    };
}

const said = (error: string, description: string) => (description === "" ? error : `${error}: ${description}`);

/** One line per probed redirect URI (one line in all for an unknown client); scope refusals go to scopeFindings. */
export function probeFindings(
    config: OidcProviderSlice,
    endpoint: string,
    probes: readonly { readonly uri: string; readonly outcome: ProbeOutcome }[],
): Finding[] {
    const o = config.oidc;
    const check = "oidc provider redirect uri";
    const unknown = probes.find((p) => p.outcome.kind === "unknown client");
    if (unknown !== undefined && unknown.outcome.kind === "unknown client") {
        return [
            fault(
                "oidc provider client",
                `the provider has no client ${o.clientId} (oidc.clientId) (${said(unknown.outcome.error, unknown.outcome.description)}): register the stack's autheliaOidcClient output with it`,
            ),
        ];
    }
    return probes.map(({ uri, outcome }) => {
        switch (outcome.kind) {
            case "accepted":
                return ok(
                    check,
                    `${endpoint} accepts redirect URI ${uri} for client ${o.clientId} (on to ${outcome.to})`,
                );
            case "request refused":
                return outcome.error === "invalid_scope"
                    ? ok(check, `${endpoint} accepts redirect URI ${uri} for client ${o.clientId}`)
                    : fault(
                          check,
                          `the provider accepts redirect URI ${uri} for client ${o.clientId} but refuses Vault's login request (${said(outcome.error, outcome.description)})`,
                      );
            case "no answer":
                return fault(check, `no answer from ${endpoint} for redirect URI ${uri}: ${outcome.reason}`);
            default:
                return fault(
                    check,
                    `the provider refuses redirect URI ${uri} for client ${o.clientId} (${said(outcome.error, outcome.description)}): add it to the client's redirect_uris at the provider (the stack output autheliaOidcClient lists them), or remove it from role ${o.defaultRole}`,
                );
        }
    });
}

/** The groups scope: listed in discovery's scopes_supported (when listed), and the client may request Vault's scopes. */
export function scopeFindings(
    config: OidcProviderSlice,
    discovery: Discovery,
    scopes: readonly string[],
    probes: readonly { readonly outcome: ProbeOutcome }[],
): Finding[] {
    const o = config.oidc;
    const check = "oidc provider scopes";
    const findings: Finding[] = [];
    const supported = discovery.scopesSupported;
    if (supported !== undefined && !supported.includes(GROUPS_SCOPE)) {
        findings.push(
            fault(
                check,
                `the provider's scopes_supported (${listed(supported)}) lacks ${GROUPS_SCOPE}: its ID tokens carry no ${o.groupsClaim} claim, so logins get no group policies; enable the ${GROUPS_SCOPE} scope at the provider`,
            ),
        );
    }
    const refused = probes.find((p) => p.outcome.kind === "request refused" && p.outcome.error === "invalid_scope");
    if (refused !== undefined && refused.outcome.kind === "request refused") {
        findings.push(
            fault(
                check,
                `client ${o.clientId} may not request the scopes Vault asks for (${scopes.join(" ")}) at the provider (${said(refused.outcome.error, refused.outcome.description)}): allow them in the client's scopes (the stack output autheliaOidcClient lists them)`,
            ),
        );
    }
    if (findings.length > 0) return findings;
    const listedHow = supported === undefined ? "does not list scopes_supported" : `supports scope ${GROUPS_SCOPE}`;
    return [ok(check, `the provider ${listedHow}, and client ${o.clientId} may request ${scopes.join(" ")}`)];
}

/** The groups claim among discovery's claims_supported, when the provider lists them. */
export function groupsClaimFinding(config: OidcProviderSlice, discovery: Discovery): Finding {
    const claim = config.oidc.groupsClaim;
    const check = "oidc provider groups claim";
    const claims = discovery.claimsSupported;
    if (claims === undefined) return ok(check, "the provider does not list claims_supported: nothing to compare");
    if (!claims.includes(claim)) {
        return fault(
            check,
            `the provider's claims_supported (${listed(claims)}) lacks ${claim} (oidc.groupsClaim): its ID tokens carry no ${claim} claim, so logins get no group policies; set oidc.groupsClaim to the claim it sends, or make it send ${claim}`,
        );
    }
    return ok(check, `the provider lists claim ${claim} in claims_supported`);
}

async function fetched(get: ProviderGet, url: string, caBundle: string | undefined): Promise<Fetched> {
    try {
        return { answer: await get(url, caBundle) };
    } catch (e) {
        return { error: e as ProviderNoAnswer };
    }
}

/**
 * Asks the provider: discovery, then Vault's login request for each redirect URI the role allows
 * (stopping at an unknown client), then the groups scope and claim. `get` is the one HTTP call.
 */
export async function oidcProviderFindings(
    config: OidcProviderSlice,
    role: { readonly redirectUris: readonly string[]; readonly scopes: readonly string[] },
    get: ProviderGet = providerGet,
): Promise<Finding[]> {
    if (config.oidc.issuer === undefined) return [];
    const url = discoveryUrl(config.oidc.issuer);
    const { caBundle } = providerTrust(config);
    const { finding, discovery } = discoveryFinding(config, url, await fetched(get, url, caBundle));
    if (discovery === undefined) return [finding];
    const probes: { uri: string; outcome: ProbeOutcome }[] = [];
    for (const uri of role.redirectUris) {
        const request = authorizeUrl(discovery.authorizationEndpoint, {
            clientId: config.oidc.clientId,
            redirectUri: uri,
            scopes: role.scopes,
            state: crypto.randomBytes(16).toString("hex"),
            nonce: crypto.randomBytes(16).toString("hex"),
        });
        const outcome = classifyProbe(uri, request, await fetched(get, request, caBundle));
        probes.push({ uri, outcome });
        if (outcome.kind === "unknown client") break;
    }
    return [
        finding,
        ...probeFindings(config, discovery.authorizationEndpoint, probes),
        ...scopeFindings(config, discovery, role.scopes, probes),
        groupsClaimFinding(config, discovery),
    ];
}
