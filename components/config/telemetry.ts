/**
 * Section: request telemetry (issue 14): whether the scoring pods send one OpenTelemetry request span per
 * request to the workspace's Application Insights, and what share of requests they send.
 */
import { configSchema } from "../configSchema";
import type { Reader } from "./reader";

export interface TelemetrySettings {
  /** Whether the pods get the Application Insights connection string (app: scoring/observability/tracing.py). */
  readonly appInsightsTracing: boolean;
  /** Share of requests sent, in (0, 1]; Application Insights extrapolates counts from the sample. */
  readonly sampleRatio: number;
}

export function telemetrySection(r: Reader): TelemetrySettings {
  const appInsightsTracing = r.boolean("appInsightsTracing");
  const sampleRatio = r.number(
    "appInsightsSampleRatio",
    false,
    0,
    1,
    "pulumi config set appInsightsSampleRatio 0.1 (a share of requests above 0, at most 1)",
  );
  if (sampleRatio === 0) {
    r.problem(
      "appInsightsSampleRatio",
      0,
      "would send nothing",
      "pulumi config set appInsightsTracing false to turn telemetry off, or a ratio above 0",
    );
  }
  // A ratio without tracing is a stack that believes it sends telemetry and does not.
  const explicitRatio = r.rawValue("appInsightsSampleRatio");
  if (
    !appInsightsTracing &&
    explicitRatio !== undefined &&
    Number(explicitRatio) !== configSchema.appInsightsSampleRatio.default
  ) {
    r.problem(
      "appInsightsSampleRatio",
      explicitRatio,
      "has no effect while appInsightsTracing is false",
      "pulumi config set appInsightsTracing true, or pulumi config rm appInsightsSampleRatio",
    );
  }
  return { appInsightsTracing, sampleRatio };
}
