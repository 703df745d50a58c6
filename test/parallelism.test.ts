/**
 * The slow paths run in parallel: the mocks hold the AKS cluster back until the scoring image build and
 * every upstream image import (the device plugin's, DCGM's, the entry point's) have been registered, and the ML workspace back until the scoring Deployment and device plugin have been.
 * If an image waited on the cluster, or anything on the cluster (other than the compute attachment)
 * waited on the workspace, the held resource's dependents could not register first and the order
 * assertions below fail. A hold gives up after a few seconds so a regression fails instead of hanging.
 */
import assert from "node:assert/strict";
import { before, it } from "node:test";
import { ENTRY_POINT_IMAGES } from "../components/entryPointImages";
import { devStackConfig, type ProgramRun, runProgram } from "./harness";

const CLUSTER = "azure-native:containerservice:ManagedCluster";
const WORKSPACE = "azure-native:machinelearningservices:Workspace";
const IMAGE = "docker-build:index:Image";
/** An upstream image's import into the registry (mirroredImage.ts). */
const IMPORT = "command:local:Command";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const DAEMONSET = "kubernetes:apps/v1:DaemonSet";

function signal(): { promise: Promise<void>; fire: () => void } {
  let fire = (): void => {};
  const promise = new Promise<void>((resolve) => {
    fire = resolve;
  });
  return { promise, fire };
}
const giveUpAfter = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const IMAGE_NAMES = [
  "scoring-image-build",
  "nvidia-device-plugin-image-import",
  "dcgm-exporter-image-import",
  // The entry point's imports (issue 11) need only the registry too.
  ...Object.keys(ENTRY_POINT_IMAGES).map((key) => `entry-image-${key}-import`),
];

let run: ProgramRun;
const order: string[] = [];
let lastRegistration = Date.now();
/** Resolves once nothing new has registered for `ms` (everything that can register without the held resource has). */
async function quiet(ms = 300, max = 8000): Promise<void> {
  const start = Date.now();
  while (Date.now() - lastRegistration < ms && Date.now() - start < max) await giveUpAfter(50);
}
const imageNames: string[] = [];
before(async () => {
  const imagesSeen = signal();
  const workloadsSeen = signal();
  const waitingImages = new Set(IMAGE_NAMES);
  const waiting = new Set([DEPLOYMENT, DAEMONSET]);
  run = await runProgram({
    config: devStackConfig(),
    beforeCreate: async (type) => {
      if (type === CLUSTER) await Promise.race([imagesSeen.promise, giveUpAfter(5000)]);
      if (type === WORKSPACE) {
        await Promise.race([workloadsSeen.promise, giveUpAfter(5000)]);
        // Then let everything else that does not need the workspace register (the entry point, routes, policies).
        await quiet();
      }
    },
    onRegister: (record) => {
      lastRegistration = Date.now();
      order.push(record.type);
      if (record.type === IMAGE || record.type === IMPORT) {
        imageNames.push(record.name);
        waitingImages.delete(record.name);
        if (waitingImages.size === 0) imagesSeen.fire();
      }
      waiting.delete(record.type);
      if (waiting.size === 0) workloadsSeen.fire();
    },
  });
});

it("both images (scoring image, device plugin mirror) are pushed without waiting for the AKS cluster", () => {
  assert.deepEqual([...imageNames].sort(), [...IMAGE_NAMES].sort());
  assert.ok(order.includes(CLUSTER));
  const lastImage = Math.max(order.lastIndexOf(IMAGE), order.lastIndexOf(IMPORT));
  assert.ok(lastImage < order.indexOf(CLUSTER), order.join("\n"));
});

it("the device plugin and scoring Deployment do not wait for the ML workspace", () => {
  assert.ok(order.indexOf(DEPLOYMENT) < order.indexOf(WORKSPACE), order.join("\n"));
  assert.ok(order.indexOf(DAEMONSET) < order.indexOf(WORKSPACE), order.join("\n"));
});

it("only the compute attachment (and the model) wait for the workspace", () => {
  const afterWorkspace = order.slice(order.indexOf(WORKSPACE) + 1);
  assert.deepEqual([...new Set(afterWorkspace)].sort(), [
    "azure-native:machinelearningservices:Compute",
    // The models datastore (issue 12), which the model version's URI names.
    "azure-native:machinelearningservices:Datastore",
    "azure-native:machinelearningservices:ModelContainer",
    "azure-native:machinelearningservices:ModelVersion",
  ]);
  assert.equal(run.resources.length, order.length);
});
