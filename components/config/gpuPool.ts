/**
 * Section: the GPU user node pool (VM size, node count, upgrade surge). Only sizes of the catalogue
 * (components/gpuSkus.ts) that Azure still offers are accepted, with the same refusal the policy pack
 * shows (gpuSizeRefusal), so config check and policy never disagree about a size.
 */
import { type GpuSku, gpuSizeRefusal, gpuSkuCatalogue } from "../gpuSkus";
import { MAX_NODES_PER_POOL } from "./kubernetes";
import type { Reader } from "./reader";

export interface GpuPoolSettings {
  readonly vmSize: string;
  readonly nodeCount: number;
  readonly gpusPerNode: number;
  readonly vCpus: number;
  readonly memoryGiB: number;
  /** Extra nodes an AKS upgrade may add at once; 0 drains one node at a time without surging. */
  readonly maxSurge: number;
  readonly sku?: GpuSku;
}

export function gpuPoolSection(r: Reader): GpuPoolSettings {
  const vmSize = r.string("gpuVmSize");
  const refusal = gpuSizeRefusal(vmSize);
  if (refusal !== undefined) r.refuse("gpuVmSize", vmSize, refusal);
  const nodeCount = r.number(
    "gpuNodeCount",
    true,
    1,
    MAX_NODES_PER_POOL,
    "pulumi config set gpuNodeCount 3 (AKS allows 1-1000 nodes per pool)",
  );
  const maxSurge = r.number(
    "gpuMaxSurge",
    true,
    0,
    MAX_NODES_PER_POOL,
    "pulumi config set gpuMaxSurge 0 (drain one node at a time) or 1 (one extra GPU node during upgrades)",
  );
  // Only a supported catalogue size has known GPUs, vCPUs and memory; NaN keeps capacity checks quiet.
  const sku = refusal === undefined ? gpuSkuCatalogue[vmSize] : undefined;
  return {
    vmSize,
    nodeCount,
    gpusPerNode: sku?.gpusPerNode ?? Number.NaN,
    vCpus: sku?.vCpus ?? Number.NaN,
    memoryGiB: sku?.memoryGiB ?? Number.NaN,
    maxSurge,
    sku,
  };
}
