/**
 * The autoscaler-within-gpu-pool rule, and scoring-availability with autoscaled Deployments and warm
 * placeholders: on hand-built stacks one property at a time, and on the real program with autoscale on.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { policies } from "../../policy/policies";
import { type CapturedResource, evaluatePolicies } from "../../policy/testing/evaluate";
import { compliantStack, scoringDeployment } from "../../policy/testing/fixtures";
import { captureDevStack } from "../../policy/testing/program";

function scaledObject(min: number, max: number, target: string | undefined = "scoring"): CapturedResource {
  return {
    type: "kubernetes:keda.sh/v1alpha1:ScaledObject",
    name: "scoring-scaler",
    props: {
      metadata: { name: "scoring", namespace: "inference" },
      spec: {
        scaleTargetRef: target === undefined ? {} : { name: target },
        minReplicaCount: min,
        maxReplicaCount: max,
      },
    },
  };
}

/** The compliant stack with its scoring Deployment autoscaled (no replica count) and the GPU pool's autoscaler on. */
function autoscaledStack(min: number, max: number, poolMax: number, target?: string): CapturedResource[] {
  const stack = compliantStack().map((r) => {
    if (r.type === "azure-native:containerservice:AgentPool")
      return { ...r, props: { ...r.props, enableAutoScaling: true, minCount: 1, maxCount: poolMax } };
    if (r.type === "kubernetes:apps/v1:Deployment" && r.name === "scoring") {
      const deployment = scoringDeployment();
      delete (deployment.props.spec as Record<string, unknown>).replicas;
      return deployment;
    }
    return r;
  });
  return [...stack, scaledObject(min, max, target)];
}

async function of(policyName: string, resources: CapturedResource[]): Promise<string[]> {
  return (await evaluatePolicies(policies, resources))
    .filter((v) => v.policyName === policyName)
    .map((v) => v.message);
}

describe("autoscaler-within-gpu-pool", () => {
  it("passes an autoscaler whose maximum fits the pool's autoscaler maximum", async () => {
    assert.deepEqual(await evaluatePolicies(policies, autoscaledStack(2, 6, 6)), []);
  });

  it("fails an autoscaler whose maximum exceeds the GPU pool's maximum", async () => {
    const found = await of("autoscaler-within-gpu-pool", autoscaledStack(2, 8, 6));
    assert.equal(found.length, 1);
    assert.match(
      found[0],
      /ScaledObject "scoring-scaler" may scale Deployment "scoring" .* to 8 pods × 1 GPU = 8 GPUs/,
    );
    assert.match(
      found[0],
      /more than the GPU pool can ever hold \(6: AKS node pool "gpu" \(6 × Standard_NC4as_T4_v3, its autoscaler's maxCount\)\)/,
    );
    assert.match(found[0], /config: autoscaleMaxReplicas.*config: gpuNodeMaxCount/);
  });

  it("counts a pool without its own autoscaler at its fixed count", async () => {
    const stack = autoscaledStack(2, 4, 6).map((r) =>
      r.type === "azure-native:containerservice:AgentPool"
        ? { ...r, props: { ...r.props, enableAutoScaling: undefined, maxCount: undefined, count: 3 } }
        : r,
    );
    assert.match(
      (await of("autoscaler-within-gpu-pool", stack))[0],
      /4 GPUs, more than the GPU pool can ever hold \(3/,
    );
  });

  it("fails scaling the endpoint to zero", async () => {
    assert.match(
      (await of("autoscaler-within-gpu-pool", autoscaledStack(0, 4, 6)))[0],
      /to 0 replicas: the endpoint then answers nothing/,
    );
  });
});

describe("scoring-availability with an autoscaler", () => {
  it("reads the autoscaler's minimum for a Deployment that declares no count, also before its name is known", async () => {
    assert.deepEqual(await of("scoring-availability", autoscaledStack(2, 4, 6)), []);
    assert.deepEqual(await of("scoring-availability", autoscaledStack(2, 4, 6, undefined)), []);
    assert.match(
      (await of("scoring-availability", autoscaledStack(1, 4, 6)))[0],
      /runs 1 replica\(s\).*autoscaleMinReplicas/,
    );
  });
});

describe("the program with autoscale on, under the pack", () => {
  it("passes every policy: the autoscaler fits the pool, the placeholders need no budget", async () => {
    const resources = await captureDevStack({
      autoscale: "true",
      autoscaleMaxReplicas: "5",
      gpuNodeMaxCount: "6",
      autoscaleWarmReplicas: "1",
    });
    assert.ok(resources.some((r) => r.type === "kubernetes:keda.sh/v1alpha1:ScaledObject"));
    assert.deepEqual(await evaluatePolicies(policies, resources), []);
  });
});
