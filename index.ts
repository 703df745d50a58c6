/**
 * Composition root: read and validate the stack config, wire the components, export the outputs.
 * No resource logic lives here. The program is a function (Pulumi runs an exported function and uses
 * what it returns as stack outputs) so tests can run it under mocks with different configs.
 *
 * Data flow, kept parallel on purpose (AKS and a CUDA image each take many minutes):
 *   resource group → { workspace + registry } ∥ { AKS → GPU pool }
 *     ∥ { scoring image build, upstream image imports (server-side), need only the registry }
 *   → device plugin + entry point (Envoy Gateway, cert-manager) + scoring service → outputs.
 * Only the workspace compute attachment waits on both the workspace and the cluster. The entry point's
 * image mirrors, like the device plugin's, need only the registry.
 */
import * as authorization from "@pulumi/azure-native/authorization";
import * as resources from "@pulumi/azure-native/resources";
import * as pulumi from "@pulumi/pulumi";
import { ACR_AUDIENCE } from "./components/acrLogin";
import { SCORING_SERVICE_ACCOUNT } from "./components/appContract";
import { Autoscaling } from "./components/autoscaling";
import {
  clusterAutoscaleOf,
  entraIssuer,
  gpuPoolMaxNodes,
  gpuPoolMinNodes,
  readStackSettings,
  tokenAudiences,
} from "./components/config";
import { DCGM_EXPORTER_UPSTREAM } from "./components/dcgmExporter";
import { EntryPoint, type EntryPointCertificate } from "./components/entryPoint";
import { ENTRY_POINT_IMAGES, type EntryPointImageKey } from "./components/entryPointImages";
import { AKS_SERVER_APP_ID, GpuCluster } from "./components/gpuCluster";
import { MirroredImage } from "./components/mirroredImage";
import { MlWorkspace } from "./components/mlWorkspace";
import { ModelIdentity } from "./components/modelIdentity";
import { modelVersions, objectMetadata } from "./components/modelVersions";
import { Monitoring } from "./components/monitoring";
import { DEVICE_PLUGIN_UPSTREAM, NvidiaDevicePlugin } from "./components/nvidiaDevicePlugin";
import { armReader, preflightInputOf, runPreflight } from "./components/preflight";
import { ProjectImage } from "./components/projectImage";
import { RegistryPush } from "./components/registryPush";
import { ScoringService } from "./components/scoringService";
import { estimateAutoscaleCost } from "./cost/autoscaleEstimate";
import { estimateGpuCost } from "./cost/estimate";
import { estimateMonitoringCost } from "./cost/monitoringEstimate";
import { autoscaleCostInputOf, gpuCostInputOf, monitoringCostInputOf } from "./cost/stackConfig";

const SCORING_REPOSITORY = "scoring";

export = async () => {
  // Throws a ConfigError listing every problem before any resource is declared.
  const settings = readStackSettings();
  const userTags = settings.metadata.tags;
  const clusterTags = {
    ...userTags,
    "pulumi-project": pulumi.getProject(),
    "pulumi-stack": pulumi.getStack(),
  };

  // Then asks Azure, as the deployer, whether this stack can be created here (providers, sizes, quota,
  // Kubernetes version); throws a PreflightError listing every failure, still before any resource exists.
  const runner = await authorization.getClientConfig();
  // The identity the grants name: deployerObjectId when set, so a preview by another identity plans no
  // replacement of the grants or of the Kubernetes provider (issue 21, finding 5); else whoever runs.
  const deployer = { ...runner, objectId: settings.deployer.objectId ?? runner.objectId };
  const armToken = await authorization.getClientToken();
  pulumi.log.info(
    await runPreflight(
      preflightInputOf(settings, deployer.subscriptionId, clusterTags),
      armReader(armToken.token),
    ),
  );
  // Every preview and up states what the GPU pool costs to keep (node-hours, and the price when known).
  pulumi.log.info(estimateGpuCost(gpuCostInputOf(settings)).summary);
  // ... and what the monitoring adds (ingestion estimate, its assumptions stated in the line).
  pulumi.log.info(estimateMonitoringCost(monitoringCostInputOf(settings)).summary);
  // ... and, with autoscaling, the pool's cost at its minimum and maximum and what the scaler adds.
  const autoscaleCost = autoscaleCostInputOf(settings);
  if (autoscaleCost !== undefined) pulumi.log.info(estimateAutoscaleCost(autoscaleCost).summary);

  const resourceGroup = new resources.ResourceGroup(`${settings.region.namePrefix}-rg`, {
    location: settings.region.location,
    ...(Object.keys(userTags).length === 0 ? {} : { tags: { ...userTags } }),
  });
  const resourceGroupName = resourceGroup.name;

  const workspace = new MlWorkspace("ml", {
    resourceGroupName,
    location: settings.region.location,
    namePrefix: settings.region.namePrefix,
    tenantId: deployer.tenantId,
    model: settings.model,
    candidateModel: settings.versions.candidate,
    capture: settings.capture.enabled ? { retentionDays: settings.capture.retentionDays } : undefined,
    tags: userTags,
    description: settings.metadata.description,
  });

  // The AcrPush grant and registry login for the one image this program builds and pushes.
  const push = new RegistryPush("registry-push", {
    registryId: workspace.registryId,
    registryLoginServer: workspace.registryLoginServer,
    deployer,
    repositories: [SCORING_REPOSITORY],
    // A token of the registry's own audience: ACR's /oauth2/exchange accepts it even where policy
    // disables ARM-audience tokens for ACR (DESIGN.md, December 2026 facts).
    deployerRegistryToken: authorization.getClientTokenOutput({ endpoint: ACR_AUDIENCE }).token,
  });
  const image = new ProjectImage("scoring-image", {
    push,
    repository: SCORING_REPOSITORY,
    tag: pulumi.getStack(),
    build: { context: "app", dockerfile: "app/Dockerfile" },
  });
  // Upstream images, imported into the registry by ACR itself (mirroredImage.ts): no Docker, no bytes
  // through this machine.
  const registry = {
    registryName: workspace.registryName,
    resourceGroupName,
    registryLoginServer: workspace.registryLoginServer,
  };
  const devicePluginImage = new MirroredImage("nvidia-device-plugin-image", {
    ...registry,
    upstream: DEVICE_PLUGIN_UPSTREAM,
  });
  const dcgmExporterImage = new MirroredImage("dcgm-exporter-image", {
    ...registry,
    upstream: DCGM_EXPORTER_UPSTREAM,
  });
  // The entry point's images, mirrored the same way (entryPointImages.ts says why and where from).
  const entryImages = Object.fromEntries(
    Object.entries(ENTRY_POINT_IMAGES).map(([key, pinned]) => [
      key,
      new MirroredImage(`entry-image-${key}`, { ...registry, upstream: pinned.upstream }).imageRef,
    ]),
  ) as Record<EntryPointImageKey, pulumi.Output<string>>;

  const keyVaultCertificate = settings.access.keyVaultCertificate;
  const cluster = new GpuCluster("gpu", {
    resourceGroupName,
    location: settings.region.location,
    namePrefix: settings.region.namePrefix,
    kubernetesVersion: settings.kubernetes.version,
    systemVmSize: settings.kubernetes.systemVmSize,
    systemNodeCount: settings.kubernetes.systemNodeCount,
    gpuVmSize: settings.gpuPool.vmSize,
    gpuNodeCount: settings.gpuPool.nodeCount,
    gpuMaxSurge: settings.gpuPool.maxSurge,
    autoscale: clusterAutoscaleOf(settings.autoscale, settings.gpuPool, settings.replicas),
    maintenance: settings.maintenance,
    tags: clusterTags,
    subscriptionId: deployer.subscriptionId,
    registryId: workspace.registryId,
    workspace: settings.workspace.attach
      ? { name: workspace.workspaceName, computeName: settings.workspace.computeName }
      : undefined,
    deployerObjectId: deployer.objectId,
    adminGroupObjectId: settings.access.clusterAdminGroupObjectId,
    apiServerAuthorizedIpRanges: settings.access.apiServerAuthorizedIpRanges,
    deployerAksToken: () => authorization.getClientTokenOutput({ endpoint: AKS_SERVER_APP_ID }).token,
    monitoring: { logAnalyticsWorkspaceId: workspace.logAnalyticsWorkspaceId },
    keyVaultSecrets:
      keyVaultCertificate === undefined ? undefined : { keyVaultId: keyVaultCertificate.keyVaultId },
  });
  // The public listener's certificate: Let's Encrypt by default, or the user's own from Key Vault.
  const entryCertificate: EntryPointCertificate =
    keyVaultCertificate === undefined || cluster.keyVaultSecrets === undefined
      ? { source: "acme", email: settings.access.acmeEmail, staging: settings.access.acmeStaging }
      : {
          source: "keyVault",
          vaultName: keyVaultCertificate.vaultName,
          certificateName: keyVaultCertificate.certificateName,
          tenantId: deployer.tenantId,
          identityClientId: cluster.keyVaultSecrets.clientId,
          grant: cluster.keyVaultSecrets.grant,
        };

  // Who the scoring pods are when they fetch the registered model: trusted only for their service account.
  const modelIdentity = new ModelIdentity("model-identity", {
    resourceGroupName,
    location: settings.region.location,
    subscriptionId: deployer.subscriptionId,
    oidcIssuerUrl: cluster.oidcIssuerUrl,
    namespace: settings.service.namespace,
    serviceAccountName: SCORING_SERVICE_ACCOUNT,
    modelsContainerId: workspace.modelsContainerId,
    captureContainerId: workspace.captureContainer?.id,
    tags: userTags,
  });

  const devicePlugin = new NvidiaDevicePlugin(
    "nvidia-device-plugin",
    { image: devicePluginImage.imageRef, gpuNodeSelector: cluster.gpuNodeSelector },
    { providers: [cluster.provider] },
  );

  const entry = new EntryPoint(
    "entry",
    {
      location: settings.region.location,
      namePrefix: settings.region.namePrefix,
      dnsLabel: settings.access.dnsLabel,
      customDomain: settings.access.customDomain,
      allowedSourceRanges: settings.access.allowedSourceRanges,
      certificate: entryCertificate,
      images: entryImages,
      routeNamespace: settings.service.namespace,
      installAfter: cluster.readyForWorkloads,
    },
    { providers: [cluster.provider] },
  );

  // Each version slot's registered model, fetched by its own Deployment as the model identity.
  const slotModel = (version: { blobUrl: pulumi.Output<string>; sha256: string; sizeBytes: number }) => ({
    blobUrl: version.blobUrl,
    sha256: version.sha256,
    sizeBytes: version.sizeBytes,
    identityClientId: modelIdentity.clientId,
  });
  const candidate = settings.versions.candidate;
  const versions = modelVersions(
    {
      modelName: settings.model.name,
      modelVersion: settings.model.version,
      model: slotModel({
        blobUrl: workspace.modelBlobUrl,
        sha256: workspace.modelSha256,
        sizeBytes: workspace.modelSizeBytes,
      }),
      replicas: settings.replicas.count,
    },
    candidate === undefined || workspace.candidate === undefined
      ? undefined
      : {
          modelName: settings.model.name,
          modelVersion: candidate.version,
          model: slotModel(workspace.candidate),
          replicas: candidate.replicas,
          trafficPercent: candidate.trafficPercent,
          mirror: candidate.mirror,
        },
  );
  const tokenTenant = settings.auth.tenantId ?? deployer.tenantId;
  const auth =
    settings.auth.mode === "keys" || settings.auth.audience === undefined
      ? { mode: "keys" as const }
      : {
          mode: settings.auth.mode,
          tokens: { ...entraIssuer(tokenTenant), audiences: tokenAudiences(settings.auth.audience) },
        };

  const service = new ScoringService(
    "scoring",
    {
      namespace: settings.service.namespace,
      imageRef: image.imageRef,
      replicas: settings.autoscale.enabled ? settings.autoscale.maxReplicas : settings.replicas.count,
      autoscaled: settings.autoscale.enabled,
      serving: settings.serving,
      gpusPerReplica: settings.replicas.gpus,
      cpuPerReplica: settings.replicas.cpu,
      memoryGiBPerReplica: settings.replicas.memoryGiB,
      poolGpus: gpuPoolMaxNodes(settings.autoscale, settings.gpuPool) * settings.gpuPool.gpusPerNode,
      gpuNodeSelector: cluster.gpuNodeSelector,
      primaryKeyVersion: settings.keys.primaryVersion,
      secondaryKeyVersion: settings.keys.secondaryVersion,
      preStopSeconds: settings.service.preStopSeconds,
      drainSeconds: settings.service.drainSeconds,
      startAfter: [...cluster.readyForWorkloads, devicePlugin.daemonSet, ...modelIdentity.grants],
      model: {
        blobUrl: workspace.modelBlobUrl,
        sha256: workspace.modelSha256,
        sizeBytes: workspace.modelSizeBytes,
        identityClientId: modelIdentity.clientId,
      },
      telemetry: settings.telemetry.appInsightsTracing
        ? {
            connectionString: workspace.appInsightsConnectionString,
            sampleRatio: settings.telemetry.sampleRatio,
          }
        : undefined,
      versions,
      auth,
      capture:
        workspace.captureContainer === undefined
          ? undefined
          : {
              containerUrl: workspace.captureContainer.url,
              sampleRate: settings.capture.samplePercent / 100,
              maxSampleBytes: settings.capture.maxSampleBytes,
            },
      metadata: objectMetadata(settings.metadata),
      publicEntry: {
        hostname: entry.hostname,
        gateway: entry.gateway,
        ready: entry.ready,
        publicSwagger: settings.access.publicSwagger,
      },
    },
    { providers: [cluster.provider] },
  );

  const monitoring = new Monitoring(
    "monitoring",
    {
      resourceGroupName,
      location: settings.region.location,
      namePrefix: settings.region.namePrefix,
      subscriptionId: deployer.subscriptionId,
      logAnalyticsWorkspaceId: workspace.logAnalyticsWorkspaceId,
      clusterId: cluster.clusterId,
      clusterName: cluster.clusterName,
      gpuNodeSelector: cluster.gpuNodeSelector,
      dcgmExporterImage: dcgmExporterImage.imageRef,
      scoring: {
        namespace: settings.service.namespace,
        // With autoscaling, the alerts' floors are the autoscalers' minimums.
        replicas: settings.autoscale.enabled ? settings.autoscale.minReplicas : settings.replicas.count,
        gpuNodeCount: gpuPoolMinNodes(settings.autoscale, settings.gpuPool),
      },
      alerts: {
        p99LatencySeconds: settings.monitoring.p99LatencySeconds,
        email: settings.monitoring.alertEmail,
      },
      grafana: settings.monitoring.managedGrafana ? { adminObjectId: deployer.objectId } : undefined,
      deployerArmToken: armToken.token,
    },
    { providers: [cluster.provider] },
  );

  if (settings.autoscale.enabled) {
    new Autoscaling(
      "autoscaling",
      {
        resourceGroupName,
        location: settings.region.location,
        subscriptionId: deployer.subscriptionId,
        oidcIssuerUrl: cluster.oidcIssuerUrl,
        azureMonitorWorkspaceId: monitoring.azureMonitorWorkspaceId,
        prometheusQueryEndpoint: monitoring.prometheusQueryEndpoint,
        namespace: service.namespaceName,
        namespaceName: settings.service.namespace,
        deploymentName: service.deploymentName,
        policy: {
          minReplicas: settings.autoscale.minReplicas,
          maxReplicas: settings.autoscale.maxReplicas,
          refreshSeconds: settings.autoscale.refreshSeconds,
          maxConcurrentRequests: settings.serving.maxConcurrentRequests,
          targetUtilization: settings.autoscale.targetUtilization,
        },
        warm: {
          replicas: settings.autoscale.warmReplicas,
          image: image.imageRef,
          gpuNodeSelector: cluster.gpuNodeSelector,
          size: {
            gpus: settings.replicas.gpus,
            cpu: settings.replicas.cpu,
            memoryGiB: settings.replicas.memoryGiB,
            cpuLimit: settings.serving.cpuLimit,
            memoryLimitGiB: settings.serving.memoryLimitGiB,
          },
        },
      },
      { providers: [cluster.provider] },
    );
  }

  return {
    resourceGroupName,
    workspaceName: workspace.workspaceName,
    clusterName: cluster.clusterName,
    computeTargetName: cluster.computeName,
    registryLoginServer: workspace.registryLoginServer,
    modelName: workspace.modelName,
    modelVersion: workspace.modelVersion,
    modelUri: workspace.modelUri,
    modelBlobUrl: workspace.modelBlobUrl,
    modelSha256: workspace.modelSha256,
    modelSizeBytes: workspace.modelSizeBytes,
    modelIdentityClientId: modelIdentity.clientId,
    imageRef: image.imageRef,
    devicePluginImageRef: devicePluginImage.imageRef,
    dcgmExporterImageRef: dcgmExporterImage.imageRef,
    azureMonitorWorkspaceId: monitoring.azureMonitorWorkspaceId,
    prometheusQueryEndpoint: monitoring.prometheusQueryEndpoint,
    ...(monitoring.grafanaEndpoint === undefined ? {} : { grafanaEndpoint: monitoring.grafanaEndpoint }),
    namespace: service.namespaceName,
    scoringUri: service.scoringUri,
    // Off the public path by default (issue 11): then there is no public URI to give.
    ...(settings.access.publicSwagger ? { swaggerUri: service.swaggerUri } : {}),
    v2InferenceBaseUri: service.v2BaseUri,
    hostname: entry.hostname,
    azureHostname: entry.azureHostname,
    primaryKey: service.primaryKey,
    secondaryKey: service.secondaryKey,
    // No kubeconfig: sign in with `az aks get-credentials` + kubelogin (README "Security model").
    gpuVmSize: settings.gpuPool.vmSize,
    gpuNodeCount: settings.gpuPool.nodeCount,
    replicas: settings.replicas.count,
    ...(settings.autoscale.enabled
      ? {
          autoscaleReplicas: { min: settings.autoscale.minReplicas, max: settings.autoscale.maxReplicas },
          autoscaleGpuNodes: {
            min: settings.autoscale.gpuNodeMinCount,
            max: settings.autoscale.gpuNodeMaxCount,
          },
        }
      : {}),
    authMode: settings.auth.mode,
    ...(settings.auth.audience === undefined
      ? {}
      : { tokenAudience: settings.auth.audience, tokenTenantId: tokenTenant }),
    ...(candidate === undefined
      ? {}
      : {
          candidateModelVersion: candidate.version,
          trafficSplit: {
            current: versions.current.weight,
            candidate: candidate.trafficPercent,
            mirror: candidate.mirror,
          },
        }),
    ...(workspace.captureContainer === undefined
      ? {}
      : { modelDataContainerUrl: workspace.captureContainer.url }),
  };
};
