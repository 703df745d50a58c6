/**
 * The first `pulumi up` completes in one run (issue 21). The harness models what Azure documents (a new
 * cluster-admin grant reaches the API server minutes later; one AKS operation per cluster at a time; the
 * Azure ML extension refuses an install without the settings the CLI adds; a new Log Analytics workspace
 * lacks its tables for minutes and a data collection rule naming a missing table is refused), and these tests
 * show the program surviving each, and the old wiring failing under the same model.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import {
  ACCESS_POLL_INTERVAL_MS,
  ClusterAccessError,
  type KubePost,
  PROGRAM_NEEDS,
  waitForClusterAccess,
} from "../components/clusterAccess";
import { AZUREML_WORKLOAD_NAMESPACE, cliGeneratedSettings } from "../components/computeAttachment";
import { CLUSTER_OPERATIONS } from "../components/gpuCluster";
import {
  destinationTables,
  INSIGHTS_POLL_INTERVAL_MS,
  InsightsDestinationError,
  LOG_ANALYTICS_API_VERSION,
  waitForInsightsDestination,
} from "../components/insightsReadiness";
import { CONTAINER_INSIGHTS_STREAMS } from "../components/monitoring";
import { ArmError, type ArmGet } from "../components/preflight/arm";
import {
  CLUSTER_OPERATION_TYPES,
  checkAzureMlExtension,
  devStackConfig,
  findOne,
  get,
  logAnalyticsReadOf,
  MOCK,
  MODEL_RBAC_PROPAGATION_MS,
  MODEL_TABLES_DELAY_MS,
  type ProgramRun,
  programFailure,
  type Recorded,
  resourceKey,
  runProgram,
} from "./harness";

const T = {
  provider: "pulumi:providers:kubernetes",
  extension: "azure-native:kubernetesconfiguration:Extension",
  compute: "azure-native:machinelearningservices:Compute",
  namespace: "kubernetes:core/v1:Namespace",
  role: "azure-native:authorization:RoleAssignment",
} as const;

let run: ProgramRun;
before(async () => {
  run = await runProgram({ config: devStackConfig() });
});

describe("finding 1: Kubernetes objects wait until the API server grants the deployer access", () => {
  it("a first up waits out the grant's propagation (virtual minutes), says so twice, and then creates every Kubernetes object", () => {
    // The model refuses every Kubernetes create before the grant arrives, so reaching here means none came early.
    assert.ok(run.virtualMs >= MODEL_RBAC_PROPAGATION_MS, `waited ${run.virtualMs} ms`);
    assert.ok(run.virtualMs < MODEL_RBAC_PROPAGATION_MS + 2 * ACCESS_POLL_INTERVAL_MS);
    const lines = run.infos.filter((line) => /Kubernetes API/.test(line));
    assert.equal(lines.length, 2);
    assert.match(
      lines[0],
      /^waiting for the cluster-admin grant to reach the Kubernetes API \(Azure documents up to five minutes; this gives up after 10 minutes\): create namespaces: not allowed/,
    );
    assert.match(lines[1], /^the Kubernetes API grants the deployer access after 240 s$/);
    assert.ok(run.resources.some((r) => r.type === T.namespace));
  });

  it("the old program, which created Kubernetes objects right after the grant, fails with 403 under the same model", async () => {
    // A wait that checks nothing is the old program: its first Namespace meets the propagation delay.
    assert.match(
      programFailure({ config: devStackConfig(), accessReviewAlwaysAllowed: true }) ?? "it succeeded",
      /403 Forbidden creating kubernetes:.*User does not have access to the resource in Azure/,
    );
  });

  it("a grant that never arrives (deployerObjectId names someone else) stops the update with a message naming who and what", async () => {
    const other = "99999999-8888-7777-6666-555555555555";
    const error =
      programFailure({ config: { ...devStackConfig(), deployerObjectId: other } }) ?? "it succeeded";
    assert.match(error, new RegExp(`still refuses the deployer \\(${other}\\) after 600 s`));
    assert.match(error, /create namespaces: not allowed/);
    assert.match(error, /deployerObjectId names the identity that runs pulumi up/);
  });

  it("a preview neither waits nor asks the API server", async () => {
    const preview = await runProgram({ config: devStackConfig(), preview: true });
    assert.equal(preview.virtualMs, 0);
    assert.equal(preview.infos.filter((line) => /Kubernetes API/.test(line)).length, 0);
  });

  it("waitForClusterAccess: retries refusals and network errors, resolves once all checks pass, bounded", async () => {
    let now = 0;
    const clock = {
      now: () => now,
      sleep: async (ms: number) => {
        now += ms;
      },
    };
    let calls = 0;
    const post: KubePost = async () => {
      calls += 1;
      if (calls === 1) throw new Error("ECONNREFUSED");
      if (now < 30_000) return { status: 403, body: { kind: "Status" } };
      return { status: 201, body: { status: { allowed: true } } };
    };
    const done = await waitForClusterAccess(post, PROGRAM_NEEDS, {
      principal: "p",
      clock,
      intervalMs: 10_000,
    });
    assert.deepEqual(done, { attempts: 4, waitedMs: 30_000 });

    now = 0;
    const never: KubePost = async () => ({ status: 201, body: { status: { allowed: false, reason: "no" } } });
    await assert.rejects(
      waitForClusterAccess(never, PROGRAM_NEEDS, {
        principal: "p",
        clock,
        intervalMs: 10_000,
        timeoutMs: 60_000,
      }),
      (error: unknown) =>
        error instanceof ClusterAccessError &&
        /after 60 s and 7 attempts: create namespaces: not allowed \(no\); create configmaps in kube-system/.test(
          error.message,
        ),
    );
  });
});

/** Cluster-mutating resources and the cluster each one targets. */
function clusterOperations(resources: readonly Recorded[]): Map<string, string> {
  const ops = new Map<string, string>();
  for (const r of resources) {
    const key = CLUSTER_OPERATION_TYPES[r.type];
    if (key !== undefined) ops.set(resourceKey(r), String(get(r, key) ?? r.name));
  }
  return ops;
}

/**
 * Replays the dependency graph as the engine does: each resource starts when everything it depends on is
 * done (create) or when everything depending on it is gone (destroy). An AKS operation takes one unit of
 * time, everything else none. Returns each pair of AKS operations on one cluster that overlap: AKS answers
 * the second 409 OperationNotAllowed.
 */
function conflicts(
  resources: readonly Recorded[],
  edges: ReadonlyMap<string, readonly string[]>,
  direction: "create" | "destroy",
): string[] {
  const ops = clusterOperations(resources);
  const names = resources.map(resourceKey);
  const before = new Map<string, string[]>(names.map((n) => [n, []]));
  for (const [from, deps] of edges)
    for (const dep of deps) {
      if (!before.has(dep) || !before.has(from)) continue;
      if (direction === "create") before.get(from)?.push(dep);
      else before.get(dep)?.push(from);
    }
  const finish = new Map<string, number>();
  const start = new Map<string, number>();
  const visit = (name: string, stack: Set<string>): number => {
    const known = finish.get(name);
    if (known !== undefined) return known;
    assert.ok(!stack.has(name), `dependency cycle at ${name}`);
    stack.add(name);
    const begins = Math.max(0, ...(before.get(name) ?? []).map((d) => visit(d, stack)));
    stack.delete(name);
    start.set(name, begins);
    finish.set(name, begins + (ops.has(name) ? 1 : 0));
    return begins + (ops.has(name) ? 1 : 0);
  };
  for (const n of names) visit(n, new Set());
  const found: string[] = [];
  const list = [...ops.keys()];
  for (const [i, a] of list.entries())
    for (const b of list.slice(i + 1)) {
      if (ops.get(a) !== ops.get(b)) continue;
      const overlap =
        (start.get(a) ?? 0) < (finish.get(b) ?? 0) && (start.get(b) ?? 0) < (finish.get(a) ?? 0);
      if (overlap) found.push(`${a.split("::")[1]} ∥ ${b.split("::")[1]}`);
    }
  return found;
}

function dependencyEdges(resources: readonly Recorded[]): Map<string, string[]> {
  return new Map(resources.map((r) => [resourceKey(r), [...r.options.dependencies]]));
}

describe("finding 2: one AKS operation at a time, on create and on destroy", () => {
  it("the program's AKS operations run one after the other under the 409 model (the default run would have failed otherwise)", () => {
    const ops = clusterOperations(run.resources);
    assert.deepEqual(
      [...ops.keys()].map((key) => key.split("::")[1]).sort(),
      ["gpu-aks", ...CLUSTER_OPERATIONS.map((op) => `gpu-${op}`)].sort(),
    );
    assert.deepEqual(conflicts(run.resources, dependencyEdges(run.resources), "create"), []);
    assert.deepEqual(conflicts(run.resources, dependencyEdges(run.resources), "destroy"), []);
  });

  it("chains them in CLUSTER_OPERATIONS order: each depends on the one before", () => {
    const keyOf = (name: string): string =>
      resourceKey(run.resources.find((r) => r.name === name) as Recorded);
    const chain = ["gpu-aks", ...CLUSTER_OPERATIONS.map((op) => `gpu-${op}`)].map(keyOf);
    const edges = dependencyEdges(run.resources);
    for (const [i, key] of chain.entries())
      if (i > 0) assert.ok(edges.get(key)?.includes(chain[i - 1]), `${key} depends on ${chain[i - 1]}`);
  });

  it("the old wiring (each child depending only on the cluster) sends them at once and meets 409, on create and destroy", () => {
    const ops = clusterOperations(run.resources);
    const old = new Map(
      [...dependencyEdges(run.resources)].map(([name, deps]) => [
        name,
        ops.has(name) ? deps.filter((d) => !ops.has(d) || d.endsWith("::gpu-aks")) : deps,
      ]),
    );
    const created = conflicts(run.resources, old, "create");
    assert.ok(created.includes("gpu-upgrade-window ∥ gpu-gpu-pool"), created.join(", "));
    assert.ok(created.includes("gpu-gpu-pool ∥ gpu-azureml-extension"), created.join(", "));
    assert.ok(conflicts(run.resources, old, "destroy").length >= 3);
  });
});

describe("finding 3: the Azure ML extension gets the settings `az k8s-extension create` sends for managed clusters", () => {
  it("sends them, and the extension's health-check model accepts the program's extension", () => {
    const extension = findOne(run.resources, T.extension);
    const settings = get(extension, "configurationSettings") as Record<string, string>;
    const cluster = findOne(run.resources, "azure-native:containerservice:ManagedCluster");
    const clusterId = String(get(cluster, "id") ?? "");
    for (const key of ["clusterId", "cluster_name", "prometheus.prometheusSpec.externalLabels.cluster_name"])
      assert.match(settings[key], /managedClusters|ManagedCluster/, key);
    assert.equal(clusterId === "" || settings.clusterId === clusterId, true);
    assert.equal(settings.location, "eastus");
    assert.equal(settings.jobSchedulerLocation, "eastus");
    assert.equal(settings.domain, "eastus.cloudapp.azure.com");
    assert.equal(settings["relayserver.enabled"], "false");
    assert.equal(settings["servicebus.enabled"], "false");
    assert.equal(settings["nginxIngress.enabled"], "true");
    assert.equal(settings.enableInference, "True");
    // Five nodes (2 system + 3 GPU): not the CLI's small-scale case.
    assert.equal(settings.clusterPurpose, undefined);
    assert.doesNotThrow(() => checkAzureMlExtension(extension.inputs));
  });

  it("the old settings (only the user-facing keys) fail the model's pre-install health check", () => {
    const extension = findOne(run.resources, T.extension);
    const settings = get(extension, "configurationSettings") as Record<string, string>;
    const generated = Object.keys(
      cliGeneratedSettings({ clusterId: "x", clusterName: "y", location: "eastus", nodeCount: 5 }),
    );
    const old = Object.fromEntries(Object.entries(settings).filter(([key]) => !generated.includes(key)));
    assert.throws(
      () => checkAzureMlExtension({ ...extension.inputs, configurationSettings: old }),
      /failed pre-install: pod healthcheck failed \(settings missing or wrong: clusterId, cluster_name, location/,
    );
  });

  it("below three nodes the CLI marks the cluster DevTest", () => {
    assert.equal(
      cliGeneratedSettings({ clusterId: "i", clusterName: "n", location: "EastUS", nodeCount: 2 })
        .clusterPurpose,
      "DevTest",
    );
  });

  it("finding 8: the compute target's workloads get their own namespace, created before the attach", () => {
    const compute = findOne(run.resources, T.compute);
    assert.equal(get(compute, "properties.properties.namespace"), AZUREML_WORKLOAD_NAMESPACE);
    const namespace = run.resources.find(
      (r) => r.type === T.namespace && get(r, "metadata.name") === AZUREML_WORKLOAD_NAMESPACE,
    );
    assert.ok(namespace);
    assert.ok(compute.options.dependencies.includes(resourceKey(namespace)));
  });
});

describe("finding 5: a preview or run by another identity plans no replacement", () => {
  const DEPLOYER = "11111111-2222-3333-4444-555555555555";
  const principalInputs = (r: ProgramRun): Record<string, unknown> =>
    Object.fromEntries(
      r.resources
        .filter((x) => x.type === T.role || x.type === T.provider)
        .map((x) => [
          x.name,
          x.type === T.provider
            ? { kubeconfig: get(x, "kubeconfig"), clusterIdentifier: get(x, "clusterIdentifier") }
            : { principalId: get(x, "principalId"), roleDefinitionId: get(x, "roleDefinitionId") },
        ]),
    );

  it("with deployerObjectId set, the deploy identity's up and another identity's preview declare the same grants and provider", async () => {
    const config = { ...devStackConfig(), deployerObjectId: DEPLOYER, managedGrafana: "true" };
    const up = await runProgram({ config, runner: DEPLOYER });
    const preview = await runProgram({ config, runner: "preview-identity-oid", preview: true });
    assert.deepEqual(principalInputs(preview), principalInputs(up));
    assert.equal(get(findOne(up.resources, T.role, "gpu-deployer-cluster-admin"), "principalId"), DEPLOYER);
    // The kubeconfig is known at preview (no grant id, no token in it).
    assert.equal(typeof get(findOne(preview.resources, T.provider), "kubeconfig"), "string");
  });

  it("without it, the grants follow whoever runs (what the setting prevents)", async () => {
    const preview = await runProgram({
      config: devStackConfig(),
      runner: "preview-identity-oid",
      preview: true,
    });
    assert.notDeepEqual(principalInputs(preview), principalInputs(run));
  });
});

describe("finding 6: no token in the state", () => {
  it("no resource input carries the deployer's Entra token for the AKS server app", () => {
    for (const r of run.resources)
      assert.ok(
        !JSON.stringify(r.inputs).includes(MOCK.aksAudienceToken),
        `${r.type} ${r.name} holds the token`,
      );
  });
});

describe("finding 8: the Container Insights rule waits for the new Log Analytics workspace's tables", () => {
  const DCR = "azure-native:monitor:DataCollectionRule";
  const LOGS = "azure-native:operationalinsights:Workspace";

  it("the streams' tables are ContainerLogV2, KubeEvents and KubePodInventory; a custom stream is refused", () => {
    assert.deepEqual(destinationTables(CONTAINER_INSIGHTS_STREAMS), [
      "ContainerLogV2",
      "KubeEvents",
      "KubePodInventory",
    ]);
    assert.throws(() => destinationTables(["Custom-MyTable_CL"]), /not a standard Microsoft-<Table> stream/);
  });

  it("a first up reads the workspace and each table as the deployer until they exist, says so twice, then creates the rule", () => {
    // The model refuses the rule before the tables exist, so reaching here means it came after them.
    assert.ok(run.insightsVirtualMs >= MODEL_TABLES_DELAY_MS, `waited ${run.insightsVirtualMs} ms`);
    assert.ok(run.insightsVirtualMs < MODEL_TABLES_DELAY_MS + 2 * INSIGHTS_POLL_INTERVAL_MS);
    const lines = run.infos.filter((line) => /Container Insights rule/.test(line));
    assert.equal(lines.length, 2);
    assert.match(
      lines[0],
      /^waiting for the new Log Analytics workspace's tables before creating the Container Insights rule \(this gives up after 10 minutes\): workspace: provisioningState ProvisioningAccount; table ContainerLogV2: not found \(404\); table KubeEvents: not found \(404\); table KubePodInventory: not found \(404\)$/,
    );
    assert.match(lines[1], /^the Log Analytics workspace takes the Container Insights rule after 180 s$/);

    const reads = run.fetchCalls.filter((c) => logAnalyticsReadOf(c.url) !== undefined);
    const tables = new Set(reads.map((c) => logAnalyticsReadOf(c.url)?.table).filter((t) => t !== undefined));
    assert.deepEqual([...tables].sort(), ["ContainerLogV2", "KubeEvents", "KubePodInventory"]);
    // The mocks' id of the workspace (no own name field: `<logical name>abc123`), which the program read.
    const workspaceId = `/subscriptions/${MOCK.subscriptionId}/resourceGroups/rg/providers/${LOGS}/${findOne(run.resources, LOGS).name}abc123`;
    for (const call of reads) {
      assert.equal(call.method, "GET");
      assert.equal(call.authorization, `Bearer ${MOCK.armToken}`);
      assert.equal(new URL(call.url).searchParams.get("api-version"), LOG_ANALYTICS_API_VERSION);
      assert.ok(new URL(call.url).pathname.startsWith(workspaceId), call.url);
    }
    const rule = findOne(run.resources, DCR, "monitoring-insights-dcr");
    const destination = get(rule, "destinations.logAnalytics") as { workspaceResourceId: string }[];
    assert.equal(destination.length, 1);
    assert.equal(destination[0].workspaceResourceId, workspaceId);
    for (const r of run.resources)
      assert.ok(!JSON.stringify(r.inputs).includes(MOCK.armToken), `${r.type} ${r.name} holds the ARM token`);
  });

  it("the old program, which created the rule as soon as the workspace existed, fails with 400 InvalidOutputTable under the same model", () => {
    // Reads that answer "ready" at once are the old program: its rule meets the workspace without tables.
    assert.match(
      programFailure({ config: devStackConfig(), logAnalyticsAlwaysReady: true }) ?? "it succeeded",
      /400 InvalidPayload creating data collection rule monitoring-insights-dcr: .*InvalidOutputTable: Table for output stream 'Microsoft-ContainerLogV2' is not available for destination 'ciworkspace'/,
    );
  });

  it("a table that never appears stops the update within the bound, naming the table and what to check", () => {
    const error =
      programFailure({ config: devStackConfig(), missingLogAnalyticsTables: ["KubeEvents"] }) ??
      "it succeeded";
    assert.match(
      error,
      /is still not ready for the Container Insights data collection rule after 600 s and 41 attempts/,
    );
    assert.match(error, /: table KubeEvents: not found \(404\)\. /);
    assert.doesNotMatch(error, /table ContainerLogV2|table KubePodInventory|workspace: provisioningState/);
    assert.match(error, /run pulumi up again once the tables show/);
  });

  it("a preview neither waits nor reads the workspace", async () => {
    const preview = await runProgram({ config: devStackConfig(), preview: true });
    assert.equal(preview.insightsVirtualMs, 0);
    assert.equal(preview.fetchCalls.filter((c) => logAnalyticsReadOf(c.url) !== undefined).length, 0);
    assert.equal(preview.infos.filter((line) => /Container Insights rule/.test(line)).length, 0);
  });

  it("waitForInsightsDestination: retries 404s, other errors and unfinished states, resolves when all are ready, bounded", async () => {
    let now = 0;
    const clock = {
      now: () => now,
      sleep: async (ms: number) => {
        now += ms;
      },
    };
    const ws = "/subscriptions/s/resourceGroups/g/providers/Microsoft.OperationalInsights/workspaces/w";
    let calls = 0;
    const get: ArmGet = async (path) => {
      calls += 1;
      if (calls === 1) throw new Error("ECONNRESET");
      if (!path.includes("/tables/")) return { properties: { provisioningState: "Succeeded" } };
      if (now < 20_000) throw new ArmError(404, "ResourceNotFound", path, "not found");
      if (now < 30_000) return { properties: { provisioningState: "Updating" } };
      return { properties: { provisioningState: "InProgress" } };
    };
    const done = await waitForInsightsDestination(get, ws, ["KubeEvents"], { clock, intervalMs: 10_000 });
    assert.deepEqual(done, { attempts: 4, waitedMs: 30_000 });

    now = 0;
    const forbidden: ArmGet = async (path) => {
      throw new ArmError(403, "AuthorizationFailed", path, "no read");
    };
    await assert.rejects(
      waitForInsightsDestination(forbidden, ws, ["KubeEvents"], {
        clock,
        intervalMs: 10_000,
        timeoutMs: 60_000,
      }),
      (error: unknown) =>
        error instanceof InsightsDestinationError &&
        /after 60 s and 7 attempts: workspace: AuthorizationFailed \(HTTP 403\); table KubeEvents: AuthorizationFailed \(HTTP 403\)\./.test(
          error.message,
        ),
    );
  });
});
