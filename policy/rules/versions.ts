/**
 * Model versions side by side and model data collection (issue 23):
 * - no traffic to a version whose Deployment is missing: every HTTPRoute backend with a weight above 0,
 *   and every RequestMirror target, is a Service of the stack that selects the pods of a Deployment of
 *   the stack (a split that names a removed version would send its share to nothing, as 500s);
 * - a split's weights sum to 100: with two or more backends each states its weight and together they are
 *   percentages, so the config's `candidateTrafficPercent` reads the same in the route;
 * - capture never on without retention: a Deployment that captures model data (CAPTURE_URL) needs a storage
 *   lifecycle rule that deletes what is written to that container.
 */
import { VERSION_ENV } from "../../components/appContract";
import { asArray, asBoolean, asNumber, asObject, asString, at, type Props } from "../lib/props";
import type { StackFinding, StackResource } from "../lib/stackResource";
import { containersOf, workloadOf } from "../lib/workloads";
import { selects } from "./availability";

const ROUTE_TYPES = new Set([
  "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
  "kubernetes:gateway.networking.k8s.io/v1beta1:HTTPRoute",
]);
const SERVICE = "kubernetes:core/v1:Service";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const LIFECYCLE = "azure-native:storage:ManagementPolicy";
/** The capture container when CAPTURE_URL is not known yet (a preview of a new storage account). */
const DEFAULT_CAPTURE_CONTAINER = "model-data";

function objects(values: readonly unknown[]): Props[] {
  return values.map(asObject).filter((value): value is Props => value !== undefined);
}

interface Route {
  readonly label: string;
  readonly namespace: string;
  readonly urn: string;
  readonly rules: readonly Props[];
}

function routesOf(resources: readonly StackResource[]): Route[] {
  return resources
    .filter((r) => ROUTE_TYPES.has(r.type))
    .map((r) => {
      const name = asString(at(r.props, "metadata", "name")) ?? r.name;
      const namespace = asString(at(r.props, "metadata", "namespace")) ?? "default";
      return {
        label: `HTTPRoute "${name}" in namespace "${namespace}"`,
        namespace,
        urn: r.urn,
        rules: objects(asArray(at(r.props, "spec", "rules"))),
      };
    });
}

function isService(ref: Props): boolean {
  return (asString(ref.kind) ?? "Service") === "Service" && (asString(ref.group) ?? "") === "";
}

/** The Deployments whose pods the stack's Service `name` in `namespace` selects, or undefined with no such Service. */
function deploymentsBehind(
  resources: readonly StackResource[],
  name: string,
  namespace: string,
): { replicas: number | undefined; label: string }[] | undefined {
  const service = resources.find(
    (r) =>
      r.type === SERVICE &&
      asString(at(r.props, "metadata", "name")) === name &&
      (asString(at(r.props, "metadata", "namespace")) ?? "default") === namespace,
  );
  if (service === undefined) return undefined;
  const selector = asObject(at(service.props, "spec", "selector"));
  if (selector === undefined) return [];
  return resources.flatMap((r) => {
    if (r.type !== DEPLOYMENT) return [];
    const workload = workloadOf(r.type, r.name, r.props);
    if (workload === undefined || workload.namespace !== namespace) return [];
    const labels = Object.fromEntries(
      Object.entries(selector).filter(([, v]) => typeof v === "string"),
    ) as Record<string, string>;
    if (!selects({ matchLabels: labels }, workload.templateLabels)) return [];
    return [{ replicas: asNumber(at(r.props, "spec", "replicas")), label: workload.label }];
  });
}

export function checkRouteBackendsExist(resources: readonly StackResource[]): StackFinding[] {
  const findings: StackFinding[] = [];
  for (const route of routesOf(resources)) {
    for (const rule of route.rules) {
      const targets: { ref: Props; what: string }[] = [];
      for (const entry of asArray(rule.backendRefs)) {
        const ref = asObject(entry);
        const weight = ref === undefined ? undefined : (asNumber(ref.weight) ?? 1);
        if (ref !== undefined && weight !== undefined && weight > 0) {
          targets.push({
            ref,
            what: `sends ${ref.weight === undefined ? "traffic" : `weight ${weight}`} to`,
          });
        }
      }
      for (const filter of asArray(rule.filters)) {
        const mirror = asObject(at(filter, "requestMirror", "backendRef"));
        if (asString(at(filter, "type")) === "RequestMirror" && mirror !== undefined) {
          targets.push({ ref: mirror, what: "mirrors requests to" });
        }
      }
      for (const { ref, what } of targets) {
        if (!isService(ref)) continue;
        const name = asString(ref.name);
        if (name === undefined) continue; // computed at preview: nothing to check yet
        const namespace = asString(ref.namespace) ?? route.namespace;
        const behind = deploymentsBehind(resources, name, namespace);
        const running = behind?.filter((d) => d.replicas === undefined || d.replicas > 0) ?? [];
        if (running.length === 0) {
          findings.push({
            urn: route.urn,
            message:
              `${route.label} ${what} Service "${name}" in namespace "${namespace}", but ` +
              (behind === undefined
                ? "the stack declares no such Service"
                : "no Deployment of the stack runs pods that Service selects") +
              "; its requests would fail. Set that version's weight to 0 (config: candidateTrafficPercent) " +
              "and turn mirroring off before removing its Deployment.",
          });
        }
      }
    }
  }
  return findings;
}

export function checkRouteWeights(resources: readonly StackResource[]): StackFinding[] {
  const findings: StackFinding[] = [];
  for (const route of routesOf(resources)) {
    for (const rule of route.rules) {
      const refs = objects(asArray(rule.backendRefs));
      if (refs.length < 2) continue;
      const weights = refs.map((ref) => asNumber(ref.weight));
      const names = refs.map((ref) => asString(ref.name) ?? "?").join(", ");
      if (weights.some((w) => w === undefined)) {
        findings.push({
          urn: route.urn,
          message:
            `${route.label} splits a rule between ${names} without stating every backend's weight ` +
            "(Gateway API then weighs an unstated one as 1); give each its percentage so they sum to 100.",
        });
        continue;
      }
      const total = (weights as number[]).reduce((sum, w) => sum + w, 0);
      if (total !== 100) {
        findings.push({
          urn: route.urn,
          message:
            `${route.label} splits a rule between ${names} with weights ${weights.join("/")}, which sum to ` +
            `${total}, not 100; the weights are the versions' percentages (config: candidateTrafficPercent).`,
        });
      }
    }
  }
  return findings;
}

/** The container of a CAPTURE_URL (https://<account>.blob.core.windows.net/<container>). */
function captureContainerOf(url: string | undefined): string {
  if (url === undefined) return DEFAULT_CAPTURE_CONTAINER;
  try {
    return (
      new URL(url).pathname
        .split("/")
        .filter((part) => part !== "")
        .pop() ?? DEFAULT_CAPTURE_CONTAINER
    );
  } catch {
    return DEFAULT_CAPTURE_CONTAINER;
  }
}

/** Container names whose blobs an enabled lifecycle rule of the stack deletes. */
function retainedContainers(resources: readonly StackResource[]): Set<string> {
  const containers = new Set<string>();
  for (const policy of resources.filter((r) => r.type === LIFECYCLE)) {
    for (const rule of asArray(at(policy.props, "policy", "rules"))) {
      if (asBoolean(at(rule, "enabled")) === false) continue;
      const deletes = asObject(at(rule, "definition", "actions", "baseBlob", "delete"));
      const days =
        asNumber(deletes?.daysAfterModificationGreaterThan) ??
        asNumber(deletes?.daysAfterCreationGreaterThan) ??
        asNumber(deletes?.daysAfterLastAccessTimeGreaterThan);
      if (days === undefined) continue;
      for (const prefix of asArray(at(rule, "definition", "filters", "prefixMatch"))) {
        const container = asString(prefix)?.split("/")[0];
        if (container) containers.add(container);
      }
    }
  }
  return containers;
}

export function checkCaptureRetention(resources: readonly StackResource[]): StackFinding[] {
  const retained = retainedContainers(resources);
  const findings: StackFinding[] = [];
  for (const resource of resources.filter((r) => r.type === DEPLOYMENT)) {
    const workload = workloadOf(resource.type, resource.name, resource.props);
    if (workload === undefined) continue;
    for (const container of containersOf(workload.podSpec)) {
      const capture = objects(asArray(container.spec.env)).find(
        (entry) => entry.name === VERSION_ENV.captureUrl,
      );
      if (capture === undefined) continue;
      const target = captureContainerOf(asString(capture.value));
      if (!retained.has(target)) {
        findings.push({
          urn: resource.urn,
          message:
            `${workload.label} captures model data into container "${target}", but no storage lifecycle rule ` +
            "of the stack deletes what is written there, so samples would be kept forever. Keep collection " +
            "with its retention rule (config: captureRetentionDays) or turn it off (collectModelData false).",
        });
      }
    }
  }
  return findings;
}
