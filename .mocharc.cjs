// One mocha run for the whole suite, its spec files spread over two worker
// processes (most of a spec's time is waiting on a real server or tool; a third
// worker cost more CPU, loading the SDKs again, than it saved): in each worker tsx compiles TypeScript on
// the fly and test/support/mocks.ts installs Pulumi's mocks before any spec loads.
// Spec files share nothing but the tool cache: each starts its own servers on
// free ports, in its own temporary directories.
// `npx mocha test/unit/x.test.ts` runs just that file (the default spec list
// applies only when no spec file is named on the command line).
const named = process.argv.slice(2).some((arg) => arg.endsWith(".ts"));

module.exports = {
    require: ["tsx/cjs", "test/support/mocks.ts"],
    spec: named ? [] : ["test/**/*.test.ts"],
    extension: ["ts"],
    timeout: 20000,
    parallel: true,
    jobs: 2,
    reporter: "test/support/reporter.cjs",
};
