/**
 * Unseal key shares and threshold, over their whole domain. Vault's rule for
 * the pair its seal uses (secret shares for Shamir, recovery shares for
 * awskms): 1 <= threshold <= shares <= 255, and a threshold of at least 2 as
 * soon as there is more than one share. The pair the seal does not use is
 * not checked. The expected problems are written here from that rule, not
 * read from the product.
 */
import { strict as assert } from "node:assert";
import * as fc from "fast-check";
import { initRequest } from "../../components/lib/vault-init";
import { awsStack, homelabStack } from "../support/fixtures";
import { configOf, problemsOf, StackConfig } from "../support/program";
import { runs } from "../support/properties";

const ns = "secret-platform";

type Mode = "shamir" | "awskms";

/** The stack each seal mode starts from (its default mode): homelab is Shamir, aws is awskms. */
const STACKS: Readonly<Record<Mode, () => StackConfig & { values: Record<string, unknown> }>> = {
    shamir: homelabStack,
    awskms: awsStack,
};

/** The keys of the pair each mode uses, and of the pair it ignores. */
const PAIRS: Readonly<Record<Mode, { used: [string, string]; unused: [string, string] }>> = {
    shamir: { used: ["secretShares", "secretThreshold"], unused: ["recoveryShares", "recoveryThreshold"] },
    awskms: { used: ["recoveryShares", "recoveryThreshold"], unused: ["secretShares", "secretThreshold"] },
};

const mode = fc.constantFrom<Mode>("shamir", "awskms");
const inRange = fc.integer({ min: 1, max: 255 });

/** Pairs spread over the domain, and pairs near its edges (equal, one apart, a single share). */
const pair: fc.Arbitrary<{ shares: number; threshold: number }> = fc.oneof(
    fc.record({ shares: inRange, threshold: inRange }),
    fc
        .tuple(inRange, fc.integer({ min: -2, max: 2 }))
        .map(([shares, d]) => ({ shares, threshold: Math.min(255, Math.max(1, shares + d)) })),
    fc.record({ shares: fc.constant(1), threshold: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ shares: fc.integer({ min: 1, max: 3 }), threshold: fc.constant(1) }),
);

/** Vault's rule, as problem lines for the used pair. */
function expectedProblems(keys: [string, string], shares: number, threshold: number): string[] {
    const [s, t] = keys;
    if (threshold > shares) return [`${ns}:unseal.${t}: must not exceed unseal.${s} (${shares})`];
    if (shares > 1 && threshold < 2)
        return [`${ns}:unseal.${t}: must be at least 2 when unseal.${s} is above 1 (Vault's rule)`];
    return [];
}

function stackWith(m: Mode, unseal: Record<string, number>): StackConfig {
    const stack = STACKS[m]();
    stack.values.unseal = unseal;
    return stack;
}

describe("unseal shares and threshold (property)", () => {
    it("the seal's pair is accepted exactly when Vault's rule holds, with the one problem line otherwise", () => {
        fc.assert(
            fc.property(mode, pair, (m, { shares, threshold }) => {
                const [s, t] = PAIRS[m].used;
                assert.deepStrictEqual(
                    problemsOf(stackWith(m, { [s]: shares, [t]: threshold })),
                    expectedProblems(PAIRS[m].used, shares, threshold),
                );
            }),
            runs(200),
        );
    });

    it("the pair the seal does not use is not checked, and a valid used pair loads as given", () => {
        fc.assert(
            fc.property(mode, pair, pair, (m, used, unused) => {
                fc.pre(expectedProblems(PAIRS[m].used, used.shares, used.threshold).length === 0);
                const [s, t] = PAIRS[m].used;
                const [us, ut] = PAIRS[m].unused;
                const config = configOf(
                    stackWith(m, {
                        [s]: used.shares,
                        [t]: used.threshold,
                        [us]: unused.shares,
                        [ut]: unused.threshold,
                    }),
                );
                assert.equal(config.unseal.mode, m);
                const loaded = config.unseal as unknown as Record<string, unknown>;
                assert.deepStrictEqual(
                    [loaded[s], loaded[t], loaded[us], loaded[ut]],
                    [used.shares, used.threshold, unused.shares, unused.threshold],
                );
            }),
            runs(150),
        );
    });

    it("a count outside 1..255 is refused at its own key, with the bound it breaks", () => {
        const outOfRange = fc.oneof(fc.integer({ min: -1000, max: 0 }), fc.integer({ min: 256, max: 100_000 }));
        const keys = ["secretShares", "secretThreshold", "recoveryShares", "recoveryThreshold"] as const;
        fc.assert(
            fc.property(mode, fc.constantFrom(...keys), outOfRange, (m, key, value) => {
                const bound = value < 1 ? "must be at least 1" : "must be at most 255";
                assert.deepStrictEqual(problemsOf(stackWith(m, { [key]: value })), [
                    `${ns}:unseal.${key}: ${bound} (got ${value})`,
                ]);
            }),
            runs(100),
        );
    });

    it("init asks Vault for the seal's pair under that seal's field names", () => {
        fc.assert(
            fc.property(mode, pair, (m, { shares, threshold }) => {
                const expected =
                    m === "shamir"
                        ? { secret_shares: shares, secret_threshold: threshold }
                        : { recovery_shares: shares, recovery_threshold: threshold };
                assert.deepStrictEqual(initRequest(m, shares, threshold), expected);
            }),
            runs(100),
        );
    });
});
