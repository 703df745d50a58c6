/**
 * The catalogue of Azure GPU VM sizes this program knows how to size pods for.
 * Shared by config validation (components/config.ts), the policy pack and the cost estimate.
 *
 * Every row was checked against public sources (November 2026):
 * - NC (v1) sizes, one GPU = half a Tesla K80 (12 GiB): MicrosoftDocs/azure-docs articles/virtual-machines/nc-series.md
 *   (NC6 6 vCPU/56 GiB/1 GPU, NC12 12/112/2, NC24 24/224/4); retired 6 September 2023 per
 *   articles/virtual-machines/sizes/migration-guides/nc-series-retirement.md ("set to a deallocated state").
 * - NCv3 (V100 16 GB): NC6s_v3 6 vCPU/112 GiB/1 GPU; retired 30 September 2025 per
 *   articles/virtual-machines/ncv3-nc6s-nc12s-nc24s-retirement.md, which recommends NC A100 v4 as the successor.
 * - NCasT4_v3 (T4 16 GB): NC4as 4/28/1, NC8as 8/56/1, NC16as 16/110/1, NC64as 64/440/4.
 * - NC A100 v4 (A100 80 GB PCIe): NC24ads 24/220/1, NC48ads 48/440/2, NC96ads 96/880/4.
 * - NCads H100 v5 (H100 NVL 94 GB): NC40ads 40/320/1, NC80adis 80/640/2.
 *   (sizes of the last three series: Azure's published VM size lists, as mirrored by Aspire's AKS node size table)
 */
export interface GpuSku {
  /** The Azure VM size name, e.g. "Standard_NC4as_T4_v3". */
  readonly vmSize: string;
  /** The GPU model, e.g. "NVIDIA T4 16 GB". */
  readonly gpuModel: string;
  /** GPUs one node of this size exposes as `nvidia.com/gpu`. */
  readonly gpusPerNode: number;
  readonly vCpus: number;
  readonly memoryGiB: number;
  /** Present when Azure has retired the size: when, and what to use instead. */
  readonly retired?: { readonly date: string; readonly replacement: string };
}

const T4_REPLACEMENT = "Standard_NC4as_T4_v3";

const skus: readonly GpuSku[] = [
  {
    vmSize: "Standard_NC6",
    gpuModel: "NVIDIA Tesla K80 (half card)",
    gpusPerNode: 1,
    vCpus: 6,
    memoryGiB: 56,
    retired: { date: "2023-09-06", replacement: T4_REPLACEMENT },
  },
  {
    vmSize: "Standard_NC12",
    gpuModel: "NVIDIA Tesla K80 (half card)",
    gpusPerNode: 2,
    vCpus: 12,
    memoryGiB: 112,
    retired: { date: "2023-09-06", replacement: "Standard_NC8as_T4_v3" },
  },
  {
    vmSize: "Standard_NC24",
    gpuModel: "NVIDIA Tesla K80 (half card)",
    gpusPerNode: 4,
    vCpus: 24,
    memoryGiB: 224,
    retired: { date: "2023-09-06", replacement: "Standard_NC64as_T4_v3" },
  },
  {
    vmSize: "Standard_NC6s_v3",
    gpuModel: "NVIDIA Tesla V100 16 GB",
    gpusPerNode: 1,
    vCpus: 6,
    memoryGiB: 112,
    // Microsoft's NCv3 migration guide names NC A100 v4 as the successor.
    retired: { date: "2025-09-30", replacement: "Standard_NC24ads_A100_v4" },
  },
  { vmSize: "Standard_NC4as_T4_v3", gpuModel: "NVIDIA T4 16 GB", gpusPerNode: 1, vCpus: 4, memoryGiB: 28 },
  { vmSize: "Standard_NC8as_T4_v3", gpuModel: "NVIDIA T4 16 GB", gpusPerNode: 1, vCpus: 8, memoryGiB: 56 },
  { vmSize: "Standard_NC16as_T4_v3", gpuModel: "NVIDIA T4 16 GB", gpusPerNode: 1, vCpus: 16, memoryGiB: 110 },
  { vmSize: "Standard_NC64as_T4_v3", gpuModel: "NVIDIA T4 16 GB", gpusPerNode: 4, vCpus: 64, memoryGiB: 440 },
  {
    vmSize: "Standard_NC24ads_A100_v4",
    gpuModel: "NVIDIA A100 80 GB PCIe",
    gpusPerNode: 1,
    vCpus: 24,
    memoryGiB: 220,
  },
  {
    vmSize: "Standard_NC48ads_A100_v4",
    gpuModel: "NVIDIA A100 80 GB PCIe",
    gpusPerNode: 2,
    vCpus: 48,
    memoryGiB: 440,
  },
  {
    vmSize: "Standard_NC96ads_A100_v4",
    gpuModel: "NVIDIA A100 80 GB PCIe",
    gpusPerNode: 4,
    vCpus: 96,
    memoryGiB: 880,
  },
  {
    vmSize: "Standard_NC40ads_H100_v5",
    gpuModel: "NVIDIA H100 NVL 94 GB",
    gpusPerNode: 1,
    vCpus: 40,
    memoryGiB: 320,
  },
  {
    vmSize: "Standard_NC80adis_H100_v5",
    gpuModel: "NVIDIA H100 NVL 94 GB",
    gpusPerNode: 2,
    vCpus: 80,
    memoryGiB: 640,
  },
];

/** Every known GPU size, keyed by its exact Azure name. */
export const gpuSkuCatalogue: Readonly<Record<string, GpuSku>> = Object.freeze(
  Object.fromEntries(skus.map((sku) => [sku.vmSize, sku])),
);

/** Sizes Azure still offers: the ones the config check and the policy accept for a GPU pool. */
export function isSupportedGpuSize(vmSize: string): boolean {
  return gpuSizeRefusal(vmSize) === undefined;
}

/** The catalogue's supported sizes, in catalogue order: what a refused size may switch to. */
export const SUPPORTED_GPU_SIZES: readonly string[] = skus
  .filter((s) => s.retired === undefined)
  .map((s) => s.vmSize);

/**
 * Why a GPU pool may not use `vmSize`, or undefined when it may. The one wording both the config check
 * (components/config/gpuPool.ts) and the policy pack (policy/rules/gpuPool.ts) show, so the two can
 * never disagree: a retired size names its retirement date and replacement; a size outside the
 * catalogue is refused because the program cannot size pods, price or quota-check it.
 */
export function gpuSizeRefusal(vmSize: string): string | undefined {
  const sku = gpuSkuCatalogue[vmSize];
  if (sku?.retired !== undefined) {
    return (
      `${vmSize} (${sku.gpuModel}) was retired by Azure on ${sku.retired.date}: Azure no longer allocates it ` +
      `and AKS cannot create or scale a node pool of it, so the GPU pool would fail after the cluster is built. ` +
      `Fix: pulumi config set gpuVmSize ${sku.retired.replacement} (its replacement in components/gpuSkus.ts)`
    );
  }
  if (sku === undefined) {
    return (
      `${vmSize} is not in the GPU size catalogue (components/gpuSkus.ts), so its GPU count, vCPUs and memory ` +
      `are unknown and pods, cost and quota cannot be sized for it. Fix: pick a supported size ` +
      `(${SUPPORTED_GPU_SIZES.join(", ")}), or add a row for ${vmSize} to components/gpuSkus.ts with its ` +
      `published GPU count, vCPUs and memory`
    );
  }
  return undefined;
}
