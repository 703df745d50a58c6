/**
 * MlWorkspace: the Azure ML workspace the seed connected to with `Workspace.from_config()`, with the
 * four resources it needs (storage, key vault, Application Insights on Log Analytics, container
 * registry) and the model registered in it, like the seed's `Model(ws, "tf-dnn-mnist")`.
 *
 * azure-native 3.28.0 pins the API versions: Microsoft.MachineLearningServices 2025-12-01,
 * Storage 2024-01-01, KeyVault 2024-11-01, ContainerRegistry 2023-01-01-preview,
 * OperationalInsights 2023-09-01, Insights 2020-02-02.
 */
import * as applicationinsights from "@pulumi/azure-native/applicationinsights";
import * as containerregistry from "@pulumi/azure-native/containerregistry";
import * as keyvault from "@pulumi/azure-native/keyvault";
import * as machinelearningservices from "@pulumi/azure-native/machinelearningservices";
import * as operationalinsights from "@pulumi/azure-native/operationalinsights";
import * as storage from "@pulumi/azure-native/storage";
import * as pulumi from "@pulumi/pulumi";
import { modelFileDigest } from "./modelFile";
import { azureNameSuffix } from "./naming";

/** The container model data collection writes to (app/scoring/core/capture.py), and the lifecycle rule's prefix. */
export const CAPTURE_CONTAINER = "model-data";

/** One registered model version: its file in the models container and its registration. */
export interface RegisteredVersion {
  readonly version: pulumi.Output<string>;
  /** azureml://... datastore URI of its file. */
  readonly uri: pulumi.Output<string>;
  readonly blobUrl: pulumi.Output<string>;
  readonly sha256: string;
  readonly sizeBytes: number;
}

/**
 * The storage lifecycle policy that deletes captured samples `retentionDays` after they were written
 * (Azure Storage lifecycle management; one policy per account, named "default"; blob filters match a
 * `<container>/<prefix>` path; Microsoft.Storage ManagementPolicy, azure-native 3.28.0).
 */
export function captureRetentionPolicy(retentionDays: number): {
  rules: {
    name: string;
    enabled: boolean;
    type: "Lifecycle";
    definition: {
      filters: { blobTypes: string[]; prefixMatch: string[] };
      actions: { baseBlob: { delete: { daysAfterModificationGreaterThan: number } } };
    };
  }[];
} {
  return {
    rules: [
      {
        name: "model-data-retention",
        enabled: true,
        type: "Lifecycle",
        definition: {
          filters: { blobTypes: ["blockBlob"], prefixMatch: [`${CAPTURE_CONTAINER}/`] },
          actions: { baseBlob: { delete: { daysAfterModificationGreaterThan: retentionDays } } },
        },
      },
    ],
  };
}

export interface MlWorkspaceArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: string;
  /** Lowercase letters and digits; starts every resource's auto-generated name. */
  readonly namePrefix: string;
  /** Tenant of the deploying identity: the key vault trusts it. */
  readonly tenantId: pulumi.Input<string>;
  readonly model: { readonly name: string; readonly version: string; readonly file: string };
  /** A second version registered beside `model` (a traffic split's candidate). */
  readonly candidateModel?: { readonly version: string; readonly file: string };
  /** Model data collection on: the capture container and its retention rule. */
  readonly capture?: { readonly retentionDays: number };
  /** The config's tags: on every Azure resource here and on the registered model versions. */
  readonly tags?: Readonly<Record<string, string>>;
  /** The config's description: the workspace's description. */
  readonly description?: string;
}

export class MlWorkspace extends pulumi.ComponentResource {
  readonly workspaceName: pulumi.Output<string>;
  readonly workspaceId: pulumi.Output<string>;
  /** The Log Analytics workspace behind Application Insights; container logs and audit logs go there too. */
  readonly logAnalyticsWorkspaceId: pulumi.Output<string>;
  /**
   * Application Insights' connection string (instrumentation key and regional ingestion endpoint), marked
   * secret. Microsoft does not count the key a secret ("Connection strings in Application Insights", read
   * 2026-12), but without Entra ID-authenticated ingestion anyone holding it can write telemetry into this
   * workspace. Reaches only the scoring pods' Secret, when appInsightsTracing is on; never a stack output.
   */
  readonly appInsightsConnectionString: pulumi.Output<string>;
  readonly registryId: pulumi.Output<string>;
  readonly registryName: pulumi.Output<string>;
  readonly registryLoginServer: pulumi.Output<string>;
  readonly storageAccountName: pulumi.Output<string>;
  readonly keyVaultName: pulumi.Output<string>;
  readonly modelName: pulumi.Output<string>;
  readonly modelVersion: pulumi.Output<string>;
  /** Where the registered model version points: its file on the models datastore (azureml://...). */
  readonly modelUri: pulumi.Output<string>;
  /** The same file as an https blob URL, which the scoring pods download. */
  readonly modelBlobUrl: pulumi.Output<string>;
  /** sha256 (hex) and size of the model file, computed from the local file at preview and recorded on the version. */
  readonly modelSha256: string;
  readonly modelSizeBytes: number;
  /** Resource id of the models container: the scoring identity's read scope. */
  readonly modelsContainerId: pulumi.Output<string>;
  /** The candidate version's registration, when one is configured. */
  readonly candidate?: RegisteredVersion;
  /** The capture container (resource id: the write grant's scope; URL: where the pods write), when on. */
  readonly captureContainer?: { readonly id: pulumi.Output<string>; readonly url: pulumi.Output<string> };

  constructor(name: string, args: MlWorkspaceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpu-inference-aks:ml:MlWorkspace", name, {}, opts);
    const parent = { parent: this };
    const tags =
      args.tags === undefined || Object.keys(args.tags).length === 0 ? {} : { tags: { ...args.tags } };
    const common = { resourceGroupName: args.resourceGroupName, location: args.location, ...tags };
    // Logical names follow this component's name; Azure names start with the prefix (storage and
    // registry names allow only lowercase letters and digits) and end in one random suffix per stack.
    const suffix = azureNameSuffix(name, this);
    const azureName = (middle: string, separator = ""): pulumi.Output<string> =>
      pulumi.interpolate`${args.namePrefix}${separator}${middle}${separator}${suffix}`;

    const account = new storage.StorageAccount(
      `${name}-storage`,
      {
        ...common,
        accountName: azureName("st"),
        kind: storage.Kind.StorageV2,
        sku: { name: storage.SkuName.Standard_LRS },
        enableHttpsTrafficOnly: true,
        minimumTlsVersion: storage.MinimumTlsVersion.TLS1_2,
        allowBlobPublicAccess: false,
        // Shared keys stay on for this one account (re-examined for issue 11 on 2026-12-01), because two
        // things here still use the account key and neither has a sound keyless replacement yet:
        // - the workspace itself: an Azure ML workspace reaches its default storage (the workspaceblobstore
        //   and workspacefilestore system datastores) with the account key unless it is created with
        //   systemDatastoresAuthMode "identity" (Microsoft.MachineLearningServices 2025-12-01, in azure-native
        //   3.28.0), and Microsoft documents that keyless mode as a public preview "not recommended for
        //   production workloads" ("Disable shared key access for your workspace's storage account
        //   (preview)", learn.microsoft.com/azure/machine-learning/how-to-disable-local-auth-storage). With
        //   allowSharedKeyAccess false and the default mode, the workspace's own datastores stop working.
        // - the model upload: azure-native's storage.Blob (3.28.0) writes with the account key it lists
        //   through ARM and has no Entra ID mode (pulumi/pulumi-azure-native#2015 and #2948, open on
        //   2026-12-01). A dynamic provider doing Put Blob with the deployer's Entra token would replace it,
        //   but would buy nothing while the workspace keeps the key on; and its delete would run with the
        //   token stored at the last create (an hour's lifetime), so replacing a model version a day later
        //   could not delete the old file.
        // Readers never need the key (workload identity with a data role does). The policy pack allows shared
        // keys only on an Azure ML workspace's storage that the stack also uploads into with storage.Blob,
        // so no other account can quietly turn them on. When the keyless workspace mode is GA: set
        // systemDatastoresAuthMode "identity" on the workspace, replace storage.Blob, and turn this off.
        allowSharedKeyAccess: true,
      },
      parent,
    );

    const vault = new keyvault.Vault(
      `${name}-key-vault`,
      {
        ...common,
        vaultName: azureName("kv", "-"),
        properties: {
          tenantId: args.tenantId,
          sku: { family: keyvault.SkuFamily.A, name: keyvault.SkuName.Standard },
          // Access goes through Azure RBAC role assignments, not vault access policies.
          enableRbacAuthorization: true,
          enableSoftDelete: true,
          softDeleteRetentionInDays: 7,
          // Irreversible by design: a deleted vault stays recoverable for the retention period.
          enablePurgeProtection: true,
          // Closed to the internet except to trusted Microsoft services, the exception Azure ML's network
          // isolation guidance asks for on a firewalled workspace vault (not re-read from Microsoft's pages
          // here: the search found only other services' pages, 2026-12-01; README "Security model" says how
          // to check the workspace still reads it after `pulumi up`). Nothing in this program reads the
          // vault's data plane.
          networkAcls: {
            defaultAction: keyvault.NetworkRuleAction.Deny,
            bypass: keyvault.NetworkRuleBypassOptions.AzureServices,
          },
        },
      },
      parent,
    );

    const logs = new operationalinsights.Workspace(
      `${name}-logs`,
      {
        ...common,
        workspaceName: azureName("logs", "-"),
        sku: { name: operationalinsights.WorkspaceSkuNameEnum.PerGB2018 },
        retentionInDays: 30,
      },
      parent,
    );
    const insights = new applicationinsights.Component(
      `${name}-insights`,
      {
        ...common,
        resourceName: azureName("appi", "-"),
        kind: "web",
        applicationType: applicationinsights.ApplicationType.Web,
        ingestionMode: applicationinsights.IngestionMode.LogAnalytics,
        workspaceResourceId: logs.id,
      },
      // azure-native 3.28.0 returns both as plain outputs: stored encrypted in the stack's state instead,
      // since either lets anyone write telemetry into this workspace.
      { ...parent, additionalSecretOutputs: ["connectionString", "instrumentationKey"] },
    );

    const registry = new containerregistry.Registry(
      `${name}-registry`,
      {
        ...common,
        registryName: azureName("acr"),
        sku: { name: containerregistry.SkuName.Standard },
        // Pushes use the deployer's Entra ID token and pulls the kubelet identity's AcrPull role.
        adminUserEnabled: false,
      },
      parent,
    );

    const workspace = new machinelearningservices.Workspace(
      `${name}-workspace`,
      {
        ...common,
        workspaceName: azureName("mlw", "-"),
        identity: { type: machinelearningservices.ManagedServiceIdentityType.SystemAssigned },
        sku: { name: "Basic", tier: "Basic" },
        friendlyName: `${args.namePrefix} GPU inference`,
        ...(args.description ? { description: args.description } : {}),
        storageAccount: account.id,
        keyVault: vault.id,
        applicationInsights: insights.id,
        containerRegistry: registry.id,
      },
      parent,
    );

    // The model file goes to a private container of the workspace's own storage account; the model
    // version registered below points at it (Azure ML accepts an https blob URI as a model path).
    const models = new storage.BlobContainer(
      `${name}-models`,
      {
        resourceGroupName: args.resourceGroupName,
        accountName: account.name,
        publicAccess: storage.PublicAccess.None,
      },
      parent,
    );
    // The models container as a workspace datastore, so the version can point at its file the way Azure ML
    // consumers resolve it: azureml://subscriptions/<sub>/resourcegroups/<rg>/workspaces/<ws>/datastores/
    // <name>/paths/<path>, the long form of azureml://datastores/<name>/paths/<path> (Azure ML "Work with
    // models", supported path formats, checked 2026-12-01). Identity-based (credentials None): the datastore
    // stores no key, and each reader needs a data role of its own.
    const datastore = new machinelearningservices.Datastore(
      `${name}-models-datastore`,
      {
        resourceGroupName: args.resourceGroupName,
        workspaceName: workspace.name,
        name: "models",
        properties: {
          datastoreType: "AzureBlob",
          accountName: account.name,
          containerName: models.name,
          endpoint: "core.windows.net",
          protocol: "https",
          credentials: { credentialsType: "None" },
          description: "Registered model files (issue 12): the scoring pods read them with workload identity",
        },
      },
      parent,
    );
    const container = new machinelearningservices.ModelContainer(
      `${name}-model`,
      {
        resourceGroupName: args.resourceGroupName,
        workspaceName: workspace.name,
        name: args.model.name,
        properties: { description: "MNIST digit classifier served by the GPU scoring service" },
      },
      parent,
    );
    // Each version's file and registration are named by version, so a promotion (the candidate's version
    // becoming modelVersion) keeps the very resources that registered it, and only the version no longer
    // configured is deleted. The current version also answers to its pre-issue-23 names (aliases), so an
    // existing stack's registration is adopted, not replaced.
    const register = (version: string, file: string, isCurrent: boolean): RegisteredVersion => {
      const aliases = (old: string) => (isCurrent ? { aliases: [{ name: old }] } : {});
      const fileName = file.split("/").pop() ?? file;
      const blob = new storage.Blob(
        `${name}-model-file-${version}`,
        {
          resourceGroupName: args.resourceGroupName,
          accountName: account.name,
          containerName: models.name,
          blobName: `${args.model.name}/${version}/${fileName}`,
          type: storage.BlobType.Block,
          source: new pulumi.asset.FileAsset(file),
        },
        { ...parent, ...aliases(`${name}-model-file`) },
      );
      const digest = modelFileDigest(file);
      const uri = pulumi
        .all([workspace.id, workspace.name, datastore.name, blob.name])
        .apply(([workspaceId, workspaceName, datastoreName, blobName]) => {
          const [, , subscription, , resourceGroup] = workspaceId.split("/");
          return `azureml://subscriptions/${subscription}/resourcegroups/${resourceGroup}/workspaces/${workspaceName}/datastores/${datastoreName}/paths/${blobName}`;
        });
      const registration = new machinelearningservices.ModelVersion(
        `${name}-model-version-${version}`,
        {
          resourceGroupName: args.resourceGroupName,
          workspaceName: workspace.name,
          name: container.name,
          version,
          properties: {
            modelType: "custom_model",
            modelUri: uri,
            // What the scoring pods verify the download against (and what `az ml model show` displays).
            properties: { sha256: digest.sha256, sizeBytes: String(digest.sizeBytes) },
            description: `${fileName}: the seed's 784-100-100-10 MLP weights`,
            ...tags,
          },
        },
        {
          ...parent,
          ...aliases(`${name}-model-version`),
          // A registered version stands for fixed bytes: a new file location or digest under the same version
          // replaces the registration (deleted first, since the new one takes the same name) instead of
          // editing a version's path in place, which Azure ML assets are not meant to allow.
          replaceOnChanges: ["properties.modelUri", "properties.properties"],
          deleteBeforeReplace: true,
        },
      );
      return {
        version: registration.name,
        uri,
        blobUrl: blob.url,
        sha256: digest.sha256,
        sizeBytes: digest.sizeBytes,
      };
    };
    const current = register(args.model.version, args.model.file, true);
    const candidate =
      args.candidateModel === undefined
        ? undefined
        : register(args.candidateModel.version, args.candidateModel.file, false);

    if (args.capture !== undefined) {
      const capture = new storage.BlobContainer(
        `${name}-model-data`,
        {
          resourceGroupName: args.resourceGroupName,
          accountName: account.name,
          containerName: CAPTURE_CONTAINER,
          publicAccess: storage.PublicAccess.None,
        },
        parent,
      );
      // Collection never keeps data without end: samples are deleted retentionDays after they were written.
      new storage.ManagementPolicy(
        `${name}-model-data-retention`,
        {
          resourceGroupName: args.resourceGroupName,
          accountName: account.name,
          managementPolicyName: "default",
          policy: captureRetentionPolicy(args.capture.retentionDays),
        },
        parent,
      );
      this.captureContainer = {
        id: capture.id,
        url: pulumi.interpolate`${account.primaryEndpoints.blob}${capture.name}`,
      };
    }
    this.candidate = candidate;

    this.workspaceName = workspace.name;
    this.workspaceId = workspace.id;
    this.logAnalyticsWorkspaceId = logs.id;
    // azure-native 3.28.0 returns connectionString as a plain output: mark it here, where it is born.
    this.appInsightsConnectionString = pulumi.secret(insights.connectionString);
    this.registryId = registry.id;
    this.registryName = registry.name;
    this.registryLoginServer = registry.loginServer;
    this.storageAccountName = account.name;
    this.keyVaultName = vault.name;
    this.modelName = container.name;
    this.modelVersion = current.version;
    this.modelUri = current.uri;
    this.modelBlobUrl = current.blobUrl;
    this.modelSha256 = current.sha256;
    this.modelSizeBytes = current.sizeBytes;
    this.modelsContainerId = models.id;
    this.registerOutputs({
      workspaceName: this.workspaceName,
      registryLoginServer: this.registryLoginServer,
      modelUri: this.modelUri,
    });
  }
}
