/**
 * The doctor's OIDC provider checks as pure functions of what was fetched
 * (ops/oidc-provider.ts): discovery parsing, the login request it sends, how
 * each kind of provider answer is read (hydra's redirects, Authelia-style
 * JSON errors, error pages), and the lines they become. The real provider is
 * in test/integration/doctor.test.ts.
 */
import { strict as assert } from "node:assert";
import {
    authorizeUrl,
    classifyProbe,
    discoveryFinding,
    discoveryUrl,
    Fetched,
    groupsClaimFinding,
    oidcProviderFindings,
    OidcProviderSlice,
    probeFindings,
    providerTrust,
    scopeFindings,
} from "../../ops/oidc-provider";
import { ProviderAnswer } from "../../ops/provider-http";

const ISSUER = "https://auth.amiya.akn";
const URL_ = `${ISSUER}/.well-known/openid-configuration`;
const ENDPOINT = `${ISSUER}/api/oidc/authorization`;
const WEB = "https://vault.amiya.akn/ui/vault/auth/oidc/oidc/callback";
const CLI = "http://localhost:8250/oidc/callback";
const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

function slice(oidc: Partial<OidcProviderSlice["oidc"]> = {}, caBundle?: string): OidcProviderSlice {
    return {
        oidc: {
            enabled: true,
            issuer: ISSUER,
            clientId: "vault",
            path: "oidc",
            defaultRole: "default",
            groupsClaim: "groups",
            scopes: ["openid", "profile", "email", "groups"],
            tokenTtl: "1h",
            tokenMaxTtl: "8h",
            groups: {},
            ...oidc,
        },
        trust: { caBundle },
    };
}
const answer = (a: Partial<ProviderAnswer>): Fetched => ({ answer: { status: 200, text: "", ...a } });
const noAnswer = (code: string | undefined, reason: string): Fetched => ({
    error: Object.assign(new Error(reason), { code, reason }),
});
const doc = (d: Record<string, unknown>) =>
    answer({ text: JSON.stringify({ issuer: ISSUER, authorization_endpoint: ENDPOINT, ...d }) });

describe("doctor: the OIDC provider checks (pure)", () => {
    it("discovery URL as go-oidc builds it (one slash, whatever the issuer ends with)", () => {
        assert.equal(discoveryUrl("https://a.example"), "https://a.example/.well-known/openid-configuration");
        assert.equal(discoveryUrl("https://a.example/"), "https://a.example/.well-known/openid-configuration");
        assert.equal(discoveryUrl("https://a.example/sub/"), "https://a.example/sub/.well-known/openid-configuration");
    });

    it("trust: oidc.discoveryCaPem over trust.caBundle over the public roots, each with the key that fixes it", () => {
        assert.deepEqual(providerTrust(slice({ discoveryCaPem: PEM }, "other")), {
            caBundle: PEM,
            trusted: "oidc.discoveryCaPem",
            key: "oidc.discoveryCaPem",
        });
        assert.deepEqual(providerTrust(slice({}, PEM)), {
            caBundle: PEM,
            trusted: "trust.caBundle",
            key: "trust.caBundle (or oidc.discoveryCaPem, for the issuer alone)",
        });
        assert.deepEqual(providerTrust(slice()), {
            trusted: "the public roots (trust.caBundle and oidc.discoveryCaPem are unset)",
            key: "trust.caBundle (or oidc.discoveryCaPem, for the issuer alone)",
        });
    });

    describe("discovery", () => {
        it("a document naming the configured issuer: ok, with its endpoint and lists", () => {
            const r = discoveryFinding(
                slice(),
                URL_,
                doc({ scopes_supported: ["openid", "groups"], claims_supported: ["sub", "groups"] }),
            );
            assert.deepEqual(r.finding, {
                severity: "ok",
                check: "oidc discovery",
                message: `${URL_} is trusted and names issuer ${ISSUER}; authorization endpoint ${ENDPOINT}`,
            });
            assert.deepEqual(r.discovery, {
                issuer: ISSUER,
                authorizationEndpoint: ENDPOINT,
                scopesSupported: ["openid", "groups"],
                claimsSupported: ["sub", "groups"],
            });
            assert.deepEqual(discoveryFinding(slice(), URL_, doc({})).discovery, {
                issuer: ISSUER,
                authorizationEndpoint: ENDPOINT,
                scopesSupported: undefined,
                claimsSupported: undefined,
            });
        });

        it("every certificate-chain code is a trust fault naming URL and key; other errors are no answer", () => {
            for (const code of [
                "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
                "SELF_SIGNED_CERT_IN_CHAIN",
                "DEPTH_ZERO_SELF_SIGNED_CERT",
            ]) {
                const r = discoveryFinding(slice({}, PEM), URL_, noAnswer(code, "x"));
                assert.equal(r.discovery, undefined);
                assert.equal(
                    r.finding.message,
                    `the OIDC provider's certificate at ${URL_} does not chain to trust.caBundle (${code}): Vault cannot fetch the discovery document, so pulumi up and every OIDC login fail; set trust.caBundle (or oidc.discoveryCaPem, for the issuer alone) to the CA that signs it`,
                );
            }
            const down = discoveryFinding(slice(), URL_, noAnswer("ECONNREFUSED", "connect ECONNREFUSED 10.0.0.1:443"));
            assert.deepEqual(down.finding, {
                severity: "fault",
                check: "oidc discovery",
                message: `no answer from ${URL_}: connect ECONNREFUSED 10.0.0.1:443; check oidc.issuer (${ISSUER})`,
            });
        });

        it("not a discovery document (a 404, an HTML page, JSON without authorization_endpoint): fault", () => {
            const cases: [Fetched, number][] = [
                [answer({ status: 404, text: "not found" }), 404],
                [answer({ text: "<html>portal</html>" }), 200],
                [answer({ text: JSON.stringify({ issuer: ISSUER }) }), 200],
                [answer({ text: "[1]" }), 200],
            ];
            for (const [fetched, status] of cases) {
                const r = discoveryFinding(slice(), URL_, fetched);
                assert.equal(r.discovery, undefined);
                assert.equal(
                    r.finding.message,
                    `${URL_} answers HTTP ${status} without a discovery document (no authorization_endpoint): check oidc.issuer (${ISSUER})`,
                );
            }
        });

        it("an issuer that differs (even by a trailing slash) or is missing: fault, probes still possible", () => {
            const r = discoveryFinding(slice(), URL_, doc({ issuer: `${ISSUER}/` }));
            assert.equal(r.finding.severity, "fault");
            assert.equal(
                r.finding.message,
                `${URL_} names issuer ${ISSUER}/, but oidc.issuer is ${ISSUER}: Vault refuses the provider ("issuer did not match"); set oidc.issuer to ${ISSUER}/`,
            );
            assert.equal(r.discovery?.authorizationEndpoint, ENDPOINT);
            const none = discoveryFinding(slice(), URL_, doc({ issuer: undefined }));
            assert.equal(
                none.finding.message,
                `${URL_} names no issuer: Vault refuses the provider; check oidc.issuer (${ISSUER})`,
            );
        });
    });

    it("the login request: Vault's parameters, nothing secret", () => {
        const url = new URL(
            authorizeUrl(`${ENDPOINT}?keep=1`, {
                clientId: "vault",
                redirectUri: WEB,
                scopes: ["openid", "profile", "groups"],
                state: "s".repeat(32),
                nonce: "n".repeat(32),
            }),
        );
        assert.equal(`${url.origin}${url.pathname}`, ENDPOINT);
        assert.deepEqual(Object.fromEntries(url.searchParams), {
            keep: "1",
            client_id: "vault",
            redirect_uri: WEB,
            response_type: "code",
            scope: "openid profile groups",
            state: "s".repeat(32),
            nonce: "n".repeat(32),
        });
    });

    describe("reading the provider's answer to the login request", () => {
        const req = `${ENDPOINT}?client_id=vault`;
        const redirect = (location: string, status = 302) => answer({ status, location });

        it("a redirect on to a login page (absolute or relative), or a 200 page: accepted", () => {
            assert.deepEqual(
                classifyProbe(WEB, req, redirect("https://auth.amiya.akn/?rd=x&workflow=openid_connect")),
                {
                    kind: "accepted",
                    to: "https://auth.amiya.akn/",
                },
            );
            assert.deepEqual(classifyProbe(WEB, req, redirect("/login?login_challenge=abc", 303)), {
                kind: "accepted",
                to: "https://auth.amiya.akn/login",
            });
            assert.deepEqual(classifyProbe(WEB, req, answer({ status: 200, text: "<html>login</html>" })), {
                kind: "accepted",
                to: "a page (HTTP 200)",
            });
        });

        it("an OAuth error sent elsewhere than the redirect URI (hydra's error page) or as JSON (fosite): refused", () => {
            assert.deepEqual(
                classifyProbe(
                    CLI,
                    req,
                    redirect(
                        "/oauth2/fallbacks/error?error=invalid_request&error_description=The+redirect_uri+does+not+match",
                    ),
                ),
                { kind: "refused", error: "invalid_request", description: "The redirect_uri does not match" },
            );
            assert.deepEqual(
                classifyProbe(
                    CLI,
                    req,
                    answer({
                        status: 400,
                        contentType: "application/json",
                        text: JSON.stringify({ error: "invalid_request", error_description: "redirect_uri mismatch" }),
                    }),
                ),
                { kind: "refused", error: "invalid_request", description: "redirect_uri mismatch" },
            );
            assert.deepEqual(classifyProbe(CLI, req, answer({ status: 400, text: "<html>Bad request</html>" })), {
                kind: "refused",
                error: "HTTP 400",
                description: "an error page instead of a redirect to the provider's login",
            });
            assert.deepEqual(classifyProbe(CLI, req, answer({ status: 302 })), {
                kind: "refused",
                error: "HTTP 302",
                description: "an error page instead of a redirect to the provider's login",
            });
        });

        it("invalid_client anywhere but the redirect URI: unknown client", () => {
            assert.deepEqual(classifyProbe(CLI, req, redirect("/error?error=invalid_client")), {
                kind: "unknown client",
                error: "invalid_client",
                description: "",
            });
            assert.deepEqual(
                classifyProbe(CLI, req, answer({ status: 401, text: JSON.stringify({ error: "invalid_client" }) })),
                { kind: "unknown client", error: "invalid_client", description: "" },
            );
        });

        it("an error sent back to the redirect URI: the URI is registered, the request refused", () => {
            assert.deepEqual(
                classifyProbe(
                    WEB,
                    req,
                    redirect(`${WEB}?error=invalid_scope&error_description=no+groups&state=x`, 303),
                ),
                { kind: "request refused", error: "invalid_scope", description: "no groups" },
            );
            // A redirect URI that is not a URL cannot be the target.
            assert.equal(classifyProbe("not a url", req, redirect(`${WEB}?error=invalid_scope`)).kind, "refused");
        });

        it("no answer", () => {
            assert.deepEqual(classifyProbe(WEB, req, noAnswer("ECONNRESET", "socket hang up")), {
                kind: "no answer",
                reason: "socket hang up",
            });
        });
    });

    describe("the lines", () => {
        it("one line per redirect URI; an unknown client is one line in all", () => {
            const lines = probeFindings(slice(), ENDPOINT, [
                { uri: CLI, outcome: { kind: "accepted", to: "https://auth.amiya.akn/" } },
                { uri: WEB, outcome: { kind: "refused", error: "invalid_request", description: "mismatch" } },
                { uri: "https://x/cb", outcome: { kind: "request refused", error: "access_denied", description: "" } },
                { uri: "https://y/cb", outcome: { kind: "request refused", error: "invalid_scope", description: "" } },
                { uri: "https://z/cb", outcome: { kind: "no answer", reason: "timeout" } },
            ]);
            assert.deepEqual(lines, [
                {
                    severity: "ok",
                    check: "oidc provider redirect uri",
                    message: `${ENDPOINT} accepts redirect URI ${CLI} for client vault (on to https://auth.amiya.akn/)`,
                },
                {
                    severity: "fault",
                    check: "oidc provider redirect uri",
                    message: `the provider refuses redirect URI ${WEB} for client vault (invalid_request: mismatch): add it to the client's redirect_uris at the provider (the stack output autheliaOidcClient lists them), or remove it from role default`,
                },
                {
                    severity: "fault",
                    check: "oidc provider redirect uri",
                    message:
                        "the provider accepts redirect URI https://x/cb for client vault but refuses Vault's login request (access_denied)",
                },
                {
                    severity: "ok",
                    check: "oidc provider redirect uri",
                    message: `${ENDPOINT} accepts redirect URI https://y/cb for client vault`,
                },
                {
                    severity: "fault",
                    check: "oidc provider redirect uri",
                    message: `no answer from ${ENDPOINT} for redirect URI https://z/cb: timeout`,
                },
            ]);
            assert.deepEqual(
                probeFindings(slice({ clientId: "vault-amiya" }), ENDPOINT, [
                    { uri: CLI, outcome: { kind: "accepted", to: "x" } },
                    { uri: WEB, outcome: { kind: "unknown client", error: "invalid_client", description: "gone" } },
                ]),
                [
                    {
                        severity: "fault",
                        check: "oidc provider client",
                        message:
                            "the provider has no client vault-amiya (oidc.clientId) (invalid_client: gone): register the stack's autheliaOidcClient output with it",
                    },
                ],
            );
        });

        it("scopes: the groups scope listed (or no list), the client's scopes allowed; each failure its own line", () => {
            const d = { issuer: ISSUER, authorizationEndpoint: ENDPOINT };
            const scopes = ["openid", "profile", "groups"];
            assert.deepEqual(scopeFindings(slice(), { ...d, scopesSupported: ["openid", "groups"] }, scopes, []), [
                {
                    severity: "ok",
                    check: "oidc provider scopes",
                    message: "the provider supports scope groups, and client vault may request openid profile groups",
                },
            ]);
            assert.equal(
                scopeFindings(slice(), d, scopes, [])[0].message,
                "the provider does not list scopes_supported, and client vault may request openid profile groups",
            );
            const refused = [
                { outcome: { kind: "request refused", error: "invalid_scope", description: "no" } as const },
            ];
            assert.deepEqual(
                scopeFindings(slice({ groupsClaim: "roles" }), { ...d, scopesSupported: [] }, scopes, refused).map(
                    (f) => f.message,
                ),
                [
                    "the provider's scopes_supported (none) lacks groups: its ID tokens carry no roles claim, so logins get no group policies; enable the groups scope at the provider",
                    "client vault may not request the scopes Vault asks for (openid profile groups) at the provider (invalid_scope: no): allow them in the client's scopes (the stack output autheliaOidcClient lists them)",
                ],
            );
        });

        it("the groups claim: listed, not listed, or no claims_supported at all", () => {
            const d = { issuer: ISSUER, authorizationEndpoint: ENDPOINT };
            assert.deepEqual(groupsClaimFinding(slice(), { ...d, claimsSupported: ["sub", "groups"] }), {
                severity: "ok",
                check: "oidc provider groups claim",
                message: "the provider lists claim groups in claims_supported",
            });
            assert.deepEqual(groupsClaimFinding(slice(), d), {
                severity: "ok",
                check: "oidc provider groups claim",
                message: "the provider does not list claims_supported: nothing to compare",
            });
            assert.equal(
                groupsClaimFinding(slice({ groupsClaim: "roles" }), { ...d, claimsSupported: ["groups"] }).severity,
                "fault",
            );
        });
    });

    describe("the sequence (with a recorded get)", () => {
        function recorder(answers: (url: string) => Fetched) {
            const calls: { url: string; ca: string | undefined }[] = [];
            const get = async (url: string, ca: string | undefined) => {
                calls.push({ url, ca });
                const f = answers(url);
                if ("error" in f) throw f.error;
                return f.answer;
            };
            return { calls, get };
        }

        it("discovery, then Vault's login request per redirect URI with the stack's CA; fresh state and nonce each", async () => {
            const { calls, get } = recorder((url) =>
                url === URL_
                    ? doc({ scopes_supported: ["groups"], claims_supported: ["groups"] })
                    : answer({ status: 302, location: "/login" }),
            );
            const lines = await oidcProviderFindings(
                slice({}, PEM),
                { redirectUris: [CLI, WEB], scopes: ["openid", "groups"] },
                get,
            );
            assert.deepEqual(
                lines.map((l) => `${l.severity} ${l.check}`),
                [
                    "ok oidc discovery",
                    "ok oidc provider redirect uri",
                    "ok oidc provider redirect uri",
                    "ok oidc provider scopes",
                    "ok oidc provider groups claim",
                ],
            );
            assert.deepEqual(
                calls.map((c) => c.ca),
                [PEM, PEM, PEM],
            );
            assert.equal(calls[0].url, URL_);
            const probes = calls.slice(1).map((c) => new URL(c.url).searchParams);
            assert.deepEqual(
                probes.map((p) => p.get("redirect_uri")),
                [CLI, WEB],
            );
            for (const p of probes) {
                assert.deepEqual(
                    [p.get("client_id"), p.get("response_type"), p.get("scope")],
                    ["vault", "code", "openid groups"],
                );
                assert.match(p.get("state") ?? "", /^[0-9a-f]{32}$/);
                assert.match(p.get("nonce") ?? "", /^[0-9a-f]{32}$/);
            }
            assert.notEqual(probes[0].get("state"), probes[1].get("state"));
        });

        it("an untrusted provider: one line, no login request sent", async () => {
            const { calls, get } = recorder(() =>
                noAnswer("SELF_SIGNED_CERT_IN_CHAIN", "self-signed certificate in certificate chain"),
            );
            const lines = await oidcProviderFindings(slice(), { redirectUris: [CLI, WEB], scopes: ["openid"] }, get);
            assert.equal(lines.length, 1);
            assert.equal(calls.length, 1);
            assert.match(
                lines[0].message,
                /does not chain to the public roots \(trust\.caBundle and oidc\.discoveryCaPem are unset\)/,
            );
        });

        it("an unknown client: probing stops at the first answer saying so", async () => {
            const { calls, get } = recorder((url) =>
                url === URL_ ? doc({}) : answer({ status: 302, location: "/error?error=invalid_client" }),
            );
            const lines = await oidcProviderFindings(slice(), { redirectUris: [CLI, WEB], scopes: ["openid"] }, get);
            assert.equal(calls.length, 2);
            assert.deepEqual(
                lines.map((l) => `${l.severity} ${l.check}`),
                [
                    "ok oidc discovery",
                    "fault oidc provider client",
                    "ok oidc provider scopes",
                    "ok oidc provider groups claim",
                ],
            );
        });

        it("OIDC without an issuer (refused by the config rules anyway): nothing asked", async () => {
            const { calls, get } = recorder(() => doc({}));
            assert.deepEqual(
                await oidcProviderFindings(slice({ issuer: undefined }), { redirectUris: [CLI], scopes: [] }, get),
                [],
            );
            assert.equal(calls.length, 0);
        });
    });
});
