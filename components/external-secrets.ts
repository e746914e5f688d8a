import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "./config";
import {
    CLUSTER_SECRET_STORE,
    ESO_API_VERSION,
    esoChartValues,
    esoNamespaceLabels,
    K8sObject,
    loginServiceAccount,
    PLATFORM_LABELS,
    remoteClusterManifests,
    sharedStoreMounts,
    sharedStoreSuffix,
    CANARY,
    canaryExternalSecret,
    canaryNamespaceLabels,
    storeMetadata,
    tenantStoreName,
    vaultCaReference,
    vaultClusterSecretStore,
    vaultStoreCaBundle,
} from "./lib/secret-store-manifests";
import { after } from "./lib/readiness";

/**
 * The config keys the stores read: `externalSecrets`, the shared `kv` mounts,
 * `server` (the in-cluster URL's TLS CA), `trust.caBundle`, and what the
 * remote clusters' manifests name (`cluster.name`, `kubernetesAuth`,
 * `vault.address`).
 */
export type StoreSlice = Pick<
    PlatformConfig,
    "externalSecrets" | "kv" | "server" | "trust" | "cluster" | "kubernetesAuth" | "vault"
>;

/** What ExternalSecrets is built from; externalSecretsArgs (platform-args.ts) makes it. */
export interface ExternalSecretsArgs {
    /** The slice of the validated stack config the stores read. */
    readonly config: StoreSlice;
    /** The cluster's explicit Kubernetes provider. */
    readonly provider: k8s.Provider;
    /** Vault URL the store reads from (in-cluster service unless externalSecrets.serverUrl). */
    readonly vaultUrl: pulumi.Input<string>;
    /** Kubernetes auth mount path, from VaultConfiguration. */
    readonly kubernetesAuthPath: pulumi.Input<string>;
    /** Kubernetes auth role, from VaultConfiguration. */
    readonly role: pulumi.Input<string>;
    /** The tenant groups' Kubernetes auth roles by tenant name (externalSecrets.tenants), from VaultConfiguration. */
    readonly tenantRoles: pulumi.Input<Record<string, string>>;
    /** This cluster's KV v2 mount (named after cluster.name), from VaultConfiguration. */
    readonly clusterMount: pulumi.Input<string>;
    /** Readiness of the Vault role and mounts the stores read through (VaultConfiguration.ready). */
    readonly ready: pulumi.Input<pulumi.Resource[]>;
    /** Readiness of the canary key in Vault (VaultConfiguration.canaryReady); set with externalSecrets.canary. */
    readonly canaryReady?: pulumi.Input<pulumi.Resource[]>;
}

/**
 * The ClusterSecretStores that let External Secrets Operator read from Vault
 * (one for the cluster's mount, one per shared mount it may read), optionally
 * ESO itself from its chart, and the canary ExternalSecret (on by default).
 *
 * Login: every store names one dedicated ServiceAccount with no RBAC
 * (externalSecrets.serviceAccount, made here), never the controller's own.
 * ESO's controller requests short tokens for it through TokenRequest, which its
 * chart's ClusterRole already grants (`serviceaccounts/token: create`), for
 * Vault's audience only (kubernetesAuth.audience); Vault verifies them with its
 * own ServiceAccount, bound to `system:auth-delegator` by the Vault chart
 * (`server.authDelegator`). Remote clusters need a reviewer there: see
 * `remoteClusterManifests`.
 *
 * Namespaces: every store admits only externalSecrets.namespaceConditions
 * (unless allNamespaces); each tenant group's store admits only its own
 * namespaces and logs in with its own role.
 */
export class ExternalSecrets extends pulumi.ComponentResource {
    /** Name of the cluster's ClusterSecretStore. */
    public readonly storeName: pulumi.Output<string>;
    /** Store names of the shared mounts, by mount name. */
    public readonly sharedStoreNames: pulumi.Output<Record<string, string>>;
    /** Store names of the tenant groups, by tenant name. */
    public readonly tenantStoreNames: pulumi.Output<Record<string, string>>;
    /** `<namespace>/<name>` of the Secret the canary ExternalSecret writes, with externalSecrets.canary on. */
    public readonly canarySecret?: pulumi.Output<string>;
    /**
     * What each remote cluster's admin applies there, by remote name: the token
     * reviewer (ServiceAccount, system:auth-delegator binding, token Secret) and
     * that cluster's stores. Plain objects, no secrets.
     */
    public readonly remoteClusterManifests: Readonly<Record<string, K8sObject[]>>;

    constructor(name: string, args: ExternalSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secret-platform:eso:ExternalSecrets", name, {}, opts);
        const c = args.config;
        const es = c.externalSecrets;
        const child = { parent: this, provider: args.provider };

        let chart: k8s.helm.v4.Chart | undefined;
        let namespace: k8s.core.v1.Namespace | undefined;
        if (es.install) {
            namespace = new k8s.core.v1.Namespace(
                `${name}-namespace`,
                { metadata: { name: es.namespace, labels: esoNamespaceLabels() } },
                child,
            );
            chart = new k8s.helm.v4.Chart(
                `${name}-operator`,
                {
                    name: "external-secrets",
                    chart: "external-secrets",
                    version: es.chartVersion,
                    repositoryOpts: { repo: es.chartRepository },
                    namespace: namespace.metadata.name,
                    values: esoChartValues(),
                },
                child,
            );
        }
        const loginSa = loginServiceAccount(es.serviceAccount, es.namespace, { ...PLATFORM_LABELS });
        const login = new k8s.core.v1.ServiceAccount(
            `${name}-login`,
            {
                metadata: { ...loginSa.metadata, namespace: namespace?.metadata.name ?? es.namespace },
                automountServiceAccountToken: false,
            },
            child,
        );
        // The stores wait for the Vault role and their login ServiceAccount, and for the
        // CRDs and ESO's validating webhook when ESO is installed here.
        const storeDeps = after(chart === undefined ? args.ready : after(args.ready, chart), login);

        const store = (
            logical: string,
            storeName: string,
            mount: pulumi.Input<string>,
            role: pulumi.Input<string>,
            conditions: StoreSlice["externalSecrets"]["namespaceConditions"],
        ) => {
            const ca = vaultCaReference(c);
            const spec = pulumi.all([args.vaultUrl, args.kubernetesAuthPath, role, mount]).apply(
                ([server, authMountPath, roleName, path]) =>
                    vaultClusterSecretStore({
                        name: storeName,
                        server,
                        mount: path,
                        authMountPath,
                        role: roleName,
                        serviceAccount: { name: es.serviceAccount, namespace: es.namespace },
                        audience: c.kubernetesAuth.audience,
                        ca,
                        caBundle: vaultStoreCaBundle(c, server, ca),
                        conditions,
                    }).spec,
            );
            return new k8s.apiextensions.CustomResource(
                logical,
                { apiVersion: ESO_API_VERSION, kind: CLUSTER_SECRET_STORE, metadata: storeMetadata(storeName), spec },
                pulumi.mergeOptions(child, { dependsOn: storeDeps }),
            );
        };

        const conditions = es.namespaceConditions;
        const clusterStore = store(`${name}-store`, es.storeName, args.clusterMount, args.role, conditions);
        const shared: Record<string, string> = {};
        for (const m of sharedStoreMounts(c)) {
            store(`${name}-store-${sharedStoreSuffix(m.mount)}`, m.storeName, m.mount, args.role, conditions);
            shared[m.mount] = m.storeName;
        }
        const tenants: Record<string, string> = {};
        for (const t of es.tenants) {
            const storeName = tenantStoreName(es.storeName, t.name);
            const role = pulumi.output(args.tenantRoles).apply((roles) => {
                const r = roles[t.name];
                if (r === undefined) throw new Error(`no Vault role for tenant ${t.name}`);
                return r;
            });
            store(`${name}-store-tenant-${t.name}`, storeName, args.clusterMount, role, [{ namespaces: t.namespaces }]);
            tenants[t.name] = storeName;
        }

        if (es.canary) {
            const namespace = new k8s.core.v1.Namespace(
                `${name}-canary-namespace`,
                { metadata: { name: CANARY.namespace, labels: canaryNamespaceLabels(conditions) } },
                child,
            );
            const canary = canaryExternalSecret(es.storeName);
            // After the store, and after the stack wrote the key (else the first sync fails and waits a refresh).
            const external = new k8s.apiextensions.CustomResource(
                `${name}-canary`,
                {
                    apiVersion: canary.apiVersion,
                    kind: canary.kind,
                    metadata: { ...canary.metadata, namespace: namespace.metadata.name },
                    spec: canary.spec,
                },
                pulumi.mergeOptions(child, {
                    dependsOn: after(args.canaryReady ?? [], clusterStore),
                    customTimeouts: { create: "5m", update: "5m" },
                }),
            );
            this.canarySecret = external.metadata.apply(() => `${CANARY.namespace}/${CANARY.name}`);
        }

        this.storeName = clusterStore.metadata.apply((m) => m.name as string);
        this.sharedStoreNames = pulumi.output(shared);
        this.tenantStoreNames = pulumi.output(tenants);
        this.remoteClusterManifests = remoteClusterManifests(c);
        this.registerOutputs({
            storeName: this.storeName,
            sharedStoreNames: this.sharedStoreNames,
            tenantStoreNames: this.tenantStoreNames,
            canarySecret: this.canarySecret,
        });
    }
}
