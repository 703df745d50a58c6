/**
 * Section: autoscaling on load (issue 22), the seed's autoscale_enabled / autoscale_min_replicas /
 * autoscale_max_replicas / autoscale_refresh_seconds / autoscale_target_utilization, plus what AKS needs
 * beside them: the GPU pool's cluster-autoscaler bounds and an optional warm headroom.
 *
 * With `autoscale` on, the scoring Deployment leaves its replica count to the autoscaler
 * (components/autoscaling.ts): the KEDA add-on keeps each pod's CPU near the target utilization and
 * adds pods at once when their mean in-flight requests (managed Prometheus) pass
 * replicaMaxConcurrentRequests. The GPU pool then scales between gpuNodeMinCount and gpuNodeMaxCount,
 * and `replicas` / `gpuNodeCount` are unused.
 */
import type { GpuPoolSettings } from "./gpuPool";
import { MAX_NODES_PER_POOL } from "./kubernetes";
import type { Reader } from "./reader";
import type { ReplicaSettings } from "./replicas";

export interface AutoscaleSettings {
  readonly enabled: boolean;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** How often KEDA queries the metric (its pollingInterval, with cached metrics for the HPA). */
  readonly refreshSeconds: number;
  /** Percent of its CPU request the autoscaler keeps each pod at (Azure ML's default: 70). */
  readonly targetUtilization: number;
  readonly gpuNodeMinCount: number;
  readonly gpuNodeMaxCount: number;
  /** Placeholder pods the size of one scoring pod that keep booted GPU nodes ready for scale-up. */
  readonly warmReplicas: number;
}

export function autoscaleSection(r: Reader): AutoscaleSettings {
  const enabled = r.boolean("autoscale");
  const minReplicas = r.number(
    "autoscaleMinReplicas",
    true,
    1,
    1000,
    "pulumi config set autoscaleMinReplicas 2 (at least one pod keeps the endpoint answering; two survive a node loss)",
  );
  const maxReplicas = r.number(
    "autoscaleMaxReplicas",
    true,
    1,
    1000,
    "pulumi config set autoscaleMaxReplicas 10",
  );
  if (minReplicas > maxReplicas) {
    r.problem(
      "autoscaleMaxReplicas",
      maxReplicas,
      `is below autoscaleMinReplicas (${minReplicas})`,
      `pulumi config set autoscaleMaxReplicas ${minReplicas}, or lower autoscaleMinReplicas`,
    );
  }
  const gpuNodeMinCount = r.number(
    "gpuNodeMinCount",
    true,
    0,
    MAX_NODES_PER_POOL,
    "pulumi config set gpuNodeMinCount 1 (0 lets the pool empty when autoscaleMinReplicas pods fit elsewhere)",
  );
  const gpuNodeMaxCount = r.number(
    "gpuNodeMaxCount",
    true,
    1,
    MAX_NODES_PER_POOL,
    "pulumi config set gpuNodeMaxCount 10 (AKS allows up to 1000 nodes per pool; the quota must cover them)",
  );
  if (gpuNodeMinCount > gpuNodeMaxCount) {
    r.problem(
      "gpuNodeMaxCount",
      gpuNodeMaxCount,
      `is below gpuNodeMinCount (${gpuNodeMinCount})`,
      `pulumi config set gpuNodeMaxCount ${gpuNodeMinCount}, or lower gpuNodeMinCount`,
    );
  }
  return {
    enabled,
    minReplicas,
    maxReplicas,
    refreshSeconds: r.number(
      "autoscaleRefreshSeconds",
      true,
      1,
      3600,
      "pulumi config set autoscaleRefreshSeconds 15 (the HPA acts at most every 15 s on AKS)",
    ),
    targetUtilization: r.number(
      "autoscaleTargetUtilization",
      true,
      1,
      100,
      "pulumi config set autoscaleTargetUtilization 70 (percent of each pod's CPU request)",
    ),
    gpuNodeMinCount,
    gpuNodeMaxCount,
    warmReplicas: r.number(
      "autoscaleWarmReplicas",
      true,
      0,
      1000,
      "pulumi config set autoscaleWarmReplicas 0 (or 1 to keep one pod's GPU node booted ahead of load)",
    ),
  };
}

/** GPU nodes the pool needs for `pods` scoring pods (whole pods per node, as the scheduler packs them). */
export function nodesForPods(pods: number, gpusPerPod: number, gpusPerNode: number): number {
  return Math.ceil(pods / Math.max(1, Math.floor(gpusPerNode / gpusPerPod)));
}

/**
 * Checks across sections when autoscaling is on: the most pods the autoscaler may ask for (plus the warm
 * placeholders) must fit the most nodes the cluster autoscaler may add, or the extra pods stay Pending
 * while users wait for capacity that can never come.
 */
export function autoscaleChecks(
  r: Reader,
  auto: AutoscaleSettings,
  pool: GpuPoolSettings,
  pods: ReplicaSettings,
  candidatePods = 0,
): void {
  if (!auto.enabled) return;
  const known = (...values: number[]): boolean => values.every(Number.isFinite);
  if (!known(auto.maxReplicas, auto.warmReplicas, auto.gpuNodeMaxCount, pool.gpusPerNode, pods.gpus)) return;
  if (pods.gpus > pool.gpusPerNode) return; // capacity.ts reports it
  // A candidate model version's fixed pods (issue 23's candidateReplicas) share the pool.
  const extra = Number.isFinite(candidatePods) ? candidatePods : 0;
  const wanted = auto.maxReplicas + auto.warmReplicas + extra;
  const needed = nodesForPods(wanted, pods.gpus, pool.gpusPerNode);
  if (needed > auto.gpuNodeMaxCount) {
    r.problem(
      "autoscaleMaxReplicas",
      auto.maxReplicas,
      `${wanted} pods (autoscaleMaxReplicas ${auto.maxReplicas} + autoscaleWarmReplicas ${auto.warmReplicas}` +
        `${extra > 0 ? ` + candidateReplicas ${extra}` : ""}) × ` +
        `${pods.gpus} GPU need ${needed} ${pool.vmSize} nodes but gpuNodeMaxCount is ${auto.gpuNodeMaxCount}; ` +
        "the autoscaler would ask for pods that stay Pending",
      `pulumi config set gpuNodeMaxCount ${needed} (and check the quota), or lower autoscaleMaxReplicas`,
    );
  }
}

/** What the GPU pool's cluster autoscaler needs (gpuCluster.ts), or undefined when autoscale is off. */
export interface ClusterAutoscale {
  readonly minCount: number;
  readonly maxCount: number;
  /** The pool's size when it is created: enough nodes for autoscaleMinReplicas, within [min, max]. */
  readonly initialCount: number;
}

export function clusterAutoscaleOf(
  auto: AutoscaleSettings,
  pool: GpuPoolSettings,
  pods: ReplicaSettings,
): ClusterAutoscale | undefined {
  if (!auto.enabled) return undefined;
  const forMin = nodesForPods(auto.minReplicas + auto.warmReplicas, pods.gpus, pool.gpusPerNode);
  const initialCount = Math.min(auto.gpuNodeMaxCount, Math.max(auto.gpuNodeMinCount, forMin));
  return { minCount: auto.gpuNodeMinCount, maxCount: auto.gpuNodeMaxCount, initialCount };
}

/** The most GPU nodes the pool can have: what rollouts, quota and the cost at the top are sized by. */
export function gpuPoolMaxNodes(auto: AutoscaleSettings, pool: GpuPoolSettings): number {
  return auto.enabled ? auto.gpuNodeMaxCount : pool.nodeCount;
}

/** The fewest the pool keeps: what the alerts' "too few" floors compare against. */
export function gpuPoolMinNodes(auto: AutoscaleSettings, pool: GpuPoolSettings): number {
  return auto.enabled ? auto.gpuNodeMinCount : pool.nodeCount;
}
