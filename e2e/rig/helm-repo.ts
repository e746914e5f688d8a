/**
 * An https Helm repository on loopback, serving charts packaged from local
 * chart folders (the reference copies of upstream charts). The server's
 * certificate comes from the rig CA, so a client trusts it through
 * SSL_CERT_FILE=<rig CA> (the kubernetes provider does). Packaging is what
 * `helm package` produces: a gzipped tar whose top dir is the chart's name,
 * listed in an index.yaml (apiVersion v1) with the archive's sha256 digest.
 */
import { execFile } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as net from "net";
import * as path from "path";
import * as util from "util";
import * as YAML from "yaml";
import { KeyPair } from "./pki";

const run = util.promisify(execFile);

export interface ChartSource {
    /** A chart folder (holds Chart.yaml). */
    readonly dir: string;
    /**
     * Drop Chart.yaml's `dependencies` (and Chart.lock) from the served copy:
     * Helm wants every named dependency present, and an optional OCI one
     * (ESO's bitwarden-sdk-server) cannot be had here.
     */
    readonly dropDependencies?: boolean;
}

export interface PackagedChart {
    readonly name: string;
    readonly version: string;
    readonly appVersion?: string;
    readonly description?: string;
    readonly apiVersion: string;
    readonly file: string;
    readonly digest: string;
    /** What was changed from the source folder, for the run's output. */
    readonly changes: readonly string[];
}

export interface HelmRepo {
    /** https://127.0.0.1:<port> (what `server.chartRepository` points at). */
    readonly url: string;
    readonly charts: readonly PackagedChart[];
    /** Paths requested so far, in order (to show a client really fetched the chart). */
    readonly requests: readonly string[];
    close(): Promise<void>;
}

/** Packages one chart folder into `outDir` as <name>-<version>.tgz. */
export async function packageChart(source: ChartSource, outDir: string): Promise<PackagedChart> {
    const chartYaml = YAML.parse(fs.readFileSync(path.join(source.dir, "Chart.yaml"), "utf8"));
    const { name, version } = chartYaml as { name?: string; version?: string };
    if (typeof name !== "string" || !/^[a-z0-9][a-z0-9-]*$/.test(name) || typeof version !== "string") {
        throw new Error(`${source.dir}/Chart.yaml: needs a name and a version`);
    }
    const staging = fs.mkdtempSync(path.join(outDir, `${name}-staging-`));
    const top = path.join(staging, name);
    fs.cpSync(source.dir, top, { recursive: true, filter: (src) => path.basename(src) !== ".git" });
    const changes: string[] = [];
    if (source.dropDependencies === true && Array.isArray(chartYaml.dependencies)) {
        const dropped = (chartYaml.dependencies as { name: string }[]).map((d) => d.name).join(", ");
        delete chartYaml.dependencies;
        fs.writeFileSync(path.join(top, "Chart.yaml"), YAML.stringify(chartYaml));
        fs.rmSync(path.join(top, "Chart.lock"), { force: true });
        changes.push(`dropped dependencies ${dropped} (and Chart.lock)`);
    }
    const file = path.join(outDir, `${name}-${version}.tgz`);
    // Reproducible: sorted, root-owned, fixed mtime (same bytes, same digest on every run).
    await run("tar", [
        "--sort=name",
        "--owner=0",
        "--group=0",
        "--numeric-owner",
        "--mtime=2000-01-01 00:00:00Z",
        "-czf",
        file,
        "-C",
        staging,
        name,
    ]);
    fs.rmSync(staging, { recursive: true, force: true });
    const digest = crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    return {
        name,
        version,
        appVersion: chartYaml.appVersion === undefined ? undefined : String(chartYaml.appVersion),
        description: chartYaml.description,
        apiVersion: chartYaml.apiVersion ?? "v2",
        file,
        digest,
        changes,
    };
}

/** Helm's repository index for these charts served at `url`. */
export function indexYaml(url: string, charts: readonly PackagedChart[], created = new Date()): string {
    const entries: Record<string, unknown[]> = {};
    for (const c of charts) {
        (entries[c.name] ??= []).push({
            apiVersion: c.apiVersion,
            name: c.name,
            version: c.version,
            ...(c.appVersion === undefined ? {} : { appVersion: c.appVersion }),
            ...(c.description === undefined ? {} : { description: c.description }),
            urls: [`${url}/${path.basename(c.file)}`],
            digest: c.digest,
            created: created.toISOString(),
        });
    }
    return YAML.stringify({ apiVersion: "v1", entries, generated: created.toISOString() });
}

/** Packages the charts and serves them over https on a free loopback port. */
export async function startHelmRepo(dir: string, tls: KeyPair, sources: readonly ChartSource[]): Promise<HelmRepo> {
    const charts: PackagedChart[] = [];
    for (const source of sources) charts.push(await packageChart(source, dir));
    const requests: string[] = [];
    let index = "";
    const files = new Map(charts.map((c) => [`/${path.basename(c.file)}`, c.file]));
    const server = https.createServer(
        { cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key) },
        (req, res) => {
            const urlPath = new URL(req.url ?? "/", "https://127.0.0.1").pathname;
            requests.push(urlPath);
            if (req.method !== "GET" && req.method !== "HEAD") {
                res.writeHead(405).end();
            } else if (urlPath === "/index.yaml") {
                res.writeHead(200, { "content-type": "application/x-yaml" }).end(index);
            } else if (files.has(urlPath)) {
                res.writeHead(200, { "content-type": "application/gzip" }).end(fs.readFileSync(files.get(urlPath)!));
            } else {
                res.writeHead(404).end("not found\n");
            }
        },
    );
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const url = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    index = indexYaml(url, charts);
    return {
        url,
        charts,
        requests,
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}
