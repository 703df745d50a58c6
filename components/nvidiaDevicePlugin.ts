/**
 * NvidiaDevicePlugin: the DaemonSet that advertises each node's GPUs as `nvidia.com/gpu`, without which
 * no pod asking for a GPU is ever scheduled. AKS installs the driver on GPU pools but not this plugin.
 *
 * Declared here rather than fetched at deploy time, following NVIDIA's static manifest
 * (deployments/static/nvidia-device-plugin.yml in NVIDIA/k8s-device-plugin): kube-system,
 * system-node-critical priority, the kubelet's device-plugins hostPath, FAIL_ON_INIT_ERROR=false,
 * no privilege escalation, all capabilities dropped, RollingUpdate. Two deliberate additions: it
 * tolerates the GPU pool's own taint (the manifest tolerates only nvidia.com/gpu), and it selects the
 * GPU nodes so it does not idle on every system node.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/** Pinned release of the official image (nvcr.io), current as of November 2026. */
export const DEVICE_PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.20.0";

export interface NvidiaDevicePluginArgs {
  readonly gpuTaint: { readonly key: string; readonly value: string; readonly effect: string };
  readonly gpuNodeSelector: pulumi.Input<Record<string, string>>;
}

export class NvidiaDevicePlugin extends pulumi.ComponentResource {
  readonly daemonSet: k8s.apps.v1.DaemonSet;

  constructor(name: string, args: NvidiaDevicePluginArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpu-inference-aks:cluster:NvidiaDevicePlugin", name, {}, opts);
    const labels = { name: "nvidia-device-plugin-ds" };

    this.daemonSet = new k8s.apps.v1.DaemonSet(
      name,
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
                {
                  key: args.gpuTaint.key,
                  operator: "Equal",
                  value: args.gpuTaint.value,
                  effect: args.gpuTaint.effect,
                },
              ],
              nodeSelector: args.gpuNodeSelector,
              priorityClassName: "system-node-critical",
              containers: [
                {
                  name: "nvidia-device-plugin-ctr",
                  image: DEVICE_PLUGIN_IMAGE,
                  env: [{ name: "FAIL_ON_INIT_ERROR", value: "false" }],
                  securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
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
