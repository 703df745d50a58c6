/**
 * NvidiaDevicePlugin: the DaemonSet that advertises each node's GPUs as `nvidia.com/gpu`, without which
 * no pod asking for a GPU is ever scheduled. AKS installs the driver on GPU pools but not this plugin.
 *
 * Declared here rather than fetched at deploy time, following NVIDIA's v0.20.0 static manifest
 * (deployments/static/nvidia-device-plugin.yml in NVIDIA/k8s-device-plugin): kube-system,
 * system-node-critical priority, the kubelet's device-plugins hostPath, no privilege escalation, all
 * capabilities dropped, RollingUpdate, and no FAIL_ON_INIT_ERROR=false (NVIDIA removed it from the static
 * manifests in v0.17.1 because it hides GPU discovery failures; this DaemonSet runs only on GPU nodes, so
 * an init failure should crash-loop where an operator sees it). Deliberate additions:
 * - it tolerates the GPU pool's own taint (the manifest tolerates only nvidia.com/gpu) and selects the
 *   GPU nodes so it does not idle on every system node;
 * - a read-only root filesystem with no extra writable mount: with the manifest's defaults (device list
 *   strategy `envvar`, no MPS sharing, no config file) v0.20.0 writes only its socket in
 *   /var/lib/kubelet/device-plugins (internal/plugin/server.go), which is the hostPath. It writes CDI specs
 *   to /var/run/cdi only with a `cdi-*` device list strategy, and MPS files only with MPS sharing; enabling
 *   either needs a writable mount there (the Helm chart's hostPaths). Logs go to stderr (klog default);
 *   the image is distroless;
 * - it runs NVIDIA's image imported into the project's registry, by digest (see DEVICE_PLUGIN_UPSTREAM;
 *   mirroredImage.ts keeps the upstream repository path, which the policy pack's root exception names).
 *   It still runs as root, like the manifest: it must create its socket in the root-owned host directory.
 *
 * Why not NVIDIA's Helm chart (nvidia-device-plugin 0.20.0, which AKS's docs install): rendered with values
 * that keep everything above (helm template of deployments/helm/nvidia-device-plugin at v0.20.0,
 * December 2026), its plugin DaemonSet passes the policy pack, but the chart always renders a second one,
 * `nvidia-device-plugin-mps-control-daemon` (templates/daemonset-mps-control-daemon.yml, no value turns
 * it off), with two privileged containers and hostPID. It schedules only on nodes labelled
 * nvidia.com/mps.capable=true, which no node here is, yet the pack's mandatory container-hardening rule
 * refuses it (privilege escalation, writable root), so every preview would fail. The chart would also
 * mount /run/nvidia/mps and /var/run/cdi from the host (DirectoryOrCreate), and its default node affinity
 * wants Node Feature Discovery labels an AKS GPU pool lacks. Revisit when the chart can leave the MPS
 * daemon out; Renovate proposes new tags of the image meanwhile.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GPU_TOLERATION } from "./appContract";

/**
 * The pinned official release (current as of November 2026) and its multi-arch index digest. The digest
 * was not pulled from nvcr.io here (no network); three public sources agree on it: a `kubectl describe`
 * of a running v0.20.0 pod (Image ID), a manifest pinning `v0.20.0@sha256:…`, and a script naming it the
 * index digest (found by code search). If it were wrong, the import (mirroredImage.ts) fails at
 * `pulumi up` instead of copying other bits. A new release changes tag and digest here.
 */
export const DEVICE_PLUGIN_UPSTREAM =
  "nvcr.io/nvidia/k8s-device-plugin:v0.20.0@sha256:a61ba9fd8efb82f3a79f877f7580e02c1e8e7593f62473644bc9c79e315c3312";

export interface NvidiaDevicePluginArgs {
  /** The device plugin image by digest in the project's registry (a MirroredImage of DEVICE_PLUGIN_UPSTREAM). */
  readonly image: pulumi.Input<string>;
  readonly gpuNodeSelector: pulumi.Input<Record<string, string>>;
}

export class NvidiaDevicePlugin extends pulumi.ComponentResource {
  readonly daemonSet: k8s.apps.v1.DaemonSet;

  constructor(name: string, args: NvidiaDevicePluginArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpu-inference-aks:cluster:NvidiaDevicePlugin", name, {}, opts);
    const labels = { name: "nvidia-device-plugin-ds" };

    this.daemonSet = new k8s.apps.v1.DaemonSet(
      `${name}-daemonset`,
      {
        metadata: { name: "nvidia-device-plugin-daemonset", namespace: "kube-system" },
        spec: {
          selector: { matchLabels: labels },
          updateStrategy: { type: "RollingUpdate" },
          template: {
            metadata: { labels },
            spec: {
              tolerations: [
                { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
                { ...GPU_TOLERATION },
              ],
              nodeSelector: args.gpuNodeSelector,
              priorityClassName: "system-node-critical",
              containers: [
                {
                  name: "nvidia-device-plugin-ctr",
                  image: args.image,
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    capabilities: { drop: ["ALL"] },
                    readOnlyRootFilesystem: true,
                  },
                  volumeMounts: [
                    { name: "kubelet-device-plugins-dir", mountPath: "/var/lib/kubelet/device-plugins" },
                  ],
                },
              ],
              volumes: [
                {
                  name: "kubelet-device-plugins-dir",
                  hostPath: { path: "/var/lib/kubelet/device-plugins", type: "Directory" },
                },
              ],
            },
          },
        },
      },
      { parent: this },
    );
    this.registerOutputs({ daemonSetName: this.daemonSet.metadata.name });
  }
}
