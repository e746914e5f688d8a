/**
 * The rig's PKI: a throw-away CA (openssl CLI: node's crypto cannot sign
 * X.509) that issues server certificates for loopback and client
 * certificates, plus the API server's ServiceAccount signing key pair.
 * Every key is written 0600 into the rig's 0700 dir; openssl only ever sees
 * file paths on its command line, never key material.
 */
import { execFile } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as util from "util";

const run = util.promisify(execFile);
const DAYS = "2";

export interface KeyPair {
    readonly cert: string;
    readonly key: string;
}

export interface ServerCertOptions {
    readonly dnsNames?: readonly string[];
    readonly ips?: readonly string[];
}

export interface ClientCertOptions {
    /** The certificate's CN: Kubernetes' user name. */
    readonly commonName: string;
    /** O entries: Kubernetes' groups (e.g. system:masters). */
    readonly organizations?: readonly string[];
}

async function openssl(args: readonly string[]): Promise<void> {
    try {
        await run("openssl", args, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
    } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`);
    }
}

/** An EC P-256 private key file, 0600. */
async function newKey(file: string): Promise<void> {
    fs.writeFileSync(file, "", { mode: 0o600 });
    await openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", file]);
    fs.chmodSync(file, 0o600);
}

/** An openssl subject string; its values are rig-chosen names, escaped for openssl's syntax. */
function subject(commonName: string, organizations: readonly string[] = []): string {
    const esc = (v: string) => v.replace(/[\\/=+,]/g, (c) => `\\${c}`);
    return organizations.map((o) => `/O=${esc(o)}`).join("") + `/CN=${esc(commonName)}`;
}

export class RigCa {
    /** The CA certificate (PEM file): what every client of the rig trusts. */
    readonly cert: string;
    private readonly key: string;
    private serial = 1;

    private constructor(private readonly dir: string) {
        this.cert = path.join(dir, "ca.crt");
        this.key = path.join(dir, "ca.key");
    }

    /** Creates a new CA in `dir` (0700, created if missing). */
    static async create(dir: string, name = "secret-platform e2e rig CA"): Promise<RigCa> {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const ca = new RigCa(dir);
        await newKey(ca.key);
        const ext = path.join(dir, "ca.ext");
        fs.writeFileSync(
            ext,
            [
                "[req]",
                "distinguished_name = dn",
                "x509_extensions = v3_ca",
                "[dn]",
                "[v3_ca]",
                "basicConstraints = critical, CA:TRUE, pathlen:0",
                "keyUsage = critical, keyCertSign, cRLSign",
                "subjectKeyIdentifier = hash",
                "",
            ].join("\n"),
        );
        await openssl([
            "req",
            "-x509",
            "-new",
            "-key",
            ca.key,
            "-sha256",
            "-days",
            DAYS,
            "-subj",
            subject(name),
            "-config",
            ext,
            "-out",
            ca.cert,
        ]);
        return ca;
    }

    /** The CA certificate's PEM text. */
    pem(): string {
        return fs.readFileSync(this.cert, "utf8");
    }

    /** A server certificate (serverAuth) for the given names and IPs. */
    async issueServer(name: string, opts: ServerCertOptions): Promise<KeyPair> {
        const sans = [...(opts.dnsNames ?? []).map((d) => `DNS:${d}`), ...(opts.ips ?? []).map((i) => `IP:${i}`)];
        if (sans.length === 0) throw new Error(`rig CA: server certificate ${name} needs at least one name or IP`);
        return this.issue(name, subject(sans[0].replace(/^(DNS|IP):/, "")), [
            "basicConstraints = critical, CA:FALSE",
            "keyUsage = critical, digitalSignature, keyEncipherment",
            "extendedKeyUsage = serverAuth",
            `subjectAltName = ${sans.join(", ")}`,
        ]);
    }

    /** A client certificate (clientAuth): CN is the user, O the groups. */
    async issueClient(name: string, opts: ClientCertOptions): Promise<KeyPair> {
        return this.issue(name, subject(opts.commonName, opts.organizations), [
            "basicConstraints = critical, CA:FALSE",
            "keyUsage = critical, digitalSignature, keyEncipherment",
            "extendedKeyUsage = clientAuth",
        ]);
    }

    /** Checks a certificate against this CA with openssl itself (throws when it does not verify). */
    async verify(cert: string, purpose: "sslserver" | "sslclient"): Promise<void> {
        await openssl(["verify", "-purpose", purpose, "-CAfile", this.cert, cert]);
    }

    private async issue(name: string, subj: string, extensions: readonly string[]): Promise<KeyPair> {
        if (!/^[a-z0-9][a-z0-9.-]*$/.test(name)) throw new Error(`rig CA: bad file name ${name}`);
        const key = path.join(this.dir, `${name}.key`);
        const csr = path.join(this.dir, `${name}.csr`);
        const cert = path.join(this.dir, `${name}.crt`);
        const ext = path.join(this.dir, `${name}.ext`);
        await newKey(key);
        await openssl(["req", "-new", "-key", key, "-subj", subj, "-out", csr]);
        fs.writeFileSync(ext, extensions.join("\n") + "\n");
        this.serial += 1;
        await openssl([
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            this.cert,
            "-CAkey",
            this.key,
            "-set_serial",
            String(this.serial),
            "-sha256",
            "-days",
            DAYS,
            "-extfile",
            ext,
            "-out",
            cert,
        ]);
        fs.rmSync(csr);
        return { cert, key };
    }
}

/** The API server's ServiceAccount token signing key pair (RSA 2048, PEM files; the private one 0600). */
export function serviceAccountKeyPair(dir: string): { publicKey: string; privateKey: string } {
    const { publicKey, privateKey } = crypto.generateKeyPairSync("rsa", {
        modulusLength: 2048,
        publicKeyEncoding: { type: "spki", format: "pem" },
        privateKeyEncoding: { type: "pkcs8", format: "pem" },
    });
    const pub = path.join(dir, "sa.pub");
    const key = path.join(dir, "sa.key");
    fs.writeFileSync(pub, publicKey);
    fs.writeFileSync(key, privateKey, { mode: 0o600 });
    return { publicKey: pub, privateKey: key };
}
