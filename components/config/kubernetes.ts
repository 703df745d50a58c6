/** Section: the AKS cluster itself (Kubernetes version, system pool). */
import type { Reader } from "./reader";

export interface KubernetesSettings {
  readonly version: string;
  readonly systemVmSize: string;
  readonly systemNodeCount: number;
}

/**
 * Oldest AKS minor a new Free-tier cluster can use this month (December 2026). AKS's release calendar
 * (learn.microsoft.com/azure/aks/supported-kubernetes-versions, "AKS Kubernetes release calendar",
 * checked 2026-12-01) gives 12 months of standard support per GA minor: 1.31-1.34 have left standard
 * support and survive only as long-term support, which needs the Premium tier; 1.35 went GA on AKS in
 * March 2026 (end of life March 2027; upstream 1.35 EOL 2027-02-28 per kubernetes.io/releases/1.35,
 * while upstream 1.34 reached end of life on 2026-10-27 per kubernetes.io/releases/1.34).
 * The default stays 1.35, the newest minor whose AKS GA date was verified; the preflight checks the
 * region's real list (kubernetesVersions) at every preview, so a newer minor is one config set away.
 */
export const OLDEST_SUPPORTED_MINOR = 35;
export const MAX_NODES_PER_POOL = 1000;
/**
 * Nodes the system pool may surge during an AKS upgrade. Stated instead of AKS's default (10%, rounded
 * up: also 1 for small pools) so the preflight checks exactly the quota an upgrade uses.
 */
export const SYSTEM_POOL_MAX_SURGE = 1;

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
      `has left AKS standard support (December 2026: 1.31-1.34 are LTS-only, Premium tier; the oldest minor a ` +
        `Free-tier cluster can use is 1.${OLDEST_SUPPORTED_MINOR})`,
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
