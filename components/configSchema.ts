/**
 * Every stack config key this program reads: its type, default and meaning.
 * Pulumi.yaml declares the same keys (test/configSchema.test.ts keeps the two in step), and
 * components/config/ validates values against this table, so defaults live in exactly two places
 * that a test compares, never in component code.
 */
export type ConfigType = "string" | "integer" | "number" | "boolean";

export interface ConfigKeySpec {
  readonly type: ConfigType;
  /** Absent for keys that are only needed in some cases (the VM size overrides). */
  readonly default?: string | number | boolean;
  readonly description: string;
}

export const configSchema = {
  location: {
    type: "string",
    default: "eastus",
    description: "Azure region for every resource, as Azure spells it (lowercase, no spaces), e.g. eastus.",
  },
  namePrefix: {
    type: "string",
    default: "gpuinf",
    description:
      "Lowercase letters and digits (3-10) that start every Azure resource name; Pulumi appends a random suffix.",
  },
  kubernetesVersion: {
    type: "string",
    default: "1.35",
    description:
      "AKS Kubernetes version (major.minor or major.minor.patch), 1.35 or later; the preflight checks AKS offers it in the region.",
  },
  systemVmSize: {
    type: "string",
    default: "Standard_D4s_v5",
    description:
      "VM size of the AKS system node pool (cluster add-ons and the Azure ML extension run there).",
  },
  systemNodeCount: {
    type: "integer",
    default: 2,
    description: "Nodes in the AKS system pool.",
  },
  gpuVmSize: {
    type: "string",
    default: "Standard_NC4as_T4_v3",
    description: "VM size of the GPU user node pool; one of the supported sizes in components/gpuSkus.ts.",
  },
  gpuNodeCount: {
    type: "integer",
    default: 3,
    description: "Nodes in the GPU pool.",
  },
  gpuMaxSurge: {
    type: "integer",
    default: 0,
    description:
      "Extra GPU nodes an AKS upgrade may add while it drains old ones (0: drain one node at a time, no extra quota). The preflight checks the quota covers them.",
  },
  replicas: {
    type: "integer",
    default: 3,
    description: "Scoring pods (the seed's num_replicas).",
  },
  replicaGpus: {
    type: "integer",
    default: 1,
    description: "GPUs (nvidia.com/gpu) each scoring pod gets.",
  },
  replicaCpu: {
    type: "number",
    default: 2,
    description: "CPU cores each scoring pod requests and is limited to (the seed's cpu_cores).",
  },
  replicaMemoryGiB: {
    type: "number",
    default: 4,
    description: "Memory (GiB) each scoring pod requests and is limited to (the seed's memory_gb).",
  },
  namespace: {
    type: "string",
    default: "scoring",
    description: "Kubernetes namespace of the scoring service.",
  },
  modelName: {
    type: "string",
    default: "mnist-mlp",
    description: "Name of the model registered in the Azure ML workspace.",
  },
  modelVersion: {
    type: "string",
    default: "1",
    description: "Version of the registered model; bump it when the model file changes.",
  },
  modelFile: {
    type: "string",
    default: "app/model/mnist_mlp.npz",
    description: "Model file (relative to the project) uploaded to storage and registered in the workspace.",
  },
  attachToWorkspace: {
    type: "boolean",
    default: true,
    description:
      "Install the Azure ML extension on the cluster and attach it to the workspace as a Kubernetes compute target.",
  },
  computeName: {
    type: "string",
    default: "aks-gpu",
    description: "Name of the workspace compute target for the cluster (the seed's aks_name).",
  },
  primaryKeyVersion: {
    type: "integer",
    default: 1,
    description: "Bump to rotate the primary scoring key (the secondary keeps working meanwhile).",
  },
  secondaryKeyVersion: {
    type: "integer",
    default: 1,
    description: "Bump to rotate the secondary scoring key (the primary keeps working meanwhile).",
  },
  preStopSeconds: {
    type: "integer",
    default: 10,
    description: "Seconds a stopping pod keeps serving so the load balancer stops sending it traffic first.",
  },
  drainSeconds: {
    type: "integer",
    default: 20,
    description:
      "Seconds the app may take to finish in-flight requests after SIGTERM (app env DRAIN_SECONDS).",
  },
  maintenanceDay: {
    type: "string",
    default: "Sunday",
    description:
      "Weekday of the weekly window in which AKS may upgrade Kubernetes patches and node OS images.",
  },
  maintenanceStartTime: {
    type: "string",
    default: "02:00",
    description: "Start (HH:mm, in maintenanceUtcOffset) of the weekly maintenance window.",
  },
  maintenanceUtcOffset: {
    type: "string",
    default: "+00:00",
    description: "UTC offset (+HH:mm or -HH:mm) of maintenanceStartTime.",
  },
  maintenanceDurationHours: {
    type: "integer",
    default: 4,
    description: "Length of the weekly maintenance window in hours (AKS allows 4-24).",
  },
  allowedSourceRanges: {
    type: "string",
    default: "0.0.0.0/0",
    description:
      "Comma-separated IPv4 CIDRs that may reach the public HTTPS endpoint (enforced by Cilium at the proxies; port 80 stays open for ACME validation and only redirects); the default 0.0.0.0/0 admits anyone.",
  },
  apiServerAuthorizedIpRanges: {
    type: "string",
    default: "",
    description:
      "Comma-separated IPv4 CIDRs that may reach the AKS API server; empty leaves it reachable from anywhere (Entra ID sign-in is still required). Include the deployer's and CI's egress and, when attachToWorkspace is true, Azure ML's control-plane ranges (docs/configuration.md).",
  },
  clusterAdminGroupObjectId: {
    type: "string",
    default: "",
    description:
      "Object id of an Entra group granted Azure Kubernetes Service RBAC Cluster Admin on the cluster, besides the deploying identity; empty grants none.",
  },
  dnsLabel: {
    type: "string",
    default: "",
    description:
      "Azure DNS label of the entry point's public IP, giving <label>.<location>.cloudapp.azure.com; empty generates <namePrefix>-<stack>-<random suffix>.",
  },
  customDomain: {
    type: "string",
    default: "",
    description:
      "A domain you control, CNAMEd to the azureHostname output; the certificate, routes and URIs then use it. Empty uses the cloudapp.azure.com name.",
  },
  acmeEmail: {
    type: "string",
    default: "",
    description:
      "Contact e-mail for the Let's Encrypt ACME account that issues the endpoint's certificate; empty registers without one.",
  },
  acmeStaging: {
    type: "boolean",
    default: false,
    description:
      "Issue the certificate from Let's Encrypt's staging directory (untrusted test certificates, generous rate limits) instead of production.",
  },
  tlsKeyVaultId: {
    type: "string",
    default: "",
    description:
      "Resource id of a Key Vault (Azure RBAC mode) holding your own certificate for customDomain; with tlsCertificateName, the public HTTPS listener serves it instead of a Let's Encrypt one. Empty: ACME.",
  },
  tlsCertificateName: {
    type: "string",
    default: "",
    description:
      "Name of the certificate in tlsKeyVaultId (PEM or PFX, with its private key); its latest version is served and rotated in within about two minutes. Empty: ACME.",
  },
  publicSwagger: {
    type: "boolean",
    default: false,
    description:
      "Route /swagger.json on the public endpoint; off by default, so only scoring, health and v2 routes are public.",
  },
  alertEmail: {
    type: "string",
    default: "",
    description:
      "E-mail address Azure Monitor notifies (through an action group) when an alert fires; empty: alerts show in the Azure portal only.",
  },
  alertP99LatencySeconds: {
    type: "number",
    default: 0.5,
    description:
      "Seconds: the ScoringP99LatencyHigh alert fires when the p99 latency of scoring requests stays above this for 10 minutes.",
  },
  managedGrafana: {
    type: "boolean",
    default: false,
    description:
      "Create an Azure Managed Grafana (Standard) workspace reading the cluster's Prometheus metrics, to import monitoring/dashboard.json into; it bills by the hour (docs/observability.md).",
  },
  appInsightsTracing: {
    type: "boolean",
    default: false,
    description:
      "Send one OpenTelemetry request span per scoring request to the workspace's Application Insights (its connection string reaches the pods through a Kubernetes Secret); off by default because ingestion bills per GB (docs/observability.md).",
  },
  appInsightsSampleRatio: {
    type: "number",
    default: 1,
    description:
      "Share of requests (above 0, at most 1) sent to Application Insights when appInsightsTracing is true; Application Insights extrapolates its counts from the rest.",
  },
} as const satisfies Record<string, ConfigKeySpec>;

export type ConfigKey = keyof typeof configSchema;

export const configKeys = Object.keys(configSchema) as ConfigKey[];

/**
 * The `type` Pulumi.yaml declares for a key. Pulumi's project schema has no `number` (it allows string,
 * integer, boolean, array and object, and the CLI refuses the whole file otherwise), so decimal keys are
 * declared untyped there and parsed by components/config.
 */
export function pulumiYamlType(type: ConfigType): Exclude<ConfigType, "number"> | undefined {
  return type === "number" ? undefined : type;
}
