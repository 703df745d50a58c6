/**
 * NvidiaDevicePlugin: the DaemonSet that advertises each node's GPUs as `nvidia.com/gpu`, without which
 * no pod asking for a GPU is ever scheduled. AKS installs the driver on GPU pools but not this plugin.
 *
 * Installed the way NVIDIA ships it (and AKS's GPU docs install it): the `nvidia-device-plugin` Helm
 * chart at a pinned version, rendered by the Kubernetes provider (helm.v4.Chart), so every object it
 * makes is a resource of the stack that the policy pack sees. The chart's v0.20.0 templates
 * (deployments/helm/nvidia-device-plugin in NVIDIA/k8s-device-plugin) give kube-system,
 * system-node-critical priority, the kubelet's device-plugins hostPath, RollingUpdate and, with no
 * securityContext value, no privilege escalation and all capabilities dropped. The values here
 * (devicePluginValues) keep what the project adds:
 * - it tolerates the GPU pool's own taint (the chart tolerates nvidia.com/gpu and CriticalAddonsOnly)
 *   and selects the GPU nodes by the pool's label, with the chart's node affinity removed: that affinity
 *   wants labels only Node Feature Discovery or GPU Feature Discovery set (feature.node.kubernetes.io/
 *   pci-10de.present, nvidia.com/gpu.present), which an AKS GPU pool does not have;
 * - a read-only root filesystem: with the default device list strategy (`envvar`), no MPS sharing and no
 *   config file, v0.20.0 writes only its socket in /var/lib/kubelet/device-plugins (internal/plugin/
 *   server.go), a hostPath. The chart also mounts /run/nvidia/mps, its shm and /var/run/cdi from the host
 *   (DirectoryOrCreate) whatever the options; nothing is written there with these values;
 * - no FAIL_ON_INIT_ERROR=false (the chart sets it only when asked): an init failure crash-loops where an
 *   operator sees it;
 * - NVIDIA's image imported into the project's registry, by digest (see DEVICE_PLUGIN_UPSTREAM;
 *   mirroredImage.ts keeps the upstream repository path, which the policy pack's root exception names).
 *   It still runs as root, like the chart: it must create its socket in the root-owned host directory.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GPU_TOLERATION } from "./appContract";
import { mirrorSpec } from "./mirroredImage";

/**
 * The pinned official release (current as of November 2026) and its multi-arch index digest. The digest
 * was not pulled from nvcr.io here (no network); three public sources agree on it: a `kubectl describe`
 * of a running v0.20.0 pod (Image ID), a manifest pinning `v0.20.0@sha256:…`, and a script naming it the
 * index digest (found by code search). If it were wrong, the import (mirroredImage.ts) fails at
 * `pulumi up` instead of copying other bits. A new release changes tag and digest here.
 */
export const DEVICE_PLUGIN_UPSTREAM =
  "nvcr.io/nvidia/k8s-device-plugin:v0.20.0@sha256:a61ba9fd8efb82f3a79f877f7580e02c1e8e7593f62473644bc9c79e315c3312";

/** The chart NVIDIA publishes for this release (its version equals the plugin's). */
export const DEVICE_PLUGIN_CHART = {
  chart: "nvidia-device-plugin",
  version: "0.20.0",
  repo: "https://nvidia.github.io/k8s-device-plugin",
} as const;

/** The DaemonSet's name (the chart's fullname). */
export const DEVICE_PLUGIN_NAME = "nvidia-device-plugin";

/**
 * The chart's values. `imageRef` is the imported image by digest (`<registry>/<repository>@sha256:…`);
 * the chart writes `<repository>:<tag>`, so the tag carries the digest too and the pod runs exactly
 * those bits (a reference with both is pulled by its digest).
 */
export function devicePluginValues(
  imageRef: string,
  tag: string,
  gpuNodeSelector: Record<string, string>,
): Record<string, unknown> {
  const at = imageRef.lastIndexOf("@sha256:");
  if (at < 0) throw new Error(`the device plugin image must be a digest reference: ${imageRef}`);
  return {
    fullnameOverride: DEVICE_PLUGIN_NAME,
    image: { repository: imageRef.slice(0, at), tag: `${tag}${imageRef.slice(at)}` },
    priorityClassName: "system-node-critical",
    updateStrategy: { type: "RollingUpdate" },
    tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }, { ...GPU_TOLERATION }],
    nodeSelector: gpuNodeSelector,
    // null removes the chart's default (NFD/GFD labels an AKS pool does not carry).
    affinity: null,
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      readOnlyRootFilesystem: true,
    },
    // The chart's optional parts stay off: GPU Feature Discovery and Node Feature Discovery (privileged),
    // and the MPS control daemon (only for MPS sharing, which needs a config).
    gfd: { enabled: false },
    nfd: { enabled: false },
  };
}

export interface NvidiaDevicePluginArgs {
  /** The device plugin image by digest in the project's registry (a MirroredImage of DEVICE_PLUGIN_UPSTREAM). */
  readonly image: pulumi.Input<string>;
  readonly gpuNodeSelector: pulumi.Input<Record<string, string>>;
}

export class NvidiaDevicePlugin extends pulumi.ComponentResource {
  /** The rendered chart; depending on it waits for every object it made, the DaemonSet included. */
  readonly chart: k8s.helm.v4.Chart;

  constructor(name: string, args: NvidiaDevicePluginArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpu-inference-aks:cluster:NvidiaDevicePlugin", name, {}, opts);
    const { tag } = mirrorSpec(DEVICE_PLUGIN_UPSTREAM);
    this.chart = new k8s.helm.v4.Chart(
      `${name}-chart`,
      {
        chart: DEVICE_PLUGIN_CHART.chart,
        version: DEVICE_PLUGIN_CHART.version,
        repositoryOpts: { repo: DEVICE_PLUGIN_CHART.repo },
        namespace: "kube-system",
        values: pulumi
          .all([args.image, args.gpuNodeSelector])
          .apply(([image, selector]) => devicePluginValues(image, tag, selector)),
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
