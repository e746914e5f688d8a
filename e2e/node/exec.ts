/** Running a short command and getting its output; a failure names the command and shows its stderr. */
import { execFile } from "child_process";

export interface RunResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs `bin args` to completion and resolves with its exit code and output (never rejects on a non-zero exit). */
export function runCommand(
    bin: string,
    args: readonly string[],
    opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const child = execFile(
            bin,
            args,
            {
                timeout: opts.timeoutMs ?? 60_000,
                maxBuffer: 64 * 1024 * 1024,
                env: opts.env ?? { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
            },
            (err, stdout, stderr) => {
                if (err !== null && typeof err.code !== "number") {
                    reject(new Error(`${bin} ${args.join(" ")}: ${err.message}`));
                    return;
                }
                resolve({ code: err === null ? 0 : Number(err.code), stdout, stderr });
            },
        );
        if (opts.input !== undefined) child.stdin?.end(opts.input);
    });
}

/** Runs `bin args` and returns its stdout; throws with stderr when it exits non-zero. */
export async function run(
    bin: string,
    args: readonly string[],
    opts: { timeoutMs?: number; input?: string } = {},
): Promise<string> {
    const res = await runCommand(bin, args, opts);
    if (res.code !== 0) {
        throw new Error(
            `${bin} ${args.join(" ")} exited ${res.code}: ${(res.stderr || res.stdout).trim().slice(-800)}`,
        );
    }
    return res.stdout;
}
