/**
 * What a pod can really ask of an AKS node: the VM's vCPUs and memory minus what AKS keeps for the
 * kubelet, the OS and the per-node DaemonSets. Config validation uses it to refuse pod sizes that
 * would leave every scoring pod Pending forever.
 *
 * Reservations follow the AKS "resource reservations" documentation: kube-reserved CPU grows with
 * the core count (60m for 1 core ... 740m for 64), memory uses the regressive rate (25% of the first
 * 4 GiB, 20% of the next 4, 10% of the next 8, 6% of the next 112, 2% above 128) plus the 750Mi
 * eviction threshold. Newer AKS versions reserve less memory; the older, larger figure is used on
 * purpose so a size that passes here fits on every supported version. The DaemonSet allowance
 * covers kube-proxy, the CNI, CSI drivers, the NVIDIA device plugin and monitoring agents.
 */

const KUBE_RESERVED_CPU_CORES: ReadonlyArray<readonly [cores: number, reserved: number]> = [
  [1, 0.06],
  [2, 0.1],
  [4, 0.14],
  [8, 0.18],
  [16, 0.26],
  [32, 0.42],
  [64, 0.74],
];

/** CPU (cores) left for pods after the kubelet's reservation and a DaemonSet allowance. */
export const DAEMONSET_CPU_ALLOWANCE = 0.5;
/** Memory (GiB) left for DaemonSets on every node. */
export const DAEMONSET_MEMORY_ALLOWANCE_GIB = 1;
const EVICTION_THRESHOLD_GIB = 0.75;

function kubeReservedCpu(vCpus: number): number {
  let reserved = KUBE_RESERVED_CPU_CORES[0][1];
  for (const [cores, value] of KUBE_RESERVED_CPU_CORES) {
    if (vCpus >= cores) reserved = value;
  }
  return reserved;
}

function kubeReservedMemoryGiB(memoryGiB: number): number {
  const bands: ReadonlyArray<readonly [size: number, rate: number]> = [
    [4, 0.25],
    [4, 0.2],
    [8, 0.1],
    [112, 0.06],
    [Number.POSITIVE_INFINITY, 0.02],
  ];
  let left = memoryGiB;
  let reserved = 0;
  for (const [size, rate] of bands) {
    const inBand = Math.min(left, size);
    reserved += inBand * rate;
    left -= inBand;
    if (left <= 0) break;
  }
  return reserved;
}

/** CPU cores the scheduler can give to our pods on one node of this size. */
export function allocatableCpu(vCpus: number): number {
  return Math.max(0, vCpus - kubeReservedCpu(vCpus) - DAEMONSET_CPU_ALLOWANCE);
}

/** Memory (GiB) the scheduler can give to our pods on one node of this size. */
export function allocatableMemoryGiB(memoryGiB: number): number {
  return Math.max(
    0,
    memoryGiB - kubeReservedMemoryGiB(memoryGiB) - EVICTION_THRESHOLD_GIB - DAEMONSET_MEMORY_ALLOWANCE_GIB,
  );
}

/**
 * Scoring pods that end up on the busiest GPU node: pods spread evenly across nodes (the Deployment's
 * topology spread), but never more than the node's GPUs can hold.
 */
export function podsOnBusiestNode(
  replicas: number,
  nodeCount: number,
  gpusPerNode: number,
  gpusPerPod: number,
): number {
  return Math.min(Math.floor(gpusPerNode / gpusPerPod), Math.ceil(replicas / nodeCount));
}
