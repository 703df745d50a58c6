/**
 * Section: capacity checks across sections. The pods must fit the GPU pool: enough GPUs in all, and
 * per node the CPU and memory AKS leaves for pods. Runs after the sections it reads; values another
 * section already refused arrive as NaN and are skipped, so one mistake is reported once.
 */
import { allocatableCpu, allocatableMemoryGiB, podsOnBusiestNode } from "../nodeCapacity";
import type { GpuPoolSettings } from "./gpuPool";
import type { Reader } from "./reader";
import type { ReplicaSettings } from "./replicas";

export function capacityChecks(r: Reader, pool: GpuPoolSettings, pods: ReplicaSettings): void {
  const known = (...values: number[]): boolean => values.every(Number.isFinite);
  if (!known(pool.gpusPerNode, pods.gpus)) return;
  if (pods.gpus > pool.gpusPerNode) {
    r.problem(
      "replicaGpus",
      pods.gpus,
      `is more than one ${pool.vmSize} node has (${pool.gpusPerNode}), so no pod could ever be scheduled`,
      `pulumi config set replicaGpus ${pool.gpusPerNode}, or a larger gpuVmSize`,
    );
    return;
  }
  if (!known(pool.nodeCount, pods.count)) return;
  const gpus = pool.nodeCount * pool.gpusPerNode;
  if (pods.count * pods.gpus > gpus) {
    const nodesNeeded = Math.ceil((pods.count * pods.gpus) / pool.gpusPerNode);
    r.problem(
      "replicas",
      pods.count,
      `${pods.count} pods × ${pods.gpus} GPU need ${pods.count * pods.gpus} GPUs but the pool has ${gpus} ` +
        `(${pool.nodeCount} × ${pool.vmSize}); the extra pods would stay Pending`,
      `pulumi config set gpuNodeCount ${nodesNeeded}, or lower replicas to ${Math.floor(gpus / pods.gpus)}`,
    );
  }
  if (!known(pool.vCpus, pool.memoryGiB)) return;
  const perNode = podsOnBusiestNode(pods.count, pool.nodeCount, pool.gpusPerNode, pods.gpus);
  const cpuRoom = allocatableCpu(pool.vCpus);
  if (Number.isFinite(pods.cpu) && perNode * pods.cpu > cpuRoom) {
    r.problem(
      "replicaCpu",
      pods.cpu,
      `${perNode} pod(s) per ${pool.vmSize} node × ${pods.cpu} cores exceed the ${cpuRoom.toFixed(2)} cores ` +
        `left for pods on its ${pool.vCpus} vCPUs after AKS and DaemonSet reservations`,
      `pulumi config set replicaCpu ${Math.floor((cpuRoom / perNode) * 10) / 10}, or a larger gpuVmSize`,
    );
  }
  const memoryRoom = allocatableMemoryGiB(pool.memoryGiB);
  if (Number.isFinite(pods.memoryGiB) && perNode * pods.memoryGiB > memoryRoom) {
    r.problem(
      "replicaMemoryGiB",
      pods.memoryGiB,
      `${perNode} pod(s) per ${pool.vmSize} node × ${pods.memoryGiB} GiB exceed the ${memoryRoom.toFixed(1)} GiB ` +
        `left for pods of its ${pool.memoryGiB} GiB after AKS and DaemonSet reservations`,
      `pulumi config set replicaMemoryGiB ${Math.floor(memoryRoom / perNode)}, or a larger gpuVmSize`,
    );
  }
}
