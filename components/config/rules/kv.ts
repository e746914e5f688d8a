import { Rule } from "./rule";

/** KV mounts: unique names, none colliding with the cluster's own mount. */
export const kvRules: Rule = (c, _facts, fail) => {
    const names = c.kv.shared.map((m) => m.name);
    names.forEach((name, i) => {
        if (name === c.cluster.name)
            fail(`kv.shared[${i}].name`, `must differ from cluster.name (${name} is the cluster's own mount)`);
        if (names.indexOf(name) !== i) fail(`kv.shared[${i}].name`, `duplicates mount '${name}'`);
    });
};
