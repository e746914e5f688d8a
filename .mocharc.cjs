// One mocha run for the whole suite: tsx compiles TypeScript on the fly and
// test/support/mocks.ts installs Pulumi's mocks once, before any spec loads.
// `npx mocha test/unit/x.test.ts` runs just that file (the default spec list
// applies only when no spec file is named on the command line).
const named = process.argv.slice(2).some((arg) => arg.endsWith(".ts"));

module.exports = {
    require: ["tsx/cjs", "test/support/mocks.ts"],
    spec: named ? [] : ["test/**/*.test.ts"],
    extension: ["ts"],
    timeout: 20000,
    reporter: "test/support/reporter.cjs",
};
