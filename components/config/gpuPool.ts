/** Section: the GPU user node pool (VM size and node count). */
import { type GpuSku, gpuSkuCatalogue } from "../gpuSkus";
import { MAX_NODES_PER_POOL } from "./kubernetes";
import type { Reader } from "./reader";

export interface GpuPoolSettings {
  readonly vmSize: string;
  readonly nodeCount: number;
  readonly gpusPerNode: number;
  readonly vCpus: number;
  readonly memoryGiB: number;
  /** The catalogue row when the size is known (absent for sizes given through the overrides). */
  readonly sku?: GpuSku;
}

export function gpuPoolSection(r: Reader): GpuPoolSettings {
  const vmSize = r.matching(
    "gpuVmSize",
    /^Standard_[A-Za-z0-9_]+$/,
    "is not an Azure VM size name",
    "use an exact size name such as Standard_NC4as_T4_v3",
  );
  const nodeCount = r.number(
    "gpuNodeCount",
    true,
    1,
    MAX_NODES_PER_POOL,
    "pulumi config set gpuNodeCount 3 (AKS allows 1-1000 nodes per pool)",
  );
  const nameIsValid = /^Standard_[A-Za-z0-9_]+$/.test(vmSize);
  const sku: GpuSku | undefined = gpuSkuCatalogue[vmSize];
  const gpusOverride = r.optionalNumber("gpusPerNode", true);
  const vCpusOverride = r.optionalNumber("gpuVmVcpus", true);
  const memoryOverride = r.optionalNumber("gpuVmMemoryGiB", false);
  const missing = (
    [
      ["gpusPerNode", gpusOverride],
      ["gpuVmVcpus", vCpusOverride],
      ["gpuVmMemoryGiB", memoryOverride],
    ] as const
  ).filter(([, value]) => value === undefined && sku === undefined && nameIsValid);
  if (missing.length > 0) {
    r.problem(
      "gpuVmSize",
      vmSize,
      `is not in the GPU size catalogue (components/gpuSkus.ts), so its GPU count and size are unknown`,
      `set ${missing.map(([key]) => `${key}`).join(", ")} for it (e.g. pulumi config set gpusPerNode 1), ` +
        `or pick a known size such as Standard_NC4as_T4_v3`,
    );
  }
  for (const [key, value] of [
    ["gpusPerNode", gpusOverride],
    ["gpuVmVcpus", vCpusOverride],
    ["gpuVmMemoryGiB", memoryOverride],
  ] as const) {
    if (value !== undefined && value < 1) {
      r.problem(key, value, "must be at least 1", `set it to what one ${vmSize} node really has`);
    }
  }
  return {
    vmSize,
    nodeCount,
    gpusPerNode: gpusOverride ?? sku?.gpusPerNode ?? Number.NaN,
    vCpus: vCpusOverride ?? sku?.vCpus ?? Number.NaN,
    memoryGiB: memoryOverride ?? sku?.memoryGiB ?? Number.NaN,
    sku,
  };
}
