/** Section: the scoring pods (the seed's num_replicas, cpu_cores, memory_gb, plus GPUs). */
import type { Reader } from "./reader";

export interface ReplicaSettings {
  readonly count: number;
  readonly gpus: number;
  readonly cpu: number;
  readonly memoryGiB: number;
}

export function replicasSection(r: Reader): ReplicaSettings {
  return {
    count: r.number("replicas", true, 1, 1000, "pulumi config set replicas 3"),
    gpus: r.number("replicaGpus", true, 1, 64, "pulumi config set replicaGpus 1 (the app uses one GPU)"),
    cpu: r.number("replicaCpu", false, 0.1, 1024, "pulumi config set replicaCpu 2"),
    memoryGiB: r.number("replicaMemoryGiB", false, 0.25, 4096, "pulumi config set replicaMemoryGiB 4"),
  };
}
