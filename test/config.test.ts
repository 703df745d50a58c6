/** Config validation as a pure function: what passes, and every rejection with key, value and fix. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, parseStackSettings, type RawConfig } from "../components/config";
import { rolloutStrategy, terminationGraceSeconds } from "../components/rollout";
import { cpuQuantity, memoryQuantity } from "../components/scoringService";
import { devStackConfig } from "./harness";

function problems(raw: RawConfig): string[] {
  try {
    parseStackSettings(raw);
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
      [s.gpuPool.nodeCount, s.gpuPool.gpusPerNode, s.gpuPool.vCpus, s.gpuPool.memoryGiB],
      [3, 1, 4, 28],
    );
    assert.deepEqual([s.replicas.count, s.replicas.gpus, s.replicas.cpu, s.replicas.memoryGiB], [3, 1, 2, 4]);
    assert.deepEqual(s.warnings, []);
  });

  it("the dev stack (Standard_NC6) passes with a retirement warning naming the replacement and the key", () => {
    const s = parseStackSettings(devStackConfig());
    assert.equal(s.gpuPool.vmSize, "Standard_NC6");
    assert.equal(s.warnings.length, 1);
    assert.match(s.warnings[0], /retired by Azure on 2023-09-06/);
    assert.match(s.warnings[0], /pulumi config set gpuVmSize Standard_NC4as_T4_v3/);
  });

  it("a size outside the catalogue is accepted once its GPUs, vCPUs and memory are given", () => {
    const s = parseStackSettings({
      gpuVmSize: "Standard_NC8ads_A10_v4",
      gpusPerNode: "1",
      gpuVmVcpus: "8",
      gpuVmMemoryGiB: "100",
    });
    assert.deepEqual(
      [s.gpuPool.gpusPerNode, s.gpuPool.vCpus, s.gpuPool.memoryGiB, s.gpuPool.sku],
      [1, 8, 100, undefined],
    );
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
  it("an unknown VM size without its GPU count, vCPUs and memory", () =>
    rejects(
      { gpuVmSize: "Standard_NC8ads_A10_v4" },
      "gpuVmSize",
      '"Standard_NC8ads_A10_v4"',
      /set gpusPerNode, gpuVmVcpus, gpuVmMemoryGiB/,
    ));
  it("an unknown VM size with only some overrides names the missing ones", () =>
    rejects(
      { gpuVmSize: "Standard_NC8ads_A10_v4", gpusPerNode: "1" },
      "gpuVmSize",
      '"Standard_NC8ads_A10_v4"',
      /set gpuVmVcpus, gpuVmMemoryGiB for it/,
    ));
  it("a VM size that is not a size name", () =>
    rejects({ gpuVmSize: "NC6" }, "gpuVmSize", '"NC6"', /Standard_NC4as_T4_v3/));
  it("a display-style location", () =>
    rejects({ location: "West Europe" }, "location", '"West Europe"', /"westeurope"/));
  it("a malformed Kubernetes version", () =>
    rejects({ kubernetesVersion: "v1.35" }, "kubernetesVersion", '"v1.35"', /kubernetesVersion 1\.35/));
  it("a Kubernetes version AKS no longer supports", () =>
    rejects({ kubernetesVersion: "1.27" }, "kubernetesVersion", '"1.27"', /az aks get-versions/));
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
