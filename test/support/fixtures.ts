/**
 * Valid stack configs the specs start from; each call returns a fresh copy
 * that a test may change before running the program.
 */
import type { VaultStoreInput } from "../../components/lib/secret-store-manifests";
import { StackConfig } from "./program";

/** A homelab stack like amiya: Garage storage, Shamir keys and the unsealer. */
export function homelabStack(): StackConfig & { values: Record<string, any>; secrets: Record<string, any> } {
    return {
        values: {
            cluster: { name: "amiya.akn", domain: "amiya.akn" },
            storage: {
                mode: "s3-compatible",
                bucket: "vault-amiya",
                region: "garage",
                endpoint: "https://s3.amiya.akn",
                prefix: "vault/",
            },
            oidc: {
                issuer: "https://auth.amiya.akn",
                groups: { "vault-admins": ["admin"], developers: ["operator"], viewers: ["read-only"] },
            },
            // An Ingress needs its class (amiya's is traefik; the specs of other classes set theirs).
            exposure: { className: "nginx" },
            // As amiya's: the stores admit only namespaces a cluster admin labelled.
            externalSecrets: { namespaceConditions: [{ namespaceSelector: { matchLabels: { ...STORE_LABEL } } }] },
            // Every flow default deny would block: the config refuses a needed flow without a rule.
            networkPolicy: {
                egress: {
                    s3: { cidrs: ["192.168.10.20/32"], ports: [3900] },
                    oidc: { cidrs: ["192.168.10.21/32"] },
                    kubernetesApi: { cidrs: ["192.168.10.10/32"], ports: [6443] },
                },
            },
        },
        secrets: {
            storageAccessKeyId: "GKtestaccesskey",
            storageSecretAccessKey: "test-storage-secret-key",
            oidcClientSecret: "test-oidc-client-secret",
        },
    };
}

/** The namespace label amiya's stores admit (externalSecrets.namespaceConditions in Pulumi.amiya.yaml). */
export const STORE_LABEL = { "secret-platform/external-secrets": "allowed" } as const;

/** An AWS stack: a hardened bucket, IAM user, KMS keys and the awskms seal. */
export function awsStack(): StackConfig & { values: Record<string, any>; secrets: Record<string, any> } {
    return {
        values: {
            cluster: { name: "prod.example", domain: "prod.example.com" },
            storage: { mode: "aws", bucket: "prod-example-vault", region: "eu-west-1" },
            oidc: { issuer: "https://auth.example.com", groups: { admins: ["admin"] } },
            exposure: { className: "nginx" },
            // The explicit opt-out of namespace conditions (the guard pack reports it, advisory).
            externalSecrets: { allNamespaces: true },
            networkPolicy: {
                egress: {
                    s3: { cidrs: ["52.218.0.0/17"] },
                    kms: { cidrs: ["52.94.0.0/22"] },
                    oidc: { cidrs: ["203.0.113.10/32"] },
                    kubernetesApi: { cidrs: ["10.0.0.0/16"], ports: [6443] },
                },
            },
        },
        secrets: { oidcClientSecret: "test-oidc-client-secret" },
    };
}

/** networkPolicy.egress.kms for a stack that switches to the awskms seal (the config requires one then). */
export const KMS_EGRESS = { cidrs: ["52.94.0.0/22"] };

/** The homelab stack's ClusterSecretStore inputs, for the ESO builder specs. */
export const HOMELAB_STORE_INPUT: VaultStoreInput = {
    name: "vault-amiya-akn",
    server: "http://vault.vault.svc:8200",
    mount: "amiya.akn",
    authMountPath: "kubernetes-amiya.akn",
    role: "external-secrets",
    serviceAccount: { name: "vault-login", namespace: "external-secrets" },
    audience: "vault",
};
