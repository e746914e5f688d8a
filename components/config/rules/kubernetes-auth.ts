import { durationSeconds } from "../schema";
import { Rule } from "./rule";

/** The store's token TTLs in order. */
export const kubernetesAuthRules: Rule = (c, _facts, fail) => {
    const k = c.kubernetesAuth;
    if (durationSeconds(k.tokenTtl) > durationSeconds(k.tokenMaxTtl)) {
        fail("kubernetesAuth.tokenTtl", "must not exceed kubernetesAuth.tokenMaxTtl");
    }
};

/** Remote clusters unique and not this cluster, each with exactly one reviewer JWT. */
export const remoteClusterRules: Rule = (c, secrets, fail) => {
    const jwtNames = secrets.reviewerJwtNames;
    const remotes = c.kubernetesAuth.remoteClusters.map((r) => r.name);
    remotes.forEach((name, i) => {
        if (name === c.cluster.name) fail(`kubernetesAuth.remoteClusters[${i}].name`, "must differ from cluster.name");
        if (remotes.indexOf(name) !== i)
            fail(`kubernetesAuth.remoteClusters[${i}].name`, `duplicates remote cluster '${name}'`);
        if (jwtNames !== undefined && !jwtNames.includes(name)) {
            fail("remoteClusterReviewerJwts", `is missing the token-reviewer JWT of remote cluster '${name}'`);
        }
    });
    for (const name of jwtNames ?? []) {
        if (!remotes.includes(name))
            fail("remoteClusterReviewerJwts", `has a JWT for '${name}', which is not in kubernetesAuth.remoteClusters`);
    }
};
