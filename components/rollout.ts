/**
 * How the scoring Deployment rolls without stalling and without dropping to zero capacity.
 *
 * Every scoring pod holds whole GPUs. When the pool has no GPU to spare (3 replicas on 3 single-GPU
 * nodes, the dev stack), a surge pod could never be scheduled and the rollout would wait forever;
 * then the only way forward is to stop one old pod first (maxSurge 0, maxUnavailable 1). With a spare
 * GPU, a new pod starts before an old one stops, so capacity never dips (maxSurge 1, maxUnavailable 0).
 */
export interface RolloutStrategy {
  readonly maxSurge: number;
  readonly maxUnavailable: number;
}

export function spareGpus(poolGpus: number, replicas: number, gpusPerPod: number): number {
  return poolGpus - replicas * gpusPerPod;
}

export function rolloutStrategy(poolGpus: number, replicas: number, gpusPerPod: number): RolloutStrategy {
  return spareGpus(poolGpus, replicas, gpusPerPod) >= gpusPerPod
    ? { maxSurge: 1, maxUnavailable: 0 }
    : { maxSurge: 0, maxUnavailable: 1 };
}

/**
 * Seconds Kubernetes waits before SIGKILL, counted from the start of preStop: the
 * preStop pause, the app's own drain, and a margin for the process to exit.
 */
export function terminationGraceSeconds(preStopSeconds: number, drainSeconds: number): number {
  return preStopSeconds + drainSeconds + 10;
}
