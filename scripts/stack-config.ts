// `npm run stack-config -- --stack <name>`: CI's stack config from the
// environment (ops/stack-config.ts has the details).
import { runStackConfig } from "../ops/stack-config";

const { code, stdout, stderr } = runStackConfig(process.argv.slice(2));
process.stderr.write(stderr);
process.stdout.write(stdout, () => process.exit(code));
