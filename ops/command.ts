/**
 * What the thin command-line entry points in scripts/ share: how a failure is
 * reported and how the process exits.
 */

/** Prints `<command>: <message>` and what the failure left as it was; returns the exit code 1. */
export function failed(command: string, err: unknown, outcome: string): number {
    console.error(`${command}: ${(err as Error).message}`);
    console.error(outcome);
    return 1;
}

/** Runs a command's main and exits with the code it returns, or 1 with its message when it throws. */
export function runCommand(command: string, main: () => Promise<number>): void {
    main().then(
        (code) => {
            process.exitCode = code;
        },
        (err) => {
            console.error(`${command}: ${(err as Error).message}`);
            process.exitCode = 1;
        },
    );
}
