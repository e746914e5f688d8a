// The guard rules as @pulumi/policy policies (kept apart from index.ts so the
// specs can load them without starting a policy-pack server).
import {
    Policies,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
} from "@pulumi/policy";
import { GuardResource, rules } from "./rules";

function toGuard(r: ResourceValidationArgs | PolicyResource): GuardResource {
    return {
        type: r.type,
        name: r.name,
        urn: r.urn,
        props: r.props,
        opts: { protect: r.opts.protect },
        provider: r.provider === undefined ? undefined : { type: r.provider.type, props: r.provider.props },
        parent: "parent" in r && r.parent !== undefined ? r.parent.urn : r.opts.parent,
    };
}

export const policies: Policies = rules.map((rule): ResourceValidationPolicy | StackValidationPolicy => {
    const base = { name: rule.name, description: rule.description, enforcementLevel: rule.enforcementLevel };
    if (rule.validateStack !== undefined) {
        const validate = rule.validateStack;
        return {
            ...base,
            validateStack: (args, report) =>
                validate(args.resources.map(toGuard), (message, urn) => report(message, urn)),
        };
    }
    const validate = rule.validateResource;
    if (validate === undefined) throw new Error(`guard rule ${rule.name} validates nothing`);
    return { ...base, validateResource: (args, report) => validate(toGuard(args), (message) => report(message)) };
});
