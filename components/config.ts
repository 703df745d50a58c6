/**
 * The one place stack config is read, typed and validated. `parseStackSettings` is a pure function of
 * a plain record, so every rejection is testable without Pulumi; `readStackSettings` feeds it from the
 * stack. All problems are reported at once, before any resource exists, each naming the key, the
 * value and the fix.
 */
import * as pulumi from "@pulumi/pulumi";
import { type ConfigKey, configKeys, configSchema } from "./configSchema";
import { type GpuSku, gpuSkuCatalogue } from "./gpuSkus";
import { allocatableCpu, allocatableMemoryGiB, podsOnBusiestNode } from "./nodeCapacity";

export interface GpuPoolSettings {
  readonly vmSize: string;
  readonly nodeCount: number;
  readonly gpusPerNode: number;
  readonly vCpus: number;
  readonly memoryGiB: number;
  /** The catalogue row when the size is known (absent for sizes given through the overrides). */
  readonly sku?: GpuSku;
}

export interface StackSettings {
  readonly location: string;
  readonly namePrefix: string;
  readonly kubernetesVersion: string;
  readonly systemVmSize: string;
  readonly systemNodeCount: number;
  readonly gpuPool: GpuPoolSettings;
  readonly replicas: number;
  readonly replicaGpus: number;
  readonly replicaCpu: number;
  readonly replicaMemoryGiB: number;
  readonly namespace: string;
  readonly model: { readonly name: string; readonly version: string; readonly file: string };
  readonly attachToWorkspace: boolean;
  readonly computeName: string;
  readonly primaryKeyVersion: number;
  readonly secondaryKeyVersion: number;
  readonly preStopSeconds: number;
  readonly drainSeconds: number;
  /** Things worth telling the user at preview that do not stop the deployment. */
  readonly warnings: readonly string[];
}

export type RawConfig = Readonly<Partial<Record<string, string | undefined>>>;

/** Raised for bad stack config; pulumi.RunError prints the message without a stack trace. */
export class ConfigError extends pulumi.RunError {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid stack configuration (${problems.length} problem(s)):\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

// Oldest AKS minor that is still in (long-term) support in November 2026; older clusters cannot be created.
const OLDEST_SUPPORTED_MINOR = 31;
const MAX_NODES_PER_POOL = 1000;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly raw: RawConfig) {}

  private rawValue(key: ConfigKey): string | undefined {
    const value = this.raw[key];
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  }

  problem(key: ConfigKey, value: unknown, message: string, fix: string): void {
    this.problems.push(`${key} = ${JSON.stringify(value)}: ${message}. Fix: ${fix}`);
  }

  string(key: ConfigKey): string {
    const value = this.rawValue(key);
    const spec = configSchema[key];
    if (value !== undefined) return value;
    return "default" in spec ? String(spec.default) : "";
  }

  optionalNumber(key: ConfigKey, integer: boolean): number | undefined {
    const value = this.rawValue(key);
    if (value === undefined) {
      const spec = configSchema[key];
      return "default" in spec && typeof spec.default === "number" ? spec.default : undefined;
    }
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || (integer && !Number.isInteger(parsed))) {
      this.problem(
        key,
        value,
        `must be ${integer ? "a whole number" : "a number"}`,
        `pulumi config set ${key} <${integer ? "integer" : "number"}>`,
      );
      return undefined;
    }
    return parsed;
  }

  number(key: ConfigKey, integer: boolean, min: number, max: number, fix: string): number {
    const parsed = this.optionalNumber(key, integer);
    if (parsed === undefined) return Number.NaN;
    if (parsed < min || parsed > max) {
      this.problem(key, parsed, `must be between ${min} and ${max}`, fix);
    }
    return parsed;
  }

  boolean(key: ConfigKey): boolean {
    const value = this.rawValue(key);
    const spec = configSchema[key];
    if (value === undefined) return "default" in spec && spec.default === true;
    if (value === "true" || value === "false") return value === "true";
    this.problem(key, value, "must be true or false", `pulumi config set ${key} true`);
    return false;
  }

  matching(key: ConfigKey, pattern: RegExp, message: string, fix: string): string {
    const value = this.string(key);
    if (!pattern.test(value)) this.problem(key, value, message, fix);
    return value;
  }
}

function gpuPoolSettings(r: Reader): GpuPoolSettings {
  const vmSize = r.matching(
    "gpuVmSize",
    /^Standard_[A-Za-z0-9_]+$/,
    "is not an Azure VM size name",
    "use an exact size name such as Standard_NC4as_T4_v3",
  );
  const nodeCount = r.number(
    "gpuNodeCount",
    true,
    1,
    MAX_NODES_PER_POOL,
    "pulumi config set gpuNodeCount 3 (AKS allows 1-1000 nodes per pool)",
  );
  const nameIsValid = /^Standard_[A-Za-z0-9_]+$/.test(vmSize);
  const sku: GpuSku | undefined = gpuSkuCatalogue[vmSize];
  const gpusOverride = r.optionalNumber("gpusPerNode", true);
  const vCpusOverride = r.optionalNumber("gpuVmVcpus", true);
  const memoryOverride = r.optionalNumber("gpuVmMemoryGiB", false);
  const missing = (
    [
      ["gpusPerNode", gpusOverride],
      ["gpuVmVcpus", vCpusOverride],
      ["gpuVmMemoryGiB", memoryOverride],
    ] as const
  ).filter(([, value]) => value === undefined && sku === undefined && nameIsValid);
  if (missing.length > 0) {
    r.problem(
      "gpuVmSize",
      vmSize,
      `is not in the GPU size catalogue (components/gpuSkus.ts), so its GPU count and size are unknown`,
      `set ${missing.map(([key]) => `${key}`).join(", ")} for it (e.g. pulumi config set gpusPerNode 1), ` +
        `or pick a known size such as Standard_NC4as_T4_v3`,
    );
  }
  const gpusPerNode = gpusOverride ?? sku?.gpusPerNode ?? Number.NaN;
  const vCpus = vCpusOverride ?? sku?.vCpus ?? Number.NaN;
  const memoryGiB = memoryOverride ?? sku?.memoryGiB ?? Number.NaN;
  for (const [key, value] of [
    ["gpusPerNode", gpusOverride],
    ["gpuVmVcpus", vCpusOverride],
    ["gpuVmMemoryGiB", memoryOverride],
  ] as const) {
    if (value !== undefined && value < 1) {
      r.problem(key, value, "must be at least 1", `set it to what one ${vmSize} node really has`);
    }
  }
  // An out-of-range count is already reported; NaN keeps the capacity checks from piling on.
  const countIsValid = nodeCount >= 1 && nodeCount <= MAX_NODES_PER_POOL;
  return { vmSize, nodeCount: countIsValid ? nodeCount : Number.NaN, gpusPerNode, vCpus, memoryGiB, sku };
}

function kubernetesVersion(r: Reader): string {
  const value = r.string("kubernetesVersion");
  const match = /^1\.(\d+)(\.\d+)?$/.exec(value);
  if (!match) {
    r.problem(
      "kubernetesVersion",
      value,
      "is not a Kubernetes version (major.minor or major.minor.patch, without a leading v)",
      "pulumi config set kubernetesVersion 1.35 (list them with: az aks get-versions -l <location>)",
    );
  } else if (Number(match[1]) < OLDEST_SUPPORTED_MINOR) {
    r.problem(
      "kubernetesVersion",
      value,
      `is past AKS support (the oldest minor AKS still supports is 1.${OLDEST_SUPPORTED_MINOR}); new clusters cannot use it`,
      "pulumi config set kubernetesVersion 1.35 (list them with: az aks get-versions -l <location>)",
    );
  }
  return value;
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
  const unknownKeys = Object.keys(raw).filter((key) => !(configKeys as string[]).includes(key));
  const r = new Reader(raw);
  for (const key of unknownKeys) {
    r.problems.push(
      `${key}: is not a config key of this project (known keys: ${configKeys.join(", ")}). ` +
        `Fix: pulumi config rm ${key}, or correct its spelling`,
    );
  }

  const location = r.matching(
    "location",
    /^[a-z][a-z0-9]{2,}$/,
    "is not an Azure region name (lowercase letters and digits, no spaces)",
    'use the programmatic name, e.g. "westeurope" rather than "West Europe" (az account list-locations -o table)',
  );
  const namePrefix = r.matching(
    "namePrefix",
    /^[a-z][a-z0-9]{2,9}$/,
    "must be 3-10 lowercase letters or digits starting with a letter (storage and registry names allow nothing else)",
    "pulumi config set namePrefix gpuinf",
  );
  const version = kubernetesVersion(r);
  const systemVmSize = r.matching(
    "systemVmSize",
    /^Standard_[A-Za-z0-9_]+$/,
    "is not an Azure VM size name",
    "pulumi config set systemVmSize Standard_D4s_v5",
  );
  const systemNodeCount = r.number(
    "systemNodeCount",
    true,
    1,
    MAX_NODES_PER_POOL,
    "pulumi config set systemNodeCount 2",
  );
  const gpuPool = gpuPoolSettings(r);

  const replicas = r.number("replicas", true, 1, 1000, "pulumi config set replicas 3");
  const replicaGpus = r.number(
    "replicaGpus",
    true,
    1,
    64,
    "pulumi config set replicaGpus 1 (the app uses one GPU)",
  );
  const replicaCpu = r.number("replicaCpu", false, 0.1, 1024, "pulumi config set replicaCpu 2");
  const replicaMemoryGiB = r.number(
    "replicaMemoryGiB",
    false,
    0.25,
    4096,
    "pulumi config set replicaMemoryGiB 4",
  );

  if (Number.isFinite(gpuPool.gpusPerNode) && replicaGpus > gpuPool.gpusPerNode) {
    r.problem(
      "replicaGpus",
      replicaGpus,
      `is more than one ${gpuPool.vmSize} node has (${gpuPool.gpusPerNode}), so no pod could ever be scheduled`,
      `pulumi config set replicaGpus ${gpuPool.gpusPerNode}, or a larger gpuVmSize`,
    );
  } else if (
    Number.isFinite(gpuPool.gpusPerNode) &&
    replicas * replicaGpus > gpuPool.nodeCount * gpuPool.gpusPerNode
  ) {
    const gpus = gpuPool.nodeCount * gpuPool.gpusPerNode;
    const nodesNeeded = Math.ceil((replicas * replicaGpus) / gpuPool.gpusPerNode);
    r.problem(
      "replicas",
      replicas,
      `${replicas} pods × ${replicaGpus} GPU need ${replicas * replicaGpus} GPUs but the pool has ${gpus} ` +
        `(${gpuPool.nodeCount} × ${gpuPool.vmSize}); the extra pods would stay Pending`,
      `pulumi config set gpuNodeCount ${nodesNeeded}, or lower replicas to ${Math.floor(gpus / replicaGpus)}`,
    );
  }

  if (
    Number.isFinite(gpuPool.vCpus) &&
    Number.isFinite(gpuPool.gpusPerNode) &&
    replicaGpus <= gpuPool.gpusPerNode
  ) {
    const pods = podsOnBusiestNode(replicas, gpuPool.nodeCount, gpuPool.gpusPerNode, replicaGpus);
    const cpuRoom = allocatableCpu(gpuPool.vCpus);
    if (pods * replicaCpu > cpuRoom) {
      r.problem(
        "replicaCpu",
        replicaCpu,
        `${pods} pod(s) per ${gpuPool.vmSize} node × ${replicaCpu} cores exceed the ${cpuRoom.toFixed(2)} cores ` +
          `left for pods on its ${gpuPool.vCpus} vCPUs after AKS and DaemonSet reservations`,
        `pulumi config set replicaCpu ${Math.floor((cpuRoom / pods) * 10) / 10}, or a larger gpuVmSize`,
      );
    }
    const memoryRoom = allocatableMemoryGiB(gpuPool.memoryGiB);
    if (pods * replicaMemoryGiB > memoryRoom) {
      r.problem(
        "replicaMemoryGiB",
        replicaMemoryGiB,
        `${pods} pod(s) per ${gpuPool.vmSize} node × ${replicaMemoryGiB} GiB exceed the ${memoryRoom.toFixed(1)} GiB ` +
          `left for pods of its ${gpuPool.memoryGiB} GiB after AKS and DaemonSet reservations`,
        `pulumi config set replicaMemoryGiB ${Math.floor(memoryRoom / pods)}, or a larger gpuVmSize`,
      );
    }
  }

  const namespace = r.matching(
    "namespace",
    /^(?!kube-)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
    "must be a DNS label (lowercase letters, digits and '-', at most 63) and not a kube- system namespace",
    "pulumi config set namespace scoring",
  );
  const modelName = r.matching(
    "modelName",
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/,
    "is not a valid Azure ML asset name (letters, digits, '-', '_', '.'; starting with a letter or digit)",
    "pulumi config set modelName mnist-mlp",
  );
  const modelVersion = r.matching(
    "modelVersion",
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,29}$/,
    "is not a valid Azure ML asset version",
    "pulumi config set modelVersion 1",
  );
  const modelFile = r.matching(
    "modelFile",
    /^(?!\/)(?!.*\.\.)[A-Za-z0-9_./-]+$/,
    "must be a relative path inside the project",
    "pulumi config set modelFile app/model/mnist_mlp.npz",
  );
  const computeName = r.matching(
    "computeName",
    /^[A-Za-z][A-Za-z0-9-]{1,15}$/,
    "must be 2-16 letters, digits or '-' starting with a letter (Azure ML compute name rules)",
    "pulumi config set computeName aks-gpu",
  );
  const attachToWorkspace = r.boolean("attachToWorkspace");
  const primaryKeyVersion = r.number(
    "primaryKeyVersion",
    true,
    1,
    Number.MAX_SAFE_INTEGER,
    "increase it by one",
  );
  const secondaryKeyVersion = r.number(
    "secondaryKeyVersion",
    true,
    1,
    Number.MAX_SAFE_INTEGER,
    "increase it by one",
  );
  const preStopSeconds = r.number("preStopSeconds", true, 0, 300, "pulumi config set preStopSeconds 10");
  const drainSeconds = r.number("drainSeconds", true, 1, 600, "pulumi config set drainSeconds 20");

  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return {
    location,
    namePrefix,
    kubernetesVersion: version,
    systemVmSize,
    systemNodeCount,
    gpuPool,
    replicas,
    replicaGpus,
    replicaCpu,
    replicaMemoryGiB,
    namespace,
    model: { name: modelName, version: modelVersion, file: modelFile },
    attachToWorkspace,
    computeName,
    primaryKeyVersion,
    secondaryKeyVersion,
    preStopSeconds,
    drainSeconds,
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
