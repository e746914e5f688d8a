/**
 * The raft drills' stack (e2e/drills/raft-scenario.ts raftStackConfig)
 * without the rig: the rig's stack made a raft stack through the product's
 * own keys and loader, as a single-node homelab user would (no rig-only
 * transform): raft storage, 1 then 3 replicas, the preferred spread, the raft
 * volume on the rig's StorageClass, snapshots on with the image built here,
 * and the snapshot job's egress to the rig's S3 from the same key as Vault's.
 */
import { strict as assert } from "node:assert";
import { buildNetworkPolicies } from "../../components/lib/network-policy";
import { readGap, rollFacts, Sample } from "../../e2e/drills/raft-rolling";
import { RAFT_DATA_SIZE, raftStackConfig } from "../../e2e/drills/raft-scenario";
import { podStackConfig } from "../../e2e/scenario";
import { AMIYA_STACK_FILE, fakePodRig, loadRigStack } from "../support/rig-stack";

const UPLOAD = "localhost/secret-platform/aws-cli:2.9.19-1";

const rig = fakePodRig();

describe("e2e raft drills' stack", () => {
    const base = podStackConfig(AMIYA_STACK_FILE, rig, "https://127.0.0.1:8200");

    for (const replicas of [1, 3]) {
        it(`is a raft stack of ${replicas} through the product's keys`, () => {
            const c = loadRigStack(raftStackConfig(base, UPLOAD, replicas));
            assert.equal(c.server.storageBackend, "raft");
            assert.equal(c.server.replicas, replicas);
            assert.equal(c.server.antiAffinity, "preferred");
            assert.deepEqual(c.server.dataStorage, { size: RAFT_DATA_SIZE, storageClass: "e2e-local" });
            assert.equal(c.server.auditStorage.storageClass, "e2e-local");
            assert.equal(c.server.snapshots?.enabled, true);
            assert.equal(c.server.snapshots?.image, UPLOAD);
            assert.equal(c.server.snapshots?.prefix, "snapshots/");
        });
    }

    it("keeps the rest of the rig's stack, and the snapshot job may reach the rig's S3", () => {
        const values = raftStackConfig(base, UPLOAD, 3);
        for (const key of Object.keys(base).filter((k) => k !== "secret-platform:server")) {
            assert.deepEqual(values[key], base[key], key);
        }
        const c = loadRigStack(values);
        const policy = buildNetworkPolicies(c).find((p) => p.id === "snapshot");
        assert.ok(policy !== undefined, "a snapshot NetworkPolicy");
        const s3Rule = (policy.spec.egress ?? []).find((r) =>
            (r.to ?? []).some((t) => t.ipBlock?.cidr === "10.222.0.1/32"),
        );
        assert.deepEqual(s3Rule?.ports, [{ protocol: "TCP", port: 39001 }]);
    });

    it("is refused by the product with an even replica count (the loader, not the rig, decides)", () => {
        assert.throws(
            () => loadRigStack(raftStackConfig(base, UPLOAD, 2)),
            /secret-platform:server\.replicas: must be 1, 3 or 5 with raft storage \(an odd quorum\)/,
        );
    });
});

describe("e2e raft drills' roll facts (drill 2)", () => {
    const names = ["vault-0", "vault-1", "vault-2"];
    const before = { "vault-0": "a0", "vault-1": "a1", "vault-2": "a2" };
    const pod = (name: string, uid: string, ready = true, terminating = false) => ({
        name,
        uid,
        ip: "10.0.0.1",
        ready,
        terminating,
    });
    const up = { initialized: true, sealed: false };
    const sealed = { initialized: true, sealed: true };
    // vault-2 goes and comes back sealed, then vault-1; vault-0 last.
    const samples: Sample[] = [
        { at: 0, pods: [pod("vault-0", "a0"), pod("vault-1", "a1"), pod("vault-2", "a2")], seals: {} },
        { at: 1, pods: [pod("vault-0", "a0"), pod("vault-1", "a1"), pod("vault-2", "a2", true, true)], seals: {} },
        {
            at: 2,
            pods: [pod("vault-0", "a0"), pod("vault-1", "a1"), pod("vault-2", "b2", false)],
            seals: { "vault-0": up, "vault-1": up, "vault-2": sealed },
        },
        { at: 3, pods: [pod("vault-0", "a0"), pod("vault-1", "b1", false), pod("vault-2", "b2")], seals: {} },
        { at: 4, pods: [pod("vault-0", "b0", false), pod("vault-1", "b1"), pod("vault-2", "b2")], seals: {} },
    ];

    it("finds one pod down at most, no sealed pod Ready, and the order of replacement", () => {
        assert.deepEqual(rollFacts(samples, before, names), {
            mostDown: { at: 1, down: ["vault-2"] },
            sealedReady: [],
            order: ["vault-2", "vault-1", "vault-0"],
            sealedSamples: 1,
        });
    });

    it("names two pods down at once, a sealed pod counted Ready, and a pod never replaced", () => {
        const bad: Sample[] = [
            {
                at: 7,
                pods: [pod("vault-0", "a0"), pod("vault-1", "b1", false), pod("vault-2", "b2")],
                seals: { "vault-2": sealed },
            },
        ];
        assert.deepEqual(rollFacts(bad, before, names), {
            mostDown: { at: 7, down: ["vault-1"] },
            sealedReady: [{ at: 7, pod: "vault-2" }],
            order: ["vault-1", "vault-2"],
            sealedSamples: 1,
        });
        const twoDown: Sample[] = [{ at: 9, pods: [pod("vault-0", "a0", false)], seals: {} }];
        assert.deepEqual(rollFacts(twoDown, before, names).mostDown, {
            at: 9,
            down: ["vault-0", "vault-1", "vault-2"],
        });
    });

    it("measures the longest run of failed reads to the next success, or to the last read", () => {
        const ok = (at: number) => ({ at, ok: true });
        const ko = (at: number) => ({ at, ok: false });
        assert.deepEqual(readGap([ok(0), ko(250), ko(500), ok(1250), ko(1500), ok(1750)]), {
            failures: 3,
            longestMs: 1000,
        });
        assert.deepEqual(readGap([ok(0), ko(250), ko(3000)]), { failures: 2, longestMs: 2750 });
        assert.deepEqual(readGap([ok(0), ok(250)]), { failures: 0, longestMs: 0 });
    });
});
