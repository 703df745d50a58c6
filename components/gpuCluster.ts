/**
 * GpuCluster: the AKS cluster that replaces the seed's `AksCompute.provisioning_configuration(
 * vm_size="Standard_NC6")`: a small system pool for add-ons, a separate tainted GPU user pool, AcrPull
 * for the kubelet identity, the kubeconfig (secret) and an explicit Kubernetes provider built from it.
 * azure-native 3.28.0 pins Microsoft.ContainerService API 2025-09-01.
 *
 * Local accounts stay enabled (disableLocalAccounts: false), deliberately: the Azure ML extension
 * that attaches the cluster to the workspace does not support clusters with local accounts disabled,
 * and the kubeconfig output comes from listManagedClusterUserCredentials, which on a cluster without
 * Entra ID integration is that local cluster-user credential. Kubernetes RBAC is on either way.
 */
import * as authorization from "@pulumi/azure-native/authorization";
import * as containerservice from "@pulumi/azure-native/containerservice";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GPU_NODE_LABEL, GPU_TAINT_TEXT } from "./appContract";
import { attachClusterToWorkspace } from "./computeAttachment";
import type { MaintenanceSettings } from "./config";
import { SYSTEM_POOL_MAX_SURGE } from "./config/kubernetes";
import { azureNameSuffix } from "./naming";
import { builtInRoleId } from "./roles";

export interface GpuClusterArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: string;
  readonly namePrefix: string;
  readonly kubernetesVersion: string;
  readonly systemVmSize: string;
  readonly systemNodeCount: number;
  readonly gpuVmSize: string;
  readonly gpuNodeCount: number;
  /** Extra GPU nodes an upgrade may add (the preflight checked the quota for them); 0 drains one at a time. */
  readonly gpuMaxSurge: number;
  /** The weekly window for Kubernetes patch and node OS upgrades. */
  readonly maintenance: MaintenanceSettings;
  /** Tags on the cluster; the preflight finds this stack's own cluster (and its quota use) by them. */
  readonly tags: Readonly<Record<string, string>>;
  readonly subscriptionId: pulumi.Input<string>;
  /** The registry the kubelet pulls the scoring image from. */
  readonly registryId: pulumi.Input<string>;
  /** When given, the cluster is attached to this workspace as a compute target. */
  readonly workspace?: { readonly name: pulumi.Input<string>; readonly computeName: string };
}

export class GpuCluster extends pulumi.ComponentResource {
  readonly clusterName: pulumi.Output<string>;
  readonly clusterId: pulumi.Output<string>;
  /** The cluster's OIDC issuer URL, which federated identity credentials trust. */
  readonly oidcIssuerUrl: pulumi.Output<string>;
  readonly kubeconfig: pulumi.Output<string>;
  readonly provider: k8s.Provider;
  /** Labels of the GPU nodes, read back from the pool, so pods selecting them wait for the pool. */
  readonly gpuNodeSelector: pulumi.Output<Record<string, string>>;
  /** Resources that must exist before scoring pods can start (GPU nodes, the pull grant). */
  readonly readyForWorkloads: pulumi.Resource[];
  /** Name of the workspace compute target, when attached. */
  readonly computeName?: pulumi.Output<string>;

  constructor(name: string, args: GpuClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpu-inference-aks:cluster:GpuCluster", name, {}, opts);
    const parent = { parent: this };

    const cluster = new containerservice.ManagedCluster(
      `${name}-aks`,
      {
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        resourceName: pulumi.interpolate`${args.namePrefix}-aks-${azureNameSuffix(name, this)}`,
        tags: { ...args.tags },
        dnsPrefix: `${args.namePrefix}-aks`,
        kubernetesVersion: args.kubernetesVersion,
        enableRBAC: true,
        // Workload identity (issue 12): the OIDC issuer publishes the keys Entra ID checks service-account
        // tokens against, and the webhook hands labelled pods a projected token and their identity's client id.
        oidcIssuerProfile: { enabled: true },
        securityProfile: { workloadIdentity: { enabled: true } },
        disableLocalAccounts: false,
        identity: { type: containerservice.ResourceIdentityType.SystemAssigned },
        sku: { name: "Base", tier: "Free" },
        agentPoolProfiles: [
          {
            name: "system",
            mode: containerservice.AgentPoolMode.System,
            count: args.systemNodeCount,
            vmSize: args.systemVmSize,
            osType: containerservice.OSType.Linux,
            type: containerservice.AgentPoolType.VirtualMachineScaleSets,
            upgradeSettings: { maxSurge: String(SYSTEM_POOL_MAX_SURGE) },
          },
        ],
        networkProfile: {
          networkPlugin: containerservice.NetworkPlugin.Azure,
          networkPluginMode: containerservice.NetworkPluginMode.Overlay,
          loadBalancerSku: containerservice.LoadBalancerSku.Standard,
        },
        // Patch upgrades and node image upgrades happen on their own, but only in the maintenance
        // windows below (aksManagedAutoUpgradeSchedule / aksManagedNodeOSUpgradeSchedule).
        autoUpgradeProfile: {
          upgradeChannel: containerservice.UpgradeChannel.Patch,
          nodeOSUpgradeChannel: containerservice.NodeOSUpgradeChannel.NodeImage,
        },
      },
      parent,
    );

    const window = {
      schedule: { weekly: { dayOfWeek: args.maintenance.day, intervalWeeks: 1 } },
      startTime: args.maintenance.startTime,
      utcOffset: args.maintenance.utcOffset,
      durationHours: args.maintenance.durationHours,
    };
    for (const [suffix, configName] of [
      ["upgrade-window", "aksManagedAutoUpgradeSchedule"],
      ["node-os-window", "aksManagedNodeOSUpgradeSchedule"],
    ] as const) {
      new containerservice.MaintenanceConfiguration(
        `${name}-${suffix}`,
        {
          resourceGroupName: args.resourceGroupName,
          resourceName: cluster.name,
          configName,
          maintenanceWindow: window,
        },
        parent,
      );
    }

    const gpuPool = new containerservice.AgentPool(
      `${name}-gpu-pool`,
      {
        resourceGroupName: args.resourceGroupName,
        resourceName: cluster.name,
        agentPoolName: "gpu",
        mode: containerservice.AgentPoolMode.User,
        vmSize: args.gpuVmSize,
        count: args.gpuNodeCount,
        osType: containerservice.OSType.Linux,
        type: containerservice.AgentPoolType.VirtualMachineScaleSets,
        orchestratorVersion: args.kubernetesVersion,
        nodeTaints: [GPU_TAINT_TEXT],
        nodeLabels: { [GPU_NODE_LABEL.key]: GPU_NODE_LABEL.value },
        // AKS installs the NVIDIA driver; the device plugin (nvidiaDevicePlugin.ts) still has to run.
        gpuProfile: { driver: containerservice.GPUDriver.Install },
        // Upgrades surge only within the quota the preflight checked. With no surge, AKS drains one
        // node at a time (maxUnavailable 1) and the PodDisruptionBudget keeps the other pods serving.
        upgradeSettings:
          args.gpuMaxSurge > 0
            ? { maxSurge: String(args.gpuMaxSurge), maxUnavailable: "0" }
            : { maxSurge: "0", maxUnavailable: "1" },
      },
      parent,
    );

    const kubeletObjectId = cluster.identityProfile.apply((profile) => {
      const objectId = profile?.kubeletidentity?.objectId;
      if (!objectId)
        throw new Error("AKS returned no kubelet identity (identityProfile.kubeletidentity.objectId)");
      return objectId;
    });
    const acrPull = new authorization.RoleAssignment(
      `${name}-kubelet-acrpull`,
      {
        scope: args.registryId,
        principalId: kubeletObjectId,
        principalType: authorization.PrincipalType.ServicePrincipal,
        roleDefinitionId: builtInRoleId(args.subscriptionId, "AcrPull"),
      },
      parent,
    );

    const credentials = containerservice.listManagedClusterUserCredentialsOutput(
      { resourceGroupName: args.resourceGroupName, resourceName: cluster.name },
      parent,
    );
    this.kubeconfig = pulumi.secret(
      credentials.kubeconfigs.apply((configs) => {
        const encoded = configs?.[0]?.value;
        if (!encoded) throw new Error("AKS returned no user kubeconfig for the cluster");
        return Buffer.from(encoded, "base64").toString("utf8");
      }),
    );

    this.provider = new k8s.Provider(
      `${name}-k8s`,
      { kubeconfig: this.kubeconfig, deleteUnreachable: true },
      { parent: this },
    );

    // Only this attachment waits on the workspace; everything else on the cluster goes ahead without it.
    if (args.workspace) {
      const attachment = attachClusterToWorkspace(
        name,
        {
          resourceGroupName: args.resourceGroupName,
          location: args.location,
          clusterName: cluster.name,
          clusterId: cluster.id,
          workspaceName: args.workspace.name,
          computeName: args.workspace.computeName,
        },
        this,
      );
      this.computeName = attachment.compute.name;
    }

    this.clusterName = cluster.name;
    this.clusterId = cluster.id;
    this.oidcIssuerUrl = cluster.oidcIssuerProfile.apply((profile) => {
      const url = profile?.issuerURL;
      if (!url) throw new Error("AKS returned no OIDC issuer URL (oidcIssuerProfile.issuerURL)");
      return url;
    });
    this.gpuNodeSelector = gpuPool.nodeLabels.apply((labels) => ({ ...(labels ?? {}) }));
    this.readyForWorkloads = [gpuPool, acrPull];
    this.registerOutputs({ clusterName: this.clusterName, kubeconfig: this.kubeconfig });
  }
}
