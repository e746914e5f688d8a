/**
 * The e2e's account of a rotation on the audit volume (e2e/audit-rotation.ts):
 * where each request's entries landed, and the failures it must name. The
 * rotation itself runs for real in `npm run e2e` and, against the real Vault
 * binary, in test/integration/audit-rotation.test.ts.
 */
import { strict as assert } from "node:assert";
import { auditEntries, splitAcrossRotation } from "../../e2e/audit-rotation";

const entries = (...ids: [string, "request" | "response"][]) => ids.map(([id, type]) => ({ id, type }));
const both = (...ids: string[]) =>
    entries(
        ...ids.flatMap(
            (id) =>
                [
                    [id, "request"],
                    [id, "response"],
                ] as [string, "request" | "response"][],
        ),
    );

describe("e2e audit rotation: where each request's entries landed", () => {
    it("auditEntries reads the id and type of Vault's JSON lines, skipping entries without a request id", () => {
        const text = [
            JSON.stringify({ type: "request", request: { id: "a", path: "auth/token/lookup-self" } }),
            JSON.stringify({ type: "response", request: { id: "a" }, response: {} }),
            JSON.stringify({ time: "2026-12-07T06:00:00Z" }),
            "",
        ].join("\n");
        assert.deepEqual(auditEntries(text), entries(["a", "request"], ["a", "response"]));
    });

    it("a clean rotation: early ids and a prefix of the ordered ones in .1, the rest in the live file", () => {
        const got = splitAcrossRotation(
            ["e1", "e2"],
            ["o1", "o2", "o3", "o4"],
            [...both("e2", "e1", "o1", "o2"), ...entries(["other", "request"])],
            both("o3", "o4"),
        );
        assert.deepEqual(got, { lastInRotated: "o2", firstInLive: "o3", inRotated: 2, inLive: 2, across: [] });
    });

    it("one request across the SIGHUP (request in .1, response in the live file) is allowed and named", () => {
        const got = splitAcrossRotation(
            [],
            ["o1", "o2", "o3"],
            [...both("o1"), ...entries(["o2", "request"])],
            [...entries(["o2", "response"]), ...both("o3")],
        );
        assert.deepEqual(got, { lastInRotated: "o1", firstInLive: "o3", inRotated: 1, inLive: 1, across: ["o2"] });
    });

    it("refuses a lost entry, a doubled one, an early id in the live file, and the files out of order", () => {
        assert.throws(
            () =>
                splitAcrossRotation([], ["o1", "o2", "o3"], [...both("o1"), ...entries(["o2", "request"])], both("o3")),
            /check failed: each request has exactly one request and one response entry in the rotated and the live file \(1 do not\); seen: \[\{"id":"o2"/,
        );
        assert.throws(
            () => splitAcrossRotation([], ["o1", "o2"], [...both("o1"), ...entries(["o1", "response"])], both("o2")),
            /\(1 do not\)/,
        );
        assert.throws(
            () => splitAcrossRotation(["e1"], ["o1", "o2"], both("o1"), both("e1", "o2")),
            /check failed: the requests made below the size are all in the rotated file; seen: \["e1"\]/,
        );
        assert.throws(
            () => splitAcrossRotation([], ["o1", "o2", "o3"], both("o1", "o3"), both("o2")),
            /check failed: the rotated file holds a prefix of the ordered requests and the live file the rest; seen: \{"at":"o3","sides":"020"\}/,
        );
        assert.throws(
            () => splitAcrossRotation([], ["o1", "o2"], both("o1", "o2"), []),
            /check failed: ordered requests on both sides of the rotation; seen: \{"inRotated":2,"inLive":0\}/,
        );
    });
});
