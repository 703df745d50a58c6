/**
 * GPU workloads must ask for a GPU and tolerate the GPU pool's taint. A pod that tolerates the taint
 * but requests no GPU holds an expensive node while the scheduler cannot give its GPU to anyone who
 * needs it; a pod that requests a GPU but does not tolerate the taint stays Pending forever. The
 * device plugin DaemonSet requests no GPU (it is what advertises them) but must tolerate the taint,
 * or no GPU node ever reports `nvidia.com/gpu`.
 */
import { GPU_TOLERATION } from "../../components/appContract";
import {
  containersOf,
  GPU_RESOURCE,
  GPU_TAINT_TEXT,
  gpuLimit,
  gpuRequest,
  targetsGpuNodes,
  toleratesGpuTaint,
  type Workload,
} from "../lib/workloads";

const TOLERATION_TEXT = `{key: "${GPU_TOLERATION.key}", operator: "${GPU_TOLERATION.operator}", value: "${GPU_TOLERATION.value}", effect: "${GPU_TOLERATION.effect}"}`;

export interface GpuWorkloadConfig {
  /** Node labels that select the GPU pool. */
  readonly gpuNodeLabels: Readonly<Record<string, string>>;
}

const DEVICE_PLUGIN_IMAGE = "k8s-device-plugin";

function isDevicePlugin(workload: Workload): boolean {
  return containersOf(workload.podSpec).some((c) => String(c.spec.image ?? "").includes(DEVICE_PLUGIN_IMAGE));
}

export function checkGpuWorkload(workload: Workload, config: GpuWorkloadConfig): string[] {
  const { podSpec, label } = workload;
  const containers = containersOf(podSpec);
  const tolerates = toleratesGpuTaint(podSpec);
  const targets = targetsGpuNodes(podSpec, config.gpuNodeLabels);
  const problems: string[] = [];

  if (workload.kind === "DaemonSet") {
    if ((isDevicePlugin(workload) || targets) && !tolerates) {
      problems.push(
        `${label} runs on GPU nodes but does not tolerate their taint ${GPU_TAINT_TEXT}, so it is never ` +
          `scheduled there and no node advertises ${GPU_RESOURCE}. Add the toleration ` +
          `${TOLERATION_TEXT}.`,
      );
    }
    return problems;
  }

  for (const container of containers) {
    if (gpuRequest(container) !== undefined && gpuLimit(container) === undefined) {
      problems.push(
        `${label}: container "${container.name}" requests ${GPU_RESOURCE} without a limit; Kubernetes ` +
          `only accepts extended resources in limits. Set resources.limits["${GPU_RESOURCE}"].`,
      );
    }
  }
  const requestsGpu = containers.some((c) => (gpuLimit(c) ?? 0) >= 1);
  if (requestsGpu && !tolerates) {
    problems.push(
      `${label} requests ${GPU_RESOURCE} but does not tolerate the GPU pool's taint ${GPU_TAINT_TEXT}, ` +
        `so its pods stay Pending. Add the toleration ` +
        `${TOLERATION_TEXT}.`,
    );
  }
  if (!requestsGpu && (tolerates || targets)) {
    problems.push(
      `${label} is placed on the GPU pool (it ${tolerates ? `tolerates ${GPU_TAINT_TEXT}` : "selects GPU nodes"}) ` +
        `but no container sets resources.limits["${GPU_RESOURCE}"], so it occupies a GPU node without ` +
        `a GPU. Request at least one GPU, or remove the toleration and GPU node selection.`,
    );
  }
  return problems;
}
