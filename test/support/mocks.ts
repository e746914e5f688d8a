/**
 * The one Pulumi mocks setup for the whole mocha run (loaded by .mocharc.cjs
 * before any spec): the offline plan's own mocks (ops/plan/mocks.ts), so the
 * specs and `npm run plan` see the same engine.
 */
export * from "../../ops/plan/mocks";
