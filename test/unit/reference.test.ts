/**
 * scripts/install-reference.sh checks every reference file against the pinned
 * SHA-256 manifest (scripts/reference.sha256), whichever way it came: a copy
 * of the real upstream files installs, a copy with one byte changed is refused
 * and leaves nothing in the cache.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { requireReference } from "../support/reference";
import { toolsRequired } from "../support/tools";

const ROOT = path.join(__dirname, "..", "..");

function install(localDir: string, cache: string) {
    return spawnSync("bash", [path.join(ROOT, "scripts", "install-reference.sh")], {
        env: { ...process.env, SECRET_PLATFORM_REFERENCE: localDir, SECRET_PLATFORM_CACHE: cache },
        encoding: "utf8",
    });
}

/** The upstream path without a local reference folder: ESO's CRDs from a source archive in `sources`. */
function installEsoFromSources(sources: string, cache: string) {
    const env: NodeJS.ProcessEnv = { ...process.env, SECRET_PLATFORM_SOURCES: sources, SECRET_PLATFORM_CACHE: cache };
    delete env.SECRET_PLATFORM_REFERENCE;
    return spawnSync("bash", [path.join(ROOT, "scripts", "install-reference.sh"), "external-secrets-2.9.0"], {
        env,
        encoding: "utf8",
    });
}

const ESO_ARCHIVE = "external-secrets-2.9.0.tar.gz";
const ESO_CRDS = ["clustersecretstores", "externalsecrets", "secretstores"].map((k) => `external-secrets.io_${k}.yaml`);

describe("scripts/install-reference.sh: the pinned checksums", function () {
    let tmp: string;
    let source: string;
    before(function () {
        const vault = requireReference(this, "vault-helm-0.34.1");
        const eso = requireReference(this, "external-secrets-2.9.0");
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "reference-"));
        source = path.join(tmp, "source");
        fs.mkdirSync(source);
        fs.cpSync(vault, path.join(source, "vault-helm-0.34.1"), { recursive: true });
        fs.cpSync(eso, path.join(source, "external-secrets-2.9.0"), { recursive: true });
    });
    after(() => {
        if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("installs the upstream files", () => {
        const res = install(source, path.join(tmp, "good-cache"));
        assert.equal(res.status, 0, res.stderr);
        assert.ok(fs.existsSync(path.join(tmp, "good-cache", "reference", "vault-helm-0.34.1", "values.yaml")));
    });

    it("refuses a copy with one changed file and caches nothing of it", () => {
        const values = path.join(source, "vault-helm-0.34.1", "values.yaml");
        fs.chmodSync(values, 0o644);
        fs.appendFileSync(values, "# changed\n");
        const cache = path.join(tmp, "bad-cache");
        const res = install(source, cache);
        assert.equal(res.status, 1);
        assert.match(res.stderr, /values\.yaml: FAILED/);
        assert.match(
            res.stderr,
            /install-reference: vault-helm-0\.34\.1 differs from the pinned upstream files \(scripts\/reference\.sha256\)/,
        );
        assert.equal(fs.existsSync(path.join(cache, "reference", "vault-helm-0.34.1")), false);
    });
});

describe("scripts/install-reference.sh: ESO's CRDs from the source archive of its tag", function () {
    this.timeout(60_000);
    let sources: string;
    let tmp: string;
    before(function () {
        const dir = process.env.SECRET_PLATFORM_SOURCES;
        if (dir === undefined || dir === "" || !fs.existsSync(path.join(dir, ESO_ARCHIVE))) {
            const message = `SECRET_PLATFORM_SOURCES does not hold ${ESO_ARCHIVE} (.ci/run sets it to the shared sources folder beside the clone)`;
            if (toolsRequired()) throw new Error(`${message} (CI=true: reference specs are mandatory)`);
            console.warn(`    skipped: ${message}`);
            this.skip();
        }
        sources = dir;
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "reference-archive-"));
    });
    after(() => {
        if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("extracts exactly the pinned CRDs (config/crds/bases/) and nothing else", () => {
        const cache = path.join(tmp, "cache");
        const res = installEsoFromSources(sources, cache);
        assert.equal(res.status, 0, res.stderr);
        assert.equal(res.stderr, `install-reference: ESO's CRDs from ${path.join(sources, ESO_ARCHIVE)}\n`);
        const dir = path.join(cache, "reference", "external-secrets-2.9.0");
        assert.deepEqual(fs.readdirSync(dir).sort(), ESO_CRDS);
        assert.equal(res.stdout, `reference external-secrets-2.9.0: ${dir}\n`);
    });

    it("refuses an archive whose CRD differs, and caches nothing of it", () => {
        // The real archive's CRDs, one of them changed, packed as a source archive.
        const tree = path.join(tmp, "tree", "external-secrets-2.9.0", "config", "crds", "bases");
        fs.mkdirSync(tree, { recursive: true });
        for (const crd of ESO_CRDS) {
            const out = spawnSync("tar", [
                "-xzf",
                path.join(sources, ESO_ARCHIVE),
                "-O",
                `external-secrets-2.9.0/config/crds/bases/${crd}`,
            ]);
            assert.equal(out.status, 0, String(out.stderr));
            fs.writeFileSync(path.join(tree, crd), out.stdout);
        }
        fs.appendFileSync(path.join(tree, ESO_CRDS[0]), "# changed\n");
        const tampered = path.join(tmp, "tampered");
        fs.mkdirSync(tampered);
        const pack = spawnSync("tar", ["-czf", path.join(tampered, ESO_ARCHIVE), "-C", path.join(tmp, "tree"), "."]);
        assert.equal(pack.status, 0, String(pack.stderr));
        const cache = path.join(tmp, "bad-cache");
        const res = installEsoFromSources(tampered, cache);
        assert.equal(res.status, 1);
        assert.match(res.stderr, /external-secrets\.io_clustersecretstores\.yaml: FAILED/);
        assert.match(
            res.stderr,
            /install-reference: external-secrets-2\.9\.0 differs from the pinned upstream files \(scripts\/reference\.sha256\)/,
        );
        assert.deepEqual(fs.readdirSync(path.join(cache, "reference")), []);
    });
});
