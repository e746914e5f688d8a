/**
 * Vault's own setup, inside the running Vault (component VaultConfiguration):
 * audit devices, KV mounts, ACL policies and the auth methods (OIDC login,
 * Kubernetes auth for ESO and the snapshot job). Not to be confused with the
 * stack config (components/config/), a slice of which this reads.
 */
import * as crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as vault from "@pulumi/vault";
import { durationSeconds, PlatformConfig } from "./config";
import { KV_BACKUP_POLICY, PULUMI_POLICY, RAFT_SNAPSHOT_POLICY } from "./lib/policy-names";
import { AUDIT_FILE_PATH, BACKUP_NAME, SNAPSHOT_NAME } from "./lib/contracts";
import { CANARY, canaryValue, tenantRoleName } from "./lib/secret-store-manifests";
import {
    AutheliaClient,
    autheliaClient,
    AutheliaClientConfig,
    autheliaClientConfig,
    oidcRoleInputs,
    oidcTune,
    OidcSlice,
} from "./lib/oidc";
import {
    checkPolicy,
    groupPolicyNames,
    loadPolicyTemplates,
    PolicySlice,
    PolicyTemplateError,
    READER_TEMPLATE,
    renderPolicies,
    RenderedPolicy,
    tenantPolicies,
    tenantPolicyName,
} from "./lib/policies";
import { after, Readiness, readinessOf } from "./lib/readiness";

/** The keys the KV mounts are built from: the served clusters and `kv`. */
export type KvSlice = Pick<PlatformConfig, "cluster" | "kv"> & {
    readonly kubernetesAuth: Pick<PlatformConfig["kubernetesAuth"], "remoteClusters">;
};

/**
 * The config keys Vault's setup reads: `audit`, `kv`, `oidc` (and
 * `exposure.host` for its redirects), `kubernetesAuth`, the policy inputs,
 * `storage.protect` (KV mounts are data), `trust.caBundle` (OIDC discovery),
 * `server.namespace` (the snapshot role) and ESO's ServiceAccount.
 */
export type SetupSlice = PolicySlice &
    OidcSlice &
    KvSlice &
    Pick<PlatformConfig, "audit" | "trust"> & {
        readonly storage: Pick<PlatformConfig["storage"], "protect">;
        readonly externalSecrets: Pick<
            PlatformConfig["externalSecrets"],
            "serviceAccount" | "namespace" | "canary" | "tenants"
        >;
    };

/** What VaultConfiguration is built from; setupArgs (platform-args.ts) makes it. */
export interface VaultConfigurationArgs {
    /** The slice of the validated stack config Vault's setup reads. */
    readonly config: SetupSlice;
    /** The explicit Vault provider from VaultBootstrap. */
    readonly provider: vault.Provider;
    /** Bootstrap readiness (VaultBootstrap.ready): nothing is configured before Vault is initialized and unsealed. */
    readonly ready: pulumi.Input<pulumi.Resource[]>;
    /** Directory of the ACL policy templates; default `policies/` (tests point elsewhere). */
    readonly policyDir?: string;
}

/** Kubernetes auth role of the raft snapshot job, on the local mount. */
export const RAFT_SNAPSHOT_ROLE = "raft-snapshot";
/** ServiceAccount of the raft snapshot job, in Vault's namespace. */
export const SNAPSHOT_SERVICE_ACCOUNT = SNAPSHOT_NAME;
/** Kubernetes auth role of the KV export job, on the local mount. */
export const KV_BACKUP_ROLE = "kv-backup";
/** ServiceAccount of the KV export job, in Vault's namespace. */
export const BACKUP_SERVICE_ACCOUNT = BACKUP_NAME;

/** Where the file audit device writes: the chart's audit volume, or the pod log. */
export function auditFilePath(target: "file" | "stdout"): string {
    return target === "stdout" ? "stdout" : AUDIT_FILE_PATH;
}

/** One KV v2 mount and its engine settings. */
export interface KvMountSpec {
    readonly path: string;
    readonly description: string;
    readonly maxVersions: number;
    readonly casRequired: boolean;
    /** Seconds; 0 keeps versions. */
    readonly deleteVersionAfter: number;
}

/**
 * Every KV v2 mount this Vault serves: the cluster's own, one per remote
 * cluster (same settings as the cluster's), then the shared mounts.
 */
export function kvMounts(config: KvSlice): KvMountSpec[] {
    const settings = (s: PlatformConfig["kv"]["cluster"]) => ({
        maxVersions: s.maxVersions,
        casRequired: s.casRequired,
        deleteVersionAfter: durationSeconds(s.deleteVersionAfter),
    });
    const clusters = [config.cluster.name, ...config.kubernetesAuth.remoteClusters.map((r) => r.name)];
    return [
        ...clusters.map((cluster) => ({
            path: cluster,
            description: `Secrets of cluster ${cluster}: <app>/<category>/<secret>`,
            ...settings(config.kv.cluster),
        })),
        ...config.kv.shared.map((m) => ({
            path: m.name,
            description: m.description ?? `Shared secrets (readable paths: ${m.readablePaths.join(", ")})`,
            ...settings(m),
        })),
    ];
}

/**
 * Audit, KV v2 mounts, ACL policies, OIDC login and Kubernetes auth, through
 * the Vault provider. The audit device comes first: every other child waits
 * for it, so no request goes unaudited.
 */
export class VaultConfiguration extends pulumi.ComponentResource {
    /** Mount path of this cluster's Kubernetes auth backend. */
    public readonly kubernetesAuthPath: pulumi.Output<string>;
    /** Kubernetes auth role External Secrets logs in with. */
    public readonly externalSecretsRole: pulumi.Output<string>;
    /** The tenant groups' Kubernetes auth roles, by tenant name (externalSecrets.tenants). */
    public readonly tenantRoles: pulumi.Output<Record<string, string>>;
    /** This cluster's KV v2 mount. */
    public readonly clusterMount: pulumi.Output<string>;
    /** SHA-256 (hex) of the canary value, with externalSecrets.canary on. */
    public readonly canarySha256?: pulumi.Output<string>;
    /** Readiness of the canary key in Vault, with externalSecrets.canary on. */
    public readonly canaryReady?: Readiness;
    /** Names of the ACL policies created (per-cluster ones carry the cluster suffix). */
    public readonly policyNames: pulumi.Output<string[]>;
    /** The matching Authelia client definition (no secret); undefined when OIDC is off. */
    public readonly autheliaClient?: AutheliaClient;
    /**
     * The same definition with the client secret's digest as `client_secret`, a secret Output (the
     * operator's oidcClientSecret, or the generated one); undefined when OIDC is off.
     */
    public readonly autheliaClientConfig?: pulumi.Output<AutheliaClientConfig>;
    /** The generated client secret (oidcClientSecret unset); undefined when the operator set one, or OIDC is off. */
    public readonly generatedClientSecret?: random.RandomPassword;
    /** Kubernetes auth role of the raft snapshot job (raft with snapshots on only). */
    public readonly snapshotRole?: vault.kubernetes.AuthBackendRole;
    /** Readiness of that role (after its auth config and policy), for the snapshot job; with snapshotRole only. */
    public readonly snapshotReady?: Readiness;
    /** Kubernetes auth role of the KV export job (backup.enabled only). */
    public readonly backupRole?: vault.kubernetes.AuthBackendRole;
    /** Readiness of that role (after its auth config and policy), for the export job; with backupRole only. */
    public readonly backupReady?: Readiness;
    /** Readiness for the External Secrets stores: the ESO roles (after their auth config and reader policy) and the KV mounts with their settings. */
    public readonly ready: Readiness;

    constructor(name: string, args: VaultConfigurationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secret-platform:configuration:VaultConfiguration", name, {}, opts);
        const c = args.config;

        // Render every policy first: a template error stops the program before any resource.
        const templates = loadPolicyTemplates(args.policyDir);
        if (!templates.some((t) => t.name === READER_TEMPLATE && t.perCluster)) {
            throw new PolicyTemplateError(
                `policies/${READER_TEMPLATE}.hcl: required, and must use {{cluster_mount}} (the External Secrets reader)`,
            );
        }
        const rendered = [...renderPolicies(c, templates), ...tenantPolicies(c)];
        const groups = c.oidc.enabled ? groupPolicyNames(c, templates) : {};

        const base: pulumi.CustomResourceOptions = { parent: this, provider: args.provider };
        const audit = c.audit.enabled
            ? new vault.Audit(
                  `${name}-audit`,
                  {
                      type: "file",
                      path: c.audit.path,
                      description: "Every request and response, HMAC'd",
                      options: { file_path: auditFilePath(c.audit.target) },
                  },
                  { ...base, dependsOn: args.ready },
              )
            : undefined;
        // What every other child waits for: bootstrap, then the audit device.
        const audited = audit === undefined ? args.ready : after(args.ready, audit);
        const child: pulumi.CustomResourceOptions = { ...base, dependsOn: audited };
        // A KV mount's deletion deletes its secrets: protected like the bucket, and
        // always retained, so a destroy (even with protect off) never deletes them.
        const data: pulumi.CustomResourceOptions = {
            ...child,
            protect: c.storage.protect,
            retainOnDelete: true,
        };

        // KV v2 mounts and their engine settings.
        const mounts = new Map<string, vault.Mount>();
        const kvSettings: vault.kv.SecretBackendV2[] = [];
        for (const m of kvMounts(c)) {
            const mount = new vault.Mount(
                `${name}-kv-${m.path}`,
                { path: m.path, type: "kv", options: { version: "2" }, description: m.description },
                data,
            );
            mounts.set(m.path, mount);
            kvSettings.push(
                new vault.kv.SecretBackendV2(
                    `${name}-kv-${m.path}-settings`,
                    {
                        mount: mount.path,
                        maxVersions: m.maxVersions,
                        casRequired: m.casRequired,
                        deleteVersionAfter: m.deleteVersionAfter,
                    },
                    child,
                ),
            );
        }

        // ACL policies, each parsed with a real HCL parser before Vault sees it.
        const policies = new Map<string, vault.Policy>();
        for (const p of rendered) {
            policies.set(
                p.name,
                new vault.Policy(
                    `${name}-policy-${p.name}`,
                    { name: p.name, policy: pulumi.output(checkPolicy(p)) },
                    // The provider's own token carries `pulumi`: deleting it mid-destroy would strip that token of
                    // every right before the rest is deleted (seen under the real engine). It stays in Vault; the
                    // token itself is revoked last (VaultProviderToken).
                    p.name === PULUMI_POLICY ? { ...child, retainOnDelete: true } : child,
                ),
            );
        }
        const readerOf = (cluster: string): vault.Policy => {
            const p = rendered.find((r: RenderedPolicy) => r.template === READER_TEMPLATE && r.cluster === cluster);
            return policies.get(p?.name ?? "") as vault.Policy;
        };

        // OIDC login through Authelia; SSO groups map to policies through external groups.
        if (c.oidc.enabled) {
            // The operator's secret wins; unset, one is generated (its own explicit provider, made only then,
            // so a stack with the secret set needs no random plugin). A replacement (`pulumi up --replace`)
            // changes Vault's config and the client definition's digest together: both read this Output.
            let clientSecret = c.oidc.clientSecret;
            if (clientSecret === undefined) {
                const randomProvider = new random.Provider(`${name}-random`, {}, { parent: this });
                this.generatedClientSecret = new random.RandomPassword(
                    `${name}-oidc-client-secret`,
                    // 64 letters and digits: about 380 bits, nothing to escape in Authelia's YAML or a header.
                    { length: 64, special: false },
                    { parent: this, provider: randomProvider },
                );
                // Secret by additionalSecretOutputs already; wrapped too, so no path ever loses that.
                clientSecret = pulumi.secret(this.generatedClientSecret.result);
            }
            const oidc = new vault.jwt.AuthBackend(
                `${name}-oidc`,
                {
                    path: c.oidc.path,
                    type: "oidc",
                    description: `SSO through ${c.oidc.issuer}`,
                    oidcDiscoveryUrl: c.oidc.issuer,
                    // oidc.discoveryCaPem overrides trust.caBundle (the issuer is one of the private endpoints).
                    oidcDiscoveryCaPem: c.oidc.discoveryCaPem ?? c.trust.caBundle,
                    oidcClientId: c.oidc.clientId,
                    oidcClientSecret: clientSecret,
                    defaultRole: c.oidc.defaultRole,
                    tune: oidcTune(c),
                },
                { ...child, additionalSecretOutputs: ["oidcClientSecret"] },
            );
            new vault.jwt.AuthBackendRole(
                `${name}-oidc-role`,
                { backend: c.oidc.path, ...oidcRoleInputs(c) },
                { ...child, dependsOn: after(audited, oidc) },
            );
            for (const [group, names] of Object.entries(groups)) {
                const identityGroup = new vault.identity.Group(
                    `${name}-group-${group}`,
                    {
                        name: group,
                        type: "external",
                        // Policy resources' names, so the group waits for its policies.
                        policies: names.map((n) => policies.get(n)?.name ?? n),
                        metadata: { source: "sso", issuer: c.oidc.issuer },
                    },
                    child,
                );
                new vault.identity.GroupAlias(
                    `${name}-group-${group}-alias`,
                    { name: group, mountAccessor: oidc.accessor, canonicalId: identityGroup.id },
                    child,
                );
            }
            this.autheliaClient = autheliaClient(c);
            this.autheliaClientConfig = pulumi.secret(clientSecret.apply((secret) => autheliaClientConfig(c, secret)));
        }

        // Kubernetes auth for External Secrets: this cluster, then each remote cluster.
        const k = c.kubernetesAuth;
        const auth = (
            suffix: string,
            cluster: string,
            path: string,
            config: vault.kubernetes.AuthBackendConfigArgs,
        ) => {
            const backend = new vault.AuthBackend(
                `${name}-k8s-auth${suffix}`,
                { type: "kubernetes", path, description: `Kubernetes service accounts of cluster ${cluster}` },
                child,
            );
            const authConfig = new vault.kubernetes.AuthBackendConfig(
                `${name}-k8s-auth${suffix}-config`,
                { ...config, backend: backend.path },
                { ...child, additionalSecretOutputs: ["tokenReviewerJwt"] },
            );
            return { backend, authConfig };
        };
        const role = (
            suffix: string,
            roleName: string,
            policy: vault.Policy,
            backend: vault.AuthBackend,
            authConfig: vault.kubernetes.AuthBackendConfig,
            sa: { serviceAccount: string; namespace: string },
        ) =>
            new vault.kubernetes.AuthBackendRole(
                `${name}-k8s-auth${suffix}-role`,
                {
                    backend: backend.path,
                    roleName,
                    boundServiceAccountNames: [sa.serviceAccount],
                    boundServiceAccountNamespaces: [sa.namespace],
                    // Only tokens minted for Vault (the stores' serviceAccountRef.audiences), not the API server's.
                    audience: k.audience,
                    tokenPolicies: [policy.name],
                    tokenTtl: durationSeconds(k.tokenTtl),
                    tokenMaxTtl: durationSeconds(k.tokenMaxTtl),
                },
                { ...child, dependsOn: after(audited, authConfig) },
            );

        // Vault runs in this cluster: its pod's CA and ServiceAccount token review logins.
        const local = auth("", c.cluster.name, k.path, {
            kubernetesHost: k.host,
            kubernetesCaCert: k.caCert,
            disableLocalCaJwt: false,
        });
        const localRole = role(
            "",
            k.role,
            readerOf(c.cluster.name),
            local.backend,
            local.authConfig,
            c.externalSecrets,
        );
        const roles = [localRole];
        // One role per tenant group, same login ServiceAccount, its own narrow policy.
        const tenantRoles: Record<string, pulumi.Output<string>> = {};
        for (const t of c.externalSecrets.tenants) {
            const policy = policies.get(tenantPolicyName(c.cluster.name, t.name)) as vault.Policy;
            const r = role(
                `-tenant-${t.name}`,
                tenantRoleName(k.role, t.name),
                policy,
                local.backend,
                local.authConfig,
                c.externalSecrets,
            );
            roles.push(r);
            tenantRoles[t.name] = r.roleName;
        }
        const snapshotPolicy = policies.get(RAFT_SNAPSHOT_POLICY);
        if (snapshotPolicy !== undefined) {
            // Only the snapshot job's ServiceAccount; a token that outlives one snapshot by little.
            this.snapshotRole = new vault.kubernetes.AuthBackendRole(
                `${name}-k8s-auth-raft-snapshot-role`,
                {
                    backend: local.backend.path,
                    roleName: RAFT_SNAPSHOT_ROLE,
                    boundServiceAccountNames: [SNAPSHOT_SERVICE_ACCOUNT],
                    boundServiceAccountNamespaces: [c.server.namespace],
                    tokenPolicies: [snapshotPolicy.name],
                    tokenTtl: 300,
                    tokenMaxTtl: 900,
                    tokenNoDefaultPolicy: true,
                },
                { ...child, dependsOn: after(audited, local.authConfig) },
            );
        }
        const backupPolicy = policies.get(KV_BACKUP_POLICY);
        if (backupPolicy !== undefined) {
            // Only the export job's ServiceAccount; read-only on the managed mounts, for one export's time.
            this.backupRole = new vault.kubernetes.AuthBackendRole(
                `${name}-k8s-auth-kv-backup-role`,
                {
                    backend: local.backend.path,
                    roleName: KV_BACKUP_ROLE,
                    boundServiceAccountNames: [BACKUP_SERVICE_ACCOUNT],
                    boundServiceAccountNamespaces: [c.server.namespace],
                    tokenPolicies: [backupPolicy.name],
                    tokenTtl: 300,
                    tokenMaxTtl: 900,
                    tokenNoDefaultPolicy: true,
                },
                // The mounts too: an export before they exist would find nothing and succeed.
                { ...child, dependsOn: after(audited, local.authConfig, ...mounts.values()) },
            );
        }
        for (const r of k.remoteClusters) {
            // Another cluster's API: its own CA and reviewer token, never Vault's local ones.
            const remote = auth(`-${r.name}`, r.name, `kubernetes-${r.name}`, {
                kubernetesHost: r.host,
                kubernetesCaCert: r.caCert,
                tokenReviewerJwt: r.reviewerJwt,
                disableLocalCaJwt: true,
            });
            roles.push(role(`-${r.name}`, k.role, readerOf(r.name), remote.backend, remote.authConfig, r));
        }

        this.kubernetesAuthPath = local.backend.path;
        this.externalSecretsRole = localRole.roleName;
        this.tenantRoles = pulumi.all(tenantRoles);
        this.clusterMount = (mounts.get(c.cluster.name) as vault.Mount).path;

        // The canary: a known value under the cluster's mount, read back by the canary ExternalSecret. Not a
        // credential, so not random (the real engine may lack the random plugin); written as a secret all the same.
        if (c.externalSecrets.canary) {
            const value = canaryValue(c.cluster.name);
            const canary = new vault.kv.SecretV2(
                `${name}-canary`,
                {
                    mount: this.clusterMount,
                    name: CANARY.remoteKey,
                    // A mount that requires check-and-set takes the first write with cas 0; the value never changes.
                    ...(c.kv.cluster.casRequired ? { cas: 0 } : {}),
                    dataJson: pulumi.secret(JSON.stringify({ [CANARY.property]: value })),
                },
                { ...child, dependsOn: after(audited, ...kvSettings) },
            );
            this.canarySha256 = pulumi.output(crypto.createHash("sha256").update(value).digest("hex"));
            this.canaryReady = readinessOf([canary]);
        }
        this.policyNames = pulumi.all([...policies.values()].map((p) => p.name));
        this.ready = readinessOf([...roles, ...mounts.values(), ...kvSettings]);
        this.snapshotReady = this.snapshotRole === undefined ? undefined : readinessOf([this.snapshotRole]);
        this.backupReady = this.backupRole === undefined ? undefined : readinessOf([this.backupRole]);
        this.registerOutputs({
            kubernetesAuthPath: this.kubernetesAuthPath,
            externalSecretsRole: this.externalSecretsRole,
            tenantRoles: this.tenantRoles,
            clusterMount: this.clusterMount,
            canarySha256: this.canarySha256,
            policyNames: this.policyNames,
            autheliaClient: this.autheliaClient,
            autheliaClientConfig: this.autheliaClientConfig,
        });
    }
}
