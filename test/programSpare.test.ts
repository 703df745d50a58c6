/**
 * A stack with a spare GPU (4 T4 nodes, 3 replicas), not attached to the workspace, with the primary
 * key rotated: the rollout surges, nothing is retired, and the rotation rolls the pods.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { findAll, findOne, get, outputValue, type ProgramRun, runProgram } from "./harness";

let run: ProgramRun;
before(async () => {
  run = await runProgram({
    config: {
      gpuVmSize: "Standard_NC4as_T4_v3",
      gpuNodeCount: "4",
      replicas: "3",
      attachToWorkspace: "false",
      primaryKeyVersion: "2",
    },
  });
});

describe("spare GPU capacity", () => {
  it("surges one pod before stopping any, so capacity never dips", () => {
    assert.deepEqual(
      get(findOne(run.resources, "kubernetes:apps/v1:Deployment"), "spec.strategy.rollingUpdate"),
      {
        maxSurge: 1,
        maxUnavailable: 0,
      },
    );
  });

  it("sizes the pool from config and warns about nothing for a supported size", () => {
    const pool = findOne(run.resources, "azure-native:containerservice:AgentPool");
    assert.deepEqual([get(pool, "vmSize"), get(pool, "count")], ["Standard_NC4as_T4_v3", 4]);
    assert.deepEqual(run.warnings, []);
  });
});

describe("cost at preview", () => {
  it("logs the T4 pool's node-hours and price per day and month, with the price's date and source", () => {
    // The preflight, the GPU cost, then the monitoring estimate (4 GPU nodes, 2 system nodes, 3 replicas),
    // besides the two lines each of the Kubernetes access wait and the Log Analytics tables wait
    // (test/firstRun.test.ts).
    const infos = run.infos.filter((line) => !/Kubernetes API|Container Insights rule/.test(line));
    assert.equal(infos.length, 3);
    assert.match(infos[2], /^Monitoring cost \(estimate\): .* 6,830 Prometheus series/);
    const line = infos[1];
    assert.match(
      line,
      /4 × Standard_NC4as_T4_v3 \(4 GPU\(s\)\) in eastus: 96 GPU node-hours per day, 2,920 per month/,
    );
    // 4 nodes × $0.526 per node-hour (cost/gpuPrices.json) × 24 h and × 730 h.
    assert.match(line, /about \$50\.50 per day and \$1,535\.92 per month at \$0\.526 per node-hour/);
    assert.match(line, /recorded \d{4}-\d{2}-\d{2}, source: https:\/\//);
  });
});

describe("optional workspace attachment", () => {
  it("installs no Azure ML extension and attaches no compute when attachToWorkspace is false", async () => {
    assert.equal(findAll(run.resources, "azure-native:kubernetesconfiguration:Extension").length, 0);
    assert.equal(findAll(run.resources, "azure-native:machinelearningservices:Compute").length, 0);
    assert.equal(await outputValue(run.outputs.computeTargetName), undefined);
    assert.equal(findAll(run.resources, "azure-native:machinelearningservices:ModelVersion").length, 1);
  });
});

describe("key rotation", () => {
  it("keeps each key by its own version, and the pod template carries the versions so pods roll", () => {
    const primary = findOne(
      run.resources,
      "random:index/randomPassword:RandomPassword",
      "scoring-primary-key",
    );
    const secondary = findOne(
      run.resources,
      "random:index/randomPassword:RandomPassword",
      "scoring-secondary-key",
    );
    assert.deepEqual(get(primary, "keepers"), { version: "2" });
    assert.deepEqual(get(secondary, "keepers"), { version: "1" });
    const annotations = get(
      findOne(run.resources, "kubernetes:apps/v1:Deployment"),
      "spec.template.metadata.annotations",
    );
    assert.deepEqual(annotations, { "scoring/key-versions": "primary=2,secondary=1" });
  });
});
