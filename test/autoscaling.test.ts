/**
 * Issue 22 under mocks: a stack with autoscale on (KEDA add-on and ScaledObject on the pods' mean
 * in-flight requests, the GPU pool's cluster autoscaler, warm headroom, the serving knobs), and the dev
 * stack with it off (a fixed replica count, no scaler), each as the program declares it.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { APP_ENV, GPU_RESOURCE } from "../components/appContract";
import { HPA_BEHAVIOR, KEDA_OPERATOR, WARM_PLACEHOLDER_PRIORITY } from "../components/autoscaling";
import { configSchema } from "../components/configSchema";
import { builtInRoles } from "../components/roles";
import {
  devStackConfig,
  findAll,
  findOne,
  get,
  MOCK,
  outputValue,
  type ProgramRun,
  type Recorded,
  runProgram,
} from "./harness";

const T = {
  cluster: "azure-native:containerservice:ManagedCluster",
  pool: "azure-native:containerservice:AgentPool",
  identity: "azure-native:managedidentity:UserAssignedIdentity",
  federation: "azure-native:managedidentity:FederatedIdentityCredential",
  role: "azure-native:authorization:RoleAssignment",
  amw: "azure-native:monitor:AzureMonitorWorkspace",
  deployment: "kubernetes:apps/v1:Deployment",
  custom: "kubernetes:keda.sh/v1alpha1:ScaledObject",
  auth: "kubernetes:keda.sh/v1alpha1:TriggerAuthentication",
  priority: "kubernetes:scheduling.k8s.io/v1:PriorityClass",
} as const;

const AUTOSCALED = {
  ...devStackConfig(),
  autoscale: "true",
  autoscaleMinReplicas: "2",
  autoscaleMaxReplicas: "5",
  autoscaleRefreshSeconds: "30",
  autoscaleTargetUtilization: "50",
  gpuNodeMinCount: "2",
  // The recorded quota (24 T4-family vCPUs) covers 6 nodes: the preflight checks the pool's maximum.
  gpuNodeMaxCount: "6",
  autoscaleWarmReplicas: "1",
  replicaMaxConcurrentRequests: "10",
  maxRequestWaitTimeMs: "250",
  scoringTimeoutMs: "5000",
  livenessPeriodSeconds: "20",
  livenessInitialDelaySeconds: "30",
  livenessTimeoutSeconds: "3",
  livenessFailureThreshold: "4",
  readinessPeriodSeconds: "7",
  readinessInitialDelaySeconds: "1",
  readinessTimeoutSeconds: "4",
  readinessSuccessThreshold: "2",
  readinessFailureThreshold: "5",
  replicaCpuLimit: "3",
  replicaMemoryLimitGiB: "6",
};

const scoringDeployment = (run: ProgramRun): Recorded =>
  findAll(run.resources, T.deployment).find((d) => d.name === "scoring-deployment") as Recorded;
const scoringContainer = (run: ProgramRun): Record<string, unknown> =>
  (get(scoringDeployment(run), "spec.template.spec.containers") as Record<string, unknown>[])[0];
const envOf = (container: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries((container.env as { name: string; value?: unknown }[]).map((e) => [e.name, e.value]));

describe("autoscale on", () => {
  let run: ProgramRun;
  before(async () => {
    run = await runProgram({ config: AUTOSCALED });
  });

  it("turns on the KEDA add-on and the GPU pool's cluster autoscaler with its own min and max", () => {
    const cluster = findOne(run.resources, T.cluster);
    assert.deepEqual(get(cluster, "workloadAutoScalerProfile"), { keda: { enabled: true } });
    assert.equal(get(cluster, "autoScalerProfile.scaleDownUnneededTime"), "10m");
    const pool = findOne(run.resources, T.pool);
    assert.deepEqual(
      [get(pool, "enableAutoScaling"), get(pool, "minCount"), get(pool, "maxCount"), get(pool, "count")],
      // Created with room for the minimum replicas and the warm placeholder.
      [true, 2, 6, 3],
    );
    // The cluster autoscaler owns the count from then on.
    assert.deepEqual(pool.options.ignoreChanges, ["count"]);
  });

  it("leaves the Deployment's replica count to the autoscaler", () => {
    assert.equal(get(scoringDeployment(run), "spec.replicas"), undefined);
  });

  it("scales the scoring Deployment on CPU utilization and on the pods' mean in-flight requests against their slots", () => {
    const scaled = findOne(run.resources, T.custom);
    const spec = get(scaled, "spec") as Record<string, unknown>;
    assert.equal(get(scaled, "metadata.namespace"), "scoring");
    // The Deployment's generated name, as the mock reports it.
    assert.equal(get(spec, "scaleTargetRef.name"), "scoring-deployment-k8sid");
    assert.deepEqual([spec.minReplicaCount, spec.maxReplicaCount, spec.pollingInterval], [2, 5, 30]);
    assert.deepEqual(get(spec, "advanced.horizontalPodAutoscalerConfig.behavior"), HPA_BEHAVIOR);
    const [cpu, trigger] = spec.triggers as Record<string, unknown>[];
    // CPU at the target utilization (50 %) of the scoring container's request.
    assert.deepEqual(cpu, {
      type: "cpu",
      metricType: "Utilization",
      metadata: { value: "50", containerName: "scoring" },
    });
    assert.equal(trigger.type, "prometheus");
    assert.equal(trigger.metricType, "AverageValue");
    assert.equal(trigger.useCachedMetrics, true);
    const metadata = trigger.metadata as Record<string, string>;
    // In-flight requests against the 10 slots each pod has.
    assert.equal(metadata.threshold, "10");
    assert.equal(
      metadata.query,
      'sum(rate(scoring_request_seconds_sum{job="scoring",namespace="scoring",route=~"/score|/v2/models/.+/infer"}[120s]))',
    );
    // The stack's one Azure Monitor workspace's query endpoint (as the mock reports it).
    findOne(run.resources, T.amw);
    assert.match(
      metadata.serverAddress,
      /^https:\/\/monitoring-prometheus\w*\.eastus\.prometheus\.monitor\.azure\.com$/,
    );
    assert.equal(
      get(trigger, "authenticationRef.name"),
      get(findOne(run.resources, T.auth), "metadata.name"),
    );
  });

  it("signs KEDA in to the Azure Monitor workspace with workload identity, read-only", () => {
    const auth = findOne(run.resources, T.auth);
    assert.deepEqual(get(auth, "spec.podIdentity"), {
      provider: "azure-workload",
      identityId: MOCK.modelIdentityClientId,
    });
    const federation = findAll(run.resources, T.federation).find(
      (f) => f.name === "autoscaling-keda-federation",
    );
    assert.ok(federation);
    assert.equal(
      get(federation, "subject"),
      `system:serviceaccount:${KEDA_OPERATOR.namespace}:${KEDA_OPERATOR.serviceAccount}`,
    );
    assert.equal(get(federation, "issuer"), MOCK.oidcIssuerUrl);
    assert.deepEqual(get(federation, "audiences"), ["api://AzureADTokenExchange"]);
    const grant = findAll(run.resources, T.role).find((r) => r.name === "autoscaling-keda-metrics-reader");
    assert.ok(grant);
    assert.match(String(get(grant, "roleDefinitionId")), new RegExp(`${builtInRoles.MonitoringDataReader}$`));
    assert.match(String(get(grant, "scope")), /AzureMonitorWorkspace|monitor/i);
  });

  it("keeps one warm GPU node with placeholders the scoring pods evict", () => {
    const priority = findOne(run.resources, T.priority);
    assert.equal(get(priority, "value"), WARM_PLACEHOLDER_PRIORITY);
    assert.equal(get(priority, "preemptionPolicy"), "Never");
    const warm = findAll(run.resources, T.deployment).find((d) => d.name === "autoscaling-warm-headroom");
    assert.ok(warm);
    assert.equal(get(warm, "spec.replicas"), 1);
    const pod = get(warm, "spec.template.spec") as Record<string, unknown>;
    assert.equal(pod.priorityClassName, "autoscaling-warm-priority-k8sid");
    const [placeholder] = pod.containers as Record<string, unknown>[];
    // The scoring image, so the warm node has it pulled; a scoring pod's size, so it holds a GPU.
    assert.equal(placeholder.image, scoringContainer(run).image);
    assert.deepEqual(
      get(placeholder, "resources.requests"),
      get(scoringContainer(run), "resources.requests"),
    );
    assert.equal((get(placeholder, "resources.limits") as Record<string, string>)[GPU_RESOURCE], "1");
  });

  it("passes the seed's serving knobs to the app and its probes, limits apart from requests", () => {
    const container = scoringContainer(run);
    const env = envOf(container);
    assert.equal(env[APP_ENV.maxConcurrentRequests], "10");
    assert.equal(env[APP_ENV.maxRequestWaitTimeMs], "250");
    assert.equal(env[APP_ENV.scoringTimeoutMs], "5000");
    assert.deepEqual(get(container, "livenessProbe"), {
      httpGet: { path: "/", port: "http" },
      periodSeconds: 20,
      initialDelaySeconds: 30,
      timeoutSeconds: 3,
      successThreshold: 1,
      failureThreshold: 4,
    });
    assert.deepEqual(get(container, "readinessProbe"), {
      httpGet: { path: "/ready", port: "http" },
      periodSeconds: 7,
      initialDelaySeconds: 1,
      timeoutSeconds: 4,
      successThreshold: 2,
      failureThreshold: 5,
    });
    assert.deepEqual(get(container, "resources"), {
      requests: { cpu: "2", memory: "4Gi", [GPU_RESOURCE]: "1" },
      limits: { cpu: "3", memory: "6Gi", [GPU_RESOURCE]: "1" },
    });
  });

  it("states the cost at the pool's minimum and maximum and what the scaler adds", async () => {
    const line = run.infos.find((m) => m.startsWith("Autoscaling cost:"));
    assert.ok(line, run.infos.join("\n"));
    // 3 nodes (2 + 1 warm) to 6 × $0.526 per node-hour × 730 h.
    assert.match(
      line,
      /\$1,151\.94 per month at the minimum \(3 node\(s\) around the clock\) to \$2,303\.88 at the maximum \(6\)/,
    );
    assert.match(line, /Warm headroom keeps 1 more node\(s\) booted: \$383\.98 per month/);
    assert.match(line, /KEDA's managed Prometheus queries, one every 30 s/);
    // The GPU cost line states the pool's ceiling: 6 nodes.
    assert.ok(
      run.infos.some((m) => /^GPU cost: 6 × Standard_NC4as_T4_v3/.test(m)),
      run.infos.join("\n"),
    );
    assert.deepEqual(await outputValue(run.outputs.autoscaleReplicas), { min: 2, max: 5 });
  });
});

describe("autoscale against the quota", () => {
  it("the preflight refuses a pool maximum the subscription's quota cannot cover", async () => {
    await assert.rejects(
      runProgram({ config: { ...AUTOSCALED, autoscaleMaxReplicas: "6", gpuNodeMaxCount: "7" } }),
      /needed 28 \(GPU pool 7 × 4\), available 24/,
    );
  });
});

describe("autoscale off (the dev stack)", () => {
  let run: ProgramRun;
  before(async () => {
    run = await runProgram({ config: devStackConfig() });
  });

  it("declares no scaler: a fixed replica count, a fixed pool, no KEDA", () => {
    assert.equal(findAll(run.resources, T.custom).length, 0);
    assert.equal(findAll(run.resources, T.auth).length, 0);
    assert.equal(findAll(run.resources, T.priority).length, 0);
    assert.equal(get(findOne(run.resources, T.cluster), "workloadAutoScalerProfile"), undefined);
    const pool = findOne(run.resources, T.pool);
    assert.deepEqual([get(pool, "enableAutoScaling"), get(pool, "count")], [undefined, 3]);
    assert.equal(get(scoringDeployment(run), "spec.replicas"), 3);
    assert.equal(run.infos.filter((m) => m.startsWith("Autoscaling cost:")).length, 0);
  });

  it("still enforces the serving knobs, at their defaults, with Guaranteed QoS", () => {
    const container = scoringContainer(run);
    const env = envOf(container);
    assert.equal(
      env[APP_ENV.maxConcurrentRequests],
      String(configSchema.replicaMaxConcurrentRequests.default),
    );
    assert.equal(env[APP_ENV.maxRequestWaitTimeMs], String(configSchema.maxRequestWaitTimeMs.default));
    assert.equal(env[APP_ENV.scoringTimeoutMs], String(configSchema.scoringTimeoutMs.default));
    assert.deepEqual(get(container, "resources.requests"), get(container, "resources.limits"));
    assert.equal(get(container, "livenessProbe.periodSeconds"), configSchema.livenessPeriodSeconds.default);
    assert.equal(
      get(container, "readinessProbe.failureThreshold"),
      configSchema.readinessFailureThreshold.default,
    );
  });
});
