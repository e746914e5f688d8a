/**
 * Runs a provider call with console.log captured: the lines a dynamic
 * provider prints are what a user sees in `pulumi preview` and `up`. `keep`
 * gets them too, also when the call fails (a spec that checks nothing secret
 * was ever printed needs every line).
 */
export async function capturing<T>(
    fn: () => Promise<T>,
    keep: (out: string) => void = () => undefined,
): Promise<{ result: T; out: string }> {
    const log = console.log;
    let out = "";
    console.log = (...args: unknown[]) => {
        out += `${args.join(" ")}\n`;
    };
    try {
        return { result: await fn(), out };
    } finally {
        console.log = log;
        keep(out);
    }
}
