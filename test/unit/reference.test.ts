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

const ROOT = path.join(__dirname, "..", "..");

function install(localDir: string, cache: string) {
    return spawnSync("bash", [path.join(ROOT, "scripts", "install-reference.sh")], {
        env: { ...process.env, SECRET_PLATFORM_REFERENCE: localDir, SECRET_PLATFORM_CACHE: cache },
        encoding: "utf8",
    });
}

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
