/**
 * What autoscaling (components/autoscaling.ts) does to the bill, for the preview's cost line: the GPU
 * pool at its minimum and at its maximum around the clock (the real bill lies between, by the hours the
 * load holds it up), what warm headroom adds, and what the scaler itself costs. AKS bills the nodes, not
 * the KEDA add-on or the cluster autoscaler, which run on the system pool the stack already pays for;
 * the scaler's only metered use is the managed Prometheus queries KEDA runs, priced per sample processed
 * (cost/monitoringPrices.json). Pure: no I/O, no Pulumi.
 */
import { LOAD_WINDOW_SECONDS } from "../components/autoscaling";
import { SCRAPE_INTERVAL_SECONDS } from "../components/scrapeConfig";
import { estimateGpuCost, HOURS_PER_MONTH } from "./estimate";
import prices from "./monitoringPrices.json";
import type { PriceTable } from "./priceTable";
import { gpuPriceTable } from "./priceTable";

export interface AutoscaleCostInput {
  readonly gpuVmSize: string;
  readonly location: string;
  readonly minNodes: number;
  readonly maxNodes: number;
  /** GPU nodes the warm placeholders keep booted beyond what the load needs. */
  readonly warmNodes: number;
  readonly maxReplicas: number;
  readonly refreshSeconds: number;
}

export interface AutoscaleCostEstimate {
  readonly usdPerMonthAtMin?: number;
  readonly usdPerMonthAtMax?: number;
  readonly usdPerMonthWarm?: number;
  readonly queryUsdPerMonth: number;
  readonly summary: string;
}

const usd = (value: number): string =>
  `$${value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

export function estimateAutoscaleCost(
  input: AutoscaleCostInput,
  table: PriceTable = gpuPriceTable,
): AutoscaleCostEstimate {
  const at = (nodes: number): number | undefined =>
    estimateGpuCost({ gpuVmSize: input.gpuVmSize, gpuNodeCount: nodes, location: input.location }, table)
      .usdPerMonth;
  const atMin = at(input.minNodes + input.warmNodes);
  const atMax = at(input.maxNodes);
  const warm = input.warmNodes > 0 ? at(input.warmNodes) : 0;
  // Each query reads every scoring pod's samples in the rate() window: pods × window / scrape interval.
  const queriesPerMonth = (HOURS_PER_MONTH * 3600) / input.refreshSeconds;
  const samplesPerQuery = input.maxReplicas * Math.ceil(LOAD_WINDOW_SECONDS / SCRAPE_INTERVAL_SECONDS);
  const queryUsdPerMonth =
    ((queriesPerMonth * samplesPerQuery) / 1e7) * prices.prices.prometheusQueryPer10MSamples.usd;
  const range =
    atMin === undefined || atMax === undefined
      ? `no price is known for ${input.gpuVmSize} (see the GPU cost line)`
      : `${usd(atMin)} per month at the minimum (${input.minNodes + input.warmNodes} node(s) around the clock) ` +
        `to ${usd(atMax)} at the maximum (${input.maxNodes}); the bill lies between, by the hours the load holds nodes up`;
  const warmNote =
    input.warmNodes > 0 && warm !== undefined
      ? ` Warm headroom keeps ${input.warmNodes} more node(s) booted: ${usd(warm)} per month of the minimum.`
      : "";
  return {
    usdPerMonthAtMin: atMin,
    usdPerMonthAtMax: atMax,
    usdPerMonthWarm: warm,
    queryUsdPerMonth,
    summary:
      `Autoscaling cost: the GPU pool scales between ${input.minNodes} and ${input.maxNodes} × ${input.gpuVmSize}: ` +
      `${range}.${warmNote} The KEDA add-on and the cluster autoscaler bill nothing themselves (they run on the ` +
      `system pool); KEDA's managed Prometheus queries, one every ${input.refreshSeconds} s reading up to ` +
      `${samplesPerQuery} samples, cost ${queryUsdPerMonth < 0.01 ? "less than $0.01" : `about ${usd(queryUsdPerMonth)}`} per month ` +
      `(${prices.prices.prometheusQueryPer10MSamples.usd} USD per 10 million samples, recorded ${prices.recordedOn}).`,
  };
}
