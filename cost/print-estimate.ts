/**
 * Prints the GPU cost of a stack as Markdown, from Pulumi.yaml and Pulumi.<stack>.yaml, with no
 * Pulumi CLI or cloud access. The pull request workflow appends it to the job summary and the PR.
 * Usage: npx tsx cost/print-estimate.ts <stack>
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { estimateAutoscaleCost } from "./autoscaleEstimate";
import { estimateGpuCost } from "./estimate";
import { estimateMonitoringCost } from "./monitoringEstimate";
import {
  autoscaleCostInputOf,
  gpuCostInputOf,
  monitoringCostInputOf,
  stackSettingsFromFiles,
} from "./stackConfig";

function main(argv: readonly string[]): number {
  const stack = argv[0];
  if (stack === undefined || !/^[A-Za-z0-9_.-]+$/.test(stack)) {
    process.stderr.write("usage: tsx cost/print-estimate.ts <stack>   (e.g. dev)\n");
    return 2;
  }
  const root = path.resolve(__dirname, "..");
  const stackFile = path.join(root, `Pulumi.${stack}.yaml`);
  if (!existsSync(stackFile)) {
    process.stderr.write(`error: ${stackFile} does not exist; is "${stack}" the stack's name?\n`);
    return 1;
  }
  // The program's own parser: a stack the preview would refuse is refused here too, with its words.
  const settings = stackSettingsFromFiles(root, stack);
  const estimate = estimateGpuCost(gpuCostInputOf(settings));
  const monitoring = estimateMonitoringCost(monitoringCostInputOf(settings));
  const autoscale = autoscaleCostInputOf(settings);
  const autoscaleLine = autoscale === undefined ? "" : `\n${estimateAutoscaleCost(autoscale).summary}\n`;
  process.stdout.write(
    `### GPU cost of stack \`${stack}\`\n\n${estimate.summary}\n\n${monitoring.summary}\n${autoscaleLine}`,
  );
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
