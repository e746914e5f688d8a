/**
 * `npm run stack-config`: what CI adds to a stack's config from the stack's
 * GitHub environment. Run against a stand-in `pulumi` that records its argv
 * and stdin: every value goes on stdin, never in argv, the CLI's environment
 * or the output.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runStackConfig } from "../../ops/stack-config";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n";

describe("npm run stack-config (CI's stack config from the environment)", () => {
    let tmp: string;
    let bin: string;
    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "stack-config-"));
        bin = path.join(tmp, "pulumi");
        // Appends one record per call: argv, whether the variables leaked into its env, then stdin.
        fs.writeFileSync(
            bin,
            `#!/bin/sh\n{ echo "ARGV $*"; echo "ENV \${STACK_SECRETS:+leaked}\${TRUST_CA_BUNDLE:+leaked}"; cat; echo; echo "END"; } >> "${tmp}/calls"\n`,
            { mode: 0o755 },
        );
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));
    const calls = () => fs.readFileSync(path.join(tmp, "calls"), "utf8");

    it("sets each secret with --secret and the CA with --path, every value on stdin only", () => {
        const secrets = { storageAccessKeyId: "GKfromci", storageSecretAccessKey: "s3cr3t-from-ci" };
        const result = runStackConfig(["--stack", "amiya"], {
            PATH: process.env.PATH,
            PULUMI_BIN: bin,
            STACK_SECRETS: JSON.stringify(secrets),
            TRUST_CA_BUNDLE: PEM,
        });
        assert.deepEqual(result, {
            code: 0,
            stdout: [
                "set storageAccessKeyId (secret) on stack amiya",
                "set storageSecretAccessKey (secret) on stack amiya",
                "set trust.caBundle on stack amiya",
                "",
            ].join("\n"),
            stderr: "",
        });
        assert.equal(
            calls(),
            [
                "ARGV config set --stack amiya --secret storageAccessKeyId",
                "ENV ",
                "GKfromci",
                "END",
                "ARGV config set --stack amiya --secret storageSecretAccessKey",
                "ENV ",
                "s3cr3t-from-ci",
                "END",
                "ARGV config set --stack amiya --path trust.caBundle",
                "ENV ",
                `${PEM}`,
                "END",
                "",
            ].join("\n"),
        );
    });

    it("does nothing when the environment holds nothing", () => {
        const result = runStackConfig(["--stack", "amiya"], { PATH: process.env.PATH, PULUMI_BIN: bin });
        assert.deepEqual(result, {
            code: 0,
            stdout: "nothing to set on stack amiya (STACK_SECRETS and TRUST_CA_BUNDLE are empty)\n",
            stderr: "",
        });
        assert.equal(fs.existsSync(path.join(tmp, "calls")), false);
    });

    it("refuses an unknown key, malformed JSON or a non-PEM CA before any call, echoing no value (exit 2)", () => {
        const run = (env: Record<string, string>) =>
            runStackConfig(["--stack", "amiya"], { PATH: process.env.PATH ?? "", PULUMI_BIN: bin, ...env });
        assert.deepEqual(run({ STACK_SECRETS: '{"oidcClientSecret": "x", "vault.address": "y"}' }), {
            code: 2,
            stdout: "",
            stderr: "stack-config: STACK_SECRETS: 'vault.address' is not a secret key of this project (known: oidcClientSecret, storageAccessKeyId, storageSecretAccessKey, sealAccessKeyId, sealSecretAccessKey, snapshotAccessKeyId, snapshotSecretAccessKey, vaultToken, remoteClusterReviewerJwts)\n",
        });
        const notJson = run({ STACK_SECRETS: "storageSecretAccessKey=hunter2" });
        assert.equal(notJson.code, 2);
        assert.equal(
            notJson.stderr,
            "stack-config: STACK_SECRETS is not JSON: it must be an object of secret key to value\n",
        );
        assert.equal(run({ TRUST_CA_BUNDLE: "amiya-ca.crt" }).code, 2);
        assert.equal(fs.existsSync(path.join(tmp, "calls")), false);
        assert.equal(runStackConfig([], { PULUMI_BIN: bin }).code, 2);
    });

    it("stops at a failed call with exit 1, naming the key only", () => {
        fs.writeFileSync(bin, "#!/bin/sh\necho 'error: no stack named amiya' >&2\nexit 255\n", { mode: 0o755 });
        const result = runStackConfig(["--stack", "amiya"], {
            PATH: process.env.PATH,
            PULUMI_BIN: bin,
            STACK_SECRETS: '{"storageSecretAccessKey": "s3cr3t"}',
        });
        assert.deepEqual(result, {
            code: 1,
            stdout: "",
            stderr: "stack-config: setting storageSecretAccessKey (secret) failed: error: no stack named amiya\n",
        });
    });
});
