/**
 * The GPU node pool: its VM size must be one Azure still sells (and AKS can still boot), and it must
 * carry the GPU taint so ordinary pods do not fill GPU nodes billed by the hour.
 */
import { gpuSizeRefusal, gpuSkuCatalogue } from "../../components/gpuSkus";
import { asArray, asString, type Props } from "../lib/props";
import { GPU_TAINT_TEXT } from "../lib/workloads";

export interface NodePool {
  readonly label: string;
  readonly vmSize: string | undefined;
  readonly props: Props;
}

/** Agent pools as declared on their own or inline in a managed cluster's agentPoolProfiles. */
export function nodePoolsOf(type: string, resourceName: string, props: Props): NodePool[] {
  if (type === "azure-native:containerservice:AgentPool") {
    const name = asString(props.agentPoolName) ?? resourceName;
    return [{ label: `AKS node pool "${name}"`, vmSize: asString(props.vmSize), props }];
  }
  if (type === "azure-native:containerservice:ManagedCluster") {
    return asArray(props.agentPoolProfiles).flatMap((entry, index) => {
      if (typeof entry !== "object" || entry === null) return [];
      const profile = entry as Props;
      const name = asString(profile.name) ?? `#${index}`;
      return [
        {
          label: `AKS node pool "${name}" of cluster "${resourceName}"`,
          vmSize: asString(profile.vmSize),
          props: profile,
        },
      ];
    });
  }
  return [];
}

function hasGpuTaint(pool: NodePool): boolean {
  return asArray(pool.props.nodeTaints).some((taint) => taint === GPU_TAINT_TEXT);
}

/** GPU sizes are the N-series; a pool is also a GPU pool when it is tainted or profiled as one. */
export function isGpuPool(pool: NodePool): boolean {
  const size = pool.vmSize ?? "";
  return (
    size in gpuSkuCatalogue ||
    /^Standard_N/i.test(size) ||
    hasGpuTaint(pool) ||
    pool.props.gpuProfile !== undefined
  );
}

/** The config check's own refusal (components/gpuSkus.ts gpuSizeRefusal), so both say the same. */
export function checkGpuPoolSize(pool: NodePool): string[] {
  if (!isGpuPool(pool) || pool.vmSize === undefined) return [];
  const refusal = gpuSizeRefusal(pool.vmSize);
  return refusal === undefined ? [] : [`${pool.label}: ${refusal}`];
}

export function checkGpuPoolTaint(pool: NodePool): string[] {
  if (!isGpuPool(pool) || hasGpuTaint(pool)) return [];
  return [
    `${pool.label} is a GPU pool without the taint ${GPU_TAINT_TEXT}, so any pod can be scheduled on its ` +
      `GPU nodes and crowd out the GPU workloads. Add nodeTaints: ["${GPU_TAINT_TEXT}"].`,
  ];
}
