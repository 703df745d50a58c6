/**
 * The seed's per-pod serving knobs (components/config/serving.ts) as the scoring container's
 * environment, probes and resources: pure functions, so their wiring is tested directly and
 * scoringService.ts only places them.
 */
import type * as k8s from "@pulumi/kubernetes";
import { APP_ENV, APP_PORT_NAME, GPU_RESOURCE, PROBE_PATHS } from "./appContract";
import type { ProbeSettings, ServingSettings } from "./config";

/** Kubernetes CPU quantity: whole cores as "2", fractions in millicores. */
export function cpuQuantity(cores: number): string {
  return Number.isInteger(cores) ? String(cores) : `${Math.round(cores * 1000)}m`;
}

/** Kubernetes memory quantity: whole GiB as "4Gi", fractions in MiB. */
export function memoryQuantity(gib: number): string {
  return Number.isInteger(gib) ? `${gib}Gi` : `${Math.round(gib * 1024)}Mi`;
}

/** What the app enforces per request (scoring/core/concurrency.py, scoring/core/settings.py). */
export function servingEnv(serving: ServingSettings): k8s.types.input.core.v1.EnvVar[] {
  return [
    { name: APP_ENV.maxConcurrentRequests, value: String(serving.maxConcurrentRequests) },
    { name: APP_ENV.maxRequestWaitTimeMs, value: String(serving.maxRequestWaitTimeMs) },
    { name: APP_ENV.scoringTimeoutMs, value: String(serving.scoringTimeoutMs) },
  ];
}

function probe(path: string, settings: ProbeSettings): k8s.types.input.core.v1.Probe {
  return {
    httpGet: { path, port: APP_PORT_NAME },
    periodSeconds: settings.periodSeconds,
    initialDelaySeconds: settings.initialDelaySeconds,
    timeoutSeconds: settings.timeoutSeconds,
    successThreshold: settings.successThreshold,
    failureThreshold: settings.failureThreshold,
  };
}

export function probes(serving: ServingSettings): {
  livenessProbe: k8s.types.input.core.v1.Probe;
  readinessProbe: k8s.types.input.core.v1.Probe;
} {
  return {
    livenessProbe: probe(PROBE_PATHS.liveness, serving.liveness),
    readinessProbe: probe(PROBE_PATHS.readiness, serving.readiness),
  };
}

export interface PodSize {
  readonly gpus: number;
  readonly cpu: number;
  readonly memoryGiB: number;
  /** 0: equal to the request. */
  readonly cpuLimit: number;
  readonly memoryLimitGiB: number;
}

/**
 * Requests and limits. By default they are equal (Guaranteed QoS, the seed's fixed cores and memory per
 * replica); a larger limit the stack asks for lets the pod burst (Burstable QoS). GPUs are an extended
 * resource, whose request must equal its limit.
 */
export function podResources(size: PodSize): k8s.types.input.core.v1.ResourceRequirements {
  const requests = {
    cpu: cpuQuantity(size.cpu),
    memory: memoryQuantity(size.memoryGiB),
    [GPU_RESOURCE]: String(size.gpus),
  };
  const limits = {
    cpu: cpuQuantity(size.cpuLimit > 0 ? size.cpuLimit : size.cpu),
    memory: memoryQuantity(size.memoryLimitGiB > 0 ? size.memoryLimitGiB : size.memoryGiB),
    [GPU_RESOURCE]: String(size.gpus),
  };
  return { requests, limits };
}
