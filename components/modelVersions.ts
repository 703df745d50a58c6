/**
 * Model versions side by side (issue 23): the pure functions behind the scoring service's version slots.
 *
 * A stack serves its current model version and, when config names one, a candidate: each slot its own
 * Deployment reading its own registered version, behind one HTTPRoute whose backendRef weights are the
 * traffic split (Gateway API HTTPRoute `backendRefs[].weight`, proportional; the config's percentages
 * sum to 100), optionally with a RequestMirror filter that copies every request to the candidate (the
 * mirrored answers are discarded by the proxy; Gateway API v1 HTTPRoute filters, read December 2026).
 *
 * The current slot keeps the Deployment, Service, labels and selector a one-version stack has always had,
 * so adding and removing a candidate never replaces them. The candidate's pods carry their own
 * `app.kubernetes.io/name` (Deployment selectors must not overlap, and the current Service must not
 * select them) and get their own Service for the route to weigh.
 *
 * Promotion and rollback are config changes that never drop a request: the route depends on every
 * Deployment it names, so weight moves only to pods that are ready, and a removed candidate's Deployment
 * is deleted by Pulumi after the route stopped sending it traffic (deletes run after creates and updates).
 */
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MODEL_DEPLOYMENT_HEADER, MODEL_ENV, VERSION_ENV } from "./appContract";
import type { ScoringModel } from "./scoringService";

export { MODEL_DEPLOYMENT_HEADER };

export type SlotName = "current" | "candidate";

/** One version slot: which registered version it serves, with how many pods, and its share of requests. */
export interface VersionSlot {
  readonly slot: SlotName;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly model: ScoringModel;
  readonly replicas: number;
  /** Percent of requests (0-100). */
  readonly weight: number;
}

export interface ModelVersions {
  readonly current: VersionSlot;
  readonly candidate?: VersionSlot & { readonly mirror: boolean };
}

/** How callers authenticate (config authMode); tokens: the issuer and audience the app verifies. */
export interface AppAuth {
  readonly mode: "keys" | "tokens" | "both";
  readonly tokens?: {
    readonly issuers: readonly string[];
    readonly audiences: readonly string[];
    readonly jwksUri: string;
  };
}

/** Model data collection (config collectModelData): where the pods write samples, and how many. */
export interface AppCapture {
  /** https://<account>.blob.core.windows.net/<container> */
  readonly containerUrl: pulumi.Input<string>;
  /** Share of scored requests, (0, 1]. */
  readonly sampleRate: number;
  readonly maxSampleBytes: number;
}

/** The deployment's tags (labels), properties and description (annotations) on Kubernetes objects. */
export interface ObjectMetadata {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** Annotation key prefix for the config's properties (a DNS subdomain prefix keeps them apart from others'). */
export const PROPERTY_ANNOTATION_PREFIX = "properties.gpu-inference-aks.io/";
export const DESCRIPTION_ANNOTATION = "description";

export function objectMetadata(metadata: {
  readonly tags: Readonly<Record<string, string>>;
  readonly properties: Readonly<Record<string, string>>;
  readonly description: string;
}): ObjectMetadata {
  return {
    labels: { ...metadata.tags },
    annotations: {
      ...Object.fromEntries(
        Object.entries(metadata.properties).map(([key, value]) => [
          `${PROPERTY_ANNOTATION_PREFIX}${key}`,
          value,
        ]),
      ),
      ...(metadata.description === "" ? {} : { [DESCRIPTION_ANNOTATION]: metadata.description }),
    },
  };
}

/** `{annotations}` when there are any, else nothing: a stack without properties keeps its objects as they were. */
export function annotationsOf(metadata: ObjectMetadata): { annotations?: Record<string, string> } {
  return Object.keys(metadata.annotations).length === 0 ? {} : { annotations: { ...metadata.annotations } };
}

/** The candidate's Service (the route's second backend). */
export const CANDIDATE_SERVICE_NAME = "scoring-candidate";

/** The pods' labels for a slot: the current slot's are the base labels, unchanged since one-version stacks. */
export function slotLabels<V>(base: Readonly<Record<string, V>>, slot: SlotName): Record<string, V | string> {
  return slot === "current" ? { ...base } : { ...base, "app.kubernetes.io/name": CANDIDATE_SERVICE_NAME };
}

/** The variables naming the slot to the app: header, log fields, info metric, capture partition. */
export function slotEnv(slot: VersionSlot): k8s.types.input.core.v1.EnvVar[] {
  return [
    { name: VERSION_ENV.modelDeployment, value: slot.slot },
    { name: VERSION_ENV.registeredModelName, value: slot.modelName },
    { name: VERSION_ENV.registeredModelVersion, value: slot.modelVersion },
  ];
}

/** The app's auth variables; keys mode sets none (the app's default), so key-only pods are as before. */
export function authEnv(auth: AppAuth): k8s.types.input.core.v1.EnvVar[] {
  if (auth.mode === "keys" || auth.tokens === undefined) return [];
  return [
    { name: VERSION_ENV.authMode, value: auth.mode },
    { name: VERSION_ENV.tokenIssuers, value: auth.tokens.issuers.join(",") },
    { name: VERSION_ENV.tokenAudiences, value: auth.tokens.audiences.join(",") },
    { name: VERSION_ENV.tokenJwksUri, value: auth.tokens.jwksUri },
  ];
}

export function captureEnv(capture: AppCapture | undefined): k8s.types.input.core.v1.EnvVar[] {
  if (capture === undefined) return [];
  return [
    { name: VERSION_ENV.captureUrl, value: capture.containerUrl },
    { name: VERSION_ENV.captureSampleRate, value: String(capture.sampleRate) },
    { name: VERSION_ENV.captureMaxBytes, value: String(capture.maxSampleBytes) },
    // The webhook's AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_FEDERATED_TOKEN_FILE: the model identity, which
    // holds Storage Blob Data Contributor on the capture container only (modelIdentity.ts).
    { name: VERSION_ENV.captureCredential, value: "workload-identity" },
  ];
}

/** Everything a slot's Deployment adds to the base spec. */
export interface SlotExtras {
  readonly auth: AppAuth;
  readonly capture?: AppCapture;
  readonly metadata: ObjectMetadata;
  /** The model volume's size for this slot's file (scoringService.ts modelVolumeSize). */
  readonly modelVolumeSize: (sizeBytes: number) => string;
}

// The base spec is an object literal of the component; Outputs appear only as leaf values. A caller that
// passed an Output or Promise where an object is expected gets an error naming it instead of a lost field.
function plain<T>(value: unknown, what: string): T {
  if (value === undefined || pulumi.Output.isInstance(value) || value instanceof Promise) {
    throw new Error(`versionDeploymentArgs: ${what} must be a plain object in the base Deployment`);
  }
  return value as T;
}

/**
 * The Deployment of one version slot, derived from the component's base Deployment (the current slot's
 * spec): the candidate gets its own labels, selector, replicas, model variables and model volume size;
 * every slot gets its slot, auth and capture variables, and the config's tags and properties on the
 * Deployment's own metadata (not the pod template, so a tag edit rolls no pod).
 */
export function versionDeploymentArgs(
  base: k8s.apps.v1.DeploymentArgs,
  slot: VersionSlot,
  extras: SlotExtras,
): k8s.apps.v1.DeploymentArgs {
  type Spec = k8s.types.input.apps.v1.DeploymentSpec;
  type Template = k8s.types.input.core.v1.PodTemplateSpec;
  type Meta = k8s.types.input.meta.v1.ObjectMeta;
  type PodSpec = k8s.types.input.core.v1.PodSpec;
  type Container = k8s.types.input.core.v1.Container;
  type EnvVar = k8s.types.input.core.v1.EnvVar;
  type Volume = k8s.types.input.core.v1.Volume;
  type Constraint = k8s.types.input.core.v1.TopologySpreadConstraint;
  type Labels = Record<string, pulumi.Input<string>>;
  const candidate = slot.slot === "candidate";
  const metadata = plain<Meta>(base.metadata, "metadata");
  const spec = plain<Spec>(base.spec, "spec");
  const template = plain<Template>(spec.template, "spec.template");
  const podMeta = plain<Meta>(template.metadata, "spec.template.metadata");
  const podSpec = plain<PodSpec>(template.spec, "spec.template.spec");
  const baseLabels = plain<Labels>(
    plain<k8s.types.input.meta.v1.LabelSelector>(spec.selector, "spec.selector").matchLabels,
    "spec.selector.matchLabels",
  );
  const labels = slotLabels(baseLabels, slot.slot);
  const modelValues: Record<string, pulumi.Input<string>> = {
    [MODEL_ENV.uri]: slot.model.blobUrl,
    [MODEL_ENV.sha256]: slot.model.sha256,
    [MODEL_ENV.sizeBytes]: String(slot.model.sizeBytes),
  };
  const added = [...slotEnv(slot), ...authEnv(extras.auth), ...captureEnv(extras.capture)];
  const containers = plain<pulumi.Input<Container>[]>(podSpec.containers, "containers").map(
    (entry, index) => {
      const container = plain<Container>(entry, `containers[${index}]`);
      if (container.name !== "scoring") return container;
      const env = plain<pulumi.Input<EnvVar>[]>(container.env, "scoring env").map((item) => {
        const variable = plain<EnvVar>(item, "scoring env entry");
        const value = modelValues[pulumi.Output.isInstance(variable.name) ? "" : String(variable.name)];
        return candidate && value !== undefined ? { ...variable, value } : variable;
      });
      return { ...container, env: [...env, ...added] };
    },
  );
  const volumes = plain<pulumi.Input<Volume>[]>(podSpec.volumes ?? [], "volumes").map((entry) => {
    const volume = plain<Volume>(entry, "volume");
    return candidate && volume.name === "model"
      ? { ...volume, emptyDir: { sizeLimit: extras.modelVolumeSize(slot.model.sizeBytes) } }
      : volume;
  });
  const spread = plain<pulumi.Input<Constraint>[]>(podSpec.topologySpreadConstraints ?? [], "spread").map(
    (entry) => {
      const constraint = plain<Constraint>(entry, "topologySpreadConstraint");
      return candidate ? { ...constraint, labelSelector: { matchLabels: labels } } : constraint;
    },
  );
  const withMetadata = (meta: Meta): Meta => ({
    ...meta,
    labels: { ...plain<Labels>(meta.labels ?? {}, "labels"), ...extras.metadata.labels, ...labels },
    annotations: {
      ...plain<Labels>(meta.annotations ?? {}, "annotations"),
      ...extras.metadata.annotations,
    },
  });
  return {
    ...base,
    metadata: withMetadata(metadata),
    spec: {
      ...spec,
      ...(candidate ? { replicas: slot.replicas, selector: { matchLabels: labels } } : {}),
      template: {
        ...template,
        metadata: { ...podMeta, labels: { ...plain<Labels>(podMeta.labels, "pod labels"), ...labels } },
        spec: {
          ...podSpec,
          containers,
          ...(podSpec.volumes === undefined ? {} : { volumes }),
          ...(podSpec.topologySpreadConstraints === undefined ? {} : { topologySpreadConstraints: spread }),
        },
      },
    },
  };
}

export interface RouteBackends {
  readonly backendRefs: Record<string, unknown>[];
  /** Filters the versions add to the route's rule (the mirror); empty for one version. */
  readonly filters: Record<string, unknown>[];
}

/**
 * The route rule's backends: one version (or none given), the Service alone (as before: no weight field); two, each
 * Service with its percentage as weight, and the candidate as mirror target when mirroring is on.
 */
export function routeBackends(
  currentServiceName: pulumi.Input<string>,
  port: number,
  versions: ModelVersions | undefined,
): RouteBackends {
  const candidate = versions?.candidate;
  if (versions === undefined || candidate === undefined)
    return { backendRefs: [{ name: currentServiceName, port }], filters: [] };
  return {
    backendRefs: [
      { name: currentServiceName, port, weight: versions.current.weight },
      { name: CANDIDATE_SERVICE_NAME, port, weight: candidate.weight },
    ],
    filters: candidate.mirror
      ? [{ type: "RequestMirror", requestMirror: { backendRef: { name: CANDIDATE_SERVICE_NAME, port } } }]
      : [],
  };
}

/** The two slots from the config: the current version gets what the candidate does not. */
export function modelVersions(
  current: Omit<VersionSlot, "slot" | "weight">,
  candidate?: Omit<VersionSlot, "slot" | "weight"> & {
    readonly trafficPercent: number;
    readonly mirror: boolean;
  },
): ModelVersions {
  if (candidate === undefined) return { current: { ...current, slot: "current", weight: 100 } };
  const { trafficPercent, ...rest } = candidate;
  return {
    current: { ...current, slot: "current", weight: 100 - trafficPercent },
    candidate: { ...rest, slot: "candidate", weight: trafficPercent },
  };
}
