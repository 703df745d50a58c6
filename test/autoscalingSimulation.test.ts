/**
 * The scaling policy the ScaledObject states (components/autoscaling.ts), driven through
 * test/autoscalingModel.ts by three load traces: a step from the base load to 10x, a daily sine and a
 * short spike, against the pods' capacity measured in bench/RESULTS.md. It asserts what a user of the
 * endpoint would notice: enough pods within a stated bound, no flapping, never below min or above max,
 * never more GPU nodes than the pool's max (which the preflight checks against the quota). Each trace is
 * printed as a table (docs/autoscaling.md shows the same ones).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { HPA_BEHAVIOR } from "../components/autoscaling";
import { configSchema } from "../components/configSchema";
import {
  BENCH_POD,
  cpuUtilization,
  DELAYS,
  MEASURED_CURVE,
  podLoad,
  podsNeeded,
  quickReversals,
  reversals,
  type SimConfig,
  type SimResult,
  scaleDownBoundS,
  scaleUpBoundS,
  simulate,
  traceTable,
} from "./autoscalingModel";

/** The defaults the stack ships, with autoscale on and a pool that may grow to the autoscaler's max. */
const CONFIG: SimConfig = {
  minReplicas: configSchema.autoscaleMinReplicas.default,
  maxReplicas: configSchema.autoscaleMaxReplicas.default,
  gpuNodeMin: configSchema.gpuNodeMinCount.default,
  gpuNodeMax: configSchema.autoscaleMaxReplicas.default,
  warmReplicas: 0,
  maxConcurrent: configSchema.replicaMaxConcurrentRequests.default,
  targetUtilization: configSchema.autoscaleTargetUtilization.default,
  maxWaitS: configSchema.maxRequestWaitTimeMs.default / 1000,
  refreshS: configSchema.autoscaleRefreshSeconds.default,
  pod: BENCH_POD,
  delays: DELAYS,
  curve: MEASURED_CURVE,
  rule: "cpu+guard",
};
const MU = BENCH_POD.saturationPerS;

function assertBounds(result: SimResult, config: SimConfig): void {
  for (const s of result.samples) {
    assert.ok(
      s.desired >= config.minReplicas && s.desired <= config.maxReplicas,
      `desired ${s.desired} at ${s.t}`,
    );
    assert.ok(s.ready <= config.maxReplicas, `ready ${s.ready} at ${s.t}`);
    assert.ok(s.nodes <= config.gpuNodeMax, `nodes ${s.nodes} at ${s.t}`);
    assert.ok(s.nodes >= config.gpuNodeMin, `nodes ${s.nodes} at ${s.t}`);
  }
}

/** The first second from which `ready >= needed` holds to the end of [from, to). */
function settledFrom(result: SimResult, from: number, to: number): number {
  let settled = from;
  for (const s of result.samples) {
    if (s.t < from || s.t >= to) continue;
    if (s.ready < s.needed) settled = s.t + 1;
  }
  return settled;
}

const DOC = fs.readFileSync(path.join(__dirname, "..", "docs", "autoscaling.md"), "utf8");

/** Prints the trace, and checks docs/autoscaling.md shows this very table (so the docs never drift). */
function print(title: string, result: SimResult, everyS: number, unit: "min" | "h" = "min"): void {
  const share = result.offered > 0 ? (100 * result.refused) / result.offered : 0;
  const text =
    `${title}: ${result.changes.length} scaling changes, ${reversals(result.changes)} reversal(s), ` +
    `GPU nodes ${result.minNodes}-${result.maxNodes}, ${share.toFixed(2)} % of requests refused (503)\n` +
    traceTable(result, everyS, unit);
  console.log(`\n${text}`);
  assert.ok(DOC.includes(text), `docs/autoscaling.md does not show this trace; paste it:\n${text}`);
}

describe("the scaling policy under load traces (HPA algorithm as KEDA configures it)", () => {
  it("the pod model is the measured one: in-flight requests grow faster than the load, CPU in proportion", () => {
    assert.equal(podLoad(2897, CONFIG).inFlight, 0.71);
    assert.equal(podLoad(11028, CONFIG).inFlight, 21.75);
    // Twice the load holds about four times the requests in this range: the curve is convex.
    assert.ok(podLoad(6583, CONFIG).inFlight / podLoad(3291, CONFIG).inFlight > 3);
    assert.equal(cpuUtilization(MU / 2, CONFIG), 0.5);
    assert.equal(podLoad(2 * MU, CONFIG).refusedPerS, MU);
    assert.equal(podsNeeded(0, CONFIG), CONFIG.minReplicas);
    // The stated bounds, from the delays the model assumes (docs/autoscaling.md lists them).
    console.log(
      `scale-up bound ${scaleUpBoundS(CONFIG)} s on new GPU nodes; scale-down bound ${scaleDownBoundS(CONFIG)} s`,
    );
    assert.equal(HPA_BEHAVIOR.scaleDown.stabilizationWindowSeconds, 300);
  });

  it("a step from base load to 10x: enough pods within the stated bound, then no change", () => {
    const base = 0.6 * MU;
    const stepAt = 600;
    const end = 3600;
    const result = simulate(CONFIG, (t) => (t < stepAt ? base : 10 * base), end);
    print("Step to 10x at 10 min", result, 300);
    assertBounds(result, CONFIG);
    const needed = podsNeeded(10 * base, CONFIG);
    assert.ok(needed > 1 && needed < CONFIG.maxReplicas, `the step needs ${needed} pods`);
    const settled = settledFrom(result, stepAt, end);
    assert.ok(settled - stepAt <= scaleUpBoundS(CONFIG), `settled ${settled - stepAt} s after the step`);
    // The overload before new pods serve reads high (waiting requests count), so the HPA may overshoot
    // once and come back after its stabilization window: at most one reversal, and steady at the end.
    assert.ok(reversals(result.changes) <= 1, JSON.stringify(result.changes));
    const lastChange = result.changes[result.changes.length - 1].t;
    assert.ok(lastChange < end - 900, `still changing at ${lastChange} s`);
    const final = result.samples[result.samples.length - 1];
    assert.ok(
      final.desired >= needed && final.desired <= needed + 1,
      `final ${final.desired}, needed ${needed}`,
    );
  });

  it("a daily sine: follows the load, nothing undone within 10 minutes, nothing refused", () => {
    const day = 86_400;
    const low = 0.3 * MU;
    const high = 6 * MU;
    const result = simulate(
      CONFIG,
      (t) => low + ((high - low) * (1 - Math.cos((2 * Math.PI * t) / day))) / 2,
      2 * day,
    );
    print("Daily sine, two days", result, 7200, "h");
    assertBounds(result, CONFIG);
    // No change undone within 10 minutes, and at most four turns a day: the peak and the trough, and
    // a step back near the peak, where the load levels off while a new pod is still booting.
    assert.equal(quickReversals(result.changes, 600), 0, JSON.stringify(result.changes));
    assert.ok(reversals(result.changes) <= 8, `${reversals(result.changes)} reversals`);
    // Rising load is followed within the scale-up bound: the pods ready now are at least what the load
    // needed one bound ago (each new pod needs a node boot and an image pull), and nothing is refused.
    const bound = scaleUpBoundS(CONFIG);
    for (const s of result.samples.filter((x) => x.t >= bound)) {
      const earlier = result.samples[s.t - bound];
      assert.ok(
        s.ready >= Math.min(earlier.needed, s.needed),
        `at ${s.t} s: ${s.ready} ready, needed ${earlier.needed}`,
      );
    }
    assert.ok(result.refused / result.offered < 0.001, `refused ${result.refused / result.offered}`);
    // Scale-down follows the trough: at night the pool is back to its minimum.
    const night = result.samples.find((s) => s.t === day + 600);
    assert.equal(night?.desired, CONFIG.minReplicas);
  });

  it("a 3-minute spike: bounded scale-up, back to the base within the scale-down bound, no flapping", () => {
    const base = 1.5 * MU;
    const spikeAt = 1200;
    const spikeEnd = spikeAt + 180;
    const end = 4800;
    const trace = (t: number): number => (t >= spikeAt && t < spikeEnd ? 8 * MU : base);
    const cold = simulate(CONFIG, trace, end);
    print("Spike to 8 pods' capacity for 3 min", cold, 300);
    assertBounds(cold, CONFIG);
    assert.ok(reversals(cold.changes) <= 1, JSON.stringify(cold.changes));
    const baseNeeded = podsNeeded(base, CONFIG);
    // Back to what the base load needs, or one more: the HPA's ceil(ratio × pods) keeps a count whose
    // utilization is below the target once one fewer pod would be within its tolerance above it.
    // Pods still booting for the spike are counted at the target (the controller's rule for pods without
    // a measure), so the count falls once they are up: within both bounds of the spike's start.
    const back = cold.samples.filter((s) => s.t >= spikeAt + scaleUpBoundS(CONFIG) + scaleDownBoundS(CONFIG));
    assert.ok(
      back.every((s) => s.desired >= baseNeeded && s.desired <= baseNeeded + 1),
      `not back to ${baseNeeded}`,
    );
    assert.equal(quickReversals(cold.changes, 600), 0);

    // With warm headroom the first pods of the spike start on booted nodes that hold the image.
    const warm = simulate({ ...CONFIG, warmReplicas: 2 }, trace, end);
    print("The same spike with autoscaleWarmReplicas 2", warm, 300);
    assertBounds(warm, { ...CONFIG, warmReplicas: 2 });
    assert.ok(warm.refused < cold.refused, `warm ${warm.refused} vs cold ${cold.refused}`);
  });

  it("why CPU leads and in-flight guards: Azure ML's in-flight rule alone flaps on this pod", () => {
    // The HPA assumes its metric grows in proportion to the load. In-flight requests on this pod grow
    // faster (the measured curve), so scaling on them alone adds a pod, sees the in-flight count fall
    // far below the target, removes it five minutes later, and so on, whatever the target.
    const day = 86_400;
    const sine = (t: number): number => 0.3 * MU + (5.7 * MU * (1 - Math.cos((2 * Math.PI * t) / day))) / 2;
    const chosen = simulate(CONFIG, sine, day);
    const counts = [6, 32].map((slots) => {
      const alone = simulate({ ...CONFIG, rule: "in-flight", maxConcurrent: slots }, sine, day);
      return { slots, reversals: reversals(alone.changes), refused: alone.refused / alone.offered };
    });
    console.log(
      `daily sine, reversals: ${reversals(chosen.changes)} with CPU + in-flight guard; ` +
        counts
          .map(
            (c) => `${c.reversals} with in-flight alone at ${c.slots} slots × ${CONFIG.targetUtilization} %`,
          )
          .join(", "),
    );
    for (const c of counts) assert.ok(c.reversals > 10, `${c.slots} slots: ${c.reversals}`);
    assert.ok(reversals(chosen.changes) <= 4);
    assert.equal(quickReversals(chosen.changes, 600), 0);
  });

  it("never asks for more GPU nodes than the pool's max, even when the load needs more", () => {
    const small = { ...CONFIG, maxReplicas: 3, gpuNodeMax: 3 };
    const result = simulate(small, (t) => (t < 300 ? MU : 20 * MU), 3600);
    assertBounds(result, small);
    assert.equal(result.maxNodes, 3);
    assert.equal(result.samples[result.samples.length - 1].desired, 3);
  });
});
