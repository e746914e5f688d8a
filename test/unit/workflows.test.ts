/**
 * The GitHub Actions workflows: actionlint (the real linter, a Go tool from
 * scripts/install-tools.sh) passes on them, the stack matrix comes from the
 * Pulumi.<stack>.yaml files (the listing script is run for real), and the
 * preview/deploy/drift jobs run the commands the issue asks for with a
 * configurable backend and no Pulumi Cloud token.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { listStacks } from "../../ops/stack-file";
import { requireTool } from "../support/tools";

const ROOT = path.join(__dirname, "..", "..");
const DIR = path.join(ROOT, ".github", "workflows");
const NAMES = ["preview", "deploy", "drift"] as const;
/** Every workflow file, each linted by actionlint. */
const ALL = [...NAMES, "e2e"] as const;

/**
 * The pinned actions: each SHA is the commit the release tag names in the action's own
 * repository (`git ls-remote https://github.com/<action> refs/tags/<tag>`), where the
 * major tag used before (v4, v5, v6, v7) pointed at the same commit.
 */
const PINS: Readonly<Record<string, string>> = {
    "actions/checkout": "11d5960a326750d5838078e36cf38b85af677262 # v4.4.0",
    "actions/setup-node": "49933ea5288caeca8642d1e84afbd3f7d6820020 # v4.4.0",
    "actions/setup-go": "40f1582b2485089dde7abd97c1529aa768e1baff # v5.6.0",
    "actions/cache": "0057852bfaa89a56745cba8c7296529d2fc39830 # v4.3.0",
    "actions/github-script": "f28e40c7f34bde8b3046d885e986cb6290c5673b # v7.1.0",
    "pulumi/actions": "8582a9e8cc630786854029b4e09281acd6794b58 # v6.6.1",
};

/** How a step runs a command as root (the e2e's single-node Kubernetes needs it) with the runner's PATH and tool cache. */
const AS_ROOT = 'sudo env "PATH=$PATH" "HOME=$HOME" ';
/** Every script whose change must rebuild the cached tools. */
const TOOL_SCRIPTS = ["install-tools.sh", "build-vault.sh", "build-e2e-tools.sh", "build-node-tools.sh"];

interface Step {
    id?: string;
    name?: string;
    uses?: string;
    run?: string;
    with?: Record<string, string>;
    env?: Record<string, string>;
    if?: string;
}
interface Job {
    needs?: string | string[];
    if?: string;
    environment?: { name: string } | string;
    permissions?: Record<string, string>;
    strategy?: { "max-parallel"?: number; "fail-fast"?: boolean; matrix?: Record<string, unknown> };
    env?: Record<string, string>;
    outputs?: Record<string, string>;
    steps: Step[];
}
interface Workflow {
    name: string;
    on: Record<string, unknown>;
    permissions?: Record<string, string>;
    concurrency?: { group: string; "cancel-in-progress": boolean };
    env?: Record<string, string>;
    jobs: Record<string, Job>;
}

function text(name: string): string {
    return fs.readFileSync(path.join(DIR, `${name}.yml`), "utf8");
}
function load(name: string): Workflow {
    return parse(text(name)) as Workflow;
}
function step(job: Job, pred: (s: Step) => boolean, what: string): Step {
    const found = job.steps.find(pred);
    assert.ok(found, `no step ${what}`);
    return found;
}
/** The tool cache step: keyed by every tool script, and the caches handed back to the runner's user after the root steps. */
function assertToolCache(job: Job, prefix: string): void {
    const cache = step(job, (s) => (s.uses ?? "").startsWith("actions/cache@"), "the tool cache");
    assert.equal(cache.with?.path, "~/.cache/secret-platform");
    const files = TOOL_SCRIPTS.map((f) => `'scripts/${f}'`).join(", ");
    assert.equal(cache.with?.key, `${prefix}-\${{ runner.os }}-\${{ hashFiles(${files}) }}`);
    const last = job.steps[job.steps.length - 1];
    assert.deepEqual(last, {
        if: "always()",
        run: 'sudo chown -R "$(id -u):$(id -g)" "$HOME/.cache/secret-platform" "$HOME/.npm"',
    });
}
/** The Pulumi job of a workflow (the one with the stack matrix). */
function stackJob(wf: Workflow): [string, Job] {
    const jobs = Object.entries(wf.jobs).filter(([, j]) => j.strategy?.matrix !== undefined);
    assert.equal(jobs.length, 1, "exactly one matrix job");
    return jobs[0];
}

/** Runs a workflow `run:` script with bash, as the runner would (bash -e). */
function runScript(script: string, cwd: string, env: Record<string, string>) {
    return spawnSync("bash", ["-e", "-c", script], { cwd, env: { ...process.env, ...env }, encoding: "utf8" });
}

describe("workflows", () => {
    let tmp: string;
    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "wf-"));
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("pass actionlint, which does reject a broken workflow", function () {
        const actionlint = requireTool(this, "actionlint");
        const files = ALL.map((n) => path.join(DIR, `${n}.yml`));
        const res = spawnSync(actionlint, ["-no-color", ...files], { cwd: ROOT, encoding: "utf8" });
        assert.equal(res.status, 0, `actionlint:\n${res.stdout}${res.stderr}`);

        // The same linter fails an unknown matrix reference: it really checks.
        const broken = path.join(tmp, "broken.yml");
        fs.writeFileSync(broken, text("deploy").replace("${{ matrix.stack }}", "${{ matrix.stacks }}"));
        const bad = spawnSync(actionlint, ["-no-color", broken], { encoding: "utf8" });
        assert.equal(bad.status, 1);
        assert.match(bad.stdout, /property "stacks" is not defined/);
    });

    for (const name of NAMES) {
        describe(name, () => {
            it("holds secrets in the env of the steps that use them only, and installs without scripts", () => {
                const wf = load(name);
                const [, job] = stackJob(wf);
                const secretsOf = (env: Record<string, string> | undefined) =>
                    Object.entries(env ?? {})
                        .filter(([, v]) => v.includes("secrets."))
                        .map(([k]) => k)
                        .sort();
                assert.deepEqual(secretsOf(wf.env), [], "no secret in the workflow's env");
                assert.deepEqual(secretsOf(job.env), [], "no secret in the job's env: every step would see it");
                assert.deepEqual(job.env, {
                    STACK: "${{ matrix.stack }}",
                    PULUMI_BACKEND_URL: "${{ vars.PULUMI_BACKEND_URL }}",
                    AWS_REGION: "${{ vars.AWS_REGION }}",
                    PULUMI_SKIP_UPDATE_CHECK: "true",
                });
                const aws = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];
                const command = name === "deploy" ? /^pulumi up /m : /^\s*pulumi preview /m;
                const reading = job.steps
                    .filter((s) => secretsOf(s.env).length > 0)
                    .map((s) => [s.run?.match(/pulumi login|stack-config|pulumi (up|preview)/)?.[0], secretsOf(s.env)]);
                assert.deepEqual(reading, [
                    ["pulumi login", [...aws, "KUBECONFIG_CONTENT"].sort()],
                    ["stack-config", [...aws, "PULUMI_CONFIG_PASSPHRASE", "STACK_SECRETS"].sort()],
                    [name === "deploy" ? "pulumi up" : "pulumi preview", [...aws, "PULUMI_CONFIG_PASSPHRASE"].sort()],
                ]);
                step(job, (s) => command.test(s.run ?? ""), String(command));
                // Preview and drift write nothing to the backend (docs/ci-workflows.md): their AWS identity is the
                // read-only one; deploy's may write the state.
                const secretName = (k: string) =>
                    k === "KUBECONFIG_CONTENT"
                        ? "KUBECONFIG"
                        : aws.includes(k) && name !== "deploy"
                          ? `READ_ONLY_${k}`
                          : k;
                for (const s of job.steps) {
                    for (const [k, v] of Object.entries(s.env ?? {})) {
                        if (v.includes("secrets.")) assert.equal(v, `\${{ secrets.${secretName(k)} }}`);
                    }
                    assert.ok(s.uses === undefined || secretsOf(s.env).length === 0, `${s.uses} gets a secret`);
                }
                // Where credentials are present, no package's install script runs (the CLI fetches plugins).
                const installs = job.steps.filter((s) => /\bnpm (ci|install|i)\b/.test(s.run ?? "")).map((s) => s.run);
                assert.deepEqual(installs, ["npm ci --ignore-scripts --no-audit --no-fund"]);
            });

            it("derives the stack matrix from the Pulumi.<stack>.yaml files", () => {
                const wf = load(name);
                const list = step(wf.jobs.stacks, (s) => s.id === "list", "id=list");
                assert.equal(wf.jobs.stacks.outputs?.stacks, "${{ steps.list.outputs.stacks }}");
                const [, job] = stackJob(wf);
                assert.deepEqual(job.strategy?.matrix, { stack: "${{ fromJSON(needs.stacks.outputs.stacks) }}" });
                assert.ok([job.needs].flat().includes("stacks"));
                assert.match(job.if ?? "", /needs\.stacks\.outputs\.stacks != '\[\]'/);

                // Nothing names a real stack: the matrix is the only source.
                const raw = text(name);
                for (const stack of listStacks(ROOT)) {
                    assert.ok(!new RegExp(`\\b${stack.replace(/\./g, "\\.")}\\b`).test(raw), `${stack} hard-coded`);
                }

                // Run the listing script for real on a directory of stack files.
                for (const f of [
                    "Pulumi.yaml",
                    "Pulumi.amiya.yaml",
                    "Pulumi.b.prod.yaml",
                    "Pulumi.x.yml",
                    "notes.yaml",
                ]) {
                    fs.writeFileSync(path.join(tmp, f), "config: {}\n");
                }
                const out = path.join(tmp, "out");
                let res = runScript(list.run as string, tmp, { GITHUB_OUTPUT: out });
                assert.equal(res.status, 0, res.stderr);
                assert.equal(fs.readFileSync(out, "utf8"), 'stacks=["amiya","b.prod"]\n');

                // No stack file: an empty list (the Pulumi job is then skipped by its `if`).
                const empty = fs.mkdtempSync(path.join(tmp, "empty-"));
                res = runScript(list.run as string, empty, { GITHUB_OUTPUT: out });
                assert.equal(res.status, 0, res.stderr);
                assert.match(fs.readFileSync(out, "utf8"), /stacks=\[\]\n$/);

                // A file name that is no valid stack name fails instead of producing broken JSON.
                fs.writeFileSync(path.join(empty, 'Pulumi.a"b.yaml'), "");
                res = runScript(list.run as string, empty, { GITHUB_OUTPUT: out });
                assert.equal(res.status, 1);
                assert.match(res.stdout, /not a valid stack name: a"b/);
            });

            it("takes the backend and secrets provider from settings, never a Pulumi Cloud token", () => {
                const wf = load(name);
                const raw = text(name);
                assert.ok(!/PULUMI_ACCESS_TOKEN/.test(raw));
                assert.ok(!/app\.pulumi\.com/.test(raw));
                const [, job] = stackJob(wf);
                assert.equal(job.env?.PULUMI_BACKEND_URL, "${{ vars.PULUMI_BACKEND_URL }}");
                assert.equal(job.env?.STACK, "${{ matrix.stack }}");
                const login = step(job, (s) => /pulumi login/.test(s.run ?? ""), "pulumi login");
                assert.match(login.run as string, /pulumi login "\$PULUMI_BACKEND_URL"/);

                // The CLI is installed by pulumi/actions at the SDK's own version.
                const install = step(job, (s) => (s.uses ?? "").startsWith("pulumi/actions@"), "pulumi/actions");
                assert.equal(`${install.uses} # v6.6.1`, `pulumi/actions@${PINS["pulumi/actions"]}`);
                assert.equal(install.with?.["pulumi-version"], "${{ env.PULUMI_VERSION }}");
                const sdk = JSON.parse(
                    fs.readFileSync(path.join(ROOT, "node_modules/@pulumi/pulumi/package.json"), "utf8"),
                );
                assert.equal(wf.env?.PULUMI_VERSION, sdk.version);
            });
        });
    }

    it(".ci/run: the raft drills run last, only while the 90-minute budget leaves them room (run as bash with SECONDS set)", () => {
        const script = fs.readFileSync(path.join(ROOT, ".ci/run"), "utf8");
        const lines = script.split("\n");
        assert.ok(lines.indexOf("npm test") < lines.indexOf("budget_seconds=$((90 * 60))"), "npm test comes first");
        const guard = script.slice(script.indexOf("budget_seconds="));
        // The guard as .ci/run has it, with npm stubbed: which branch runs at a given elapsed time.
        const run = (elapsed: number) =>
            spawnSync("bash", ["-c", `npm() { echo "ran npm $*"; }\nSECONDS=${elapsed}\n${guard}`], {
                encoding: "utf8",
            });
        const warm = run(25 * 60);
        assert.equal(warm.status, 0);
        assert.equal(warm.stdout, "ran npm run e2e:raft-drills\n");
        assert.equal(warm.stderr, "");
        const cold = run(80 * 60);
        assert.equal(cold.status, 0);
        assert.equal(cold.stdout, "");
        assert.match(
            cold.stderr,
            /^\.ci\/run: the raft drills were LEFT OUT: 480\d s of the 5400 s budget are gone and they take up to 840 s/,
        );
        // The edge: exactly 14 minutes left still runs them.
        assert.equal(run(76 * 60).stdout, "ran npm run e2e:raft-drills\n");
    });

    it("preview: npm test, then pulumi preview with the guardrail pack, the offline plan and a PR comment per stack", () => {
        const wf = load("preview");
        assert.deepEqual(Object.keys(wf.on), ["pull_request"]);
        const test = wf.jobs.test;
        step(test, (s) => s.run === `${AS_ROOT}bash .ci/run`, ".ci/run (npm ci, tools, npm test) as root");
        assertToolCache(test, "tools");
        assert.match(fs.readFileSync(path.join(ROOT, ".ci/run"), "utf8"), /^npm test$/m);

        const [, job] = stackJob(wf);
        assert.deepEqual(job.needs, ["test", "stacks"]);
        assert.equal(job.permissions?.["pull-requests"], "write");
        assert.equal(wf.permissions?.contents, "read");
        // The credentialed preview waits for the stack's preview environment (required reviewers).
        assert.deepEqual(job.environment, { name: "${{ matrix.stack }}-preview" });
        assert.ok(!job.steps.some((s) => /npm run --silent plan/.test(s.run ?? "")), "the plan is not credentialed");

        // Every pull request gets the offline plan, from a job that holds no secret.
        const offline = wf.jobs.plan;
        assert.equal(offline.environment, undefined);
        assert.ok(!JSON.stringify(offline).includes("secrets."), "the plan job reads no secret");
        const plan = step(offline, (s) => /npm run/.test(s.run ?? ""), "offline plan");
        assert.match(
            plan.run as string,
            /npm run --silent plan -- --stack "\$s" --diff "origin\/\$BASE_REF" --format markdown\n/,
        );
        const planComment = step(offline, (s) => (s.uses ?? "").startsWith("actions/github-script@"), "plan comment");
        assert.match(planComment.with?.script ?? "", /secret-platform-plan/);
        const preview = step(job, (s) => s.id === "preview", "id=preview");
        assert.match(preview.run as string, /pulumi preview --stack "\$STACK" --diff /);
        assert.match(preview.run as string, /--policy-pack policies\/guard/);
        assert.ok(fs.existsSync(path.join(ROOT, "policies/guard/PulumiPolicy.yaml")), "the referenced policy pack");
        const comment = step(job, (s) => (s.uses ?? "").startsWith("actions/github-script@"), "comment");
        assert.match(comment.with?.script ?? "", /secret-platform-preview:\$\{stack\}/);
        assert.match(comment.with?.script ?? "", /updateComment/);
        assert.match(comment.with?.script ?? "", /createComment/);
    });

    it("pins every action by a full commit SHA with its release tag, one SHA per action", () => {
        const seen: Record<string, string> = {};
        for (const name of ALL) {
            for (const line of text(name).split("\n")) {
                const m = /^\s*(?:- )?uses: (.*)$/.exec(line);
                if (m === null) continue;
                const pinned = /^([\w.-]+\/[\w.-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)$/.exec(m[1]);
                assert.ok(pinned, `${name}.yml: ${m[1]} is not pinned by a full SHA with its tag in a comment`);
                seen[pinned[1]] = `${pinned[2]} # ${pinned[3]}`;
                assert.equal(seen[pinned[1]], PINS[pinned[1]], `${name}.yml: ${pinned[1]}`);
            }
        }
        // Every pin is in use (a stale one would hide a changed action).
        assert.deepEqual(Object.keys(seen).sort(), Object.keys(PINS).sort());
    });

    it("only jobs behind an environment read secrets (a branch could rewrite any other job)", () => {
        for (const name of ["preview", "deploy", "drift"]) {
            for (const [id, job] of Object.entries(load(name).jobs)) {
                if (JSON.stringify(job).includes("secrets.")) {
                    assert.ok(job.environment !== undefined, `${name}.${id} reads secrets outside an environment`);
                }
            }
        }
        const protectedJobs = ["preview", "deploy", "drift"].flatMap((name) =>
            Object.values(load(name).jobs).filter((j) => j.environment !== undefined),
        );
        assert.equal(protectedJobs.length, 3, "one credentialed job per workflow");
    });

    it("deploy: pulumi up on the default branch, one stack at a time behind the stack's environment", () => {
        const wf = load("deploy");
        assert.deepEqual(wf.on.push, { branches: ["main"] });
        assert.deepEqual(wf.concurrency, { group: "deploy", "cancel-in-progress": false });
        const [, job] = stackJob(wf);
        assert.deepEqual(job.needs, ["checks", "stacks"]);
        assert.equal(job.strategy?.["max-parallel"], 1);
        assert.deepEqual(job.environment, { name: "${{ matrix.stack }}" });
        assert.match(job.if ?? "", /github\.ref_name == github\.event\.repository\.default_branch/);
        const up = step(job, (s) => /pulumi up/.test(s.run ?? ""), "pulumi up");
        assert.match(up.run as string, /pulumi up --yes --stack "\$STACK"/);
        assert.match(up.run as string, /--policy-pack policies\/guard/);
    });

    it("deploy: its checks need the program's dependencies only, not the e2e tools nor .ci/run", () => {
        const wf = load("deploy");
        assert.deepEqual(Object.keys(wf.jobs).sort(), ["checks", "deploy", "stacks"]);
        const checks = wf.jobs.checks;
        const runs = checks.steps.map((s) => s.run ?? "").join("\n");
        assert.ok(!/\.ci\/run|install-tools|build-e2e-tools|npm run e2e|npm test\b/.test(runs), runs);
        assert.ok(!checks.steps.some((s) => (s.uses ?? "").startsWith("actions/setup-go@")), "no Go toolchain");
        assert.ok(!checks.steps.some((s) => (s.uses ?? "").startsWith("actions/cache@")), "no tool cache");
        assert.ok(!JSON.stringify(checks).includes("secrets."), "the checks read no secret");
        assert.deepEqual(
            checks.steps.filter((s) => s.run !== undefined).map((s) => s.run?.trim().split("\n")[0]),
            [
                "npm ci --no-audit --no-fund",
                "npm run typecheck",
                "CI=false npx mocha 'test/unit/**/*.test.ts'",
                "shopt -s nullglob",
            ],
        );
        assert.match(runs, /npm run lint/);
        assert.match(runs, /npm run --silent plan -- --stack "\$s" --format markdown >> "\$GITHUB_STEP_SUMMARY"/);
        // The whole suite still runs before a merge, and the e2e on every push.
        step(load("preview").jobs.test, (s) => s.run === `${AS_ROOT}bash .ci/run`, ".ci/run on pull requests");
        assert.deepEqual((load("e2e").on.push as { branches: string[] }).branches, ["main"]);
    });

    it("preview and drift hold only the read-only state identity, deploy only the one that may write", () => {
        const names = (wf: string) => [...text(wf).matchAll(/secrets\.([A-Z_]*AWS[A-Z_]*)/g)].map((m) => m[1]);
        for (const wf of ["preview", "drift"]) {
            assert.deepEqual(
                [...new Set(names(wf))].sort(),
                ["READ_ONLY_AWS_ACCESS_KEY_ID", "READ_ONLY_AWS_SECRET_ACCESS_KEY"],
                `${wf} reads no AWS secret but the read-only pair`,
            );
        }
        assert.deepEqual([...new Set(names("deploy"))].sort(), ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
    });

    it("docs/ci-workflows.md: the read-only identity's policy only lists and reads the state's objects", () => {
        const doc = fs.readFileSync(path.join(ROOT, "docs", "ci-workflows.md"), "utf8");
        const section = doc.slice(doc.indexOf("## Read-only backend credentials for preview and drift"));
        const policy = JSON.parse(/```json\n([\s\S]*?)```/.exec(section)?.[1] ?? "{}") as {
            Statement: { Effect: string; Action: string[]; Resource: string; Condition?: unknown }[];
        };
        assert.deepEqual(
            policy.Statement.map((st) => [st.Effect, st.Action, st.Resource, st.Condition]),
            [
                [
                    "Allow",
                    ["s3:ListBucket"],
                    "arn:aws:s3:::pulumi-state",
                    { StringLike: { "s3:prefix": [".pulumi/*"] } },
                ],
                ["Allow", ["s3:GetObject"], "arn:aws:s3:::pulumi-state/.pulumi/*", undefined],
            ],
        );
    });

    it("each credentialed job sets the stack config the repository does not hold before running pulumi", () => {
        for (const [name, command] of [
            ["preview", /pulumi preview/],
            ["deploy", /pulumi up/],
            ["drift", /pulumi preview/],
        ] as const) {
            const [, job] = stackJob(load(name));
            const at = job.steps.findIndex((s) => /npm run --silent stack-config/.test(s.run ?? ""));
            const pulumi = job.steps.findIndex((s) => command.test(s.run ?? ""));
            assert.ok(at >= 0 && at < pulumi, `${name}: stack-config before ${String(command)}`);
            const config = job.steps[at];
            assert.equal(config.run, 'npm run --silent stack-config -- --stack "$STACK"');
            // The secrets from the stack's environment, the public CA from a variable; nothing in argv.
            assert.deepEqual(config.env, {
                STACK_SECRETS: "${{ secrets.STACK_SECRETS }}",
                TRUST_CA_BUNDLE: "${{ vars.TRUST_CA_BUNDLE }}",
                PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
                AWS_ACCESS_KEY_ID: `\${{ secrets.${name === "deploy" ? "" : "READ_ONLY_"}AWS_ACCESS_KEY_ID }}`,
                AWS_SECRET_ACCESS_KEY: `\${{ secrets.${name === "deploy" ? "" : "READ_ONLY_"}AWS_SECRET_ACCESS_KEY }}`,
            });
        }
    });

    it("e2e: the whole scenario with the official plugin (never falling back) and with the stand-in, compared; no secret", () => {
        const wf = load("e2e");
        assert.ok("pull_request" in wf.on && "push" in wf.on, "runs on pull requests and pushes");
        assert.deepEqual(Object.keys(wf.jobs), ["e2e"]);
        const job = wf.jobs.e2e;
        assert.equal(JSON.stringify(wf).includes("secrets."), false, "no secret: everything runs on loopback");
        const tools = step(job, (s) => /build-e2e-tools\.sh/.test(s.run ?? ""), "the tool builds");
        assert.equal(
            tools.run,
            ["install-tools.sh", "build-e2e-tools.sh", "build-node-tools.sh"]
                .map((script) => `${AS_ROOT}bash scripts/${script}\n`)
                .join(""),
        );
        assertToolCache(job, "e2e-tools");
        const runs = job.steps.map((s) => s.run ?? "").filter((r) => /npm run e2e|compare-vault-state/.test(r));
        assert.deepEqual(runs, [
            `${AS_ROOT}E2E_VAULT_STATE="$RUNNER_TEMP/vault-stand-in.json" npm run e2e -- --vault-plugin stand-in`,
            `${AS_ROOT}E2E_VAULT_STATE="$RUNNER_TEMP/vault-official.json" npm run e2e -- --vault-plugin official`,
            'sudo env "PATH=$PATH" node --import tsx e2e/compare-vault-state.ts "$RUNNER_TEMP/vault-official.json" "$RUNNER_TEMP/vault-stand-in.json"',
        ]);
        // The reference data comes from upstream, checked by digest: no local folder is named.
        assert.equal(text("e2e").includes("SECRET_PLATFORM_REFERENCE"), false);
    });

    describe("drift", () => {
        const wf = load("drift");
        const [, job] = stackJob(wf);
        const check = step(job, (s) => s.id === "check", "id=check");

        it("reads its credentials from the stack's drift environment", () => {
            assert.deepEqual(job.environment, { name: "${{ matrix.stack }}-drift" });
        });

        it("runs on a schedule with --refresh --run-program --expect-no-changes and may write issues", () => {
            assert.match(String((wf.on.schedule as { cron: string }[])[0].cron), /^\S+ \S+ \* \* \*$/);
            assert.equal(job.permissions?.issues, "write");
            assert.match(
                check.run as string,
                /pulumi preview --stack "\$STACK" --refresh --run-program --expect-no-changes --diff/,
            );
            const issue = step(job, (s) => (s.uses ?? "").startsWith("actions/github-script@"), "issue");
            assert.match(issue.with?.script ?? "", /const title = `Drift: \$\{stack\}`;/);
            assert.match(issue.with?.script ?? "", /issues\.create\(/);
            assert.match(issue.with?.script ?? "", /issues\.update\(/);
            const fail = step(job, (s) => s.name === "Fail on drift or error", "fail");
            assert.equal(fail.if, "steps.check.outputs.result != 'clean'");
        });

        // The classification script with a stand-in `pulumi` that exits like the real CLI.
        const cases: [string, number, string, string][] = [
            ["clean", 0, "Resources:\n    12 unchanged\n", "clean"],
            ["drift (old message)", 255, "error: no changes were expected but changes were proposed\n", "drift"],
            [
                "drift (newer message)",
                255,
                "error: no changes were expected for preview but changes were proposed\n",
                "drift",
            ],
            ["an error", 255, "error: failed to load checkpoint\n", "error"],
        ];
        for (const [what, code, output, result] of cases) {
            it(`classifies ${what} as ${result}`, () => {
                const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "drift-"));
                try {
                    const bin = path.join(tmp, "bin");
                    fs.mkdirSync(bin);
                    fs.writeFileSync(
                        path.join(bin, "pulumi"),
                        `#!/bin/sh\necho "$@" > "${tmp}/argv"\nprintf '%s' "$FAKE_OUTPUT" >&2\nexit ${code}\n`,
                        { mode: 0o755 },
                    );
                    const out = path.join(tmp, "out");
                    const res = runScript(check.run as string, tmp, {
                        PATH: `${bin}:${process.env.PATH}`,
                        FAKE_OUTPUT: output,
                        STACK: "s1",
                        RUNNER_TEMP: tmp,
                        GITHUB_OUTPUT: out,
                    });
                    assert.equal(res.status, 0, res.stderr);
                    assert.equal(fs.readFileSync(out, "utf8"), `result=${result}\n`);
                    assert.equal(fs.readFileSync(path.join(tmp, "drift.txt"), "utf8"), output);
                    assert.equal(
                        fs.readFileSync(path.join(tmp, "argv"), "utf8"),
                        "preview --stack s1 --refresh --run-program --expect-no-changes --diff --non-interactive --color never\n",
                    );
                } finally {
                    fs.rmSync(tmp, { recursive: true, force: true });
                }
            });
        }
    });
});
