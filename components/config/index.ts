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
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { configKeys } from "../configSchema";
import { type AccessSettings, accessSection } from "./access";
import { type AuthSettings, authSection } from "./auth";
import { type AutoscaleSettings, autoscaleChecks, autoscaleSection } from "./autoscale";
import { capacityChecks } from "./capacity";
import { type CaptureSettings, captureSection } from "./capture";
import { type DeployerSettings, deployerSection } from "./deployer";
import { type GpuPoolSettings, gpuPoolSection } from "./gpuPool";
import { type KeySettings, keysSection } from "./keys";
import { type KubernetesSettings, kubernetesSection } from "./kubernetes";
import { type MaintenanceSettings, maintenanceSection } from "./maintenance";
import { type MetadataSettings, metadataSection } from "./metadata";
import { type FileExists, type ModelSettings, modelSection } from "./model";
import { type MonitoringSettings, monitoringSection } from "./monitoring";
import { ConfigError, type RawConfig, Reader } from "./reader";
import { type RegionSettings, regionSection } from "./region";
import { type ReplicaSettings, replicasSection } from "./replicas";
import { type ServiceSettings, serviceSection } from "./service";
import { type ServingSettings, servingChecks, servingSection } from "./serving";
import { type TelemetrySettings, telemetrySection } from "./telemetry";
import { type VersionSettings, versionsSection } from "./versions";
import { type WorkspaceAttachSettings, workspaceSection } from "./workspace";

export { type AccessSettings, ANYONE, type KeyVaultCertificate } from "./access";
export { AUTH_MODES, type AuthMode, type AuthSettings, entraIssuer, tokenAudiences } from "./auth";
export {
  type AutoscaleSettings,
  type ClusterAutoscale,
  clusterAutoscaleOf,
  gpuPoolMaxNodes,
  gpuPoolMinNodes,
} from "./autoscale";
export type { CaptureSettings } from "./capture";
export type { DeployerSettings } from "./deployer";
export type { GpuPoolSettings } from "./gpuPool";
export type { KeySettings } from "./keys";
export type { KubernetesSettings } from "./kubernetes";
export type { MaintenanceSettings, Weekday } from "./maintenance";
export type { MetadataSettings } from "./metadata";
export type { ModelSettings } from "./model";
export type { MonitoringSettings } from "./monitoring";
export { ConfigError, type RawConfig } from "./reader";
export type { RegionSettings } from "./region";
export type { ReplicaSettings } from "./replicas";
export type { ServiceSettings } from "./service";
export type { ProbeSettings, ServingSettings } from "./serving";
export type { TelemetrySettings } from "./telemetry";
export type { CandidateSettings, VersionSettings } from "./versions";
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
  readonly maintenance: MaintenanceSettings;
  readonly access: AccessSettings;
  readonly monitoring: MonitoringSettings;
  readonly telemetry: TelemetrySettings;
  readonly autoscale: AutoscaleSettings;
  readonly serving: ServingSettings;
  readonly deployer: DeployerSettings;
  readonly auth: AuthSettings;
  readonly versions: VersionSettings;
  readonly capture: CaptureSettings;
  readonly metadata: MetadataSettings;
}

/** What parsing needs besides the project's own keys. */
export interface ParseContext {
  /** The stack's `azure-native:location`, when it sets one. */
  readonly providerLocation?: string;
  /** Whether a project-relative file exists; by default, relative to the working directory (Pulumi runs there). */
  readonly fileExists?: FileExists;
}

function unknownKeys(r: Reader, raw: RawConfig): void {
  for (const key of Object.keys(raw).filter((k) => !(configKeys as string[]).includes(k))) {
    r.problems.push(
      `${key}: is not a config key of this project (known keys: ${configKeys.join(", ")}). ` +
        `Fix: pulumi config rm ${key}, or correct its spelling`,
    );
  }
}

/** Validates a plain record of stack config values (strings, as Pulumi stores them). */
export function parseStackSettings(raw: RawConfig, context: ParseContext = {}): StackSettings {
  const r = new Reader(raw);
  unknownKeys(r, raw);
  const region = regionSection(r, context.providerLocation);
  const kubernetes = kubernetesSection(r);
  const gpuPool = gpuPoolSection(r);
  const replicas = replicasSection(r);
  capacityChecks(r, gpuPool, replicas);
  const service = serviceSection(r);
  const fileExists = context.fileExists ?? ((file: string) => fs.existsSync(path.resolve(file)));
  const model = modelSection(r, fileExists);
  const workspace = workspaceSection(r);
  const keys = keysSection(r);
  const maintenance = maintenanceSection(r);
  const access = accessSection(r);
  const monitoring = monitoringSection(r);
  const telemetry = telemetrySection(r);
  const autoscale = autoscaleSection(r);
  const serving = servingSection(r);
  servingChecks(r, serving, replicas);
  const deployer = deployerSection(r);
  const auth = authSection(r);
  const versions = versionsSection(r, model, gpuPool, replicas, fileExists);
  autoscaleChecks(r, autoscale, gpuPool, replicas, versions.candidate?.replicas ?? 0);
  const capture = captureSection(r);
  const metadata = metadataSection(r);
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
    maintenance,
    access,
    monitoring,
    telemetry,
    autoscale,
    serving,
    deployer,
    auth,
    versions,
    capture,
    metadata,
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
  try {
    return parseStackSettings(raw, { providerLocation: pulumi.runtime.allConfig()["azure-native:location"] });
  } catch (error) {
    throw error instanceof ConfigError ? error.reportedToPulumi() : error;
  }
}
