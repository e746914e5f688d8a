/**
 * Durations in the stack config (token TTLs, KV version expiry): the whole
 * domain of strings, not a handful of examples. The expected values here are
 * computed independently of the product (a unit table of our own).
 */
import { strict as assert } from "node:assert";
import * as fc from "fast-check";
import { durationSeconds } from "../../components/config";
import { homelabStack } from "../support/fixtures";
import { configOf, problemsOf, StackConfig } from "../support/program";
import { runs } from "../support/properties";

const ns = "secret-platform";
const SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600 };

interface Duration {
    readonly text: string;
    readonly seconds: number;
}

/** A well-formed duration: digits (leading zeros allowed) and one of s, m, h. */
const duration: fc.Arbitrary<Duration> = fc
    .record({ amount: fc.nat({ max: 10_000_000 }), zeros: fc.nat({ max: 2 }), unit: fc.constantFrom("s", "m", "h") })
    .map(({ amount, zeros, unit }) => ({
        text: `${"0".repeat(zeros)}${amount}${unit}`,
        seconds: amount * SECONDS[unit],
    }));

/** Two durations of exactly the same length written in different units (60m and 1h): equal is not "exceeds". */
const equalPair: fc.Arbitrary<[Duration, Duration]> = fc
    .record({
        hours: fc.nat({ max: 1000 }),
        units: fc.shuffledSubarray(["s", "m", "h"], { minLength: 2, maxLength: 2 }),
    })
    .map(({ hours, units }) => {
        const seconds = hours * 3600;
        const [a, b] = units.map((u) => ({ text: `${seconds / SECONDS[u]}${u}`, seconds }));
        return [a, b];
    });

const wellFormed = /^[0-9]+[smh]$/;

/** Strings that are not durations: near misses of the format, and arbitrary text. */
const malformed: fc.Arbitrary<string> = fc
    .oneof(
        fc
            .tuple(
                fc.nat({ max: 1000 }),
                fc.constantFrom("", "d", "w", "y", "ms", "us", "ns", "S", "M", "H", "sec", "hh"),
            )
            .map(([n, unit]) => `${n}${unit}`),
        fc
            .tuple(
                fc.nat({ max: 1000 }),
                fc.constantFrom("s", "m", "h"),
                fc.constantFrom("-", "+", " ", "\n", ".5", "1.", "x"),
            )
            .chain(([n, unit, junk]) =>
                fc.constantFrom(
                    `${junk}${n}${unit}`,
                    `${n}${junk}${unit}`,
                    `${n}${unit}${junk}`,
                    `${n}${unit}${n}${unit}`,
                ),
            ),
        fc.constantFrom("s", "m", "h", "", "1h30m", "١s", "1e3s", "0x10s", "Infinitys"),
        fc.string({ maxLength: 12 }),
    )
    .filter((s) => !wellFormed.test(s));

/** Where durations are read, as a path into the stack config. */
const DURATION_KEYS = [
    ["oidc", "tokenTtl"],
    ["oidc", "tokenMaxTtl"],
    ["kubernetesAuth", "tokenTtl"],
    ["kubernetesAuth", "tokenMaxTtl"],
    ["kv", "cluster", "deleteVersionAfter"],
] as const;

/** A config value, at a path into the stack config. */
type Setting = readonly [readonly string[], unknown];

/** Sets each value at its path in a copy of the homelab stack, creating objects on the way. */
function stackWith(settings: readonly Setting[]): StackConfig {
    const stack = homelabStack();
    for (const [key, value] of settings) {
        let node: Record<string, unknown> = stack.values;
        for (const part of key.slice(0, -1)) {
            node[part] ??= {};
            node = node[part] as Record<string, unknown>;
        }
        node[key[key.length - 1]] = value;
    }
    return stack;
}

describe("durations (property)", () => {
    it("a number and one of s, m, h is that many seconds", () => {
        fc.assert(
            fc.property(duration, (d) => durationSeconds(d.text) === d.seconds),
            runs(200),
        );
    });

    it("every well-formed duration loads, at every duration key, unchanged", () => {
        fc.assert(
            fc.property(fc.constantFrom(...DURATION_KEYS), duration, (key, d) => {
                // Keep TTL <= max TTL whatever d is: the ordering rule has its own property.
                const settings: Setting[] = [[key, d.text]];
                if (key[0] !== "kv")
                    settings.push([[key[0], key[1] === "tokenTtl" ? "tokenMaxTtl" : "tokenTtl"], d.text]);
                const config = configOf(stackWith(settings));
                let node: unknown = config;
                for (const part of key) node = (node as Record<string, unknown>)[part];
                assert.equal(node, d.text);
            }),
            runs(100),
        );
    });

    /** How an error echoes a rejected value: its JSON on one line, cut to 60 characters. */
    const echoed = (text: string) => {
        const json = JSON.stringify(text).replace(/\\n/g, " ");
        return json.length > 60 ? `${json.slice(0, 57)}...` : json;
    };

    it("anything else is refused at every duration key, with the one duration message", () => {
        fc.assert(
            fc.property(fc.constantFrom(...DURATION_KEYS), malformed, (key, text) => {
                assert.deepStrictEqual(problemsOf(stackWith([[key, text]])), [
                    `${ns}:${key.join(".")}: must be a duration such as 30s, 10m or 1h (got ${echoed(text)})`,
                ]);
            }),
            runs(200),
        );
    });

    for (const auth of ["oidc", "kubernetesAuth"] as const) {
        it(`${auth}: the token TTL may not exceed the max TTL, compared in seconds across units`, () => {
            fc.assert(
                fc.property(fc.oneof(fc.tuple(duration, duration), equalPair), ([ttl, max]) => {
                    const problems = problemsOf(
                        stackWith([
                            [[auth, "tokenTtl"], ttl.text],
                            [[auth, "tokenMaxTtl"], max.text],
                        ]),
                    );
                    const expected =
                        ttl.seconds > max.seconds
                            ? [`${ns}:${auth}.tokenTtl: must not exceed ${auth}.tokenMaxTtl`]
                            : [];
                    assert.deepStrictEqual(problems, expected, `${ttl.text} vs ${max.text}`);
                }),
                runs(150),
            );
        });
    }
});
