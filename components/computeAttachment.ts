/**
 * Attaches the AKS cluster to the Azure ML workspace as a compute target, the seed's "aks-gpu".
 *
 * Choice: Azure ML v2 "Kubernetes" compute, not the v1 "AKS" compute type the seed created.
 * The v1 route (AksCompute, azureml-fe installed by the workspace) belongs to SDK v1, whose support
 * ended on 2026-06-30, and gets no new features; v2 is the supported way and works with the v2
 * CLI/SDK (online endpoints, jobs). Its price is the Azure ML cluster extension
 * (Microsoft.AzureML.Kubernetes), which must be installed on the cluster before the attach. The
 * scoring service of this program does not run through Azure ML: it is a plain Deployment, so the
 * attachment only makes the cluster visible to the workspace, and the extension is set up small
 * (inference router not highly available, cluster-internal and HTTPS, no training).
 */
import * as kubernetesconfiguration from "@pulumi/azure-native/kubernetesconfiguration";
import * as machinelearningservices from "@pulumi/azure-native/machinelearningservices";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { inferenceRouterTls } from "./inferenceRouterTls";

/** Namespace the Azure ML extension itself runs in (`az k8s-extension create` always uses it). */
export const AZUREML_NAMESPACE = "azureml";

/**
 * Namespace the compute target's Azure ML workloads run in: their own, not the extension's system
 * namespace (issue 21, finding 8), so a job or endpoint the workspace schedules never shares a namespace,
 * quotas or network policies with the extension's operators. Azure ML needs it to exist before the
 * attach ("how-to-attach-kubernetes-to-workspace": the namespace must already exist), so it is created here.
 */
export const AZUREML_WORKLOAD_NAMESPACE = "azureml-workloads";

/**
 * AKS counts toward "small scale" below three nodes: `az k8s-extension create` then adds clusterPurpose
 * DevTest and inferenceRouterHA false (AzureMLKubernetes.py, Create).
 */
const SMALL_SCALE_NODES = 3;

export interface ExtensionSettingsInput {
  readonly clusterId: string;
  readonly clusterName: string;
  readonly location: string;
  /** Nodes of every pool together, as the CLI sums agentPoolProfiles[].count. */
  readonly nodeCount: number;
}

/**
 * The configuration settings `az k8s-extension create --cluster-type managedClusters --extension-type
 * Microsoft.AzureML.Kubernetes` adds to the user's (Azure/azure-cli-extensions, src/k8s-extension/
 * azext_k8s_extension/partner_extensions/AzureMLKubernetes.py, AzureMLKubernetes.Create and _dereference,
 * read December 2026): cluster_name (the cluster's ARM id) dereferenced into clusterId and
 * prometheus.prometheusSpec.externalLabels.cluster_name; domain `<location>.cloudapp.azure.com`; location and
 * jobSchedulerLocation (the cluster's location, lower case); cluster_name_friendly; servicebus.enabled
 * "false"; for managedClusters relayserver.enabled "false" and nginxIngress.enabled "true"; on a cluster of
 * fewer than three nodes clusterPurpose "DevTest" and inferenceRouterHA "false". An ARM-direct install
 * without them is reported to fail the extension's pre-install health check
 * (hashicorp/terraform-provider-azurerm#24547), and Microsoft's own Terraform and ARM templates
 * (Azure/AML-Kubernetes) send the same keys. This program calls ARM itself, so it sends what the CLI sends.
 */
export function cliGeneratedSettings(input: ExtensionSettingsInput): Record<string, string> {
  const location = input.location.toLowerCase();
  return {
    cluster_name: input.clusterId,
    clusterId: input.clusterId,
    "prometheus.prometheusSpec.externalLabels.cluster_name": input.clusterId,
    domain: `${location}.cloudapp.azure.com`,
    location,
    jobSchedulerLocation: location,
    cluster_name_friendly: input.clusterName,
    "servicebus.enabled": "false",
    "relayserver.enabled": "false",
    "nginxIngress.enabled": "true",
    ...(input.nodeCount < SMALL_SCALE_NODES ? { clusterPurpose: "DevTest" } : {}),
  };
}

export interface ComputeAttachmentArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: string;
  readonly clusterName: pulumi.Input<string>;
  readonly clusterId: pulumi.Input<string>;
  /** Nodes of both pools together (the CLI's small-scale rule). */
  readonly nodeCount: number;
  readonly workspaceName: pulumi.Input<string>;
  readonly computeName: string;
  /** The AKS operation before the extension's (gpuCluster.ts CLUSTER_OPERATIONS): never run two at once. */
  readonly after: pulumi.Resource;
  /** The cluster's Kubernetes provider, for the workload namespace. */
  readonly provider: k8s.Provider;
}

export interface ComputeAttachment {
  readonly extension: kubernetesconfiguration.Extension;
  readonly namespace: k8s.core.v1.Namespace;
  readonly compute: machinelearningservices.Compute;
}

export function attachClusterToWorkspace(
  name: string,
  args: ComputeAttachmentArgs,
  parent: pulumi.Resource,
): ComputeAttachment {
  const routerTls = inferenceRouterTls(name, AZUREML_NAMESPACE, parent);
  const extension = new kubernetesconfiguration.Extension(
    `${name}-azureml-extension`,
    {
      resourceGroupName: args.resourceGroupName,
      clusterRp: "Microsoft.ContainerService",
      clusterResourceName: "managedClusters",
      clusterName: args.clusterName,
      extensionName: "azureml",
      extensionType: "Microsoft.AzureML.Kubernetes",
      releaseTrain: "stable",
      autoUpgradeMinorVersion: true,
      // No `identity`: that is the Arc-connected-cluster field. On AKS the extension gets an
      // AKS-assigned identity (properties.aksAssignedIdentity, "Identity of the Extension resource in an
      // AKS cluster" in the Microsoft.KubernetesConfiguration spec), and `az k8s-extension create` sends
      // none for managedClusters (Azure/azure-cli-extensions, src/k8s-extension/azext_k8s_extension/
      // custom.py, __create_identity: "We do not create any identities for managedClusters").
      scope: { cluster: { releaseNamespace: AZUREML_NAMESPACE } },
      configurationSettings: pulumi
        .all([args.clusterId, args.clusterName])
        .apply(([clusterId, clusterName]) => ({
          ...cliGeneratedSettings({
            clusterId,
            clusterName,
            location: args.location,
            nodeCount: args.nodeCount,
          }),
          enableTraining: "False",
          enableInference: "True",
          inferenceRouterServiceType: "ClusterIP",
          inferenceRouterHA: "False",
          // HTTPS on the router (inferenceRouterTls.ts says which keys the extension takes and why the
          // certificate is generated there): allowInsecureConnections "False" and sslCname.
          ...routerTls.settings,
        })),
      configurationProtectedSettings: routerTls.protectedSettings,
    },
    { parent, dependsOn: [args.after] },
  );

  const namespace = new k8s.core.v1.Namespace(
    `${name}-azureml-workloads`,
    { metadata: { name: AZUREML_WORKLOAD_NAMESPACE, labels: { "app.kubernetes.io/managed-by": "pulumi" } } },
    { parent, provider: args.provider },
  );

  const compute = new machinelearningservices.Compute(
    `${name}-workspace-compute`,
    {
      resourceGroupName: args.resourceGroupName,
      workspaceName: args.workspaceName,
      computeName: args.computeName,
      location: args.location,
      properties: {
        computeType: "Kubernetes",
        resourceId: args.clusterId,
        description: "AKS GPU cluster serving the scoring service",
        properties: { namespace: namespace.metadata.name },
      },
    },
    {
      parent,
      // The attach is refused until the extension runs on the cluster; no input carries that fact.
      dependsOn: [extension, namespace],
      // Compute_Delete requires an `underlyingResourceAction` query parameter (Delete or Detach: a
      // required argument in every generated SDK, e.g. Azure/azure-rest-api-specs-examples
      // .../Microsoft.MachineLearningServices/.../examples-java/Compute/delete.java), which azure-native's
      // generic delete does not send, so `pulumi destroy` could not delete it cleanly. It is a record in
      // the workspace, which destroy deletes anyway, taking its computes with it; the cluster itself
      // belongs to this stack and is deleted on its own.
      retainOnDelete: true,
    },
  );
  return { extension, namespace, compute };
}
