/**
 * `npm run new-stack`: writes a Pulumi.<stack>.yaml for a new cluster from a
 * few flags, every cluster-specific key set from them and marked `# cluster`,
 * nothing of amiya's left. The file is checked by the config loader before it
 * is written; the command returns its output and exit code so specs run it
 * in-process.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../components/config";
import { invocationDir } from "./plan/cli";
import { setStackConfig } from "./plan/program";
import { parseStackFile, PROJECT_ROOT, stackFilePath } from "./stack-file";

export interface NewStackResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

export const USAGE = `usage: npm run new-stack -- <stack> --domain <dns domain> --kube-context <context> --bucket <bucket>
         [--endpoint <url> --region <name> | --storage aws --region <aws region>] [--create-bucket]
         --ingress-class <class> [--oidc-issuer <https url> | --no-oidc] [--ingress-namespace <ns>]
         [--cert-manager-issuer <ClusterIssuer>] [--storage-class <class>]
         [--s3-cidr <cidr>] [--oidc-cidr <cidr>] [--api-cidr <cidr>] [--no-network-policy]
         [--cluster-name <name>] [--dir <dir>] [--force]

Writes Pulumi.<stack>.yaml (in the project root, where pulumi looks for it; --dir
elsewhere, relative to where you ran npm) with every cluster-specific key set from
these flags and marked "# cluster". Checked by the config loader before it is written.

  --domain <domain>             the cluster's DNS domain; Vault is vault.<domain>
  --cluster-name <name>         the cluster's name (default: the domain): names its KV mount and store
  --kube-context <context>      the kubeconfig context of the cluster (never the ambient current one)
  --storage <mode>              s3-compatible (default: Garage, MinIO) or aws
  --bucket <bucket>             Vault's bucket
  --endpoint <url>              the S3-compatible server (s3-compatible mode)
  --region <name>               the S3 region (default garage in s3-compatible mode; required with aws)
  --create-bucket               the stack creates the bucket (default in aws mode; s3-compatible: you make it)
  --oidc-issuer <url>           the Authelia issuer; or --no-oidc (docs/first-deploy.md: logging in without it)
  --ingress-class <class>       the IngressClass (traefik, nginx, ...): the Ingress that keeps the
                                unauthenticated sys/ ceremonies off the host is built for its controller
  --ingress-namespace <ns>      the ingress controller's namespace, admitted to Vault (default ingress-nginx)
  --cert-manager-issuer <name>  the ClusterIssuer for Vault's certificate (without it: create Secret vault/vault-tls)
  --storage-class <class>       the audit volume's StorageClass (default: the cluster's default class)
  --s3-cidr, --oidc-cidr, --api-cidr <cidr>
                                egress Vault needs (S3 endpoint, OIDC issuer, API server) while
                                NetworkPolicies are on; or --no-network-policy
  --force                       overwrite an existing stack file`;

/** The flags, as parsed. */
export interface NewStackOptions {
    readonly stack: string;
    readonly domain: string;
    readonly clusterName?: string;
    readonly kubeContext: string;
    readonly storage: "s3-compatible" | "aws";
    readonly bucket: string;
    readonly endpoint?: string;
    readonly region?: string;
    readonly createBucket: boolean;
    readonly oidcIssuer?: string;
    readonly ingressClass: string;
    readonly ingressNamespace?: string;
    readonly certManagerIssuer?: string;
    readonly storageClass?: string;
    readonly s3Cidr?: string;
    readonly oidcCidr?: string;
    readonly apiCidr?: string;
    readonly networkPolicy: boolean;
}

/** A YAML scalar, quoted only when it has to be. */
function scalar(value: string): string {
    return /^[A-Za-z0-9][A-Za-z0-9._/:-]*$/.test(value) && !/^(true|false|null|yes|no|on|off|~)$/i.test(value)
        ? value
        : JSON.stringify(value);
}

/** The stack file's text: every cluster-specific key from the flags, marked `# cluster`. */
export function stackFileText(o: NewStackOptions): string {
    const c = (line: string, why = "") => `${line} # cluster${why === "" ? "" : `: ${why}`}`;
    const ns = "secret-platform";
    const aws = o.storage === "aws";
    const out: string[] = [
        `# Stack ${o.stack}: written by \`npm run new-stack\`. Lines marked \`# cluster\` are this`,
        "# cluster's own; everything else takes its default (docs/configuration.md).",
        "#",
        "# Secrets are NOT in this file. Before the first `pulumi up`, set them (the CLI",
        "# prompts for each value; never put one on the command line):",
        ...(aws
            ? []
            : [
                  "#   pulumi config set --secret storageAccessKeyId",
                  "#   pulumi config set --secret storageSecretAccessKey",
              ]),
        ...(o.oidcIssuer === undefined
            ? []
            : ["# oidcClientSecret may stay unset: it is generated (stack output autheliaOidcClientConfig)."]),
        "config:",
        `    ${ns}:cluster:`,
        c(`        name: ${scalar(o.clusterName ?? o.domain)}`),
        c(`        domain: ${scalar(o.domain)}`),
        `    ${ns}:kubernetes:`,
        c(`        context: ${scalar(o.kubeContext)}`, "the kubeconfig context"),
        `    ${ns}:storage:`,
        `        mode: ${o.storage}`,
        c(`        bucket: ${scalar(o.bucket)}`),
        c(`        region: ${scalar(o.region ?? "garage")}`),
    ];
    if (!aws) {
        out.push(c(`        endpoint: ${scalar(o.endpoint ?? "")}`), "        prefix: vault/");
        if (!o.createBucket) {
            out.push(
                "        createBucket: false # made outside this stack (e.g. garage bucket create); docs/architecture/storage.md",
                "        versioning: false # versioning is the existing bucket's own setting",
            );
        }
    }
    if (o.storageClass !== undefined) {
        out.push(
            `    ${ns}:server:`,
            "        auditStorage:",
            c(`            storageClass: ${scalar(o.storageClass)}`),
        );
    }
    out.push(`    ${ns}:exposure:`, "        kind: ingress");
    out.push(c(`        className: ${scalar(o.ingressClass)}`, "the IngressClass"));
    if (o.certManagerIssuer !== undefined) {
        out.push(
            c(`        certManagerIssuer: ${scalar(o.certManagerIssuer)}`, "the ClusterIssuer of Vault's certificate"),
        );
    } else {
        out.push(
            "        # No cert-manager issuer: create the TLS Secret vault/vault-tls before the first `pulumi up`.",
        );
    }
    out.push(`    ${ns}:networkPolicy:`);
    if (!o.networkPolicy) {
        out.push("        enabled: false # no NetworkPolicies: Vault's namespace is not default-deny");
    } else {
        if (o.ingressNamespace !== undefined) {
            out.push(
                c(`        ingressNamespace: ${scalar(o.ingressNamespace)}`, "the ingress controller's namespace"),
            );
        }
        const rule = (target: string, cidr: string | undefined, ports?: string) =>
            cidr === undefined
                ? []
                : [
                      `            ${target}:`,
                      c(`                cidrs: [${scalar(cidr)}]`),
                      ...(ports === undefined ? [] : [c(`                ports: [${ports}]`)]),
                  ];
        out.push(
            "        egress: # what Vault must reach; a name served by this cluster's ingress is a namespace peer instead (docs/architecture/network-policy.md)",
            ...rule("s3", o.s3Cidr, aws ? undefined : portOf(o.endpoint)),
            ...(aws ? ["            # kms: needed with the awskms seal (the default in aws mode): add its CIDRs"] : []),
            ...rule("oidc", o.oidcCidr),
            ...rule("kubernetesApi", o.apiCidr, "6443"),
        );
    }
    out.push(
        `    ${ns}:externalSecrets:`,
        "        # The stores admit only namespaces a cluster admin labels (kubectl label namespace <ns> secret-platform/external-secrets=allowed).",
        "        namespaceConditions:",
        "            - namespaceSelector: { matchLabels: { secret-platform/external-secrets: allowed } }",
    );
    out.push(`    ${ns}:oidc:`);
    if (o.oidcIssuer === undefined) {
        out.push("        enabled: false # no SSO: docs/first-deploy.md says how to log in without it");
    } else {
        out.push(
            c(`        issuer: ${scalar(o.oidcIssuer)}`, "the Authelia issuer"),
            "        groups: {} # SSO group -> policies, e.g. vault-admins: [admin] (docs/architecture/vault-configuration.md)",
        );
    }
    return `${out.join("\n")}\n`;
}

/** The port of an endpoint URL when it names one (Garage listens on 3900), else 443 for https. */
function portOf(url: string | undefined): string | undefined {
    if (url === undefined) return undefined;
    try {
        const u = new URL(url);
        return u.port !== "" ? u.port : u.protocol === "http:" ? "80" : undefined;
    } catch {
        return undefined;
    }
}

const ok = (stdout: string, stderr = ""): NewStackResult => ({ code: 0, stdout, stderr });
const fail = (stderr: string, code = 1): NewStackResult => ({ code, stdout: "", stderr: `${stderr}\n` });

export function runNewStack(argv: readonly string[], cwd: string = invocationDir()): NewStackResult {
    let parsed: ReturnType<typeof parse>;
    const parse = (args: string[]) =>
        parseArgs({
            args,
            allowPositionals: true,
            strict: true,
            options: {
                domain: { type: "string" },
                "cluster-name": { type: "string" },
                "kube-context": { type: "string" },
                storage: { type: "string" },
                bucket: { type: "string" },
                endpoint: { type: "string" },
                region: { type: "string" },
                "create-bucket": { type: "boolean" },
                "oidc-issuer": { type: "string" },
                "no-oidc": { type: "boolean" },
                "ingress-class": { type: "string" },
                "ingress-namespace": { type: "string" },
                "cert-manager-issuer": { type: "string" },
                "storage-class": { type: "string" },
                "s3-cidr": { type: "string" },
                "oidc-cidr": { type: "string" },
                "api-cidr": { type: "string" },
                "no-network-policy": { type: "boolean" },
                dir: { type: "string" },
                force: { type: "boolean" },
                help: { type: "boolean", short: "h" },
            },
        });
    try {
        parsed = parse([...argv]);
    } catch (e) {
        return fail(`new-stack: ${(e as Error).message}\n${USAGE}`, 2);
    }
    const v = parsed.values;
    if (v.help === true) return ok(`${USAGE}\n`);
    const usage = (problems: string[]) => fail(`new-stack: ${problems.join("; ")}\n${USAGE}`, 2);
    if (parsed.positionals.length !== 1) return usage(["give exactly one stack name"]);
    const stack = parsed.positionals[0];
    if (!/^[A-Za-z0-9_.-]+$/.test(stack)) return usage([`'${stack}' is not a stack name (letters, digits, _ . -)`]);
    const storage = v.storage ?? "s3-compatible";
    if (storage !== "s3-compatible" && storage !== "aws")
        return usage([`--storage must be s3-compatible or aws (got '${storage}')`]);
    const aws = storage === "aws";
    const noOidc = v["no-oidc"] === true;
    const networkPolicy = v["no-network-policy"] !== true;
    const missing: string[] = [];
    const need = (flag: string, value: unknown) => {
        if (value === undefined) missing.push(flag);
    };
    need("--domain", v.domain);
    need("--kube-context", v["kube-context"]);
    need("--bucket", v.bucket);
    need("--ingress-class", v["ingress-class"]);
    if (!aws) need("--endpoint", v.endpoint);
    if (aws) need("--region", v.region);
    if (!noOidc) need("--oidc-issuer (or --no-oidc)", v["oidc-issuer"]);
    if (networkPolicy) {
        const np = " (or --no-network-policy)";
        need(`--s3-cidr${np}`, v["s3-cidr"]);
        if (!noOidc) need(`--oidc-cidr${np}`, v["oidc-cidr"]);
        need(`--api-cidr${np}`, v["api-cidr"]);
    }
    if (missing.length > 0) return usage([`missing ${missing.join(", ")}`]);
    if (noOidc && v["oidc-issuer"] !== undefined) return usage(["--oidc-issuer and --no-oidc do not go together"]);

    const options: NewStackOptions = {
        stack,
        domain: v.domain as string,
        clusterName: v["cluster-name"],
        kubeContext: v["kube-context"] as string,
        storage,
        bucket: v.bucket as string,
        endpoint: v.endpoint,
        region: v.region,
        createBucket: aws || v["create-bucket"] === true,
        oidcIssuer: noOidc ? undefined : v["oidc-issuer"],
        ingressClass: v["ingress-class"] as string,
        ingressNamespace: v["ingress-namespace"],
        certManagerIssuer: v["cert-manager-issuer"],
        storageClass: v["storage-class"],
        s3Cidr: v["s3-cidr"],
        oidcCidr: noOidc ? undefined : v["oidc-cidr"],
        apiCidr: v["api-cidr"],
        networkPolicy,
    };
    const text = stackFileText(options);
    const dir = v.dir === undefined ? PROJECT_ROOT : path.resolve(cwd, v.dir);
    const file = stackFilePath(stack, dir);

    // The loader checks the file as pulumi up would (secrets as placeholders): nothing invalid is written.
    const parsedFile = parseStackFile(stack, text, file);
    setStackConfig({ values: parsedFile.values, secrets: parsedFile.secrets, foreign: parsedFile.foreign });
    try {
        loadConfig();
    } catch (e) {
        if (e instanceof ConfigError)
            return fail(`new-stack: the flags make an invalid stack, nothing written:\n${e.message}`, 2);
        throw e;
    }
    if (fs.existsSync(file) && v.force !== true) return fail(`new-stack: ${file} exists (--force overwrites it)`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(file, text);

    const secrets = parsedFile.secretStatus.filter((s) => s.status === "missing").map((s) => s.key);
    const elsewhere = path.resolve(dir) !== path.resolve(PROJECT_ROOT);
    const next = [
        `wrote ${file}`,
        ...(elsewhere
            ? [`(pulumi reads stack files beside Pulumi.yaml: copy it to ${PROJECT_ROOT} before pulumi stack init)`]
            : []),
        "",
        "next (README quick start):",
        `  npm run plan -- --stack ${stack}${v.dir === undefined ? "" : ` --stack-dir ${v.dir}`}   # what it will create, no cluster needed`,
        `  pulumi stack init ${stack}`,
        ...secrets.map((key) => `  pulumi config set --stack ${stack} --secret ${key}   # prompts for the value`),
        `  pulumi up --stack ${stack}`,
        "",
    ];
    return ok(next.join("\n"));
}
