/**
 * The plan of another git revision: its tree is exported with `git archive`
 * into a temporary directory (no worktree, no index, nothing in .git
 * changes), given this checkout's node_modules through a symlink, and asked
 * for its own JSON plan by its own planner, so the old plan is what the old
 * program and the old mocks produce.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PROJECT_ROOT } from "../stack-file";
import { parsePlan, Plan, PlanError, PLAN_FORMAT, summarize } from "./model";

export type PlanAtRef =
    | { readonly kind: "plan"; readonly plan: Plan; readonly label: string; readonly notes: string[] }
    | { readonly kind: "predates"; readonly label: string };

function git(root: string, args: string[]): string {
    const r = spawnSync("git", ["-C", root, ...args], { encoding: "utf8" });
    if (r.status !== 0) throw new PlanError(`git ${args.join(" ")} failed: ${r.stderr.trim()}`);
    return r.stdout.trim();
}

/** The commit a ref names, or a clear error. */
export function resolveRef(ref: string, root: string = PROJECT_ROOT): string {
    const r = spawnSync("git", ["-C", root, "rev-parse", "--verify", "--quiet", `${ref}^{commit}`], {
        encoding: "utf8",
    });
    if (r.status !== 0 || r.stdout.trim() === "") throw new PlanError(`unknown git revision '${ref}'`);
    return r.stdout.trim();
}

export function emptyPlan(stack: string): Plan {
    return { format: PLAN_FORMAT, stack, summary: summarize([]), resources: [], warnings: [] };
}

/**
 * Runs the planner of revision `ref` for `stack` and returns its plan: on the
 * revision's own stack file, or on the one in `stackDir` (a stack file kept
 * outside the repository, absolute) when given, so both sides read the same.
 */
export async function planAtRef(
    ref: string,
    stack: string,
    root: string = PROJECT_ROOT,
    stackDir?: string,
): Promise<PlanAtRef> {
    const sha = resolveRef(ref, root);
    const label = `${ref} (${git(root, ["rev-parse", "--short", sha])})${stackDir === undefined ? "" : ", same stack file"}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "secret-platform-plan-"));
    try {
        const tar = spawnSync("git", ["-C", root, "archive", "--format=tar", sha], { maxBuffer: 1 << 30 });
        if (tar.status !== 0) throw new PlanError(`git archive ${ref} failed: ${String(tar.stderr).trim()}`);
        const untar = spawnSync("tar", ["-x", "-C", dir], { input: tar.stdout });
        if (untar.status !== 0) throw new PlanError(`unpacking ${ref} failed: ${String(untar.stderr).trim()}`);
        if (!fs.existsSync(path.join(dir, "scripts", "plan.ts"))) return { kind: "predates", label };
        fs.symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"), "dir");

        const tsx = require.resolve("tsx/cli");
        const args = [
            tsx,
            "scripts/plan.ts",
            "--stack",
            stack,
            "--format",
            "json",
            ...(stackDir === undefined ? [] : ["--stack-dir", stackDir]),
        ];
        const { code, stdout, stderr } = await run(process.execPath, args, dir);
        if (code !== 0) {
            if (stderr.startsWith("no stack file")) {
                return {
                    kind: "plan",
                    plan: emptyPlan(stack),
                    label,
                    notes: [`stack ${stack} has no stack file at ${label}: every resource reads as added`],
                };
            }
            throw new PlanError(`the planner at ${label} failed (exit ${code}):\n${stderr.trim()}`);
        }
        return { kind: "plan", plan: parsePlan(stdout, `plan at ${label}`), label, notes: [] };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        // INIT_CWD unset: the revision's planner resolves its arguments (absolute here) in its own dir.
        const env = { ...process.env };
        delete env.INIT_CWD;
        const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on("data", (b: Buffer) => out.push(b));
        child.stderr.on("data", (b: Buffer) => err.push(b));
        child.on("error", reject);
        child.on("close", (code) =>
            resolve({
                code: code ?? 1,
                stdout: Buffer.concat(out).toString("utf8"),
                stderr: Buffer.concat(err).toString("utf8"),
            }),
        );
    });
}
