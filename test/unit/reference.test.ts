/**
 * scripts/install-reference.sh checks every reference file against the pinned
 * SHA-256 manifest (scripts/reference.sha256), whichever way it came: a copy
 * of the real upstream files installs, a copy with one byte changed is refused
 * and leaves nothing in the cache. Without a local folder, ESO's CRD files are
 * fetched one by one as published at the chart's tag, and checked the same way.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { requireReference } from "../support/reference";

const ROOT = path.join(__dirname, "..", "..");

function install(localDir: string, cache: string) {
    return spawnSync("bash", [path.join(ROOT, "scripts", "install-reference.sh")], {
        env: { ...process.env, SECRET_PLATFORM_REFERENCE: localDir, SECRET_PLATFORM_CACHE: cache },
        encoding: "utf8",
    });
}

/** The upstream path without a local reference folder: ESO's CRD files fetched from `baseUrl`. */
function installEsoFrom(baseUrl: string, cache: string) {
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        SECRET_PLATFORM_ESO_CRDS_URL: baseUrl,
        SECRET_PLATFORM_CACHE: cache,
    };
    delete env.SECRET_PLATFORM_REFERENCE;
    return spawnSync("bash", [path.join(ROOT, "scripts", "install-reference.sh"), "external-secrets-2.9.0"], {
        env,
        encoding: "utf8",
    });
}

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

describe("scripts/install-reference.sh: ESO's CRD files as published at its tag (no local folder)", function () {
    this.timeout(60_000);
    let tmp: string;
    let published: string;
    before(function () {
        const eso = requireReference(this, "external-secrets-2.9.0");
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "reference-eso-"));
        // The published files, served to curl from a folder (file://) in place of the tag's base URL.
        published = path.join(tmp, "published");
        fs.mkdirSync(published);
        for (const crd of ESO_CRDS) fs.copyFileSync(path.join(eso, crd), path.join(published, crd));
    });
    after(() => {
        if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("fetches exactly the pinned CRD files and nothing else", () => {
        const cache = path.join(tmp, "cache");
        const res = installEsoFrom(`file://${published}`, cache);
        assert.equal(res.status, 0, res.stderr);
        assert.equal(res.stderr, `install-reference: ESO's CRDs from file://${published}\n`);
        const dir = path.join(cache, "reference", "external-secrets-2.9.0");
        assert.deepEqual(fs.readdirSync(dir).sort(), ESO_CRDS);
        assert.equal(res.stdout, `reference external-secrets-2.9.0: ${dir}\n`);
    });

    it("refuses a fetched CRD that differs, and caches nothing of it", () => {
        const tampered = path.join(tmp, "tampered");
        fs.cpSync(published, tampered, { recursive: true });
        fs.appendFileSync(path.join(tampered, ESO_CRDS[0]), "# changed\n");
        const cache = path.join(tmp, "bad-cache");
        const res = installEsoFrom(`file://${tampered}`, cache);
        assert.equal(res.status, 1);
        assert.match(res.stderr, /external-secrets\.io_clustersecretstores\.yaml: FAILED/);
        assert.match(
            res.stderr,
            /install-reference: external-secrets-2\.9\.0 differs from the pinned upstream files \(scripts\/reference\.sha256\)/,
        );
        assert.deepEqual(fs.readdirSync(path.join(cache, "reference")), []);
    });

    it("names the file it could not fetch, and caches nothing", () => {
        fs.mkdirSync(path.join(tmp, "empty"));
        const cache = path.join(tmp, "missing-cache");
        const res = installEsoFrom(`file://${path.join(tmp, "empty")}`, cache);
        assert.equal(res.status, 1);
        assert.match(
            res.stderr,
            new RegExp(
                `install-reference: could not fetch file://${path.join(tmp, "empty")}/external-secrets\\.io_clustersecretstores\\.yaml`,
            ),
        );
        assert.deepEqual(fs.readdirSync(path.join(cache, "reference")), []);
    });
});
