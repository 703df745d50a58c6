import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parseStackSettings } from "../../components/config";
import { gpuSkuCatalogue } from "../../components/gpuSkus";
import { estimateGpuCost } from "../../cost/estimate";
import { gpuPriceTable, parsePriceTable } from "../../cost/priceTable";
import { gpuCostInputOf, stackFileConfig, stackSettingsFromFiles } from "../../cost/stackConfig";

describe("estimateGpuCost", () => {
  it("prices a known size from the table, naming the price date and source", () => {
    const estimate = estimateGpuCost({
      gpuVmSize: "Standard_NC4as_T4_v3",
      gpuNodeCount: 3,
      location: "eastus",
    });
    assert.equal(estimate.nodeHoursPerDay, 72);
    assert.equal(estimate.nodeHoursPerMonth, 2190);
    assert.ok(Math.abs((estimate.usdPerHour ?? 0) - 1.578) < 1e-9);
    assert.ok(Math.abs((estimate.usdPerDay ?? 0) - 37.872) < 1e-9);
    assert.ok(Math.abs((estimate.usdPerMonth ?? 0) - 1151.94) < 1e-9);
    assert.match(
      estimate.summary,
      /3 × Standard_NC4as_T4_v3 \(3 GPU\(s\)\) in eastus: 72 GPU node-hours per day, 2,190 per month/,
    );
    assert.match(
      estimate.summary,
      /about \$37\.87 per day and \$1,151\.94 per month at \$0\.526 per node-hour/,
    );
    assert.match(
      estimate.summary,
      /recorded 2026-11-25, source: https:\/\/prices\.azure\.com\/api\/retail\/prices/,
    );
    assert.doesNotMatch(estimate.summary, /may differ/);
  });

  it("says when the stack's region is not the one the price was recorded for", () => {
    const estimate = estimateGpuCost({
      gpuVmSize: "Standard_NC4as_T4_v3",
      gpuNodeCount: 1,
      location: "westeurope",
    });
    assert.match(estimate.summary, /The price is for eastus; westeurope may differ\./);
  });

  it("says clearly that a retired size has no price, and still counts node-hours", () => {
    const estimate = estimateGpuCost({ gpuVmSize: "Standard_NC6", gpuNodeCount: 3, location: "eastus" });
    assert.equal(estimate.usdPerHour, undefined);
    assert.equal(estimate.usdPerMonth, undefined);
    assert.equal(estimate.nodeHoursPerMonth, 2190);
    assert.match(estimate.summary, /No price: Azure retired Standard_NC6 on 2023-09-06/);
  });

  it("prices a retired size's replacement from the catalogue for the same node count", () => {
    const replacement = gpuSkuCatalogue.Standard_NC6s_v3.retired?.replacement;
    assert.equal(replacement, "Standard_NC24ads_A100_v4");
    const estimate = estimateGpuCost({ gpuVmSize: "Standard_NC6s_v3", gpuNodeCount: 2, location: "eastus" });
    assert.match(estimate.summary, /No price: Azure retired Standard_NC6s_v3 on 2025-09-30/);
    // 2 nodes × $3.67 per node-hour (cost/gpuPrices.json) × 24 h and × 730 h.
    assert.match(
      estimate.summary,
      /Its replacement in the catalogue, Standard_NC24ads_A100_v4 \(pulumi config set gpuVmSize Standard_NC24ads_A100_v4\), would cost about \$176\.16 per day and \$5,358\.20 per month for the same 2 node\(s\) at \$3\.67 per node-hour/,
    );
  });

  it("names a retired size's replacement even when the replacement has no price", () => {
    const estimate = estimateGpuCost({ gpuVmSize: "Standard_NC12", gpuNodeCount: 1, location: "eastus" });
    const replacement = gpuSkuCatalogue.Standard_NC12.retired?.replacement ?? "";
    assert.equal(gpuPriceTable.sizes[replacement], undefined, "the test needs an unpriced replacement");
    assert.ok(
      estimate.summary.endsWith(
        `Its replacement in the catalogue is ${replacement} (pulumi config set gpuVmSize ${replacement}); no price is known for it.`,
      ),
      estimate.summary,
    );
  });

  it("says clearly that no price is known for a size missing from the table", () => {
    const estimate = estimateGpuCost({
      gpuVmSize: "Standard_NC8as_T4_v3",
      gpuNodeCount: 2,
      location: "eastus",
    });
    assert.equal(estimate.usdPerDay, undefined);
    assert.match(estimate.summary, /No price is known for Standard_NC8as_T4_v3/);
    assert.match(estimate.summary, /48 GPU node-hours per day, 1,460 per month/);
  });

  it("rejects a node count that is not a whole number, naming it", () => {
    assert.throws(
      () => estimateGpuCost({ gpuVmSize: "Standard_NC4as_T4_v3", gpuNodeCount: 1.5, location: "eastus" }),
      /gpuNodeCount must be a whole number of nodes \(0 or more\), got 1\.5/,
    );
    assert.throws(
      () => estimateGpuCost({ gpuVmSize: " ", gpuNodeCount: 1, location: "eastus" }),
      /gpuVmSize must name an Azure VM size/,
    );
  });
});

describe("cost/gpuPrices.json", () => {
  it("marks exactly the catalogue's retired sizes as retired, on the catalogue's dates", () => {
    for (const [size, sku] of Object.entries(gpuSkuCatalogue)) {
      const entry = gpuPriceTable.sizes[size];
      if (sku.retired !== undefined) {
        assert.deepEqual(entry, { kind: "retired", retired: sku.retired.date }, size);
      } else if (entry !== undefined) {
        assert.equal(entry.kind, "priced", size);
      }
    }
  });

  it("prices only sizes the catalogue knows, and every retired size's replacement is a supported one", () => {
    for (const size of Object.keys(gpuPriceTable.sizes)) {
      assert.ok(size in gpuSkuCatalogue, `${size} is priced but missing from components/gpuSkus.ts`);
    }
    for (const sku of Object.values(gpuSkuCatalogue)) {
      if (sku.retired === undefined) continue;
      assert.equal(gpuSkuCatalogue[sku.retired.replacement]?.retired, undefined, sku.vmSize);
    }
  });

  it("rejects a price without a source and a retired size with a price", () => {
    const base = { currency: "USD", region: "eastus", recordedOn: "2026-11-25" };
    assert.throws(
      () => parsePriceTable({ ...base, sizes: { Standard_X: { usdPerHour: 1 } } }),
      /Standard_X\.source must be an https URL/,
    );
    assert.throws(
      () => parsePriceTable({ ...base, sizes: { Standard_X: { retired: "2023-09-06", usdPerHour: 1 } } }),
      /Standard_X is retired, so it must not carry a price/,
    );
  });
});

describe("the stack settings the estimate reads (through the program's config parser)", () => {
  const stackYaml =
    "config:\n  azure-native:location: westeurope\n  gpu-inference-aks:gpuVmSize: Standard_NC8as_T4_v3\n" +
    "  gpu-inference-aks:gpuNodeCount: 2\n  gpu-inference-aks:replicas: 2\n";

  it("takes the stack's values and the program's defaults and rules, azure-native:location included", () => {
    const file = stackFileConfig(stackYaml, "gpu-inference-aks");
    assert.deepEqual(file, {
      raw: { gpuVmSize: "Standard_NC8as_T4_v3", gpuNodeCount: "2", replicas: "2" },
      providerLocation: "westeurope",
    });
    const settings = parseStackSettings(file.raw, { providerLocation: file.providerLocation });
    assert.deepEqual(gpuCostInputOf(settings), {
      gpuVmSize: "Standard_NC8as_T4_v3",
      gpuNodeCount: 2,
      location: "westeurope",
    });
  });

  it("reads the dev stack from the repository's own files as the program does", () => {
    const settings = stackSettingsFromFiles(path.resolve(__dirname, "..", ".."), "dev");
    assert.deepEqual(gpuCostInputOf(settings), {
      gpuVmSize: "Standard_NC4as_T4_v3",
      gpuNodeCount: 3,
      location: "eastus",
    });
  });

  it("refuses what the preview refuses, with the same words", () => {
    const file = stackFileConfig(
      "config:\n  gpu-inference-aks:gpuVmSize: Standard_NC6\n",
      "gpu-inference-aks",
    );
    assert.throws(
      () => parseStackSettings(file.raw),
      /gpuVmSize = "Standard_NC6": .*retired by Azure on 2023-09-06/,
    );
  });
});

describe("cost/print-estimate.ts", () => {
  it("prints the dev stack's estimate as Markdown from the repository's own files", () => {
    const tsx = path.resolve(__dirname, "../../node_modules/.bin/tsx");
    const output = execFileSync(tsx, [path.join(__dirname, "..", "..", "cost", "print-estimate.ts"), "dev"], {
      encoding: "utf8",
    });
    assert.match(
      output,
      /^### GPU cost of stack `dev`\n\nGPU cost: 3 × Standard_NC4as_T4_v3 \(3 GPU\(s\)\) in eastus/,
    );
  });

  it("fails with a clear message for a stack that has no file", () => {
    const tsx = path.resolve(__dirname, "../../node_modules/.bin/tsx");
    assert.throws(
      () =>
        execFileSync(tsx, [path.join(__dirname, "..", "..", "cost", "print-estimate.ts"), "nosuchstack"], {
          encoding: "utf8",
          stdio: "pipe",
        }),
      (error: { stderr?: string }) => /Pulumi\.nosuchstack\.yaml does not exist/.test(error.stderr ?? ""),
    );
  });
});
