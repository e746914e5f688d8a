// One mocha run for the whole suite: tsx compiles TypeScript on the fly and
// test/support/mocks.ts installs Pulumi's mocks once, before any spec loads.
module.exports = {
    require: ["tsx/cjs", "test/support/mocks.ts"],
    spec: ["test/**/*.test.ts"],
    extension: ["ts"],
    timeout: 20000,
    reporter: "spec",
};
