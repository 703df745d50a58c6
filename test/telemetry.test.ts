/**
 * Optional request telemetry (issue 14) on the real program under mocks: off by default; with
 * appInsightsTracing the workspace's Application Insights connection string reaches the scoring pods only
 * through a Kubernetes Secret, marked secret everywhere it travels, and never in a plain resource input or
 * a stack output. The app side (app/scoring/observability/tracing.py, app/tests/observability/test_tracing.py) reads the same names.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { APP_ENV } from "../components/appContract";
import { ConfigError, parseStackSettings } from "../components/config";
import {
  devStackConfig,
  findAll,
  findOne,
  get,
  isSecretInput,
  MOCK,
  outputValue,
  type ProgramRun,
  type Recorded,
  ROOT,
  runProgram,
  secretInput,
} from "./harness";

const T = {
  secret: "kubernetes:core/v1:Secret",
  deployment: "kubernetes:apps/v1:Deployment",
  insights: "azure-native:applicationinsights:Component",
} as const;

const CONNECTION_STRING = MOCK.appInsightsConnectionString;
const INSTRUMENTATION_KEY = /InstrumentationKey=([^;]+)/.exec(CONNECTION_STRING)?.[1] ?? "";

type EnvVar = Record<string, unknown>;
const containerEnv = (run: ProgramRun): Map<string, EnvVar> => {
  const [container] = get(findOne(run.resources, T.deployment), "spec.template.spec.containers") as Record<
    string,
    unknown
  >[];
  return new Map((container.env as EnvVar[]).map((e) => [String(e.name), e]));
};

/** Every place a value shows outside a secret wrapper, as a dotted path (secrets are not entered). */
function plainPlacesOf(value: unknown, needle: string, at = ""): string[] {
  if (isSecretInput(value)) return [];
  if (typeof value === "string") return value.includes(needle) ? [at] : [];
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => plainPlacesOf(inner, needle, `${at}.${key}`));
}

const plainLeaks = (resources: readonly Recorded[], needle: string): string[] =>
  resources.flatMap((r) => plainPlacesOf(r.inputs, needle).map((place) => `${r.type} ${r.name}${place}`));

let off: ProgramRun;
let on: ProgramRun;
before(async () => {
  off = await runProgram({ config: devStackConfig() });
  on = await runProgram({
    config: { ...devStackConfig(), appInsightsTracing: "true", appInsightsSampleRatio: "0.5" },
  });
});

describe("request telemetry off (the default)", () => {
  it("gives the pods no connection string and creates no telemetry Secret", () => {
    const env = containerEnv(off);
    assert.equal(env.has(APP_ENV.appInsightsConnectionString), false);
    assert.equal(env.has(APP_ENV.appInsightsSampleRatio), false);
    assert.deepEqual(
      findAll(off.resources, T.secret).map((s) => s.name),
      ["scoring-keys"],
    );
  });

  it("the workspace still has its Application Insights, whose connection string goes nowhere", () => {
    // Stored encrypted in the stack's state even when no pod uses it (azure-native returns it plain).
    assert.deepEqual(findOne(off.resources, T.insights).options.additionalSecretOutputs, [
      "connectionString",
      "instrumentationKey",
    ]);
    assert.deepEqual(plainLeaks(off.resources, INSTRUMENTATION_KEY), []);
    for (const r of off.resources) assert.ok(!JSON.stringify(r.inputs).includes(INSTRUMENTATION_KEY), r.name);
  });
});

describe("request telemetry on (appInsightsTracing)", () => {
  it("stores the workspace's connection string, marked secret, in a Secret of the scoring namespace", () => {
    const secret = findOne(on.resources, T.secret, "scoring-telemetry");
    assert.equal(get(secret, "metadata.namespace"), "scoring");
    assert.equal(get(secret, "type"), "Opaque");
    const stringData = get(secret, "stringData");
    assert.ok(isSecretInput(stringData), "the connection string reaches Kubernetes marked secret");
    assert.deepEqual(secretInput(stringData), { connectionString: CONNECTION_STRING });
  });

  it("points the pods at it by reference only, with the sample ratio in plain", () => {
    const env = containerEnv(on);
    // Auto-named by Kubernetes: the mocks report the name the provider would generate.
    const secretName =
      get(findOne(on.resources, T.secret, "scoring-telemetry"), "metadata.name") ?? "scoring-telemetry-k8sid";
    const connection = env.get(APP_ENV.appInsightsConnectionString) ?? {};
    assert.equal(get(connection, "value"), undefined, "the connection string must not be a literal");
    assert.deepEqual(get(connection, "valueFrom.secretKeyRef"), {
      name: secretName,
      key: "connectionString",
    });
    assert.equal(get(env.get(APP_ENV.appInsightsSampleRatio) ?? {}, "value"), "0.5");
  });

  it("never shows the connection string or its key in a plain input or any stack output", async () => {
    assert.deepEqual(plainLeaks(on.resources, INSTRUMENTATION_KEY), []);
    for (const [name, output] of Object.entries(on.outputs)) {
      const text = JSON.stringify(await outputValue(output));
      assert.ok(!text?.includes(INSTRUMENTATION_KEY), `output ${name} carries the connection string`);
    }
  });

  it("uses the names the app reads (app/scoring/core/settings.py)", () => {
    const settings = fs.readFileSync(path.join(ROOT, "app", "scoring", "core", "settings.py"), "utf8");
    for (const name of [APP_ENV.appInsightsConnectionString, APP_ENV.appInsightsSampleRatio]) {
      assert.ok(settings.includes(`"${name}"`), `${name} is not read by the app`);
    }
  });
});

describe("telemetry config", () => {
  const parse = (extra: Record<string, string>) =>
    parseStackSettings({ ...devStackConfig(), ...extra }, { fileExists: () => true });

  it("defaults: off, every request when on", () => {
    assert.deepEqual(parse({}).telemetry, { appInsightsTracing: false, sampleRatio: 1 });
    assert.deepEqual(parse({ appInsightsTracing: "true", appInsightsSampleRatio: "0.1" }).telemetry, {
      appInsightsTracing: true,
      sampleRatio: 0.1,
    });
  });

  for (const [extra, problem] of [
    [{ appInsightsTracing: "on" }, /appInsightsTracing = "on": must be true or false/],
    [
      { appInsightsTracing: "true", appInsightsSampleRatio: "0" },
      /appInsightsSampleRatio = 0: would send nothing/,
    ],
    [
      { appInsightsTracing: "true", appInsightsSampleRatio: "1.5" },
      /appInsightsSampleRatio = 1.5: must be between 0 and 1/,
    ],
    [
      { appInsightsSampleRatio: "0.2" },
      /appInsightsSampleRatio = "0.2": has no effect while appInsightsTracing is false. Fix: pulumi config set appInsightsTracing true/,
    ],
  ] as const) {
    it(`refuses ${JSON.stringify(extra)}, naming the key and the fix`, () => {
      assert.throws(
        () => parse(extra),
        (error: unknown) => error instanceof ConfigError && problem.test(error.problems.join("\n")),
      );
    });
  }
});
