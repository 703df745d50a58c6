/**
 * A second-by-second model of what scales the scoring service (docs/autoscaling.md), for
 * test/autoscalingSimulation.test.ts: the pods' load as the app measures it, the managed Prometheus
 * scrape and the scaler's rate() window, KEDA's polling, the HPA's algorithm with the behaviour the
 * ScaledObject states, and the GPU pool's cluster autoscaler with node boot and image pull.
 *
 * The HPA follows kube-controller-manager's podautoscaler (kubernetes.io/docs/tasks/run-application/
 * horizontal-pod-autoscale, checked December 2026): every 15 s, for an AverageValue external metric,
 * usage ratio = total / (target × current replicas); within the tolerance nothing changes, else the
 * recommendation is ceil(total / target). The scale-down stabilization window keeps the highest
 * recommendation of its span (the scale-up one the lowest), then the policies limit the change per
 * period, counted from the replica count at the period's start, and min/max bound it.
 *
 * Pod capacity comes from bench/RESULTS.md (H100, 2 cores per pod, one-row JSON /score): about
 * 8,440-13,021 requests/s at saturation (the low end is used) and 0.70 ms for a lone request, so a pod
 * works on about 6 requests at once (podParallelism); podLoad says how many are in it at a given rate.
 */
import { HPA_BEHAVIOR, HPA_TOLERANCE, LOAD_WINDOW_SECONDS } from "../components/autoscaling";
import { SCRAPE_INTERVAL_SECONDS } from "../components/scrapeConfig";

export interface PodCapacity {
  /** Requests per second one pod serves at saturation. */
  readonly saturationPerS: number;
  /** Seconds one request takes in an idle pod. */
  readonly serviceS: number;
}

/**
 * One pod as bench/autoscale_metric.py measured it (H100, 2 cores, one-row JSON, no concurrency limit,
 * December 2026; bench/RESULTS.md): requests/s against the mean in-flight requests the scaler reads.
 * Its latency grows with load from the first client on (the event loop is shared and batches grow),
 * so in-flight requests grow faster than the load: that convexity is what the rule has to live with.
 */
export const MEASURED_CURVE: readonly (readonly [number, number])[] = [
  [2897, 0.71],
  [3241, 1.38],
  [4493, 2.52],
  [6583, 5.1],
  [8649, 10.44],
  [10230, 15.54],
  [11028, 21.75],
  [12128, 30.63],
  [12755, 40.55],
  [12942, 55.03],
  [13156, 73.63],
];

/** The same pod's saturated rate and a lone request's time in it (0.71 in flight at 2,897 requests/s). */
export const BENCH_POD: PodCapacity = { saturationPerS: 13156, serviceS: 0.71 / 2897 };

/** Delays the model assumes; docs/autoscaling.md says where each comes from. */
export interface Delays {
  readonly scrapeS: number;
  readonly windowS: number;
  /** From scrape to the sample being visible to queries. */
  readonly ingestS: number;
  readonly hpaSyncS: number;
  readonly clusterAutoscalerScanS: number;
  /** From the cluster autoscaler's request to a Ready GPU node with its driver and device plugin. */
  readonly gpuNodeReadyS: number;
  /** Pulling the scoring image on a node that does not hold it. */
  readonly imagePullS: number;
  /** Container start, model fetch, init and warm-up until /ready answers 200. */
  readonly podStartS: number;
  readonly scaleDownUnneededS: number;
  readonly scaleDownDelayAfterAddS: number;
  /** metrics-server's resolution: the CPU the HPA reads is averaged over this many seconds. */
  readonly metricsServerS: number;
}

export const DELAYS: Delays = {
  scrapeS: SCRAPE_INTERVAL_SECONDS,
  windowS: LOAD_WINDOW_SECONDS,
  ingestS: 30,
  hpaSyncS: 15,
  clusterAutoscalerScanS: 10,
  gpuNodeReadyS: 360,
  imagePullS: 180,
  podStartS: 30,
  scaleDownUnneededS: 600,
  scaleDownDelayAfterAddS: 600,
  metricsServerS: 30,
};

export interface SimConfig {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly gpuNodeMin: number;
  readonly gpuNodeMax: number;
  /** One GPU per pod and per node (the dev stack's Standard_NC4as_T4_v3). */
  readonly warmReplicas: number;
  readonly maxConcurrent: number;
  readonly targetUtilization: number;
  readonly maxWaitS: number;
  readonly refreshS: number;
  readonly pod: PodCapacity;
  readonly delays: Delays;
  /**
   * A measured pod: (requests/s, mean in-flight requests) points, rising, the last at saturation
   * (bench/autoscale_metric.py). Without it, podLoad's queueing formula stands in.
   */
  readonly curve?: readonly (readonly [number, number])[];
  /**
   * "cpu+guard" (this stack): CPU at the target utilization, in-flight requests at the slots as a guard.
   * "in-flight" (Azure ML's rule alone): in-flight requests at slots × target utilization.
   */
  readonly rule: "cpu+guard" | "in-flight";
}

/** Requests one pod works on at once at saturation (Little's law: rate × time of a lone request). */
export function podParallelism(pod: PodCapacity): number {
  return pod.saturationPerS * pod.serviceS;
}

/**
 * Mean requests in one pod at `perPod` requests/s, and those refused per second. Below saturation the
 * pod is a c-server queue (c = its parallelism): c·ρ requests in service plus the queue, which
 * Sakasegawa's approximation for M/M/c puts at ρ^√(2(c+1)) / (1 − ρ). Past saturation every slot is busy
 * and each excess request waits maxRequestWaitTimeMs before its 503.
 */
export function podLoad(perPod: number, config: SimConfig): { inFlight: number; refusedPerS: number } {
  if (config.curve !== undefined) return curveLoad(perPod, config.curve, config.maxWaitS);
  const mu = config.pod.saturationPerS;
  const c = podParallelism(config.pod);
  const full = Math.max(config.maxConcurrent, c);
  if (perPod < mu) {
    const rho = perPod / mu;
    const queue = rho ** Math.sqrt(2 * (c + 1)) / (1 - rho);
    return { inFlight: Math.min(c * rho + queue, full), refusedPerS: 0 };
  }
  const excess = perPod - mu;
  return { inFlight: full + excess * config.maxWaitS, refusedPerS: excess };
}

/** podLoad from a measured curve: linear between its points, saturated past the last. */
function curveLoad(
  perPod: number,
  curve: readonly (readonly [number, number])[],
  maxWaitS: number,
): { inFlight: number; refusedPerS: number } {
  let [x0, y0] = [0, 0];
  for (const [x, y] of curve) {
    if (perPod <= x) return { inFlight: y0 + ((y - y0) * (perPod - x0)) / (x - x0), refusedPerS: 0 };
    [x0, y0] = [x, y];
  }
  return { inFlight: y0 + (perPod - x0) * maxWaitS, refusedPerS: perPod - x0 };
}

/** The in-flight guard's target per pod: every slot busy (components/autoscaling.ts inFlightThreshold). */
export function inFlightTarget(config: SimConfig): number {
  return config.rule === "in-flight"
    ? (config.maxConcurrent * config.targetUtilization) / 100
    : config.maxConcurrent;
}

/** Share of its CPU a pod uses at `perPod` requests/s: the server is CPU-bound, saturated at μ. */
export function cpuUtilization(perPod: number, config: SimConfig): number {
  return Math.min(1, perPod / config.pod.saturationPerS);
}

/**
 * The fewest pods that keep each one within the HPA's tolerance of both targets: CPU at the target
 * utilization, in-flight requests at the slots.
 */
export function podsNeeded(rate: number, config: SimConfig): number {
  const tolerated = 1 + HPA_TOLERANCE;
  for (let n = config.minReplicas; n <= config.maxReplicas; n++) {
    const cpuOk =
      config.rule === "in-flight" ||
      cpuUtilization(rate / n, config) <= (config.targetUtilization / 100) * tolerated;
    if (cpuOk && podLoad(rate / n, config).inFlight <= inFlightTarget(config) * tolerated) return n;
  }
  return config.maxReplicas;
}

/** Seconds from a step in load to the last needed pod serving on a fresh GPU node, by the delays above. */
export function scaleUpBoundS(config: SimConfig): number {
  const d = config.delays;
  const metric = d.ingestS + d.scrapeS + d.windowS + config.refreshS + d.hpaSyncS;
  // The HPA may double (or add 4) every 15 s: from 1 pod to the maximum in log2(max) periods.
  const ramp = Math.ceil(Math.log2(Math.max(2, config.maxReplicas))) * d.hpaSyncS;
  return metric + ramp + d.clusterAutoscalerScanS + d.gpuNodeReadyS + d.imagePullS + d.podStartS;
}

/** Seconds from a fall in load until the HPA may have removed the pods no longer needed. */
export function scaleDownBoundS(config: SimConfig): number {
  const d = config.delays;
  return (
    HPA_BEHAVIOR.scaleDown.stabilizationWindowSeconds +
    d.ingestS +
    d.scrapeS +
    d.windowS +
    config.refreshS +
    2 * d.hpaSyncS
  );
}

interface Node {
  readonly readyAt: number;
  imageAt: number;
  unneededSince?: number;
}

interface Placed {
  node?: Node;
  readyAt: number;
}

export interface Sample {
  readonly t: number;
  readonly offered: number;
  readonly needed: number;
  readonly desired: number;
  readonly ready: number;
  readonly nodes: number;
  readonly metricPerPod: number;
  readonly cpuPercent: number;
  readonly refusedPerS: number;
}

export interface SimResult {
  readonly samples: Sample[];
  /** Every change of the HPA's desired count: time and new value. */
  readonly changes: { t: number; from: number; to: number }[];
  readonly refused: number;
  readonly offered: number;
  readonly maxNodes: number;
  readonly minNodes: number;
}

/** Runs the model for `seconds` seconds of the load `rate(t)` (requests/s), starting settled. */
export function simulate(config: SimConfig, rate: (t: number) => number, seconds: number): SimResult {
  const d = config.delays;
  const target = inFlightTarget(config);
  const cpuTarget = config.targetUtilization / 100;
  // Mean CPU utilization of the ready pods, second by second (metrics-server averages it).
  const cpuSeries: number[] = [];
  // Settled at t = 0: the pods the starting load needs, each on a booted node holding the image.
  let desired = podsNeeded(rate(0), config);
  const startNodes = Math.max(config.gpuNodeMin, Math.min(config.gpuNodeMax, desired + config.warmReplicas));
  const nodes: Node[] = Array.from({ length: startNodes }, () => ({ readyAt: 0, imageAt: 0 }));
  const pods: Placed[] = [];
  const warm: Placed[] = [];
  let integral = 0;
  const scrapes: { t: number; value: number }[] = [];
  let cached: number | undefined;
  const recommendations: { t: number; value: number }[] = [];
  const events: { t: number; delta: number }[] = [];
  const changes: { t: number; from: number; to: number }[] = [];
  const samples: Sample[] = [];
  let refused = 0;
  let offered = 0;
  let lastNodeAdd = Number.NEGATIVE_INFINITY;
  let maxNodes = nodes.length;
  let minNodes = nodes.length;

  const freeGpu = (t: number): Node | undefined =>
    nodes.find((n) => n.readyAt <= t && !pods.some((p) => p.node === n) && !warm.some((w) => w.node === n));
  // A unit placed on a node without the image waits for its pull (once per node), then starts.
  const place = (unit: Placed, node: Node, t: number): void => {
    unit.node = node;
    if (node.imageAt === Number.POSITIVE_INFINITY) node.imageAt = t + d.imagePullS;
    unit.readyAt = Math.max(t, node.imageAt) + d.podStartS;
  };

  for (const _ of Array.from({ length: desired })) {
    const pod: Placed = { readyAt: 0 };
    const node = freeGpu(0);
    if (node) pod.node = node;
    pods.push(pod);
  }
  for (const _ of Array.from({ length: config.warmReplicas })) {
    const unit: Placed = { readyAt: 0 };
    const node = freeGpu(0);
    if (node) unit.node = node;
    warm.push(unit);
  }

  for (let t = 0; t < seconds; t++) {
    // Load: spread evenly over the ready pods (the Service balances connections).
    const lambda = rate(t);
    offered += lambda;
    const ready = pods.filter((p) => p.node !== undefined && p.readyAt <= t).length;
    let total = 0;
    let refusedNow = lambda;
    cpuSeries.push(ready > 0 ? cpuUtilization(lambda / ready, config) : 0);
    if (ready > 0) {
      const load = podLoad(lambda / ready, config);
      total = load.inFlight * ready;
      refusedNow = load.refusedPerS * ready;
    }
    refused += refusedNow;
    integral += total;

    // The scrape, and KEDA's query of what has been ingested: rate() over the window.
    if (t % d.scrapeS === 0) scrapes.push({ t, value: integral });
    if (t % config.refreshS === 0) {
      const visible = scrapes.filter((s) => s.t <= t - d.ingestS && s.t > t - d.windowS);
      if (visible.length >= 2) {
        const first = visible[0];
        const last = visible[visible.length - 1];
        cached = (last.value - first.value) / (last.t - first.t);
      }
    }

    // The HPA.
    if (t % d.hpaSyncS === 0 && t >= d.metricsServerS) {
      const current = desired;
      // The in-flight guard (External, AverageValue): ceil(total / target), unless within the tolerance.
      let fromInFlight = current;
      if (cached !== undefined) {
        const ratio = cached / (target * current);
        fromInFlight = Math.abs(1 - ratio) <= HPA_TOLERANCE ? current : Math.ceil(cached / target);
      }
      // CPU (Resource, Utilization) over the ready pods, averaged over metrics-server's window, with the
      // controller's rule for pods without a measure (not ready, or Pending): on a scale-up they count as
      // idle, on a scale-down as at the target, and a correction that crosses 1 changes nothing.
      const window = cpuSeries.slice(-d.metricsServerS);
      const utilization = window.reduce((a, b) => a + b, 0) / window.length;
      const ratio = utilization / cpuTarget;
      const unready = current - ready;
      let fromCpu = current;
      if (config.rule === "in-flight") {
        fromCpu = current;
      } else if (unready <= 0) {
        fromCpu = Math.abs(1 - ratio) <= HPA_TOLERANCE ? current : Math.ceil(ratio * ready);
      } else {
        const adjusted =
          ratio > 1
            ? (utilization * ready) / (cpuTarget * current)
            : (utilization * ready + cpuTarget * unready) / (cpuTarget * current);
        const crosses = (ratio < 1 && adjusted > 1) || (ratio > 1 && adjusted < 1);
        const proposed = Math.ceil(adjusted * current);
        fromCpu =
          Math.abs(1 - adjusted) <= HPA_TOLERANCE ||
          crosses ||
          (adjusted < 1 && proposed > current) ||
          (adjusted > 1 && proposed < current)
            ? current
            : proposed;
      }
      // The HPA takes the largest recommendation of its metrics.
      const raw = config.rule === "in-flight" ? fromInFlight : Math.max(fromInFlight, fromCpu);
      recommendations.push({ t, value: raw });
      const up = HPA_BEHAVIOR.scaleUp;
      const down = HPA_BEHAVIOR.scaleDown;
      let upRec = raw;
      let downRec = raw;
      for (const r of recommendations) {
        if (r.t > t - up.stabilizationWindowSeconds) upRec = Math.min(upRec, r.value);
        if (r.t > t - down.stabilizationWindowSeconds) downRec = Math.max(downRec, r.value);
      }
      while (recommendations.length > 0 && recommendations[0].t <= t - down.stabilizationWindowSeconds)
        recommendations.shift();
      let next = current;
      if (next < upRec) next = upRec;
      if (next > downRec) next = downRec;
      if (next > current) {
        const limits = up.policies.map((p) => {
          const added = events
            .filter((e) => e.t > t - p.periodSeconds && e.delta > 0)
            .reduce((s, e) => s + e.delta, 0);
          const start = current - added;
          return p.type === "Pods" ? start + p.value : Math.ceil(start * (1 + p.value / 100));
        });
        next = Math.min(next, Math.max(...limits), config.maxReplicas);
      } else if (next < current) {
        const limits = down.policies.map((p) => {
          const removed = events
            .filter((e) => e.t > t - p.periodSeconds && e.delta < 0)
            .reduce((s, e) => s - e.delta, 0);
          const start = current + removed;
          const kind: string = p.type; // "Pods" or "Percent"; the stated behaviour uses only Percent here
          return kind === "Pods" ? start - p.value : Math.ceil(start * (1 - p.value / 100));
        });
        next = Math.max(next, Math.min(...limits), config.minReplicas);
      }
      next = Math.min(config.maxReplicas, Math.max(config.minReplicas, next));
      if (next !== current) {
        events.push({ t, delta: next - current });
        changes.push({ t, from: current, to: next });
        desired = next;
      }
    }

    // The Deployment: new pods Pending; removed ones Pending first, then not yet ready, then newest.
    while (pods.length < desired) pods.push({ readyAt: Number.POSITIVE_INFINITY });
    while (pods.length > desired) {
      const order = [...pods].sort(
        (a, b) => Number(a.node !== undefined) - Number(b.node !== undefined) || b.readyAt - a.readyAt,
      );
      pods.splice(pods.indexOf(order[0]), 1);
    }

    // The scheduler: a free GPU, else a placeholder's (it is evicted and goes Pending).
    for (const pod of pods.filter((p) => p.node === undefined)) {
      const node = freeGpu(t);
      if (node) {
        place(pod, node, t);
        continue;
      }
      const victim = warm.find((w) => w.node !== undefined && (w.node as Node).readyAt <= t);
      if (victim) {
        const node2 = victim.node as Node;
        victim.node = undefined;
        place(pod, node2, t);
      }
    }
    for (const unit of warm.filter((w) => w.node === undefined)) {
      const node = freeGpu(t);
      if (node) place(unit, node, t);
    }

    // The cluster autoscaler.
    if (t % d.clusterAutoscalerScanS === 0) {
      const pending =
        pods.filter((p) => p.node === undefined).length + warm.filter((w) => w.node === undefined).length;
      const booting = nodes.filter((n) => n.readyAt > t).length;
      const add = Math.min(pending - booting, config.gpuNodeMax - nodes.length);
      for (let i = 0; i < add; i++)
        nodes.push({ readyAt: t + d.gpuNodeReadyS, imageAt: Number.POSITIVE_INFINITY });
      if (add > 0) lastNodeAdd = t;
      for (const node of [...nodes]) {
        const used = pods.some((p) => p.node === node) || warm.some((w) => w.node === node);
        if (used || node.readyAt > t) {
          node.unneededSince = undefined;
          continue;
        }
        node.unneededSince ??= t;
        if (
          t - node.unneededSince >= d.scaleDownUnneededS &&
          t - lastNodeAdd >= d.scaleDownDelayAfterAddS &&
          nodes.length > config.gpuNodeMin
        )
          nodes.splice(nodes.indexOf(node), 1);
      }
    }
    maxNodes = Math.max(maxNodes, nodes.length);
    minNodes = Math.min(minNodes, nodes.length);

    samples.push({
      t,
      offered: lambda,
      needed: podsNeeded(lambda, config),
      desired,
      ready,
      nodes: nodes.length,
      metricPerPod: cached === undefined ? 0 : cached / Math.max(1, ready),
      cpuPercent: 100 * (cpuSeries[cpuSeries.length - 1] ?? 0),
      refusedPerS: refusedNow,
    });
  }
  return { samples, changes, refused, offered, maxNodes, minNodes };
}

/** Direction reversals of the desired count (up then down, or down then up): flapping shows as many. */
export function reversals(changes: SimResult["changes"]): number {
  let count = 0;
  let last = 0;
  for (const c of changes) {
    const direction = Math.sign(c.to - c.from);
    if (last !== 0 && direction !== last) count++;
    last = direction;
  }
  return count;
}

/** Changes that undo the previous one (the other direction) within `withinS` seconds: flapping. */
export function quickReversals(changes: SimResult["changes"], withinS: number): number {
  let count = 0;
  for (let i = 1; i < changes.length; i++) {
    const before = Math.sign(changes[i - 1].to - changes[i - 1].from);
    const now = Math.sign(changes[i].to - changes[i].from);
    if (now !== before && changes[i].t - changes[i - 1].t < withinS) count++;
  }
  return count;
}

/** A markdown table of the run every `everyS` seconds. */
export function traceTable(result: SimResult, everyS: number, unit: "min" | "h" = "min"): string {
  const rows = result.samples.filter((s) => s.t % everyS === 0);
  const time = (t: number): string =>
    unit === "h" ? `${(t / 3600).toFixed(0)} h` : `${(t / 60).toFixed(0)} min`;
  return [
    "| time | offered req/s | pods needed | HPA desired | pods ready | GPU nodes | CPU per pod | in-flight per pod (scaler) | 503/s |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (s) =>
        `| ${time(s.t)} | ${Math.round(s.offered).toLocaleString("en-US")} | ${s.needed} | ${s.desired} | ${s.ready} | ` +
        `${s.nodes} | ${s.cpuPercent.toFixed(0)} % | ${s.metricPerPod.toFixed(1)} | ` +
        `${Math.round(s.refusedPerS).toLocaleString("en-US")} |`,
    ),
  ].join("\n");
}
