import { strict as assert } from "node:assert";
import { buildPlatform } from "../../components/platform";
import { CREDENTIALS_CHECKSUM_ANNOTATION } from "../../components/server";
import { homelabStack, KMS_EGRESS } from "../support/fixtures";
import { at, objectAt, only, stringAt } from "../support/inputs";
import { runProgram, StackConfig } from "../support/program";

async function chartValues(stack: StackConfig) {
    const p = await runProgram(stack, buildPlatform);
    const charts = p.ofType("kubernetes:helm.sh/v4:Chart").filter((r) => r.name.endsWith("server-chart"));
    return { values: objectAt(only(charts, "server charts").inputs, "values"), resources: p.resources };
}

describe("credential rotation rolls the Vault pods", () => {
    it("the pod-template checksum changes with a storage key, is stable otherwise, and holds no plaintext", async () => {
        const a = await chartValues(homelabStack());
        const again = await chartValues(homelabStack());
        const rotated = homelabStack();
        rotated.secrets.storageSecretAccessKey = "rotated-storage-secret-key";
        const b = await chartValues(rotated);
        const sum = (v: unknown) => stringAt(v, "server", "annotations", CREDENTIALS_CHECKSUM_ANNOTATION);
        assert.match(sum(a.values), /^[0-9a-f]{64}$/);
        assert.equal(sum(again.values), sum(a.values));
        assert.notEqual(sum(b.values), sum(a.values));
        for (const secret of ["test-storage-secret-key", "GKtestaccesskey", "rotated-storage-secret-key"]) {
            for (const r of [...a.resources, ...b.resources].filter(
                (x) => x.type.startsWith("kubernetes:") && x.type !== "kubernetes:core/v1:Secret",
            )) {
                assert.ok(!JSON.stringify(r.inputs).includes(secret), `${secret} in ${r.type} ${r.name}`);
            }
        }
    });

    it("standalone rolls on a template change (RollingUpdate)", async () => {
        const { values } = await chartValues(homelabStack());
        assert.equal(at(values, "server", "updateStrategyType"), "RollingUpdate");
    });

    it("raft HA: a rotated seal key changes the checksum and the pods roll one by one (RollingUpdate)", async () => {
        const raftKms = (sealSecret: string) => {
            const s = homelabStack();
            s.values.server = { storageBackend: "raft", replicas: 3 };
            s.values.unseal = { mode: "awskms", kmsKeyId: "arn:aws:kms:eu-west-1:111122223333:key/seal-test" };
            s.values.networkPolicy.egress.kms = KMS_EGRESS;
            Object.assign(s.secrets, { sealAccessKeyId: "AKIASEALTEST", sealSecretAccessKey: sealSecret });
            return s;
        };
        const a = (await chartValues(raftKms("seal-secret-test"))).values;
        const b = (await chartValues(raftKms("seal-secret-rotated"))).values;
        assert.equal(at(a, "server", "updateStrategyType"), "RollingUpdate");
        // A sealed HA pod is not Ready, so the StatefulSet waits for the unseal before the next pod.
        assert.match(stringAt(a, "server", "readinessProbe", "path"), /sealedcode=503/);
        const sum = (v: unknown) => stringAt(v, "server", "annotations", CREDENTIALS_CHECKSUM_ANNOTATION);
        assert.match(sum(a), /^[0-9a-f]{64}$/);
        assert.notEqual(sum(b), sum(a));
    });
});
