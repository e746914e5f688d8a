/**
 * Shared settings of the property specs (fast-check). Runs are bounded so the
 * suite stays fast; a failure prints its seed and path, and FC_SEED=<seed>
 * (with FC_PATH=<path> to jump straight to the shrunk case) replays it.
 */
import * as fc from "fast-check";

/** Parameters for fc.assert: `numRuns` generated cases, replayable from the environment. */
export function runs<T>(numRuns: number): fc.Parameters<T> {
    const seed = process.env.FC_SEED;
    const path = process.env.FC_PATH;
    return {
        numRuns,
        ...(seed === undefined ? {} : { seed: Number(seed) }),
        ...(path === undefined ? {} : { path }),
    };
}
