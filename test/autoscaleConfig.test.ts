/** The autoscale and serving sections: what they accept, and every rejection at once with key, value and fix. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, clusterAutoscaleOf, parseStackSettings, type RawConfig } from "../components/config";

function problems(raw: RawConfig): string[] {
  try {
    parseStackSettings(raw);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return [...error.problems];
  }
  assert.fail(`config ${JSON.stringify(raw)} was accepted`);
}

describe("autoscale and serving settings", () => {
  it("the defaults turned on are consistent: the autoscaler's max fits the pool's max", () => {
    const s = parseStackSettings({ autoscale: "true" });
    assert.deepEqual(
      [
        s.autoscale.minReplicas,
        s.autoscale.maxReplicas,
        s.autoscale.gpuNodeMinCount,
        s.autoscale.gpuNodeMaxCount,
      ],
      [2, 10, 1, 10],
    );
    assert.deepEqual(
      [s.serving.maxConcurrentRequests, s.serving.maxRequestWaitTimeMs, s.serving.scoringTimeoutMs],
      [32, 500, 60000],
    );
    // The pool is created with room for the minimum replicas.
    assert.deepEqual(clusterAutoscaleOf(s.autoscale, s.gpuPool, s.replicas), {
      minCount: 1,
      maxCount: 10,
      initialCount: 2,
    });
    assert.equal(clusterAutoscaleOf(parseStackSettings({}).autoscale, s.gpuPool, s.replicas), undefined);
  });

  it("reports every autoscale and serving mistake at once, each with key, value and fix", () => {
    const found = problems({
      autoscale: "true",
      autoscaleMinReplicas: "4",
      autoscaleMaxReplicas: "3",
      gpuNodeMinCount: "5",
      gpuNodeMaxCount: "2",
      autoscaleTargetUtilization: "120",
      readinessSuccessThreshold: "0",
      replicaCpuLimit: "1",
      replicaMemoryLimitGiB: "2",
      maxRequestWaitTimeMs: "5000",
      scoringTimeoutMs: "1000",
    });
    const byKey = (key: string): string => {
      const line = found.find((p) => p.startsWith(`${key} = `));
      assert.ok(line, `no problem for ${key} in:\n${found.join("\n")}`);
      assert.match(line, /Fix: pulumi config set /);
      return line;
    };
    assert.match(
      byKey("autoscaleMaxReplicas"),
      /^autoscaleMaxReplicas = 3: is below autoscaleMinReplicas \(4\)/,
    );
    assert.match(byKey("gpuNodeMaxCount"), /is below gpuNodeMinCount \(5\)/);
    assert.match(byKey("autoscaleTargetUtilization"), /must be between 1 and 100/);
    assert.match(byKey("readinessSuccessThreshold"), /must be between 1 and 100/);
    assert.match(
      byKey("replicaCpuLimit"),
      /is below replicaCpu \(2\); Kubernetes refuses a limit below the request/,
    );
    assert.match(byKey("replicaMemoryLimitGiB"), /is below replicaMemoryGiB \(4\)/);
    assert.match(byKey("maxRequestWaitTimeMs"), /a request could time out while still waiting for a slot/);
    // And the cross-check: 3 pods cannot fit the 2 nodes the pool may have.
    assert.ok(found.some((p) => p.includes("need 3 Standard_NC4as_T4_v3 nodes but gpuNodeMaxCount is 2")));
    assert.equal(found.length, 8, found.join("\n"));
  });

  it("refuses an autoscaler maximum (with warm placeholders) the pool's maximum cannot hold", () => {
    const found = problems({
      autoscale: "true",
      autoscaleMaxReplicas: "5",
      autoscaleWarmReplicas: "2",
      gpuNodeMaxCount: "6",
    });
    assert.deepEqual(found, [
      "autoscaleMaxReplicas = 5: 7 pods (autoscaleMaxReplicas 5 + autoscaleWarmReplicas 2) × 1 GPU need 7 " +
        "Standard_NC4as_T4_v3 nodes but gpuNodeMaxCount is 6; the autoscaler would ask for pods that stay Pending. " +
        "Fix: pulumi config set gpuNodeMaxCount 7 (and check the quota), or lower autoscaleMaxReplicas",
    ]);
    // With autoscale off the same keys are inert.
    assert.doesNotThrow(() =>
      parseStackSettings({ autoscaleMaxReplicas: "5", autoscaleWarmReplicas: "2", gpuNodeMaxCount: "6" }),
    );
  });
});
