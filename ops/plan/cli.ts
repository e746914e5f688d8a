/**
 * `npm run plan`: the command line, as a function that returns its output and
 * exit code, so the specs run it in-process.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../../components/config";
import { PROJECT_ROOT, readStackFile, StackFile } from "../stack-file";
import { diffPlans, DIFF_FORMATS, DiffFormat, renderDiff } from "./diff";
import { planAtRef, resolveRef } from "./git";
import { PlanError, stableJson } from "./model";
import { planStackFile } from "./record";
import { Format, FORMATS, renderPlan, resourceGraphPage } from "./render";

export interface CliResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

export const USAGE = `usage: npm run plan -- --stack <name> [--format text|markdown|json|mermaid]
       npm run plan -- --stack <name> --diff <git-ref> [--format text|markdown|json]
       npm run plan -- --stack <name> --update-golden
       npm run plan -- --stack <name> --update-graph

Prints what the stack's program would register, recorded under the test mocks:
no credentials, secrets shown as [secret].
  --stack <name>      the stack (Pulumi.<name>.yaml)
  --format <format>   text (default), markdown, json or mermaid
  --diff <git-ref>    compare with the plan of another revision (added, removed, changed inputs)
  --update-golden     write test/golden/plan-<name>.json (review the change before committing it)
  --update-graph      write docs/architecture/resource-graph.md, the stack's mermaid graph
  --stack-dir <dir>   where the stack files are (default: the project root)`;

/** The generated resource graph page, checked by test/unit/plan.test.ts (against amiya's plan). */
export const GRAPH_PAGE = path.join(PROJECT_ROOT, "docs", "architecture", "resource-graph.md");

/** The golden plan file of a stack, checked by test/unit/plan.test.ts. */
export function goldenPath(stack: string): string {
    return path.join(PROJECT_ROOT, "test", "golden", `plan-${stack}.json`);
}

const ok = (stdout: string): CliResult => ({ code: 0, stdout, stderr: "" });
const fail = (stderr: string, code = 1): CliResult => ({ code, stdout: "", stderr: `${stderr}\n` });

export async function runCli(argv: readonly string[]): Promise<CliResult> {
    let values: Record<string, string | boolean | undefined>;
    try {
        values = parseArgs({
            args: [...argv],
            options: {
                stack: { type: "string" },
                format: { type: "string" },
                diff: { type: "string" },
                "update-golden": { type: "boolean" },
                "update-graph": { type: "boolean" },
                "stack-dir": { type: "string" },
                help: { type: "boolean", short: "h" },
            },
            strict: true,
            allowPositionals: false,
        }).values;
    } catch (e) {
        return fail(`${(e as Error).message}\n${USAGE}`, 2);
    }
    if (values.help === true) return ok(`${USAGE}\n`);
    const stack = values.stack as string | undefined;
    if (stack === undefined || stack === "") return fail(`--stack is required\n${USAGE}`, 2);
    const diffRef = values.diff as string | undefined;
    const format = (values.format as string | undefined) ?? "text";
    const allowed: readonly string[] = diffRef === undefined ? FORMATS : DIFF_FORMATS;
    if (!allowed.includes(format)) {
        const what = diffRef === undefined ? "--format" : "--format with --diff";
        return fail(`${what} must be one of ${allowed.join(", ")} (got '${format}')`, 2);
    }
    if (diffRef !== undefined && values["update-golden"] === true) {
        return fail("--update-golden and --diff do not go together", 2);
    }
    if (diffRef !== undefined && values["update-graph"] === true) {
        return fail("--update-graph and --diff do not go together", 2);
    }

    let file: StackFile;
    try {
        file = readStackFile(stack, (values["stack-dir"] as string | undefined) ?? PROJECT_ROOT);
    } catch (e) {
        return fail((e as Error).message);
    }

    try {
        if (diffRef !== undefined) {
            resolveRef(diffRef); // an unknown revision fails before anything runs
            // The old revision's planner runs in a child process while this one records. Both settle
            // before anything is reported: a second in-process recording must never overlap this one.
            const [oldRun, currentRun] = await Promise.allSettled([planAtRef(diffRef, stack), planStackFile(file)]);
            if (oldRun.status === "rejected") throw oldRun.reason;
            if (currentRun.status === "rejected") throw currentRun.reason;
            const [old, current] = [oldRun.value, currentRun.value];
            if (old.kind === "predates") {
                const msg = `no plan diff: ${old.label} predates the offline planner (it has no scripts/plan.ts)`;
                return ok(format === "json" ? stableJson({ stack, from: old.label, predates: true }) : `${msg}\n`);
            }
            const diff = diffPlans(old.plan, current, { from: old.label, to: "working tree", notes: old.notes });
            return ok(renderDiff(diff, format as DiffFormat));
        }
        const plan = await planStackFile(file);
        if (values["update-graph"] === true) {
            fs.mkdirSync(path.dirname(GRAPH_PAGE), { recursive: true });
            fs.writeFileSync(GRAPH_PAGE, resourceGraphPage(plan));
            return {
                code: 0,
                stdout: "",
                stderr: `wrote ${path.relative(PROJECT_ROOT, GRAPH_PAGE)} (the resource graph of ${stack})\n`,
            };
        }
        if (values["update-golden"] === true) {
            const target = goldenPath(stack);
            fs.mkdirSync(path.dirname(target), { recursive: true });
            fs.writeFileSync(target, stableJson(plan));
            return {
                code: 0,
                stdout: "",
                stderr: `wrote ${path.relative(PROJECT_ROOT, target)} (${plan.summary.resources} resources): review it with git diff before committing\n`,
            };
        }
        return ok(renderPlan(plan, format as Format));
    } catch (e) {
        // The config loader's message, unchanged; anything else is a bug and keeps its stack.
        if (e instanceof ConfigError || e instanceof PlanError) return fail(e.message);
        const err = e as Error;
        return fail(err.stack ?? err.message);
    }
}
