/**
 * The pack against the real program: index.ts with the dev stack's config (Pulumi.dev.yaml) under
 * mocks, every registered resource evaluated by every policy. One test per policy, so a failure names
 * the rule and prints the messages `pulumi preview --policy-pack policy` would show.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { policies } from "../../policy/policies";
import { type CapturedResource, evaluatePolicies, type Violation } from "../../policy/testing/evaluate";
import { captureDevStack } from "../../policy/testing/program";

let resources: CapturedResource[];
let violations: Violation[];

before(async () => {
  resources = await captureDevStack();
  // No policy config: every stack, dev included, runs the pack as shipped (all mandatory).
  violations = await evaluatePolicies(policies, resources);
});

function of(policyName: string): Violation[] {
  return violations.filter((v) => v.policyName === policyName);
}

describe("the dev stack under the policy pack", () => {
  it("declares the resources the policies are about", () => {
    const types = new Set(resources.map((r) => r.type));
    for (const type of [
      "azure-native:containerservice:AgentPool",
      "azure-native:containerregistry:Registry",
      "azure-native:storage:StorageAccount",
      "azure-native:keyvault:Vault",
      "kubernetes:apps/v1:Deployment",
      "kubernetes:apps/v1:DaemonSet",
      "kubernetes:policy/v1:PodDisruptionBudget",
    ]) {
      assert.ok(types.has(type), `the program declares no ${type}`);
    }
  });

  for (const policy of policies) {
    it(`passes ${policy.name}`, () => {
      const found = of(policy.name);
      assert.deepEqual(
        found.map((v) => v.message),
        [],
        `${policy.name} fails on the real program:\n  ${found.map((v) => v.message).join("\n  ")}`,
      );
    });
  }
});
