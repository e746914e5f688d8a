// The guardrail policy pack: `pulumi preview --policy-pack policies/guard`.
// The rules live in rules.ts (pure, tested by test/unit/guard.test.ts).
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("secret-platform-guard", { policies });
