/**
 * Issue 14 under mocks: the real program (dev stack) declares managed Prometheus, Container Insights,
 * control-plane diagnostics, alert rule groups, the custom scrape config and the DCGM exporter, each
 * wired to the resources it must reach (workspace ids, the cluster, scrape targets, tolerations,
 * image digest); then the options (an alert e-mail, Managed Grafana) and the config refusals.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { before, describe, it } from "node:test";
import { alertGroups } from "../components/alertRules";
import {
  APP_PORT,
  APP_PORT_NAME,
  GPU_NODE_LABEL,
  GPU_RESOURCE,
  GPU_TOLERATION,
  METRICS_PORT,
  METRICS_PORT_NAME,
  MONITORING_NAMESPACE,
} from "../components/appContract";
import { ConfigError, parseStackSettings } from "../components/config";
import {
  collectorsCsv,
  DCGM_APP_LABEL,
  DCGM_DEFAULT_COUNTERS_FILE,
  DCGM_EXPORTER_UPSTREAM,
  DCGM_METRICS_PORT,
} from "../components/dcgmExporter";
import { CERT_MANAGER_NAMESPACE, ENTRY_NAMESPACE } from "../components/entryPoint";
import { IMPORT_SCRIPT, mirrorSpec } from "../components/mirroredImage";
import { CONTAINER_INSIGHTS_STREAMS, GRAFANA_ROLES } from "../components/monitoring";
import { ENVOY_PROXY_POD_LABELS } from "../components/networkPolicy";
import { SCRAPE_CONFIGMAP, SCRAPE_JOBS } from "../components/scrapeConfig";
import {
  devStackConfig,
  findAll,
  findOne,
  get,
  MOCK,
  MOCK_GRAFANA_PRINCIPAL_ID,
  outputValue,
  type ProgramRun,
  type Recorded,
  runProgram,
} from "./harness";
import { admits, type Destination, type Source } from "./networkPolicyModel";

const T = {
  amw: "azure-native:monitor:AzureMonitorWorkspace",
  dce: "azure-native:monitor:DataCollectionEndpoint",
  dcr: "azure-native:monitor:DataCollectionRule",
  dcra: "azure-native:monitor:DataCollectionRuleAssociation",
  diagnostics: "azure-native:monitor:DiagnosticSetting",
  actionGroup: "azure-native:monitor:ActionGroup",
  rules: "azure-native:alertsmanagement:PrometheusRuleGroup",
  grafana: "azure-native:dashboard:Grafana",
  role: "azure-native:authorization:RoleAssignment",
  logs: "azure-native:operationalinsights:Workspace",
  cluster: "azure-native:containerservice:ManagedCluster",
  image: "docker-build:index:Image",
  importCommand: "command:local:Command",
  namespace: "kubernetes:core/v1:Namespace",
  configMap: "kubernetes:core/v1:ConfigMap",
  daemonSet: "kubernetes:apps/v1:DaemonSet",
  deployment: "kubernetes:apps/v1:Deployment",
} as const;

// The harness names Azure resources it has no name field for `<logical name>abc123`; the cluster by resourceName.
const idOf = (r: Recorded): string => {
  const name = r.type === T.cluster ? String(r.inputs.resourceName) : `${r.name}abc123`;
  return `/subscriptions/${MOCK.subscriptionId}/resourceGroups/rg/providers/${r.type}/${name}`;
};
const named = (run: ProgramRun, type: string, name: string): Recorded => findOne(run.resources, type, name);

let run: ProgramRun;
let clusterId: string;
let logsId: string;
let amwId: string;
before(async () => {
  run = await runProgram({ config: devStackConfig() });
  clusterId = idOf(findOne(run.resources, T.cluster));
  logsId = idOf(findOne(run.resources, T.logs));
  amwId = idOf(findOne(run.resources, T.amw));
});

describe("managed Prometheus", () => {
  it("turns the collector on in the cluster", () => {
    assert.deepEqual(get(findOne(run.resources, T.cluster), "azureMonitorProfile"), {
      metrics: { enabled: true },
    });
  });

  it("forwards Microsoft-PrometheusMetrics through the endpoint to the Azure Monitor workspace", () => {
    const amw = findOne(run.resources, T.amw);
    assert.equal(get(amw, "location"), "eastus");
    assert.match(String(get(amw, "azureMonitorWorkspaceName")), /^gpuinf-amw-[a-z0-9]{6}$/);
    const dce = named(run, T.dce, "monitoring-prometheus-dce");
    assert.equal(get(dce, "kind"), "Linux");
    const dcr = named(run, T.dcr, "monitoring-prometheus-dcr");
    assert.equal(get(dcr, "kind"), "Linux");
    assert.equal(get(dcr, "dataCollectionEndpointId"), idOf(dce));
    assert.deepEqual(get(dcr, "dataSources.prometheusForwarder"), [
      { name: "PrometheusDataSource", streams: ["Microsoft-PrometheusMetrics"], labelIncludeFilter: {} },
    ]);
    assert.deepEqual(get(dcr, "destinations.monitoringAccounts"), [
      { accountResourceId: amwId, name: "MonitoringAccount1" },
    ]);
    assert.deepEqual(get(dcr, "dataFlows"), [
      { streams: ["Microsoft-PrometheusMetrics"], destinations: ["MonitoringAccount1"] },
    ]);
  });

  it("associates that rule with the cluster", () => {
    const dcra = named(run, T.dcra, "monitoring-prometheus-dcra");
    assert.equal(get(dcra, "resourceUri"), clusterId);
    assert.equal(get(dcra, "dataCollectionRuleId"), idOf(named(run, T.dcr, "monitoring-prometheus-dcr")));
  });

  it("scrapes the scoring pods' metrics port and the DCGM exporter pods, naming their node", () => {
    const cm = findAll(run.resources, T.configMap).find(
      (r) => get(r, "metadata.name") === SCRAPE_CONFIGMAP.name,
    );
    assert.ok(cm, "no ama-metrics-prometheus-config ConfigMap");
    assert.equal(get(cm, "metadata.namespace"), "kube-system");
    const config = JSON.parse(String(get(cm, `data.${SCRAPE_CONFIGMAP.key}`))) as {
      scrape_configs: {
        job_name: string;
        kubernetes_sd_configs: { role: string; namespaces: { names: string[] } }[];
        relabel_configs: {
          source_labels?: string[];
          regex?: string;
          action?: string;
          target_label?: string;
        }[];
      }[];
    };
    const job = (name: string) => config.scrape_configs.find((j) => j.job_name === name);
    const keeps = (j: ReturnType<typeof job>) =>
      (j?.relabel_configs ?? [])
        .filter((r) => r.action === "keep")
        .map((r) => [r.source_labels?.[0], r.regex]);

    const scoring = job(SCRAPE_JOBS.scoring);
    assert.deepEqual(scoring?.kubernetes_sd_configs, [{ role: "pod", namespaces: { names: ["scoring"] } }]);
    assert.deepEqual(keeps(scoring), [["__meta_kubernetes_pod_container_port_name", METRICS_PORT_NAME]]);

    const dcgm = job(SCRAPE_JOBS.dcgm);
    assert.deepEqual(dcgm?.kubernetes_sd_configs, [
      { role: "pod", namespaces: { names: [MONITORING_NAMESPACE] } },
    ]);
    assert.deepEqual(keeps(dcgm), [
      ["__meta_kubernetes_pod_label_app_kubernetes_io_name", "dcgm-exporter"],
      ["__meta_kubernetes_pod_container_port_name", "metrics"],
    ]);
    for (const j of [scoring, dcgm]) {
      assert.ok(
        j?.relabel_configs.some(
          (r) => r.source_labels?.[0] === "__meta_kubernetes_pod_node_name" && r.target_label === "node",
        ),
      );
    }
  });

  it("the port the scoring job keeps is the scoring pods' metrics port", () => {
    const container = (
      get(findOne(run.resources, T.deployment), "spec.template.spec.containers") as Record<string, unknown>[]
    )[0];
    assert.ok(
      (container.ports as { name: string; containerPort: number }[]).some(
        (p) => p.name === METRICS_PORT_NAME && p.containerPort === METRICS_PORT,
      ),
    );
  });
});

describe("Container Insights and control-plane logs", () => {
  it("runs the agent with managed-identity auth, sending to the stack's Log Analytics workspace", () => {
    assert.deepEqual(get(findOne(run.resources, T.cluster), "addonProfiles"), {
      omsagent: { enabled: true, config: { logAnalyticsWorkspaceResourceID: logsId, useAADAuth: "true" } },
    });
  });

  it("collects container logs, events and pod inventory into that workspace, associated with the cluster", () => {
    const dcr = named(run, T.dcr, "monitoring-insights-dcr");
    const extension = (get(dcr, "dataSources.extensions") as Record<string, unknown>[])[0];
    assert.equal(extension.extensionName, "ContainerInsights");
    assert.deepEqual(extension.streams, [...CONTAINER_INSIGHTS_STREAMS]);
    assert.deepEqual(CONTAINER_INSIGHTS_STREAMS, [
      "Microsoft-ContainerLogV2",
      "Microsoft-KubeEvents",
      "Microsoft-KubePodInventory",
    ]);
    assert.equal(
      get(
        extension as Record<string, unknown>,
        "extensionSettings.dataCollectionSettings.enableContainerLogV2",
      ),
      true,
    );
    assert.deepEqual(get(dcr, "destinations.logAnalytics"), [
      { workspaceResourceId: logsId, name: "ciworkspace" },
    ]);
    assert.deepEqual(get(dcr, "dataFlows"), [
      { streams: [...CONTAINER_INSIGHTS_STREAMS], destinations: ["ciworkspace"] },
    ]);
    const dcra = named(run, T.dcra, "monitoring-insights-dcra");
    assert.equal(get(dcra, "resourceUri"), clusterId);
    assert.equal(get(dcra, "associationName"), "ContainerInsightsExtension");
    assert.equal(get(dcra, "dataCollectionRuleId"), idOf(dcr));
  });

  it("sends the audit log (kube-audit-admin) and Entra sign-ins (guard) to the workspace", () => {
    const setting = findOne(run.resources, T.diagnostics);
    assert.equal(get(setting, "resourceUri"), clusterId);
    assert.equal(get(setting, "workspaceId"), logsId);
    assert.equal(get(setting, "logAnalyticsDestinationType"), "Dedicated");
    assert.deepEqual(get(setting, "logs"), [
      { category: "kube-audit-admin", enabled: true },
      { category: "guard", enabled: true },
    ]);
  });
});

describe("alert rules", () => {
  const expected = alertGroups({
    namespace: "scoring",
    monitoringNamespace: MONITORING_NAMESPACE,
    replicas: 3,
    gpuNodeCount: 3,
    gpuTaintKey: "sku",
    gpuTaintValue: "gpu",
    p99LatencySeconds: 0.5,
    scoringJob: SCRAPE_JOBS.scoring,
    dcgmJob: SCRAPE_JOBS.dcgm,
  });

  it("one rule group per group of monitoring/alerts.json, scoped to the Azure Monitor workspace and the cluster", () => {
    const groups = findAll(run.resources, T.rules);
    assert.deepEqual(
      groups.map((g) => g.name),
      expected.map((g) => `monitoring-rules-${g.name}`),
    );
    for (const group of groups) {
      assert.deepEqual(get(group, "scopes"), [amwId, clusterId]);
      assert.equal(get(group, "clusterName"), String(get(findOne(run.resources, T.cluster), "resourceName")));
      assert.equal(get(group, "interval"), "PT1M");
      assert.equal(get(group, "enabled"), true);
    }
  });

  it("carries every rule with this stack's values filled in and, without an e-mail, no action", () => {
    const rules = findAll(run.resources, T.rules).flatMap(
      (g) => get(g, "rules") as Record<string, unknown>[],
    );
    assert.deepEqual(
      rules.map((r) => [r.alert, r.expression, r.for, r.severity]),
      expected.flatMap((g) => g.rules.map((r) => [r.alert, r.expression, r.for, r.severity])),
    );
    for (const rule of rules) {
      assert.doesNotMatch(JSON.stringify(rule), /\{\{/);
      assert.equal(rule.actions, undefined);
    }
    const byName = new Map(rules.map((r) => [r.alert, String(r.expression)]));
    assert.match(byName.get("ScoringReplicasBelowConfigured") ?? "", /namespace="scoring".* < 3$/);
    assert.match(byName.get("ScoringP99LatencyHigh") ?? "", /> 0\.5$/);
    assert.match(byName.get("GpuNodeNotReady") ?? "", /kube_node_spec_taint\{key="sku",value="gpu"\}/);
    assert.match(byName.get("GpuXidError") ?? "", /DCGM_FI_DEV_XID_ERRORS\{job="gpu-dcgm"\}/);
    assert.equal(findAll(run.resources, T.actionGroup).length, 0);
  });
});

describe("DCGM exporter", () => {
  const ds = (): Recorded => named(run, T.daemonSet, "monitoring-dcgm-exporter-daemonset");
  const pod = (): Record<string, unknown> => get(ds(), "spec.template.spec") as Record<string, unknown>;
  const container = (): Record<string, unknown> => (pod().containers as Record<string, unknown>[])[0];

  it("runs on every GPU node in the monitoring namespace, tolerating the GPU taint", () => {
    assert.equal(get(ds(), "metadata.namespace"), MONITORING_NAMESPACE);
    const ns = findAll(run.resources, T.namespace).find(
      (n) => get(n, "metadata.name") === MONITORING_NAMESPACE,
    );
    assert.ok(ns, "no monitoring namespace");
    const labels = get(ns, "metadata.labels") as Record<string, string>;
    assert.equal(labels["pod-security.kubernetes.io/enforce"], "restricted");
    assert.deepEqual(get(pod(), "securityContext.seccompProfile"), { type: "RuntimeDefault" });
    assert.deepEqual(pod().nodeSelector, { [GPU_NODE_LABEL.key]: GPU_NODE_LABEL.value });
    assert.deepEqual(pod().tolerations, [
      { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
      { ...GPU_TOLERATION },
    ]);
  });

  it("runs NVIDIA's pinned image imported into the project's registry by ACR, by the pinned digest", () => {
    const imported = findOne(run.resources, T.importCommand, "dcgm-exporter-image-import");
    assert.equal(get(imported, "create"), IMPORT_SCRIPT);
    const env = get(imported, "environment") as Record<string, string>;
    assert.equal(
      env.SOURCE,
      "nvcr.io/nvidia/k8s/dcgm-exporter@sha256:60d3b00ac80b4ae77f94dae2f943685605585ad9e92fdccda3154d009ae317cc",
    );
    assert.equal(env.TARGET, "nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless");
    const registry = `${String(get(findOne(run.resources, "azure-native:containerregistry:Registry"), "registryName"))}.azurecr.io`;
    const { repository, digest } = mirrorSpec(DCGM_EXPORTER_UPSTREAM);
    assert.equal(container().image, `${registry}/${repository}@${digest}`);
  });

  it("is unprivileged: uid 1000, no SYS_ADMIN, no escalation, read-only root, no GPU taken", () => {
    const security = container().securityContext as Record<string, unknown>;
    assert.deepEqual(security, {
      runAsNonRoot: true,
      runAsUser: 1000,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      readOnlyRootFilesystem: true,
    });
    assert.equal(pod().automountServiceAccountToken, false);
    assert.equal(JSON.stringify(container().resources).includes(GPU_RESOURCE), false);
    assert.equal(JSON.stringify(pod()).includes("hostPath"), false);
  });

  it("serves metrics on 9400 named metrics and collects upstream's counters without profiling fields", () => {
    assert.deepEqual(container().ports, [{ name: "metrics", containerPort: DCGM_METRICS_PORT }]);
    assert.deepEqual(container().args, ["--collectors", "/etc/dcgm-exporter/collectors/counters.csv"]);
    const collectors = named(run, T.configMap, "monitoring-dcgm-exporter-collectors");
    // get() splits on dots, so read the file name key directly.
    const text = String((get(collectors, "data") as Record<string, unknown>)["counters.csv"]);
    assert.equal(text, collectorsCsv(fs.readFileSync(DCGM_DEFAULT_COUNTERS_FILE, "utf8")));
    assert.match(text, /^DCGM_FI_DEV_XID_ERRORS,/m);
    assert.match(text, /^DCGM_FI_DEV_GPU_UTIL,/m);
    assert.doesNotMatch(text, /^DCGM_FI_PROF_/m);
    assert.equal(get(collectors, "metadata.namespace"), MONITORING_NAMESPACE);
  });
});

describe("monitoring namespace network policies", () => {
  it("deny ingress by default and admit only Azure Monitor's ama-metrics pods, to the exporter's port", () => {
    const policies = findAll(run.resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy").filter(
      (p) => get(p, "metadata.namespace") === MONITORING_NAMESPACE,
    );
    assert.deepEqual(policies.map((p) => get(p, "metadata.name")).sort(), [
      "allow-ama-metrics-to-dcgm-exporter",
      "default-deny-ingress",
    ]);
    const deny = policies.find((p) => get(p, "metadata.name") === "default-deny-ingress") as Recorded;
    assert.deepEqual(get(deny, "spec"), { podSelector: {}, policyTypes: ["Ingress"] });
    const allow = policies.find(
      (p) => get(p, "metadata.name") === "allow-ama-metrics-to-dcgm-exporter",
    ) as Recorded;
    const rules = get(allow, "spec.ingress") as { from: Record<string, unknown>[]; ports: unknown[] }[];
    assert.equal(rules.length, 1);
    assert.deepEqual(rules[0].ports, [{ protocol: "TCP", port: DCGM_METRICS_PORT }]);
    for (const peer of rules[0].from) {
      assert.deepEqual(peer.namespaceSelector, {
        matchLabels: { "kubernetes.io/metadata.name": "kube-system" },
      });
      assert.ok(peer.podSelector, "a namespace-wide peer would admit every kube-system pod");
    }
    assert.match(JSON.stringify(rules[0].from), /"ama-metrics".*"ama-metrics-node"/);
  });
});

describe("stack outputs", () => {
  it("name the Azure Monitor workspace and no Grafana while managedGrafana is off", async () => {
    assert.equal(await outputValue(run.outputs.azureMonitorWorkspaceId), amwId);
    assert.match(
      String(await outputValue(run.outputs.prometheusQueryEndpoint)),
      /\.prometheus\.monitor\.azure\.com$/,
    );
    assert.equal(findAll(run.resources, T.grafana).length, 0);
    assert.equal("grafanaEndpoint" in run.outputs, false);
  });
});

describe("options", () => {
  let withOptions: ProgramRun;
  before(async () => {
    withOptions = await runProgram({
      config: {
        ...devStackConfig(),
        alertEmail: "oncall@example.com",
        alertP99LatencySeconds: "0.25",
        managedGrafana: "true",
      },
    });
  });

  it("an alert e-mail gets an action group every rule notifies", () => {
    const group = findOne(withOptions.resources, T.actionGroup);
    assert.equal(get(group, "location"), "global");
    assert.deepEqual(get(group, "emailReceivers"), [
      { name: "on-call", emailAddress: "oncall@example.com", useCommonAlertSchema: true },
    ]);
    const rules = findAll(withOptions.resources, T.rules).flatMap(
      (g) => get(g, "rules") as Record<string, unknown>[],
    );
    for (const rule of rules)
      assert.deepEqual(rule.actions, [{ actionGroupId: idOf(group) }], String(rule.alert));
    const p99 = rules.find((r) => r.alert === "ScoringP99LatencyHigh");
    assert.match(String(p99?.expression), /> 0\.25$/);
  });

  it("managedGrafana creates a Standard workspace reading the Azure Monitor workspace, with the grants it needs", async () => {
    const grafana = findOne(withOptions.resources, T.grafana);
    const amw = idOf(findOne(withOptions.resources, T.amw));
    assert.equal(get(grafana, "sku.name"), "Standard");
    assert.deepEqual(get(grafana, "properties.grafanaIntegrations.azureMonitorWorkspaceIntegrations"), [
      { azureMonitorWorkspaceResourceId: amw },
    ]);
    const roles = findAll(withOptions.resources, T.role);
    const reader = roles.find((r) => r.name === "monitoring-grafana-reads-prometheus");
    assert.equal(get(reader as Recorded, "scope"), amw);
    assert.equal(get(reader as Recorded, "principalId"), MOCK_GRAFANA_PRINCIPAL_ID);
    assert.match(
      String(get(reader as Recorded, "roleDefinitionId")),
      new RegExp(`${GRAFANA_ROLES.monitoringDataReader}$`),
    );
    const admin = roles.find((r) => r.name === "monitoring-grafana-admin");
    assert.equal(get(admin as Recorded, "scope"), idOf(grafana));
    assert.equal(get(admin as Recorded, "principalId"), MOCK.deployerObjectId);
    assert.match(
      String(get(admin as Recorded, "roleDefinitionId")),
      new RegExp(`${GRAFANA_ROLES.grafanaAdmin}$`),
    );
    assert.match(
      String(await outputValue(withOptions.outputs.grafanaEndpoint)),
      /^https:\/\/monitoring-grafana\w*\.grafana\.azure\.com$/,
    );
    assert.match(withOptions.infos[2], /Managed Grafana \(Standard\): \$50\.37 a month/);
  });
});

describe("config", () => {
  const parse = (extra: Record<string, string>) =>
    parseStackSettings({ ...devStackConfig(), ...extra }, { fileExists: () => true });

  it("defaults: no e-mail, a 0.5 s p99 bound, no Grafana", () => {
    assert.deepEqual(parse({}).monitoring, {
      alertEmail: undefined,
      p99LatencySeconds: 0.5,
      managedGrafana: false,
    });
  });

  it("refuses a malformed e-mail, an impossible bound and a non-boolean flag, naming each key", () => {
    try {
      parse({
        alertEmail: "oncall@example.com,boss@example.com",
        alertP99LatencySeconds: "0",
        managedGrafana: "yes",
      });
      assert.fail("expected a ConfigError");
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      const text = error.problems.join("\n");
      assert.match(text, /alertEmail = "oncall@example.com,boss@example.com": is not one e-mail address/);
      assert.match(text, /alertP99LatencySeconds = 0: must be between 0.001 and 60/);
      assert.match(text, /managedGrafana = "yes": must be true or false/);
    }
  });
});

describe("who reaches the metrics ports (the real program's NetworkPolicies, Kubernetes semantics)", () => {
  const policies = (): Recorded[] => findAll(run.resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy");
  const scoringPod = (): Record<string, string> =>
    get(findOne(run.resources, T.deployment), "spec.template.metadata.labels") as Record<string, string>;
  const scoringNamespace = (): string =>
    String(get(findOne(run.resources, T.deployment), "metadata.namespace"));
  const scoringMetrics = (): Destination => ({
    namespace: scoringNamespace(),
    labels: scoringPod(),
    port: METRICS_PORT,
    portName: METRICS_PORT_NAME,
  });
  const dcgmMetrics: Destination = {
    namespace: MONITORING_NAMESPACE,
    labels: { [DCGM_APP_LABEL.key]: DCGM_APP_LABEL.value },
    port: DCGM_METRICS_PORT,
    portName: "metrics",
  };
  // Azure Monitor managed Prometheus: the labels AKS puts on its collector pods (README, "ama-metrics
  // selector check", says how to confirm them on a live cluster).
  const scrapers: Record<string, Source> = {
    "ama-metrics (ReplicaSet, kube-system)": { namespace: "kube-system", labels: { rsName: "ama-metrics" } },
    "ama-metrics-node (DaemonSet, kube-system)": {
      namespace: "kube-system",
      labels: { dsName: "ama-metrics-node" },
    },
  };
  const others: Record<string, Source> = {
    "the entry point's Envoy proxy": { namespace: ENTRY_NAMESPACE, labels: { ...ENVOY_PROXY_POD_LABELS } },
    "CoreDNS in kube-system": { namespace: "kube-system", labels: { "k8s-app": "kube-dns" } },
    "any other kube-system pod": { namespace: "kube-system", labels: { component: "konnectivity-agent" } },
    "a pod labelled like ama-metrics in another namespace": {
      namespace: "default",
      labels: { rsName: "ama-metrics" },
    },
    "cert-manager": {
      namespace: CERT_MANAGER_NAMESPACE,
      labels: { "app.kubernetes.io/name": "cert-manager" },
    },
    "another scoring pod": { namespace: "scoring", labels: { "app.kubernetes.io/name": "scoring" } },
    "an address on the internet": { ip: "20.1.2.3" },
    "an address in the VNet": { ip: "10.224.0.4" },
  };

  it("the scoring pods' metrics port admits ama-metrics and the monitoring namespace", () => {
    for (const [who, source] of Object.entries(scrapers))
      assert.ok(admits(policies(), source, scoringMetrics()), who);
    const monitoringPod: Source = { namespace: MONITORING_NAMESPACE, labels: { app: "prometheus" } };
    assert.ok(admits(policies(), monitoringPod, scoringMetrics()), "the monitoring namespace");
  });

  it("and nobody else on that port", () => {
    for (const [who, source] of Object.entries(others)) {
      assert.equal(admits(policies(), source, scoringMetrics()), false, who);
    }
    // The model is no wall that refuses everything: the proxies do reach the app port, the scraper does not.
    const app: Destination = { ...scoringMetrics(), port: APP_PORT, portName: APP_PORT_NAME };
    assert.ok(admits(policies(), others["the entry point's Envoy proxy"], app));
    for (const [who, source] of Object.entries(scrapers))
      assert.equal(admits(policies(), source, app), false, who);
  });

  it("no rule of the scoring namespace admits the metrics port from anyone but those peers", () => {
    // Beyond the sample above: every rule that could match the port names exactly the scraper peers.
    const allowed = new Set(
      [
        { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": MONITORING_NAMESPACE } } },
        {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
          podSelector: { matchExpressions: [{ key: "rsName", operator: "In", values: ["ama-metrics"] }] },
        },
        {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
          podSelector: {
            matchExpressions: [{ key: "dsName", operator: "In", values: ["ama-metrics-node"] }],
          },
        },
      ].map((peer) => JSON.stringify(peer)),
    );
    const rules = policies()
      .filter((p) => get(p, "metadata.namespace") === scoringNamespace())
      .flatMap((p) => (get(p, "spec.ingress") as Record<string, unknown>[] | undefined) ?? []);
    const reachingMetrics = rules.filter((rule) => {
      const ports = rule.ports as { port?: number | string }[] | undefined;
      return (
        ports === undefined ||
        ports.length === 0 ||
        ports.some((p) => p.port === undefined || p.port === METRICS_PORT || p.port === METRICS_PORT_NAME)
      );
    });
    assert.equal(reachingMetrics.length, 1);
    const from = reachingMetrics[0].from as unknown[];
    assert.ok(from.length > 0);
    for (const peer of from) assert.ok(allowed.has(JSON.stringify(peer)), JSON.stringify(peer));
  });

  it("the DCGM exporter's port admits ama-metrics only, not even the scoring pods or the monitoring namespace", () => {
    for (const [who, source] of Object.entries(scrapers))
      assert.ok(admits(policies(), source, dcgmMetrics), who);
    const fromScoring: Source = { namespace: scoringNamespace(), labels: scoringPod() };
    const fromMonitoring: Source = { namespace: MONITORING_NAMESPACE, labels: { app: "prometheus" } };
    for (const source of [fromScoring, fromMonitoring, ...Object.values(others)]) {
      assert.equal(admits(policies(), source, dcgmMetrics), false, JSON.stringify(source));
    }
  });
});
