/**
 * The custom scrape jobs for Azure Monitor managed Prometheus. Its collector (the ama-metrics pods AKS
 * runs in kube-system once azureMonitorProfile.metrics is enabled) reads Prometheus `scrape_configs` from
 * the ConfigMap `ama-metrics-prometheus-config` in kube-system, key `prometheus-config`
 * (Azure/prometheus-collector, otelcollector/configmaps/ama-metrics-prometheus-config-configmap.yaml),
 * on top of its default targets (kubelet, cAdvisor, kube-state-metrics, node-exporter, ...), which need
 * no configuration here.
 *
 * Both jobs discover pods and keep only the container port named for metrics, so a pod is scraped on
 * exactly the port it declares and nothing else: the scoring pods' METRICS_PORT (its own port, which no
 * public route reaches) and the DCGM exporter's 9400. Each sample gets the pod's namespace, pod and node
 * names as labels; the dashboard groups GPU panels by `node`, which does not depend on the exporter's own
 * hostname label (renamed upstream after 4.8.2).
 *
 * Serialized as JSON, which is YAML, so no YAML library is needed at deploy time.
 */
import { DCGM_APP_LABEL, DCGM_METRICS_PORT_NAME } from "./dcgmExporter";

export const SCRAPE_CONFIGMAP = {
  name: "ama-metrics-prometheus-config",
  namespace: "kube-system",
  key: "prometheus-config",
} as const;

/** Job names; the alert rules select samples by them (monitoring/alerts.json {{scoringJob}}, {{dcgmJob}}). */
export const SCRAPE_JOBS = { scoring: "scoring", dcgm: "gpu-dcgm" } as const;

/** How often the custom jobs scrape; the default targets keep Azure's 30 s. */
export const SCRAPE_INTERVAL_SECONDS = 30;

export interface ScrapeTargets {
  /** Namespace of the scoring pods, and the name of their metrics container port. */
  readonly scoring: { readonly namespace: string; readonly portName: string };
  /** Namespace of the DCGM exporter DaemonSet. */
  readonly dcgmNamespace: string;
}

interface RelabelConfig {
  readonly source_labels?: readonly string[];
  readonly regex?: string;
  readonly action?: "keep" | "replace";
  readonly target_label?: string;
}

export interface ScrapeJob {
  readonly job_name: string;
  readonly scrape_interval: string;
  readonly kubernetes_sd_configs: readonly {
    readonly role: "pod";
    readonly namespaces: { readonly names: readonly string[] };
  }[];
  readonly relabel_configs: readonly RelabelConfig[];
}

export interface PrometheusScrapeConfig {
  readonly scrape_configs: readonly ScrapeJob[];
}

// Kubernetes service discovery turns "." and "/" in a label name into "_" (app.kubernetes.io/name).
const metaLabel = (label: string): string =>
  `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9_]/g, "_")}`;

const podIdentity: readonly RelabelConfig[] = [
  { source_labels: ["__meta_kubernetes_namespace"], action: "replace", target_label: "namespace" },
  { source_labels: ["__meta_kubernetes_pod_name"], action: "replace", target_label: "pod" },
  { source_labels: ["__meta_kubernetes_pod_node_name"], action: "replace", target_label: "node" },
];

function podJob(name: string, namespace: string, keep: readonly RelabelConfig[]): ScrapeJob {
  return {
    job_name: name,
    scrape_interval: `${SCRAPE_INTERVAL_SECONDS}s`,
    kubernetes_sd_configs: [{ role: "pod", namespaces: { names: [namespace] } }],
    relabel_configs: [...keep, ...podIdentity],
  };
}

export function scrapeConfig(targets: ScrapeTargets): PrometheusScrapeConfig {
  const keepPort = (portName: string): RelabelConfig => ({
    source_labels: ["__meta_kubernetes_pod_container_port_name"],
    regex: portName,
    action: "keep",
  });
  return {
    scrape_configs: [
      podJob(SCRAPE_JOBS.scoring, targets.scoring.namespace, [keepPort(targets.scoring.portName)]),
      podJob(SCRAPE_JOBS.dcgm, targets.dcgmNamespace, [
        { source_labels: [metaLabel(DCGM_APP_LABEL.key)], regex: DCGM_APP_LABEL.value, action: "keep" },
        keepPort(DCGM_METRICS_PORT_NAME),
      ]),
    ],
  };
}

/** The ConfigMap value: the scrape config as JSON (a subset of YAML, which the collector parses). */
export function scrapeConfigText(targets: ScrapeTargets): string {
  return `${JSON.stringify(scrapeConfig(targets), null, 2)}\n`;
}
