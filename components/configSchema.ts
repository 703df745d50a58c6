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
    default: "1.36",
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
    description:
      "CPU cores each scoring pod requests and, unless replicaCpuLimit is set, is limited to (the seed's cpu_cores).",
  },
  replicaMemoryGiB: {
    type: "number",
    default: 4,
    description:
      "Memory (GiB) each scoring pod requests and, unless replicaMemoryLimitGiB is set, is limited to (the seed's memory_gb).",
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
  autoscale: {
    type: "boolean",
    default: false,
    description:
      "Scale the scoring pods on load between autoscaleMinReplicas and autoscaleMaxReplicas (the AKS KEDA add-on: CPU utilization, and in-flight requests from managed Prometheus) and the GPU pool between gpuNodeMinCount and gpuNodeMaxCount (cluster autoscaler); replicas and gpuNodeCount are then unused (the seed's autoscale_enabled).",
  },
  autoscaleMinReplicas: {
    type: "integer",
    default: 2,
    description:
      "Fewest scoring pods when autoscale is true (the seed's autoscale_min_replicas; Azure ML's default is 1, this project's availability policy asks for 2 so a node failure or upgrade never takes the endpoint down).",
  },
  autoscaleMaxReplicas: {
    type: "integer",
    default: 10,
    description:
      "Most scoring pods when autoscale is true; they must fit gpuNodeMaxCount nodes (the seed's autoscale_max_replicas).",
  },
  autoscaleRefreshSeconds: {
    type: "integer",
    default: 15,
    description:
      "Seconds between KEDA's reads of the pods' in-flight requests (its pollingInterval; the seed's autoscale_refresh_seconds); the HPA reads CPU and acts every 15 s on AKS, and pods are scraped every 30 s, so less than 15 buys nothing.",
  },
  autoscaleTargetUtilization: {
    type: "integer",
    default: 70,
    description:
      "Percent of its CPU request the autoscaler keeps each scoring pod at (the seed's autoscale_target_utilization); in-flight requests past replicaMaxConcurrentRequests add pods at once besides.",
  },
  gpuNodeMinCount: {
    type: "integer",
    default: 1,
    description: "Fewest GPU nodes the cluster autoscaler keeps when autoscale is true.",
  },
  gpuNodeMaxCount: {
    type: "integer",
    default: 10,
    description:
      "Most GPU nodes the cluster autoscaler may add when autoscale is true; the preflight checks the quota covers them.",
  },
  autoscaleWarmReplicas: {
    type: "integer",
    default: 0,
    description:
      "Placeholder pods the size of one scoring pod, at a priority below it, that keep booted GPU nodes ready when autoscale is true: a scale-up then takes seconds instead of a node boot. Each bills a GPU node's share around the clock.",
  },
  replicaMaxConcurrentRequests: {
    type: "integer",
    default: 32,
    description:
      "Requests one scoring pod scores at once; more wait up to maxRequestWaitTimeMs (app env MAX_CONCURRENT_REQUESTS; the seed's replica_max_concurrent_requests). With autoscale, mean in-flight requests past it add pods at once.",
  },
  maxRequestWaitTimeMs: {
    type: "integer",
    default: 500,
    description:
      "Milliseconds a request may wait for one of a pod's replicaMaxConcurrentRequests slots before it is answered 503 with Retry-After (app env MAX_REQUEST_WAIT_TIME_MS; the seed's max_request_wait_time).",
  },
  scoringTimeoutMs: {
    type: "integer",
    default: 60000,
    description:
      "Milliseconds a request may take to be scored before it is answered with an error (app env SCORING_TIMEOUT_MS; the seed's scoring_timeout_ms).",
  },
  livenessPeriodSeconds: {
    type: "integer",
    default: 10,
    description: "Seconds between liveness probes (GET /; the seed's period_seconds).",
  },
  livenessInitialDelaySeconds: {
    type: "integer",
    default: 10,
    description:
      "Seconds after a container starts before the first liveness probe (the seed's initial_delay_seconds).",
  },
  livenessTimeoutSeconds: {
    type: "integer",
    default: 2,
    description: "Seconds a liveness probe may take (the seed's timeout_seconds).",
  },
  livenessFailureThreshold: {
    type: "integer",
    default: 3,
    description:
      "Failed liveness probes in a row after which the container restarts (the seed's failure_threshold).",
  },
  readinessPeriodSeconds: {
    type: "integer",
    default: 5,
    description: "Seconds between readiness probes (GET /ready).",
  },
  readinessInitialDelaySeconds: {
    type: "integer",
    default: 0,
    description: "Seconds after a container starts before the first readiness probe.",
  },
  readinessTimeoutSeconds: {
    type: "integer",
    default: 2,
    description: "Seconds a readiness probe may take.",
  },
  readinessSuccessThreshold: {
    type: "integer",
    default: 1,
    description:
      "Passed readiness probes in a row before a pod receives traffic again (the seed's success_threshold; Kubernetes allows only 1 for liveness).",
  },
  readinessFailureThreshold: {
    type: "integer",
    default: 2,
    description: "Failed readiness probes in a row after which a pod stops receiving traffic.",
  },
  replicaCpuLimit: {
    type: "number",
    default: 0,
    description:
      "CPU cores each scoring pod may burst to; 0 (the default) limits it to replicaCpu (Guaranteed QoS).",
  },
  replicaMemoryLimitGiB: {
    type: "number",
    default: 0,
    description:
      "Memory (GiB) each scoring pod may use; 0 (the default) limits it to replicaMemoryGiB (Guaranteed QoS).",
  },
  deployerObjectId: {
    type: "string",
    default: "",
    description:
      "Entra object id of the identity that runs pulumi up (the CI service principal under GitOps; az ad sp show --id <client id> --query id -o tsv). Its cluster-admin, AcrPush and Grafana grants then stay the same whoever previews or runs the program; empty takes whoever runs it, which plans to replace those grants when another identity previews.",
  },
  authMode: {
    type: "string",
    default: "keys",
    description:
      "What a caller presents in Authorization: Bearer: keys (the two scoring keys, Azure ML's auth_enabled), tokens (an Entra ID access token for tokenAudience, Azure ML's token_auth_enabled) or both; the app verifies tokens (docs/auth-versions.md).",
  },
  tokenTenantId: {
    type: "string",
    default: "",
    description:
      "Entra tenant whose access tokens are accepted when authMode is tokens or both; empty: the deploying identity's tenant.",
  },
  tokenAudience: {
    type: "string",
    default: "",
    description:
      "The scoring app registration's client id or Application ID URI (api://...): the audience accepted tokens must carry; required when authMode is tokens or both.",
  },
  candidateModelVersion: {
    type: "string",
    default: "",
    description:
      "A second registered model version served beside modelVersion by its own Deployment (a traffic split); empty: one version.",
  },
  candidateModelFile: {
    type: "string",
    default: "",
    description:
      "Model file (relative to the project) registered as candidateModelVersion; empty: modelFile.",
  },
  candidateTrafficPercent: {
    type: "integer",
    default: 0,
    description:
      "Percent of requests (0-100) routed to the candidate version; the current version gets the rest. 100 then a modelVersion change promotes it; 0 rolls back.",
  },
  candidateReplicas: {
    type: "integer",
    default: 2,
    description:
      "Scoring pods of the candidate version (they need GPUs beside the current version's replicas).",
  },
  mirrorToCandidate: {
    type: "boolean",
    default: false,
    description:
      "Also send a copy of every request to the candidate version (its answers are discarded): compare versions on live traffic before shifting any.",
  },
  collectModelData: {
    type: "boolean",
    default: false,
    description:
      "Capture a sample of scored requests' inputs and outputs to the workspace storage's model-data container (Azure ML's collect_model_data), written by the pods with their workload identity.",
  },
  captureSamplePercent: {
    type: "integer",
    default: 10,
    description: "Percent (1-100) of scored requests captured when collectModelData is true.",
  },
  captureMaxSampleKiB: {
    type: "integer",
    default: 256,
    description:
      "Largest captured sample in KiB; a larger request is recorded without its inputs, marked truncated.",
  },
  captureRetentionDays: {
    type: "integer",
    default: 30,
    description: "Days captured samples are kept before a storage lifecycle rule deletes them.",
  },
  tags: {
    type: "string",
    default: "",
    description:
      "Comma-separated name=value tags (Kubernetes label syntax) set on the Azure resources, the registered model version and the scoring Kubernetes objects (labels).",
  },
  properties: {
    type: "string",
    default: "",
    description:
      "Comma-separated name=value properties set as annotations on the scoring Kubernetes objects (Azure ML's webservice properties).",
  },
  description: {
    type: "string",
    default: "",
    description:
      "A description of the deployment, set on the Azure ML workspace and as the scoring Kubernetes objects' description annotation.",
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
