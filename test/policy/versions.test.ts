/**
 * The pack's issue-23 rules: no traffic to a version whose Deployment is missing, a split's weights sum to
 * 100, and model data capture never on without a retention rule. On the hand-built compliant stack with
 * one thing changed at a time, and on the real program with a candidate, mirroring and capture on.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { policies } from "../../policy/policies";
import { type CapturedResource, evaluatePolicies, type Violation } from "../../policy/testing/evaluate";
import { compliantStack, firstContainer, scoringDeployment } from "../../policy/testing/fixtures";
import { captureDevStack } from "../../policy/testing/program";

const ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute";

async function violationsOf(name: string, resources: readonly CapturedResource[]): Promise<Violation[]> {
  return (await evaluatePolicies(policies, resources)).filter((v) => v.policyName === name);
}

/** The compliant stack with the scoring route's one rule replaced. */
function withScoringRule(rule: Record<string, unknown>, extra: CapturedResource[] = []): CapturedResource[] {
  const stack = compliantStack().map((r) =>
    r.type === ROUTE && r.name === "scoring-route"
      ? { ...r, props: { ...r.props, spec: { ...(r.props.spec as object), rules: [rule] } } }
      : r,
  );
  return [...stack, ...extra];
}

function candidateService(): CapturedResource {
  return {
    type: "kubernetes:core/v1:Service",
    name: "candidate-service",
    props: {
      metadata: { name: "scoring-candidate", namespace: "inference" },
      spec: { type: "ClusterIP", selector: { app: "scoring-candidate" }, ports: [{ port: 80 }] },
    },
  };
}

function candidateDeployment(replicas = 2): CapturedResource {
  const deployment = scoringDeployment();
  const props = structuredClone(deployment.props) as {
    metadata: { name: string };
    spec: Record<string, unknown>;
  };
  props.metadata.name = "scoring-candidate";
  props.spec.replicas = replicas;
  props.spec.selector = { matchLabels: { app: "scoring-candidate" } };
  (props.spec.template as { metadata: { labels: Record<string, string> } }).metadata.labels = {
    app: "scoring-candidate",
  };
  return { type: deployment.type, name: "scoring-candidate", props };
}

function candidateBudget(): CapturedResource {
  return {
    type: "kubernetes:policy/v1:PodDisruptionBudget",
    name: "candidate-pdb",
    props: {
      metadata: { name: "scoring-candidate", namespace: "inference" },
      spec: { maxUnavailable: 1, selector: { matchLabels: { app: "scoring-candidate" } } },
    },
  };
}

const split = (current: number | undefined, candidate: number | undefined) => ({
  backendRefs: [
    { name: "scoring", port: 80, ...(current === undefined ? {} : { weight: current }) },
    { name: "scoring-candidate", port: 80, ...(candidate === undefined ? {} : { weight: candidate }) },
  ],
});

describe("route-backends-have-deployments", () => {
  const rule = "route-backends-have-deployments";

  it("passes a 90/10 split whose both Services select running Deployments", async () => {
    const stack = withScoringRule(split(90, 10), [
      candidateService(),
      candidateDeployment(),
      candidateBudget(),
    ]);
    assert.deepEqual(await evaluatePolicies(policies, stack), []);
  });

  it("fails traffic to a version whose Deployment is missing, or scaled to zero", async () => {
    for (const extra of [
      [candidateService()],
      [candidateService(), candidateDeployment(0), candidateBudget()],
    ]) {
      const found = await violationsOf(rule, withScoringRule(split(90, 10), extra));
      assert.equal(found.length, 1);
      assert.match(
        found[0].message,
        /HTTPRoute "scoring" in namespace "inference" sends weight 10 to Service "scoring-candidate" in namespace "inference", but no Deployment of the stack runs pods that Service selects/,
      );
    }
  });

  it("fails traffic to a Service the stack does not declare, and a mirror to one", async () => {
    const found = await violationsOf(rule, withScoringRule(split(90, 10)));
    assert.match(
      found[0].message,
      /sends weight 10 to Service "scoring-candidate" .* the stack declares no such Service/,
    );
    const mirrored = await violationsOf(
      rule,
      withScoringRule({
        backendRefs: [{ name: "scoring", port: 80 }],
        filters: [
          { type: "RequestMirror", requestMirror: { backendRef: { name: "scoring-candidate", port: 80 } } },
        ],
      }),
    );
    assert.equal(mirrored.length, 1);
    assert.match(mirrored[0].message, /mirrors requests to Service "scoring-candidate"/);
  });

  it("lets a rollback's weight 0 name a version that is already gone", async () => {
    assert.deepEqual(await violationsOf(rule, withScoringRule(split(100, 0))), []);
  });
});

describe("route-weights-sum-to-100", () => {
  const rule = "route-weights-sum-to-100";
  const extra = [candidateService(), candidateDeployment(), candidateBudget()];

  it("fails weights that do not sum to 100, and a split with an unstated weight", async () => {
    const over = await violationsOf(rule, withScoringRule(split(90, 20), extra));
    assert.equal(over.length, 1);
    assert.match(over[0].message, /weights 90\/20, which sum to 110, not 100/);
    const unstated = await violationsOf(rule, withScoringRule(split(90, undefined), extra));
    assert.match(unstated[0].message, /without stating every backend's weight/);
  });

  it("passes one backend without weight (a one-version stack)", async () => {
    assert.deepEqual(await violationsOf(rule, compliantStack()), []);
  });
});

describe("model-data-capture-has-retention", () => {
  const rule = "model-data-capture-has-retention";
  const capturing = (): CapturedResource => {
    const deployment = scoringDeployment();
    firstContainer(deployment).env = [
      { name: "CAPTURE_URL", value: "https://gpuinfst.blob.core.windows.net/model-data" },
    ];
    return deployment;
  };
  const retention = (prefix: string, enabled = true): CapturedResource => ({
    type: "azure-native:storage:ManagementPolicy",
    name: "retention",
    props: {
      managementPolicyName: "default",
      policy: {
        rules: [
          {
            name: "model-data-retention",
            enabled,
            type: "Lifecycle",
            definition: {
              filters: { blobTypes: ["blockBlob"], prefixMatch: [prefix] },
              actions: { baseBlob: { delete: { daysAfterModificationGreaterThan: 30 } } },
            },
          },
        ],
      },
    },
  });
  const stackWith = (...extra: CapturedResource[]) => [
    ...compliantStack().filter((r) => r.name !== "scoring" || r.type !== "kubernetes:apps/v1:Deployment"),
    capturing(),
    ...extra,
  ];

  it("fails capture without a lifecycle rule, with one for another container, or with a disabled one", async () => {
    for (const extra of [[], [retention("models/")], [retention("model-data/", false)]]) {
      const found = await violationsOf(rule, stackWith(...extra));
      assert.equal(found.length, 1);
      assert.match(
        found[0].message,
        /Deployment "scoring" in namespace "inference" captures model data into container "model-data", but no storage lifecycle rule/,
      );
    }
  });

  it("passes capture whose container a lifecycle rule deletes from", async () => {
    assert.deepEqual(await violationsOf(rule, stackWith(retention("model-data/"))), []);
  });
});

describe("the real program with a candidate, mirroring and capture on", () => {
  it("passes every policy", async () => {
    const resources = await captureDevStack({
      gpuNodeCount: "5",
      candidateModelVersion: "2",
      candidateTrafficPercent: "10",
      mirrorToCandidate: "true",
      collectModelData: "true",
      authMode: "both",
      tokenAudience: "11111111-2222-4333-8444-555555555555",
    });
    const violations = await evaluatePolicies(policies, resources);
    assert.deepEqual(
      violations.map((v) => `${v.policyName}: ${v.message}`),
      [],
    );
  });
});
