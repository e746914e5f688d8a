/**
 * For the specs of the e2e's stack builders (podStackConfig and what builds on it): the parts of the
 * rig they read, and the product's own loader run over the config they make.
 */
import * as path from "node:path";
import { loadConfig } from "../../components/config/load";
import { PodRig } from "../../e2e/scenario";

export const AMIYA_STACK_FILE = path.join(__dirname, "..", "..", "Pulumi.amiya.yaml");

/** The parts of the rig podStackConfig reads, plus `extra` (e.g. the KV export's images). */
export function fakePodRig(extra: Partial<PodRig> = {}): PodRig {
    return {
        cluster: { context: "secret-platform-e2e" },
        repo: { url: "https://127.0.0.1:8443/charts" },
        ca: { pem: () => "" },
        hydra: { issuer: "https://10.222.0.1:4444/" },
        node: { network: { nodeIp: "10.222.0.1" } },
        s3: { server: { bucket: "vault-e2e" }, at: { host: "10.222.0.1", port: 39001 } },
        oidcAt: { host: "10.222.0.1", port: 4444 },
        unlisted: { host: "10.222.0.1", port: 39002 },
        vaultImage: "localhost/secret-platform/vault:1.21.4",
        ...extra,
    } as unknown as PodRig;
}

/** The product's loader over a stack config the rig made (its secrets filled in; the rig CA left out). */
export function loadRigStack(values: Record<string, unknown>) {
    const raw: Record<string, string> = {};
    const secrets = ["storageAccessKeyId", "storageSecretAccessKey", "oidcClientSecret"];
    for (const [k, v] of Object.entries(values)) {
        const key = k.replace(/^secret-platform:/, "");
        if (key === "trust") continue; // The rig CA's PEM: not needed here.
        raw[key] = typeof v === "string" ? v : JSON.stringify(v);
    }
    for (const s of secrets) raw[s] = "x".repeat(24);
    return loadConfig({ get: (k) => raw[k], isSecret: (k) => secrets.includes(k), keys: () => Object.keys(raw) });
}
