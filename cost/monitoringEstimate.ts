/**
 * What the monitoring (components/monitoring.ts) costs to run, from the stack's sizing, stated
 * assumptions and the dated prices in cost/monitoringPrices.json, so the preview's cost line says what
 * observability adds to the GPU bill. Pure: no I/O, no Pulumi. The volumes are estimates, not
 * measurements: the summary names every assumption, and a real deployment's Usage table (Log Analytics)
 * and the Azure Monitor workspace's "Metrics ingested" chart give the measured values.
 */
import { HOURS_PER_MONTH } from "./estimate";
import prices from "./monitoringPrices.json";

export interface MonitoringCostInput {
  readonly gpuNodeCount: number;
  readonly gpusPerNode: number;
  readonly systemNodeCount: number;
  readonly replicas: number;
  /** The Managed Grafana option (managedGrafana config). */
  readonly managedGrafana: boolean;
  /** Share of requests sent to Application Insights (appInsightsSampleRatio); 0 when appInsightsTracing is off. */
  readonly requestTelemetryRatio: number;
}

/** The volumes the estimate assumes; each is stated in the summary. */
export const MONITORING_ASSUMPTIONS = {
  /** Sustained request rate of the whole service: the app logs one line per request. */
  requestsPerSecond: 5,
  /** Billed size of one request log line in ContainerLogV2 (the JSON line plus the table's columns). */
  bytesPerRequestLog: 500,
  /** Other container output (system pods, agents) per node and day. */
  otherContainerLogMBPerNodeDay: 100,
  /** Pods per node, each inventoried every minute (KubePodInventory), plus Kubernetes events. */
  podsPerNode: 20,
  inventoryKBPerPodMinute: 1,
  /** kube-audit-admin (writes, mostly node and controller lease renewals) and guard, per node and day. */
  auditMBPerNodeDay: 20,
  auditBaseMBPerDay: 50,
  /** Series each node's default targets keep under the minimal ingestion profile (kubelet, cAdvisor, node-exporter, kube-state-metrics). */
  defaultSeriesPerNode: 1000,
  /** Series one scoring pod exposes (its histograms by route dominate). */
  seriesPerScoringPod: 250,
  /** Series per GPU from the DCGM exporter: its collected counters (test/cost checks this against the collectors file). */
  dcgmSeriesPerGpu: 20,
  /** Every target is scraped every 30 s. */
  scrapeIntervalSeconds: 30,
  /**
   * Billed size of one request item in the workspace-based Application Insights (its AppRequests row:
   * name, URL without query, status, duration, the Request Id dimensions, the resource columns).
   * Workspace-based Application Insights is billed as Log Analytics ingestion (components/mlWorkspace.ts
   * sets ingestionMode LogAnalytics), so it is priced per GB like the logs.
   */
  bytesPerRequestTelemetry: 1000,
} as const;

export interface MonitoringCostEstimate {
  readonly samplesPerMonth: number;
  readonly logGBPerMonth: number;
  readonly usdPerMonth: number;
  readonly summary: string;
}

interface Price {
  readonly usd: number;
}
function price(key: keyof typeof prices.prices): number {
  const entry: Price = prices.prices[key];
  if (!(entry.usd > 0)) throw new Error(`cost/monitoringPrices.json: ${key}.usd must be a positive number`);
  return entry.usd;
}

const DAYS_PER_MONTH = HOURS_PER_MONTH / 24;
const usd = (value: number): string =>
  `$${value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const amount = (value: number, digits = 1): string =>
  value.toLocaleString("en-US", { maximumFractionDigits: digits });

export function estimateMonitoringCost(input: MonitoringCostInput): MonitoringCostEstimate {
  if (!(input.requestTelemetryRatio >= 0 && input.requestTelemetryRatio <= 1)) {
    throw new Error(
      `estimateMonitoringCost: requestTelemetryRatio must be between 0 and 1, got ${input.requestTelemetryRatio}`,
    );
  }
  for (const [key, value] of Object.entries(input)) {
    if (key === "requestTelemetryRatio") continue;
    if (typeof value === "number" && (!Number.isInteger(value) || value < 0)) {
      throw new Error(`estimateMonitoringCost: ${key} must be a whole number (0 or more), got ${value}`);
    }
  }
  const a = MONITORING_ASSUMPTIONS;
  const nodes = input.gpuNodeCount + input.systemNodeCount;

  const series =
    nodes * a.defaultSeriesPerNode +
    input.replicas * a.seriesPerScoringPod +
    input.gpuNodeCount * input.gpusPerNode * a.dcgmSeriesPerGpu;
  const samplesPerMonth = series * (3600 / a.scrapeIntervalSeconds) * HOURS_PER_MONTH;
  const metricsUsd = (samplesPerMonth / 1e7) * price("prometheusIngestionPer10MSamples");

  const GB = 1e9;
  const requestLogGBPerDay = (a.requestsPerSecond * 86_400 * a.bytesPerRequestLog) / GB;
  const otherGBPerDay =
    (nodes * a.otherContainerLogMBPerNodeDay * 1e6 +
      nodes * a.podsPerNode * a.inventoryKBPerPodMinute * 1e3 * 1440 +
      (nodes * a.auditMBPerNodeDay + a.auditBaseMBPerDay) * 1e6) /
    GB;
  const telemetryGBPerDay =
    (a.requestsPerSecond * 86_400 * input.requestTelemetryRatio * a.bytesPerRequestTelemetry) / GB;
  const logGBPerMonth = (requestLogGBPerDay + otherGBPerDay + telemetryGBPerDay) * DAYS_PER_MONTH;
  const logPerGB = price("logAnalyticsIngestionPerGB");
  const logsUsd = logGBPerMonth * logPerGB;

  const grafanaUsd = input.managedGrafana ? price("managedGrafanaStandardPerHour") * HOURS_PER_MONTH : 0;
  const usdPerMonth = metricsUsd + logsUsd + grafanaUsd;
  const perExtraRequestPerSecond = ((86_400 * a.bytesPerRequestLog) / GB) * DAYS_PER_MONTH * logPerGB;

  const telemetryUsd = telemetryGBPerDay * DAYS_PER_MONTH * logPerGB;
  const telemetry =
    input.requestTelemetryRatio > 0
      ? ` Request telemetry to Application Insights (${amount(input.requestTelemetryRatio * 100, 1)} % of requests, ` +
        `${a.bytesPerRequestTelemetry} bytes an item): ${usd(telemetryUsd)} of that log cost.`
      : " Request telemetry to Application Insights is off (appInsightsTracing=false).";
  const grafana = input.managedGrafana
    ? ` Managed Grafana (Standard): ${usd(grafanaUsd)} a month at $${price("managedGrafanaStandardPerHour")}/hour, plus $${price("managedGrafanaPerActiveUserMonth")} per active user.`
    : " Managed Grafana is off (managedGrafana=false).";
  return {
    samplesPerMonth,
    logGBPerMonth,
    usdPerMonth,
    summary:
      `Monitoring cost (estimate): about ${usd(usdPerMonth)} per month. Metrics: ${amount(series, 0)} Prometheus ` +
      `series scraped every ${a.scrapeIntervalSeconds} s, ${amount(samplesPerMonth / 1e6, 0)} M samples a month, ` +
      `${usd(metricsUsd)} at $${price("prometheusIngestionPer10MSamples")} per 10 M samples. Logs: ` +
      `${amount(logGBPerMonth)} GB a month into Log Analytics, ${usd(logsUsd)} at $${logPerGB}/GB ` +
      `(the first 5 GB a month of the billing account are free and not subtracted).${telemetry}${grafana} ` +
      `Assumed: ${a.requestsPerSecond} requests/s sustained, one ${a.bytesPerRequestLog}-byte log line each ` +
      `(every further request/s adds ${usd(perExtraRequestPerSecond)} a month); ${a.otherContainerLogMBPerNodeDay} MB ` +
      `of other container logs and ${a.auditMBPerNodeDay} MB of audit logs per node and day (+${a.auditBaseMBPerDay} MB); ` +
      `${a.podsPerNode} pods per node inventoried each minute; ${a.defaultSeriesPerNode} default-target series per node ` +
      `(minimal ingestion profile), ${a.seriesPerScoringPod} per scoring pod, ${a.dcgmSeriesPerGpu} per GPU. ` +
      `Alert rule queries cost well under a cent a day. Prices: ${prices.region}, recorded ${prices.recordedOn} ` +
      `(cost/monitoringPrices.json).`,
  };
}
