/**
 * Composition root: read and validate the stack config, wire the components, export the outputs.
 * No resource logic lives here. The program is a function (Pulumi runs an exported function and uses
 * what it returns as stack outputs) so tests can run it under mocks with different configs.
 *
 * Data flow, kept parallel on purpose (AKS and a CUDA image each take many minutes):
 *   resource group → { workspace + registry } ∥ { AKS → GPU pool }
 *     ∥ { scoring image + device plugin mirror, need only the registry }
 *   → device plugin + scoring service (cluster provider, image digests, keys) → outputs.
 * Only the workspace compute attachment waits on both the workspace and the cluster.
 */
import * as authorization from "@pulumi/azure-native/authorization";
import * as resources from "@pulumi/azure-native/resources";
import * as pulumi from "@pulumi/pulumi";
import { readStackSettings } from "./components/config";
import { GPU_TAINT, GpuCluster } from "./components/gpuCluster";
import { MlWorkspace } from "./components/mlWorkspace";
import {
  DEVICE_PLUGIN_MIRROR,
  DEVICE_PLUGIN_UPSTREAM,
  NvidiaDevicePlugin,
} from "./components/nvidiaDevicePlugin";
import { mirrorBuild, ProjectImage } from "./components/projectImage";
import { RegistryPush } from "./components/registryPush";
import { ScoringService } from "./components/scoringService";
import { estimateGpuCost } from "./cost/estimate";

export = async () => {
  // Throws a ConfigError listing every problem before any resource is declared.
  const settings = readStackSettings();
  for (const warning of settings.warnings) pulumi.log.warn(warning);
  // Every preview and up states what the GPU pool costs to keep (node-hours, and the price when known).
  pulumi.log.info(
    estimateGpuCost({
      gpuVmSize: settings.gpuPool.vmSize,
      gpuNodeCount: settings.gpuPool.nodeCount,
      location: settings.location,
    }).summary,
  );

  const deployer = authorization.getClientConfigOutput();
  const resourceGroup = new resources.ResourceGroup(`${settings.namePrefix}-rg`, {
    location: settings.location,
  });
  const resourceGroupName = resourceGroup.name;

  const workspace = new MlWorkspace("ml", {
    resourceGroupName,
    location: settings.location,
    namePrefix: settings.namePrefix,
    tenantId: deployer.tenantId,
    model: settings.model,
  });

  // One AcrPush grant and one registry login for every image this program pushes.
  const push = new RegistryPush("registry-push", {
    registryId: workspace.registryId,
    registryLoginServer: workspace.registryLoginServer,
    deployer,
    deployerAccessToken: authorization.getClientTokenOutput().token,
  });
  const image = new ProjectImage("scoring-image", {
    push,
    repository: "scoring",
    tag: pulumi.getStack(),
    build: { context: "app", dockerfile: "app/Dockerfile" },
  });
  const devicePluginImage = new ProjectImage("nvidia-device-plugin-image", {
    push,
    ...DEVICE_PLUGIN_MIRROR,
    build: mirrorBuild(DEVICE_PLUGIN_UPSTREAM),
  });

  const cluster = new GpuCluster("gpu", {
    resourceGroupName,
    location: settings.location,
    namePrefix: settings.namePrefix,
    kubernetesVersion: settings.kubernetesVersion,
    systemVmSize: settings.systemVmSize,
    systemNodeCount: settings.systemNodeCount,
    gpuVmSize: settings.gpuPool.vmSize,
    gpuNodeCount: settings.gpuPool.nodeCount,
    subscriptionId: deployer.subscriptionId,
    registryId: workspace.registryId,
    workspace: settings.attachToWorkspace
      ? { name: workspace.workspaceName, computeName: settings.computeName }
      : undefined,
  });

  const devicePlugin = new NvidiaDevicePlugin(
    "nvidia-device-plugin",
    { image: devicePluginImage.imageRef, gpuTaint: GPU_TAINT, gpuNodeSelector: cluster.gpuNodeSelector },
    { providers: [cluster.provider] },
  );

  const service = new ScoringService(
    "scoring",
    {
      namespace: settings.namespace,
      imageRef: image.imageRef,
      replicas: settings.replicas,
      gpusPerReplica: settings.replicaGpus,
      cpuPerReplica: settings.replicaCpu,
      memoryGiBPerReplica: settings.replicaMemoryGiB,
      poolGpus: settings.gpuPool.nodeCount * settings.gpuPool.gpusPerNode,
      gpuTaint: GPU_TAINT,
      gpuNodeSelector: cluster.gpuNodeSelector,
      primaryKeyVersion: settings.primaryKeyVersion,
      secondaryKeyVersion: settings.secondaryKeyVersion,
      preStopSeconds: settings.preStopSeconds,
      drainSeconds: settings.drainSeconds,
      startAfter: [...cluster.readyForWorkloads, devicePlugin.daemonSet],
    },
    { providers: [cluster.provider] },
  );

  return {
    resourceGroupName,
    workspaceName: workspace.workspaceName,
    clusterName: cluster.clusterName,
    computeTargetName: cluster.computeName,
    registryLoginServer: workspace.registryLoginServer,
    modelName: workspace.modelName,
    modelVersion: workspace.modelVersion,
    modelUri: workspace.modelUri,
    imageRef: image.imageRef,
    devicePluginImageRef: devicePluginImage.imageRef,
    namespace: service.namespaceName,
    scoringUri: service.scoringUri,
    swaggerUri: service.swaggerUri,
    v2InferenceBaseUri: service.v2BaseUri,
    primaryKey: service.primaryKey,
    secondaryKey: service.secondaryKey,
    kubeconfig: cluster.kubeconfig,
    gpuVmSize: settings.gpuPool.vmSize,
    gpuNodeCount: settings.gpuPool.nodeCount,
    replicas: settings.replicas,
  };
};
