/**
 * The one place stack config is read, typed and validated. `parseStackSettings` is a pure function of
 * a plain record, so every rejection is testable without Pulumi; `readStackSettings` feeds it from the
 * stack. All problems are reported at once, before any resource exists, each naming the key, the
 * value and the fix.
 *
 * Each config section is one small function in its own file in this folder, taking the shared Reader
 * and returning that section's typed settings. To add a section: declare its keys in
 * components/configSchema.ts and Pulumi.yaml, write `<name>Section(r)` in a new file here, add its
 * result to StackSettings and one line to parseStackSettings below. Checks that span sections
 * (capacity.ts) run after the sections they read.
 */
import * as pulumi from "@pulumi/pulumi";
import { configKeys } from "../configSchema";
import { capacityChecks } from "./capacity";
import { type GpuPoolSettings, gpuPoolSection } from "./gpuPool";
import { type KeySettings, keysSection } from "./keys";
import { type KubernetesSettings, kubernetesSection } from "./kubernetes";
import { type ModelSettings, modelSection } from "./model";
import { ConfigError, type RawConfig, Reader } from "./reader";
import { type RegionSettings, regionSection } from "./region";
import { type ReplicaSettings, replicasSection } from "./replicas";
import { type ServiceSettings, serviceSection } from "./service";
import { type WorkspaceAttachSettings, workspaceSection } from "./workspace";

export type { GpuPoolSettings } from "./gpuPool";
export type { KeySettings } from "./keys";
export type { KubernetesSettings } from "./kubernetes";
export type { ModelSettings } from "./model";
export { ConfigError, type RawConfig } from "./reader";
export type { RegionSettings } from "./region";
export type { ReplicaSettings } from "./replicas";
export type { ServiceSettings } from "./service";
export type { WorkspaceAttachSettings } from "./workspace";

export interface StackSettings {
  readonly region: RegionSettings;
  readonly kubernetes: KubernetesSettings;
  readonly gpuPool: GpuPoolSettings;
  readonly replicas: ReplicaSettings;
  readonly model: ModelSettings;
  readonly workspace: WorkspaceAttachSettings;
  readonly keys: KeySettings;
  readonly service: ServiceSettings;
  /** Things worth telling the user at preview that do not stop the deployment. */
  readonly warnings: readonly string[];
}

function unknownKeys(r: Reader, raw: RawConfig): void {
  for (const key of Object.keys(raw).filter((k) => !(configKeys as string[]).includes(k))) {
    r.problems.push(
      `${key}: is not a config key of this project (known keys: ${configKeys.join(", ")}). ` +
        `Fix: pulumi config rm ${key}, or correct its spelling`,
    );
  }
}

function warnings(pool: GpuPoolSettings): string[] {
  const retired = pool.sku?.retired;
  if (!retired) return [];
  const kepler =
    pool.sku?.gpuModel.includes("K80") === true
      ? " Its Tesla K80 (Kepler) is also unsupported by CUDA 12 and current NVIDIA drivers, so the scoring image cannot use it."
      : "";
  return [
    `gpuVmSize ${pool.vmSize} was retired by Azure on ${retired.date}: Azure no longer allocates it and AKS cannot ` +
      `create or scale a node pool of it, so this deployment's GPU pool will fail to provision.${kepler} ` +
      `Kept because this stack asks for it; to deploy, switch to a supported size: ` +
      `pulumi config set gpuVmSize ${retired.replacement}`,
  ];
}

/** Validates a plain record of stack config values (strings, as Pulumi stores them). */
export function parseStackSettings(raw: RawConfig): StackSettings {
  const r = new Reader(raw);
  unknownKeys(r, raw);
  const region = regionSection(r);
  const kubernetes = kubernetesSection(r);
  const gpuPool = gpuPoolSection(r);
  const replicas = replicasSection(r);
  capacityChecks(r, gpuPool, replicas);
  const service = serviceSection(r);
  const model = modelSection(r);
  const workspace = workspaceSection(r);
  const keys = keysSection(r);
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return {
    region,
    kubernetes,
    gpuPool,
    replicas,
    model,
    workspace,
    keys,
    service,
    warnings: warnings(gpuPool),
  };
}

/** Reads this project's stack config once and validates it. */
export function readStackSettings(): StackSettings {
  const prefix = `${pulumi.getProject()}:`;
  const raw: Record<string, string | undefined> = {};
  // Every key of this project's namespace, so a misspelt key is reported instead of silently ignored.
  for (const [fullKey, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (fullKey.startsWith(prefix)) raw[fullKey.slice(prefix.length)] = value;
  }
  return parseStackSettings(raw);
}
