/**
 * Issue 23 under mocks: the real program with each option, and what a user would check of the graph.
 * - one version (the dev stack): one Deployment, one route backend without weight, no mirror, keys only;
 * - authMode both / tokens: the pods verify Entra ID tokens of the tenant and app registration;
 * - a candidate version: its own registration, Deployment, Service, budget and policies; the route's
 *   weights are the split and mirror to it; selectors never overlap;
 * - collectModelData: the model-data container, its retention rule, a write grant scoped to it, the pods'
 *   capture variables; off by default;
 * - tags, properties, description: on Azure resources, the model registration and Kubernetes objects.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { VERSION_ENV } from "../components/appContract";
import { parseStackSettings } from "../components/config";
import { configSchema } from "../components/configSchema";
import { CAPTURE_CONTAINER } from "../components/mlWorkspace";
import {
  CANDIDATE_SERVICE_NAME,
  PROPERTY_ANNOTATION_PREFIX,
  versionDeploymentArgs,
} from "../components/modelVersions";
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
  deployment: "kubernetes:apps/v1:Deployment",
  service: "kubernetes:core/v1:Service",
  pdb: "kubernetes:policy/v1:PodDisruptionBudget",
  policy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
  route: "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
  modelVersion: "azure-native:machinelearningservices:ModelVersion",
  blob: "azure-native:storage:Blob",
  container: "azure-native:storage:BlobContainer",
  lifecycle: "azure-native:storage:ManagementPolicy",
  role: "azure-native:authorization:RoleAssignment",
  rg: "azure-native:resources:ResourceGroup",
  workspace: "azure-native:machinelearningservices:Workspace",
  cluster: "azure-native:containerservice:ManagedCluster",
  identity: "azure-native:managedidentity:UserAssignedIdentity",
} as const;

const APP_ID = "11111111-2222-4333-8444-555555555555";

function envOf(deployment: Recorded): Map<string, unknown> {
  const containers = get(deployment, "spec.template.spec.containers") as Record<string, unknown>[];
  const scoring = containers.find((c) => c.name === "scoring");
  assert.ok(scoring);
  return new Map((scoring.env as { name: string; value?: unknown }[]).map((e) => [e.name, e.value]));
}

function scoringRoute(run: ProgramRun): Recorded {
  const route = findAll(run.resources, "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute").find(
    (r) => get(r, "metadata.name") === "scoring",
  );
  assert.ok(route, "the scoring HTTPRoute");
  return route;
}

function deploymentsByName(run: ProgramRun): Map<string, Recorded> {
  return new Map(
    findAll(run.resources, T.deployment)
      .filter((d) => d.name.startsWith("scoring-"))
      .map((d) => [d.name, d]),
  );
}

describe("one version, keys (the dev stack as it was)", () => {
  let run: ProgramRun;
  before(async () => {
    run = await runProgram({ config: devStackConfig() });
  });

  it("has one scoring Deployment and a route to its Service alone, without weight or mirror", () => {
    assert.deepEqual([...deploymentsByName(run).keys()], ["scoring-deployment"]);
    const rule = (get(scoringRoute(run), "spec.rules") as Record<string, unknown>[])[0];
    assert.deepEqual(rule.backendRefs, [{ name: "scoring", port: 80 }]);
    assert.ok(!(rule.filters as { type: string }[]).some((f) => f.type === "RequestMirror"));
    assert.ok(
      !findAll(run.resources, T.service).some((s) => get(s, "metadata.name") === CANDIDATE_SERVICE_NAME),
    );
  });

  it("names its slot and registered version to the app, and sets no token or capture variable", () => {
    const env = envOf(findOne(run.resources, T.deployment, "scoring-deployment"));
    assert.equal(env.get(VERSION_ENV.modelDeployment), "current");
    assert.equal(env.get(VERSION_ENV.registeredModelName), "mnist-mlp");
    assert.equal(env.get(VERSION_ENV.registeredModelVersion), "1");
    for (const name of [VERSION_ENV.authMode, VERSION_ENV.tokenAudiences, VERSION_ENV.captureUrl]) {
      assert.ok(!env.has(name), `${name} must be unset`);
    }
  });

  it("collects no model data: no model-data container, retention rule or write grant", async () => {
    assert.ok(
      !findAll(run.resources, T.container).some((c) => get(c, "containerName") === CAPTURE_CONTAINER),
    );
    assert.equal(findAll(run.resources, T.lifecycle).length, 0);
    assert.ok(
      !findAll(run.resources, T.role).some((r) =>
        String(get(r, "roleDefinitionId")).endsWith(builtInRoles.StorageBlobDataContributor),
      ),
    );
    assert.equal(await outputValue(run.outputs.authMode), "keys");
    assert.equal(run.outputs.modelDataContainerUrl, undefined);
  });
});

describe("authMode both and tokens", () => {
  for (const mode of ["both", "tokens"] as const) {
    it(`${mode}: the pods verify tokens of the deployer's tenant for the app registration`, async () => {
      const run = await runProgram({
        config: { ...devStackConfig(), authMode: mode, tokenAudience: APP_ID },
      });
      const env = envOf(findOne(run.resources, T.deployment, "scoring-deployment"));
      assert.equal(env.get(VERSION_ENV.authMode), mode);
      assert.equal(
        env.get(VERSION_ENV.tokenIssuers),
        `https://login.microsoftonline.com/${MOCK.tenantId}/v2.0,https://sts.windows.net/${MOCK.tenantId}/`,
      );
      assert.equal(env.get(VERSION_ENV.tokenAudiences), `${APP_ID},api://${APP_ID}`);
      assert.equal(
        env.get(VERSION_ENV.tokenJwksUri),
        `https://login.microsoftonline.com/${MOCK.tenantId}/discovery/v2.0/keys`,
      );
      assert.equal(await outputValue(run.outputs.tokenAudience), APP_ID);
      assert.equal(await outputValue(run.outputs.tokenTenantId), MOCK.tenantId);
    });
  }

  it("refuses tokens without an audience, a malformed one, and token keys under authMode keys", () => {
    const problems = (raw: Record<string, string>): string => {
      try {
        parseStackSettings(raw, { fileExists: () => true });
        return "";
      } catch (error) {
        return String(error);
      }
    };
    assert.match(problems({ authMode: "tokens" }), /tokenAudience = "": is empty, but authMode tokens/);
    assert.match(
      problems({ authMode: "both", tokenAudience: "my app" }),
      /tokenAudience = "my app": is neither/,
    );
    assert.match(problems({ tokenAudience: APP_ID }), /tokenAudience .*authMode keys does not accept/);
    assert.match(problems({ authMode: "jwt" }), /authMode = "jwt": must be one of keys, tokens, both/);
  });
});

describe("a candidate version with 10% of the traffic and mirroring", () => {
  let run: ProgramRun;
  const config = {
    ...devStackConfig(),
    gpuNodeCount: "5",
    candidateModelVersion: "2",
    candidateTrafficPercent: "10",
    mirrorToCandidate: "true",
  };
  before(async () => {
    run = await runProgram({ config });
  });

  it("registers both versions, each file under its own version", () => {
    const versions = findAll(run.resources, T.modelVersion)
      .map((v) => String(get(v, "version")))
      .sort();
    assert.deepEqual(versions, ["1", "2"]);
    const blobs = findAll(run.resources, T.blob)
      .map((b) => String(get(b, "blobName")))
      .sort();
    assert.deepEqual(blobs, ["mnist-mlp/1/mnist_mlp.npz", "mnist-mlp/2/mnist_mlp.npz"]);
  });

  it("runs the candidate as its own Deployment reading its own version, with selectors that never overlap", () => {
    const deployments = deploymentsByName(run);
    assert.deepEqual([...deployments.keys()].sort(), ["scoring-deployment", "scoring-deployment-candidate"]);
    const current = deployments.get("scoring-deployment") as Recorded;
    const candidate = deployments.get("scoring-deployment-candidate") as Recorded;
    assert.equal(get(candidate, "spec.replicas"), 2);
    const [currentEnv, candidateEnv] = [envOf(current), envOf(candidate)];
    assert.match(String(currentEnv.get("MODEL_URI")), /\/mnist-mlp\/1\/mnist_mlp\.npz$/);
    assert.match(String(candidateEnv.get("MODEL_URI")), /\/mnist-mlp\/2\/mnist_mlp\.npz$/);
    assert.equal(candidateEnv.get(VERSION_ENV.modelDeployment), "candidate");
    assert.equal(candidateEnv.get(VERSION_ENV.registeredModelVersion), "2");
    const selector = (d: Recorded) => get(d, "spec.selector.matchLabels") as Record<string, string>;
    const podLabels = (d: Recorded) => get(d, "spec.template.metadata.labels") as Record<string, string>;
    const matches = (sel: Record<string, string>, labels: Record<string, string>) =>
      Object.entries(sel).every(([k, v]) => labels[k] === v);
    assert.ok(
      matches(selector(current), podLabels(current)) && matches(selector(candidate), podLabels(candidate)),
    );
    assert.ok(
      !matches(selector(current), podLabels(candidate)),
      "the current selector must not take candidate pods",
    );
    assert.ok(!matches(selector(candidate), podLabels(current)));
    const services = new Map(findAll(run.resources, T.service).map((s) => [get(s, "metadata.name"), s]));
    assert.deepEqual(get(services.get("scoring") as Recorded, "spec.selector"), selector(current));
    assert.deepEqual(
      get(services.get(CANDIDATE_SERVICE_NAME) as Recorded, "spec.selector"),
      selector(candidate),
    );
    assert.ok(
      findAll(run.resources, T.pdb).some((p) =>
        matches(get(p, "spec.selector.matchLabels") as Record<string, string>, podLabels(candidate)),
      ),
    );
  });

  it("admits the proxies to the candidate's pods by a policy of its own", () => {
    const candidateLabels = get(
      findOne(run.resources, T.deployment, "scoring-deployment-candidate"),
      "spec.selector.matchLabels",
    );
    const names = findAll(run.resources, T.policy).map((p) => String(get(p, "metadata.name")));
    assert.ok(names.includes("allow-entry-point-to-app-candidate"));
    const policy = findAll(run.resources, T.policy).find(
      (p) => get(p, "metadata.name") === "allow-entry-point-to-app-candidate",
    );
    assert.deepEqual(get(policy as Recorded, "spec.podSelector.matchLabels"), candidateLabels);
    assert.equal(names.filter((n) => n === "default-deny-all").length, 1, "one default deny per namespace");
  });

  it("splits the route 90/10 and mirrors every request to the candidate", async () => {
    const rule = (get(scoringRoute(run), "spec.rules") as Record<string, unknown>[])[0];
    assert.deepEqual(rule.backendRefs, [
      { name: "scoring", port: 80, weight: 90 },
      { name: CANDIDATE_SERVICE_NAME, port: 80, weight: 10 },
    ]);
    assert.deepEqual(
      (rule.filters as { type: string }[]).find((f) => f.type === "RequestMirror"),
      { type: "RequestMirror", requestMirror: { backendRef: { name: CANDIDATE_SERVICE_NAME, port: 80 } } },
    );
    assert.deepEqual(await outputValue(run.outputs.trafficSplit), {
      current: 90,
      candidate: 10,
      mirror: true,
    });
  });

  it("moves weight only to ready pods: the route waits for both Deployments", () => {
    const dependencies = scoringRoute(run).options.dependencies ?? [];
    for (const name of ["scoring-deployment", "scoring-deployment-candidate"]) {
      assert.ok(
        dependencies.some((urn) => urn.endsWith(`${T.deployment}::${name}`)),
        `the route must depend on ${name}: ${dependencies.join(", ")}`,
      );
    }
  });

  it("names registrations by version; the current one answers to its pre-split name, so a stack's v1 is adopted", () => {
    const current = findOne(run.resources, T.modelVersion, "ml-model-version-1");
    const candidate = findOne(run.resources, T.modelVersion, "ml-model-version-2");
    assert.deepEqual(current.options.aliasNames, ["ml-model-version"]);
    assert.deepEqual(candidate.options.aliasNames, []);
    assert.deepEqual(findOne(run.resources, T.blob, "ml-model-file-1").options.aliasNames, ["ml-model-file"]);
  });

  it("promotion's first step (100% to the candidate) leaves the current version running with weight 0", async () => {
    const promoted = await runProgram({
      config: { ...config, candidateTrafficPercent: "100", mirrorToCandidate: "false" },
    });
    const rule = (get(scoringRoute(promoted), "spec.rules") as Record<string, unknown>[])[0];
    assert.deepEqual(rule.backendRefs, [
      { name: "scoring", port: 80, weight: 0 },
      { name: CANDIDATE_SERVICE_NAME, port: 80, weight: 100 },
    ]);
    assert.equal(deploymentsByName(promoted).size, 2);
  });

  it("refuses a candidate the pool cannot hold, a candidate equal to the current version, and split keys without a candidate", () => {
    const problems = (raw: Record<string, string>): string => {
      try {
        parseStackSettings(raw, { fileExists: () => true });
        return "";
      } catch (error) {
        return String(error);
      }
    };
    assert.match(
      problems({ candidateModelVersion: "2" }),
      /candidateReplicas = 2: .*need 5 GPUs together, but the pool has 3.*gpuNodeCount 5/,
    );
    assert.match(
      problems({ gpuNodeCount: "5", candidateModelVersion: "1" }),
      /candidateModelVersion = "1": is the current modelVersion/,
    );
    assert.match(
      problems({ candidateTrafficPercent: "10" }),
      /candidateTrafficPercent = "10": configures a candidate model version, but candidateModelVersion is not set/,
    );
    assert.match(
      problems({ gpuNodeCount: "5", candidateModelVersion: "2", candidateTrafficPercent: "110" }),
      /candidateTrafficPercent = 110: must be between 0 and 100/,
    );
  });
});

describe("collectModelData", () => {
  let run: ProgramRun;
  before(async () => {
    run = await runProgram({
      config: {
        ...devStackConfig(),
        collectModelData: "true",
        captureSamplePercent: "5",
        captureRetentionDays: "14",
      },
    });
  });

  it("creates a private model-data container whose samples a lifecycle rule deletes after the retention", () => {
    const container = findAll(run.resources, T.container).find(
      (c) => get(c, "containerName") === CAPTURE_CONTAINER,
    );
    assert.ok(container);
    assert.equal(get(container, "publicAccess"), "None");
    const lifecycle = findOne(run.resources, T.lifecycle);
    assert.equal(get(lifecycle, "managementPolicyName"), "default");
    const rule = (get(lifecycle, "policy.rules") as Record<string, unknown>[])[0];
    assert.deepEqual(get(rule, "definition.filters.prefixMatch"), [`${CAPTURE_CONTAINER}/`]);
    assert.equal(get(rule, "definition.actions.baseBlob.delete.daysAfterModificationGreaterThan"), 14);
  });

  it("lets the pods' identity write that container only, and tells the pods where and how much", () => {
    const writers = findAll(run.resources, T.role).filter((r) =>
      String(get(r, "roleDefinitionId")).endsWith(builtInRoles.StorageBlobDataContributor),
    );
    assert.equal(writers.length, 1);
    assert.match(String(get(writers[0], "scope")), new RegExp(`/${CAPTURE_CONTAINER}$`));
    assert.equal(get(writers[0], "principalId"), MOCK.modelIdentityPrincipalId);
    const env = envOf(findOne(run.resources, T.deployment, "scoring-deployment"));
    assert.match(
      String(env.get(VERSION_ENV.captureUrl)),
      new RegExp(`^https://[a-z0-9]+\\.blob\\.core\\.windows\\.net/${CAPTURE_CONTAINER}$`),
    );
    assert.equal(env.get(VERSION_ENV.captureSampleRate), "0.05");
    assert.equal(env.get(VERSION_ENV.captureMaxBytes), String(256 * 1024));
    assert.equal(env.get(VERSION_ENV.captureCredential), "workload-identity");
  });

  it("refuses capture settings while collection is off", () => {
    assert.throws(
      () => parseStackSettings({ captureRetentionDays: "7" }, { fileExists: () => true }),
      /captureRetentionDays = "7": configures model data collection, which collectModelData leaves off/,
    );
  });
});

describe("tags, properties and description", () => {
  let run: ProgramRun;
  before(async () => {
    run = await runProgram({
      config: {
        ...devStackConfig(),
        tags: "team=vision,costcenter=4711",
        properties: "owner=ml-platform,ticket=INC-42",
        description: "MNIST digits for the demo",
      },
    });
  });

  it("tags the Azure resources and the registered version; describes the workspace", () => {
    for (const type of [T.rg, T.workspace, T.identity, T.cluster]) {
      const tags = get(findOne(run.resources, type), "tags") as Record<string, string>;
      assert.equal(tags.team, "vision", type);
      assert.equal(tags.costcenter, "4711", type);
    }
    assert.equal(get(findOne(run.resources, T.modelVersion), "properties.tags.team"), "vision");
    assert.equal(get(findOne(run.resources, T.workspace), "description"), "MNIST digits for the demo");
  });

  it("labels and annotates the scoring Kubernetes objects, without touching the pod template", () => {
    const deployment = findOne(run.resources, T.deployment, "scoring-deployment");
    const service = findAll(run.resources, T.service).find(
      (s) => get(s, "metadata.name") === "scoring",
    ) as Recorded;
    for (const object of [deployment, service, scoringRoute(run)]) {
      assert.equal(get(object, "metadata.labels.team"), "vision", object.name);
      const annotations = get(object, "metadata.annotations") as Record<string, string>;
      assert.equal(annotations[`${PROPERTY_ANNOTATION_PREFIX}owner`], "ml-platform", object.name);
      assert.equal(annotations.description, "MNIST digits for the demo", object.name);
    }
    assert.equal(get(deployment, "spec.template.metadata.labels.team"), undefined);
  });

  it("refuses a tag Kubernetes could not carry as a label", () => {
    assert.throws(
      () => parseStackSettings({ tags: "cost center=4711" }, { fileExists: () => true }),
      /tags = "cost center=4711": is not name=value/,
    );
  });
});

describe("keys at their defaults", () => {
  it("are accepted as the real CLI passes them (every key of Pulumi.yaml, filled with its default)", () => {
    const defaults = Object.fromEntries(
      Object.entries(configSchema).flatMap(([key, spec]) =>
        "default" in spec ? [[key, String(spec.default)]] : [],
      ),
    );
    const settings = parseStackSettings(defaults, { fileExists: () => true });
    assert.equal(settings.versions.candidate, undefined);
    assert.equal(settings.capture.enabled, false);
    assert.equal(settings.auth.mode, "keys");
  });
});

describe("versionDeploymentArgs", () => {
  it("refuses a base Deployment whose structure is an Output instead of silently dropping a slot's fields", () => {
    const slot = {
      slot: "candidate" as const,
      modelName: "m",
      modelVersion: "2",
      model: { blobUrl: "https://a/b/c", sha256: "0".repeat(64), sizeBytes: 1, identityClientId: "id" },
      replicas: 2,
      weight: 10,
    };
    const extras = {
      auth: { mode: "keys" as const },
      metadata: { labels: {}, annotations: {} },
      modelVolumeSize: () => "1Mi",
    };
    assert.throws(
      () =>
        versionDeploymentArgs(
          { metadata: {}, spec: pulumi.output({ selector: { matchLabels: {} }, template: {} }) },
          slot,
          extras,
        ),
      /versionDeploymentArgs: spec must be a plain object in the base Deployment/,
    );
  });
});
