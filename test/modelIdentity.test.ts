/**
 * Issue 12 under mocks: the pods fetch the registered model version with AKS workload identity. The
 * cluster's OIDC issuer and workload identity are on; a user-assigned identity is federated to exactly
 * the scoring service account and reads only the models container; the service account and pods carry
 * what the webhook looks for; the pods are told which version to load (blob URL, size, sha256 of the
 * file), so a new modelVersion gives a new pod template with the same image; no key reaches a pod.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { MODEL_DIRS, MODEL_ENV, SCORING_SERVICE_ACCOUNT, WORKLOAD_IDENTITY } from "../components/appContract";
import { modelFileDigest } from "../components/modelFile";
import { WORKLOAD_IDENTITY_AUDIENCE } from "../components/modelIdentity";
import { modelVolumeSize } from "../components/scoringService";
import {
  devStackConfig,
  findAll,
  findOne,
  get,
  MOCK,
  type ProgramRun,
  type Recorded,
  ROOT,
  runProgram,
} from "./harness";

const T = {
  cluster: "azure-native:containerservice:ManagedCluster",
  identity: "azure-native:managedidentity:UserAssignedIdentity",
  federation: "azure-native:managedidentity:FederatedIdentityCredential",
  role: "azure-native:authorization:RoleAssignment",
  storage: "azure-native:storage:StorageAccount",
  container: "azure-native:storage:BlobContainer",
  blob: "azure-native:storage:Blob",
  datastore: "azure-native:machinelearningservices:Datastore",
  modelVersion: "azure-native:machinelearningservices:ModelVersion",
  serviceAccount: "kubernetes:core/v1:ServiceAccount",
  deployment: "kubernetes:apps/v1:Deployment",
} as const;

const READER_ROLE = `/subscriptions/${MOCK.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1`;
const weights = fs.readFileSync(path.join(ROOT, "app/model/mnist_mlp.npz"));
const WEIGHTS_SHA256 = createHash("sha256").update(weights).digest("hex");

type EnvVar = { name: string; value?: string; valueFrom?: unknown };

let v1: ProgramRun;
let v2: ProgramRun;

// The harness names Azure resources without a name field `<logical name>abc123`, and ids from type and name.
const mockName = (record: Recorded, field: string): string => {
  const value = record.inputs[field];
  return typeof value === "string" ? value : `${record.name}abc123`;
};
const mockId = (record: Recorded, field: string): string =>
  `/subscriptions/${MOCK.subscriptionId}/resourceGroups/rg/providers/${record.type}/${mockName(record, field)}`;
const template = (run: ProgramRun): Record<string, unknown> =>
  get(findOne(run.resources, T.deployment), "spec.template") as Record<string, unknown>;
const container = (run: ProgramRun): Record<string, unknown> =>
  (get(template(run), "spec.containers") as Record<string, unknown>[])[0];
const env = (run: ProgramRun): Map<string, EnvVar> =>
  new Map((container(run).env as EnvVar[]).map((variable) => [variable.name, variable]));

before(async () => {
  v1 = await runProgram({ config: devStackConfig() });
  v2 = await runProgram({ config: { ...devStackConfig(), modelVersion: "2" } });
});

describe("workload identity for the model download (issue 12)", () => {
  it("the cluster has its OIDC issuer and workload identity on", () => {
    const cluster = findOne(v1.resources, T.cluster);
    assert.equal(get(cluster, "oidcIssuerProfile.enabled"), true);
    assert.equal(get(cluster, "securityProfile.workloadIdentity.enabled"), true);
  });

  it("federates one user-assigned identity to the scoring service account of this cluster's issuer", () => {
    const identity = findOne(v1.resources, T.identity);
    assert.equal(get(identity, "location"), "eastus");
    const federation = findOne(v1.resources, T.federation);
    assert.equal(get(federation, "resourceName"), mockName(identity, "resourceName"));
    assert.equal(get(federation, "issuer"), MOCK.oidcIssuerUrl);
    assert.equal(get(federation, "subject"), `system:serviceaccount:scoring:${SCORING_SERVICE_ACCOUNT}`);
    assert.deepEqual(get(federation, "audiences"), [WORKLOAD_IDENTITY_AUDIENCE]);
    assert.equal(WORKLOAD_IDENTITY_AUDIENCE, "api://AzureADTokenExchange");
  });

  it("grants it Storage Blob Data Reader on the models container only, nothing else", () => {
    const grants = findAll(v1.resources, T.role).filter(
      (r) => get(r, "principalId") === MOCK.modelIdentityPrincipalId,
    );
    assert.equal(grants.length, 1, "exactly one role assignment for the model identity");
    const [grant] = grants;
    assert.equal(get(grant, "roleDefinitionId"), READER_ROLE);
    assert.equal(get(grant, "principalType"), "ServicePrincipal");
    const models = findOne(v1.resources, T.container);
    assert.equal(get(grant, "scope"), mockId(models, "containerName"));
    assert.notEqual(get(grant, "scope"), mockId(findOne(v1.resources, T.storage), "accountName"));
  });

  it("annotates the service account with the identity's client id; pods use it, labelled for the webhook", () => {
    const account = findOne(v1.resources, T.serviceAccount);
    assert.equal(get(account, "metadata.name"), SCORING_SERVICE_ACCOUNT);
    assert.equal(get(account, "metadata.namespace"), "scoring");
    assert.deepEqual(get(account, "metadata.annotations"), {
      [WORKLOAD_IDENTITY.clientIdAnnotation]: MOCK.modelIdentityClientId,
    });
    assert.equal(get(account, "automountServiceAccountToken"), false);
    const deployment = findOne(v1.resources, T.deployment);
    assert.equal(get(template(v1), "spec.serviceAccountName"), SCORING_SERVICE_ACCOUNT);
    const podLabels = get(template(v1), "metadata.labels") as Record<string, string>;
    assert.equal(podLabels[WORKLOAD_IDENTITY.useLabel], "true");
    // Not in the selector: a Deployment's selector is immutable, and the label is only for the webhook.
    const selector = get(deployment, "spec.selector.matchLabels") as Record<string, string>;
    assert.equal(selector[WORKLOAD_IDENTITY.useLabel], undefined);
    assert.equal(get(template(v1), "spec.automountServiceAccountToken"), false);
  });
});

describe("the pods are told which registered version to load", () => {
  it("registers the version on a models datastore path with the file's sha256 and size", () => {
    const datastore = findOne(v1.resources, T.datastore);
    assert.equal(get(datastore, "name"), "models");
    assert.equal(get(datastore, "properties.datastoreType"), "AzureBlob");
    assert.equal(
      get(datastore, "properties.containerName"),
      mockName(findOne(v1.resources, T.container), "containerName"),
    );
    assert.equal(
      get(datastore, "properties.accountName"),
      mockName(findOne(v1.resources, T.storage), "accountName"),
    );
    assert.deepEqual(get(datastore, "properties.credentials"), { credentialsType: "None" });
    const version = findOne(v1.resources, T.modelVersion);
    assert.match(
      String(get(version, "properties.modelUri")),
      /\/datastores\/models\/paths\/mnist-mlp\/1\/mnist_mlp\.npz$/,
    );
    assert.deepEqual(get(version, "properties.properties"), {
      sha256: WEIGHTS_SHA256,
      sizeBytes: String(weights.length),
    });
  });

  it("gives each pod the blob, its size and digest, and the workload identity credential; never a key", () => {
    const vars = env(v1);
    const blob = findOne(v1.resources, T.blob);
    const account = mockName(findOne(v1.resources, T.storage), "accountName");
    const models = mockName(findOne(v1.resources, T.container), "containerName");
    assert.equal(
      vars.get(MODEL_ENV.uri)?.value,
      `https://${account}.blob.core.windows.net/${models}/${mockName(blob, "blobName")}`,
    );
    assert.equal(mockName(blob, "blobName"), "mnist-mlp/1/mnist_mlp.npz");
    assert.equal(vars.get(MODEL_ENV.sha256)?.value, WEIGHTS_SHA256);
    assert.equal(vars.get(MODEL_ENV.sizeBytes)?.value, String(weights.length));
    assert.equal(vars.get(MODEL_ENV.credential)?.value, "workload-identity");
    assert.equal(vars.get(MODEL_ENV.downloadDir)?.value, MODEL_DIRS.download);
    assert.equal(vars.get("MODEL_DIR")?.value, MODEL_DIRS.serve);
    // The emulator's connection string is for tests and laptops only; no account key or SAS anywhere.
    const everything = JSON.stringify(v1.resources.map((r) => r.inputs));
    assert.ok(!everything.includes(MODEL_ENV.emulatorConnectionString));
    assert.ok(!/AccountKey=|[?&]sig=/.test(everything), "a storage key or SAS reached a resource");
  });

  it("mounts one model volume: writable for the fetch, read-only where the entry script reads", () => {
    const mounts = container(v1).volumeMounts as { name: string; mountPath: string; readOnly?: boolean }[];
    const model = mounts.filter((m) => m.name === "model");
    assert.deepEqual(
      model.map((m) => [m.mountPath, m.readOnly === true]),
      [
        [MODEL_DIRS.download, false],
        [MODEL_DIRS.serve, true],
      ],
    );
    const volumes = get(template(v1), "spec.volumes") as { name: string; emptyDir?: { sizeLimit: string } }[];
    assert.deepEqual(volumes.find((v) => v.name === "model")?.emptyDir, {
      sizeLimit: modelVolumeSize(weights.length),
    });
    assert.equal(modelVolumeSize(weights.length), "65Mi");
    assert.equal(modelVolumeSize(2 * 2 ** 30), "4160Mi");
  });

  it("a new modelVersion gives a new pod template (rolls the Deployment) with the same image digest", () => {
    const [one, two] = [container(v1), container(v2)];
    assert.equal(one.image, two.image, "the image must not change with the model");
    assert.match(String(one.image), /@sha256:[0-9a-f]{64}$/);
    assert.notDeepEqual(template(v1), template(v2));
    assert.match(String(env(v2).get(MODEL_ENV.uri)?.value), /\/mnist-mlp\/2\/mnist_mlp\.npz$/);
    // Only the model's variables differ (its file's URL, and the version the app names in its answers).
    const withoutModelUri = (run: ProgramRun) =>
      JSON.stringify(template(run))
        .replace(String(env(run).get(MODEL_ENV.uri)?.value), "<model>")
        .replace(/"REGISTERED_MODEL_VERSION","value":"[^"]*"/, "<version>");
    assert.equal(withoutModelUri(v1), withoutModelUri(v2));
    assert.equal(get(findOne(v2.resources, T.modelVersion), "version"), "2");
  });

  it("computes the digest from the model file's bytes, so a different file changes what pods expect", () => {
    assert.deepEqual(modelFileDigest(path.join(ROOT, "app/model/mnist_mlp.npz")), {
      sha256: WEIGHTS_SHA256,
      sizeBytes: weights.length,
    });
    const other = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "model-")), "mnist_mlp.npz");
    fs.writeFileSync(other, Buffer.concat([weights, Buffer.from([0])]));
    const digest = modelFileDigest(other);
    assert.notEqual(digest.sha256, WEIGHTS_SHA256);
    assert.equal(digest.sizeBytes, weights.length + 1);
  });
});
