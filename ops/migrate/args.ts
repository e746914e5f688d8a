/**
 * Command-line options of `npm run migrate`. Vault's address and token come
 * from the environment only (VAULT_ADDR, VAULT_TOKEN or ~/.vault-token): a
 * token on the command line would land in shell history and `ps`.
 */
export interface MigrateOptions {
    /** Print the plan and write nothing. */
    readonly dryRun: boolean;
    /** Overwrite secrets that changed in Vault since the last import (conflicts). */
    readonly force: boolean;
    /** A mapping file (YAML) with defaults and per-file rules. */
    readonly mapping?: string;
    /** The KV v2 mount to write to; overrides the mapping file's `mount`. */
    readonly mount?: string;
    /** The owner recorded in custom metadata; overrides the mapping file's `owner`. */
    readonly owner?: string;
    /** The SOPS files to migrate. */
    readonly files: readonly string[];
    /** Directories to search for SOPS files by content (--find). */
    readonly find: readonly string[];
    /** --help was asked for. */
    readonly help: boolean;
}

export const USAGE = `usage: npm run migrate -- [--dry-run] [--force] [--mapping map.yaml] [--mount <kv mount>] [--owner <owner>]
                      [--find <dir>]... [<sops files>...]

Moves secrets from SOPS-encrypted YAML, JSON or dotenv files into Vault KV v2
(docs/migration.md). Decrypts with the sops CLI and your own keys (age or GPG);
plaintext stays in memory and is never printed. Run it from your GitOps
repository: paths are relative to where you ran npm, and each secret records
its file relative to that repository.

  --dry-run         print the plan (path, keys, create/update/unchanged/conflict), write nothing
  --force           overwrite secrets changed in Vault since the last import
  --mapping <file>  mapping rules (file -> {app}/{category}/{secret}, mount, owner, key renames)
  --mount <mount>   KV v2 mount, normally the cluster name (e.g. amiya.akn)
  --owner <owner>   owner recorded in each secret's custom metadata
  --find <dir>      migrate every SOPS-encrypted file git tracks under <dir>, found by its
                    content (sops metadata), whatever its name; repeatable, with or without files

environment: VAULT_ADDR (required), VAULT_TOKEN (or ~/.vault-token), VAULT_NAMESPACE,
             VAULT_CACERT (a PEM file: Vault's certificate must chain to it, e.g. your cluster's
             private CA; else Node's public roots, plus NODE_EXTRA_CA_CERTS if you set it),
             SOPS_BIN (default: sops on PATH), SOPS_AGE_KEY_FILE / GNUPGHOME for sops
exit status: 0 all done, 1 a failure (see the table for what was and was not written),
             2 a usage error (nothing read), 3 conflicts left alone (re-run with --force to overwrite them)`;

const VALUE_FLAGS = new Set(["--mapping", "--mount", "--owner", "--find"]);

/** Parses argv (without node and script); throws an Error with the usage problem. */
export function parseArgs(argv: readonly string[]): MigrateOptions {
    let dryRun = false;
    let force = false;
    let help = false;
    const values: Record<string, string> = {};
    const files: string[] = [];
    const find: string[] = [];
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--") {
            files.push(...argv.slice(i + 1));
            break;
        }
        if (!arg.startsWith("--")) {
            files.push(arg);
            continue;
        }
        const eq = arg.indexOf("=");
        const flag = eq === -1 ? arg : arg.slice(0, eq);
        if (flag === "--dry-run" && eq === -1) dryRun = true;
        else if (flag === "--force" && eq === -1) force = true;
        else if ((flag === "--help" || flag === "-h") && eq === -1) help = true;
        else if (flag === "--token" || flag === "--vault-token") {
            throw new Error(`${flag}: pass the token in VAULT_TOKEN (or ~/.vault-token), never on the command line`);
        } else if (VALUE_FLAGS.has(flag)) {
            const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
            if (value === undefined || value === "" || (eq === -1 && value.startsWith("--"))) {
                throw new Error(`${flag} needs a value`);
            }
            if (flag === "--find") find.push(value);
            else values[flag] = value;
        } else {
            throw new Error(`unknown option ${flag}`);
        }
    }
    if (!help && files.length === 0 && find.length === 0)
        throw new Error("no SOPS files given (name them, or --find <dir>)");
    return {
        dryRun,
        force,
        help,
        files,
        find,
        mapping: values["--mapping"],
        mount: values["--mount"],
        owner: values["--owner"],
    };
}
