/** Section: the AKS cluster itself (Kubernetes version, system pool). */
import type { Reader } from "./reader";

export interface KubernetesSettings {
  readonly version: string;
  readonly systemVmSize: string;
  readonly systemNodeCount: number;
}

// Oldest AKS minor that is still in (long-term) support in November 2026; older clusters cannot be created.
const OLDEST_SUPPORTED_MINOR = 31;
export const MAX_NODES_PER_POOL = 1000;

export function kubernetesSection(r: Reader): KubernetesSettings {
  const version = r.string("kubernetesVersion");
  const match = /^1\.(\d+)(\.\d+)?$/.exec(version);
  if (!match) {
    r.problem(
      "kubernetesVersion",
      version,
      "is not a Kubernetes version (major.minor or major.minor.patch, without a leading v)",
      "pulumi config set kubernetesVersion 1.35 (list them with: az aks get-versions -l <location>)",
    );
  } else if (Number(match[1]) < OLDEST_SUPPORTED_MINOR) {
    r.problem(
      "kubernetesVersion",
      version,
      `is past AKS support (the oldest minor AKS still supports is 1.${OLDEST_SUPPORTED_MINOR}); new clusters cannot use it`,
      "pulumi config set kubernetesVersion 1.35 (list them with: az aks get-versions -l <location>)",
    );
  }
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
  return { version, systemVmSize, systemNodeCount };
}
