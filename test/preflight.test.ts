/**
 * The preflight against recorded ARM answers (test/fixtures/arm, in the REST reference's shapes): the
 * dev stack passes with the healthy answers, and the real program (index.ts under mocks) stops before
 * registering any resource on each kind of refusal, with one line naming what, the numbers and the fix.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../components/config";
import { ArmError, armReader, PreflightError, runPreflight } from "../components/preflight";
import { checkKubernetesVersion, checkQuotas, checkSku, heldByCluster } from "../components/preflight/checks";
import {
  type ArmAnswer,
  type ArmRoute,
  devStackConfig,
  logAnalyticsReadOf,
  MOCK,
  type Recorded,
  recordedArm,
  runProgram,
} from "./harness";

type Json = Record<string, unknown>;
const list = (body: Json, key = "value"): Json[] => body[key] as Json[];

/** Runs the dev stack with some ARM answers replaced; returns the preflight's failure lines. */
async function refusals(
  arm: Partial<Record<ArmRoute, ArmAnswer>>,
  config = devStackConfig(),
): Promise<string[]> {
  const registered: Recorded[] = [];
  let failures: readonly string[] = [];
  await assert.rejects(
    runProgram({ config, arm, onRegister: (r) => registered.push(r) }),
    (error: unknown) => {
      assert.ok(error instanceof PreflightError, `expected PreflightError, got ${String(error)}`);
      assert.match(
        error.message,
        /^Preflight failed \(\d+ problem\(s\)\), before any resource was declared:/,
      );
      failures = error.failures;
      return true;
    },
  );
  assert.deepEqual(registered, [], "nothing may be registered once the preflight fails");
  return [...failures];
}

function ok(body: unknown): ArmAnswer {
  return { status: 200, body };
}

describe("the dev stack's preflight against a healthy subscription", () => {
  it("passes, logs one line, and reads ARM with the deployer's ARM-audience token", async () => {
    const run = await runProgram({ config: devStackConfig() });
    const passed = run.infos.filter((line) => line.startsWith("preflight passed"));
    assert.equal(passed.length, 1);
    // The preflight's reads; the Container Insights rule's later reads of the workspace are test/firstRun.test.ts's.
    const armCalls = run.fetchCalls.filter(
      (c) => c.url.startsWith("https://management.azure.com/") && logAnalyticsReadOf(c.url) === undefined,
    );
    assert.deepEqual(armCalls.map((c) => new URL(c.url).pathname).sort(), [
      `/subscriptions/${MOCK.subscriptionId}/providers`,
      `/subscriptions/${MOCK.subscriptionId}/providers/Microsoft.Compute/locations/eastus/usages`,
      `/subscriptions/${MOCK.subscriptionId}/providers/Microsoft.Compute/skus`,
      `/subscriptions/${MOCK.subscriptionId}/providers/Microsoft.ContainerService/locations/eastus/kubernetesVersions`,
      `/subscriptions/${MOCK.subscriptionId}/providers/Microsoft.ContainerService/managedClusters`,
    ]);
    for (const call of armCalls) {
      assert.equal(call.method, "GET");
      assert.equal(call.authorization, `Bearer ${MOCK.armToken}`);
    }
    const skus = armCalls.find((c) => c.url.includes("/skus"));
    assert.equal(new URL(skus?.url ?? "").searchParams.get("$filter"), "location eq 'eastus'");
    // The ARM reads come before the first resource: they are the first requests the program makes.
    assert.ok(run.fetchCalls.slice(0, 5).every((c) => c.url.startsWith("https://management.azure.com/")));
  });
});

describe("each kind of refusal stops the program before any resource", () => {
  it("a resource provider not registered, with the az command that registers it", async () => {
    const providers = recordedArm("providers");
    const entry = list(providers).find((p) => p.namespace === "Microsoft.KubernetesConfiguration");
    assert.ok(entry);
    entry.registrationState = "NotRegistered";
    const found = await refusals({ providers: ok(providers) });
    assert.deepEqual(found, [
      `resource provider Microsoft.KubernetesConfiguration is NotRegistered in subscription ${MOCK.subscriptionId}, ` +
        "so its resources cannot be created. Fix: az provider register --namespace Microsoft.KubernetesConfiguration " +
        "(then wait until az provider show -n Microsoft.KubernetesConfiguration --query registrationState says Registered)",
    ]);
  });

  it("a provider missing from the list counts as not registered", async () => {
    const providers = recordedArm("providers");
    providers.value = list(providers).filter((p) => p.namespace !== "Microsoft.MachineLearningServices");
    const found = await refusals({ providers: ok(providers) });
    assert.equal(found.length, 1);
    assert.match(
      found[0],
      /Microsoft\.MachineLearningServices is NotRegistered.*az provider register --namespace Microsoft\.MachineLearningServices/,
    );
  });

  it("GPU quota short: family, needed (pool plus surge), available and how to request more", async () => {
    const usages = recordedArm("usages");
    const t4 = list(usages).find((u) => (u.name as Json).value === "standardNCASv3_T4Family");
    assert.ok(t4);
    Object.assign(t4, { limit: 8, currentValue: 0 });
    const found = await refusals({ usages: ok(usages) }, { ...devStackConfig(), gpuMaxSurge: "1" });
    assert.equal(found.length, 1);
    assert.match(
      found[0],
      /^vCPU quota "Standard NCASv3_T4 Family vCPUs" \(standardNCASv3_T4Family\) in eastus is short: needed 16 \(GPU pool 3 × 4 \+ 1 surge × 4\), available 8 \(limit 8, in use 0\)\. /,
    );
    assert.match(
      found[0],
      /Fix: request a limit of at least 16 for "Standard NCASv3_T4 Family vCPUs" in eastus \(Azure portal: Quotas > Compute, or az quota update/,
    );
  });

  it("system pool quota short, counting what other VMs already use", async () => {
    const usages = recordedArm("usages");
    const dsv5 = list(usages).find((u) => (u.name as Json).value === "standardDSv5Family");
    assert.ok(dsv5);
    Object.assign(dsv5, { limit: 20, currentValue: 12 });
    const found = await refusals({ usages: ok(usages) });
    assert.equal(found.length, 1);
    assert.match(
      found[0],
      /"Standard DSv5 Family vCPUs" \(standardDSv5Family\) in eastus is short: needed 12 \(system pool 2 × 4 \+ 1 surge × 4\), available 8 \(limit 20, in use 12\)/,
    );
    assert.match(found[0], /request a limit of at least 24/);
  });

  it("the regional vCPU total short", async () => {
    const usages = recordedArm("usages");
    const cores = list(usages).find((u) => (u.name as Json).value === "cores");
    assert.ok(cores);
    Object.assign(cores, { limit: 20, currentValue: 0 });
    const found = await refusals({ usages: ok(usages) });
    assert.equal(found.length, 1);
    assert.match(found[0], /^vCPU quota "Total Regional vCPUs" \(cores\) in eastus is short: needed 24 /);
  });

  it("the GPU size restricted in the region for this subscription", async () => {
    const skus = recordedArm("skus");
    const t4 = list(skus).find((s) => s.name === "Standard_NC4as_T4_v3");
    assert.ok(t4);
    t4.restrictions = [
      {
        type: "Location",
        values: ["eastus"],
        restrictionInfo: { locations: ["eastus"] },
        reasonCode: "NotAvailableForSubscription",
      },
    ];
    const found = await refusals({ skus: ok(skus) });
    assert.equal(found.length, 1);
    assert.match(
      found[0],
      /^GPU pool VM size Standard_NC4as_T4_v3 is restricted in eastus for this subscription \(NotAvailableForSubscription\), so no node of it can be created\. Fix: request access/,
    );
    assert.match(found[0], /az vm list-skus --location eastus --size Standard_NC4as_T4_v3 --all -o table/);
  });

  it("the GPU size not offered in the region at all", async () => {
    const skus = recordedArm("skus");
    skus.value = list(skus).filter((s) => s.name !== "Standard_NC4as_T4_v3");
    const found = await refusals({ skus: ok(skus) });
    assert.deepEqual(
      found.map((f) => f.slice(0, f.indexOf(". Fix"))),
      ["GPU pool VM size Standard_NC4as_T4_v3 is not offered in eastus"],
    );
  });

  it("the Kubernetes version not offered by AKS in the region", async () => {
    const versions = recordedArm("kubernetesVersions");
    versions.values = list(versions, "values").filter((v) => v.version !== "1.36");
    const found = await refusals({ kubernetesVersions: ok(versions) });
    assert.deepEqual(found, [
      "kubernetesVersion 1.36 is not offered by AKS in eastus. Fix: pulumi config set kubernetesVersion 1.35 " +
        "(offered in eastus: 1.35)",
    ]);
  });

  it("a read ARM refuses (no Reader role) is a failure line, not a crash", async () => {
    const denied = {
      status: 403,
      body: { error: { code: "AuthorizationFailed", message: "The client does not have authorization" } },
    };
    const found = await refusals({ usages: denied });
    assert.equal(found.length, 1);
    assert.match(
      found[0],
      /^could not read the region's vCPU quotas \(GET .*\/usages failed with AuthorizationFailed: The client does not have authorization\)\. Fix: sign in as an identity with at least Reader/,
    );
  });

  it("several refusals at once, one line each", async () => {
    const providers = recordedArm("providers");
    for (const p of list(providers))
      if (p.namespace === "Microsoft.Insights") p.registrationState = "Unregistering";
    const versions = recordedArm("kubernetesVersions");
    versions.values = [];
    const found = await refusals({ providers: ok(providers), kubernetesVersions: ok(versions) });
    assert.equal(found.length, 2);
    assert.match(found[0], /Microsoft\.Insights is Unregistering/);
    assert.match(
      found[1],
      /kubernetesVersion 1\.36 is not offered by AKS in eastus\. Fix: list what AKS offers/,
    );
  });

  it("a retired size is refused even earlier, by the config check, naming date and replacement", async () => {
    const registered: Recorded[] = [];
    await assert.rejects(
      runProgram({
        config: { ...devStackConfig(), gpuVmSize: "Standard_NC6" },
        onRegister: (r) => registered.push(r),
      }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        const problems = error.problems.join("\n");
        assert.match(
          problems,
          /gpuVmSize = "Standard_NC6": Standard_NC6 .* was retired by Azure on 2023-09-06/,
        );
        assert.match(problems, /Fix: pulumi config set gpuVmSize Standard_NC4as_T4_v3/);
        return true;
      },
    );
    assert.deepEqual(registered, []);
  });
});

describe("checks on their own", () => {
  const skus = recordedArm("skus");
  const gpuPool = {
    role: "GPU pool",
    vmSize: "Standard_NC4as_T4_v3",
    nodeCount: 3,
    surgeNodes: 0,
    sizeKey: "gpuVmSize",
  } as const;

  it("a zone-only restriction does not block a size (this program asks for no zones)", () => {
    const found = checkSku(skus, { ...gpuPool, role: "system pool", vmSize: "Standard_D4s_v5" }, "eastus");
    assert.deepEqual(found, { size: { name: "Standard_D4s_v5", family: "standardDSv5Family", vCpus: 4 } });
  });

  it("a re-run counts this stack's own cluster as available to it", () => {
    const clusters = {
      value: [
        {
          name: "gpuinf-aks-x7k2q9",
          location: "eastus",
          tags: { "pulumi-project": "gpu-inference-aks", "pulumi-stack": "dev" },
          properties: {
            agentPoolProfiles: [
              { name: "system", vmSize: "Standard_D4s_v5", count: 2 },
              { name: "gpu", vmSize: "Standard_NC4as_T4_v3", count: 3 },
            ],
          },
        },
        {
          name: "someone-elses",
          location: "eastus",
          tags: { "pulumi-stack": "prod" },
          properties: { agentPoolProfiles: [{ vmSize: "Standard_NC4as_T4_v3", count: 5 }] },
        },
      ],
    };
    const held = heldByCluster(
      clusters,
      skus,
      { "pulumi-project": "gpu-inference-aks", "pulumi-stack": "dev" },
      "eastus",
    );
    assert.deepEqual(Object.fromEntries(held), {
      standardDSv5Family: 8,
      standardNCASv3_T4Family: 12,
      cores: 20,
    });
    // The T4 quota is fully used, by this very cluster: the re-run still fits.
    const usages = {
      value: [
        {
          name: { value: "standardNCASv3_T4Family", localizedValue: "T4" },
          currentValue: 12,
          limit: 12,
          unit: "Count",
        },
        { name: { value: "cores", localizedValue: "Total" }, currentValue: 12, limit: 12, unit: "Count" },
      ],
    };
    const size = checkSku(skus, gpuPool, "eastus").size;
    assert.ok(size);
    assert.deepEqual(checkQuotas(usages, [{ pool: gpuPool, size }], "eastus", held), []);
    assert.equal(checkQuotas(usages, [{ pool: gpuPool, size }], "eastus", new Map()).length, 2);
  });

  it("a version offered only as long-term support is refused for the Free tier", () => {
    const [line] = checkKubernetesVersion(recordedArm("kubernetesVersions"), "1.34", "eastus");
    assert.match(
      line,
      /^kubernetesVersion 1\.34 is offered in eastus only with long-term support \(AKSLongTermSupport, Premium tier\)/,
    );
    assert.match(line, /Fix: pulumi config set kubernetesVersion 1\.36 \(offered in eastus: 1\.35, 1\.36\)/);
  });

  it("a preview version and an unknown patch are refused; a known patch passes", () => {
    const versions = recordedArm("kubernetesVersions");
    assert.match(checkKubernetesVersion(versions, "1.37", "eastus")[0], /only in preview/);
    assert.match(
      checkKubernetesVersion(versions, "1.35.1", "eastus")[0],
      /offered for 1\.35: 1\.35\.8, 1\.35\.9/,
    );
    assert.deepEqual(checkKubernetesVersion(versions, "1.35.9", "eastus"), []);
  });

  it("runPreflight reports an unreadable quota list as such", async () => {
    const get = async (path: string): Promise<unknown> => {
      if (path.includes("/usages"))
        throw new ArmError(429, "TooManyRequests", path, "GET usages failed with TooManyRequests");
      const route = (["providers", "skus", "kubernetesVersions", "managedClusters"] as const).find((r) =>
        r === "providers" ? /\/providers\?/.test(path) : path.includes(r === "skus" ? "/skus" : `/${r}`),
      );
      return route === undefined ? {} : recordedArm(route);
    };
    await assert.rejects(
      runPreflight(
        {
          subscriptionId: "s",
          location: "eastus",
          kubernetesVersion: "1.35",
          pools: [gpuPool],
          clusterTags: {},
        },
        get,
      ),
      (error: unknown) =>
        error instanceof PreflightError &&
        error.failures.length === 1 &&
        /could not read the region's vCPU quotas \(GET usages failed with TooManyRequests\)/.test(
          error.failures[0],
        ),
    );
  });
});

describe("the ARM reader", () => {
  it("follows nextLink pages and sends the bearer token", async () => {
    const seen: string[] = [];
    const fake = (async (input: string | URL | Request, init?: RequestInit) => {
      seen.push(`${String(input)} ${new Headers(init?.headers).get("Authorization")}`);
      const body = String(input).includes("page=2")
        ? { value: [{ n: 2 }] }
        : { value: [{ n: 1 }], nextLink: "https://management.azure.com/next?page=2" };
      return new Response(JSON.stringify(body), { status: 200 });
    }) as typeof fetch;
    const body = await armReader("tok", fake)("/subscriptions/s/providers?api-version=2021-04-01");
    assert.deepEqual(body, { value: [{ n: 1 }, { n: 2 }], nextLink: undefined });
    assert.deepEqual(seen, [
      "https://management.azure.com/subscriptions/s/providers?api-version=2021-04-01 Bearer tok",
      "https://management.azure.com/next?page=2 Bearer tok",
    ]);
  });

  it("turns an ARM error body into an ArmError naming code and message", async () => {
    const fake = (async () =>
      new Response(JSON.stringify({ error: { code: "InvalidAuthenticationToken", message: "expired" } }), {
        status: 401,
      })) as unknown as typeof fetch;
    await assert.rejects(armReader("t", fake)("/x?api-version=1"), (error: unknown) => {
      assert.ok(error instanceof ArmError);
      assert.equal(error.code, "InvalidAuthenticationToken");
      assert.equal(error.message, "GET /x failed with InvalidAuthenticationToken: expired");
      return true;
    });
  });
});
