/**
 * A stack's settings for the cost estimate, read without the Pulumi CLI: the stack file's values go
 * through the program's own config parser (components/config), so the estimate sees exactly the
 * defaults, validation and refusals a preview would, instead of a second reading of the YAML.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import {
  clusterAutoscaleOf,
  gpuPoolMaxNodes,
  type ParseContext,
  parseStackSettings,
  type RawConfig,
  type StackSettings,
} from "../components/config";
import type { AutoscaleCostInput } from "./autoscaleEstimate";
import type { GpuCostInput } from "./estimate";
import type { MonitoringCostInput } from "./monitoringEstimate";

export interface StackFileConfig {
  /** The project's own keys, without the `<project>:` prefix, as strings (how Pulumi stores them). */
  readonly raw: RawConfig;
  /** `azure-native:location`, when the stack file sets it. */
  readonly providerLocation?: string;
}

/** The `config:` block of a Pulumi.<stack>.yaml, as the program's parser takes it. */
export function stackFileConfig(stackYaml: string, project: string): StackFileConfig {
  const doc: unknown = parse(stackYaml);
  const config =
    typeof doc === "object" &&
    doc !== null &&
    "config" in doc &&
    typeof doc.config === "object" &&
    doc.config !== null
      ? (doc.config as Record<string, unknown>)
      : {};
  const raw: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    if (key.startsWith(`${project}:`)) raw[key.slice(project.length + 1)] = String(value);
  }
  const providerLocation = config["azure-native:location"];
  return { raw, providerLocation: providerLocation === undefined ? undefined : String(providerLocation) };
}

/** The project name from Pulumi.yaml. */
export function projectName(projectYaml: string): string {
  const doc: unknown = parse(projectYaml);
  const name = typeof doc === "object" && doc !== null && "name" in doc ? doc.name : undefined;
  if (typeof name !== "string" || name === "") throw new Error("Pulumi.yaml has no project name");
  return name;
}

/** Parses a stack file of the project at `root` exactly as the program would (ConfigError when bad). */
export function stackSettingsFromFiles(root: string, stack: string): StackSettings {
  const project = projectName(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8"));
  const file = stackFileConfig(fs.readFileSync(path.join(root, `Pulumi.${stack}.yaml`), "utf8"), project);
  const context: ParseContext = {
    providerLocation: file.providerLocation,
    fileExists: (relative) => fs.existsSync(path.join(root, relative)),
  };
  return parseStackSettings(file.raw, context);
}

/** What the estimate needs, from parsed settings. */
export function gpuCostInputOf(settings: StackSettings): GpuCostInput {
  return {
    gpuVmSize: settings.gpuPool.vmSize,
    // With autoscaling, the most the pool can bill; the autoscaling line states its minimum.
    gpuNodeCount: gpuPoolMaxNodes(settings.autoscale, settings.gpuPool),
    location: settings.region.location,
  };
}

/** What the monitoring estimate reads of a stack (the preview's cost line and cost/print-estimate.ts). */
export function monitoringCostInputOf(settings: StackSettings): MonitoringCostInput {
  return {
    gpuNodeCount: gpuPoolMaxNodes(settings.autoscale, settings.gpuPool),
    gpusPerNode: settings.gpuPool.gpusPerNode,
    systemNodeCount: settings.kubernetes.systemNodeCount,
    replicas: settings.autoscale.enabled ? settings.autoscale.maxReplicas : settings.replicas.count,
    managedGrafana: settings.monitoring.managedGrafana,
    requestTelemetryRatio: settings.telemetry.appInsightsTracing ? settings.telemetry.sampleRatio : 0,
  };
}

/** What the autoscaling estimate reads of a stack; undefined when autoscale is off. */
export function autoscaleCostInputOf(settings: StackSettings): AutoscaleCostInput | undefined {
  const pool = clusterAutoscaleOf(settings.autoscale, settings.gpuPool, settings.replicas);
  if (pool === undefined) return undefined;
  return {
    gpuVmSize: settings.gpuPool.vmSize,
    location: settings.region.location,
    minNodes: Math.max(pool.minCount, pool.initialCount - settings.autoscale.warmReplicas),
    maxNodes: pool.maxCount,
    warmNodes: settings.autoscale.warmReplicas,
    maxReplicas: settings.autoscale.maxReplicas,
    refreshSeconds: settings.autoscale.refreshSeconds,
  };
}
