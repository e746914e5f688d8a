// mocha's spec reporter, plus one plain closing line ("mocha: N passed,
// N failed, N skipped") that CI and scripts can read without parsing prose.
const Mocha = require("mocha");

class SpecWithTotals extends Mocha.reporters.Spec {
    constructor(runner, options) {
        super(runner, options);
        runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
            const { passes, failures, pending } = this.stats;
            process.stdout.write(`mocha: ${passes} passed, ${failures} failed, ${pending} skipped\n`);
        });
    }
}

module.exports = SpecWithTotals;
