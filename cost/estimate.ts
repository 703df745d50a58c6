/**
 * What the GPU pool costs to keep running, from the stack config and the dated price table, so a
 * preview states the bill before anyone merges it. Pure: no I/O, no Pulumi.
 */
import { gpuSkuCatalogue } from "../components/gpuSkus";
import { gpuPriceTable, type PriceTable } from "./priceTable";

export interface GpuCostInput {
  readonly gpuVmSize: string;
  readonly gpuNodeCount: number;
  /** The stack's Azure region (prices differ by region). */
  readonly location: string;
}

export interface GpuCostEstimate {
  readonly nodeHoursPerDay: number;
  readonly nodeHoursPerMonth: number;
  /** The whole GPU pool, per hour; absent when no price is known for the size. */
  readonly usdPerHour?: number;
  readonly usdPerDay?: number;
  readonly usdPerMonth?: number;
  /** One paragraph for the preview log and the pull request. */
  readonly summary: string;
}

/** Azure bills and quotes months as 730 hours (365 × 24 / 12). */
export const HOURS_PER_MONTH = 730;

const usd = (value: number): string =>
  `$${value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
// List prices have three decimals (0.526); rounding them to cents would misstate the rate.
const rate = (value: number): string =>
  `$${value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 3 })}`;
const count = (value: number): string => value.toLocaleString("en-US");

/**
 * What the catalogue's replacement for a retired size (components/gpuSkus.ts) would cost with the same
 * node count, so the preview that says "no price" also says what switching costs.
 */
function replacementNote(input: GpuCostInput, table: PriceTable): string {
  const replacement = gpuSkuCatalogue[input.gpuVmSize]?.retired?.replacement;
  if (replacement === undefined) return "";
  const entry = table.sizes[replacement];
  const switchTo = `pulumi config set gpuVmSize ${replacement}`;
  if (entry?.kind !== "priced") {
    return ` Its replacement in the catalogue is ${replacement} (${switchTo}); no price is known for it.`;
  }
  const perHour = entry.usdPerHour * input.gpuNodeCount;
  return (
    ` Its replacement in the catalogue, ${replacement} (${switchTo}), would cost about ` +
    `${usd(perHour * 24)} per day and ${usd(perHour * HOURS_PER_MONTH)} per month for the same ` +
    `${count(input.gpuNodeCount)} node(s) at ${rate(entry.usdPerHour)} per node-hour (source: ${entry.source}).`
  );
}

export function estimateGpuCost(input: GpuCostInput, table: PriceTable = gpuPriceTable): GpuCostEstimate {
  const { gpuVmSize, gpuNodeCount, location } = input;
  if (typeof gpuVmSize !== "string" || gpuVmSize.trim() === "") {
    throw new Error(
      `estimateGpuCost: gpuVmSize must name an Azure VM size, got ${JSON.stringify(gpuVmSize)}`,
    );
  }
  if (!Number.isInteger(gpuNodeCount) || gpuNodeCount < 0) {
    throw new Error(
      `estimateGpuCost: gpuNodeCount must be a whole number of nodes (0 or more), got ${gpuNodeCount}`,
    );
  }
  const nodeHoursPerDay = gpuNodeCount * 24;
  const nodeHoursPerMonth = gpuNodeCount * HOURS_PER_MONTH;
  const gpus = gpuSkuCatalogue[gpuVmSize]?.gpusPerNode;
  const pool =
    `${count(gpuNodeCount)} × ${gpuVmSize}${gpus === undefined ? "" : ` (${count(gpus * gpuNodeCount)} GPU(s))`}` +
    ` in ${location}: ${count(nodeHoursPerDay)} GPU node-hours per day, ${count(nodeHoursPerMonth)} per month`;
  const entry = table.sizes[gpuVmSize];

  if (entry?.kind === "retired") {
    return {
      nodeHoursPerDay,
      nodeHoursPerMonth,
      summary:
        `GPU cost: ${pool}. No price: Azure retired ${gpuVmSize} on ${entry.retired}, so it has no current ` +
        `pay-as-you-go price and new nodes of this size cannot be created (cost/gpuPrices.json, recorded ` +
        `${table.recordedOn}).${replacementNote(input, table)}`,
    };
  }
  if (entry === undefined) {
    return {
      nodeHoursPerDay,
      nodeHoursPerMonth,
      summary:
        `GPU cost: ${pool}. No price is known for ${gpuVmSize}: cost/gpuPrices.json (recorded ` +
        `${table.recordedOn}) has no entry for it, so the bill is unknown. Add its price with a source.`,
    };
  }

  const usdPerHour = entry.usdPerHour * gpuNodeCount;
  const usdPerDay = usdPerHour * 24;
  const usdPerMonth = usdPerHour * HOURS_PER_MONTH;
  const regionNote =
    entry.region === null
      ? ` The source does not name the region it applies to; prices differ by region.`
      : entry.region === location
        ? ""
        : ` The price is for ${entry.region}; ${location} may differ.`;
  return {
    nodeHoursPerDay,
    nodeHoursPerMonth,
    usdPerHour,
    usdPerDay,
    usdPerMonth,
    summary:
      `GPU cost: ${pool}, about ${usd(usdPerDay)} per day and ${usd(usdPerMonth)} per month at ` +
      `${rate(entry.usdPerHour)} per node-hour (pay-as-you-go Linux list price in ${table.currency}, recorded ` +
      `${table.recordedOn}, source: ${entry.source}).${regionNote} Excludes the system pool, disks, ` +
      `registry, storage and traffic; the pool bills while it exists, busy or idle.`,
  };
}
