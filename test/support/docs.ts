/**
 * The project's Markdown pages: README.md, CONTRIBUTING.md and every page
 * under docs/, as paths relative to the repository root (sorted, `/`-separated).
 * The doc specs read them: the README's index, the links between pages, and
 * the examples a page shows.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export const REPO_ROOT = path.join(__dirname, "..", "..");

/** Every Markdown page of the project, relative to the repository root. */
export function markdownPages(root: string = REPO_ROOT): string[] {
    const pages = ["README.md", "CONTRIBUTING.md"].filter((f) => fs.existsSync(path.join(root, f)));
    const walk = (dir: string): string[] =>
        fs
            .readdirSync(path.join(root, dir), { withFileTypes: true })
            .flatMap((e) =>
                e.isDirectory() ? walk(`${dir}/${e.name}`) : e.name.endsWith(".md") ? [`${dir}/${e.name}`] : [],
            );
    return [...pages, ...walk("docs").sort()];
}

/** A page's text. */
export function readPage(page: string, root: string = REPO_ROOT): string {
    return fs.readFileSync(path.join(root, page), "utf8");
}
