/**
 * scripts/lib/tool-cache.sh's shell logic, with a `go` on PATH that records its
 * calls and writes the files a build would (the real builds run in .ci/run on
 * a cold cache; a cold .ci/run on 7 Dec 2026 stopped here: after the kubelet's
 * throw-away module was removed, the next builder's `go mod download` had no
 * working directory: "cannot determine current directory").
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const LIB = path.resolve(__dirname, "../../scripts/lib/tool-cache.sh");

/** A `go` that fails as the real one does without a working directory, and otherwise fakes each subcommand. */
const FAKE_GO = `#!/bin/bash
pwd >/dev/null 2>&1 && [ -d "$PWD" ] || { echo "go: cannot determine current directory: getwd: no such file or directory" >&2; exit 1; }
echo "go $*" >>"$GO_LOG"
case "$1 $2" in
"mod download") printf '{\\n\\t"Dir": "%s",\\n\\t"GoMod": "%s",\\n}\\n' "$FAKE_MOD" "$FAKE_MOD/go.mod" ;;
"mod init"|"mod edit"|"get -tool") ;;
"build -trimpath") out=""; while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done; touch "$out" ;;
esac
`;

describe("scripts/lib/tool-cache.sh", () => {
    let tmp: string;
    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tool-cache-"));
        fs.mkdirSync(path.join(tmp, "bin"));
        fs.writeFileSync(path.join(tmp, "bin", "go"), FAKE_GO, { mode: 0o755 });
        fs.mkdirSync(path.join(tmp, "mod"));
        fs.writeFileSync(
            path.join(tmp, "mod", "go.mod"),
            "module k8s.io/kubernetes\nreplace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n)\n",
        );
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

    function run(script: string) {
        return spawnSync("bash", ["-euo", "pipefail", "-c", `source "${LIB}"\n${script}`], {
            env: {
                ...process.env,
                PATH: `${path.join(tmp, "bin")}:${process.env.PATH}`,
                HOME: tmp,
                SECRET_PLATFORM_CACHE: path.join(tmp, "cache"),
                GO_LOG: path.join(tmp, "go.log"),
                FAKE_MOD: path.join(tmp, "mod"),
            },
            encoding: "utf8",
        });
    }

    it("after a Kubernetes build removes its throw-away module, the next go command still has a working directory", () => {
        const res = run(
            [
                "kubernetes_version=v1.37.2",
                'build_kubernetes_cmds "$cache/node" kubernetes-node-build kubelet kube-proxy',
                'echo "module: $(module_dir k8s.io/kubernetes@v1.37.2)"',
                'echo "cwd: $PWD"',
            ].join("\n"),
        );
        assert.equal(res.status, 0, res.stderr);
        const node = path.join(tmp, "cache", "node");
        assert.equal(res.stdout, `module: ${path.join(tmp, "mod")}\ncwd: ${node}\n`);
        assert.ok(
            fs.existsSync(path.join(node, "bin", "kubelet")) && fs.existsSync(path.join(node, "bin", "kube-proxy")),
        );
        assert.equal(fs.existsSync(path.join(node, "src")), false, "the throw-away module is gone");
        assert.match(
            fs.readFileSync(path.join(tmp, "go.log"), "utf8"),
            /^go mod edit -replace k8s\.io\/api=k8s\.io\/api@v0\.37\.2$/m,
        );
    });

    it("the fake go does refuse a removed working directory (the failure the fix prevents)", () => {
        const res = run(
            ['d="$HOME/gone"; mkdir "$d"; cd "$d"; rm -rf "$d"', "module_dir k8s.io/kubernetes@v1.37.2"].join("\n"),
        );
        assert.notEqual(res.status, 0);
        assert.match(res.stderr, /^go: cannot determine current directory: getwd: no such file or directory$/m);
    });
});
