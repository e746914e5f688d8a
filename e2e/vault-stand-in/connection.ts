/**
 * The provider's configuration (vault.Provider's arguments) and the one way
 * the stand-in talks to Vault: requests through the project's HTTP client
 * (components/lib/vault-api.ts) with the configured token, or, unless
 * skipChildToken is set, a short-lived child token minted from it, as the
 * real provider does.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ApiResponse, apiErrors, NoAnswerError, VaultEndpoint, vaultApi } from "../../components/lib/vault-api";
import { CheckFailure } from "./arguments";
import { containsUnknown, isSet, PropertyMap, reveal, Value } from "./properties";

/** What the stand-in reads from vault.Provider's arguments. */
export interface ProviderSettings {
    readonly address: string;
    readonly token: string;
    readonly skipTlsVerify: boolean;
    /** The CA file named by caCertFile (resolved against the plugin's working directory, the program's). */
    readonly caCertFile?: string;
    /** That file's PEM, read at Configure. */
    readonly caBundle?: string;
    readonly skipChildToken: boolean;
    /** TTL of the child token (the SDK always sends it; its default is 1200). */
    readonly maxLeaseTtlSeconds: number;
    /** Retries of a request that got no answer or a 412/5xx (the SDK always sends it; its default is 2). */
    readonly maxRetries: number;
    /** The child token's display name. */
    readonly tokenName: string;
}

type SettingKind = "string" | "bool" | "number";

/** The provider arguments the stand-in implements; `version` is the engine's and is ignored. */
const SETTINGS: Readonly<Record<string, SettingKind>> = {
    address: "string",
    token: "string",
    skipTlsVerify: "bool",
    caCertFile: "string",
    skipChildToken: "bool",
    maxLeaseTtlSeconds: "number",
    maxRetries: "number",
    tokenName: "string",
};

const IGNORED = new Set(["version"]);

/**
 * A provider argument's plain value. The Node SDK sends non-string arguments
 * JSON-encoded ("true", "1200"), the engine may send them as they are:
 * both are accepted.
 */
function decode(kind: SettingKind, raw: Value): string | boolean | number | undefined {
    let value = reveal(raw);
    if (typeof value === "string" && kind !== "string") {
        try {
            value = JSON.parse(value) as Value;
        } catch {
            return undefined;
        }
    }
    if (typeof value === "string" && kind === "string" && value.startsWith('"')) {
        try {
            const parsed = JSON.parse(value) as Value;
            if (typeof parsed === "string") value = parsed;
        } catch {
            // A string that merely starts with a quote.
        }
    }
    if (kind === "string" && typeof value === "string") return value;
    if (kind === "bool" && typeof value === "boolean") return value;
    if (kind === "number" && typeof value === "number" && Number.isFinite(value)) return value;
    return undefined;
}

const EXPECTED: Readonly<Record<SettingKind, string>> = {
    string: "a string",
    bool: "a boolean",
    number: "a number",
};

/** CheckConfig's verdict on the provider's arguments (unknown values, in a preview, are checked later). */
export function checkSettings(config: PropertyMap): CheckFailure[] {
    const failures: CheckFailure[] = [];
    const implemented = Object.keys(SETTINGS).sort().join(", ");
    for (const [key, raw] of Object.entries(config)) {
        if (IGNORED.has(key) || !isSet(raw) || containsUnknown(raw)) continue;
        const kind = SETTINGS[key];
        if (kind === undefined) {
            failures.push({
                property: key,
                reason: `vault stand-in plugin: provider argument "${key}" is not implemented (it implements: ${implemented})`,
            });
        } else if (decode(kind, raw) === undefined) {
            failures.push({
                property: key,
                reason: `vault stand-in plugin: provider argument "${key}" must be ${EXPECTED[kind]}`,
            });
        }
    }
    const address = config.address;
    if (!isSet(address) || reveal(address) === "") {
        failures.push({
            property: "address",
            reason: 'vault stand-in plugin: provider argument "address" is required (the Vault server\'s URL, e.g. https://127.0.0.1:8200); the stand-in does not read VAULT_ADDR',
        });
    } else if (!containsUnknown(address)) {
        const text = decode("string", address);
        if (typeof text === "string" && !/^https?:\/\/[^/]+/.test(text)) {
            failures.push({
                property: "address",
                reason: `vault stand-in plugin: provider argument "address" must be an http or https URL, got ${JSON.stringify(text)}`,
            });
        }
    }
    const token = config.token;
    if (!isSet(token) || reveal(token) === "") {
        failures.push({
            property: "token",
            reason: 'vault stand-in plugin: provider argument "token" is required; the stand-in reads no VAULT_TOKEN, token helper or auth_login',
        });
    }
    return failures;
}

/** Configure: the settings, or an error naming every problem; reads the CA file now (relative to the program's directory). */
export function settingsOf(config: PropertyMap): ProviderSettings {
    const failures = checkSettings(config);
    if (failures.length > 0) throw new Error(failures.map((f) => f.reason).join("; "));
    const get = (key: string): string | boolean | number | undefined =>
        isSet(config[key]) ? decode(SETTINGS[key], config[key]) : undefined;
    const caCertFile = get("caCertFile") as string | undefined;
    let caBundle: string | undefined;
    if (caCertFile !== undefined && caCertFile !== "") {
        const file = path.resolve(caCertFile);
        try {
            caBundle = fs.readFileSync(file, "utf8");
        } catch (err) {
            throw new Error(`vault stand-in plugin: caCertFile ${file}: ${(err as Error).message}`);
        }
    }
    return {
        address: get("address") as string,
        token: get("token") as string,
        skipTlsVerify: get("skipTlsVerify") === true,
        caCertFile,
        caBundle,
        skipChildToken: get("skipChildToken") === true,
        maxLeaseTtlSeconds: (get("maxLeaseTtlSeconds") as number | undefined) ?? 1200,
        maxRetries: (get("maxRetries") as number | undefined) ?? 2,
        tokenName: (get("tokenName") as string | undefined) ?? "pulumi-vault-stand-in",
    };
}

/** A JSON object in Vault's answers. */
export type Body = Record<string, unknown>;

/** Vault as the resources see it. */
export interface Vault {
    /** One request; any HTTP status (the caller decides what "not there" looks like). */
    request(method: string, apiPath: string, body?: Body): Promise<ApiResponse>;
    /** One request that must succeed (2xx); its JSON body ({} when empty). */
    call(method: string, apiPath: string, body?: Body): Promise<Body>;
    /** A GET; undefined when Vault answers 404. */
    read(apiPath: string): Promise<Body | undefined>;
}

/** An answer Vault gave that the stand-in cannot go on with. */
export class VaultError extends Error {
    constructor(
        message: string,
        readonly status: number,
    ) {
        super(message);
        this.name = "VaultError";
    }
}

/** The error for an answer the caller cannot go on with, naming the request and Vault's own errors. */
export function answerError(method: string, apiPath: string, res: ApiResponse): VaultError {
    // Vault joins several errors into one multi-line string ("2 errors occurred:\n\t* a\n\t* b"): one line instead.
    const errors = apiErrors(res)
        .replace(/\d+ errors? occurred:\s*\n\t\* /g, "")
        .replace(/\n\t\* /g, "; ")
        .trimEnd();
    return new VaultError(
        `vault stand-in plugin: ${method} ${apiPath}: Vault answered HTTP ${res.status}${errors}`,
        res.status,
    );
}

/** Connection failures worth another try (Node's error codes). */
const TRANSIENT = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT"]);

/** Statuses worth another try: Vault's "try again" (412, a standby catching up) and server errors. */
function retryable(status: number): boolean {
    return status === 412 || status === 500 || status === 502 || status === 504;
}

export class VaultConnection implements Vault {
    private childToken?: Promise<string>;

    constructor(readonly settings: ProviderSettings) {}

    private get endpoint(): VaultEndpoint {
        return {
            address: this.settings.address,
            skipTlsVerify: this.settings.skipTlsVerify,
            caBundle: this.settings.caBundle,
        };
    }

    /** The configured token, or once per process a child token of it (its policies, maxLeaseTtlSeconds long). */
    private token(): Promise<string> {
        if (this.settings.skipChildToken) return Promise.resolve(this.settings.token);
        this.childToken ??= this.mintChildToken().catch((err: unknown) => {
            this.childToken = undefined; // the next operation tries again
            throw err;
        });
        return this.childToken;
    }

    private async mintChildToken(): Promise<string> {
        const ttl = `${this.settings.maxLeaseTtlSeconds}s`;
        const res = await this.send(
            "POST",
            "auth/token/create",
            { display_name: this.settings.tokenName, ttl, explicit_max_ttl: ttl },
            this.settings.token,
        );
        const auth = res.body?.auth as Body | undefined;
        if (res.status !== 200 || typeof auth?.client_token !== "string") {
            throw new VaultError(
                `vault stand-in plugin: minting the provider's child token (skipChildToken is not set): POST auth/token/create: Vault answered HTTP ${res.status}${apiErrors(res)}`,
                res.status,
            );
        }
        return auth.client_token;
    }

    private async send(method: string, apiPath: string, body: Body | undefined, token: string): Promise<ApiResponse> {
        for (let attempt = 0; ; attempt++) {
            try {
                const res = await vaultApi(this.endpoint, method, apiPath, body, token);
                if (!retryable(res.status) || attempt >= this.settings.maxRetries) return res;
            } catch (err) {
                const noAnswer = err as NoAnswerError;
                // A certificate Vault's address does not prove is final; a refused or dropped connection may pass.
                if (attempt >= this.settings.maxRetries || !TRANSIENT.has(noAnswer.code ?? "")) {
                    throw new VaultError(`vault stand-in plugin: ${noAnswer.message}`, 0);
                }
            }
            await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
        }
    }

    async request(method: string, apiPath: string, body?: Body): Promise<ApiResponse> {
        return this.send(method, apiPath, body, await this.token());
    }

    async call(method: string, apiPath: string, body?: Body): Promise<Body> {
        const res = await this.request(method, apiPath, body);
        if (res.status < 200 || res.status > 299) throw answerError(method, apiPath, res);
        return res.body ?? {};
    }

    async read(apiPath: string): Promise<Body | undefined> {
        const res = await this.request("GET", apiPath);
        if (res.status === 404) return undefined;
        if (res.status !== 200) throw answerError("GET", apiPath, res);
        return res.body ?? {};
    }
}
