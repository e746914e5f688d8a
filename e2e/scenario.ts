/**
 * The platform itself under the real engine (issue 15's scenario, step 1 so
 * far): `pulumi preview` of the real program on a stack built from
 * Pulumi.amiya.yaml with the rig's endpoints, with the guard pack, and a
 * broken variant (the agent injector switched on by a transform) that the
 * pack must refuse. That refusal proves the chart rules see the rendered
 * children of the v4 Chart, which the engine hands the pack without props.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { PulumiFn } from "@pulumi/pulumi/automation";
import * as YAML from "yaml";
import { HelmRepo } from "./rig/helm-repo";
import { Cluster } from "./rig/kube";
import { RigCa } from "./rig/pki";
import { Rig } from "./rig/processes";
import { createStack, Engine, repoProgram } from "./rig/pulumi";
import { RigVault } from "./rig/vault";

export interface PlatformRig {
    readonly cluster: Cluster;
    readonly repo: HelmRepo;
    readonly vault: RigVault;
    readonly ca: RigCa;
}

/** The amiya stack's config with the rig's endpoints in place of the cluster's. */
export function rigStackConfig(repoRoot: string, stackFile: string, r: PlatformRig): Record<string, unknown> {
    const file = YAML.parse(fs.readFileSync(path.join(repoRoot, stackFile), "utf8")) as {
        config: Record<string, Record<string, unknown>>;
    };
    const c = { ...file.config };
    const ns = "secret-platform";
    return {
        ...c,
        [`${ns}:kubernetes`]: { context: r.cluster.context },
        [`${ns}:server`]: { ...c[`${ns}:server`], chartRepository: r.repo.url },
        [`${ns}:vault`]: { ...c[`${ns}:vault`], address: r.vault.address },
        [`${ns}:trust`]: { caBundle: r.ca.pem() },
    };
}

/** The program with the Vault chart's injector switched on, as a careless change would. */
function withInjectorOn(program: PulumiFn): PulumiFn {
    return async () => {
        pulumi.runtime.registerResourceTransform((args) => {
            if (args.type !== "kubernetes:helm.sh/v4:Chart" || args.props.chart !== "vault") return undefined;
            const values = pulumi.output(args.props.values).apply((v: Record<string, unknown>) => ({
                ...v,
                injector: { enabled: true },
            }));
            return { props: { ...args.props, values }, opts: args.opts };
        });
        return program();
    };
}

function check(ok: boolean, what: string, seen: unknown): void {
    if (!ok) throw new Error(`check failed: ${what}; seen: ${JSON.stringify(seen).slice(0, 2000)}`);
}

export async function previewPlatform(
    rig: Rig,
    engine: Engine,
    repoRoot: string,
    stackFile: string,
    r: PlatformRig,
    log = console.log,
): Promise<void> {
    const config = rigStackConfig(repoRoot, stackFile, r);
    const secrets = {
        // Placeholders: nothing in a preview sends them anywhere.
        storageAccessKeyId: `GKe2e${crypto.randomBytes(6).toString("hex")}`,
        storageSecretAccessKey: crypto.randomBytes(24).toString("hex"),
        oidcClientSecret: crypto.randomBytes(24).toString("hex"),
    };
    const run = async (name: string, program: PulumiFn) => {
        const stack = await createStack(rig, engine, {
            stackName: `e2e-${name}-${crypto.randomBytes(3).toString("hex")}`,
            workDir: repoRoot,
            program,
            config,
        });
        for (const [key, value] of Object.entries(secrets)) {
            await stack.setConfig(`secret-platform:${key}`, { value, secret: true });
        }
        return stack;
    };

    let start = Date.now();
    const good = await run("platform", repoProgram(repoRoot));
    const preview = await good.preview({ policyPacks: [engine.policyPack] });
    const summary = preview.changeSummary as Record<string, number>;
    check(/secret-platform-guard@v[0-9.]+/.test(preview.stdout), "the guard pack ran", preview.stdout.slice(-600));
    check((summary.create ?? 0) > 30, "the platform plans its resources", summary);
    for (const kind of ["StatefulSet", "ConfigMap", "NetworkPolicy", "VaultInit", "ClusterSecretStore"]) {
        check(preview.stdout.includes(kind), `the plan shows a ${kind}`, preview.stdout.slice(-3000));
    }
    for (const secret of Object.values(secrets)) check(!preview.stdout.includes(secret), "no secret printed", "");
    log(
        `  ${stackFile} on the rig: preview with the guard pack in ${Date.now() - start} ms, ${JSON.stringify(summary)}, no violation`,
    );

    start = Date.now();
    const broken = await run("injector", withInjectorOn(repoProgram(repoRoot)));
    let refused = "";
    try {
        await broken.preview({ policyPacks: [engine.policyPack] });
    } catch (err) {
        refused = (err as Error).message;
    }
    check(
        refused.includes("vault-injector-off") && refused.includes("the agent injector is on"),
        "the pack refuses the injector, seen in the Chart's rendered children",
        refused.slice(0, 3000),
    );
    log(`  the injector switched on: the pack refuses the preview (vault-injector-off) in ${Date.now() - start} ms`);
}
