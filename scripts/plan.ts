// `npm run plan -- --stack <name> [--format ...] [--diff <git-ref>]`: the offline
// plan of a stack, without credentials (ops/plan/cli.ts has the details).
import { runCli } from "../ops/plan/cli";

void runCli(process.argv.slice(2)).then(({ code, stdout, stderr }) => {
    process.stderr.write(stderr);
    // Exit only once stdout is flushed: a pipe (| less, > file) would otherwise be cut short.
    process.stdout.write(stdout, () => process.exit(code));
});
