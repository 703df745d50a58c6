/**
 * The dev stack (Pulumi.dev.yaml: 3 × Standard_NC4as_T4_v3, 3 replicas of 1 GPU / 2 CPU / 4 GiB) run
 * under mocks, the preflight answered by the recorded healthy ARM responses (test/fixtures/arm): every
 * resource the issue asks for, with the properties a reviewer would check.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { APP_PORT, APP_PORT_NAME, APP_UID, METRICS_PORT, PROBE_PATHS } from "../components/appContract";
import { ENTRY_POINT_IMAGES } from "../components/entryPointImages";
import { IMPORT_SCRIPT, mirrorSpec } from "../components/mirroredImage";
import { DEVICE_PLUGIN_UPSTREAM } from "../components/nvidiaDevicePlugin";
import { BUILD_CACHE_TAG } from "../components/projectImage";
import {
  devStackConfig,
  findAll,
  findOne,
  get,
  isSecretInput,
  MOCK,
  mockDigest,
  outputValue,
  type ProgramRun,
  type Recorded,
  ROOT,
  runProgram,
  secretInput,
} from "./harness";

let run: ProgramRun;
const T = {
  rg: "azure-native:resources:ResourceGroup",
  storage: "azure-native:storage:StorageAccount",
  blob: "azure-native:storage:Blob",
  vault: "azure-native:keyvault:Vault",
  logs: "azure-native:operationalinsights:Workspace",
  insights: "azure-native:applicationinsights:Component",
  registry: "azure-native:containerregistry:Registry",
  workspace: "azure-native:machinelearningservices:Workspace",
  modelContainer: "azure-native:machinelearningservices:ModelContainer",
  modelVersion: "azure-native:machinelearningservices:ModelVersion",
  compute: "azure-native:machinelearningservices:Compute",
  extension: "azure-native:kubernetesconfiguration:Extension",
  cluster: "azure-native:containerservice:ManagedCluster",
  pool: "azure-native:containerservice:AgentPool",
  role: "azure-native:authorization:RoleAssignment",
  image: "docker-build:index:Image",
  importCommand: "command:local:Command",
  k8sProvider: "pulumi:providers:kubernetes",
  namespace: "kubernetes:core/v1:Namespace",
  secret: "kubernetes:core/v1:Secret",
  deployment: "kubernetes:apps/v1:Deployment",
  daemonSet: "kubernetes:apps/v1:DaemonSet",
  service: "kubernetes:core/v1:Service",
  pdb: "kubernetes:policy/v1:PodDisruptionBudget",
} as const;

// Mock ids are derived from type and name (harness.ts); recompute them from what the mock recorded.
function mockId(type: string, name?: string): string {
  const record = findOne(run.resources, type, name);
  return `/subscriptions/${MOCK.subscriptionId}/resourceGroups/rg/providers/${type}/${azureNameOf(record.type, record)}`;
}
function azureNameOf(type: string, record: { name: string; inputs: Record<string, unknown> }): string {
  const own: Record<string, string> = {
    [T.storage]: "accountName",
    [T.vault]: "vaultName",
    [T.registry]: "registryName",
    [T.workspace]: "workspaceName",
    [T.cluster]: "resourceName",
  };
  const value = own[type] ? record.inputs[own[type]] : undefined;
  return typeof value === "string" ? value : `${record.name}abc123`;
}
const loginServer = (): string => `${azureNameOf(T.registry, findOne(run.resources, T.registry))}.azurecr.io`;
const podSpec = (): Record<string, unknown> =>
  get(findOne(run.resources, T.deployment), "spec.template.spec") as Record<string, unknown>;
const container = (): Record<string, unknown> => (podSpec().containers as Record<string, unknown>[])[0];
// The pods' app labels, which the selectors use; the workload identity label is for the webhook only (issue 12).
const appLabels = (): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries(
      get(findOne(run.resources, T.deployment), "spec.template.metadata.labels") as Record<string, unknown>,
    ).filter(([key]) => key !== "azure.workload.identity/use"),
  );

before(async () => {
  run = await runProgram({ config: devStackConfig() });
});

describe("ML workspace component", () => {
  it("puts everything in one resource group in the configured region", () => {
    assert.equal(get(findOne(run.resources, T.rg), "location"), "eastus");
    for (const type of [T.storage, T.vault, T.logs, T.insights, T.registry, T.workspace, T.cluster]) {
      assert.equal(get(findOne(run.resources, type), "location"), "eastus", type);
    }
  });

  it("storage is HTTPS-only, TLS 1.2, without public blob access", () => {
    const account = findOne(run.resources, T.storage);
    assert.equal(get(account, "enableHttpsTrafficOnly"), true);
    assert.equal(get(account, "minimumTlsVersion"), "TLS1_2");
    assert.equal(get(account, "allowBlobPublicAccess"), false);
  });

  it("key vault uses RBAC authorization and purge protection in the deployer's tenant", () => {
    const vault = findOne(run.resources, T.vault);
    assert.equal(get(vault, "properties.enableRbacAuthorization"), true);
    assert.equal(get(vault, "properties.enablePurgeProtection"), true);
    assert.equal(get(vault, "properties.tenantId"), MOCK.tenantId);
  });

  it("registry has its admin user off", () => {
    assert.equal(get(findOne(run.resources, T.registry), "adminUserEnabled"), false);
  });

  it("Application Insights sends to the Log Analytics workspace", () => {
    assert.equal(get(findOne(run.resources, T.insights), "workspaceResourceId"), mockId(T.logs));
  });

  it("the workspace has a system-assigned identity and is wired to storage, vault, insights and registry", () => {
    const ws = findOne(run.resources, T.workspace);
    assert.equal(get(ws, "identity.type"), "SystemAssigned");
    assert.equal(get(ws, "storageAccount"), mockId(T.storage));
    assert.equal(get(ws, "keyVault"), mockId(T.vault));
    assert.equal(get(ws, "applicationInsights"), mockId(T.insights));
    assert.equal(get(ws, "containerRegistry"), mockId(T.registry));
  });

  it("uploads the model file and registers a model version pointing at that blob", async () => {
    const blob = findOne(run.resources, T.blob);
    const source = get(blob, "source") as pulumi.asset.FileAsset;
    assert.ok(source instanceof pulumi.asset.FileAsset);
    const file = await source.path;
    assert.equal(file, "app/model/mnist_mlp.npz");
    assert.ok(fs.existsSync(path.join(ROOT, file)), "the model file the app ships must exist");

    const container = findOne(run.resources, T.modelContainer);
    assert.equal(get(container, "name"), "mnist-mlp");
    const version = findOne(run.resources, T.modelVersion);
    assert.equal(get(version, "name"), "mnist-mlp");
    assert.equal(get(version, "version"), "1");
    assert.equal(
      get(version, "workspaceName"),
      azureNameOf(T.workspace, findOne(run.resources, T.workspace)),
    );
    // Issue 12: the version points at its file on the models datastore, as Azure ML consumers read it.
    const workspaceName = azureNameOf(T.workspace, findOne(run.resources, T.workspace));
    assert.equal(
      get(version, "properties.modelUri"),
      `azureml://subscriptions/${MOCK.subscriptionId}/resourcegroups/rg/workspaces/${workspaceName}/datastores/models/paths/mnist-mlp/1/mnist_mlp.npz`,
    );
  });
});

describe("GPU cluster component", () => {
  it("AKS: RBAC on, managed identity, version from config, a small system pool", () => {
    const cluster = findOne(run.resources, T.cluster);
    assert.equal(get(cluster, "enableRBAC"), true);
    // Kept for the Azure ML extension, which does not support clusters without local accounts.
    assert.equal(get(cluster, "disableLocalAccounts"), false);
    assert.equal(get(cluster, "identity.type"), "SystemAssigned");
    assert.equal(get(cluster, "kubernetesVersion"), "1.36");
    const pools = get(cluster, "agentPoolProfiles") as Record<string, unknown>[];
    assert.equal(pools.length, 1);
    assert.deepEqual([pools[0].mode, pools[0].vmSize, pools[0].count], ["System", "Standard_D4s_v5", 2]);
  });

  it("a separate user pool of the configured GPU size and count, tainted and labelled", () => {
    const pool = findOne(run.resources, T.pool);
    assert.equal(get(pool, "vmSize"), "Standard_NC4as_T4_v3");
    assert.equal(get(pool, "count"), 3);
    assert.equal(get(pool, "mode"), "User");
    assert.deepEqual(get(pool, "nodeTaints"), ["sku=gpu:NoSchedule"]);
    assert.deepEqual(get(pool, "nodeLabels"), { workload: "gpu-inference" });
    assert.equal(get(pool, "resourceName"), azureNameOf(T.cluster, findOne(run.resources, T.cluster)));
    assert.equal(get(pool, "gpuProfile.driver"), "Install");
  });

  it("grants AcrPull on the registry to the kubelet identity", () => {
    const grant = findOne(run.resources, T.role, "gpu-kubelet-acrpull");
    assert.equal(get(grant, "principalId"), MOCK.kubeletObjectId);
    assert.equal(get(grant, "scope"), mockId(T.registry));
    assert.equal(
      get(grant, "roleDefinitionId"),
      `/subscriptions/${MOCK.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d`,
    );
  });

  it("builds an explicit Kubernetes provider that signs in through kubelogin (no token in the state), keyed to the cluster", () => {
    const provider = findOne(run.resources, T.k8sProvider);
    const config = JSON.parse(String(get(provider, "kubeconfig"))) as Record<string, unknown>;
    assert.deepEqual(config.users, [
      {
        name: "deployer",
        user: {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1beta1",
            command: "kubelogin",
            args: ["get-token", "--login", "azurecli", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"],
            interactiveMode: "Never",
            installHint: (config.users as { user: { exec: { installHint: string } } }[])[0].user.exec
              .installHint,
          },
        },
      },
    ]);
    assert.ok(!String(get(provider, "kubeconfig")).includes(MOCK.aksAudienceToken));
    assert.match(String(get(provider, "clusterIdentifier")), /managedClusters|ManagedCluster/);
    assert.equal(get(provider, "deleteUnreachable"), undefined);
    assert.deepEqual(config.clusters, [
      { name: "aks", cluster: { server: MOCK.apiServer, "certificate-authority-data": MOCK.clusterCa } },
    ]);
  });

  it("attaches the cluster to the workspace as a v2 Kubernetes compute named aks-gpu, after the Azure ML extension", () => {
    const extension = findOne(run.resources, T.extension);
    assert.equal(get(extension, "extensionType"), "Microsoft.AzureML.Kubernetes");
    assert.equal(get(extension, "configurationSettings.enableInference"), "True");
    assert.equal(get(extension, "clusterName"), azureNameOf(T.cluster, findOne(run.resources, T.cluster)));
    const compute = findOne(run.resources, T.compute);
    assert.equal(get(compute, "computeName"), "aks-gpu");
    assert.equal(get(compute, "properties.computeType"), "Kubernetes");
    assert.equal(get(compute, "properties.resourceId"), mockId(T.cluster));
    assert.equal(
      get(compute, "workspaceName"),
      azureNameOf(T.workspace, findOne(run.resources, T.workspace)),
    );
    const order = run.resources.map((r) => r.type);
    assert.ok(
      order.indexOf(T.extension) < order.indexOf(T.compute),
      "compute attach registered before the extension",
    );
  });
});

const images = (): Recorded[] => findAll(run.resources, T.image);
const imageNamed = (name: string): Recorded => findOne(run.resources, T.image, `${name}-build`);
const scoringRef = (): string => `${loginServer()}/scoring@${mockDigest(`${loginServer()}/scoring`)}`;
const pluginRepo = (): string => `${loginServer()}/nvidia/k8s-device-plugin`;
/** The device plugin as workloads run it: the import's repository at the upstream pin's own digest. */
const pluginRef = (): string => `${pluginRepo()}@${mirrorSpec(DEVICE_PLUGIN_UPSTREAM).digest}`;

describe("NVIDIA device plugin", () => {
  it("runs in kube-system as in NVIDIA's v0.20.0 static manifest, tolerating the GPU taint", () => {
    const ds = findOne(run.resources, T.daemonSet, "nvidia-device-plugin-daemonset");
    assert.equal(get(ds, "metadata.namespace"), "kube-system");
    const spec = get(ds, "spec.template.spec") as Record<string, unknown>;
    assert.equal(spec.priorityClassName, "system-node-critical");
    assert.deepEqual(spec.tolerations, [
      { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
      { key: "sku", operator: "Equal", value: "gpu", effect: "NoSchedule" },
    ]);
    assert.deepEqual(spec.volumes, [
      {
        name: "kubelet-device-plugins-dir",
        hostPath: { path: "/var/lib/kubelet/device-plugins", type: "Directory" },
      },
    ]);
    const ctr = (spec.containers as Record<string, unknown>[])[0];
    // v0.17.1+ manifests dropped FAIL_ON_INIT_ERROR=false: a GPU node whose GPUs cannot be read must show it.
    assert.equal(ctr.env, undefined);
    assert.match(String(ds.provider), /pulumi:providers:kubernetes::gpu-k8s::/);
  });

  it("has a read-only root filesystem, writing only to the kubelet's device-plugins hostPath", () => {
    const ctr = (
      get(
        findOne(run.resources, T.daemonSet, "nvidia-device-plugin-daemonset"),
        "spec.template.spec.containers",
      ) as Record<string, unknown>[]
    )[0];
    assert.deepEqual(get(ctr, "securityContext"), {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      readOnlyRootFilesystem: true,
    });
    assert.deepEqual(ctr.volumeMounts, [
      { name: "kubelet-device-plugins-dir", mountPath: "/var/lib/kubelet/device-plugins" },
    ]);
  });

  it("runs NVIDIA's pinned v0.20.0 imported into the project's registry by ACR, by the pinned digest", () => {
    const ds = findOne(run.resources, T.daemonSet, "nvidia-device-plugin-daemonset");
    const ctr = (get(ds, "spec.template.spec.containers") as Record<string, unknown>[])[0];
    assert.equal(ctr.image, pluginRef());
    assert.equal(
      pluginRef(),
      `${pluginRepo()}@sha256:a61ba9fd8efb82f3a79f877f7580e02c1e8e7593f62473644bc9c79e315c3312`,
    );
    const imported = findOne(run.resources, T.importCommand, "nvidia-device-plugin-image-import");
    assert.equal(get(imported, "create"), IMPORT_SCRIPT);
    assert.deepEqual(get(imported, "environment"), {
      REGISTRY_NAME: azureNameOf(T.registry, findOne(run.resources, T.registry)),
      RESOURCE_GROUP: String(get(findOne(run.resources, T.registry), "resourceGroupName")),
      SOURCE:
        "nvcr.io/nvidia/k8s-device-plugin@sha256:a61ba9fd8efb82f3a79f877f7580e02c1e8e7593f62473644bc9c79e315c3312",
      TARGET: "nvidia/k8s-device-plugin:v0.20.0",
    });
    // No build of it anywhere: only the scoring image is built where `pulumi up` runs.
    assert.deepEqual(
      images().map((image) => image.name),
      ["scoring-image-build"],
    );
  });
});

describe("images in the project's registry", () => {
  it("mirrors only references pinned by tag and digest, so a re-pointed upstream tag cannot slip in", () => {
    assert.throws(
      () => mirrorSpec("nvcr.io/nvidia/k8s-device-plugin:v0.20.0"),
      /"nvcr\.io\/nvidia\/k8s-device-plugin:v0\.20\.0" is not pinned by tag and digest/,
    );
    assert.throws(
      () => mirrorSpec("nvcr.io/nvidia/k8s-device-plugin@sha256:abc"),
      /not pinned by tag and digest/,
    );
    assert.throws(() => mirrorSpec("k8s-device-plugin:v0.20.0@sha256:" + "a".repeat(64)), /not pinned/);
  });

  it("imports every upstream image with one fixed script, its values only in the environment", () => {
    const commands = findAll(run.resources, T.importCommand);
    // The device plugin, the DCGM exporter and the entry point's images.
    assert.equal(commands.length, 2 + Object.keys(ENTRY_POINT_IMAGES).length);
    for (const command of commands) {
      assert.equal(get(command, "create"), IMPORT_SCRIPT, command.name);
      assert.equal(get(command, "delete"), undefined, command.name);
      const env = get(command, "environment") as Record<string, string>;
      assert.match(env.SOURCE, /^[a-z0-9.-]+\/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$/, command.name);
      // A new pin replaces the command, which imports again.
      assert.deepEqual(get(command, "triggers"), [env.SOURCE, env.TARGET, env.REGISTRY_NAME], command.name);
    }
    // The script names no value itself: nothing from a pin reaches the shell as code.
    assert.doesNotMatch(IMPORT_SCRIPT, /nvcr|docker\.io|quay|sha256/);
    assert.match(IMPORT_SCRIPT, /--source "\$SOURCE" --image "\$TARGET" --force/);
  });

  it("builds the scoring image from app/ with app/Dockerfile, pushed to the registry, never at preview", () => {
    const image = imageNamed("scoring-image");
    assert.deepEqual(get(image, "tags"), [`${loginServer()}/scoring:dev`]);
    assert.equal(get(image, "push"), true);
    assert.equal(get(image, "context.location"), "app");
    assert.equal(get(image, "dockerfile.location"), "app/Dockerfile");
    assert.deepEqual(get(image, "platforms"), ["linux/amd64"]);
    assert.equal(get(image, "buildOnPreview"), false);
  });

  it("keeps the build cache in the registry, so a machine that never built it reuses the torch layer", () => {
    const image = imageNamed("scoring-image");
    const cache = `${loginServer()}/scoring:${BUILD_CACHE_TAG}`;
    assert.deepEqual(get(image, "cacheFrom"), [{ registry: { ref: cache } }]);
    assert.deepEqual(get(image, "cacheTo"), [
      { registry: { ref: cache, mode: "max", imageManifest: true, ociMediaTypes: true } },
    ]);
  });

  it("pushes the scoring image with one exchange of the deployer's Entra ID token and one AcrPush grant", () => {
    assert.equal(images().length, 1);
    for (const image of images()) {
      // The ACR token is a secret in the state (the registries input as a whole), never a plain value.
      const registries = secretInput(get(image, "registries")) as Record<string, unknown>[];
      assert.equal(registries.length, 1, image.name);
      assert.equal(registries[0].address, loginServer(), image.name);
      assert.equal(registries[0].username, "00000000-0000-0000-0000-000000000000", image.name);
      assert.equal(registries[0].password, MOCK.acrRefreshToken, image.name);
    }
    const exchanges = run.fetchCalls.filter((c) => c.url.endsWith("/oauth2/exchange"));
    assert.equal(exchanges.length, 1);
    assert.equal(exchanges[0].url, `https://${loginServer()}/oauth2/exchange`);
    const form = new URLSearchParams(exchanges[0].body);
    assert.equal(form.get("grant_type"), "access_token");
    assert.equal(form.get("service"), loginServer());
    assert.equal(form.get("tenant"), MOCK.tenantId);
    // The registry-audience token (getClientToken endpoint https://containerregistry.azure.net), not ARM's.
    assert.equal(form.get("access_token"), MOCK.acrAudienceToken);
    // Before the push, ACR confirmed push rights on the scoring repository with the exchanged token.
    const scopes = run.fetchCalls
      .filter((c) => c.url === `https://${loginServer()}/oauth2/token`)
      .map((c) => new URLSearchParams(c.body).get("scope"));
    assert.deepEqual(scopes, ["repository:scoring:pull,push"]);
    const push = findOne(run.resources, T.role, "registry-push-acrpush");
    assert.equal(get(push, "principalId"), MOCK.deployerObjectId);
    assert.equal(get(push, "scope"), mockId(T.registry));
    assert.match(
      String(get(push, "roleDefinitionId")),
      /\/roleDefinitions\/8311e382-0749-4cb8-b61a-304f252e45ec$/,
    );
  });
});

describe("scoring service", () => {
  it("runs 3 replicas of the image by digest from the workspace registry", () => {
    const deployment = findOne(run.resources, T.deployment);
    assert.equal(get(deployment, "spec.replicas"), 3);
    assert.equal(container().image, scoringRef());
    assert.match(String(deployment.provider), /pulumi:providers:kubernetes::gpu-k8s::/);
  });

  it("limits each pod to 1 GPU, 2 CPU and 4Gi (requests = limits)", () => {
    const expected = { cpu: "2", memory: "4Gi", "nvidia.com/gpu": "1" };
    assert.deepEqual(get(container(), "resources.limits"), expected);
    assert.deepEqual(get(container(), "resources.requests"), expected);
  });

  it("tolerates the GPU taint and selects the GPU pool's label", () => {
    assert.deepEqual(podSpec().tolerations, [
      { key: "sku", operator: "Equal", value: "gpu", effect: "NoSchedule" },
    ]);
    const poolLabels = get(findOne(run.resources, T.pool), "nodeLabels");
    assert.deepEqual(podSpec().nodeSelector, poolLabels);
  });

  it("probes readiness on /ready and liveness on / of port 5001", () => {
    const ports = container().ports as Record<string, unknown>[];
    assert.deepEqual(ports, [
      { name: APP_PORT_NAME, containerPort: APP_PORT },
      { name: "metrics", containerPort: METRICS_PORT },
    ]);
    assert.equal(APP_PORT, 5001, "DESIGN.md's contract: the Azure ML inference server's port");
    assert.deepEqual(get(container(), "readinessProbe.httpGet"), {
      path: PROBE_PATHS.readiness,
      port: APP_PORT_NAME,
    });
    assert.deepEqual(get(container(), "livenessProbe.httpGet"), {
      path: PROBE_PATHS.liveness,
      port: APP_PORT_NAME,
    });
    assert.deepEqual(PROBE_PATHS, { liveness: "/", readiness: "/ready" });
  });

  it("passes the contract's environment, keys only by reference to the Secret", () => {
    const env = container().env as Record<string, unknown>[];
    const byName = new Map(env.map((e) => [String(e.name), e]));
    assert.equal(get(byName.get("PORT") ?? {}, "value"), "5001");
    assert.equal(get(byName.get("MODEL_DIR") ?? {}, "value"), "/var/azureml-app/model");
    assert.equal(get(byName.get("DEVICE") ?? {}, "value"), "cuda");
    assert.equal(get(byName.get("DRAIN_SECONDS") ?? {}, "value"), "20");
    const secretName = get(findOne(run.resources, T.secret), "metadata.name") ?? "scoring-keys-k8sid";
    for (const [envName, key] of [
      ["SCORING_PRIMARY_KEY", "primaryKey"],
      ["SCORING_SECONDARY_KEY", "secondaryKey"],
    ]) {
      const entry = byName.get(envName) ?? {};
      assert.equal(get(entry, "value"), undefined, `${envName} must not be a literal`);
      assert.deepEqual(get(entry, "valueFrom.secretKeyRef"), { name: secretName, key });
    }
  });

  it("stores the two generated keys in the Secret", async () => {
    const secret = findOne(run.resources, T.secret);
    assert.equal(get(secret, "metadata.namespace"), "scoring");
    const stringData = get(secret, "stringData");
    assert.ok(isSecretInput(stringData), "the keys reach Kubernetes marked secret");
    const data = secretInput(stringData) as Record<string, unknown>;
    assert.equal(data.primaryKey, await outputValue(run.outputs.primaryKey));
    assert.equal(data.secondaryKey, await outputValue(run.outputs.secondaryKey));
    assert.notEqual(data.primaryKey, data.secondaryKey);
  });

  it("is a ClusterIP Service (port 80 to the pods' 5001, metrics beside it), selecting exactly the pod labels", () => {
    const service = findOne(run.resources, T.service);
    assert.equal(get(service, "spec.type"), "ClusterIP");
    assert.deepEqual(get(service, "spec.ports"), [
      { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
      { name: "metrics", port: METRICS_PORT, targetPort: "metrics", protocol: "TCP" },
    ]);
    const podLabels = appLabels();
    assert.deepEqual(get(service, "spec.selector"), podLabels);
    assert.deepEqual(get(findOne(run.resources, T.deployment), "spec.selector.matchLabels"), podLabels);
  });

  it("with every GPU taken (3 pods on 3 single-GPU nodes) rolls by stopping one pod first, never surging", () => {
    assert.deepEqual(get(findOne(run.resources, T.deployment), "spec.strategy"), {
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: 0, maxUnavailable: 1 },
    });
  });

  it("keeps all but one replica through disruptions and spreads pods across nodes", () => {
    const pdb = findOne(run.resources, T.pdb);
    assert.equal(get(pdb, "spec.maxUnavailable"), 1);
    assert.deepEqual(get(pdb, "spec.selector.matchLabels"), appLabels());
    const spread = (podSpec().topologySpreadConstraints as Record<string, unknown>[])[0];
    assert.equal(spread.topologyKey, "kubernetes.io/hostname");
    assert.equal(spread.maxSkew, 1);
  });

  it("drains: preStop pause, then a grace period longer than the pause plus the app's drain", () => {
    assert.deepEqual(get(container(), "lifecycle.preStop"), { sleep: { seconds: 10 } });
    const grace = Number(podSpec().terminationGracePeriodSeconds);
    assert.ok(grace > 10 + 20, `grace ${grace}s must exceed preStop 10s + drain 20s`);
  });

  it("pods run non-root, read-only, unprivileged, RuntimeDefault seccomp, without a service-account token", () => {
    const spec = podSpec();
    assert.equal(spec.automountServiceAccountToken, false);
    assert.equal(get(spec, "securityContext.runAsNonRoot"), true);
    assert.equal(get(spec, "securityContext.runAsUser"), APP_UID);
    assert.equal(get(spec, "securityContext.seccompProfile.type"), "RuntimeDefault");
    assert.equal(get(container(), "securityContext.readOnlyRootFilesystem"), true);
    assert.equal(get(container(), "securityContext.allowPrivilegeEscalation"), false);
    assert.deepEqual(get(container(), "securityContext.capabilities.drop"), ["ALL"]);
    // Writable: /tmp and the model download view only (issue 12); the entry script's model view is read-only.
    assert.deepEqual(container().volumeMounts, [
      { name: "tmp", mountPath: "/tmp" },
      { name: "model", mountPath: "/var/azureml-app/model-download" },
      { name: "model", mountPath: "/var/azureml-app/model", readOnly: true },
    ]);
    assert.deepEqual(get((spec.volumes as Record<string, unknown>[])[0], "emptyDir"), { sizeLimit: "1Gi" });
    const labels = get(findOne(run.resources, T.namespace, "scoring-namespace"), "metadata.labels") as Record<
      string,
      unknown
    >;
    assert.equal(labels["pod-security.kubernetes.io/enforce"], "restricted");
  });
});

describe("stack outputs", () => {
  it("has the outputs the README promises, with the service's stable https name", async () => {
    const values: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(run.outputs)) values[key] = await outputValue(value);
    const host = "gpuinf-dev-x7k2q9.eastus.cloudapp.azure.com";
    assert.equal(values.hostname, host);
    assert.equal(values.azureHostname, host);
    assert.equal(values.scoringUri, `https://${host}/score`);
    assert.equal(values.v2InferenceBaseUri, `https://${host}/v2`);
    // Docs are off the public path unless publicSwagger is set, so there is no public swagger URI.
    assert.equal("swaggerUri" in values, false);
    assert.equal(values.imageRef, scoringRef());
    assert.equal(values.devicePluginImageRef, pluginRef());
    assert.equal(values.registryLoginServer, loginServer());
    assert.equal(values.gpuVmSize, "Standard_NC4as_T4_v3");
    assert.equal(values.gpuNodeCount, 3);
    assert.equal(values.replicas, 3);
    assert.equal(values.computeTargetName, "aks-gpu");
    assert.equal("kubeconfig" in values, false);
    for (const key of [
      "resourceGroupName",
      "workspaceName",
      "clusterName",
      "primaryKey",
      "secondaryKey",
      "modelName",
      "modelVersion",
    ]) {
      assert.ok(typeof values[key] === "string" && values[key] !== "", key);
    }
  });

  it("keys are secret; nothing else is, and no plain output contains them", async () => {
    const secretOutputs = ["primaryKey", "secondaryKey"];
    const secretValues: string[] = [];
    for (const key of secretOutputs) {
      const output = run.outputs[key] as pulumi.Output<string>;
      assert.equal(await pulumi.isSecret(output), true, `${key} must be secret`);
      secretValues.push(await outputValue(output));
    }
    for (const [key, value] of Object.entries(run.outputs)) {
      if (secretOutputs.includes(key) || !pulumi.Output.isInstance(value)) continue;
      assert.equal(await pulumi.isSecret(value), false, `${key} should be a plain output`);
      const text = JSON.stringify(await outputValue(value));
      for (const secretValue of secretValues) assert.ok(!text.includes(secretValue), `${key} leaks a secret`);
    }
  });

  it("logs one line that the preflight passed, then the GPU pool's and the monitoring's cost, and warns about nothing", () => {
    assert.deepEqual(run.warnings, []);
    // Besides the two lines of the Kubernetes access wait and the two of the Container Insights rule's wait
    // for the workspace's tables (test/firstRun.test.ts).
    const infos = run.infos.filter((line) => !/Kubernetes API|Container Insights rule/.test(line));
    assert.equal(run.infos.length - infos.length, 4);
    assert.equal(infos.length, 3);
    assert.match(infos[2], /^Monitoring cost \(estimate\): about \$[\d,.]+ per month\. Metrics: /);
    assert.match(
      infos[0],
      /^preflight passed: 11 resource providers registered, Standard_NC4as_T4_v3 and Standard_D4s_v5 offered in eastus/,
    );
    assert.match(
      infos[0],
      /GPU pool 12 vCPUs of standardNCASv3_T4Family, system pool 12 vCPUs of standardDSv5Family/,
    );
    assert.match(
      infos[1],
      /^GPU cost: 3 × Standard_NC4as_T4_v3 \(3 GPU\(s\)\) in eastus: 72 GPU node-hours per day, 2,190 per month, about \$37\.87 per day/,
    );
  });

  it("declares each resource once (no duplicate logical names per type)", () => {
    const seen = new Set<string>();
    for (const r of run.resources) {
      const key = `${r.type}::${r.name}`;
      assert.ok(!seen.has(key), `duplicate ${key}`);
      seen.add(key);
    }
    // AcrPull for the kubelet, AcrPush and cluster admin (Azure RBAC) for the deployer.
    // Plus the model identity's Storage Blob Data Reader (issue 12).
    assert.equal(findAll(run.resources, T.role).length, 4);
  });
});

describe("first-up and day-2 defects (issue 10)", () => {
  it("the Azure ML extension declares no identity (the Arc field); AKS assigns one itself", () => {
    const extension = findOne(run.resources, T.extension);
    assert.equal(get(extension, "identity"), undefined);
    assert.equal(get(extension, "aksAssignedIdentity"), undefined);
    assert.equal(get(extension, "clusterRp"), "Microsoft.ContainerService");
    assert.equal(get(extension, "clusterResourceName"), "managedClusters");
  });

  it("destroy leaves the workspace compute record to the workspace's own deletion (retainOnDelete)", () => {
    assert.equal(findOne(run.resources, T.compute).options.retainOnDelete, true);
    // Nothing else is retained: destroy still removes every resource that bills.
    const retained = run.resources.filter((r) => r.options.retainOnDelete).map((r) => r.type);
    assert.deepEqual(retained, [T.compute]);
  });

  it("the scoring Deployment waits 40 minutes for a first multi-GB image pull on new GPU nodes", () => {
    const deployment = findOne(run.resources, T.deployment);
    assert.deepEqual(get(deployment, "metadata.annotations"), { "pulumi.com/timeoutSeconds": "2400" });
    assert.deepEqual(deployment.options.customTimeouts, { create: "40m", update: "40m", delete: "" });
  });

  it("node OS and patch upgrades run only in the weekly maintenance window", () => {
    const windows = findAll(run.resources, "azure-native:containerservice:MaintenanceConfiguration");
    assert.deepEqual(windows.map((w) => get(w, "configName")).sort(), [
      "aksManagedAutoUpgradeSchedule",
      "aksManagedNodeOSUpgradeSchedule",
    ]);
    const clusterName = azureNameOf(T.cluster, findOne(run.resources, T.cluster));
    for (const window of windows) {
      assert.equal(get(window, "resourceName"), clusterName);
      assert.deepEqual(get(window, "maintenanceWindow"), {
        schedule: { weekly: { dayOfWeek: "Sunday", intervalWeeks: 1 } },
        startTime: "02:00",
        utcOffset: "+00:00",
        durationHours: 4,
      });
    }
    assert.deepEqual(get(findOne(run.resources, T.cluster), "autoUpgradeProfile"), {
      upgradeChannel: "patch",
      nodeOSUpgradeChannel: "NodeImage",
    });
  });

  it("the GPU pool drains one node at a time without surge; the system pool surges the one node the preflight counted", () => {
    assert.deepEqual(get(findOne(run.resources, T.pool), "upgradeSettings"), {
      maxSurge: "0",
      maxUnavailable: "1",
    });
    const system = (
      get(findOne(run.resources, T.cluster), "agentPoolProfiles") as Record<string, unknown>[]
    )[0];
    assert.deepEqual(system.upgradeSettings, { maxSurge: "1" });
  });

  it("tags the cluster with its project and stack, which the preflight uses to count its own quota on re-runs", () => {
    assert.deepEqual(get(findOne(run.resources, T.cluster), "tags"), {
      "pulumi-project": "gpu-inference-aks",
      "pulumi-stack": "dev",
    });
  });

  it("every child is named from its component, so two instances never collide", () => {
    const components: Record<string, string | readonly string[]> = {
      [T.storage]: "ml-",
      [T.vault]: "ml-",
      [T.registry]: "ml-",
      [T.workspace]: "ml-",
      [T.modelVersion]: "ml-",
      [T.cluster]: "gpu-",
      [T.pool]: "gpu-",
      [T.extension]: "gpu-",
      [T.compute]: "gpu-",
      [T.k8sProvider]: "gpu-",
      [T.daemonSet]: ["nvidia-device-plugin-", "monitoring-"],
      [T.deployment]: "scoring-",
      [T.service]: "scoring-",
      [T.secret]: "scoring-",
      [T.pdb]: "scoring-",
    };
    for (const [type, prefix] of Object.entries(components)) {
      for (const r of findAll(run.resources, type)) {
        assert.ok(
          [prefix].flat().some((p) => r.name.startsWith(p)),
          `${type} ${r.name}`,
        );
      }
    }
    // Azure names still start with the configured prefix.
    assert.match(azureNameOf(T.storage, findOne(run.resources, T.storage)), /^gpuinfst[a-z0-9]{6}$/);
    assert.match(azureNameOf(T.cluster, findOne(run.resources, T.cluster)), /^gpuinf-aks-[a-z0-9]{6}$/);
  });
});
