import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { ConfigError, configWarnings, loadConfig, OBJECT_KEYS, SECRET_KEYS } from "../../components/config";
import { buildPlatform } from "../../components/platform";
import { readStackFile } from "../../ops/stack-file";
import { awsStack, homelabStack, KMS_EGRESS } from "../support/fixtures";
import { registrations } from "../support/mocks";
import { makeTestCa, TestCa } from "../support/test-ca";
import {
    configOf,
    configProblems,
    isSecret,
    runProgram,
    setStackConfig,
    StackConfig,
    valueOf,
} from "../support/program";

type Mutable = StackConfig & { values: Record<string, any>; secrets: Record<string, any> };

interface BadCase {
    readonly name: string;
    readonly base?: () => Mutable;
    readonly change: (s: Mutable) => void;
    /** Every line expected in the error, exactly. */
    readonly expect: readonly string[];
}

const ns = "secret-platform";
const EGRESS_HINT =
    "set cidrs for an endpoint outside the cluster, namespaces for one this cluster's ingress serves; docs/architecture/network-policy.md";
const cases: BadCase[] = [
    {
        name: "missing cluster",
        change: (s) => delete s.values.cluster,
        expect: [`${ns}:cluster: is required (see docs/configuration.md)`],
    },
    {
        name: "missing storage",
        change: (s) => delete s.values.storage,
        expect: [`${ns}:storage: is required (see docs/configuration.md)`],
    },
    {
        name: "cluster.name missing",
        change: (s) => delete s.values.cluster.name,
        expect: [`${ns}:cluster.name: is required`],
    },
    {
        name: "cluster.domain not a DNS name",
        change: (s) => (s.values.cluster.domain = "Amiya_AKN"),
        expect: [`${ns}:cluster.domain: must be a lower-case DNS name (e.g. vault.amiya.akn) (got "Amiya_AKN")`],
    },
    {
        name: "cluster as a string",
        change: (s) => (s.values.cluster = "amiya.akn"),
        expect: [`${ns}:cluster: must be an object (got "amiya.akn")`],
    },
    {
        name: "unknown storage mode",
        change: (s) => (s.values.storage.mode = "gcs"),
        expect: [`${ns}:storage.mode: must be one of "aws", "s3-compatible" (got "gcs")`],
    },
    {
        name: "bucket name with upper case",
        change: (s) => (s.values.storage.bucket = "Vault_Data"),
        expect: [
            `${ns}:storage.bucket: must be a valid S3 bucket name (3-63 lower-case letters, digits, '.' and '-') (got "Vault_Data")`,
        ],
    },
    {
        name: "endpoint not a URL",
        change: (s) => (s.values.storage.endpoint = "s3.amiya.akn"),
        expect: [`${ns}:storage.endpoint: must be an http or https URL (got "s3.amiya.akn")`],
    },
    {
        name: "s3-compatible without endpoint",
        change: (s) => delete s.values.storage.endpoint,
        expect: [`${ns}:storage.endpoint: is required in s3-compatible mode (e.g. https://s3.garage.example)`],
    },
    {
        name: "AWS-only identity in s3-compatible mode",
        change: (s) => (s.values.storage.identity = "role"),
        expect: [`${ns}:storage.identity: is an AWS-only option; remove it in s3-compatible mode`],
    },
    {
        name: "versioning true on an existing bucket (createBucket false)",
        change: (s) => Object.assign(s.values.storage, { createBucket: false, versioning: true }),
        expect: [
            `${ns}:storage.versioning: true is applied only to a bucket this stack creates (storage.createBucket true): turn versioning on for the existing bucket itself, and set false or remove this key`,
        ],
    },
    {
        name: "lifecycle days on an existing bucket, and on a created bucket without versioning",
        change: (s) =>
            Object.assign(s.values.storage, {
                createBucket: false,
                versioning: false,
                noncurrentVersionExpirationDays: 14,
                abortIncompleteMultipartUploadDays: 3,
            }),
        expect: [
            `${ns}:storage.noncurrentVersionExpirationDays: is applied only to a versioned bucket this stack creates (storage.createBucket and storage.versioning true): set the lifecycle rule on the bucket itself, and remove this key`,
            `${ns}:storage.abortIncompleteMultipartUploadDays: is applied only to a versioned bucket this stack creates (storage.createBucket and storage.versioning true): set the lifecycle rule on the bucket itself, and remove this key`,
        ],
    },
    {
        name: "lifecycle days on a created bucket without versioning",
        change: (s) => Object.assign(s.values.storage, { versioning: false, noncurrentVersionExpirationDays: 14 }),
        expect: [
            `${ns}:storage.noncurrentVersionExpirationDays: is applied only to a versioned bucket this stack creates (storage.createBucket and storage.versioning true): set the lifecycle rule on the bucket itself, and remove this key`,
        ],
    },
    {
        name: "endpoint in aws mode",
        base: awsStack,
        change: (s) => (s.values.storage.endpoint = "https://s3.example.com"),
        expect: [`${ns}:storage.endpoint: is only for s3-compatible mode (aws mode uses the regional AWS endpoint)`],
    },
    {
        name: "versioning off in aws mode",
        base: awsStack,
        change: (s) => (s.values.storage.versioning = false),
        expect: [
            `${ns}:storage.versioning: must stay true in aws mode: object versions are the point-in-time restore window`,
        ],
    },
    {
        name: "role identity without irsa",
        base: awsStack,
        change: (s) => (s.values.storage.identity = "role"),
        expect: [
            `${ns}:storage.irsa: is required when storage.identity is role (the cluster's OIDC provider ARN and URL)`,
        ],
    },
    {
        name: "audit rotation that does not fit the audit volume",
        change: (s) => (s.values.audit = { rotation: { maxSizeMi: 500, keep: 3 } }),
        expect: [
            `${ns}:audit.rotation.maxSizeMi: with audit.rotation.keep 3 needs (keep + 1) × maxSizeMi = 2000 MiB, more than 80% of server.auditStorage.size 2Gi (1638 MiB): lower maxSizeMi or keep, or grow the volume`,
        ],
    },
    {
        name: "provider token maximum age of zero days",
        change: (s) => (s.values.vault = { ...s.values.vault, providerTokenMaxAgeDays: 0 }),
        expect: [`${ns}:vault.providerTokenMaxAgeDays: must be at least 1 (got 0)`],
    },
    {
        name: "provider token maximum age in fractional days",
        change: (s) => (s.values.vault = { ...s.values.vault, providerTokenMaxAgeDays: 1.5 }),
        expect: [`${ns}:vault.providerTokenMaxAgeDays: must be an integer (got 1.5)`],
    },
    {
        name: "noncurrent expiration as a string",
        change: (s) => (s.values.storage.noncurrentVersionExpirationDays = "30"),
        expect: [`${ns}:storage.noncurrentVersionExpirationDays: must be a number (got "30")`],
    },
    {
        name: "unknown key inside storage",
        change: (s) => (s.values.storage.buckit = "x"),
        expect: [`${ns}:storage: unknown key 'buckit' (did you mean 'bucket'?)`],
    },
    {
        name: "unknown top-level key",
        change: (s) => (s.values.oidcIssuer = "https://auth.amiya.akn"),
        expect: [
            `${ns}:oidcIssuer: unknown key (known keys: audit, backup, cluster, exposure, externalSecrets, kubernetes, kubernetesAuth, kv, monitoring, networkPolicy, oidc, oidcClientSecret, remoteClusterReviewerJwts, sealAccessKeyId, sealSecretAccessKey, server, snapshotAccessKeyId, snapshotSecretAccessKey, storage, storageAccessKeyId, storageSecretAccessKey, trust, unseal, vault, vaultToken)`,
        ],
    },
    {
        name: "three replicas on S3 storage",
        change: (s) => (s.values.server = { replicas: 3 }),
        expect: [
            `${ns}:server.replicas: must be 1 with server.storageBackend s3: Vault's S3 storage backend has no HA (use storageBackend raft for 3 or 5 replicas)`,
        ],
    },
    {
        name: "four raft replicas",
        change: (s) => (s.values.server = { storageBackend: "raft", replicas: 4 }),
        expect: [`${ns}:server.replicas: must be 1, 3 or 5 with raft storage (an odd quorum)`],
    },
    {
        name: "unknown storage backend",
        change: (s) => (s.values.server = { storageBackend: "consul" }),
        expect: [`${ns}:server.storageBackend: must be one of "s3", "raft" (got "consul")`],
    },
    {
        name: "unknown anti-affinity mode",
        change: (s) => (s.values.server = { storageBackend: "raft", replicas: 3, antiAffinity: "soft" }),
        expect: [`${ns}:server.antiAffinity: must be one of "required", "preferred" (got "soft")`],
    },
    {
        name: "chart version not pinned",
        change: (s) => (s.values.server = { chartVersion: "latest" }),
        expect: [`${ns}:server.chartVersion: must be an exact chart version such as 0.34.1 (got "latest")`],
    },
    {
        name: "a metrics scrape without a monitoring namespace",
        change: (s) => (s.values.server = { metricsScrape: "serviceMonitor" }),
        expect: [
            `${ns}:server.metricsScrape: needs networkPolicy.monitoringNamespace (the namespace of the scraper that may reach the metrics listener)`,
        ],
    },
    {
        name: "internal TLS without a certificate Secret",
        change: (s) => (s.values.server = { tls: { mode: "internal" } }),
        expect: [
            `${ns}:server.tls.secretName: is required when server.tls.mode is internal (a Secret with tls.crt and tls.key)`,
        ],
    },
    {
        name: "awskms seal on s3-compatible storage without a key",
        change: (s) => {
            s.values.unseal = { mode: "awskms" };
            s.values.networkPolicy.egress.kms = KMS_EGRESS;
            s.secrets.sealAccessKeyId = "AKIAEXAMPLE";
            s.secrets.sealSecretAccessKey = "secret";
        },
        expect: [
            `${ns}:unseal.kmsKeyId: is required for the awskms unseal mode with s3-compatible storage (in that mode the program creates no AWS resources)`,
        ],
    },
    {
        name: "awskms seal on s3-compatible storage with a key alias and no kmsRegion",
        change: (s) => {
            s.values.unseal = { mode: "awskms", kmsKeyId: "alias/vault-seal" };
            s.values.networkPolicy.egress.kms = KMS_EGRESS;
            s.secrets.sealAccessKeyId = "AKIAEXAMPLE";
            s.secrets.sealSecretAccessKey = "secret";
        },
        expect: [
            `${ns}:unseal.kmsRegion: is required for the awskms seal with s3-compatible storage when unseal.kmsKeyId is not a key ARN (storage.region is the S3 server's region, not AWS's)`,
        ],
    },
    {
        name: "threshold above shares",
        change: (s) => (s.values.unseal = { secretShares: 3, secretThreshold: 4 }),
        expect: [`${ns}:unseal.secretThreshold: must not exceed unseal.secretShares (3)`],
    },
    {
        name: "threshold of one with several shares",
        change: (s) => (s.values.unseal = { secretShares: 5, secretThreshold: 1 }),
        expect: [`${ns}:unseal.secretThreshold: must be at least 2 when unseal.secretShares is above 1 (Vault's rule)`],
    },
    {
        name: "bad cron schedule",
        change: (s) => (s.values.unseal = { schedule: "every minute" }),
        expect: [`${ns}:unseal.schedule: must be a five-field cron schedule (got "every minute")`],
    },
    {
        name: "OIDC issuer over http",
        change: (s) => (s.values.oidc.issuer = "http://auth.amiya.akn"),
        expect: [`${ns}:oidc.issuer: must be an https URL (got "http://auth.amiya.akn")`],
    },
    {
        name: "OIDC enabled without issuer",
        change: (s) => delete s.values.oidc.issuer,
        expect: [`${ns}:oidc.issuer: is required when oidc.enabled is true (the Authelia issuer, an https URL)`],
    },
    {
        name: "SSO group mapped to an unknown policy",
        change: (s) => (s.values.oidc.groups = { developers: ["superuser"] }),
        expect: [
            `${ns}:oidc.groups.developers: unknown policy 'superuser' (known: admin, default, external-secrets-reader, operator, read-only)`,
        ],
    },
    {
        name: "SSO group mapped to no policy",
        change: (s) => (s.values.oidc.groups = { developers: [] }),
        expect: [`${ns}:oidc.groups.developers: must list at least one policy (got [])`],
    },
    {
        name: "token TTL above max",
        change: (s) => (s.values.oidc.tokenTtl = "12h"),
        expect: [`${ns}:oidc.tokenTtl: must not exceed oidc.tokenMaxTtl`],
    },
    {
        name: "duration without unit",
        change: (s) => (s.values.kubernetesAuth = { tokenTtl: "600" }),
        expect: [`${ns}:kubernetesAuth.tokenTtl: must be a duration such as 30s, 10m or 1h (got "600")`],
    },
    {
        name: "OIDC client secret in plaintext",
        change: (s) => {
            s.values.oidcClientSecret = s.secrets.oidcClientSecret;
            delete s.secrets.oidcClientSecret;
        },
        expect: [
            `${ns}:oidcClientSecret: must be set as a secret, not written in plain text: pulumi config set --secret oidcClientSecret (it prompts for the value)`,
        ],
    },
    {
        name: "S3 credentials in plaintext",
        change: (s) => {
            s.values.storageSecretAccessKey = s.secrets.storageSecretAccessKey;
            delete s.secrets.storageSecretAccessKey;
        },
        expect: [
            `${ns}:storageSecretAccessKey: must be set as a secret, not written in plain text: pulumi config set --secret storageSecretAccessKey (it prompts for the value)`,
        ],
    },
    {
        name: "S3 credentials missing in s3-compatible mode",
        change: (s) => delete s.secrets.storageAccessKeyId,
        expect: [
            `${ns}:storageAccessKeyId: is required in s3-compatible mode: pulumi config set --secret storageAccessKeyId (it prompts for the value)`,
        ],
    },
    {
        name: "S3 credentials set in aws mode",
        base: awsStack,
        change: (s) => (s.secrets.storageAccessKeyId = "AKIAEXAMPLE"),
        expect: [
            `${ns}:storageAccessKeyId: is only for s3-compatible mode (aws mode creates Vault's own IAM credentials)`,
        ],
    },
    {
        name: "reviewer JWT in plaintext",
        change: (s) => {
            s.values.kubernetesAuth = {
                remoteClusters: [
                    {
                        name: "rhodes.akn",
                        host: "https://rhodes.akn:6443",
                        caCert: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                    },
                ],
            };
            s.values.remoteClusterReviewerJwts = { "rhodes.akn": "eyJhbGciOi" };
        },
        expect: [
            `${ns}:remoteClusterReviewerJwts: must be set as a secret, not written in plain text: pulumi config set --secret remoteClusterReviewerJwts (it prompts for the value)`,
        ],
    },
    {
        name: "remote cluster without its reviewer JWT",
        change: (s) => {
            s.values.kubernetesAuth = {
                remoteClusters: [
                    {
                        name: "rhodes.akn",
                        host: "https://rhodes.akn:6443",
                        caCert: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                    },
                ],
            };
            s.secrets.remoteClusterReviewerJwts = { "other.akn": "eyJhbGciOi" };
        },
        expect: [
            `${ns}:remoteClusterReviewerJwts: is missing the token-reviewer JWT of remote cluster 'rhodes.akn'`,
            `${ns}:remoteClusterReviewerJwts: has a JWT for 'other.akn', which is not in kubernetesAuth.remoteClusters`,
        ],
    },
    {
        name: "remote cluster CA that is not PEM",
        change: (s) => {
            s.values.kubernetesAuth = {
                remoteClusters: [{ name: "rhodes.akn", host: "https://rhodes.akn:6443", caCert: "not-a-cert" }],
            };
            s.secrets.remoteClusterReviewerJwts = { "rhodes.akn": "eyJhbGciOi" };
        },
        expect: [
            `${ns}:kubernetesAuth.remoteClusters[0].caCert: must be a PEM certificate (-----BEGIN CERTIFICATE-----) (got "not-a-cert")`,
        ],
    },
    {
        name: "shared mount named like the cluster",
        change: (s) => (s.values.kv = { shared: [{ name: "amiya.akn" }] }),
        expect: [`${ns}:kv.shared[0].name: must differ from cluster.name (amiya.akn is the cluster's own mount)`],
    },
    {
        name: "Vault's image digest that is not a sha256 digest",
        change: (s) => (s.values.server = { image: { digest: "2.0.4" } }),
        expect: [`${ns}:server.image.digest: must be an image digest such as sha256:<64 hex> (got "2.0.4")`],
    },
    {
        // Positive controls: the homelab fixture names its class; kind none and httproute need none.
        name: "an Ingress without its class (its sys/ block is built per controller)",
        change: (s) => (s.values.exposure = { kind: "ingress", certManagerIssuer: "amiya-ca" }),
        expect: [
            `${ns}:exposure.className: is required when exposure.kind is ingress: name the IngressClass (e.g. traefik or nginx), since the Ingress that keeps sys/generate-root, sys/rekey and the other unauthenticated ceremonies off the exposed host is built for its controller, and the cluster's default class cannot be known here`,
        ],
    },
    {
        name: "httproute without a gateway",
        change: (s) => (s.values.exposure = { kind: "httproute" }),
        expect: [
            `${ns}:exposure.gateway: is required when exposure.kind is httproute (the parent Gateway's name and namespace)`,
        ],
    },
    {
        name: "httproute with internal TLS (no BackendTLSPolicy)",
        change: (s) => {
            s.values.exposure = { kind: "httproute", gateway: { name: "gw", namespace: "gateway" } };
            s.values.server = { tls: { mode: "internal", secretName: "vault-server-tls" } };
        },
        expect: [
            `${ns}:server.tls.mode: internal is not supported with exposure.kind httproute (the Gateway would need a BackendTLSPolicy trusting Vault's CA, which this program does not create): use server.tls.mode ingress, or exposure.kind ingress`,
        ],
    },
    {
        name: "egress CIDR that is not a CIDR",
        change: (s) => (s.values.networkPolicy = { egress: { s3: { cidrs: ["192.168.10.20"] } } }),
        expect: [
            `${ns}:networkPolicy.egress.s3.cidrs[0]: must be a CIDR block such as 10.0.0.0/8 (got "192.168.10.20")`,
        ],
    },
    {
        name: "egress rule with neither cidrs nor namespaces",
        change: (s) => (s.values.networkPolicy.egress.oidc = { ports: [8443] }),
        expect: [
            `${ns}:networkPolicy.egress.oidc: needs cidrs (addresses outside the cluster) or namespaces (in-cluster pods, e.g. the ingress controller serving that name), or both`,
        ],
    },
    {
        name: "egress namespace peer with a bad name and label",
        change: (s) =>
            (s.values.networkPolicy.egress.s3 = {
                namespaces: [{ name: "Traefik", podLabels: { "app/x/y": "traefik" } }],
            }),
        expect: [
            `${ns}:networkPolicy.egress.s3.namespaces[0].name: must be a Kubernetes name (lower-case letters, digits and '-', at most 63) (got "Traefik")`,
            `${ns}:networkPolicy.egress.s3.namespaces[0].podLabels.app/x/y: must be a label key such as app.kubernetes.io/name`,
        ],
    },
    {
        name: "NetworkPolicies on with no egress rule at all (the homelab default)",
        change: (s) => delete s.values.networkPolicy,
        expect: [
            `${ns}:networkPolicy.egress.s3: is required while networkPolicy.enabled is true: without it Vault cannot reach its S3 storage and does not start (${EGRESS_HINT})`,
            `${ns}:networkPolicy.egress.oidc: is required while networkPolicy.enabled is true: without it Vault cannot fetch the OIDC issuer's discovery document, and \`pulumi up\` fails configuring OIDC login (${EGRESS_HINT})`,
            `${ns}:networkPolicy.egress.kubernetesApi: is required while networkPolicy.enabled is true: without it Kubernetes auth logins fail (Vault cannot call TokenReview), so no ClusterSecretStore works (${EGRESS_HINT})`,
        ],
    },
    {
        name: "aws with the awskms seal and raft, egress to the OIDC issuer only",
        base: awsStack,
        change: (s) => {
            s.values.server = { storageBackend: "raft", replicas: 3 };
            s.values.networkPolicy = { egress: { oidc: { cidrs: ["192.0.2.10/32"] } } };
        },
        expect: [
            `${ns}:networkPolicy.egress.s3: is required while networkPolicy.enabled is true: without it the raft snapshot job cannot upload snapshots to the bucket (${EGRESS_HINT})`,
            `${ns}:networkPolicy.egress.kms: is required while networkPolicy.enabled is true: without it the awskms seal cannot reach KMS and Vault stays sealed (${EGRESS_HINT})`,
            `${ns}:networkPolicy.egress.kubernetesApi: is required while networkPolicy.enabled is true: without it Kubernetes auth logins fail (Vault cannot call TokenReview), so no ClusterSecretStore works, and raft service registration fails (${EGRESS_HINT})`,
        ],
    },
    {
        name: "resources quantity typo",
        change: (s) => (s.values.server = { resources: { requests: { memory: "256MB" } } }),
        expect: [
            `${ns}:server.resources.requests.memory: must be a Kubernetes quantity such as 250m, 512Mi or 10Gi (got "256MB")`,
        ],
    },
    {
        name: "External Secrets in Vault's namespace",
        change: (s) => (s.values.externalSecrets.namespace = "vault"),
        expect: [
            `${ns}:externalSecrets.namespace: must differ from server.namespace (Vault's namespace is default-deny)`,
        ],
    },
    {
        name: "invalid JSON-ish value for an object key",
        change: (s) => (s.values.server = "{replicas: 1"),
        expect: [`${ns}:server: must be an object (got "{replicas: 1")`],
    },
    {
        name: "vault.address over plain http off this machine",
        change: (s) => (s.values.vault = { address: "http://vault.amiya.akn:8200" }),
        expect: [
            `${ns}:vault.address: is plain http to vault.amiya.akn:8200: the provider token and the unseal key shares would cross the network in clear; use https (trust a private CA with trust.caBundle), or set vault.allowInsecure: true to accept that`,
        ],
    },
    {
        name: "vault.skipTlsVerify without the acknowledgement",
        change: (s) => (s.values.vault = { skipTlsVerify: true }),
        expect: [
            `${ns}:vault.skipTlsVerify: is true: any server could then stand in for Vault and receive the provider token and the unseal key shares; trust the CA with trust.caBundle instead, or set vault.allowInsecure: true to accept that`,
        ],
    },
    {
        name: "vault.movedFrom naming the current address",
        change: (s) => (s.values.vault = { address: "https://vault.amiya.akn", movedFrom: "https://vault.amiya.akn" }),
        expect: [
            `${ns}:vault.movedFrom: is vault.address itself: it names the address Vault had before the move (remove it when nothing moved)`,
        ],
    },
    {
        name: "vault.acknowledgeCa that is not a SHA-256 digest",
        change: (s) => (s.values.vault = { acknowledgeCa: "E3B0C442" }),
        expect: [`${ns}:vault.acknowledgeCa: must be a SHA-256 digest: 64 lowercase hex digits (got "E3B0C442")`],
    },
];

describe("loadConfig", () => {
    describe("rejects bad input, naming every offending key", () => {
        it("has at least 25 cases", () => assert.ok(cases.length >= 25, String(cases.length)));
        for (const c of cases) {
            it(c.name, () => {
                const stack = (c.base ?? homelabStack)();
                c.change(stack);
                assert.deepEqual(configProblems(stack), c.expect);
            });
        }
    });

    it("accepts plain http on loopback, and http or skipTlsVerify with vault.allowInsecure; a real move", () => {
        for (const vault of [
            { address: "http://127.0.0.1:8200" },
            { address: "http://localhost:8200" },
            { address: "http://vault.amiya.akn:8200", allowInsecure: true },
            { skipTlsVerify: true, allowInsecure: true },
            { address: "https://vault.new.akn", movedFrom: "https://vault.amiya.akn" },
        ]) {
            const stack = homelabStack();
            stack.values.vault = vault;
            assert.equal(configOf(stack).vault.skipTlsVerify, vault.skipTlsVerify === true, JSON.stringify(vault));
        }
    });

    describe("vault.acknowledgeCa names the configured trust.caBundle", () => {
        let ca: TestCa;
        let digest: string;
        const EMPTY_DIGEST = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        before(() => {
            ca = makeTestCa("config spec CA");
            digest = createHash("sha256").update(ca.caPem, "utf8").digest("hex");
        });
        after(() => ca?.cleanup());
        const withAck = (acknowledgeCa: string, caBundle?: string) => {
            const stack = homelabStack();
            if (caBundle !== undefined) stack.values.trust = { caBundle };
            stack.values.vault = { acknowledgeCa };
            return stack;
        };

        it("refuses another bundle's digest, naming the key and the digest of the configured bundle", () => {
            assert.deepEqual(configProblems(withAck(EMPTY_DIGEST, ca.caPem)), [
                `${ns}:vault.acknowledgeCa: is not the SHA-256 of trust.caBundle as configured: that is ${digest}; set it to that value to acknowledge this bundle, or remove it`,
            ]);
            assert.deepEqual(configProblems(withAck(digest)), [
                `${ns}:vault.acknowledgeCa: is not the SHA-256 of trust.caBundle as configured: that is ${EMPTY_DIGEST} (no trust.caBundle: the empty string's); set it to that value to acknowledge this bundle, or remove it`,
            ]);
        });

        it("accepts the configured bundle's digest (and the empty string's without a bundle)", () => {
            assert.equal(configOf(withAck(digest, ca.caPem)).vault.acknowledgeCa, digest);
            assert.equal(configOf(withAck(EMPTY_DIGEST)).vault.acknowledgeCa, EMPTY_DIGEST);
        });
    });

    it("accepts a config with no egress rule once NetworkPolicies are off, or with OIDC off no OIDC rule", () => {
        const off = homelabStack();
        off.values.networkPolicy = { enabled: false };
        assert.equal(configOf(off).networkPolicy.enabled, false);
        const noOidc = homelabStack();
        noOidc.values.oidc = { enabled: false };
        delete noOidc.values.networkPolicy.egress.oidc;
        assert.equal(configOf(noOidc).oidc.enabled, false);
    });

    it("accepts an existing bucket declared unversioned, or with versioning left to its default", () => {
        for (const storage of [{ createBucket: false, versioning: false }, { createBucket: false }]) {
            const stack = homelabStack();
            Object.assign(stack.values.storage, storage);
            assert.equal(configOf(stack).storage.createBucket, false, JSON.stringify(storage));
        }
    });

    it("reports every mistake of one config in one error", () => {
        const stack = homelabStack();
        stack.values.storage.mode = "gcs";
        stack.values.oidc.issuer = "http://auth";
        stack.values.server = { replicas: "two" };
        delete stack.secrets.oidcClientSecret;
        setStackConfig(stack);
        assert.throws(
            () => loadConfig(),
            (e: Error) => {
                assert.equal(
                    e.message,
                    [
                        "invalid stack config (3 problems):",
                        `  ${ns}:storage.mode: must be one of "aws", "s3-compatible" (got "gcs")`,
                        `  ${ns}:server.replicas: must be a number (got "two")`,
                        `  ${ns}:oidc.issuer: must be an https URL (got "http://auth")`,
                    ].join("\n"),
                );
                return true;
            },
        );
        // Once shapes are right, the cross-field rules report together too.
        const second = homelabStack();
        second.values.server = { replicas: 3 };
        delete second.secrets.storageSecretAccessKey;
        second.values.exposure = { kind: "httproute" };
        assert.deepEqual(configProblems(second), [
            `${ns}:server.replicas: must be 1 with server.storageBackend s3: Vault's S3 storage backend has no HA (use storageBackend raft for 3 or 5 replicas)`,
            `${ns}:storageSecretAccessKey: is required in s3-compatible mode: pulumi config set --secret storageSecretAccessKey (it prompts for the value)`,
            `${ns}:exposure.gateway: is required when exposure.kind is httproute (the parent Gateway's name and namespace)`,
        ]);
    });

    it("reports the rules of the keys that parsed alongside the parse errors, and skips those that read a broken key", () => {
        const stack = homelabStack();
        stack.values.storage.mode = "gcs"; // broken: the storage, secret and unseal rules read it
        stack.values.server = { replicas: 3 }; // parses; its rule reads only server
        stack.values.exposure = { kind: "httproute" }; // parses; its rule needs a gateway
        stack.values.kv = { shared: [{ name: "amiya.akn" }] }; // parses; collides with the cluster's mount
        delete stack.secrets.oidcClientSecret; // its rule reads storage: not judged on a stand-in
        assert.deepEqual(configProblems(stack), [
            `${ns}:storage.mode: must be one of "aws", "s3-compatible" (got "gcs")`,
            `${ns}:server.replicas: must be 1 with server.storageBackend s3: Vault's S3 storage backend has no HA (use storageBackend raft for 3 or 5 replicas)`,
            `${ns}:exposure.gateway: is required when exposure.kind is httproute (the parent Gateway's name and namespace)`,
            `${ns}:kv.shared[0].name: must differ from cluster.name (amiya.akn is the cluster's own mount)`,
        ]);
        // A broken cluster taints what derives from it (exposure.host, vault.address, the store names).
        const noCluster = homelabStack();
        noCluster.values.cluster = { name: "amiya.akn" };
        noCluster.values.exposure = { kind: "httproute" };
        assert.deepEqual(configProblems(noCluster), [`${ns}:cluster.domain: is required`]);
    });

    describe("keys the program would never read", () => {
        /** The homelab config as the engine hands it over, plus keys of other namespaces. */
        const problemsWith = (foreign: Record<string, string>): readonly string[] => {
            setStackConfig(homelabStack());
            const all = { ...pulumi.runtime.allConfig(), ...foreign };
            const secretKeys = Object.keys(SECRET_KEYS).map((k) => `${ns}:${k}`);
            pulumi.runtime.setAllConfig(all, secretKeys);
            try {
                loadConfig();
                return [];
            } catch (e) {
                assert.ok(e instanceof ConfigError, String(e));
                return e.problems;
            }
        };

        it("names a misspelled or foreign namespace on one of the project's keys, and a near-miss key", () => {
            assert.deepEqual(
                problemsWith({
                    "secret-platfrom:exposure": JSON.stringify({ host: "vault.example.org" }),
                    "secretplatform:kv": "{}",
                    "myproject:storage": "{}",
                }),
                [
                    `secret-platfrom:exposure: namespace 'secret-platfrom' is not this project's, so the program never reads this key (did you mean ${ns}:exposure?)`,
                    `secretplatform:kv: namespace 'secretplatform' is not this project's, so the program never reads this key (did you mean ${ns}:kv?)`,
                    `myproject:storage: namespace 'myproject' is not this project's, so the program never reads this key (did you mean ${ns}:storage?)`,
                ],
            );
        });

        it("leaves the providers' own namespaces and unrelated keys alone", () => {
            assert.deepEqual(
                problemsWith({ "kubernetes:context": "amiya", "aws:region": "eu-west-1", "other-app:greeting": "hi" }),
                [],
            );
        });

        it("suggests the key a misspelled top-level key was meant to be", () => {
            const stack = homelabStack();
            stack.values.exposre = { host: "vault.amiya.akn" };
            assert.deepEqual(configProblems(stack), [`${ns}:exposre: unknown key (did you mean 'exposure'?)`]);
        });
    });

    it("runs every rule in the one pass, the External Secrets settings with the rest", () => {
        const stack = homelabStack();
        stack.values.server = { replicas: 3 };
        stack.values.externalSecrets = { namespaceConditions: [] };
        assert.deepEqual(configProblems(stack), [
            `${ns}:server.replicas: must be 1 with server.storageBackend s3: Vault's S3 storage backend has no HA (use storageBackend raft for 3 or 5 replicas)`,
            `${ns}:externalSecrets.namespaceConditions: must list at least one condition (or set externalSecrets.allNamespaces: true instead)`,
        ]);
    });

    it("creates no resource when the config is invalid", async () => {
        const stack = homelabStack();
        stack.values.storage.mode = "gcs";
        await assert.rejects(runProgram(stack, buildPlatform), ConfigError);
        assert.equal(registrations.length, 0);
    });

    it("applies every default in one place", () => {
        const c = configOf(homelabStack());
        assert.equal(c.storage.forcePathStyle, true);
        assert.equal(c.storage.noncurrentVersionExpirationDays, 30);
        assert.equal(c.unseal.mode, "shamir");
        assert.equal(c.unseal.kmsRegion, "garage");
        // With the awskms seal on s3-compatible storage, the key ARN names the seal's region, not the Garage one.
        const kms = homelabStack();
        kms.values.unseal = { mode: "awskms", kmsKeyId: "arn:aws:kms:eu-central-1:123456789012:key/abc" };
        kms.values.networkPolicy.egress.kms = KMS_EGRESS;
        kms.secrets.sealAccessKeyId = "AKIAEXAMPLE";
        kms.secrets.sealSecretAccessKey = "secret";
        assert.equal(configOf(kms).unseal.kmsRegion, "eu-central-1");
        assert.deepEqual(c.unseal.loop, { enabled: true, intervalSeconds: 5 });
        assert.equal(c.server.chartVersion, "0.34.1");
        assert.equal(c.server.image.tag, "2.0.4");
        assert.equal(c.server.replicas, 1);
        assert.equal(c.server.storageBackend, "s3");
        assert.equal(c.exposure.host, "vault.amiya.akn");
        assert.equal(c.vault.address, "https://vault.amiya.akn");
        assert.equal(c.kubernetesAuth.path, "kubernetes-amiya.akn");
        assert.equal(c.externalSecrets.storeName, "vault-amiya-akn");
        assert.equal(c.externalSecrets.chartVersion, "2.9.0");
        assert.equal(c.externalSecrets.install, false);
        assert.deepEqual(c.oidc.scopes, ["openid", "profile", "email", "groups"]);
        assert.deepEqual(c.kv.shared, [
            {
                name: "shared",
                maxVersions: 10,
                casRequired: false,
                deleteVersionAfter: "0s",
                readablePaths: ["common"],
            },
        ]);
    });

    it("defaults aws storage to the awskms seal and no path style", () => {
        const c = configOf(awsStack());
        assert.equal(c.unseal.mode, "awskms");
        assert.equal(c.storage.forcePathStyle, false);
        assert.equal(c.storage.identity, "user");
    });

    it("treats the project's empty defaults for secret keys as unset", () => {
        const stack = homelabStack();
        stack.values.vaultToken = "";
        stack.values.remoteClusterReviewerJwts = {};
        const c = configOf(stack);
        assert.equal(c.secrets.vaultToken, undefined);
        assert.deepEqual(c.kubernetesAuth.remoteClusters, []);
    });

    it("hands secrets over only as secret Outputs", async () => {
        const c = configOf(homelabStack());
        assert.equal(await isSecret(c.oidc.clientSecret), true);
        assert.equal(await isSecret(c.secrets.storageSecretAccessKey), true);
        assert.equal(await valueOf(c.secrets.storageAccessKeyId as never), "GKtestaccesskey");
        assert.doesNotMatch(
            JSON.stringify({ ...c, secrets: undefined }),
            /test-storage-secret-key|test-oidc-client-secret/,
        );
    });
});

describe("configWarnings: what a valid config may still get wrong", () => {
    it("vault.allowInsecure: every run says what it accepts; none without it", () => {
        const s = homelabStack();
        s.values.vault = { address: "http://vault.amiya.akn:8200", skipTlsVerify: true, allowInsecure: true };
        assert.ok(
            configWarnings(configOf(s)).includes(
                "secret-platform:vault.allowInsecure: true: the provider token (root-equivalent) and the unseal key shares go to http://vault.amiya.akn:8200 without verifying its certificate where anyone on the path can read or impersonate it; trust Vault's CA with trust.caBundle and remove vault.allowInsecure",
            ),
        );
        assert.ok(!configWarnings(configOf(homelabStack())).some((w) => w.includes("vault.allowInsecure")));
    });

    it("an Ingress whose TLS Secret nothing creates, and a vault.address that is not exposure.host", () => {
        const s = homelabStack();
        s.values.vault = { address: "https://vault.amiya.akn:8200" };
        s.values.exposure = { host: "vault.lab.example", className: "nginx" };
        assert.deepEqual(configWarnings(configOf(s)), [
            `${ns}:vault.address: https://vault.amiya.akn:8200 is not exposure.host (vault.lab.example): this program and the Vault provider reach Vault at vault.address, users at exposure.host. Leave vault.address unset to follow exposure.host, unless Vault is reached another way from where pulumi runs`,
            `${ns}:exposure.tlsSecretName: the Ingress serves TLS from Secret vault/vault-tls, which nothing in this stack creates: create it (kubectl -n vault create secret tls vault-tls --cert=... --key=...), or set exposure.certManagerIssuer so cert-manager issues it; without it the ingress serves its default certificate and the first pulumi up fails verifying https://vault.amiya.akn:8200`,
        ]);
    });

    it("none with cert-manager issuing the Secret and vault.address following exposure.host, nor with no exposure", () => {
        const s = homelabStack();
        s.values.exposure = { host: "vault.lab.example", className: "nginx", certManagerIssuer: "lab-ca" };
        assert.deepEqual(configWarnings(configOf(s)), []);
        assert.equal(configOf(s).vault.address, "https://vault.lab.example");
        const none = homelabStack();
        none.values.exposure = { kind: "none" };
        none.values.vault = { address: "http://127.0.0.1:8200" };
        assert.deepEqual(configWarnings(configOf(none)), []);
    });

    it("SecretPlatform logs them, so pulumi preview and up print them", () => {
        const source = fs.readFileSync(path.join(__dirname, "..", "..", "components", "platform.ts"), "utf8");
        assert.match(source, /for \(const warning of configWarnings\(config\)\) pulumi\.log\.warn\(warning, this\);/);
    });
});

describe("the committed stack and project files", () => {
    const root = path.join(__dirname, "..", "..");

    it("Pulumi.amiya.yaml is valid and holds no secret", () => {
        const file = readStackFile("amiya");
        const c = configOf(file);
        assert.equal(c.cluster.name, "amiya.akn");
        assert.equal(c.storage.mode, "s3-compatible");
        // The secrets it needs (placeholders here); the OIDC client secret is generated when unset.
        assert.deepEqual(Object.keys(file.secrets).sort(), ["storageAccessKeyId", "storageSecretAccessKey"]);
        const text = fs.readFileSync(path.join(root, "Pulumi.amiya.yaml"), "utf8");
        assert.doesNotMatch(text, /secure:|AKIA|-----BEGIN/);
    });

    it("Pulumi.yaml declares every key the loader knows, and no other", () => {
        const project = parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as {
            name: string;
            config: Record<string, { description?: string; default?: unknown; type?: string }>;
        };
        assert.equal(project.name, "secret-platform");
        assert.deepEqual(Object.keys(project.config).sort(), [...OBJECT_KEYS, ...Object.keys(SECRET_KEYS)].sort());
        for (const [key, decl] of Object.entries(project.config)) {
            assert.ok((decl.description ?? "").length > 20, `${key} needs a description`);
            const required = key === "cluster" || key === "storage";
            assert.equal(decl.default === undefined, required, `${key}: only required keys go without a default`);
        }
        // Object keys are typed, so Pulumi itself refuses a non-map value; the secret JSON key stays a string.
        for (const key of OBJECT_KEYS) {
            assert.equal(project.config[key].type, "object", `${key} must be declared type: object`);
        }
        assert.equal(project.config.remoteClusterReviewerJwts.type, undefined);
        for (const key of Object.keys(SECRET_KEYS)) {
            assert.match(project.config[key].description ?? "", /^\(secret/, `${key} must say it is secret`);
        }
    });
});
