/**
 * `npm run doctor -- --stack <name> [--address <url>]`: one line per finding
 * about the stack's Vault, exit 1 on any fault (ops/doctor.ts;
 * docs/monitoring.md#the-doctor).
 */
import { runCommand } from "../ops/command";
import { doctorMain } from "../ops/doctor";

runCommand("doctor", () => doctorMain(process.argv.slice(2), process.env, (line) => console.log(line)));
