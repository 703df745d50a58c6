/**
 * The contract between the program and the scoring app in app/ (DESIGN.md, "Contract between the
 * program and the app"), defined once. The program (scoringService.ts, gpuCluster.ts,
 * nvidiaDevicePlugin.ts), the policy pack (policy/lib/workloads.ts) and the tests (test/, including
 * the app/Dockerfile test) import these values instead of repeating them, so changing one here moves
 * every side at once and a test that compares the Dockerfile catches the app drifting away.
 */

/** The port the app listens on (its PORT default, the Dockerfile's EXPOSE). */
export const APP_PORT = 5001;
/** The container port's name; probes and the Service target it by name. */
export const APP_PORT_NAME = "http";

/**
 * The port the app serves Prometheus `/metrics` on (env METRICS_PORT), apart from APP_PORT so that no
 * public route can reach it: the entry point routes only to APP_PORT, and the network policy admits
 * this port only from MONITORING_NAMESPACE (and Azure Monitor's ama-metrics pods in kube-system).
 */
export const METRICS_PORT = 9102;
/** The metrics container port's name. */
export const METRICS_PORT_NAME = "metrics";
/** The namespace whose pods may scrape METRICS_PORT (the Prometheus scraper lives there). */
export const MONITORING_NAMESPACE = "monitoring";

/**
 * The routes the public entry point forwards (exact paths, and the KServe v2 prefix): scoring, the
 * liveness and readiness probes Azure ML clients call, and v2 inference. `/metrics` is on its own port,
 * and `/swagger.json` stays off the public path unless the stack opts in (publicSwagger).
 */
export const PUBLIC_ROUTES = {
  exact: ["/score", "/", "/ready"],
  prefix: ["/v2"],
  swagger: "/swagger.json",
} as const;

/** The numeric user and group the image runs as (app/Dockerfile USER). */
export const APP_UID = 10001;

/** Probe routes: liveness answers 200 `Healthy` as Azure ML's server does; readiness 200 once warmed. */
export const PROBE_PATHS = { liveness: "/", readiness: "/ready" } as const;

/** Environment variable names the app reads (app/scoring/core/settings.py). */
export const APP_ENV = {
  port: "PORT",
  metricsPort: "METRICS_PORT",
  modelDir: "MODEL_DIR",
  device: "DEVICE",
  authEnabled: "AUTH_ENABLED",
  drainSeconds: "DRAIN_SECONDS",
  primaryKey: "SCORING_PRIMARY_KEY",
  secondaryKey: "SCORING_SECONDARY_KEY",
  /** Turns the app's request telemetry on (scoring/observability/tracing.py); from a Secret, never a plain value. */
  appInsightsConnectionString: "APPLICATIONINSIGHTS_CONNECTION_STRING",
  appInsightsSampleRatio: "APP_INSIGHTS_SAMPLE_RATIO",
  /** The seed's replica_max_concurrent_requests and max_request_wait_time (scoring/core/concurrency.py). */
  maxConcurrentRequests: "MAX_CONCURRENT_REQUESTS",
  maxRequestWaitTimeMs: "MAX_REQUEST_WAIT_TIME_MS",
  /** The seed's scoring_timeout_ms: every request's deadline (scoring/core/settings.py). */
  scoringTimeoutMs: "SCORING_TIMEOUT_MS",
} as const;

/**
 * The scoring routes' latency histogram (app: scoring/observability/metrics.py) and the route templates it labels
 * scoring with (the alert rules select the same ones). Its `_sum` grows by every scoring request's time
 * in the pod, so its rate is the pods' mean in-flight scoring requests: the autoscaler's measure of load.
 */
export const SCORING_LATENCY_METRIC = "scoring_request_seconds";
export const SCORING_ROUTE_REGEX = "/score|/v2/models/.+/infer";

/**
 * Where a pod keeps the registered model version (issue 12): one emptyDir, mounted read-write at
 * `download` for the app's fetch and read-only at `serve`, which MODEL_DIR names (and the app exports as
 * AZUREML_MODEL_DIR), so the entry script reads only what was verified and cannot change it. The image
 * holds no weights; its MODEL_DIR default is `serve` too. (Azure ML's own deployments also keep models
 * under /var/azureml-app.)
 */
export const MODEL_DIRS = {
  serve: "/var/azureml-app/model",
  download: "/var/azureml-app/model-download",
} as const;

/**
 * The app's model-source variables (app/scoring/core/settings.py, ModelSource): the blob of the registered
 * version, its size and sha256 recorded at registration, the credential to fetch it with and the writable
 * view of MODEL_DIR. `emulatorConnectionString` is for Azurite and local runs only: the program never sets it.
 */
export const MODEL_ENV = {
  uri: "MODEL_URI",
  sha256: "MODEL_SHA256",
  sizeBytes: "MODEL_SIZE_BYTES",
  credential: "MODEL_CREDENTIAL",
  downloadDir: "MODEL_DOWNLOAD_DIR",
  emulatorConnectionString: "MODEL_STORAGE_CONNECTION_STRING",
} as const;
/** MODEL_CREDENTIAL in the cluster: azure-identity's WorkloadIdentityCredential, no key or SAS. */
export const MODEL_CREDENTIAL_IN_CLUSTER = "workload-identity";

/** The scoring pods' service account, the subject the model identity's federated credential names. */
export const SCORING_SERVICE_ACCOUNT = "scoring";
/** What AKS's workload identity webhook looks for: the pod label and the service account annotation. */
export const WORKLOAD_IDENTITY = {
  useLabel: "azure.workload.identity/use",
  clientIdAnnotation: "azure.workload.identity/client-id",
} as const;

/** The only path the app writes under its read-only root filesystem (HOME, CUDA and torch caches). */
export const WRITABLE_PATH = "/tmp";

/** The extended resource the NVIDIA device plugin advertises and GPU pods request. */
export const GPU_RESOURCE = "nvidia.com/gpu";

/** The GPU pool's taint: only pods that tolerate it (scoring, device plugin) land on GPU nodes. */
export const GPU_TAINT = { key: "sku", value: "gpu", effect: "NoSchedule" } as const;
/** The taint as AKS's nodeTaints field spells it. */
export const GPU_TAINT_TEXT = `${GPU_TAINT.key}=${GPU_TAINT.value}:${GPU_TAINT.effect}`;
/** The toleration GPU pods carry for GPU_TAINT. */
export const GPU_TOLERATION = {
  key: GPU_TAINT.key,
  operator: "Equal",
  value: GPU_TAINT.value,
  effect: GPU_TAINT.effect,
} as const;

/** The GPU pool's node label, which the scoring pods and the device plugin select. */
export const GPU_NODE_LABEL = { key: "workload", value: "gpu-inference" } as const;

/**
 * The app's token, model deployment and model data collection variables (issue 23; app/scoring/core/settings.py,
 * core/tokens.py, observability/deployment.py, core/capture_settings.py), set by components/modelVersions.ts.
 */
export const VERSION_ENV = {
  /** keys | tokens | both. */
  authMode: "AUTH_MODE",
  /** Comma-separated `iss` values accepted (the tenant's v2.0 and v1 issuers). */
  tokenIssuers: "TOKEN_ISSUERS",
  /** Comma-separated `aud` values accepted (the app registration's client id and Application ID URI). */
  tokenAudiences: "TOKEN_AUDIENCES",
  tokenJwksUri: "TOKEN_JWKS_URI",
  /** The version slot (current, candidate), answered in the azureml-model-deployment header. */
  modelDeployment: "MODEL_DEPLOYMENT",
  registeredModelName: "REGISTERED_MODEL_NAME",
  registeredModelVersion: "REGISTERED_MODEL_VERSION",
  captureUrl: "CAPTURE_URL",
  captureSampleRate: "CAPTURE_SAMPLE_RATE",
  captureMaxBytes: "CAPTURE_MAX_BYTES",
  captureCredential: "CAPTURE_CREDENTIAL",
} as const;

/** The response header naming the model deployment that answered (as Azure ML's online endpoints send it). */
export const MODEL_DEPLOYMENT_HEADER = "azureml-model-deployment";
