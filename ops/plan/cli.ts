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
  --update-golden     write test/golden/plan-<name>.json (a stack file of the project only; review the change before committing it)
  --update-graph      write docs/architecture/resource-graph.md, amiya's mermaid graph (--stack amiya only)
  --stack-dir <dir>   where the stack file is, relative to the directory you ran npm in (default: the project root);
                      nothing is written into the repository for a stack read from elsewhere`;

/** The stack whose graph docs/architecture/resource-graph.md is. */
export const GRAPH_STACK = "amiya";

/**
 * Where relative path arguments start: the directory the user ran `npm run`
 * in (npm's INIT_CWD; npm itself runs the script in the project root), else
 * this process's working directory.
 */
export function invocationDir(env: NodeJS.ProcessEnv = process.env): string {
    const dir = env.INIT_CWD;
    return dir !== undefined && dir !== "" ? dir : process.cwd();
}

/** A path as the user reads it: relative to where they ran the command when it is below it, else absolute. */
function shown(file: string, from: string): string {
    const rel = path.relative(from, file);
    return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
}

/** The generated resource graph page, checked by test/unit/plan.test.ts (against amiya's plan). */
export const GRAPH_PAGE = path.join(PROJECT_ROOT, "docs", "architecture", "resource-graph.md");

/** The golden plan file of a stack, checked by test/unit/plan.test.ts. */
export function goldenPath(stack: string): string {
    return path.join(PROJECT_ROOT, "test", "golden", `plan-${stack}.json`);
}

const ok = (stdout: string): CliResult => ({ code: 0, stdout, stderr: "" });
const fail = (stderr: string, code = 1): CliResult => ({ code, stdout: "", stderr: `${stderr}\n` });

export async function runCli(argv: readonly string[], cwd: string = invocationDir()): Promise<CliResult> {
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

    const stackDirArg = values["stack-dir"] as string | undefined;
    const stackDir = stackDirArg === undefined ? PROJECT_ROOT : path.resolve(cwd, stackDirArg);
    const ownStack = path.resolve(stackDir) === path.resolve(PROJECT_ROOT);
    if (values["update-graph"] === true && (stack !== GRAPH_STACK || !ownStack)) {
        return fail(
            `--update-graph writes docs/architecture/resource-graph.md, the committed graph of the project's ${GRAPH_STACK} stack; for stack ${stack} print its graph with --format mermaid`,
            2,
        );
    }
    if (values["update-golden"] === true && !ownStack) {
        return fail(
            `--update-golden writes test/golden/plan-${stack}.json into the repository: only for the project's own stack files (this one is in ${stackDir})`,
            2,
        );
    }

    let file: StackFile;
    try {
        file = readStackFile(stack, stackDir);
    } catch (e) {
        return fail((e as Error).message);
    }
    // The new side of a diff: this working tree's program, on the stack file named by where it was read.
    const workingTree = ownStack
        ? `working tree (${path.basename(file.path)})`
        : `working tree, stack file ${shown(file.path, cwd)}`;

    try {
        if (diffRef !== undefined) {
            resolveRef(diffRef); // an unknown revision fails before anything runs
            // The old revision's planner runs in a child process while this one records. Both settle
            // before anything is reported: a second in-process recording must never overlap this one.
            const [oldRun, currentRun] = await Promise.allSettled([
                planAtRef(diffRef, stack, PROJECT_ROOT, ownStack ? undefined : stackDir),
                planStackFile(file),
            ]);
            if (oldRun.status === "rejected") throw oldRun.reason;
            if (currentRun.status === "rejected") throw currentRun.reason;
            const [old, current] = [oldRun.value, currentRun.value];
            if (old.kind === "predates") {
                const msg = `no plan diff: ${old.label} predates the offline planner (it has no scripts/plan.ts)`;
                return ok(format === "json" ? stableJson({ stack, from: old.label, predates: true }) : `${msg}\n`);
            }
            const diff = diffPlans(old.plan, current, { from: old.label, to: workingTree, notes: old.notes });
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
