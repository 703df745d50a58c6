/**
 * Monitoring: what an on-call engineer needs to answer, from Azure alone, whether the endpoint is up, how
 * fast and how loaded it is, whether the GPUs are busy or failing, and why a replica restarted.
 *
 * - Managed Prometheus (Azure Monitor's current way, AKS docs "Enable monitoring for Kubernetes
 *   clusters"; the resources of Azure/prometheus-collector's AddonArmTemplate): an Azure Monitor workspace
 *   (Microsoft.Monitor/accounts), a data collection endpoint and rule forwarding Microsoft-PrometheusMetrics
 *   to it, and the rule's association with the cluster; the cluster's azureMonitorProfile.metrics turns the
 *   collector on (gpuCluster.ts). Custom scrape jobs (scrapeConfig.ts) add the scoring pods' metrics port
 *   and the DCGM exporter to the default targets (kubelet, cAdvisor, kube-state-metrics, node-exporter).
 * - Container Insights, logs and events only: a data collection rule with the ContainerInsights extension
 *   sending Microsoft-ContainerLogV2, Microsoft-KubeEvents and Microsoft-KubePodInventory (the "Logs and
 *   Events" cost preset of the Container insights docs) to the stack's Log Analytics workspace, and its
 *   association; the cluster's omsagent add-on with managed-identity auth runs the agent. Performance
 *   counters stay off: Prometheus already has them, and Log Analytics would bill them a second time.
 * - Control-plane diagnostic settings: kube-audit-admin (every write to the API server, without the
 *   get/list noise of kube-audit) and guard (Entra ID sign-ins to the cluster) to the same workspace, in
 *   resource-specific tables (AKSAuditAdmin, AKSControlPlane).
 * - Alerts: one PrometheusRuleGroup per group of monitoring/alerts.json, scoped to the Azure Monitor
 *   workspace and the cluster; with an e-mail configured, an action group notifies it.
 * - Optionally (off by default, it bills by the hour) an Azure Managed Grafana workspace reading the
 *   Azure Monitor workspace, into which monitoring/dashboard.json imports (docs/observability.md).
 *
 * azure-native 3.28.0 pins the APIs: Microsoft.Monitor accounts 2023-04-03, Insights data collection
 * 2022-06-01, diagnostic settings 2021-05-01-preview, action groups 2024-10-01-preview,
 * AlertsManagement prometheusRuleGroups 2023-03-01, Dashboard grafana 2024-10-01.
 */
import * as alertsmanagement from "@pulumi/azure-native/alertsmanagement";
import * as authorization from "@pulumi/azure-native/authorization";
import * as dashboard from "@pulumi/azure-native/dashboard";
import * as monitor from "@pulumi/azure-native/monitor";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { alertGroups } from "./alertRules";
import { GPU_TAINT, METRICS_PORT_NAME, MONITORING_NAMESPACE } from "./appContract";
import { DCGM_APP_LABEL, DCGM_METRICS_PORT, DcgmExporter } from "./dcgmExporter";
import { destinationTables, INSIGHTS_WAIT_TIMEOUT_MS, waitForInsightsDestination } from "./insightsReadiness";
import { azureNameSuffix } from "./naming";
import { networkPolicies, type PolicySpec } from "./networkPolicy";
import { armReader } from "./preflight/arm";
import { SCRAPE_CONFIGMAP, SCRAPE_JOBS, scrapeConfigText } from "./scrapeConfig";

/** The Container Insights streams collected: logs and events, no performance counters. */
export const CONTAINER_INSIGHTS_STREAMS = [
  "Microsoft-ContainerLogV2",
  "Microsoft-KubeEvents",
  "Microsoft-KubePodInventory",
] as const;

/** Control-plane log categories sent to Log Analytics. */
export const CONTROL_PLANE_LOG_CATEGORIES = ["kube-audit-admin", "guard"] as const;

/**
 * The monitoring namespace's network policies: ingress denied by default, and the DCGM exporter's port
 * open only to Azure Monitor's collector, the ama-metrics ReplicaSet and DaemonSet pods in kube-system
 * (the same peers components/networkPolicy.ts admits to the scoring pods' metrics port).
 */
export function monitoringNamespacePolicies(): PolicySpec[] {
  const kubeSystem = { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } };
  return [
    { name: "default-deny-ingress", spec: { podSelector: {}, policyTypes: ["Ingress"] } },
    {
      name: "allow-ama-metrics-to-dcgm-exporter",
      spec: {
        podSelector: { matchLabels: { [DCGM_APP_LABEL.key]: DCGM_APP_LABEL.value } },
        policyTypes: ["Ingress"],
        ingress: [
          {
            from: [
              {
                namespaceSelector: kubeSystem,
                podSelector: {
                  matchExpressions: [{ key: "rsName", operator: "In", values: ["ama-metrics"] }],
                },
              },
              {
                namespaceSelector: kubeSystem,
                podSelector: {
                  matchExpressions: [{ key: "dsName", operator: "In", values: ["ama-metrics-node"] }],
                },
              },
            ],
            ports: [{ protocol: "TCP", port: DCGM_METRICS_PORT }],
          },
        ],
      },
    },
  ];
}

/** Built-in roles the Grafana option grants (the same GUID in every tenant). */
export const GRAFANA_ROLES = {
  /** Lets Grafana's identity query the Azure Monitor workspace. */
  monitoringDataReader: "b0d8363b-8ddd-447d-831f-62ca05bff136",
  /** Lets the deployer import dashboards. */
  grafanaAdmin: "22926164-76b3-42b3-bc55-97df8dab3e41",
} as const;

export interface MonitoringArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: string;
  readonly namePrefix: string;
  readonly subscriptionId: pulumi.Input<string>;
  /** The stack's Log Analytics workspace (MlWorkspace): container logs, events and audit logs go there. */
  readonly logAnalyticsWorkspaceId: pulumi.Input<string>;
  readonly clusterId: pulumi.Input<string>;
  readonly clusterName: pulumi.Input<string>;
  /** Labels of the GPU nodes; the DCGM exporter runs there. */
  readonly gpuNodeSelector: pulumi.Input<Record<string, string>>;
  /** The DCGM exporter image by digest in the project's registry. */
  readonly dcgmExporterImage: pulumi.Input<string>;
  /** The scoring service's namespace and sizing, which the alerts compare against. */
  readonly scoring: {
    readonly namespace: string;
    readonly replicas: number;
    readonly gpuNodeCount: number;
  };
  readonly alerts: {
    readonly p99LatencySeconds: number;
    /** Notified by an action group when set. */
    readonly email?: string;
  };
  /** When given, an Azure Managed Grafana workspace; the deployer gets Grafana Admin on it. */
  readonly grafana?: { readonly adminObjectId: pulumi.Input<string> };
  /**
   * The deployer's ARM token (getClientToken): during `up`, the Container Insights rule waits until the
   * workspace and its tables answer as ready (insightsReadiness.ts).
   */
  readonly deployerArmToken: pulumi.Input<string>;
}

export class Monitoring extends pulumi.ComponentResource {
  readonly azureMonitorWorkspaceId: pulumi.Output<string>;
  readonly prometheusQueryEndpoint: pulumi.Output<string>;
  readonly ruleGroupNames: pulumi.Output<string>[];
  readonly grafanaEndpoint?: pulumi.Output<string>;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpu-inference-aks:monitoring:Monitoring", name, {}, opts);
    const parent = { parent: this };
    const common = { resourceGroupName: args.resourceGroupName, location: args.location };
    const suffix = azureNameSuffix(name, this);
    const azureName = (kind: string): pulumi.Output<string> =>
      pulumi.interpolate`${args.namePrefix}-${kind}-${suffix}`;

    // Managed Prometheus: workspace, endpoint, rule, association (as Azure's own onboarding template).
    const amw = new monitor.AzureMonitorWorkspace(
      `${name}-prometheus`,
      { ...common, azureMonitorWorkspaceName: azureName("amw") },
      parent,
    );
    const dce = new monitor.DataCollectionEndpoint(
      `${name}-prometheus-dce`,
      { ...common, dataCollectionEndpointName: azureName("prom-dce"), kind: "Linux" },
      parent,
    );
    const account = "MonitoringAccount1";
    const prometheusRule = new monitor.DataCollectionRule(
      `${name}-prometheus-dcr`,
      {
        ...common,
        dataCollectionRuleName: azureName("prom-dcr"),
        kind: "Linux",
        description: "Managed Prometheus metrics of the GPU scoring cluster",
        dataCollectionEndpointId: dce.id,
        dataSources: {
          prometheusForwarder: [
            {
              name: "PrometheusDataSource",
              streams: ["Microsoft-PrometheusMetrics"],
              labelIncludeFilter: {},
            },
          ],
        },
        destinations: { monitoringAccounts: [{ accountResourceId: amw.id, name: account }] },
        dataFlows: [{ streams: ["Microsoft-PrometheusMetrics"], destinations: [account] }],
      },
      parent,
    );
    new monitor.DataCollectionRuleAssociation(
      `${name}-prometheus-dcra`,
      {
        resourceUri: args.clusterId,
        associationName: "prometheus-metrics",
        dataCollectionRuleId: prometheusRule.id,
        description: "Sends the cluster's managed Prometheus metrics; deleting it stops metric collection.",
      },
      parent,
    );

    // Container Insights: logs and events to Log Analytics. On `up` the rule names the workspace only once
    // the workspace and the streams' tables answer as ready: Azure refuses a rule whose table a minutes-old
    // workspace does not have yet, and azure-native does not retry that (insightsReadiness.ts). A preview
    // neither waits nor reads.
    const logsDestination = "ciworkspace";
    const readyWorkspaceId = pulumi.runtime.isDryRun()
      ? pulumi.output(args.logAnalyticsWorkspaceId)
      : pulumi
          .all([args.logAnalyticsWorkspaceId, args.deployerArmToken])
          .apply(async ([workspaceId, token]) => {
            let told = false;
            const { waitedMs } = await waitForInsightsDestination(
              armReader(token),
              workspaceId,
              destinationTables(CONTAINER_INSIGHTS_STREAMS),
              {
                // One line when the wait begins and one when it ends, not one per attempt.
                onWait: (pending) => {
                  if (told) return;
                  told = true;
                  void pulumi.log.info(
                    `waiting for the new Log Analytics workspace's tables before creating the Container Insights ` +
                      `rule (this gives up after ${INSIGHTS_WAIT_TIMEOUT_MS / 60_000} minutes): ${pending.join("; ")}`,
                    this,
                  );
                },
              },
            );
            if (waitedMs > 0)
              void pulumi.log.info(
                `the Log Analytics workspace takes the Container Insights rule after ${Math.round(waitedMs / 1000)} s`,
                this,
              );
            return workspaceId;
          });
    const insightsRule = new monitor.DataCollectionRule(
      `${name}-insights-dcr`,
      {
        ...common,
        dataCollectionRuleName: azureName("ci-dcr"),
        kind: "Linux",
        description:
          "Container Insights: container logs (ContainerLogV2), Kubernetes events and pod inventory",
        dataSources: {
          extensions: [
            {
              name: "ContainerInsightsExtension",
              extensionName: "ContainerInsights",
              streams: [...CONTAINER_INSIGHTS_STREAMS],
              extensionSettings: {
                dataCollectionSettings: {
                  interval: "1m",
                  namespaceFilteringMode: "Off",
                  enableContainerLogV2: true,
                },
              },
            },
          ],
        },
        destinations: {
          logAnalytics: [{ workspaceResourceId: readyWorkspaceId, name: logsDestination }],
        },
        dataFlows: [{ streams: [...CONTAINER_INSIGHTS_STREAMS], destinations: [logsDestination] }],
      },
      parent,
    );
    new monitor.DataCollectionRuleAssociation(
      `${name}-insights-dcra`,
      {
        resourceUri: args.clusterId,
        associationName: "ContainerInsightsExtension",
        dataCollectionRuleId: insightsRule.id,
        description: "Sends the cluster's container logs and events; deleting it stops log collection.",
      },
      parent,
    );

    new monitor.DiagnosticSetting(
      `${name}-control-plane-logs`,
      {
        name: "control-plane-to-log-analytics",
        resourceUri: args.clusterId,
        workspaceId: args.logAnalyticsWorkspaceId,
        logAnalyticsDestinationType: "Dedicated",
        logs: CONTROL_PLANE_LOG_CATEGORIES.map((category) => ({ category, enabled: true })),
      },
      parent,
    );

    const actionGroup =
      args.alerts.email === undefined
        ? undefined
        : new monitor.ActionGroup(
            `${name}-alert-email`,
            {
              resourceGroupName: args.resourceGroupName,
              actionGroupName: azureName("alerts"),
              location: "global",
              groupShortName: args.namePrefix.slice(0, 12),
              enabled: true,
              emailReceivers: [
                { name: "on-call", emailAddress: args.alerts.email, useCommonAlertSchema: true },
              ],
            },
            parent,
          );

    const groups = alertGroups({
      namespace: args.scoring.namespace,
      monitoringNamespace: MONITORING_NAMESPACE,
      replicas: args.scoring.replicas,
      gpuNodeCount: args.scoring.gpuNodeCount,
      gpuTaintKey: GPU_TAINT.key,
      gpuTaintValue: GPU_TAINT.value,
      p99LatencySeconds: args.alerts.p99LatencySeconds,
      scoringJob: SCRAPE_JOBS.scoring,
      dcgmJob: SCRAPE_JOBS.dcgm,
    });
    this.ruleGroupNames = groups.map(
      (group) =>
        new alertsmanagement.PrometheusRuleGroup(
          `${name}-rules-${group.name}`,
          {
            ...common,
            ruleGroupName: azureName(group.name),
            description: group.description,
            scopes: [amw.id, args.clusterId],
            clusterName: args.clusterName,
            interval: group.interval,
            enabled: true,
            rules: group.rules.map((rule) => ({
              alert: rule.alert,
              expression: rule.expression,
              for: rule.for,
              severity: rule.severity,
              enabled: true,
              annotations: { summary: rule.summary },
              resolveConfiguration: { autoResolved: true, timeToResolve: "PT10M" },
              actions: actionGroup === undefined ? undefined : [{ actionGroupId: actionGroup.id }],
            })),
          },
          parent,
        ).name,
    );

    if (args.grafana !== undefined) {
      const grafana = new dashboard.Grafana(
        `${name}-grafana`,
        {
          ...common,
          workspaceName: azureName("graf"),
          sku: { name: "Standard" },
          identity: { type: "SystemAssigned" },
          properties: {
            grafanaIntegrations: {
              azureMonitorWorkspaceIntegrations: [{ azureMonitorWorkspaceResourceId: amw.id }],
            },
            apiKey: "Disabled",
            zoneRedundancy: "Disabled",
            publicNetworkAccess: "Enabled",
          },
        },
        parent,
      );
      const roleId = (guid: string): pulumi.Output<string> =>
        pulumi.interpolate`/subscriptions/${args.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
      new authorization.RoleAssignment(
        `${name}-grafana-reads-prometheus`,
        {
          scope: amw.id,
          principalId: grafana.identity.apply((identity) => {
            if (!identity?.principalId)
              throw new Error("Azure returned no identity for the Grafana workspace");
            return identity.principalId;
          }),
          principalType: authorization.PrincipalType.ServicePrincipal,
          roleDefinitionId: roleId(GRAFANA_ROLES.monitoringDataReader),
        },
        parent,
      );
      new authorization.RoleAssignment(
        `${name}-grafana-admin`,
        {
          scope: grafana.id,
          principalId: args.grafana.adminObjectId,
          roleDefinitionId: roleId(GRAFANA_ROLES.grafanaAdmin),
        },
        parent,
      );
      this.grafanaEndpoint = grafana.properties.endpoint;
    }

    // In the cluster: the monitoring namespace, the custom scrape jobs, the DCGM exporter.
    const namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      // The exporter meets the "restricted" Pod Security Standard, so the namespace enforces it.
      {
        metadata: {
          name: MONITORING_NAMESPACE,
          labels: { "pod-security.kubernetes.io/enforce": "restricted" },
        },
      },
      parent,
    );
    new k8s.core.v1.ConfigMap(
      `${name}-scrape-config`,
      {
        metadata: { name: SCRAPE_CONFIGMAP.name, namespace: SCRAPE_CONFIGMAP.namespace },
        data: {
          [SCRAPE_CONFIGMAP.key]: scrapeConfigText({
            scoring: { namespace: args.scoring.namespace, portName: METRICS_PORT_NAME },
            dcgmNamespace: MONITORING_NAMESPACE,
          }),
        },
      },
      parent,
    );
    networkPolicies(`${name}-netpol`, namespace.metadata.name, monitoringNamespacePolicies(), parent);
    new DcgmExporter(
      `${name}-dcgm-exporter`,
      {
        namespace: namespace.metadata.name,
        image: args.dcgmExporterImage,
        gpuNodeSelector: args.gpuNodeSelector,
      },
      parent,
    );

    this.azureMonitorWorkspaceId = amw.id;
    // Unknown until Azure creates the workspace (and absent under test mocks, which echo inputs).
    this.prometheusQueryEndpoint = amw.metrics.apply((metrics) => metrics?.prometheusQueryEndpoint ?? "");
    this.registerOutputs({
      azureMonitorWorkspaceId: this.azureMonitorWorkspaceId,
      prometheusQueryEndpoint: this.prometheusQueryEndpoint,
    });
  }
}
