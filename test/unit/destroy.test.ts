/**
 * `pulumi destroy` never deletes key material or Vault's data, in every mode:
 * each object that holds them is retainOnDelete (the engine then drops it from
 * the state without deleting it, with or without --ignore-protect), and the
 * objects Kubernetes would delete with them (the namespace) are retained too.
 * The awskms recovery keys live only in the state: there the destroy refuses.
 */
import { strict as assert } from "node:assert";
import { recoveryKeysDestroyRefusal } from "../../components/lib/vault-init";
import { vaultInitProvider } from "../../components/lib/vault-init-provider";
import { buildPlatform } from "../../components/platform";
import { awsStack, homelabStack, KMS_EGRESS } from "../support/fixtures";
import { at } from "../support/inputs";
import { runProgram, secretInput, StackConfig } from "../support/program";

const T = {
    namespace: "kubernetes:core/v1:Namespace",
    secret: "kubernetes:core/v1:Secret",
    chart: "kubernetes:helm.sh/v4:Chart",
    init: "pulumi-nodejs:dynamic/secret-platform:VaultInit",
    mount: "vault:index/mount:Mount",
    bucket: "aws:s3/bucket:Bucket",
    key: "aws:kms/key:Key",
} as const;
const sealKeyArn = "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

type Mode = "aws" | "s3-compatible" | "s3-compatible, createBucket false";

function stackFor(mode: Mode, backend: "s3" | "raft", unseal: "shamir" | "awskms", protect: boolean): StackConfig {
    const s = mode === "aws" ? awsStack() : homelabStack();
    s.values.storage.protect = protect;
    if (mode === "s3-compatible, createBucket false") s.values.storage.createBucket = false;
    if (backend === "raft") s.values.server = { storageBackend: "raft", replicas: 3 };
    if (unseal === "shamir") s.values.unseal = { mode: "shamir" };
    else if (mode === "aws") s.values.unseal = { mode: "awskms" };
    else {
        s.values.unseal = { mode: "awskms", kmsKeyId: sealKeyArn };
        s.values.networkPolicy.egress.kms = KMS_EGRESS;
        Object.assign(s.secrets, { sealAccessKeyId: "AKIASEALTEST", sealSecretAccessKey: "seal-secret-test" });
    }
    return s;
}

describe("destroy keeps key material and data (every mode, under the mocks)", () => {
    for (const mode of ["aws", "s3-compatible", "s3-compatible, createBucket false"] as const) {
        for (const backend of ["s3", "raft"] as const) {
            for (const unseal of ["shamir", "awskms"] as const) {
                for (const protect of [true, false]) {
                    it(`${mode}, ${backend} backend, ${unseal}, storage.protect ${protect}`, async () => {
                        const p = await runProgram(stackFor(mode, backend, unseal, protect), buildPlatform);

                        // The namespace holds the shares Secret, the audit PVC and the raft PVCs.
                        const ns = p.find(T.namespace, "platform-server-namespace");
                        assert.equal(ns.opts.retainOnDelete, true, "namespace retainOnDelete");

                        const init = p.find(T.init, "platform-bootstrap-init");
                        const shareSecrets = p.ofType(T.secret).filter((r) => /-(unseal|recovery)-keys$/.test(r.name));
                        if (unseal === "shamir") {
                            // The unseal keys: in a Secret of that namespace, written once, retained.
                            assert.deepEqual(
                                shareSecrets.map((r) => r.name),
                                ["platform-bootstrap-unseal-keys"],
                            );
                            const shares = shareSecrets[0];
                            const meta = shares.inputs.metadata as { name: string; namespace: string };
                            assert.deepEqual([meta.namespace, meta.name], ["vault", "vault-unseal-keys"]);
                            assert.equal(shares.inputs.immutable, true);
                            assert.equal(Object.keys(secretInput(shares.inputs.stringData) as object).length, 5);
                            assert.equal(shares.opts.retainOnDelete, true, "shares Secret retainOnDelete");
                            assert.deepEqual(shares.opts.ignoreChanges, ["stringData", "data", "immutable"]);
                            // init's own delete never touches Vault; the engine does not even call it.
                            assert.equal(init.opts.retainOnDelete, true);
                        } else {
                            // The recovery keys are never put in the cluster (they would let a cluster admin
                            // generate a root token): the state is their copy, so destroy refuses to drop it.
                            assert.deepEqual(shareSecrets, []);
                            assert.equal(init.opts.retainOnDelete, false);
                            const state = {
                                ...init.inputs,
                                initialized: true,
                                adopted: false,
                                keys: ["k1", "k2", "k3"],
                            };
                            await assert.rejects(vaultInitProvider.delete?.("id", state) as Promise<void>, {
                                message: recoveryKeysDestroyRefusal(String(init.inputs.address)),
                            });
                        }

                        // PVCs outlive the StatefulSet (and the namespace is retained around them).
                        const values = p.find(T.chart, "platform-server-chart").inputs.values;
                        assert.deepEqual(at(values, "server", "persistentVolumeClaimRetentionPolicy"), {
                            whenDeleted: "Retain",
                            whenScaled: "Retain",
                        });

                        // KV mounts: deleting one deletes its secrets.
                        const mounts = p.ofType(T.mount);
                        assert.ok(mounts.length >= 2);
                        for (const m of mounts) {
                            assert.equal(m.opts.retainOnDelete, true, `${m.name} retainOnDelete`);
                            assert.equal(m.opts.protect, protect, `${m.name} protect`);
                        }

                        // The bucket and KMS keys: retained regardless of storage.protect.
                        const data = [...p.ofType(T.bucket), ...p.ofType(T.key)];
                        if (mode === "s3-compatible, createBucket false") {
                            assert.deepEqual(
                                p.resources.filter(
                                    (r) => r.type.startsWith("aws:") || r.type === "pulumi:providers:aws",
                                ),
                                [],
                            );
                        } else {
                            const expected =
                                mode === "aws"
                                    ? unseal === "awskms"
                                        ? ["bucket", "seal-key", "storage-key"]
                                        : ["bucket", "storage-key"]
                                    : ["bucket"];
                            assert.deepEqual(data.map((r) => r.name.replace("platform-storage-", "")).sort(), expected);
                        }
                        for (const r of data) {
                            assert.equal(r.opts.retainOnDelete, true, `${r.name} retainOnDelete`);
                            assert.equal(r.opts.protect, protect, `${r.name} protect`);
                        }
                    });
                }
            }
        }
    }
});
