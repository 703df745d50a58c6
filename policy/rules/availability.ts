/**
 * The scoring service must survive losing a pod: at least two replicas, and a PodDisruptionBudget that
 * keeps some of them through node drains (AKS upgrades, scale-in) while still letting drains finish.
 * A stack rule: the budget and the Deployment are separate resources.
 */
import { asArray, asNumber, asObject, asString, at, type Props } from "../lib/props";
import type { StackFinding, StackResource } from "../lib/stackResource";
import { workloadOf } from "../lib/workloads";
import { autoscalerOf, autoscalersOf } from "./autoscaling";

export interface AvailabilityConfig {
  readonly minReplicas: number;
}

const PDB_TYPES = new Set([
  "kubernetes:policy/v1:PodDisruptionBudget",
  "kubernetes:policy/v1beta1:PodDisruptionBudget",
]);

export function selects(selector: Props | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (selector === undefined) return false;
  const matchLabels = asObject(selector.matchLabels) ?? {};
  const expressions = asArray(selector.matchExpressions);
  // An empty selector in policy/v1 selects every pod in the namespace.
  const labelsMatch = Object.entries(matchLabels).every(([key, value]) => labels[key] === value);
  const expressionsMatch = expressions.every((entry) => {
    const key = asString(at(entry, "key")) ?? "";
    const values = asArray(at(entry, "values"));
    switch (asString(at(entry, "operator"))) {
      case "In":
        return values.includes(labels[key]);
      case "NotIn":
        return !values.includes(labels[key]);
      case "Exists":
        return key in labels;
      case "DoesNotExist":
        return !(key in labels);
      default:
        return false;
    }
  });
  return labelsMatch && expressionsMatch;
}

/** How many pods the budget lets a drain evict at once, given the replica count. */
function allowedDisruptions(spec: Props, replicas: number): number {
  const resolve = (value: unknown, roundUp: boolean): number | undefined => {
    const text = asString(value);
    if (text?.endsWith("%")) {
      const share = (Number(text.slice(0, -1)) / 100) * replicas;
      return roundUp ? Math.ceil(share) : Math.floor(share);
    }
    return asNumber(value);
  };
  const minAvailable = resolve(spec.minAvailable, true);
  if (minAvailable !== undefined) return replicas - minAvailable;
  const maxUnavailable = resolve(spec.maxUnavailable, false);
  return maxUnavailable ?? 0;
}

export function checkAvailability(
  resources: readonly StackResource[],
  config: AvailabilityConfig,
): StackFinding[] {
  const budgets = resources
    .filter((r) => PDB_TYPES.has(r.type))
    .map((r) => ({
      name: asString(at(r.props, "metadata", "name")) ?? r.name,
      namespace: asString(at(r.props, "metadata", "namespace")) ?? "default",
      spec: asObject(r.props.spec) ?? {},
    }));
  const findings: StackFinding[] = [];
  const autoscalers = autoscalersOf(resources);
  const placeholderClasses = new Set(
    resources
      .filter(
        (r) =>
          r.type === "kubernetes:scheduling.k8s.io/v1:PriorityClass" && (asNumber(r.props.value) ?? 0) < 0,
      )
      .flatMap((r) => [asString(at(r.props, "metadata", "name")) ?? r.name]),
  );
  for (const resource of resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment")) {
    const workload = workloadOf(resource.type, resource.name, resource.props);
    if (workload === undefined) continue;
    // Placeholders below every workload's priority (warm headroom) exist to be evicted: nothing to keep up.
    const priorityClass = asString(workload.podSpec.priorityClassName);
    if (priorityClass !== undefined && [...placeholderClasses].some((c) => priorityClass.startsWith(c)))
      continue;
    // An autoscaled Deployment declares no count: the autoscaler's minimum is what it runs at its lowest.
    const replicas =
      autoscalerOf(resource, autoscalers)?.min ?? asNumber(at(resource.props, "spec", "replicas")) ?? 1;
    if (replicas < config.minReplicas) {
      findings.push({
        urn: resource.urn,
        message:
          `${workload.label} runs ${replicas} replica(s); at least ${config.minReplicas} are needed so one ` +
          `can be lost to a node failure or upgrade without an outage. Raise spec.replicas (config: replicas), ` +
          `or the autoscaler's minimum (config: autoscaleMinReplicas).`,
      });
    }
    const budget = budgets.find(
      (b) =>
        b.namespace === workload.namespace && selects(asObject(b.spec.selector), workload.templateLabels),
    );
    if (budget === undefined) {
      findings.push({
        urn: resource.urn,
        message:
          `${workload.label} has no PodDisruptionBudget selecting its pods, so a node drain may evict every ` +
          `replica at once. Add a policy/v1 PodDisruptionBudget with minAvailable: 1 and its pod labels.`,
      });
    } else if (replicas >= 1 && allowedDisruptions(budget.spec, replicas) < 1) {
      findings.push({
        urn: resource.urn,
        message:
          `${workload.label} is covered by PodDisruptionBudget "${budget.name}", which allows no pod to be ` +
          `evicted with ${replicas} replica(s), so node drains and AKS upgrades hang. Let at least one go ` +
          `(e.g. minAvailable: ${Math.max(1, replicas - 1)}).`,
      });
    }
  }
  return findings;
}
