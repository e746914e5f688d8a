/**
 * A throw-away private CA for specs: a CA certificate and a server
 * certificate it signed for 127.0.0.1 and localhost, made with the machine's
 * openssl in a temp directory. Stands in for a cluster's private CA (e.g.
 * amiya's), so that clients are proven to trust exactly the bundle they are
 * given and nothing else.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface TestCa {
    /** The directory holding every file below. */
    readonly dir: string;
    /** The CA certificate (PEM): what trust.caBundle would hold. */
    readonly caPem: string;
    readonly caFile: string;
    /** The server certificate (PEM) for 127.0.0.1/localhost, signed by the CA. */
    readonly certPem: string;
    readonly certFile: string;
    /** The server certificate's private key (PEM). */
    readonly keyPem: string;
    readonly keyFile: string;
    /** Removes the directory. */
    cleanup(): void;
}

/** Makes a CA and a server certificate (SAN IP:127.0.0.1, DNS:localhost) it signed. */
export function makeTestCa(name = "secret-platform test CA"): TestCa {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sp-test-ca-"));
    const f = (n: string) => path.join(dir, n);
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        `/CN=${name}`,
        "-keyout",
        f("ca.key"),
        "-out",
        f("ca.crt"),
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    );
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        f("server.key"),
        "-out",
        f("server.csr"),
    );
    fs.writeFileSync(
        f("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    );
    openssl(
        "x509",
        "-req",
        "-in",
        f("server.csr"),
        "-CA",
        f("ca.crt"),
        "-CAkey",
        f("ca.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        f("server.ext"),
        "-out",
        f("server.crt"),
    );
    // Vault runs as this user and reads the key itself.
    fs.chmodSync(f("server.key"), 0o600);
    const read = (n: string) => fs.readFileSync(f(n), "utf8");
    return {
        dir,
        caPem: read("ca.crt"),
        caFile: f("ca.crt"),
        certPem: read("server.crt"),
        certFile: f("server.crt"),
        keyPem: read("server.key"),
        keyFile: f("server.key"),
        cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
}
