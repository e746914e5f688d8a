/**
 * A throw-away copy of the project for the rig's stacks, so nothing the
 * engine or the program writes lands in the repository: the program finds
 * its policies (policies/*.hcl) and scripts next to its own source
 * (components/lib/policy-names.ts POLICY_DIR, bootstrap.ts UNSEAL_SCRIPT_PATH), writes
 * the trust CA file under the project directory (components/lib/trust.ts),
 * and the Automation API writes Pulumi.<stack>.yaml there. A day-2 change
 * adds a policy file to the copy, never to the repository's policies/.
 *
 * The copy holds the project's files (not .git, node_modules, e2e or what
 * the rig or the engine wrote); node_modules is a symlink to the
 * repository's, so the copy's program and this process share one
 * @pulumi/pulumi runtime (module paths resolve to the same real files).
 */
import * as fs from "fs";
import * as path from "path";
import { Rig } from "./processes";

/** Top-level names never copied: VCS, dependencies (linked), the e2e itself, local state and caches. */
const SKIP = new Set([".git", "node_modules", "e2e", ".secret-platform", ".pulumi", ".cache", "bin", "coverage"]);

export interface ProjectCopy {
    /** The copy's root: the workDir of every platform stack, and this process's cwd while they run. */
    readonly dir: string;
    /** Writes policies/<name>.hcl in the copy (the day-2 change). */
    addPolicy(name: string, text: string): string;
}

function copyTree(from: string, to: string): void {
    fs.mkdirSync(to, { recursive: true });
    for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
        const src = path.join(from, entry.name);
        const dst = path.join(to, entry.name);
        if (entry.isDirectory()) copyTree(src, dst);
        else if (entry.isFile()) fs.copyFileSync(src, dst);
        // Symlinks inside the project (none today) are not followed.
    }
}

/**
 * Copies the project into the rig's temp dir and makes it this process's
 * cwd until cleanup (the Node language host runs a program in its project
 * directory; the inline program runs here, so the cwd plays that part).
 */
export function copyProject(rig: Rig, repoRoot: string): ProjectCopy {
    const dir = rig.subdir("project");
    for (const entry of fs.readdirSync(repoRoot, { withFileTypes: true })) {
        if (SKIP.has(entry.name) || /^Pulumi\.e2e-.*\.yaml$/.test(entry.name)) continue;
        const src = path.join(repoRoot, entry.name);
        if (entry.isDirectory()) copyTree(src, path.join(dir, entry.name));
        else if (entry.isFile()) fs.copyFileSync(src, path.join(dir, entry.name));
    }
    fs.symlinkSync(fs.realpathSync(path.join(repoRoot, "node_modules")), path.join(dir, "node_modules"));
    const previous = process.cwd();
    process.chdir(dir);
    rig.onCleanup(async () => process.chdir(previous));
    return {
        dir,
        addPolicy: (name, text) => {
            const file = path.join(dir, "policies", `${name}.hcl`);
            if (fs.existsSync(file)) throw new Error(`${file} exists`);
            fs.writeFileSync(file, text);
            return file;
        },
    };
}
