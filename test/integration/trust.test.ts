/**
 * trust.caBundle against real servers, with a private CA made here:
 *   - a real Vault serving TLS signed by it is bootstrapped over https by the
 *     serialized dynamic providers (no skipTlsVerify), and the unsealer script
 *     unseals it with exactly the env and CA file its pod spec gives it;
 *   - an untrusted certificate fails at once (a 3600 s wait, mocha's timeout
 *     proves no waiting happened), with the message naming trust.caBundle;
 *   - a real Vault with S3 storage starts against an S3 server (gofakes3)
 *     behind TLS signed by it, given exactly the env and files the chart
 *     values give the pod (mount paths mapped to a temp dir), and the same
 *     Vault without that env does not start.
 */
import { strict as assert } from "node:assert";
import { spawnSync, spawn, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { unsealerPodSpec, unsealKeyFiles, UNSEAL_SCRIPT_PATH } from "../../components/bootstrap";
import { buildVaultValues, serverHclOf } from "../../components/lib/helm-values";
import { TRUST_CA_CONFIGMAP, TRUST_CA_KEY } from "../../components/lib/trust";
import { vaultApi } from "../../components/lib/vault-api";
import { BootstrapInputs, untrustedCertificateMessage } from "../../components/lib/vault-init";
import { PULUMI_POLICY } from "../../components/lib/policy-names";
import { initInputs } from "../support/bootstrap-inputs";
import { homelabStack } from "../support/fixtures";
import { configOf } from "../support/program";
import { at, listAt, named, objectAt, only, stringAt } from "../support/inputs";
import { makeTestCa, TestCa } from "../support/test-ca";
import { startTlsProxy, TlsProxy } from "../support/tls-proxy";
import { requireTool } from "../support/tools";
import { freePort, startVault, VaultServer } from "../support/vault-server";
import { hostLoaded, Provider } from "../support/dynamic-provider";

/** A ConfigMap volume's files, written to a temp dir as the kubelet would mount them. */
function mountConfigMap(dir: string, data: Record<string, string>): string {
    fs.mkdirSync(dir, { recursive: true });
    for (const [key, value] of Object.entries(data)) fs.writeFileSync(path.join(dir, key), value, { mode: 0o444 });
    return dir;
}

/** An env var's value with a pod mount path replaced by where the test mounted it. */
function mapPath(value: string, mounts: Record<string, string>): string {
    for (const [podDir, localDir] of Object.entries(mounts)) {
        if (value === podDir || value.startsWith(`${podDir}/`)) return localDir + value.slice(podDir.length);
    }
    return value;
}

describe("integration: trust.caBundle against real servers", function () {
    let ca: TestCa;
    let work: string;
    before(function () {
        ca = makeTestCa("amiya test CA");
        work = fs.mkdtempSync(path.join(os.tmpdir(), "secret-platform-trust-"));
    });
    after(function () {
        ca?.cleanup();
        if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
    });

    describe("a real Vault serving TLS signed by the private CA", function () {
        let vault: VaultServer;
        let vaultBin: string;
        let init: Provider;
        let unseal: Provider;
        let inputs: BootstrapInputs;
        let state: Record<string, any>;

        before(async function () {
            vaultBin = requireTool(this, "vault") as string;
            [init, unseal] = await Promise.all([hostLoaded("init"), hostLoaded("unsealed")]);
            vault = await startVault({ tls: { certFile: ca.certFile, keyFile: ca.keyFile } });
            assert.match(vault.address, /^https:\/\/127\.0\.0\.1:\d+$/);
            inputs = initInputs(vault.address, { caBundle: ca.caPem });
        });
        after(async function () {
            await vault?.stop();
        });

        const status = async () =>
            objectAt((await vaultApi({ address: vault.address, caBundle: ca.caPem }, "GET", "sys/seal-status")).body);

        it("without the bundle, bootstrap fails at once naming the URL and trust.caBundle, and Vault is untouched", async function () {
            // 3600 s to wait: only an immediate verdict passes within mocha's timeout.
            this.timeout(15_000);
            const untrusted = { ...inputs, waitTimeoutSeconds: 3600 };
            delete (untrusted as { caBundle?: string }).caBundle;
            const cause = `GET ${vault.address}/v1/sys/seal-status: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`;
            await assert.rejects(init.create(untrusted), {
                message: untrustedCertificateMessage(vault.address, cause),
            });
            await assert.rejects(unseal.create({ ...untrusted, keys: [] }), {
                message: untrustedCertificateMessage(vault.address, cause),
            });
            assert.equal((await status()).initialized, false);
        });

        it("with the bundle (no skipTlsVerify), the serialized providers initialize and unseal it over https", async function () {
            this.timeout(60_000);
            const created = await init.create(inputs);
            state = created.outs;
            assert.equal(state.initialized, true);
            assert.equal(state.keys.length, 3);
            assert.equal(state.caBundle, ca.caPem);
            const unsealed = await unseal.create({
                address: inputs.address,
                skipTlsVerify: false,
                caBundle: ca.caPem,
                waitTimeoutSeconds: 30,
                sealType: "shamir",
                keys: state.keys,
                keysSecret: inputs.keysSecret,
            });
            assert.equal(unsealed.outs.unsealed, true);
            const s = await status();
            assert.equal(s.initialized, true);
            assert.equal(s.sealed, false);
        });

        it("the unsealer script unseals it with exactly its pod's env and the mounted CA; without VAULT_CACERT it cannot", async function () {
            this.timeout(120_000);
            assert.ok(state !== undefined, "needs the previous case");
            const sealRes = await vaultApi(
                { address: vault.address, caBundle: ca.caPem },
                "PUT",
                "sys/seal",
                undefined,
                state.rootToken,
            );
            assert.equal(sealRes.status, 204);
            assert.equal((await status()).sealed, true);

            const spec = unsealerPodSpec({
                image: "hashicorp/vault:2.0.4",
                vaultAddr: "https://vault.vault.svc:8200",
                keysSecretName: "vault-unseal-keys",
                scriptConfigMap: "vault-unsealer",
                args: [],
                caConfigMapName: TRUST_CA_CONFIGMAP,
            });
            const container = only(listAt(spec, "containers"), "unsealer containers");
            // The pod's volumes, mounted where the test can: the CA ConfigMap and the keys Secret.
            const mounts: Record<string, string> = {};
            for (const m of listAt(container, "volumeMounts")) {
                const name = stringAt(m, "name");
                const local = path.join(work, "pod", name);
                if (name === "trust-ca") mountConfigMap(local, { [TRUST_CA_KEY]: ca.caPem });
                else if (name === "unseal-keys") mountConfigMap(local, unsealKeyFiles(state.keys));
                else fs.mkdirSync(local, { recursive: true });
                mounts[stringAt(m, "mountPath")] = local;
            }
            const bin = path.join(work, "pod", "bin");
            fs.mkdirSync(bin, { recursive: true });
            fs.symlinkSync(vaultBin, path.join(bin, "vault"));
            const env: Record<string, string> = { PATH: `${bin}:/usr/bin:/bin` };
            for (const e of listAt(container, "env")) env[stringAt(e, "name")] = mapPath(stringAt(e, "value"), mounts);
            // The in-cluster Service name is not resolvable here: the same server on loopback (its cert has 127.0.0.1).
            env.VAULT_ADDR = vault.address;
            assert.equal(env.VAULT_CACERT, path.join(mounts["/vault/trust-ca"], TRUST_CA_KEY));

            const run = (e: Record<string, string>) =>
                spawnSync("/bin/sh", [UNSEAL_SCRIPT_PATH], { env: e, encoding: "utf8", timeout: 60_000 });
            const withoutCa = { ...env };
            delete withoutCa.VAULT_CACERT;
            const refused = run(withoutCa);
            assert.notEqual(refused.status, 0, `${refused.stdout}${refused.stderr}`);
            assert.equal((await status()).sealed, true);

            const ok = run(env);
            assert.equal(ok.status, 0, `${ok.stdout}${ok.stderr}`);
            assert.equal((await status()).sealed, false);
            for (const key of state.keys) assert.ok(!`${ok.stdout}${ok.stderr}`.includes(key), "no key in the log");
        });

        it("a preview over https: no change with the bundle; without it an error naming trust.caBundle, never a change", async function () {
            this.timeout(15_000);
            const unsealInputs = { ...inputs, keys: state.keys };
            assert.deepEqual(await unseal.diff("id", unsealInputs, unsealInputs), { changes: false, replaces: [] });
            const untrusted: Record<string, unknown> = { ...unsealInputs };
            delete untrusted.caBundle;
            const cause = `GET ${vault.address}/v1/sys/seal-status: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`;
            await assert.rejects(unseal.diff("id", untrusted, untrusted), {
                message: untrustedCertificateMessage(vault.address, cause),
            });
            // A refresh says so too, instead of keeping the state as if Vault were down.
            await assert.rejects(init.read("id", untrusted), {
                message: untrustedCertificateMessage(vault.address, cause),
            });
        });

        it("the provider token is minted over https with the bundle, and the root token revoked", async function () {
            this.timeout(30_000);
            const token = await hostLoaded("token");
            const tokenInputs = {
                address: vault.address,
                skipTlsVerify: false,
                caBundle: ca.caPem,
                policy: PULUMI_POLICY,
                policyText: 'path "sys/policies/acl/*" { capabilities = ["read"] }',
                bootstrapToken: state.rootToken,
                bootstrapSource: "root",
            };
            const created = (await token.create(tokenInputs)).outs;
            assert.equal(created.rootRevoked, true);
            assert.deepEqual(await token.diff("id", created, tokenInputs), { changes: false, replaces: [] });
            const lookup = (t: string) =>
                vaultApi({ address: vault.address, caBundle: ca.caPem }, "GET", "auth/token/lookup-self", undefined, t);
            assert.equal((await lookup(state.rootToken)).status, 403);
            assert.equal((await lookup(created.token)).status, 200);
        });
    });

    describe("a real Vault with S3 storage behind TLS signed by the private CA", function () {
        const bucket = "vault-amiya";
        const creds = { AWS_ACCESS_KEY_ID: "GKtestaccesskey", AWS_SECRET_ACCESS_KEY: "test-storage-secret-key" };
        let s3: ChildProcess | undefined;
        let proxy: TlsProxy;
        let podEnv: Record<string, string>;
        let storageHcl: string;

        before(async function () {
            requireTool(this, "vault");
            const bin = requireTool(this, "gofakes3") as string;
            const port = await freePort();
            s3 = spawn(bin, ["-backend", "memory", "-host", `127.0.0.1:${port}`, "-initialbucket", bucket], {
                stdio: "ignore",
            });
            proxy = await startTlsProxy({
                certPem: ca.certPem,
                keyPem: ca.keyPem,
                upstream: `http://127.0.0.1:${port}`,
            });
            const deadline = Date.now() + 10_000;
            for (;;) {
                try {
                    await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) });
                    break;
                } catch (err) {
                    if (Date.now() > deadline) throw new Error(`gofakes3 did not come up: ${(err as Error).message}`);
                    await new Promise((r) => setTimeout(r, 50));
                }
            }

            // The chart values of a homelab stack with trust.caBundle, as the program builds them.
            const stack = homelabStack();
            stack.values.trust = { caBundle: ca.caPem };
            const values = buildVaultValues(configOf(stack), {
                bucket,
                region: "garage",
                endpoint: "https://s3.amiya.akn",
                forcePathStyle: true,
                prefix: "vault/",
                storageCredentials: { secretName: "vault-storage-credentials", delivery: "env" },
            });
            const server = objectAt(values, "server");
            // The pod's volumes, mounted here: the CA ConfigMap with the data the program gives it.
            const mounts: Record<string, string> = {};
            for (const m of listAt(server, "volumeMounts")) {
                const name = stringAt(m, "name");
                const volume = named(listAt(server, "volumes"), name);
                const local = path.join(work, "vault-pod", name);
                const configMap = at(volume, "configMap"); // a ConfigMap volume, or another kind
                if (configMap !== undefined && at(configMap, "name") === TRUST_CA_CONFIGMAP) {
                    mountConfigMap(local, { [TRUST_CA_KEY]: ca.caPem });
                } else fs.mkdirSync(local, { recursive: true });
                mounts[stringAt(m, "mountPath")] = local;
            }
            podEnv = {};
            for (const [k, v] of Object.entries(objectAt(server, "extraEnvironmentVars"))) {
                podEnv[k] = mapPath(String(v), mounts);
            }
            assert.equal(podEnv.AWS_CA_BUNDLE, path.join(mounts["/vault/userconfig/vault-trust-ca"], TRUST_CA_KEY));
            // The Secret's keys as env (extraSecretEnvironmentVars).
            for (const e of listAt(server, "extraSecretEnvironmentVars")) {
                podEnv[stringAt(e, "envName")] = creds[stringAt(e, "secretKey") as keyof typeof creds];
            }
            // The pod's storage stanza, pointed at the proxy (s3.amiya.akn does not resolve here).
            const hcl = serverHclOf(values);
            const stanza = /storage "s3" \{[\s\S]*?\n\}/.exec(hcl);
            assert.ok(stanza !== null, `no s3 stanza in:\n${hcl}`);
            assert.ok(stanza[0].includes('"https://s3.amiya.akn"'), stanza[0]);
            storageHcl = stanza[0].replace('"https://s3.amiya.akn"', JSON.stringify(proxy.url));
        });
        after(async function () {
            await proxy?.close();
            s3?.kill("SIGKILL");
        });

        it("starts with the pod's env and files (AWS_CA_BUNDLE) and answers", async function () {
            this.timeout(60_000);
            const before = proxy.forwarded;
            const vault = await startVault({ storageHcl, env: podEnv });
            try {
                const res = await vaultApi({ address: vault.address }, "GET", "sys/seal-status");
                assert.equal(res.status, 200);
                assert.equal(at(res.body, "initialized"), false);
                assert.ok(proxy.forwarded > before, "Vault's S3 client went through the TLS proxy");
            } finally {
                await vault.stop();
            }
        });

        it("without AWS_CA_BUNDLE the same Vault does not start (its S3 client refuses the certificate)", async function () {
            this.timeout(60_000);
            const withoutCa = { ...podEnv };
            delete withoutCa.AWS_CA_BUNDLE;
            await assert.rejects(startVault({ storageHcl, env: withoutCa }), (err: Error) => {
                assert.match(err.message, /vault server exited/);
                assert.match(
                    err.message,
                    /unable to access bucket "vault-amiya"[\s\S]*x509: certificate signed by unknown authority/,
                );
                return true;
            });
        });
    });
});
