/** Config validation as a pure function: what passes, and every rejection with key, value and fix. */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { ConfigError, type ParseContext, parseStackSettings, type RawConfig } from "../components/config";
import { gpuSizeRefusal, gpuSkuCatalogue } from "../components/gpuSkus";
import { rolloutStrategy, terminationGraceSeconds } from "../components/rollout";
import { cpuQuantity, memoryQuantity } from "../components/scoringService";
import { devStackConfig, ROOT } from "./harness";

function problems(raw: RawConfig, context?: ParseContext): string[] {
  try {
    parseStackSettings(raw, context);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return [...error.problems];
  }
  assert.fail(`config ${JSON.stringify(raw)} was accepted`);
}

/** One problem, naming the key and the value, with a fix. */
function rejects(raw: RawConfig, key: string, value: string, fix: RegExp): void {
  const found = problems(raw);
  assert.equal(found.length, 1, found.join("\n"));
  assert.ok(found[0].startsWith(`${key} = ${value}:`), found[0]);
  assert.match(found[0], /Fix: /);
  assert.match(found[0].slice(found[0].indexOf("Fix: ")), fix);
}

describe("accepted configs", () => {
  it("the defaults alone describe a deployable stack (T4 nodes, the seed's pod size)", () => {
    const s = parseStackSettings({});
    assert.equal(s.gpuPool.vmSize, "Standard_NC4as_T4_v3");
    assert.deepEqual(
      [s.gpuPool.nodeCount, s.gpuPool.gpusPerNode, s.gpuPool.vCpus, s.gpuPool.memoryGiB, s.gpuPool.maxSurge],
      [3, 1, 4, 28, 0],
    );
    assert.deepEqual([s.replicas.count, s.replicas.gpus, s.replicas.cpu, s.replicas.memoryGiB], [3, 1, 2, 4]);
    assert.equal(s.kubernetes.version, "1.36");
    assert.deepEqual(s.maintenance, {
      day: "Sunday",
      startTime: "02:00",
      utcOffset: "+00:00",
      durationHours: 4,
    });
  });

  it("the dev stack deploys Standard_NC4as_T4_v3, the seed's retired Standard_NC6 replaced", () => {
    const s = parseStackSettings(devStackConfig());
    assert.equal(s.gpuPool.vmSize, "Standard_NC4as_T4_v3");
    assert.equal(gpuSkuCatalogue.Standard_NC6.retired?.replacement, s.gpuPool.vmSize);
    assert.match(
      fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"),
      /stands for the seed's Standard_NC6/,
    );
  });

  it("azure-native:location is honoured when location is not set, and agreeing values pass", () => {
    assert.equal(parseStackSettings({}, { providerLocation: "westeurope" }).region.location, "westeurope");
    assert.equal(
      parseStackSettings({ location: "westeurope" }, { providerLocation: "westeurope" }).region.location,
      "westeurope",
    );
  });

  it("a GPU pool may surge within its quota during upgrades", () => {
    assert.equal(parseStackSettings({ gpuMaxSurge: "1" }).gpuPool.maxSurge, 1);
  });

  it("multi-GPU nodes may hold several pods", () => {
    const s = parseStackSettings({ gpuVmSize: "Standard_NC64as_T4_v3", gpuNodeCount: "1", replicas: "4" });
    assert.equal(s.replicas.count, 4);
  });
});

describe("rejected configs (each before any resource exists)", () => {
  it("replicas 0", () => rejects({ replicas: "0" }, "replicas", "0", /pulumi config set replicas 3/));
  it("replicas not a whole number", () =>
    rejects({ replicas: "three" }, "replicas", '"three"', /pulumi config set replicas <integer>/));
  it("more GPU pods than the pool has GPUs", () =>
    rejects({ replicas: "4", gpuNodeCount: "3" }, "replicas", "4", /gpuNodeCount 4, or lower replicas to 3/));
  it("more GPUs per pod than a node has", () =>
    rejects({ replicaGpus: "2" }, "replicaGpus", "2", /replicaGpus 1, or a larger gpuVmSize/));
  it("a CPU ask larger than a T4 node leaves after reservations", () =>
    rejects({ replicaCpu: "4" }, "replicaCpu", "4", /replicaCpu 3\.3, or a larger gpuVmSize/));
  it("a memory ask larger than the node leaves after reservations", () =>
    rejects(
      { replicaMemoryGiB: "27" },
      "replicaMemoryGiB",
      "27",
      /replicaMemoryGiB 2\d, or a larger gpuVmSize/,
    ));
  it("two pods per 4-GPU node that together outgrow its CPUs", () =>
    rejects(
      { gpuVmSize: "Standard_NC64as_T4_v3", gpuNodeCount: "1", replicas: "4", replicaCpu: "16" },
      "replicaCpu",
      "16",
      /or a larger gpuVmSize/,
    ));
  it("a retired size (the seed's Standard_NC6), naming its retirement date and replacement", () => {
    rejects({ gpuVmSize: "Standard_NC6" }, "gpuVmSize", '"Standard_NC6"', /gpuVmSize Standard_NC4as_T4_v3/);
    assert.match(problems({ gpuVmSize: "Standard_NC6" })[0], /retired by Azure on 2023-09-06/);
    assert.match(problems({ gpuVmSize: "Standard_NC6s_v3" })[0], /2025-09-30.*Standard_NC24ads_A100_v4/);
  });
  it("a size outside the catalogue, with the policy pack's own words", () => {
    const found = problems({ gpuVmSize: "Standard_NC8ads_A10_v4" });
    assert.equal(found.length, 1);
    assert.equal(
      found[0],
      `gpuVmSize = "Standard_NC8ads_A10_v4": ${gpuSizeRefusal("Standard_NC8ads_A10_v4")}`,
    );
    assert.match(
      found[0],
      /not in the GPU size catalogue .*Fix: pick a supported size \(Standard_NC4as_T4_v3, /,
    );
  });
  it("the old per-size override keys are gone, so a stack still setting them hears it", () =>
    assert.match(problems({ gpusPerNode: "1" })[0], /^gpusPerNode: is not a config key/));
  it("a VM size that is not a size name", () =>
    rejects({ gpuVmSize: "NC6" }, "gpuVmSize", '"NC6"', /Standard_NC4as_T4_v3/));
  it("a negative GPU upgrade surge", () =>
    rejects({ gpuMaxSurge: "-1" }, "gpuMaxSurge", "-1", /gpuMaxSurge 0 \(drain one node at a time\)/));
  it("a location that differs from the stack's azure-native:location", () => {
    const found = problems({ location: "eastus" }, { providerLocation: "westeurope" });
    assert.equal(found.length, 1);
    assert.match(
      found[0],
      /^location = "eastus": differs from this stack's azure-native:location \("westeurope"\)/,
    );
    assert.match(found[0], /Fix: set one region: pulumi config rm azure-native:location/);
  });
  it("a model file that does not exist", () =>
    rejects(
      { modelFile: "app/model/missing.npz" },
      "modelFile",
      '"app/model/missing.npz"',
      /python3 app\/train\.py/,
    ));
  it("a maintenance day that is not a weekday", () =>
    rejects({ maintenanceDay: "Sundays" }, "maintenanceDay", '"Sundays"', /maintenanceDay Sunday/));
  it("a maintenance start time that is not HH:mm", () =>
    rejects({ maintenanceStartTime: "2am" }, "maintenanceStartTime", '"2am"', /maintenanceStartTime 02:00/));
  it("a maintenance UTC offset AKS would refuse", () =>
    rejects({ maintenanceUtcOffset: "UTC+1" }, "maintenanceUtcOffset", '"UTC+1"', /\+01:00/));
  it("a maintenance window shorter than AKS allows", () =>
    rejects(
      { maintenanceDurationHours: "2" },
      "maintenanceDurationHours",
      "2",
      /maintenanceDurationHours 4/,
    ));
  it("a display-style location", () =>
    rejects({ location: "West Europe" }, "location", '"West Europe"', /"westeurope"/));
  it("a malformed Kubernetes version", () =>
    rejects({ kubernetesVersion: "v1.35" }, "kubernetesVersion", '"v1.35"', /kubernetesVersion 1\.35/));
  it("a Kubernetes version AKS no longer supports", () =>
    rejects({ kubernetesVersion: "1.27" }, "kubernetesVersion", '"1.27"', /az aks get-versions/));
  it("1.34, out of AKS standard support by December 2026 (LTS only, Premium tier)", () => {
    rejects({ kubernetesVersion: "1.34" }, "kubernetesVersion", '"1.34"', /kubernetesVersion 1\.35/);
    assert.match(problems({ kubernetesVersion: "1.34" })[0], /1\.31-1\.34 are LTS-only/);
  });
  it("a name prefix storage and registry names cannot take", () =>
    rejects({ namePrefix: "GPU-Inf" }, "namePrefix", '"GPU-Inf"', /namePrefix gpuinf/));
  it("a namespace that is not a DNS label", () =>
    rejects({ namespace: "Scoring_NS" }, "namespace", '"Scoring_NS"', /namespace scoring/));
  it("a kube- system namespace", () =>
    rejects({ namespace: "kube-system" }, "namespace", '"kube-system"', /scoring/));
  it("zero GPU nodes", () =>
    rejects({ gpuNodeCount: "0", replicas: "1" }, "gpuNodeCount", "0", /gpuNodeCount 3/));
  it("a fractional node count", () =>
    rejects({ systemNodeCount: "1.5" }, "systemNodeCount", '"1.5"', /systemNodeCount <integer>/));
  it("a non-boolean attachToWorkspace", () =>
    rejects({ attachToWorkspace: "yes" }, "attachToWorkspace", '"yes"', /attachToWorkspace true/));
  it("a model file outside the project", () =>
    rejects(
      { modelFile: "../weights.npz" },
      "modelFile",
      '"../weights.npz"',
      /modelFile app\/model\/mnist_mlp\.npz/,
    ));
  it("a compute name Azure ML refuses", () =>
    rejects(
      { computeName: "aks_gpu_cluster_for_scoring" },
      "computeName",
      '"aks_gpu_cluster_for_scoring"',
      /aks-gpu/,
    ));
  it("a key version below 1", () =>
    rejects({ primaryKeyVersion: "0" }, "primaryKeyVersion", "0", /increase it/));
  it("a zero drain time", () => rejects({ drainSeconds: "0" }, "drainSeconds", "0", /drainSeconds 20/));
  it("a misspelt key", () => {
    const found = problems({ replica: "3" });
    assert.equal(found.length, 1);
    assert.match(found[0], /^replica: is not a config key of this project .*Fix: pulumi config rm replica/);
  });
  it("reports every problem at once", () => {
    assert.equal(problems({ replicas: "0", location: "West Europe", namePrefix: "X" }).length, 3);
    const mixed = problems({
      gpuVmSize: "Standard_NC6",
      kubernetesVersion: "1.33",
      maintenanceDay: "Funday",
    });
    assert.deepEqual(
      mixed.map((p) => p.slice(0, p.indexOf(" ="))),
      ["kubernetesVersion", "gpuVmSize", "maintenanceDay"],
    );
  });
});

describe("rollout and pod sizing helpers", () => {
  it("surges only when the pool has a spare GPU", () => {
    assert.deepEqual(rolloutStrategy(3, 3, 1), { maxSurge: 0, maxUnavailable: 1 });
    assert.deepEqual(rolloutStrategy(4, 3, 1), { maxSurge: 1, maxUnavailable: 0 });
    assert.deepEqual(
      rolloutStrategy(5, 2, 2),
      { maxSurge: 0, maxUnavailable: 1 },
      "one spare GPU cannot host a 2-GPU pod",
    );
  });
  it("gives pods longer than preStop + drain before SIGKILL", () => {
    assert.ok(terminationGraceSeconds(10, 20) > 30);
  });
  it("formats Kubernetes quantities", () => {
    assert.deepEqual(
      [cpuQuantity(2), cpuQuantity(1.5), memoryQuantity(4), memoryQuantity(1.5)],
      ["2", "1500m", "4Gi", "1536Mi"],
    );
  });
});
