import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { collectedCounters, DCGM_DEFAULT_COUNTERS_FILE } from "../../components/dcgmExporter";
import { estimateMonitoringCost, MONITORING_ASSUMPTIONS } from "../../cost/monitoringEstimate";
import prices from "../../cost/monitoringPrices.json";

// The dev stack: 3 GPU nodes of one GPU, 2 system nodes, 3 replicas.
const dev = {
  gpuNodeCount: 3,
  gpusPerNode: 1,
  systemNodeCount: 2,
  replicas: 3,
  managedGrafana: false,
  requestTelemetryRatio: 0,
};
const close = (actual: number, expected: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) < 1e-6 * Math.max(1, expected), `${what}: ${actual} vs ${expected}`);

describe("estimateMonitoringCost", () => {
  it("prices the dev stack's metrics and logs from the stated volumes", () => {
    const estimate = estimateMonitoringCost(dev);
    // 5 nodes × 1,000 + 3 pods × 250 + 3 GPUs × 20 = 5,810 series, 120 samples an hour each, 730 hours.
    close(estimate.samplesPerMonth, 5810 * 120 * 730, "samples");
    // Per day: requests 5 × 86,400 × 500 B = 0.216 GB; other logs 0.5 GB; inventory 5 × 20 × 1 kB × 1,440
    // = 0.144 GB; audit (5 × 20 + 50) MB = 0.15 GB. 1.01 GB a day over 730 / 24 days.
    close(estimate.logGBPerMonth, 1.01 * (730 / 24), "log GB");
    const expected = ((5810 * 120 * 730) / 1e7) * 0.16 + 1.01 * (730 / 24) * 2.3;
    close(estimate.usdPerMonth, expected, "usd");
    assert.match(estimate.summary, /^Monitoring cost \(estimate\): about \$78\.80 per month\./);
    assert.match(
      estimate.summary,
      /5,810 Prometheus series scraped every 30 s, 509 M samples a month, \$8\.14/,
    );
    assert.match(estimate.summary, /30\.7 GB a month into Log Analytics, \$70\.66 at \$2\.3\/GB/);
    assert.match(estimate.summary, /Assumed: 5 requests\/s sustained/);
    assert.match(estimate.summary, /recorded 2026-12-01 \(cost\/monitoringPrices\.json\)/);
    assert.match(estimate.summary, /Managed Grafana is off/);
  });

  it("grows with the request rate the logs follow, and says by how much", () => {
    const perRequestPerSecond = ((86_400 * 500) / 1e9) * (730 / 24) * 2.3;
    assert.match(
      estimateMonitoringCost(dev).summary,
      new RegExp(`adds \\$${perRequestPerSecond.toFixed(2)} a month`),
    );
  });

  it("adds the Managed Grafana instance-hours only when the option is on", () => {
    const off = estimateMonitoringCost(dev);
    const on = estimateMonitoringCost({ ...dev, managedGrafana: true });
    close(on.usdPerMonth - off.usdPerMonth, 0.069 * 730, "grafana");
    assert.match(
      on.summary,
      /Managed Grafana \(Standard\): \$50\.37 a month at \$0\.069\/hour, plus \$6 per active user/,
    );
  });

  it("adds the request telemetry sent to Application Insights, at the Log Analytics rate, only when on", () => {
    const off = estimateMonitoringCost(dev);
    assert.match(off.summary, /Request telemetry to Application Insights is off/);
    const on = estimateMonitoringCost({ ...dev, requestTelemetryRatio: 0.5 });
    // 5 requests/s × 86,400 × 0.5 × 1,000 B = 0.216 GB a day, over 730 / 24 days, at $2.30/GB.
    close(on.logGBPerMonth - off.logGBPerMonth, 0.216 * (730 / 24), "telemetry GB");
    close(on.usdPerMonth - off.usdPerMonth, 0.216 * (730 / 24) * 2.3, "telemetry usd");
    assert.match(
      on.summary,
      /Request telemetry to Application Insights \(50 % of requests, 1000 bytes an item\): \$15\.11/,
    );
    assert.throws(
      () => estimateMonitoringCost({ ...dev, requestTelemetryRatio: 1.5 }),
      /between 0 and 1, got 1\.5/,
    );
  });

  it("scales the GPU telemetry with the GPUs", () => {
    const one = estimateMonitoringCost(dev);
    const more = estimateMonitoringCost({ ...dev, gpusPerNode: 4 });
    close(more.samplesPerMonth - one.samplesPerMonth, 3 * 3 * 20 * 120 * 730, "DCGM samples");
  });

  it("assumes as many DCGM series per GPU as the exporter is configured to collect", () => {
    const counters = collectedCounters(fs.readFileSync(DCGM_DEFAULT_COUNTERS_FILE, "utf8")).filter(
      (c) => c.type !== "label",
    );
    assert.equal(MONITORING_ASSUMPTIONS.dcgmSeriesPerGpu, counters.length);
  });

  it("refuses sizes that are not whole numbers", () => {
    assert.throws(() => estimateMonitoringCost({ ...dev, replicas: 1.5 }), /replicas must be a whole number/);
    assert.throws(() => estimateMonitoringCost({ ...dev, gpuNodeCount: -1 }), /gpuNodeCount/);
  });

  it("every price names where it was found and how to refresh it", () => {
    for (const [key, entry] of Object.entries(prices.prices)) {
      assert.ok(entry.usd > 0, key);
      assert.ok(entry.refreshFrom.startsWith("https://"), key);
      assert.ok(entry.howFound.length > 40, key);
    }
    assert.match(prices.recordedOn, /^\d{4}-\d{2}-\d{2}$/);
  });
});

describe("cost/print-estimate.ts with monitoring", () => {
  it("prints the dev stack's monitoring estimate after the GPU cost", () => {
    const tsx = path.resolve(__dirname, "../../node_modules/.bin/tsx");
    const output = execFileSync(tsx, [path.join(__dirname, "..", "..", "cost", "print-estimate.ts"), "dev"], {
      encoding: "utf8",
    });
    assert.match(output, /\n\nMonitoring cost \(estimate\): about \$78\.80 per month\. /);
    assert.ok(output.indexOf("GPU cost:") < output.indexOf("Monitoring cost"));
  });
});
