/**
 * Every External Secrets object the platform generates (and every one its
 * documentation shows: README and docs/) validates against the `v1` openAPIV3Schema of ESO 2.9.0's own
 * CRDs, with unknown fields rejected the way the API server's structural
 * pruning would drop them.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import Ajv, { ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { parseAllDocuments } from "yaml";
import {
    ESO_API_VERSION,
    K8sObject,
    canaryExternalSecret,
    vaultClusterSecretStore,
} from "../../components/lib/secret-store-manifests";
import { buildPlatform } from "../../components/platform";
import { markdownPages, readPage } from "../support/docs";
import { HOMELAB_STORE_INPUT, homelabStack } from "../support/fixtures";
import { runProgram } from "../support/program";
import { requireReference } from "../support/reference";

// ESO's CRDs at the pinned version, from the tool cache (`npm run tools`); located in a before hook.
let REFERENCE = "";
const CRD_FILES: Record<string, string> = {
    ClusterSecretStore: "external-secrets.io_clustersecretstores.yaml",
    ExternalSecret: "external-secrets.io_externalsecrets.yaml",
};

interface CrdVersion {
    name: string;
    served: boolean;
    storage: boolean;
    schema: { openAPIV3Schema: Schema };
}
interface Crd {
    spec: { group: string; scope: "Cluster" | "Namespaced"; versions: CrdVersion[] };
}
type Schema = Record<string, any>;

const crds = new Map<string, Crd>();
function crdOf(kind: string): Crd {
    const file = CRD_FILES[kind];
    if (file === undefined) throw new Error(`no ESO CRD for kind ${kind}`);
    if (!crds.has(kind)) {
        const docs = parseAllDocuments(fs.readFileSync(path.join(REFERENCE, file), "utf8"));
        crds.set(kind, docs[0].toJSON() as Crd);
    }
    return crds.get(kind) as Crd;
}

/**
 * The schema with `additionalProperties: false` on every object that lists
 * its properties and says nothing else about unknown ones: the API server
 * prunes such fields silently, so a misspelled field would vanish unnoticed.
 */
function closed(schema: Schema): Schema {
    if (schema === null || typeof schema !== "object") return schema;
    // Only schema positions are walked: a property that happens to be named
    // "properties" or "items" is data of the parent's properties map.
    const out: Schema = { ...schema };
    if (schema.properties !== undefined) {
        out.properties = Object.fromEntries(
            Object.entries(schema.properties as Record<string, Schema>).map(([k, v]) => [k, closed(v)]),
        );
    }
    if (schema.items !== undefined) out.items = closed(schema.items as Schema);
    if (typeof schema.additionalProperties === "object") out.additionalProperties = closed(schema.additionalProperties);
    for (const key of ["anyOf", "allOf", "oneOf"]) {
        if (Array.isArray(schema[key])) out[key] = (schema[key] as Schema[]).map(closed);
    }
    if (
        out.properties !== undefined &&
        out.additionalProperties === undefined &&
        out["x-kubernetes-preserve-unknown-fields"] !== true
    ) {
        out.additionalProperties = false;
    }
    return out;
}

// optimize: false compiles the 7,000-line store schema in a third of the time.
const ajv = new Ajv({ strict: false, allErrors: true, code: { optimize: false } });
addFormats(ajv);
const validators = new Map<string, ValidateFunction>();

/** The closed v1 schema of a kind's CRD, at `version`; throws unless that version is served. */
function validatorFor(apiVersion: string, kind: string): ValidateFunction {
    const crd = crdOf(kind);
    const [group, version] = apiVersion.split("/");
    if (group !== crd.spec.group) throw new Error(`${kind}: group ${group} is not ${crd.spec.group}`);
    const v = crd.spec.versions.find((x) => x.name === version);
    if (v === undefined) throw new Error(`${apiVersion} ${kind}: the CRD has no version ${version}`);
    if (!v.served) throw new Error(`${apiVersion} ${kind}: version ${version} is not served by the CRD`);
    const key = `${apiVersion}/${kind}`;
    if (!validators.has(key)) validators.set(key, ajv.compile(closed(v.schema.openAPIV3Schema)));
    return validators.get(key) as ValidateFunction;
}

const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Problems the API server would report for `obj`, as lines; empty when valid.
 * The CRD schema declares metadata as a bare object, so ObjectMeta is checked
 * here: name, namespace by scope, and no field beyond what we write.
 */
function problemsOf(obj: K8sObject): string[] {
    let validate: ValidateFunction;
    try {
        validate = validatorFor(obj.apiVersion, obj.kind);
    } catch (e) {
        return [(e as Error).message];
    }
    const problems: string[] = [];
    if (!validate(obj)) {
        for (const err of validate.errors ?? []) {
            const extra = err.keyword === "additionalProperties" ? ` '${String(err.params.additionalProperty)}'` : "";
            problems.push(`${err.instancePath === "" ? "/" : err.instancePath} ${err.message ?? err.keyword}${extra}`);
        }
    }
    const meta = obj.metadata as Record<string, unknown>;
    const name = String(meta.name);
    if (name.length > 253 || !dnsSubdomain.test(name)) problems.push(`/metadata/name '${name}' is not a DNS subdomain`);
    const scope = crdOf(obj.kind).spec.scope;
    if (scope === "Cluster" && meta.namespace !== undefined)
        problems.push("/metadata/namespace set on a cluster object");
    if (scope === "Namespaced" && (typeof meta.namespace !== "string" || !dnsLabel.test(meta.namespace))) {
        problems.push(`/metadata/namespace '${String(meta.namespace)}' is not a namespace name`);
    }
    for (const key of Object.keys(meta)) {
        if (!["name", "namespace", "labels", "annotations"].includes(key)) problems.push(`/metadata unknown '${key}'`);
    }
    return problems;
}

/**
 * CEL rules (x-kubernetes-validations) ajv cannot run: the schema paths an
 * object reaches that carry one. Empty means ajv's verdict is the API server's.
 */
function celRulesReached(schema: Schema, value: unknown, at = ""): string[] {
    const found = schema["x-kubernetes-validations"] !== undefined ? [at === "" ? "/" : at] : [];
    if (Array.isArray(value) && schema.items !== undefined) {
        value.forEach((v, i) => found.push(...celRulesReached(schema.items as Schema, v, `${at}/${i}`)));
    } else if (value !== null && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) {
            const sub = (schema.properties?.[k] ??
                (typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined)) as
                Schema | undefined;
            if (sub !== undefined) found.push(...celRulesReached(sub, v, `${at}/${k}`));
        }
    }
    return found;
}

function v1Schema(kind: string): Schema {
    return (crdOf(kind).spec.versions.find((v) => v.name === "v1") as CrdVersion).schema.openAPIV3Schema;
}

const storeInput = HOMELAB_STORE_INPUT;
const fullStore = vaultClusterSecretStore({
    ...storeInput,
    server: "https://vault.vault.svc:8200",
    ca: { name: "vault-ca", namespace: "vault", key: "ca.crt" },
    conditions: [
        { namespaces: ["grafana", "external-secrets"] },
        { namespaceSelector: { matchLabels: { team: "a" } } },
    ],
});
const canary = canaryExternalSecret("vault-amiya-akn");

/** A deep copy of `obj` with `change` applied. */
function mutated(obj: K8sObject, change: (o: any) => void): K8sObject {
    const copy = structuredClone(obj) as any;
    change(copy);
    return copy as K8sObject;
}

describe("ESO objects against ESO 2.9.0's CRD schemas", () => {
    before(function () {
        REFERENCE = requireReference(this, "external-secrets-2.9.0");
    });

    describe("the reference CRDs", () => {
        for (const kind of Object.keys(CRD_FILES)) {
            it(`${kind}: v1 is served and stored, v1beta1 is not served`, () => {
                const versions = crdOf(kind).spec.versions;
                const v1 = versions.find((v) => v.name === "v1");
                const v1beta1 = versions.find((v) => v.name === "v1beta1");
                assert.deepEqual([v1?.served, v1?.storage], [true, true]);
                assert.equal(v1beta1?.served, false);
                assert.equal(ESO_API_VERSION, `${crdOf(kind).spec.group}/v1`);
            });
        }
    });

    describe("the builders' objects are valid", () => {
        const cases: [string, K8sObject][] = [
            ["the minimal ClusterSecretStore", vaultClusterSecretStore(storeInput)],
            ["a ClusterSecretStore with caProvider and both kinds of condition", fullStore],
            ["the canary ExternalSecret", canary],
        ];
        for (const [what, obj] of cases) {
            it(what, () => {
                assert.deepEqual(problemsOf(obj), []);
                assert.deepEqual(celRulesReached(v1Schema(obj.kind), obj), [], "a CEL rule ajv cannot check");
            });
        }
    });

    describe("what the schema check rejects", () => {
        const bad: [string, K8sObject, string[]][] = [
            [
                "the store at v1beta1 (no longer served)",
                mutated(fullStore, (o) => (o.apiVersion = "external-secrets.io/v1beta1")),
                ["external-secrets.io/v1beta1 ClusterSecretStore: version v1beta1 is not served by the CRD"],
            ],
            [
                "the ExternalSecret at v1beta1",
                mutated(canary, (o) => (o.apiVersion = "external-secrets.io/v1beta1")),
                ["external-secrets.io/v1beta1 ExternalSecret: version v1beta1 is not served by the CRD"],
            ],
            [
                "a version the CRD never had",
                mutated(canary, (o) => (o.apiVersion = "external-secrets.io/v2")),
                ["external-secrets.io/v2 ExternalSecret: the CRD has no version v2"],
            ],
            [
                "a misspelled serviceAccountRef",
                mutated(fullStore, (o) => {
                    const k = o.spec.provider.vault.auth.kubernetes;
                    k.serviceAcountRef = k.serviceAccountRef;
                    delete k.serviceAccountRef;
                }),
                ["/spec/provider/vault/auth/kubernetes must NOT have additional properties 'serviceAcountRef'"],
            ],
            [
                "a misspelled caProvider key",
                mutated(fullStore, (o) => (o.spec.provider.vault.caProvider.nameSpace = "vault")),
                ["/spec/provider/vault/caProvider must NOT have additional properties 'nameSpace'"],
            ],
            [
                "a provider spelled with a capital",
                mutated(fullStore, (o) => (o.spec.provider = { Vault: o.spec.provider.vault })),
                ["/spec/provider must NOT have additional properties 'Vault'"],
            ],
            [
                "a store without its role",
                mutated(fullStore, (o) => delete o.spec.provider.vault.auth.kubernetes.role),
                ["/spec/provider/vault/auth/kubernetes must have required property 'role'"],
            ],
            [
                "KV version 3",
                mutated(fullStore, (o) => (o.spec.provider.vault.version = "v3")),
                ["/spec/provider/vault/version must be equal to one of the allowed values"],
            ],
            [
                "a caProvider of an unknown type",
                mutated(fullStore, (o) => (o.spec.provider.vault.caProvider.type = "Certificate")),
                ["/spec/provider/vault/caProvider/type must be equal to one of the allowed values"],
            ],
            [
                "a condition naming an invalid namespace",
                mutated(fullStore, (o) => (o.spec.conditions[0].namespaces = ["Grafana"])),
                ['/spec/conditions/0/namespaces/0 must match pattern "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"'],
            ],
            [
                "a misspelled remoteRef property",
                mutated(canary, (o) => (o.spec.data[0].remoteRef.proprety = "value")),
                ["/spec/data/0/remoteRef must NOT have additional properties 'proprety'"],
            ],
            [
                "an unknown store kind",
                mutated(canary, (o) => (o.spec.secretStoreRef.kind = "ClusterStore")),
                ["/spec/secretStoreRef/kind must be equal to one of the allowed values"],
            ],
            [
                "a store with a namespace (it is cluster-scoped)",
                mutated(fullStore, (o) => (o.metadata.namespace = "vault")),
                ["/metadata/namespace set on a cluster object"],
            ],
            [
                "an ExternalSecret without a namespace",
                mutated(canary, (o) => delete o.metadata.namespace),
                ["/metadata/namespace 'undefined' is not a namespace name"],
            ],
            [
                "an upper-case store name",
                mutated(fullStore, (o) => (o.metadata.name = "Vault-Amiya")),
                ["/metadata/name 'Vault-Amiya' is not a DNS subdomain"],
            ],
        ];
        for (const [what, obj, expected] of bad) {
            it(what, () => assert.deepEqual(problemsOf(obj), expected));
        }
    });

    describe("what the program registers is valid", () => {
        it("every ESO object of a stack with every feature on", async () => {
            const stack = homelabStack();
            stack.values.server = { tls: { mode: "internal", secretName: "vault-tls", caSecretName: "vault-ca" } };
            stack.values.kv = {
                shared: [
                    { name: "shared", readablePaths: ["common"] },
                    { name: "team_a.x", readablePaths: ["db"] },
                ],
            };
            stack.values.kubernetesAuth = { audience: "vault.amiya.akn" };
            stack.values.externalSecrets = {
                install: true,
                tenants: [{ name: "media", namespaces: ["sonarr", "radarr"] }],
                namespaceConditions: [
                    { namespaces: ["external-secrets", "grafana", "secret-platform-canary"] },
                    { namespaceSelector: { matchLabels: { "secret-platform/vault": "read" } } },
                ],
            };
            const program = await runProgram(stack, buildPlatform);
            const objects = program.resources
                .filter((r) => r.type.startsWith("kubernetes:external-secrets.io/"))
                .map((r) => r.inputs as K8sObject);
            assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
                "ClusterSecretStore/vault-amiya-akn",
                "ClusterSecretStore/vault-amiya-akn-media",
                "ClusterSecretStore/vault-amiya-akn-shared",
                "ClusterSecretStore/vault-amiya-akn-team-a-x",
                "ExternalSecret/secret-platform-canary",
            ]);
            for (const obj of objects) {
                assert.deepEqual(problemsOf(obj), [], `${obj.kind}/${obj.metadata.name}`);
                assert.deepEqual(celRulesReached(v1Schema(obj.kind), obj), []);
            }
        });
    });

    describe("the documentation's examples are valid", () => {
        const objects = markdownPages().flatMap((page) =>
            [...readPage(page).matchAll(/```yaml\n([\s\S]*?)```/g)]
                .flatMap((m) => parseAllDocuments(m[1]).map((d) => d.toJSON() as K8sObject))
                .filter((o) => o?.apiVersion?.startsWith("external-secrets.io/"))
                .map((obj) => ({ page, obj })),
        );

        it("shows at least an ExternalSecret and a ClusterSecretStore", () => {
            assert.ok(objects.some(({ obj }) => obj.kind === "ExternalSecret"));
            assert.ok(objects.some(({ obj }) => obj.kind === "ClusterSecretStore"));
        });
        for (const { page, obj } of objects) {
            it(`${page}: ${obj.kind}/${obj.metadata.name}`, () => assert.deepEqual(problemsOf(obj), []));
        }
    });
});
