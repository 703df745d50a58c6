/**
 * Autoscalers (issue 22): a KEDA ScaledObject or an HPA over a GPU Deployment must not ask for more pods
 * than the GPU pool can ever hold (its cluster autoscaler's maxCount, or its fixed count), nor scale the
 * endpoint to zero; the extra pods would stay Pending while users wait for capacity that never comes.
 * A stack rule: the autoscaler, the Deployment and the pool are separate resources.
 */
import { gpuSkuCatalogue } from "../../components/gpuSkus";
import { asNumber, asObject, asString, at, type Props } from "../lib/props";
import type { StackFinding, StackResource } from "../lib/stackResource";
import { containersOf, gpuRequest, workloadOf } from "../lib/workloads";
import { isGpuPool, nodePoolsOf } from "./gpuPool";

export const SCALED_OBJECT_TYPE = "kubernetes:keda.sh/v1alpha1:ScaledObject";
export const HPA_TYPES = new Set([
  "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
  "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
]);

export interface Autoscaler {
  readonly label: string;
  readonly urn: string;
  readonly namespace: string;
  /** The Deployment it scales, by its Kubernetes name; undefined while that name is unknown (a first preview). */
  readonly target: string | undefined;
  readonly min: number;
  readonly max: number;
}

/** ScaledObjects and HPAs that scale a Deployment, with their bounds (KEDA's defaults: min 0, max 100). */
export function autoscalersOf(resources: readonly StackResource[]): Autoscaler[] {
  return resources.flatMap((r): Autoscaler[] => {
    const namespace = asString(at(r.props, "metadata", "namespace")) ?? "default";
    const spec = asObject(r.props.spec) ?? {};
    const kind = asString(at(spec, "scaleTargetRef", "kind")) ?? "Deployment";
    const target = asString(at(spec, "scaleTargetRef", "name"));
    if (kind !== "Deployment") return [];
    if (r.type === SCALED_OBJECT_TYPE) {
      return [
        {
          label: `ScaledObject "${r.name}"`,
          urn: r.urn,
          namespace,
          target,
          min: asNumber(spec.minReplicaCount) ?? 0,
          max: asNumber(spec.maxReplicaCount) ?? 100,
        },
      ];
    }
    if (HPA_TYPES.has(r.type)) {
      return [
        {
          label: `HorizontalPodAutoscaler "${r.name}"`,
          urn: r.urn,
          namespace,
          target,
          min: asNumber(spec.minReplicas) ?? 1,
          max: asNumber(spec.maxReplicas) ?? 1,
        },
      ];
    }
    return [];
  });
}

/** The Kubernetes name a Deployment resource has (its metadata.name, else Pulumi's auto-name prefix). */
export function deploymentNameOf(resource: StackResource): string {
  return asString(at(resource.props, "metadata", "name")) ?? resource.name;
}

/**
 * The autoscaler scaling this Deployment, if any: by name (Pulumi appends a suffix to auto-named ones);
 * while the name is still unknown (a first preview), an autoscaler of its namespace whose target is unknown
 * scales a Deployment that declares no replica count, which is how an autoscaled one is declared.
 */
export function autoscalerOf(
  resource: StackResource,
  autoscalers: readonly Autoscaler[],
): Autoscaler | undefined {
  const namespace = asString(at(resource.props, "metadata", "namespace")) ?? "default";
  const name = deploymentNameOf(resource);
  const inNamespace = autoscalers.filter((a) => a.namespace === namespace);
  const named = inNamespace.find((a) => a.target === name || a.target?.startsWith(`${name}-`));
  if (named !== undefined) return named;
  if (at(resource.props, "spec", "replicas") !== undefined) return undefined;
  return inNamespace.find((a) => a.target === undefined);
}

/** GPUs the GPU pools can ever offer: each pool's maxCount when its cluster autoscaler is on, else its count. */
function gpuPoolCapacity(resources: readonly StackResource[]): { gpus: number; label: string } | undefined {
  let gpus = 0;
  const labels: string[] = [];
  for (const r of resources) {
    for (const pool of nodePoolsOf(r.type, r.name, r.props)) {
      if (!isGpuPool(pool)) continue;
      const perNode = gpuSkuCatalogue[pool.vmSize ?? ""]?.gpusPerNode;
      const autoscaled = pool.props.enableAutoScaling === true;
      const nodes = autoscaled ? asNumber(pool.props.maxCount) : asNumber(pool.props.count);
      if (perNode === undefined || nodes === undefined) return undefined; // unknown: say nothing
      gpus += perNode * nodes;
      labels.push(
        `${pool.label} (${nodes} × ${pool.vmSize}${autoscaled ? ", its autoscaler's maxCount" : ""})`,
      );
    }
  }
  return labels.length === 0 ? undefined : { gpus, label: labels.join(", ") };
}

export function checkAutoscalers(resources: readonly StackResource[]): StackFinding[] {
  const autoscalers = autoscalersOf(resources);
  if (autoscalers.length === 0) return [];
  const capacity = gpuPoolCapacity(resources);
  const findings: StackFinding[] = [];
  for (const deployment of resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment")) {
    const scaler = autoscalerOf(deployment, autoscalers);
    const workload = workloadOf(deployment.type, deployment.name, deployment.props as Props);
    if (scaler === undefined || workload === undefined) continue;
    if (scaler.min < 1) {
      findings.push({
        urn: scaler.urn,
        message:
          `${scaler.label} may scale ${workload.label} to ${scaler.min} replicas: the endpoint then answers nothing ` +
          `until a GPU node boots. Set its minimum to at least 1 (config: autoscaleMinReplicas).`,
      });
    }
    const gpusPerPod = containersOf(workload.podSpec).reduce((sum, c) => sum + (gpuRequest(c) ?? 0), 0);
    if (gpusPerPod === 0 || capacity === undefined) continue;
    if (scaler.max * gpusPerPod > capacity.gpus) {
      findings.push({
        urn: scaler.urn,
        message:
          `${scaler.label} may scale ${workload.label} to ${scaler.max} pods × ${gpusPerPod} GPU = ` +
          `${scaler.max * gpusPerPod} GPUs, more than the GPU pool can ever hold (${capacity.gpus}: ` +
          `${capacity.label}); the extra pods would stay Pending. Lower its maximum ` +
          `(config: autoscaleMaxReplicas) or raise the pool's (config: gpuNodeMaxCount).`,
      });
    }
  }
  return findings;
}
