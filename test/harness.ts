/**
 * Runs the real program (index.ts) under Pulumi mocks and records every resource it registers with
 * the inputs Pulumi resolved for it. The mocks stand in only for Azure and Kubernetes: they echo
 * inputs back and add the few outputs the cloud would compute (login server, kubelet identity, image
 * digest, load balancer address). A fake `fetch` records every request and answers the preflight's
 * ARM reads with the recorded responses in test/fixtures/arm (or a test's substitutes) and ACR's
 * token endpoints with an exchanged token that grants push. Resource options, which mocks do not see,
 * are read off the engine request. A file may run the program more than once: each run sets fresh mocks.
 *
 * The mocks also model three behaviours Azure documents that break a first `pulumi up` (issue 21):
 * - a new "Azure Kubernetes Service RBAC Cluster Admin" grant reaches the API server only after a delay
 *   (up to five minutes: azure-aks-docs entra-id-authorization.md); until then every Kubernetes create and
 *   every SelfSubjectAccessReview of that principal is refused (403). Time is virtual: the program's access
 *   wait sleeps on the harness's clock, which jumps ahead instead of waiting.
 * - AKS runs one operation per cluster: a second create of the cluster's children (agent pool, maintenance
 *   configuration, cluster extension) while one is in flight fails with 409 OperationNotAllowed, which
 *   azure-native does not retry.
 * - the Azure ML extension without the settings `az k8s-extension create` adds fails its pre-install
 *   health check (hashicorp/terraform-provider-azurerm#24547).
 * - a new Log Analytics workspace reports provisioningState ProvisioningAccount for a moment and answers 404 for
 *   its tables for minutes; a data collection rule created before its streams' tables exist is refused with 400
 *   InvalidOutputTable (hashicorp/terraform-provider-azurerm#28709, #21897), which azure-native does not retry.
 *   This runs on its own virtual timeline (insightsNow): in a real `up` the two waits run side by side, and one
 *   shared counter would add their sleeps together.
 * A refused create rejects runProgram with the error Azure would give.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { RegisterResourceRequest } from "@pulumi/pulumi/proto/resource_pb";
import { type Clock, clusterAccessEnvironment, type KubePost } from "../components/clusterAccess";
import { insightsReadinessEnvironment } from "../components/insightsReadiness";
import { stackFileConfig } from "../cost/stackConfig";

export const PROJECT = "gpu-inference-aks";
export const ROOT = path.resolve(__dirname, "..");

export interface Recorded {
  readonly type: string;
  readonly name: string;
  // Pulumi hands mocks deserialized JSON-like inputs; tests read them with the helpers below.
  readonly inputs: Record<string, unknown>;
  readonly provider?: string;
  /** Resource options as the engine receives them (RegisterResourceRequest), which mocks do not pass on. */
  readonly options: RecordedOptions;
}

export interface RecordedOptions {
  readonly retainOnDelete: boolean;
  /** Output names the engine is told to store as secrets (additionalSecretOutputs). */
  readonly additionalSecretOutputs?: readonly string[];
  readonly customTimeouts?: { readonly create: string; readonly update: string; readonly delete: string };
  /** Input properties a later update leaves alone (ignoreChanges). */
  readonly ignoreChanges?: readonly string[];
  /** `<type>::<name>` of each resource this one depends on (dependsOn and data dependencies); see resourceKey. */
  readonly dependencies: readonly string[];
  /** Names the resource also answers to (aliases given by name). */
  readonly aliasNames?: readonly string[];
}

export interface FetchCall {
  readonly method: string;
  readonly url: string;
  readonly body: string;
  readonly authorization?: string;
}

/** The ARM reads the preflight makes, by what they ask for. */
export type ArmRoute = "providers" | "skus" | "usages" | "kubernetesVersions" | "managedClusters";

/** An ARM answer a test substitutes for the recorded healthy one. */
export interface ArmAnswer {
  readonly status: number;
  readonly body: unknown;
}

export function armRouteOf(url: string): ArmRoute | undefined {
  const { pathname } = new URL(url);
  if (/^\/subscriptions\/[^/]+\/providers$/.test(pathname)) return "providers";
  if (pathname.endsWith("/providers/Microsoft.Compute/skus")) return "skus";
  if (pathname.endsWith("/usages")) return "usages";
  if (pathname.endsWith("/kubernetesVersions")) return "kubernetesVersions";
  if (pathname.endsWith("/providers/Microsoft.ContainerService/managedClusters")) return "managedClusters";
  return undefined;
}

/**
 * A Log Analytics workspace or table read: `table` is set for .../tables/<table>. Matches the real ARM id and
 * the mocks' id of the workspace (`.../providers/azure-native:operationalinsights:Workspace/<name>`).
 */
export function logAnalyticsReadOf(url: string): { readonly table?: string } | undefined {
  const match =
    /\/(?:Microsoft\.OperationalInsights\/workspaces|azure-native:operationalinsights:Workspace)\/[^/]+(?:\/tables\/([^/]+))?$/i.exec(
      new URL(url).pathname,
    );
  return match === null ? undefined : { table: match[1] };
}

/** The recorded healthy answer (test/fixtures/arm/<route>.json), parsed fresh so tests may change it. */
export function recordedArm(route: ArmRoute): Record<string, unknown> {
  return JSON.parse(
    fs.readFileSync(path.join(__dirname, "fixtures", "arm", `${route}.json`), "utf8"),
  ) as Record<string, unknown>;
}

/** An ACR access token (JWT) whose `access` claim grants `actions` on `repository`. */
export function acrAccessToken(repository: string, actions: readonly string[]): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  return [
    part({ alg: "RS256", typ: "JWT" }),
    part({ iss: "Azure Container Registry", access: [{ type: "repository", name: repository, actions }] }),
    "signature",
  ].join(".");
}

export const MOCK = {
  tenantId: "tenant-0000",
  subscriptionId: "sub-0000",
  deployerObjectId: "deployer-oid",
  armToken: "arm-audience-token-of-deployer",
  acrAudienceToken: "acr-audience-token-of-deployer",
  acrRefreshToken: "acr-refresh-token-from-exchange",
  kubeletObjectId: "kubelet-oid",
  oidcIssuerUrl: "https://eastus.oic.prod-aks.azure.com/tenant-0000/cluster-0000/",
  modelIdentityClientId: "model-identity-client-id",
  modelIdentityPrincipalId: "model-identity-principal-id",
  lbAddress: "20.30.40.50",
  appInsightsConnectionString:
    "InstrumentationKey=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d;IngestionEndpoint=https://eastus-8.in.applicationinsights.azure.com/;LiveEndpoint=https://eastus.livediagnostics.monitor.azure.com/",
  keyVaultAddonClientId: "kv-addon-client-id",
  keyVaultAddonObjectId: "kv-addon-object-id",
  aksAudienceToken: "aks-server-audience-token-of-deployer",
  apiServer: "https://gpuinf-aks-x7k2q9.hcp.eastus.azmk8s.io:443",
  clusterCa: "LS0tLS1CRUdJTi1DQS0tLS0t",
  // What AKS returns for an Entra ID cluster: server, CA and a kubelogin exec entry, no secret.
  kubeconfig:
    "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: LS0tLS1CRUdJTi1DQS0tLS0t\n" +
    "    server: https://gpuinf-aks-x7k2q9.hcp.eastus.azmk8s.io:443\n  name: aks\nusers:\n- name: clusterUser\n" +
    "  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: kubelogin\n" +
    "      args: [get-token, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630]\n",
} as const;

/**
 * The digest the mocks report for an image pushed to `repository` (`<login server>/<path>`): distinct per
 * repository, so a test can tell which image a workload runs.
 */
export function mockDigest(repository: string): string {
  return `sha256:${createHash("sha256").update(repository).digest("hex")}`;
}

/** The dev stack's config (Pulumi.dev.yaml), keyed without the project prefix (the cost estimate's reader). */
export function devStackConfig(): Record<string, string> {
  const { raw } = stackFileConfig(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"), PROJECT);
  return { ...raw } as Record<string, string>;
}

/** The principal of a Managed Grafana workspace's system-assigned identity, as Azure would report it. */
export const MOCK_GRAFANA_PRINCIPAL_ID = "grafana-principal-oid";

/** "Azure Kubernetes Service RBAC Cluster Admin", the grant the Kubernetes API waits for. */
const AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b";
/** How long the model's grants take to reach the API server: most of what Azure documents (five minutes). */
export const MODEL_RBAC_PROPAGATION_MS = 4 * 60 * 1000;
/** How long a new workspace reports ProvisioningAccount before Succeeded (virtual ms). */
export const MODEL_WORKSPACE_PROVISIONING_MS = 30 * 1000;
/** How long a new workspace's tables answer 404 (virtual ms): "wait a few minutes" in the reports. */
export const MODEL_TABLES_DELAY_MS = 3 * 60 * 1000;
/** Resource types whose create is an AKS operation on the cluster named by their input. */
export const CLUSTER_OPERATION_TYPES: Readonly<Record<string, string>> = {
  "azure-native:containerservice:ManagedCluster": "resourceName",
  "azure-native:containerservice:AgentPool": "resourceName",
  "azure-native:containerservice:MaintenanceConfiguration": "resourceName",
  "azure-native:kubernetesconfiguration:Extension": "clusterName",
};
/**
 * What the Azure ML extension needs beside the user's keys on a managed cluster (what `az k8s-extension
 * create` adds; Azure/AML-Kubernetes templates send the same): without them the pre-install health check
 * fails. Written out here, not imported from the program, so the model can catch a program that drops one.
 */
const AZUREML_EXTENSION_REQUIRED: Readonly<Record<string, string | undefined>> = {
  clusterId: undefined,
  cluster_name: undefined,
  location: undefined,
  jobSchedulerLocation: undefined,
  domain: undefined,
  cluster_name_friendly: undefined,
  "relayserver.enabled": "false",
  "servicebus.enabled": "false",
};

/** The Azure side the mocks model for one run: virtual time, grants, AKS operations in flight. */
class AzureModel {
  now = 0;
  private readonly grantedAt = new Map<string, number>();
  private readonly inFlight = new Map<string, string>();
  /** The Log Analytics timeline (virtual ms): advanced only by the program's wait for the workspace. */
  insightsNow = 0;
  private workspaceCreatedAt: number | undefined;
  constructor(
    private readonly runner: string,
    private readonly propagationMs: number,
    private readonly tablesDelayMs = MODEL_TABLES_DELAY_MS,
    private readonly missingTables: readonly string[] = [],
  ) {}

  readonly insightsClock: Clock = {
    now: () => this.insightsNow,
    sleep: async (ms) => {
      this.insightsNow += ms;
      await new Promise((resolve) => setImmediate(resolve));
    },
  };

  recordWorkspace(): void {
    this.workspaceCreatedAt = this.insightsNow;
  }

  private tableExists(table: string): boolean {
    return (
      this.workspaceCreatedAt !== undefined &&
      this.insightsNow >= this.workspaceCreatedAt + this.tablesDelayMs &&
      !this.missingTables.includes(table)
    );
  }

  /** ARM's answer to a read of the workspace or one of its tables. */
  logAnalyticsAnswer(read: { readonly table?: string }): { status: number; body: unknown } {
    if (this.workspaceCreatedAt === undefined)
      return { status: 404, body: { error: { code: "ResourceNotFound", message: "workspace not found" } } };
    if (read.table === undefined) {
      const provisioning = this.insightsNow < this.workspaceCreatedAt + MODEL_WORKSPACE_PROVISIONING_MS;
      return {
        status: 200,
        body: { properties: { provisioningState: provisioning ? "ProvisioningAccount" : "Succeeded" } },
      };
    }
    if (!this.tableExists(read.table))
      return {
        status: 404,
        body: { error: { code: "ResourceNotFound", message: `The table ${read.table} was not found.` } },
      };
    return { status: 200, body: { name: read.table, properties: { provisioningState: "Succeeded" } } };
  }

  /** Refuses a data collection rule whose streams' tables its Log Analytics destination lacks (400, not retried). */
  dataCollectionRuleCreate(name: string, inputs: Record<string, unknown>): void {
    const destinations = (inputs.destinations as { logAnalytics?: { name?: string }[] } | undefined)
      ?.logAnalytics;
    const logNames = new Set((destinations ?? []).map((destination) => destination.name));
    const flows = (inputs.dataFlows ?? []) as { streams?: string[]; destinations?: string[] }[];
    for (const flow of flows) {
      const destination = (flow.destinations ?? []).find((d) => logNames.has(d));
      if (destination === undefined) continue;
      for (const stream of flow.streams ?? []) {
        if (!this.tableExists(stream.replace(/^Microsoft-/, "")))
          throw new Error(
            `400 InvalidPayload creating data collection rule ${name}: Data collection rule is invalid: ` +
              `InvalidOutputTable: Table for output stream '${stream}' is not available for destination '${destination}'.`,
          );
      }
    }
  }

  readonly clock: Clock = {
    now: () => this.now,
    sleep: async (ms) => {
      this.now += ms;
      await new Promise((resolve) => setImmediate(resolve));
    },
  };

  /** Whether the API server already honours a cluster-admin grant of `principal`. */
  granted(principal: string): boolean {
    const at = this.grantedAt.get(principal);
    return at !== undefined && this.now >= at + this.propagationMs;
  }

  recordGrant(inputs: Record<string, unknown>): void {
    if (String(inputs.roleDefinitionId ?? "").endsWith(AKS_RBAC_CLUSTER_ADMIN))
      this.grantedAt.set(String(inputs.principalId), this.now);
  }

  /** Refuses a Kubernetes create the way AKS does while the runner's grant has not arrived. */
  kubernetesCreate(type: string, name: string): void {
    if (!this.granted(this.runner))
      throw new Error(
        `403 Forbidden creating ${type} ${name}: User "${this.runner}" cannot create the resource: User does not ` +
          `have access to the resource in Azure. Update role assignment to allow access.`,
      );
  }

  /** A SelfSubjectAccessReview endpoint that answers for the runner (the token's owner). */
  readonly kubePost: KubePost = async (_path, body) => {
    const attributes = (body as { spec: { resourceAttributes: Record<string, string> } }).spec
      .resourceAttributes;
    if (!this.granted(this.runner))
      return {
        status: 201,
        body: { status: { allowed: false, reason: `no RBAC policy matched ${attributes.verb}` } },
      };
    return { status: 201, body: { status: { allowed: true, reason: "Azure RBAC: cluster admin" } } };
  };

  /** Starts an AKS operation on `cluster`; 409 when another is in flight. Returns the function that ends it. */
  beginClusterOperation(cluster: string, who: string): () => void {
    const running = this.inFlight.get(cluster);
    if (running !== undefined)
      throw new Error(
        `409 OperationNotAllowed creating ${who}: Operation is not allowed because there's an in progress ` +
          `operation (${running}) on managed cluster ${cluster}.`,
      );
    this.inFlight.set(cluster, who);
    return () => this.inFlight.delete(cluster);
  }
}

export function checkAzureMlExtension(inputs: Record<string, unknown>): void {
  if (inputs.extensionType !== "Microsoft.AzureML.Kubernetes") return;
  const settings = (inputs.configurationSettings ?? {}) as Record<string, unknown>;
  const wrong = Object.entries(AZUREML_EXTENSION_REQUIRED).filter(([key, value]) =>
    value === undefined ? typeof settings[key] !== "string" || settings[key] === "" : settings[key] !== value,
  );
  if (wrong.length > 0)
    throw new Error(
      `ExtensionOperationFailed: release azureml failed, and has been uninstalled due to atomic being set: failed ` +
        `pre-install: pod healthcheck failed (settings missing or wrong: ${wrong.map(([key]) => key).join(", ")})`,
    );
}

function azureName(args: pulumi.runtime.MockResourceArgs): string {
  const inputs = args.inputs as Record<string, unknown>;
  // A child resource's own name field, if given; otherwise Pulumi-style auto-naming from the logical name.
  const own: Record<string, string> = {
    "azure-native:storage:StorageAccount": "accountName",
    "azure-native:keyvault:Vault": "vaultName",
    "azure-native:containerregistry:Registry": "registryName",
    "azure-native:machinelearningservices:Workspace": "workspaceName",
    "azure-native:machinelearningservices:Compute": "computeName",
    "azure-native:machinelearningservices:ModelContainer": "name",
    "azure-native:machinelearningservices:ModelVersion": "version",
    "azure-native:machinelearningservices:Datastore": "name",
    "azure-native:containerservice:ManagedCluster": "resourceName",
    "azure-native:containerservice:AgentPool": "agentPoolName",
    "azure-native:kubernetesconfiguration:Extension": "extensionName",
    "azure-native:storage:BlobContainer": "containerName",
    "azure-native:storage:Blob": "blobName",
  };
  const key = own[args.type];
  const value = key ? inputs[key] : undefined;
  return typeof value === "string" ? value : `${args.name}abc123`;
}

/** The PEM text the mocks report for a TLS provider resource named `name`. */
export function mockPem(label: "PRIVATE KEY" | "CERTIFICATE", name: string): string {
  return `-----BEGIN ${label}-----\n${Buffer.from(`mock ${name}`).toString("base64")}\n-----END ${label}-----\n`;
}

function newResourceState(args: pulumi.runtime.MockResourceArgs): {
  id: string;
  state: Record<string, unknown>;
} {
  const inputs = args.inputs as Record<string, unknown>;
  if (args.type.startsWith("azure-native:")) {
    const name = azureName(args);
    const id = `/subscriptions/${MOCK.subscriptionId}/resourceGroups/rg/providers/${args.type}/${name}`;
    const state: Record<string, unknown> = { ...inputs, name, id };
    if (args.type === "azure-native:containerregistry:Registry") state.loginServer = `${name}.azurecr.io`;
    if (args.type === "azure-native:storage:StorageAccount") {
      state.primaryEndpoints = { blob: `https://${name}.blob.core.windows.net/` };
    }
    if (args.type === "azure-native:containerservice:ManagedCluster") {
      state.identityProfile = { kubeletidentity: { objectId: MOCK.kubeletObjectId } };
      // AKS creates the Key Vault secrets provider add-on's identity and reports it on the add-on's profile.
      const addons = inputs.addonProfiles as Record<string, Record<string, unknown>> | undefined;
      if (addons?.azureKeyvaultSecretsProvider !== undefined) {
        state.addonProfiles = {
          ...addons,
          azureKeyvaultSecretsProvider: {
            ...addons.azureKeyvaultSecretsProvider,
            identity: { clientId: MOCK.keyVaultAddonClientId, objectId: MOCK.keyVaultAddonObjectId },
          },
        };
      }
      state.oidcIssuerProfile = {
        ...((inputs.oidcIssuerProfile as Record<string, unknown> | undefined) ?? {}),
        issuerURL: MOCK.oidcIssuerUrl,
      };
    }
    if (args.type === "azure-native:managedidentity:UserAssignedIdentity") {
      state.clientId = MOCK.modelIdentityClientId;
      state.principalId = MOCK.modelIdentityPrincipalId;
      state.tenantId = MOCK.tenantId;
    }
    if (args.type === "azure-native:monitor:AzureMonitorWorkspace") {
      state.metrics = {
        internalId: `mac_${name}`,
        prometheusQueryEndpoint: `https://${name}.${String(inputs.location)}.prometheus.monitor.azure.com`,
      };
    }
    if (args.type === "azure-native:dashboard:Grafana") {
      state.identity = {
        ...(inputs.identity as Record<string, unknown>),
        principalId: MOCK_GRAFANA_PRINCIPAL_ID,
      };
      state.properties = {
        ...(inputs.properties as Record<string, unknown>),
        endpoint: `https://${name}.grafana.azure.com`,
      };
    }
    if (args.type === "azure-native:applicationinsights:Component") {
      // A plain output, as azure-native 3.28.0 returns it: the program must mark it secret itself.
      state.connectionString = MOCK.appInsightsConnectionString;
    }
    if (args.type === "azure-native:storage:Blob") {
      state.url = `https://${String(inputs.accountName)}.blob.core.windows.net/${String(inputs.containerName)}/${name}`;
    }
    return { id, state };
  }
  if (args.type === "docker-build:index:Image") {
    // What a push reports: the image's digest, distinct per repository.
    const tag = String((inputs.tags as unknown[] | undefined)?.[0]);
    const repository = tag.slice(0, tag.lastIndexOf(":"));
    return {
      id: `${tag}-id`,
      state: { ...inputs, digest: mockDigest(repository), ref: `${tag}@${mockDigest(repository)}` },
    };
  }
  // The TLS provider's generated key and certificate: recognisable PEM text, distinct per resource.
  if (args.type === "tls:index/privateKey:PrivateKey") {
    return { id: args.name, state: { ...inputs, privateKeyPem: mockPem("PRIVATE KEY", args.name) } };
  }
  if (args.type === "tls:index/selfSignedCert:SelfSignedCert") {
    return { id: args.name, state: { ...inputs, certPem: mockPem("CERTIFICATE", args.name) } };
  }
  if (args.type === "random:index/randomString:RandomString") {
    return { id: args.name, state: { ...inputs, result: "x7k2q9" } };
  }
  if (args.type === "random:index/randomPassword:RandomPassword") {
    return { id: args.name, state: { ...inputs, result: `generated-${args.name}-value` } };
  }
  if (args.type.startsWith("kubernetes:")) {
    const metadata = { ...((inputs.metadata as Record<string, unknown> | undefined) ?? {}) };
    metadata.name ??= `${args.name}-k8sid`;
    const state: Record<string, unknown> = { ...inputs, metadata };
    if (args.type === "kubernetes:core/v1:Service")
      state.status = { loadBalancer: { ingress: [{ ip: MOCK.lbAddress }] } };
    return { id: `${args.name}-id`, state };
  }
  return { id: `${args.name}-id`, state: inputs };
}

function callResult(args: pulumi.runtime.MockCallArgs, runner: string): Record<string, unknown> {
  switch (args.token) {
    case "azure-native:authorization:getClientConfig":
      return {
        clientId: "client",
        objectId: runner,
        subscriptionId: MOCK.subscriptionId,
        tenantId: MOCK.tenantId,
      };
    case "azure-native:authorization:getClientToken":
      // The registry audience gets its own token, so a test can tell which one reached ACR.
      return {
        token:
          args.inputs.endpoint === "https://containerregistry.azure.net"
            ? MOCK.acrAudienceToken
            : args.inputs.endpoint === "6dae42f8-4368-4678-94ff-3960e28e3630"
              ? MOCK.aksAudienceToken
              : MOCK.armToken,
      };
    case "azure-native:containerservice:listManagedClusterUserCredentials":
      return {
        kubeconfigs: [{ name: "clusterUser", value: Buffer.from(MOCK.kubeconfig).toString("base64") }],
      };
    default:
      throw new Error(`unexpected invoke ${args.token}`);
  }
}

/** The part of Pulumi's mock monitor the harness wraps to see resource options. */
interface RegisterMonitor {
  registerResource(req: RegisterResourceRequest, callback: (...args: never[]) => void): void;
}

export interface RunOptions {
  /** Stack config without the project prefix. */
  readonly config: Record<string, string>;
  /** Awaited before a resource's mock answers: lets a test hold a resource back to prove others don't wait on it. */
  readonly beforeCreate?: (type: string, name: string) => Promise<void>;
  readonly onRegister?: (record: Recorded) => void;
  /** Run as `pulumi preview` does (dry run) instead of `pulumi up`. */
  readonly preview?: boolean;
  /** ARM answers replacing the recorded healthy ones (test/fixtures/arm), by route. */
  readonly arm?: Partial<Record<ArmRoute, ArmAnswer>>;
  /** The object id of the identity running the program (getClientConfig); MOCK.deployerObjectId by default. */
  readonly runner?: string;
  /** How long a cluster-admin grant takes to reach the API server (virtual ms); MODEL_RBAC_PROPAGATION_MS by default. */
  readonly rbacPropagationMs?: number;
  /** Answer every SelfSubjectAccessReview "allowed" at once: a program whose wait checks nothing (the old one). */
  readonly accessReviewAlwaysAllowed?: boolean;
  /** How long a new workspace's tables answer 404 (virtual ms); MODEL_TABLES_DELAY_MS by default. */
  readonly logAnalyticsTablesDelayMs?: number;
  /** Tables the new workspace never gets. */
  readonly missingLogAnalyticsTables?: readonly string[];
  /** Answer every workspace and table read "ready" at once: a program whose wait checks nothing (the old one). */
  readonly logAnalyticsAlwaysReady?: boolean;
}

export interface ProgramRun {
  readonly resources: Recorded[];
  readonly outputs: Record<string, pulumi.Output<unknown> | unknown>;
  readonly fetchCalls: FetchCall[];
  readonly warnings: string[];
  /** Messages the program logged with pulumi.log.info, in order. */
  readonly infos: string[];
  /** Virtual milliseconds that passed (the program's waits on the model's clock). */
  readonly virtualMs: number;
  /** Virtual milliseconds on the Log Analytics timeline (the wait for the workspace's tables). */
  readonly insightsVirtualMs: number;
}

export function findAll(resources: readonly Recorded[], type: string): Recorded[] {
  return resources.filter((r) => r.type === type);
}

export function findOne(resources: readonly Recorded[], type: string, name?: string): Recorded {
  const matches = resources.filter((r) => r.type === type && (name === undefined || r.name === name));
  if (matches.length !== 1) {
    throw new Error(`expected one ${type}${name ? ` named ${name}` : ""}, found ${matches.length}`);
  }
  return matches[0];
}

/** Reads a nested value from recorded inputs, e.g. get(deployment, "spec.template.spec"). */
export function get(record: Recorded | Record<string, unknown>, dotted: string): unknown {
  let current: unknown = "inputs" in record && "type" in record ? record.inputs : record;
  for (const part of dotted.split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** True when a recorded input reached the engine marked secret (Pulumi's secret signature). */
export function isSecretInput(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG
  );
}

/** The value inside a secret input; fails if the input was not marked secret. */
export function secretInput(value: unknown): unknown {
  if (!isSecretInput(value)) throw new Error(`expected a secret input, got ${JSON.stringify(value)}`);
  return (value as Record<string, unknown>).value;
}

export function outputValue<T>(output: pulumi.Output<T> | T): Promise<T> {
  if (!pulumi.Output.isInstance(output)) return Promise.resolve(output as T);
  return new Promise((resolve) => (output as pulumi.Output<T>).apply((value) => resolve(value)));
}

async function settle(resources: readonly Recorded[]): Promise<void> {
  let last = -1;
  let stable = 0;
  while (stable < 5) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    stable = resources.length === last ? stable + 1 : 0;
    last = resources.length;
  }
}

/** How a recorded resource is named in another's dependencies: type and name (names alone repeat across types). */
export function resourceKey(record: Pick<Recorded, "type" | "name">): string {
  return `${record.type}::${record.name}`;
}

/** urn:pulumi:<stack>::<project>::<parent types $ separated>$<type>::<name> → <type>::<name>. */
function urnKey(urn: string): string {
  const parts = urn.split("::");
  const types = parts[2] ?? "";
  return `${types.slice(types.lastIndexOf("$") + 1)}::${parts.slice(3).join("::")}`;
}

/**
 * Runs the program in a child process and returns the message it failed with (or undefined when it
 * succeeded). For runs the model refuses: Pulumi's outputs then reject in places no one awaits, and those
 * unhandled rejections would fail whichever test runs in this process.
 */
export function programFailure(options: RunOptions): string | undefined {
  const child = spawnSync(process.execPath, ["--import", "tsx", path.join(__dirname, "programChild.ts")], {
    cwd: ROOT,
    env: { ...process.env, PROGRAM_OPTIONS: JSON.stringify(options) },
    encoding: "utf8",
    timeout: 120_000,
  });
  const line = child.stdout.split("\n").find((l) => l.startsWith("{"));
  if (line === undefined) throw new Error(`the child run printed no result: ${child.stderr}`);
  const result = JSON.parse(line) as { ok: boolean; error?: string };
  return result.ok ? undefined : result.error;
}

/** Runs index.ts under mocks with the given config; resolves once every resource has registered. */
export async function runProgram(options: RunOptions): Promise<ProgramRun> {
  const resources: Recorded[] = [];
  const optionsByName = new Map<string, RecordedOptions>();
  const fetchCalls: FetchCall[] = [];
  const warnings: string[] = [];
  const infos: string[] = [];
  const runner = options.runner ?? MOCK.deployerObjectId;
  const model = new AzureModel(
    runner,
    options.rbacPropagationMs ?? MODEL_RBAC_PROPAGATION_MS,
    options.logAnalyticsTablesDelayMs,
    options.missingLogAnalyticsTables,
  );

  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    const headers = new Headers(init?.headers);
    const body = String(init?.body ?? "");
    fetchCalls.push({
      method: init?.method ?? "GET",
      url,
      body,
      authorization: headers.get("Authorization") ?? undefined,
    });
    const json = (status: number, value: unknown): Response =>
      new Response(JSON.stringify(value), { status });
    const logRead = url.startsWith("https://management.azure.com/") ? logAnalyticsReadOf(url) : undefined;
    if (logRead !== undefined) {
      if (headers.get("Authorization") !== `Bearer ${MOCK.armToken}`)
        return json(401, { error: { code: "InvalidAuthenticationToken", message: "not an ARM token" } });
      if (options.logAnalyticsAlwaysReady === true)
        return json(200, { properties: { provisioningState: "Succeeded" } });
      const answer = model.logAnalyticsAnswer(logRead);
      return json(answer.status, answer.body);
    }
    if (url.startsWith("https://management.azure.com/")) {
      const route = armRouteOf(url);
      if (route === undefined) return json(404, { error: { code: "NotMocked", message: url } });
      const answer = options.arm?.[route];
      return answer === undefined ? json(200, recordedArm(route)) : json(answer.status, answer.body);
    }
    if (url.endsWith("/oauth2/exchange")) return json(200, { refresh_token: MOCK.acrRefreshToken });
    if (url.endsWith("/oauth2/token")) {
      const scope = new URLSearchParams(body).get("scope") ?? "";
      const repository = scope.split(":")[1] ?? "";
      return json(200, { access_token: acrAccessToken(repository, ["pull", "push"]) });
    }
    return json(404, { error: `no mock for ${url}` });
  };
  const originalWarn = pulumi.log.warn;
  const originalInfo = pulumi.log.info;
  pulumi.log.warn = (message: string) => {
    warnings.push(message);
    return Promise.resolve();
  };
  pulumi.log.info = (message: string) => {
    infos.push(message);
    return Promise.resolve();
  };

  clusterAccessEnvironment.clock = model.clock;
  insightsReadinessEnvironment.clock = model.insightsClock;
  clusterAccessEnvironment.connect = (endpoint) => {
    if (endpoint.server !== MOCK.apiServer) throw new Error(`the access wait asked ${endpoint.server}`);
    if (endpoint.token !== MOCK.aksAudienceToken)
      throw new Error("the access wait used a token of another audience");
    return options.accessReviewAlwaysAllowed === true
      ? async () => ({ status: 201, body: { status: { allowed: true } } })
      : model.kubePost;
  };
  let refuse: (error: Error) => void = () => {};
  const refused = new Promise<never>((_resolve, reject) => {
    refuse = reject;
  });
  // Settled even when nothing is refused, so an unobserved rejection never escapes.
  refused.catch(() => {});

  await pulumi.runtime.setMocks(
    {
      newResource: async (args) => {
        if (options.beforeCreate) await options.beforeCreate(args.type, args.name);
        const inputs = args.inputs as Record<string, unknown>;
        let endOperation: (() => void) | undefined;
        try {
          if (!options.preview) {
            const clusterKey = CLUSTER_OPERATION_TYPES[args.type];
            if (clusterKey !== undefined) {
              const cluster = String(inputs[clusterKey] ?? azureName(args));
              endOperation = model.beginClusterOperation(cluster, `${args.type} ${args.name}`);
            }
            if (args.type === "azure-native:kubernetesconfiguration:Extension") checkAzureMlExtension(inputs);
            if (args.type.startsWith("kubernetes:")) model.kubernetesCreate(args.type, args.name);
            if (args.type === "azure-native:monitor:DataCollectionRule")
              model.dataCollectionRuleCreate(args.name, inputs);
          }
        } catch (error) {
          endOperation?.();
          refuse(error as Error);
          throw error;
        }
        const record: Recorded = {
          type: args.type,
          name: args.name,
          inputs: args.inputs,
          provider: args.provider,
          options: optionsByName.get(`${args.type}::${args.name}`) ?? {
            retainOnDelete: false,
            dependencies: [],
          },
        };
        resources.push(record);
        options.onRegister?.(record);
        if (args.type === "azure-native:authorization:RoleAssignment") model.recordGrant(inputs);
        if (args.type === "azure-native:operationalinsights:Workspace") model.recordWorkspace();
        if (endOperation !== undefined) {
          // An AKS operation takes minutes; here a few real milliseconds, long enough for a sibling sent at
          // the same time to find it in flight.
          await new Promise((resolve) => setTimeout(resolve, 30));
          endOperation();
        }
        return newResourceState(args);
      },
      call: (args) => callResult(args, runner),
    },
    PROJECT,
    "dev",
    options.preview === true,
  );
  // The mock monitor hands mocks only type, name and inputs; read the options off the real request first.
  const monitor = (pulumi.runtime as unknown as { getMonitor(): RegisterMonitor }).getMonitor();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    const timeouts = req.getCustomtimeouts();
    optionsByName.set(`${req.getType()}::${req.getName()}`, {
      retainOnDelete: req.getRetainondelete() === true,
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      ignoreChanges: req.getIgnorechangesList(),
      aliasNames: req
        .getAliasesList()
        .map((alias) => alias.getSpec()?.getName() ?? "")
        .filter((name) => name !== ""),
      customTimeouts:
        timeouts === undefined
          ? undefined
          : { create: timeouts.getCreate(), update: timeouts.getUpdate(), delete: timeouts.getDelete() },
      dependencies: req.getDependenciesList().map(urnKey),
    });
    return register(req, callback);
  };
  const full: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.config)) full[`${PROJECT}:${key}`] = value;
  pulumi.runtime.setAllConfig(full);

  // The program is `export = async () => outputs`, exactly what `pulumi up` runs.
  const program = (await import("../index")).default as unknown as () => Promise<Record<string, unknown>>;
  try {
    const completed = (async () => {
      const outputs = await program();
      await Promise.all(Object.values(outputs).map((value) => outputValue(value)));
      await settle(resources);
      return outputs;
    })();
    const outputs = await Promise.race([completed, refused]);
    return {
      resources,
      outputs,
      fetchCalls,
      warnings,
      infos,
      virtualMs: model.now,
      insightsVirtualMs: model.insightsNow,
    };
  } finally {
    pulumi.log.warn = originalWarn;
    pulumi.log.info = originalInfo;
  }
}
