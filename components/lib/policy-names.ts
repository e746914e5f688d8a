/**
 * The Vault ACL policies this program ships (`policies/*.hcl`, one policy a
 * file, named after the file), and the ones only machines may hold.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Where the Vault ACL policies live. */
export const POLICY_DIR = path.join(__dirname, "..", "..", "policies");

/** The machine-only policy of the raft snapshot job: never mapped to SSO groups. */
export const RAFT_SNAPSHOT_POLICY = "raft-snapshot";
/** The machine-only policy of the KV export job (backup.enabled): never mapped to SSO groups. */
export const KV_BACKUP_POLICY = "kv-backup";
/** The machine-only policy of the Vault provider's token (docs/bootstrap.md): never mapped to SSO groups. */
export const PULUMI_POLICY = "pulumi";
const MACHINE_POLICIES: readonly string[] = [RAFT_SNAPSHOT_POLICY, KV_BACKUP_POLICY, PULUMI_POLICY];

/** Names of the policies in policies/*.hcl an SSO group may be given, plus Vault's built-in default. */
export function knownPolicyNames(dir: string = POLICY_DIR): string[] {
    const files = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    return [
        "default",
        ...files
            .filter((f) => f.endsWith(".hcl"))
            .map((f) => f.slice(0, -".hcl".length))
            .filter((n) => !MACHINE_POLICIES.includes(n)),
    ].sort();
}
