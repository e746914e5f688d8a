/**
 * secret-platform:trust.caBundle: validated in loadConfig, and delivered to
 * every client of a private endpoint (exact inputs, env, volumes, values), and
 * nothing of it when unset. The bootstrap client's verdict on a certificate
 * is checked against a real Node TLS server with a CA made here.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as https from "node:https";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as os from "node:os";
import * as path from "node:path";
import { AddressInfo } from "node:net";
import { unsealerPodSpec } from "../../components/bootstrap";
import { buildVaultValues } from "../../components/lib/helm-values";
import {
    remoteClusterManifests,
    vaultClusterSecretStore,
    vaultStoreCaBundle,
} from "../../components/lib/secret-store-manifests";
import {
    inClusterVaultCa,
    TRUST_CA_CONFIGMAP,
    trustCaFilePath,
    vaultPodS3UsesBundle,
    writeTrustCaFile,
} from "../../components/lib/trust";
import { ensureInitialized, untrustedCertificateMessage } from "../../components/lib/vault-init";
import { buildPlatform } from "../../components/platform";
import { snapshotPodSpec } from "../../components/snapshots";
import { awsStack, homelabStack } from "../support/fixtures";
import { configOf, configProblems, dependsOnOf, Program, runProgram } from "../support/program";
import { at, Doc, listAt, objectAt, only } from "../support/inputs";

/** The one container of a list, checked by name. */
function theContainer(spec: unknown, list: "containers" | "initContainers", name: string): Doc {
    const c = objectAt(only(listAt(spec, list), list));
    assert.equal(c.name, name, `${list}: the ${name} step`);
    return c;
}
import { makeTestCa, TestCa } from "../support/test-ca";

type Stack = ReturnType<typeof homelabStack>;

const execFileAsync = promisify(execFile);

const POD_BUNDLE = "/vault/userconfig/vault-trust-ca/ca.crt";
const JOB_BUNDLE = "/vault/trust-ca/ca.crt";

const facts = {
    bucket: "vault-amiya",
    region: "garage",
    endpoint: "https://s3.amiya.akn",
    forcePathStyle: true,
    prefix: "vault/",
    storageCredentials: { secretName: "vault-storage-credentials", delivery: "env" as const },
};

describe("trust.caBundle", function () {
    let ca: TestCa;
    let other: TestCa;
    before(function () {
        ca = makeTestCa("amiya test CA");
        other = makeTestCa("another test CA");
    });
    after(function () {
        ca?.cleanup();
        other?.cleanup();
    });

    const withTrust = (bundle: string = ca.caPem): Stack => {
        const s = homelabStack();
        s.values.trust = { caBundle: bundle };
        return s;
    };

    describe("loadConfig", () => {
        it("accepts a bundle of several CA certificates, verbatim", () => {
            const bundle = `${ca.caPem}${other.caPem}`;
            assert.equal(configOf(withTrust(bundle)).trust.caBundle, bundle);
            assert.equal(configOf(homelabStack()).trust.caBundle, undefined);
        });

        it("refuses a value that is not PEM, naming the key", () => {
            assert.deepEqual(configProblems(withTrust("amiya-ca.crt")), [
                'secret-platform:trust.caBundle: must be a PEM bundle of CA certificates (-----BEGIN CERTIFICATE-----) (got "amiya-ca.crt")',
            ]);
        });

        it("refuses an armoured block that is not an X.509 certificate, naming which one", () => {
            const broken = "-----BEGIN CERTIFICATE-----\nMIIamiyaca\n-----END CERTIFICATE-----\n";
            const problems = configProblems(withTrust(`${ca.caPem}${broken}`));
            assert.match(
                only(problems, "problems"),
                /^secret-platform:trust\.caBundle: certificate 2 of 2 is not a valid X\.509 certificate \(.+\)$/,
            );
        });

        it("refuses unknown fields of trust", () => {
            const s = withTrust();
            s.values.trust.caFile = "/tmp/ca.crt";
            assert.deepEqual(configProblems(s), ["secret-platform:trust: unknown key 'caFile'"]);
        });
    });

    describe("the providers' file", () => {
        it("is a relative path named by content: the same on every machine, new for a new bundle", () => {
            const rel = trustCaFilePath(ca.caPem);
            assert.match(rel, /^\.secret-platform\/trust-ca-[0-9a-f]{16}\.pem$/);
            assert.equal(trustCaFilePath(ca.caPem), rel);
            assert.notEqual(trustCaFilePath(other.caPem), rel);
        });

        it("is written under the project directory with the bundle's exact bytes", () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sp-trust-"));
            try {
                const rel = writeTrustCaFile(ca.caPem, dir);
                assert.equal(rel, trustCaFilePath(ca.caPem));
                assert.equal(fs.readFileSync(path.join(dir, rel), "utf8"), ca.caPem);
                // Idempotent: a second run leaves the same file.
                assert.equal(writeTrustCaFile(ca.caPem, dir), rel);
                assert.deepEqual(fs.readdirSync(path.join(dir, ".secret-platform")), [path.basename(rel)]);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });

    describe("the whole program (mocks)", () => {
        let p: Program<unknown>;
        let bare: Program<unknown>;
        before(async function () {
            this.timeout(60_000);
            p = await runProgram(withTrust(), buildPlatform);
            bare = await runProgram(homelabStack(), buildPlatform);
        });
        const chartValues = (prog: Program<unknown>) =>
            objectAt(prog.find("kubernetes:helm.sh/v4:Chart", "platform-server-chart").inputs, "values");

        it("the Vault provider reads the bundle from the relative file (ca_cert_file), written before it is configured", () => {
            const provider = p.find("pulumi:providers:vault", "platform-bootstrap-vault");
            const rel = trustCaFilePath(ca.caPem);
            assert.equal(provider.inputs.caCertFile, rel);
            // The engine starts the provider in the project directory, which is the program's cwd.
            assert.equal(fs.readFileSync(path.join(process.cwd(), rel), "utf8"), ca.caPem);
            assert.equal(bare.find("pulumi:providers:vault", "platform-bootstrap-vault").inputs.caCertFile, undefined);
        });

        it("the S3-compatible AWS provider gets the same file as customCaBundle", () => {
            assert.equal(
                p.find("pulumi:providers:aws", "platform-storage-s3").inputs.customCaBundle,
                trustCaFilePath(ca.caPem),
            );
            assert.equal(bare.find("pulumi:providers:aws", "platform-storage-s3").inputs.customCaBundle, undefined);
        });

        it("the bootstrap's own client (VaultInit, VaultUnsealed) gets the bundle as an input", () => {
            for (const name of ["platform-bootstrap-init", "platform-bootstrap-unsealed"]) {
                const r = p.resources.find((x) => x.name === name);
                assert.ok(r !== undefined, name);
                assert.equal(r.inputs.caBundle, ca.caPem, name);
                const b = bare.resources.find((x) => x.name === name);
                assert.ok(b !== undefined && !("caBundle" in b.inputs), `${name} without trust has no caBundle`);
            }
        });

        it("a ConfigMap in Vault's namespace holds the bundle; the chart waits for it", async () => {
            const cm = p.find("kubernetes:core/v1:ConfigMap", "platform-server-trust-ca");
            assert.deepEqual(at(cm.inputs, "metadata", "name"), TRUST_CA_CONFIGMAP);
            assert.deepEqual(at(cm.inputs, "metadata", "namespace"), "vault");
            assert.deepEqual(cm.inputs.data, { "ca.crt": ca.caPem });
            const chart = p.find("kubernetes:helm.sh/v4:Chart", "platform-server-chart");
            assert.ok((await dependsOnOf(chart)).includes(cm.resource));
            assert.equal(
                bare.resources.filter((r) => r.name === "platform-server-trust-ca").length,
                0,
                "no ConfigMap without trust.caBundle",
            );
        });

        it("Vault's pod mounts it and its S3 client gets AWS_CA_BUNDLE", () => {
            const server = objectAt(chartValues(p), "server");
            assert.deepEqual(
                listAt(server, "volumes").filter((v) => at(v, "name") === "trust-ca"),
                [{ name: "trust-ca", configMap: { name: TRUST_CA_CONFIGMAP, defaultMode: 0o444 } }],
            );
            assert.deepEqual(
                listAt(server, "volumeMounts").filter((v) => at(v, "name") === "trust-ca"),
                [{ name: "trust-ca", mountPath: "/vault/userconfig/vault-trust-ca", readOnly: true }],
            );
            assert.equal(at(server, "extraEnvironmentVars", "AWS_CA_BUNDLE"), POD_BUNDLE);

            const plain = objectAt(chartValues(bare), "server");
            assert.equal(listAt(plain, "volumes").filter((v) => at(v, "name") === "trust-ca").length, 0);
            assert.equal(at(plain, "extraEnvironmentVars", "AWS_CA_BUNDLE"), undefined);
        });

        it("OIDC discovery trusts it, unless oidc.discoveryCaPem overrides it", async () => {
            const oidc = (prog: Program<unknown>) =>
                prog.find("vault:jwt/authBackend:AuthBackend", "platform-configuration-oidc").inputs.oidcDiscoveryCaPem;
            assert.equal(oidc(p), ca.caPem);
            assert.equal(oidc(bare), undefined);
            const s = withTrust();
            s.values.oidc.discoveryCaPem = other.caPem;
            assert.equal(oidc(await runProgram(s, buildPlatform)), other.caPem);
        });

        it("a store whose Vault URL is https (externalSecrets.serverUrl) inlines it as caBundle (base64)", async function () {
            this.timeout(60_000);
            const s = withTrust();
            s.values.externalSecrets.serverUrl = "https://vault.amiya.akn";
            const prog = await runProgram(s, buildPlatform);
            const stores = prog.ofType("kubernetes:external-secrets.io/v1:ClusterSecretStore");
            assert.ok(stores.length >= 1);
            for (const store of stores) {
                const vault = objectAt(store.inputs, "spec", "provider", "vault");
                assert.equal(vault.caBundle, Buffer.from(ca.caPem).toString("base64"), store.name);
                assert.equal(vault.caProvider, undefined);
            }
            // The default in-cluster URL is http (TLS at the ingress): nothing to verify.
            for (const store of p.ofType("kubernetes:external-secrets.io/v1:ClusterSecretStore")) {
                assert.equal(at(store.inputs, "spec", "provider", "vault", "caBundle"), undefined, store.name);
            }
        });
    });

    describe("raft with internal TLS (mocks): the unsealer and the snapshot job", () => {
        let p: Program<unknown>;
        before(async function () {
            this.timeout(60_000);
            const s = withTrust();
            s.values.server = {
                storageBackend: "raft",
                replicas: 3,
                tls: { mode: "internal", secretName: "vault-tls" },
            };
            p = await runProgram(s, buildPlatform);
        });

        it("the unsealer CronJob and loop verify Vault with the ConfigMap (VAULT_CACERT) and wait for it", async () => {
            const cm = p.find("kubernetes:core/v1:ConfigMap", "platform-server-trust-ca");
            const specs: [string, Doc][] = [
                [
                    "cronjob",
                    objectAt(
                        p.find("kubernetes:batch/v1:CronJob", "platform-bootstrap-unsealer").inputs,
                        ...["spec", "jobTemplate", "spec", "template", "spec"],
                    ),
                ],
                [
                    "loop",
                    objectAt(
                        p.find("kubernetes:apps/v1:Deployment", "platform-bootstrap-unsealer-loop").inputs,
                        ...["spec", "template", "spec"],
                    ),
                ],
            ];
            for (const [what, spec] of specs) {
                const c = theContainer(spec, "containers", "unsealer");
                assert.deepEqual(
                    listAt(c, "env").filter((e) => at(e, "name") === "VAULT_CACERT"),
                    [{ name: "VAULT_CACERT", value: JOB_BUNDLE }],
                    what,
                );
                assert.deepEqual(
                    listAt(spec, "volumes").filter((v) => at(v, "name") === "trust-ca"),
                    [{ name: "trust-ca", configMap: { name: TRUST_CA_CONFIGMAP, defaultMode: 0o444 } }],
                    what,
                );
                assert.equal(listAt(spec, "volumes").filter((v) => at(v, "name") === "vault-ca").length, 0, what);
            }
            const cron = p.find("kubernetes:batch/v1:CronJob", "platform-bootstrap-unsealer");
            assert.ok((await dependsOnOf(cron)).includes(cm.resource));
        });

        it("the snapshot job: VAULT_CACERT for the save step, AWS_CA_BUNDLE for the upload to https S3", () => {
            const spec = objectAt(
                p.find("kubernetes:batch/v1:CronJob", "platform-snapshots-cronjob").inputs,
                ...["spec", "jobTemplate", "spec", "template", "spec"],
            );
            assert.deepEqual(
                listAt(theContainer(spec, "initContainers", "save"), "env").filter(
                    (e) => at(e, "name") === "VAULT_CACERT",
                ),
                [{ name: "VAULT_CACERT", value: JOB_BUNDLE }],
            );
            assert.deepEqual(
                listAt(theContainer(spec, "containers", "upload"), "env").filter(
                    (e) => at(e, "name") === "AWS_CA_BUNDLE",
                ),
                [{ name: "AWS_CA_BUNDLE", value: JOB_BUNDLE }],
            );
            assert.deepEqual(
                listAt(spec, "volumes").filter((v) => at(v, "name") === "trust-ca"),
                [{ name: "trust-ca", configMap: { name: TRUST_CA_CONFIGMAP, defaultMode: 0o444 } }],
            );
        });

        it("Vault's own pods (raft: no S3 client) mount the bundle but get no AWS_CA_BUNDLE", () => {
            const server = objectAt(
                p.find("kubernetes:helm.sh/v4:Chart", "platform-server-chart").inputs,
                "values",
                "server",
            );
            assert.equal(at(server, "extraEnvironmentVars", "AWS_CA_BUNDLE"), undefined);
            assert.equal(listAt(server, "volumes").filter((v) => at(v, "name") === "trust-ca").length, 1);
        });
    });

    describe("the builders", () => {
        it("buildVaultValues: AWS_CA_BUNDLE only when Vault's S3 backend talks to an https S3-compatible endpoint", () => {
            const env = (s: Stack, f: typeof facts = facts) =>
                objectAt(buildVaultValues(configOf(s), f), "server", "extraEnvironmentVars");
            assert.equal(env(withTrust()).AWS_CA_BUNDLE, POD_BUNDLE);
            const raft = withTrust();
            raft.values.server = { storageBackend: "raft" };
            assert.equal(env(raft).AWS_CA_BUNDLE, undefined, "raft: the pod does not talk to S3");
            const http = withTrust();
            http.values.storage.endpoint = "http://garage.garage.svc:3900";
            assert.equal(env(http, { ...facts, endpoint: "http://garage.garage.svc:3900" }).AWS_CA_BUNDLE, undefined);
            // aws mode: the public AWS endpoint; the bundle must not replace the SDK's roots there.
            const aws = awsStack();
            aws.values.trust = { caBundle: ca.caPem };
            assert.equal(vaultPodS3UsesBundle(configOf(aws)), false);
            assert.equal(vaultPodS3UsesBundle(configOf(withTrust())), true);
        });

        it("the unsealer: VAULT_CACERT from the ConfigMap with internal TLS and no caSecretName", () => {
            const s = withTrust();
            s.values.server = { tls: { mode: "internal", secretName: "vault-tls" } };
            assert.deepEqual(inClusterVaultCa(configOf(s)), { kind: "configMap", name: TRUST_CA_CONFIGMAP });
            const spec = unsealerPodSpec({
                image: "hashicorp/vault:2.0.4",
                vaultAddr: "https://vault.vault.svc:8200",
                keysSecretName: "vault-unseal-keys",
                scriptConfigMap: "vault-unsealer",
                args: [],
                caConfigMapName: TRUST_CA_CONFIGMAP,
            });
            const c = theContainer(spec, "containers", "unsealer");
            assert.deepEqual(
                listAt(c, "env").filter((e) => at(e, "name") === "VAULT_CACERT"),
                [{ name: "VAULT_CACERT", value: JOB_BUNDLE }],
            );
            assert.deepEqual(
                listAt(c, "volumeMounts").filter((m) => at(m, "name") === "trust-ca"),
                [{ name: "trust-ca", mountPath: "/vault/trust-ca", readOnly: true }],
            );
            assert.deepEqual(
                listAt(spec, "volumes").filter((v) => at(v, "name") === "trust-ca"),
                [{ name: "trust-ca", configMap: { name: TRUST_CA_CONFIGMAP, defaultMode: 0o444 } }],
            );
        });

        it("inClusterVaultCa: http needs none; an explicit caSecretName wins; without trust the TLS Secret's ca.crt", () => {
            assert.equal(inClusterVaultCa(configOf(withTrust())), undefined);
            const explicit = withTrust();
            explicit.values.server = { tls: { mode: "internal", secretName: "vault-tls", caSecretName: "vault-ca" } };
            assert.deepEqual(inClusterVaultCa(configOf(explicit)), { kind: "secret", name: "vault-ca" });
            const bare = homelabStack();
            bare.values.server = { tls: { mode: "internal", secretName: "vault-tls" } };
            assert.deepEqual(inClusterVaultCa(configOf(bare)), { kind: "secret", name: "vault-tls" });
        });

        it("the snapshot job: VAULT_CACERT for the save step, AWS_CA_BUNDLE for the upload, one volume", () => {
            const base = {
                vaultImage: "hashicorp/vault:2.0.4",
                uploadImage: "amazon/aws-cli:2.15.61",
                vaultAddr: "https://vault-active.vault.svc:8200",
                authPath: "kubernetes-amiya.akn",
                bucket: "vault-amiya",
                keyPrefix: "vault/snapshots/",
                endpoint: "https://s3.amiya.akn",
            };
            const spec = snapshotPodSpec({
                ...base,
                caConfigMapName: TRUST_CA_CONFIGMAP,
                s3CaConfigMapName: TRUST_CA_CONFIGMAP,
            });
            const save = theContainer(spec, "initContainers", "save");
            const upload = theContainer(spec, "containers", "upload");
            assert.deepEqual(
                listAt(save, "env").filter((e) => at(e, "name") === "VAULT_CACERT"),
                [{ name: "VAULT_CACERT", value: JOB_BUNDLE }],
            );
            assert.deepEqual(
                listAt(upload, "env").filter((e) => at(e, "name") === "AWS_CA_BUNDLE"),
                [{ name: "AWS_CA_BUNDLE", value: JOB_BUNDLE }],
            );
            for (const c of [save, upload]) {
                assert.deepEqual(
                    listAt(c, "volumeMounts").filter((m) => at(m, "name") === "trust-ca"),
                    [{ name: "trust-ca", mountPath: "/vault/trust-ca", readOnly: true }],
                );
            }
            assert.deepEqual(
                listAt(spec, "volumes").filter((v) => at(v, "name") === "trust-ca"),
                [{ name: "trust-ca", configMap: { name: TRUST_CA_CONFIGMAP, defaultMode: 0o444 } }],
            );
            // Without the options: no CA anywhere.
            const plain = snapshotPodSpec(base);
            assert.equal(JSON.stringify(plain).includes("trust-ca"), false);
            assert.equal(JSON.stringify(plain).includes("AWS_CA_BUNDLE"), false);
        });

        it("ESO: caBundle for an https URL without a CA Secret; remote clusters' stores get it too", () => {
            const c = configOf(withTrust());
            assert.equal(vaultStoreCaBundle(c, "http://vault.vault.svc:8200"), undefined);
            assert.equal(vaultStoreCaBundle(c, "https://vault.amiya.akn"), ca.caPem);
            const ref = { name: "vault-ca", namespace: "vault", key: "ca.crt" };
            assert.equal(vaultStoreCaBundle(c, "https://vault.vault.svc:8200", ref), undefined);
            assert.equal(vaultStoreCaBundle(configOf(homelabStack()), "https://vault.amiya.akn"), undefined);
            const store = vaultClusterSecretStore({
                name: "vault-amiya-akn",
                server: "https://vault.amiya.akn",
                mount: "amiya.akn",
                authMountPath: "kubernetes-amiya.akn",
                role: "external-secrets",
                serviceAccount: { name: "vault-login", namespace: "external-secrets" },
                audience: "vault",
                caBundle: ca.caPem,
            });
            assert.equal(
                at(store, "spec", "provider", "vault", "caBundle"),
                Buffer.from(ca.caPem, "utf8").toString("base64"),
            );

            const s = withTrust();
            s.values.kubernetesAuth = {
                remoteClusters: [{ name: "nova.akn", host: "https://nova.akn:6443", caCert: ca.caPem }],
            };
            s.secrets.remoteClusterReviewerJwts = JSON.stringify({ "nova.akn": "jwt" });
            const stores = remoteClusterManifests(configOf(s))["nova.akn"].filter(
                (o) => o.kind === "ClusterSecretStore",
            );
            assert.ok(stores.length >= 1);
            for (const st of stores) {
                assert.equal(at(st, "spec", "provider", "vault", "caBundle"), Buffer.from(ca.caPem).toString("base64"));
            }
        });
    });

    describe("the bootstrap client against a TLS server signed by the test CA", () => {
        let server: https.Server;
        let address: string;
        before(async function () {
            server = https.createServer({ cert: ca.certPem, key: ca.keyPem }, (_req, res) => {
                res.setHeader("Content-Type", "application/json");
                res.end(JSON.stringify({ type: "shamir", initialized: true, sealed: false, t: 1, n: 1, progress: 0 }));
            });
            await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
            address = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
        });
        after(() => {
            server.closeAllConnections();
            server.close();
        });
        const inputs = (caBundle?: string) => ({
            address,
            skipTlsVerify: false,
            caBundle,
            // Far beyond mocha's timeout: only a verdict at the first attempt can pass.
            waitTimeoutSeconds: 3600,
            sealType: "shamir" as const,
            shares: 1,
            threshold: 1,
            adoptExisting: true,
            keysSecret: "vault/vault-unseal-keys",
        });

        it("trusts the bundle and talks to Vault", async () => {
            const state = await ensureInitialized(inputs(ca.caPem));
            assert.equal(state.adopted, true);
        });

        it("with the bundle, trusts only the bundle: a certificate the process's own roots accept is refused", async function () {
            this.timeout(15_000);
            // A Node process where the test CA is a public root by every measure: in its default roots
            // (NODE_EXTRA_CA_CERTS) and in tls.rootCertificates, which code adding "Node's roots" to a bundle reads.
            const preamble =
                'const Module = require("node:module"); const tls = require("node:tls");' +
                'const roots = [...tls.rootCertificates, require("node:fs").readFileSync(process.env.NODE_EXTRA_CA_CERTS, "utf8")];' +
                "const load = Module._load;" +
                "Module._load = function (request, ...rest) { const m = load.call(this, request, ...rest);" +
                ' return request === "node:tls" || request === "tls" ? Object.create(m, { rootCertificates: { value: roots } }) : m; };';
            const call = async (caBundle: string | undefined): Promise<string> => {
                const script =
                    preamble +
                    `const { vaultApi } = require(${JSON.stringify(require.resolve("../../components/lib/vault-api"))});` +
                    `vaultApi({ address: ${JSON.stringify(address)}, caBundle: process.env.BUNDLE || undefined }, "GET", "sys/seal-status")` +
                    '.then((r) => console.log("status " + r.status), (e) => console.log("refused: " + e.reason));';
                const { stdout } = await execFileAsync(
                    process.execPath,
                    ["-r", require.resolve("tsx/cjs"), "-e", script],
                    {
                        env: { PATH: process.env.PATH ?? "", NODE_EXTRA_CA_CERTS: ca.caFile, BUNDLE: caBundle ?? "" },
                    },
                );
                return stdout.trim();
            };
            // Positive control: without a bundle that process's roots verify the certificate.
            assert.equal(await call(undefined), "status 200");
            assert.equal(await call(other.caPem), "refused: unable to verify the first certificate");
            assert.equal(await call(ca.caPem), "status 200");
        });

        it("an untrusted certificate fails at once, naming the URL and trust.caBundle", async function () {
            this.timeout(5_000);
            const cause = `GET ${address}/v1/sys/seal-status: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`;
            await assert.rejects(ensureInitialized(inputs()), { message: untrustedCertificateMessage(address, cause) });
            await assert.rejects(ensureInitialized(inputs(other.caPem)), {
                message: untrustedCertificateMessage(address, cause),
            });
            assert.equal(
                untrustedCertificateMessage(address, cause),
                `Vault API at ${address}: its TLS certificate cannot be verified (${cause}). ` +
                    "Set secret-platform:trust.caBundle to the PEM bundle of the CA that signed it " +
                    "(pulumi config set --path 'trust.caBundle' -- \"$(cat ca.crt)\"), " +
                    "or, insecurely, both secret-platform:vault.skipTlsVerify true and secret-platform:vault.allowInsecure true.",
            );
        });
    });
});
