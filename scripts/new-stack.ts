// `npm run new-stack -- <stack> --domain ... `: a stack file for a new cluster
// (ops/new-stack.ts has the details).
import { runNewStack } from "../ops/new-stack";

const { code, stdout, stderr } = runNewStack(process.argv.slice(2));
process.stderr.write(stderr);
process.stdout.write(stdout, () => process.exit(code));
