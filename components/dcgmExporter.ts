/**
 * DcgmExporter: NVIDIA's DCGM exporter on every GPU node, so utilisation, memory, temperature, power and
 * Xid errors of each GPU reach Azure Monitor managed Prometheus (scraped through the custom scrape config
 * in monitoring.ts, which selects these pods by their "metrics" port).
 *
 * Follows NVIDIA's dcgm-exporter.yaml at tag 4.5.3-4.8.2 (port 9400 named "metrics", DCGM_EXPORTER_LISTEN,
 * no service account token, /health probes as the Helm chart has them, its CPU/memory requests and limits),
 * with deliberate differences:
 * - it runs as uid 1000 without SYS_ADMIN, the upstream recipe for "non-root without profiling metrics"
 *   (the image's Dockerfile and values.yaml say so): the policy pack forbids SYS_ADMIN, and the dashboard
 *   and alerts need no DCGM_FI_PROF_* field. The collectors file is therefore upstream's
 *   default-counters.csv (committed in monitoring/metrics/) without its DCGM_FI_PROF_* lines, mounted
 *   from a ConfigMap, so the exporter asks DCGM only for what it may read;
 * - no pod-resources hostPath and DCGM_EXPORTER_KUBERNETES=false: the kubelet's pod-resources socket is
 *   root-only, and the panels are per node and GPU, not per pod (the scrape config adds the node name);
 * - a read-only root filesystem with an emptyDir on /tmp (upstream: "enable if tmpfs volumes are configured");
 * - it tolerates the GPU pool's taint and selects the GPU nodes; it requests no nvidia.com/gpu (the image
 *   sets NVIDIA_VISIBLE_DEVICES=all, so the NVIDIA runtime shows it every GPU without taking one away from
 *   the scoring pods);
 * - NVIDIA's image imported into the project's registry, by digest (DCGM_EXPORTER_UPSTREAM, mirroredImage.ts).
 *
 * Why not NVIDIA's dcgm-exporter Helm chart, as the device plugin uses its chart: the chart of this release
 * (4.8.2, deployment/ in NVIDIA/dcgm-exporter, unchanged on its main branch in May 2026) always mounts the
 * kubelet's pod-resources directory as a hostPath and always sets DCGM_EXPORTER_KUBERNETES=true
 * (templates/daemonset.yaml has no value to turn either off). The monitoring namespace enforces Pod
 * Security `restricted`, which admits no hostPath volume, and the socket is root-only while this exporter
 * runs as uid 1000; with the chart, the hardening above would have to go. Checked December 2026: switch
 * once the chart makes that mount optional (Renovate proposes new tags of the image).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GPU_TOLERATION } from "./appContract";

/**
 * The pinned release and its image digest. Not pulled here (no network); five unrelated public
 * repositories found by code search on 2026-12-01 pin this exact reference (a Dockerfile ARG, a Go
 * config default, a README list of pinned images, a shell script default, a Terraform test), and
 * NVIDIA's own manifest at the tag (dcgm-exporter.yaml, commit 691c92762eb5, 2026-05-06) names the tag.
 * Newer tags exist (4.6.0-4.8.3, 4.6.1-4.8.4), but no nvcr.io digest for them was found in more than one
 * public source and their default-counters.csv could not be read here; moving on means changing tag,
 * digest and monitoring/metrics/ together. A wrong digest fails the import at `pulumi up`
 * ("manifest unknown") rather than running other bits.
 */
export const DCGM_EXPORTER_UPSTREAM =
  "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless@sha256:60d3b00ac80b4ae77f94dae2f943685605585ad9e92fdccda3154d009ae317cc";

/** The exporter's port and its name; the scrape config keeps pods by this name. */
export const DCGM_METRICS_PORT = 9400;
export const DCGM_METRICS_PORT_NAME = "metrics";

/** The pods' label; the scrape job keeps only pods carrying it. */
export const DCGM_APP_LABEL = { key: "app.kubernetes.io/name", value: "dcgm-exporter" } as const;

/** Upstream's default-counters.csv at the pinned tag, committed with its source (monitoring/metrics/SOURCES.md). */
export const DCGM_DEFAULT_COUNTERS_FILE = path.join(
  __dirname,
  "..",
  "monitoring",
  "metrics",
  "dcgm-exporter-4.5.3-4.8.2-default-counters.csv",
);

/** The uid the exporter runs as: the image's unprivileged dcgm-exporter user. */
export const DCGM_EXPORTER_UID = 1000;

const COLLECTORS_DIR = "/etc/dcgm-exporter/collectors";
const COLLECTORS_FILE = "counters.csv";

export interface DcgmCounter {
  readonly field: string;
  readonly type: string;
}

/**
 * The counters the exporter collects here: every uncommented line of upstream's collectors file except
 * profiling fields (DCGM_FI_PROF_*, which need SYS_ADMIN). Label-type lines stay: they add labels, not series.
 */
export function collectedCounters(csv: string): DcgmCounter[] {
  const counters: DcgmCounter[] = [];
  for (const raw of csv.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const [field, type] = line.split(",").map((part) => part.trim());
    if (field === undefined || type === undefined || !/^DCGM_[A-Z0-9_]+$/.test(field)) {
      throw new Error(`dcgm collectors file: cannot read line ${JSON.stringify(raw)}`);
    }
    if (field.startsWith("DCGM_FI_PROF_")) continue;
    counters.push({ field, type });
  }
  return counters;
}

/** The collectors file mounted into the exporter: upstream's lines for the collected counters, verbatim. */
export function collectorsCsv(csv: string): string {
  const keep = new Set(collectedCounters(csv).map((c) => c.field));
  const lines = csv
    .split("\n")
    .filter((raw) => {
      const line = raw.trim();
      return line !== "" && !line.startsWith("#") && keep.has(line.split(",")[0].trim());
    })
    .map((line) => line.trim());
  return `# DCGM FIELD, Prometheus metric type, help message (upstream default-counters.csv without DCGM_FI_PROF_*)\n${lines.join("\n")}\n`;
}

export interface DcgmExporterArgs {
  /** Namespace the DaemonSet runs in (created by the caller). */
  readonly namespace: pulumi.Input<string>;
  /** The exporter image by digest in the project's registry (a MirroredImage of DCGM_EXPORTER_UPSTREAM). */
  readonly image: pulumi.Input<string>;
  readonly gpuNodeSelector: pulumi.Input<Record<string, string>>;
}

export class DcgmExporter extends pulumi.ComponentResource {
  readonly daemonSet: k8s.apps.v1.DaemonSet;

  constructor(name: string, args: DcgmExporterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpu-inference-aks:monitoring:DcgmExporter", name, {}, opts);
    const parent = { parent: this };
    const labels = { [DCGM_APP_LABEL.key]: DCGM_APP_LABEL.value };

    const collectors = new k8s.core.v1.ConfigMap(
      `${name}-collectors`,
      {
        metadata: { namespace: args.namespace, labels },
        data: { [COLLECTORS_FILE]: collectorsCsv(fs.readFileSync(DCGM_DEFAULT_COUNTERS_FILE, "utf8")) },
      },
      parent,
    );

    const health = { httpGet: { path: "/health", port: DCGM_METRICS_PORT_NAME } };
    this.daemonSet = new k8s.apps.v1.DaemonSet(
      `${name}-daemonset`,
      {
        metadata: { namespace: args.namespace, labels },
        spec: {
          selector: { matchLabels: labels },
          updateStrategy: { type: "RollingUpdate" },
          template: {
            metadata: { labels },
            spec: {
              automountServiceAccountToken: false,
              tolerations: [
                { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
                { ...GPU_TOLERATION },
              ],
              nodeSelector: args.gpuNodeSelector,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: DCGM_EXPORTER_UID,
                runAsGroup: DCGM_EXPORTER_UID,
                seccompProfile: { type: "RuntimeDefault" },
              },
              containers: [
                {
                  name: "dcgm-exporter",
                  image: args.image,
                  args: ["--collectors", `${COLLECTORS_DIR}/${COLLECTORS_FILE}`],
                  env: [
                    { name: "DCGM_EXPORTER_LISTEN", value: `:${DCGM_METRICS_PORT}` },
                    { name: "DCGM_EXPORTER_KUBERNETES", value: "false" },
                  ],
                  ports: [{ name: DCGM_METRICS_PORT_NAME, containerPort: DCGM_METRICS_PORT }],
                  livenessProbe: { ...health, initialDelaySeconds: 45, periodSeconds: 5 },
                  readinessProbe: { ...health, initialDelaySeconds: 45 },
                  resources: {
                    requests: { cpu: "100m", memory: "128Mi" },
                    limits: { cpu: "200m", memory: "256Mi" },
                  },
                  securityContext: {
                    runAsNonRoot: true,
                    runAsUser: DCGM_EXPORTER_UID,
                    allowPrivilegeEscalation: false,
                    capabilities: { drop: ["ALL"] },
                    readOnlyRootFilesystem: true,
                  },
                  volumeMounts: [
                    { name: "collectors", mountPath: COLLECTORS_DIR, readOnly: true },
                    { name: "tmp", mountPath: "/tmp" },
                  ],
                },
              ],
              volumes: [
                { name: "collectors", configMap: { name: collectors.metadata.name } },
                { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
              ],
            },
          },
        },
      },
      parent,
    );
    this.registerOutputs({ daemonSetName: this.daemonSet.metadata.name });
  }
}
