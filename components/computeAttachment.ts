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
import type * as pulumi from "@pulumi/pulumi";
import { inferenceRouterTls } from "./inferenceRouterTls";

/** Namespace the Azure ML extension and its workloads use. */
export const AZUREML_NAMESPACE = "azureml";

export interface ComputeAttachmentArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: string;
  readonly clusterName: pulumi.Input<string>;
  readonly clusterId: pulumi.Input<string>;
  readonly workspaceName: pulumi.Input<string>;
  readonly computeName: string;
}

export interface ComputeAttachment {
  readonly extension: kubernetesconfiguration.Extension;
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
      configurationSettings: {
        enableTraining: "False",
        enableInference: "True",
        inferenceRouterServiceType: "ClusterIP",
        inferenceRouterHA: "False",
        // HTTPS on the router (inferenceRouterTls.ts says which keys the extension takes and why the
        // certificate is generated there): allowInsecureConnections "False" and sslCname.
        ...routerTls.settings,
      },
      configurationProtectedSettings: routerTls.protectedSettings,
    },
    { parent },
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
        properties: { namespace: AZUREML_NAMESPACE },
      },
    },
    {
      parent,
      // The attach is refused until the extension runs on the cluster; no input carries that fact.
      dependsOn: [extension],
      // Compute_Delete requires an `underlyingResourceAction` query parameter (Delete or Detach: a
      // required argument in every generated SDK, e.g. Azure/azure-rest-api-specs-examples
      // .../Microsoft.MachineLearningServices/.../examples-java/Compute/delete.java), which azure-native's
      // generic delete does not send, so `pulumi destroy` could not delete it cleanly. It is a record in
      // the workspace, which destroy deletes anyway, taking its computes with it; the cluster itself
      // belongs to this stack and is deleted on its own.
      retainOnDelete: true,
    },
  );
  return { extension, compute };
}
