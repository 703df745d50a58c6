/** The autoscaling cost line: the pool at its minimum and maximum, warm headroom, KEDA's queries. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { estimateAutoscaleCost } from "../../cost/autoscaleEstimate";

const T4 = {
  gpuVmSize: "Standard_NC4as_T4_v3",
  location: "eastus",
  minNodes: 2,
  maxNodes: 10,
  warmNodes: 0,
  maxReplicas: 10,
  refreshSeconds: 15,
};

describe("estimateAutoscaleCost", () => {
  it("prices the pool at its minimum and maximum around the clock", () => {
    const estimate = estimateAutoscaleCost(T4);
    // $0.526 per node-hour (cost/gpuPrices.json) × 730 h × 2 and × 10.
    assert.equal(estimate.usdPerMonthAtMin?.toFixed(2), "767.96");
    assert.equal(estimate.usdPerMonthAtMax?.toFixed(2), "3839.80");
    assert.match(
      estimate.summary,
      /\$767\.96 per month at the minimum \(2 node\(s\) around the clock\) to \$3,839\.80 at the maximum \(10\)/,
    );
    assert.doesNotMatch(estimate.summary, /Warm headroom/);
  });

  it("adds the warm nodes to the minimum and says what they cost", () => {
    const estimate = estimateAutoscaleCost({ ...T4, warmNodes: 1 });
    assert.equal(estimate.usdPerMonthAtMin?.toFixed(2), "1151.94");
    assert.match(estimate.summary, /Warm headroom keeps 1 more node\(s\) booted: \$383\.98 per month/);
  });

  it("prices KEDA's queries by the samples they read: cents a month", () => {
    // 730 h × 3600 / 15 s = 175,200 queries × 10 pods × 4 samples = 7.0 M samples: $0.0007.
    const estimate = estimateAutoscaleCost(T4);
    assert.ok(
      estimate.queryUsdPerMonth > 0 && estimate.queryUsdPerMonth < 0.01,
      String(estimate.queryUsdPerMonth),
    );
    assert.match(
      estimate.summary,
      /one every 15 s reading up to 40 samples, cost less than \$0\.01 per month/,
    );
  });

  it("says so when no price is known for the size", () => {
    const estimate = estimateAutoscaleCost({ ...T4, gpuVmSize: "Standard_NC6" });
    assert.equal(estimate.usdPerMonthAtMax, undefined);
    assert.match(estimate.summary, /no price is known for Standard_NC6/);
  });
});
