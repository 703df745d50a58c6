/**
 * Where Kubernetes workloads keep their pod template, and the scheduling facts the rules need from it:
 * GPU requests, tolerations of the GPU pool's taint, and node selection onto the GPU pool.
 */
import { GPU_NODE_LABEL, GPU_RESOURCE, GPU_TAINT } from "../../components/appContract";
import { asArray, asNumber, asObject, asString, at, type Props } from "./props";

// The taint, resource and node label come from the app contract the program uses, so the pack checks
// exactly what the program declares.
export { GPU_RESOURCE, GPU_TAINT, GPU_TAINT_TEXT } from "../../components/appContract";

/** Node labels that mean "a GPU node" unless the policy config names others. */
export const DEFAULT_GPU_NODE_LABELS: Readonly<Record<string, string>> = {
  [GPU_NODE_LABEL.key]: GPU_NODE_LABEL.value,
  sku: "gpu",
  accelerator: "nvidia",
  "kubernetes.azure.com/accelerator": "nvidia",
};

const POD_SPEC_PATHS: Readonly<Record<string, readonly string[]>> = {
  "kubernetes:apps/v1:Deployment": ["spec", "template", "spec"],
  "kubernetes:apps/v1:StatefulSet": ["spec", "template", "spec"],
  "kubernetes:apps/v1:DaemonSet": ["spec", "template", "spec"],
  "kubernetes:apps/v1:ReplicaSet": ["spec", "template", "spec"],
  "kubernetes:batch/v1:Job": ["spec", "template", "spec"],
  "kubernetes:batch/v1:CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
  "kubernetes:core/v1:Pod": ["spec"],
};

export interface Workload {
  /** What a user reads in a message, e.g. `Deployment "scoring" in namespace "inference"`. */
  readonly label: string;
  readonly kind: string;
  readonly namespace: string;
  readonly podSpec: Props;
  readonly templateLabels: Readonly<Record<string, string>>;
}

export interface Container {
  readonly name: string;
  readonly spec: Props;
}

export function isWorkloadType(type: string): boolean {
  return type in POD_SPEC_PATHS;
}

/** The workload view of a resource, or undefined when the type has no pod template. */
export function workloadOf(type: string, resourceName: string, props: Props): Workload | undefined {
  const path = POD_SPEC_PATHS[type];
  if (path === undefined) return undefined;
  const podSpec = asObject(at(props, ...path)) ?? {};
  const kind = type.slice(type.lastIndexOf(":") + 1);
  const name = asString(at(props, "metadata", "name")) ?? resourceName;
  const namespace = asString(at(props, "metadata", "namespace")) ?? "default";
  const templatePath = path.slice(0, -1);
  const labels = asObject(at(props, ...templatePath, "metadata", "labels")) ?? {};
  const templateLabels: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    if (typeof value === "string") templateLabels[key] = value;
  }
  return { label: `${kind} "${name}" in namespace "${namespace}"`, kind, namespace, podSpec, templateLabels };
}

/** Init containers run with the same privileges as the main ones, so both are checked. */
export function containersOf(podSpec: Props): Container[] {
  return [...asArray(podSpec.initContainers), ...asArray(podSpec.containers)].flatMap((entry) => {
    const spec = asObject(entry);
    return spec === undefined ? [] : [{ name: asString(spec.name) ?? "(unnamed)", spec }];
  });
}

export function gpuLimit(container: Container): number | undefined {
  return asNumber(at(container.spec, "resources", "limits", GPU_RESOURCE));
}

export function gpuRequest(container: Container): number | undefined {
  return asNumber(at(container.spec, "resources", "requests", GPU_RESOURCE));
}

/** Kubernetes toleration matching (core/v1 Toleration.ToleratesTaint) against the GPU taint. */
export function toleratesGpuTaint(podSpec: Props): boolean {
  return asArray(podSpec.tolerations).some((entry) => {
    const toleration = asObject(entry);
    if (toleration === undefined) return false;
    const effect = asString(toleration.effect);
    if (effect !== undefined && effect !== "" && effect !== GPU_TAINT.effect) return false;
    const key = asString(toleration.key) ?? "";
    const operator = asString(toleration.operator) ?? "Equal";
    if (key === "") return operator === "Exists";
    if (key !== GPU_TAINT.key) return false;
    return operator === "Exists" || (operator === "Equal" && asString(toleration.value) === GPU_TAINT.value);
  });
}

/** True when the pod asks to be placed on GPU nodes by nodeSelector or required node affinity. */
export function targetsGpuNodes(podSpec: Props, gpuNodeLabels: Readonly<Record<string, string>>): boolean {
  const selector = asObject(podSpec.nodeSelector) ?? {};
  if (Object.entries(selector).some(([key, value]) => gpuNodeLabels[key] === value)) return true;
  const terms = asArray(
    at(
      podSpec,
      "affinity",
      "nodeAffinity",
      "requiredDuringSchedulingIgnoredDuringExecution",
      "nodeSelectorTerms",
    ),
  );
  return terms.some((term) =>
    asArray(at(term, "matchExpressions")).some((entry) => {
      const key = asString(at(entry, "key"));
      if (key === undefined || !(key in gpuNodeLabels)) return false;
      const operator = asString(at(entry, "operator"));
      if (operator === "Exists") return true;
      return operator === "In" && asArray(at(entry, "values")).includes(gpuNodeLabels[key]);
    }),
  );
}
