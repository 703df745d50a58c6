/**
 * GpuCluster: the AKS cluster that replaces the seed's `AksCompute.provisioning_configuration(
 * vm_size="Standard_NC6")`: a small system pool for add-ons, a separate tainted GPU user pool, AcrPull
 * for the kubelet identity, and an explicit Kubernetes provider that signs in with Entra ID.
 * azure-native 3.28.0 pins Microsoft.ContainerService API 2025-09-01.
 *
 * Access (issue 11): AKS-managed Entra ID with Azure RBAC for Kubernetes authorization. Nobody gets a
 * static credential: the deployer (and the optional admin group) hold "Azure Kubernetes Service RBAC
 * Cluster Admin" on the cluster through role assignments, users sign in with `az aks get-credentials`
 * + kubelogin, and the stack exports no kubeconfig.
 *
 * Local accounts are disabled unless the cluster is attached to the Azure ML workspace: "Disabling local
 * accounts for AKS is not supported by Azure Machine Learning" (learn.microsoft.com/azure/machine-learning/
 * how-to-deploy-kubernetes-extension, Limitations, checked 2026-12-01). With attachToWorkspace (the
 * default) they stay on, and a holder of the Contributor-level action listClusterAdminCredential can still
 * fetch a certificate admin kubeconfig: the policy pack allows that only where an Azure ML extension
 * targets the cluster.
 *
 * Network: Azure CNI overlay with the Cilium dataplane, which is also the network policy engine
 * (networkPolicy: cilium); the pod, service and DNS ranges are stated so networkPolicy.ts can exclude
 * them. Switching an existing cluster to the Cilium dataplane is an in-place update that reimages nodes.
 */
import * as authorization from "@pulumi/azure-native/authorization";
import * as containerservice from "@pulumi/azure-native/containerservice";
import type * as azureInputs from "@pulumi/azure-native/types/input";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GPU_NODE_LABEL, GPU_TAINT_TEXT } from "./appContract";
import {
  ACCESS_WAIT_TIMEOUT_MS,
  clusterAccessEnvironment,
  PROGRAM_NEEDS,
  waitForClusterAccess,
} from "./clusterAccess";
import { attachClusterToWorkspace } from "./computeAttachment";
import type { ClusterAutoscale, MaintenanceSettings } from "./config";
import { SYSTEM_POOL_MAX_SURGE } from "./config/kubernetes";
import { azureNameSuffix } from "./naming";
import { CLUSTER_CIDRS } from "./networkPolicy";
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
  /**
   * When given (stack config autoscale), the GPU pool's cluster autoscaler keeps it between minCount and
   * maxCount and the KEDA add-on runs (autoscaling.ts); gpuNodeCount is then unused.
   */
  readonly autoscale?: ClusterAutoscale;
  /** The weekly window for Kubernetes patch and node OS upgrades. */
  readonly maintenance: MaintenanceSettings;
  /** Tags on the cluster; the preflight finds this stack's own cluster (and its quota use) by them. */
  readonly tags: Readonly<Record<string, string>>;
  readonly subscriptionId: pulumi.Input<string>;
  /** The registry the kubelet pulls the scoring image from. */
  readonly registryId: pulumi.Input<string>;
  /** When given, the cluster is attached to this workspace as a compute target. */
  readonly workspace?: { readonly name: pulumi.Input<string>; readonly computeName: string };
  /** The deploying identity's object id: it is granted cluster admin through Azure RBAC. */
  readonly deployerObjectId: pulumi.Input<string>;
  /** An Entra group that is granted cluster admin too; undefined for none. */
  readonly adminGroupObjectId?: string;
  /** CIDRs that may reach the API server; empty for AKS's default (any address, Entra ID sign-in still required). */
  readonly apiServerAuthorizedIpRanges: readonly string[];
  /**
   * Fetches an Entra access token of the deploying identity for the AKS server application
   * (AKS_SERVER_APP_ID); called once the cluster and its grants exist, only during `pulumi up`, to ask the API
   * server whether the grants have arrived (clusterAccess.ts). The provider itself signs in with kubelogin.
   */
  readonly deployerAksToken: () => pulumi.Output<string>;
  /** When given, the Container Insights agent (to this Log Analytics workspace) and the managed Prometheus collector run. */
  readonly monitoring?: { readonly logAnalyticsWorkspaceId: pulumi.Input<string> };
  /**
   * When given, the Key Vault secrets provider add-on (Secrets Store CSI driver) runs, and its identity may
   * read secrets of this one vault: the entry point syncs the user's certificate from it.
   */
  readonly keyVaultSecrets?: { readonly keyVaultId: string };
}

/**
 * The Key Vault secrets provider add-on's settings: rotation on, polled every two minutes (the add-on's
 * default interval), so a new certificate version reaches the synced Secret without a `pulumi up`. Key
 * names as the Azure CLI sends them (Azure/azure-cli, src/azure-cli/azure/cli/command_modules/acs/
 * _consts.py: CONST_AZURE_KEYVAULT_SECRETS_PROVIDER_ADDON_NAME "azureKeyvaultSecretsProvider",
 * CONST_SECRET_ROTATION_ENABLED "enableSecretRotation", CONST_ROTATION_POLL_INTERVAL "rotationPollInterval";
 * checked 2026-12-01).
 */
export const KEY_VAULT_SECRETS_ADDON = {
  name: "azureKeyvaultSecretsProvider",
  config: { enableSecretRotation: "true", rotationPollInterval: "2m" },
} as const;

/** The Entra application every AKS cluster's API server accepts tokens for (the "AKS AAD server"). */
export const AKS_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630";

/**
 * The kubelogin exec entry every runner uses: `--login azurecli` signs in as whoever `az login` made
 * current (a laptop); kubelogin reads AAD_LOGIN_METHOD after its flags and lets it override --login
 * (Azure/kubelogin, pkg/internal/token/options.go UpdateFromEnv, checked December 2026), so CI sets
 * AAD_LOGIN_METHOD=workloadidentity and, inside GitHub Actions, kubelogin asks GitHub for a fresh OIDC
 * token at every sign-in (pkg/internal/token/provider.go: workloadidentity with ACTIONS_ID_TOKEN_REQUEST_*
 * set uses GithubActionsCredential). The kubeconfig is therefore the same string on every runner.
 */
export const KUBELOGIN_EXEC = {
  apiVersion: "client.authentication.k8s.io/v1beta1",
  command: "kubelogin",
  args: ["get-token", "--login", "azurecli", "--server-id", AKS_SERVER_APP_ID],
  interactiveMode: "Never",
  installHint:
    "kubelogin signs the Kubernetes provider in with Entra ID: install it with `az aks install-cli` " +
    "(or https://azure.github.io/kubelogin/install.html) and sign in with `az login`; CI installs it itself.",
} as const;

/**
 * A kubeconfig for the Kubernetes provider (issue 21, findings 5 and 6): the cluster's server and CA from
 * AKS's cluster-user kubeconfig, and an exec entry that runs kubelogin whenever client-go needs a token.
 * No token is stored in the state, so a `pulumi refresh` or `destroy` hours later signs in afresh instead
 * of presenting an expired bearer token (which, with deleteUnreachable, would drop every Kubernetes
 * resource from the state), and a slow first `up` renews its token as it goes. It names no principal, so a
 * preview by another identity sees the same kubeconfig and plans no provider replacement.
 * The price: kubelogin must be on PATH wherever Pulumi runs (README prerequisites; deploy.yml installs it).
 */
export function execKubeconfig(userKubeconfig: string): string {
  const server = /^\s*server:\s*(\S+)\s*$/m.exec(userKubeconfig)?.[1];
  const ca = /^\s*certificate-authority-data:\s*(\S+)\s*$/m.exec(userKubeconfig)?.[1];
  if (server === undefined || ca === undefined)
    throw new Error("AKS returned a cluster-user kubeconfig without server or certificate-authority-data");
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "aks", cluster: { server, "certificate-authority-data": ca } }],
    users: [{ name: "deployer", user: { exec: { ...KUBELOGIN_EXEC, args: [...KUBELOGIN_EXEC.args] } } }],
    contexts: [{ name: "aks", context: { cluster: "aks", user: "deployer" } }],
    "current-context": "aks",
  });
}

/**
 * With autoscaling on: the KEDA add-on (autoscaling.ts says why KEDA) and the cluster autoscaler's
 * profile. The profile values are AKS's documented defaults, written out because the scale-up latency
 * and the cost of idle GPU nodes depend on them (learn.microsoft.com/azure/aks/cluster-autoscaler,
 * "Cluster autoscaler profile settings", checked December 2026): an unneeded node is removed after
 * 10 minutes, not sooner than 10 minutes after a scale-up, and a node that is not ready 15 minutes
 * after it was asked for counts as failed. Nodes with emptyDir volumes (the scoring pods' model and
 * /tmp) may be removed: the pods fetch their model again wherever they land.
 */
export function clusterAutoscalerSettings(): Pick<
  containerservice.ManagedClusterArgs,
  "workloadAutoScalerProfile" | "autoScalerProfile"
> {
  return {
    workloadAutoScalerProfile: { keda: { enabled: true } },
    autoScalerProfile: {
      scaleDownUnneededTime: "10m",
      scaleDownDelayAfterAdd: "10m",
      maxNodeProvisionTime: "15m",
      skipNodesWithLocalStorage: "false",
    },
  };
}

/** The server and CA a kubeconfig names (what the access wait connects to). */
export function kubeconfigEndpoint(kubeconfig: string): { server: string; caData: string } {
  const parsed = JSON.parse(kubeconfig) as { clusters: { cluster: Record<string, string> }[] };
  const cluster = parsed.clusters[0].cluster;
  return { server: cluster.server, caData: cluster["certificate-authority-data"] };
}

/**
 * AKS runs one operation per cluster at a time and answers a second PUT or DELETE on the cluster or its
 * children with 409 OperationNotAllowed, which azure-native does not retry (it retries 409 only for
 * AnotherOperationInProgress: pulumi/pulumi-azure-native provider/pkg/azure/client_azcore.go, checked
 * December 2026; the same failure in Azure/telescope#1213). These children of the cluster each start an
 * AKS operation; the program chains them in this order with dependsOn, so they are created one after the
 * other and, since Pulumi deletes dependents first, destroyed one after the other in reverse.
 */
export const CLUSTER_OPERATIONS = [
  "upgrade-window",
  "node-os-window",
  "gpu-pool",
  "azureml-extension",
] as const;

export class GpuCluster extends pulumi.ComponentResource {
  readonly clusterName: pulumi.Output<string>;
  readonly clusterId: pulumi.Output<string>;
  /** The cluster's OIDC issuer URL, which federated identity credentials trust. */
  readonly oidcIssuerUrl: pulumi.Output<string>;
  readonly provider: k8s.Provider;
  /** Labels of the GPU nodes, read back from the pool, so pods selecting them wait for the pool. */
  readonly gpuNodeSelector: pulumi.Output<Record<string, string>>;
  /** Resources that must exist before scoring pods can start (GPU nodes, the pull grant). */
  readonly readyForWorkloads: pulumi.Resource[];
  /** Name of the workspace compute target, when attached. */
  readonly computeName?: pulumi.Output<string>;
  /**
   * When the Key Vault secrets provider add-on runs (keyVaultSecrets): its identity's client id, and that
   * identity's Key Vault Secrets User grant, which a sync from the vault must wait for.
   */
  readonly keyVaultSecrets?: {
    readonly clientId: pulumi.Output<string>;
    readonly grant: authorization.RoleAssignment;
  };

  constructor(name: string, args: GpuClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpu-inference-aks:cluster:GpuCluster", name, {}, opts);
    const parent = { parent: this };

    const addons: Record<string, azureInputs.containerservice.ManagedClusterAddonProfileArgs> = {
      ...(args.monitoring === undefined
        ? {}
        : {
            omsagent: {
              enabled: true,
              config: {
                logAnalyticsWorkspaceResourceID: args.monitoring.logAnalyticsWorkspaceId,
                useAADAuth: "true",
              },
            },
          }),
      ...(args.keyVaultSecrets === undefined
        ? {}
        : {
            [KEY_VAULT_SECRETS_ADDON.name]: { enabled: true, config: { ...KEY_VAULT_SECRETS_ADDON.config } },
          }),
    };
    const addonProfiles = Object.keys(addons).length === 0 ? undefined : addons;

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
        // See the header: Azure ML's extension needs local accounts; without it they are off.
        disableLocalAccounts: args.workspace === undefined,
        aadProfile: { managed: true, enableAzureRBAC: true },
        ...(args.apiServerAuthorizedIpRanges.length > 0
          ? { apiServerAccessProfile: { authorizedIPRanges: [...args.apiServerAuthorizedIpRanges] } }
          : {}),
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
          networkDataplane: containerservice.NetworkDataplane.Cilium,
          networkPolicy: containerservice.NetworkPolicy.Cilium,
          podCidr: CLUSTER_CIDRS.pod,
          serviceCidr: CLUSTER_CIDRS.service,
          dnsServiceIP: CLUSTER_CIDRS.dnsServiceIp,
          loadBalancerSku: containerservice.LoadBalancerSku.Standard,
        },
        // Patch upgrades and node image upgrades happen on their own, but only in the maintenance
        // windows below (aksManagedAutoUpgradeSchedule / aksManagedNodeOSUpgradeSchedule).
        autoUpgradeProfile: {
          upgradeChannel: containerservice.UpgradeChannel.Patch,
          nodeOSUpgradeChannel: containerservice.NodeOSUpgradeChannel.NodeImage,
        },
        // Observability (monitoring.ts holds the data collection rules that say what these send): the
        // Container Insights agent with managed-identity auth, and the managed Prometheus collector.
        // The Key Vault secrets provider (when a certificate is brought) runs as an add-on beside them.
        ...(addonProfiles === undefined ? {} : { addonProfiles }),
        ...(args.monitoring === undefined ? {} : { azureMonitorProfile: { metrics: { enabled: true } } }),
        ...(args.autoscale === undefined ? {} : clusterAutoscalerSettings()),
      },
      parent,
    );

    const window = {
      schedule: { weekly: { dayOfWeek: args.maintenance.day, intervalWeeks: 1 } },
      startTime: args.maintenance.startTime,
      utcOffset: args.maintenance.utcOffset,
      durationHours: args.maintenance.durationHours,
    };
    // One AKS operation at a time (CLUSTER_OPERATIONS): each of these waits for the one before it.
    let previousOperation: pulumi.Resource = cluster;
    for (const [suffix, configName] of [
      ["upgrade-window", "aksManagedAutoUpgradeSchedule"],
      ["node-os-window", "aksManagedNodeOSUpgradeSchedule"],
    ] as const) {
      previousOperation = new containerservice.MaintenanceConfiguration(
        `${name}-${suffix}`,
        {
          resourceGroupName: args.resourceGroupName,
          resourceName: cluster.name,
          configName,
          maintenanceWindow: window,
        },
        { parent: this, dependsOn: [previousOperation] },
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
        ...(args.autoscale === undefined
          ? { count: args.gpuNodeCount }
          : {
              enableAutoScaling: true,
              minCount: args.autoscale.minCount,
              maxCount: args.autoscale.maxCount,
              count: args.autoscale.initialCount,
            }),
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
      // The cluster autoscaler owns the node count once it is on: a later `up` must not reset it.
      args.autoscale === undefined
        ? { parent: this, dependsOn: [previousOperation] }
        : { parent: this, dependsOn: [previousOperation], ignoreChanges: ["count"] },
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

    // Cluster admin through Azure RBAC, for the deployer (the Kubernetes provider below acts as it) and
    // the optional group; nothing is granted inside Kubernetes itself.
    const admins: [string, pulumi.Input<string>, authorization.PrincipalType][] = [
      ["deployer", args.deployerObjectId, authorization.PrincipalType.ServicePrincipal],
    ];
    if (args.adminGroupObjectId !== undefined)
      admins.push(["admin-group", args.adminGroupObjectId, authorization.PrincipalType.Group]);
    const adminGrants = admins.map(
      ([who, principalId, principalType]) =>
        new authorization.RoleAssignment(
          `${name}-${who}-cluster-admin`,
          {
            scope: cluster.id,
            principalId,
            // The deployer may be a user (local `pulumi up`) or a service principal (CI): leave the type
            // for ARM to find out, as RegistryPush does; the group is always a group.
            ...(who === "deployer" ? {} : { principalType }),
            roleDefinitionId: builtInRoleId(args.subscriptionId, "AksRbacClusterAdmin"),
          },
          parent,
        ),
    );

    // Only the server and CA are read from it; it holds no secret on an Entra ID cluster.
    const credentials = containerservice.listManagedClusterUserCredentialsOutput(
      { resourceGroupName: args.resourceGroupName, resourceName: cluster.name },
      parent,
    );
    const userKubeconfig = credentials.kubeconfigs.apply((configs) => {
      const encoded = configs?.[0]?.value;
      if (!encoded) throw new Error("AKS returned no user kubeconfig for the cluster");
      return Buffer.from(encoded, "base64").toString("utf8");
    });
    const kubeconfig = userKubeconfig.apply(execKubeconfig);
    // The provider gets its kubeconfig only once the API server grants the deployer what the program needs
    // (clusterAccess.ts), so no Kubernetes object is sent while the grant propagates. A preview does not wait
    // and does not depend on the grants: a grant being replaced must not make the kubeconfig unknown.
    const grantedKubeconfig = pulumi.runtime.isDryRun()
      ? kubeconfig
      : pulumi.all([kubeconfig, ...adminGrants.map((grant) => grant.id)]).apply(([config]) =>
          pulumi.all([args.deployerAksToken(), args.deployerObjectId]).apply(async ([token, principal]) => {
            const post = clusterAccessEnvironment.connect({ ...kubeconfigEndpoint(config), token });
            let told = false;
            const { waitedMs } = await waitForClusterAccess(post, PROGRAM_NEEDS, {
              principal,
              // One line when the wait begins and one when it ends, not one per attempt.
              onWait: (denied) => {
                if (told) return;
                told = true;
                void pulumi.log.info(
                  `waiting for the cluster-admin grant to reach the Kubernetes API (Azure documents up to five ` +
                    `minutes; this gives up after ${ACCESS_WAIT_TIMEOUT_MS / 60_000} minutes): ${denied[0]}`,
                  this,
                );
              },
            });
            if (waitedMs > 0)
              void pulumi.log.info(
                `the Kubernetes API grants the deployer access after ${Math.round(waitedMs / 1000)} s`,
                this,
              );
            return config;
          }),
        );

    this.provider = new k8s.Provider(
      `${name}-k8s`,
      {
        kubeconfig: grantedKubeconfig,
        // The provider is replaced only when this changes (pulumi-kubernetes Provider.clusterIdentifier): the
        // cluster's ARM id, the same for every runner, so a kubeconfig change never replaces the provider
        // and everything under it. No deleteUnreachable: a cluster that cannot be reached (kubelogin missing,
        // a closed authorized IP range) must fail a refresh, not silently empty the state.
        clusterIdentifier: cluster.id,
      },
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
          nodeCount: args.systemNodeCount + args.gpuNodeCount,
          workspaceName: args.workspace.name,
          computeName: args.workspace.computeName,
          // The extension is the last AKS operation in the chain (CLUSTER_OPERATIONS).
          after: gpuPool,
          provider: this.provider,
        },
        this,
      );
      this.computeName = attachment.compute.name;
    }

    if (args.keyVaultSecrets !== undefined) {
      // AKS creates the add-on's user-assigned identity (azurekeyvaultsecretsprovider-<cluster>) and reports it
      // under addonProfiles; the CSI driver uses it from the nodes. It may read secrets of the one vault only.
      const identity = cluster.addonProfiles.apply((profiles) => {
        const found = profiles?.[KEY_VAULT_SECRETS_ADDON.name]?.identity;
        if (!found?.clientId || !found.objectId)
          throw new Error(
            `AKS returned no identity for the ${KEY_VAULT_SECRETS_ADDON.name} add-on (addonProfiles.${KEY_VAULT_SECRETS_ADDON.name}.identity)`,
          );
        return { clientId: found.clientId, objectId: found.objectId };
      });
      const grant = new authorization.RoleAssignment(
        `${name}-key-vault-secrets-user`,
        {
          scope: args.keyVaultSecrets.keyVaultId,
          principalId: identity.objectId,
          principalType: authorization.PrincipalType.ServicePrincipal,
          // The role definition id in the vault's own subscription, which may differ from the cluster's.
          roleDefinitionId: builtInRoleId(
            args.keyVaultSecrets.keyVaultId.split("/")[2],
            "KeyVaultSecretsUser",
          ),
        },
        parent,
      );
      this.keyVaultSecrets = { clientId: identity.clientId, grant };
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
    this.registerOutputs({ clusterName: this.clusterName });
  }
}
