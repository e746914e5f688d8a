/**
 * Throw-away copies of the project for the rig's stacks, so nothing the
 * engine or the program writes lands in the repository: the program finds
 * its policies (policies/*.hcl) and scripts next to its own source
 * (components/lib/policy-names.ts POLICY_DIR, bootstrap.ts UNSEAL_SCRIPT_PATH), writes
 * the trust CA file under the project directory (components/lib/trust.ts),
 * and the Automation API writes Pulumi.<stack>.yaml there. A day-2 change
 * adds a policy file to a copy, never to the repository's policies/.
 *
 * The CLI runs a copy's program as `pulumi up` runs the project's: through
 * the Node language host, in the copy, with its Pulumi.yaml's runtime
 * options. A copy may have an entry of the rig's own (`main`): Pulumi.yaml's
 * `main:` then names a file written into the copy that changes the program
 * the rig's way (a resource transform, chosen by an environment variable of
 * the stack's workspace) and then loads the unchanged index.ts, so the
 * project's own copy runs exactly the repository's program.
 *
 * A copy holds the project's files (not .git, node_modules, e2e or what
 * the rig or the engine wrote); node_modules is a symlink to the
 * repository's, so the programs load the repository's packages.
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { Rig } from "./processes";

/** Top-level names never copied: VCS, dependencies (linked), the e2e itself, local state and caches. */
const SKIP = new Set([".git", "node_modules", "e2e", ".secret-platform", ".pulumi", ".cache", "bin", "coverage"]);

export interface ProjectCopy {
    /** The copy's root: the workDir of its stacks. */
    readonly dir: string;
    /** Writes policies/<name>.hcl in the copy (the day-2 change). */
    addPolicy(name: string, text: string): string;
}

/** A program entry of the rig's own, in place of index.ts. */
export interface ProgramEntry {
    /** Its file name in the copy's root (Pulumi.yaml's `main:`). */
    readonly file: string;
    /** Its source; it loads ./index itself. */
    readonly text: string;
}

export interface CopyOptions {
    /** The copy's folder in the rig's temp dir (default `project`). */
    readonly name?: string;
    /** An entry of the rig's own, named by the copy's Pulumi.yaml `main:` (default: the project's index.ts). */
    readonly main?: ProgramEntry;
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
 * Copies the project (the repository, or another copy) into the rig's temp
 * dir. The first copy, `project`, is also this process's cwd until cleanup,
 * as it was when the platform's program ran inline here; a program now runs
 * in its own process, in its copy.
 */
export function copyProject(rig: Rig, from: string, opts: CopyOptions = {}): ProjectCopy {
    const name = opts.name ?? "project";
    if (fs.existsSync(path.join(rig.dir, name))) throw new Error(`a project copy ${name} exists already`);
    const dir = rig.subdir(name);
    for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
        if (SKIP.has(entry.name) || /^Pulumi\.e2e-.*\.yaml$/.test(entry.name)) continue;
        const src = path.join(from, entry.name);
        if (entry.isDirectory()) copyTree(src, path.join(dir, entry.name));
        else if (entry.isFile()) fs.copyFileSync(src, path.join(dir, entry.name));
    }
    fs.symlinkSync(fs.realpathSync(path.join(from, "node_modules")), path.join(dir, "node_modules"));
    if (opts.main !== undefined) {
        if (path.basename(opts.main.file) !== opts.main.file || fs.existsSync(path.join(dir, opts.main.file))) {
            throw new Error(`the entry ${opts.main.file} must be a new file in the copy's root`);
        }
        fs.writeFileSync(path.join(dir, opts.main.file), opts.main.text);
        // Only `main:` changes; the rest of Pulumi.yaml (runtime options, config schema, comments) is kept.
        const projectFile = path.join(dir, "Pulumi.yaml");
        const doc = YAML.parseDocument(fs.readFileSync(projectFile, "utf8"));
        doc.set("main", opts.main.file);
        fs.writeFileSync(projectFile, doc.toString());
    }
    if (name === "project") {
        const previous = process.cwd();
        process.chdir(dir);
        rig.onCleanup(async () => process.chdir(previous));
    }
    return {
        dir,
        addPolicy: (policy, text) => {
            const file = path.join(dir, "policies", `${policy}.hcl`);
            if (fs.existsSync(file)) throw new Error(`${file} exists`);
            fs.writeFileSync(file, text);
            return file;
        },
    };
}
