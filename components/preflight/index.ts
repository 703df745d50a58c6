/**
 * The preflight: before the program declares any resource, it asks Azure, with the deploying
 * identity's own credentials, whether this stack can be created in its subscription and region, so
 * `pulumi preview` (and the pull-request preview) says so in seconds instead of `pulumi up` failing
 * after the cluster has been built. Checks: the resource providers are registered; the GPU and system
 * VM sizes are offered in the region without restrictions; each VM family's vCPU quota (and the
 * regional total) covers both pools plus their upgrade surge; the Kubernetes version is one AKS
 * offers there. Every failure is one line; all of them are reported together.
 */
import * as pulumi from "@pulumi/pulumi";
import { gpuPoolMaxNodes, type StackSettings } from "../config";
import { SYSTEM_POOL_MAX_SURGE } from "../config/kubernetes";
import type { ArmGet } from "./arm";
import {
  checkKubernetesCalendar,
  checkKubernetesVersion,
  checkProviders,
  checkQuotas,
  checkSku,
  GRAFANA_PROVIDER,
  heldByCluster,
  type OfferedSize,
  type PoolDemand,
  REQUIRED_PROVIDERS,
} from "./checks";

export { ARM_ENDPOINT, ArmError, type ArmGet, armReader } from "./arm";
export type { PoolDemand } from "./checks";
export { GRAFANA_PROVIDER, REQUIRED_PROVIDERS } from "./checks";

export interface PreflightInput {
  readonly subscriptionId: string;
  readonly location: string;
  readonly kubernetesVersion: string;
  readonly pools: readonly PoolDemand[];
  /** Tags the program puts on its AKS cluster: they find this stack's own cluster on a re-run. */
  readonly clusterTags: Readonly<Record<string, string>>;
  /** The resource providers the stack's resources need (REQUIRED_PROVIDERS, and Microsoft.Dashboard with Grafana). */
  readonly providers?: readonly string[];
  /** The date the Kubernetes calendar is checked against; today by default. */
  readonly today?: Date;
}

/** What the preflight checks for a stack: both pools with the surge their upgrade settings allow. */
export function preflightInputOf(
  settings: StackSettings,
  subscriptionId: string,
  clusterTags: Readonly<Record<string, string>>,
): PreflightInput {
  return {
    subscriptionId,
    location: settings.region.location,
    kubernetesVersion: settings.kubernetes.version,
    pools: [
      {
        role: "GPU pool",
        vmSize: settings.gpuPool.vmSize,
        // With autoscaling, the quota must cover the most nodes the cluster autoscaler may add.
        nodeCount: gpuPoolMaxNodes(settings.autoscale, settings.gpuPool),
        surgeNodes: settings.gpuPool.maxSurge,
        sizeKey: "gpuVmSize",
      },
      {
        role: "system pool",
        vmSize: settings.kubernetes.systemVmSize,
        nodeCount: settings.kubernetes.systemNodeCount,
        surgeNodes: SYSTEM_POOL_MAX_SURGE,
        sizeKey: "systemVmSize",
      },
    ],
    clusterTags,
    providers: [...REQUIRED_PROVIDERS, ...(settings.monitoring.managedGrafana ? [GRAFANA_PROVIDER] : [])],
  };
}

/** Raised when a check fails; pulumi.RunError prints it without a stack trace. */
export class PreflightError extends pulumi.RunError {
  constructor(readonly failures: readonly string[]) {
    super(
      `Preflight failed (${failures.length} problem(s)), before any resource was declared:\n  - ${failures.join("\n  - ")}`,
    );
    this.name = "PreflightError";
  }
}

/** The ARM reads, with the API versions whose response shapes checks.ts follows. */
export function preflightPaths(subscriptionId: string, location: string) {
  const sub = `/subscriptions/${encodeURIComponent(subscriptionId)}`;
  const loc = encodeURIComponent(location);
  return {
    providers: `${sub}/providers?api-version=2021-04-01`,
    skus: `${sub}/providers/Microsoft.Compute/skus?api-version=2021-07-01&$filter=${encodeURIComponent(`location eq '${location}'`)}`,
    usages: `${sub}/providers/Microsoft.Compute/locations/${loc}/usages?api-version=2024-07-01`,
    kubernetesVersions: `${sub}/providers/Microsoft.ContainerService/locations/${loc}/kubernetesVersions?api-version=2025-09-01`,
    managedClusters: `${sub}/providers/Microsoft.ContainerService/managedClusters?api-version=2025-09-01`,
  } as const;
}

/**
 * Runs every check and returns the one line a passing preflight logs; throws PreflightError listing
 * every failure otherwise. A read ARM refuses (no permission, throttling) is itself a failure line.
 */
export async function runPreflight(input: PreflightInput, get: ArmGet): Promise<string> {
  const paths = preflightPaths(input.subscriptionId, input.location);
  const failures: string[] = [];
  const read = async (what: string, path: string): Promise<unknown> => {
    try {
      return await get(path);
    } catch (error) {
      failures.push(
        `could not read ${what} (${error instanceof Error ? error.message : String(error)}). Fix: sign in as ` +
          `an identity with at least Reader on the subscription (az login; ARM_* variables in CI) and retry`,
      );
      return undefined;
    }
  };
  // Independent reads, made together: a preview should not wait on five round trips in a row.
  const [providers, skus, usages, versions, clusters] = await Promise.all([
    read("the resource providers", paths.providers),
    read("the VM sizes offered in the region", paths.skus),
    read("the region's vCPU quotas", paths.usages),
    read("the Kubernetes versions AKS offers in the region", paths.kubernetesVersions),
    read("the subscription's AKS clusters", paths.managedClusters),
  ]);

  const required = input.providers ?? REQUIRED_PROVIDERS;
  if (providers !== undefined) failures.push(...checkProviders(providers, input.subscriptionId, required));
  const sized: { pool: PoolDemand; size: OfferedSize }[] = [];
  if (skus !== undefined) {
    for (const pool of input.pools) {
      const found = checkSku(skus, pool, input.location);
      if (found.failure !== undefined) failures.push(found.failure);
      if (found.size !== undefined) sized.push({ pool, size: found.size });
    }
  }
  if (usages !== undefined && skus !== undefined) {
    const held =
      clusters === undefined ? new Map() : heldByCluster(clusters, skus, input.clusterTags, input.location);
    failures.push(...checkQuotas(usages, sized, input.location, held));
  }
  const notes: string[] = [];
  if (versions !== undefined) {
    failures.push(...checkKubernetesVersion(versions, input.kubernetesVersion, input.location));
    const calendar = checkKubernetesCalendar(
      versions,
      input.kubernetesVersion,
      input.location,
      input.today ?? new Date(),
    );
    failures.push(...calendar.failures);
    notes.push(...calendar.notes);
  }

  if (failures.length > 0) throw new PreflightError(failures);
  const quota = sized
    .map(
      ({ pool, size }) =>
        `${pool.role} ${(pool.nodeCount + pool.surgeNodes) * (size.vCpus ?? 0)} vCPUs of ${size.family}`,
    )
    .join(", ");
  return (
    `preflight passed: ${required.length} resource providers registered, ` +
    `${input.pools.map((p) => p.vmSize).join(" and ")} offered in ${input.location}, quota covers ${quota} ` +
    `(with upgrade surge), Kubernetes ${input.kubernetesVersion} offered by AKS` +
    notes.map((note) => ` Note: ${note}`).join("")
  );
}
