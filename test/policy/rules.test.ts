/**
 * Each policy passes the compliant stack and fails a stack with one violation, with the message a
 * user would read in `pulumi preview`.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import type { PolicyPackConfig } from "@pulumi/policy";
import { gpuSizeRefusal, gpuSkuCatalogue, isSupportedGpuSize } from "../../components/gpuSkus";
import { policies } from "../../policy/policies";
import {
  blocking,
  type CapturedResource,
  evaluatePolicies,
  type Violation,
} from "../../policy/testing/evaluate";
import {
  compliantStack,
  DIGEST,
  devicePluginDaemonSet,
  firstContainer,
  podSpecOf,
  scoringDeployment,
  withResource,
} from "../../policy/testing/fixtures";

async function violationsOf(
  policyName: string,
  resources: readonly CapturedResource[],
  config?: PolicyPackConfig,
): Promise<Violation[]> {
  return (await evaluatePolicies(policies, resources, config)).filter((v) => v.policyName === policyName);
}

function messages(violations: readonly Violation[]): string {
  return violations.map((v) => v.message).join("\n");
}

describe("the compliant stack", () => {
  it("passes every policy", async () => {
    assert.deepEqual(await evaluatePolicies(policies, compliantStack()), []);
  });
});

describe("gpu-workload-scheduling", () => {
  it("fails a GPU workload that requests no GPU", async () => {
    const deployment = scoringDeployment();
    firstContainer(deployment).resources = { limits: { cpu: "2", memory: "4Gi" } };
    const found = await violationsOf("gpu-workload-scheduling", withResource(deployment));
    assert.equal(found.length, 1);
    assert.equal(found[0].enforcementLevel, "mandatory");
    assert.match(found[0].message, /Deployment "scoring" in namespace "inference" is placed on the GPU pool/);
    assert.match(found[0].message, /no container sets resources\.limits\["nvidia\.com\/gpu"\]/);
  });

  it("fails a workload that requests a GPU but does not tolerate sku=gpu:NoSchedule", async () => {
    const deployment = scoringDeployment();
    podSpecOf(deployment).tolerations = [
      { key: "sku", operator: "Equal", value: "cpu", effect: "NoSchedule" },
    ];
    const found = await violationsOf("gpu-workload-scheduling", withResource(deployment));
    assert.equal(found.length, 1);
    assert.match(
      found[0].message,
      /requests nvidia\.com\/gpu but does not tolerate the GPU pool's taint sku=gpu:NoSchedule/,
    );
  });

  it("accepts an Exists toleration on the sku key and a GPU count given as a string", async () => {
    const deployment = scoringDeployment();
    podSpecOf(deployment).tolerations = [{ key: "sku", operator: "Exists" }];
    firstContainer(deployment).resources = { limits: { "nvidia.com/gpu": "1" } };
    assert.deepEqual(await violationsOf("gpu-workload-scheduling", withResource(deployment)), []);
  });

  it("fails a GPU request without a limit", async () => {
    const deployment = scoringDeployment();
    firstContainer(deployment).resources = { requests: { "nvidia.com/gpu": 1 } };
    const text = messages(await violationsOf("gpu-workload-scheduling", withResource(deployment)));
    assert.match(text, /requests nvidia\.com\/gpu without a limit/);
  });

  it("fails a device plugin DaemonSet that does not tolerate the GPU taint", async () => {
    const plugin = devicePluginDaemonSet();
    podSpecOf(plugin).tolerations = [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }];
    const found = await violationsOf("gpu-workload-scheduling", withResource(plugin));
    assert.equal(found.length, 1);
    assert.match(
      found[0].message,
      /DaemonSet "nvidia-device-plugin-daemonset" in namespace "kube-system" runs on GPU nodes/,
    );
    assert.match(found[0].message, /no node advertises nvidia\.com\/gpu/);
  });
});

describe("gpu-pool-vm-size-supported", () => {
  const pool = (vmSize: string): CapturedResource => ({
    type: "azure-native:containerservice:AgentPool",
    name: "gpu",
    props: { agentPoolName: "gpu", vmSize, count: 3, nodeTaints: ["sku=gpu:NoSchedule"] },
  });

  it("fails the retired Standard_NC6 with its retirement date and replacement", async () => {
    const found = await violationsOf("gpu-pool-vm-size-supported", withResource(pool("Standard_NC6")));
    assert.equal(found.length, 1);
    assert.equal(found[0].enforcementLevel, "mandatory");
    assert.match(
      found[0].message,
      /AKS node pool "gpu": Standard_NC6 \(NVIDIA Tesla K80 \(half card\)\) was retired by Azure on 2023-09-06/,
    );
    assert.match(found[0].message, /pulumi config set gpuVmSize Standard_NC4as_T4_v3/);
  });

  it("fails an N-series size missing from the catalogue", async () => {
    const found = await violationsOf(
      "gpu-pool-vm-size-supported",
      withResource(pool("Standard_NV6ads_A10_v5")),
    );
    assert.match(messages(found), /Standard_NV6ads_A10_v5 is not in the GPU size catalogue/);
    // Word for word what the config check says about the same size (components/gpuSkus.ts).
    assert.equal(found[0].message, `AKS node pool "gpu": ${gpuSizeRefusal("Standard_NV6ads_A10_v5")}`);
    // It offers exactly the catalogue's supported sizes, never a retired one.
    const offered = /pick a supported size \(([^)]*)\)/.exec(messages(found))?.[1].split(", ");
    assert.deepEqual(offered, Object.keys(gpuSkuCatalogue).filter(isSupportedGpuSize));
    assert.ok(offered?.includes("Standard_NC24ads_A100_v4") && !offered.includes("Standard_NC6s_v3"));
  });

  it("checks GPU pools declared inline in the managed cluster too", async () => {
    const cluster: CapturedResource = {
      type: "azure-native:containerservice:ManagedCluster",
      name: "aks",
      props: {
        agentPoolProfiles: [
          { name: "system", vmSize: "Standard_D4s_v5" },
          { name: "gpu", vmSize: "Standard_NC6s_v3", nodeTaints: ["sku=gpu:NoSchedule"] },
        ],
      },
    };
    const found = await violationsOf("gpu-pool-vm-size-supported", withResource(cluster));
    assert.equal(found.length, 1);
    assert.match(
      found[0].message,
      /node pool "gpu" of cluster "aks": Standard_NC6s_v3 .* retired by Azure on 2025-09-30/,
    );
    // The replacement is the catalogue's (NCv3's successor, NC A100 v4), not a copy kept in the pack.
    const replacement = gpuSkuCatalogue.Standard_NC6s_v3.retired?.replacement;
    assert.equal(replacement, "Standard_NC24ads_A100_v4");
    assert.ok(found[0].message.includes(`pulumi config set gpuVmSize ${replacement}`), found[0].message);
  });

  it("is mandatory on every stack: no policy config in the repository relaxes it", async () => {
    const found = await evaluatePolicies(policies, withResource(pool("Standard_NC6")));
    assert.equal(blocking(found).length, 1);
    const dir = path.resolve(__dirname, "..", "..", "policy", "config");
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".json")) : [];
    for (const file of files) {
      const config = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as PolicyPackConfig;
      const entry = config["gpu-pool-vm-size-supported"];
      const level = typeof entry === "string" ? entry : entry?.enforcementLevel;
      assert.ok(
        level === undefined || level === "mandatory",
        `${file} relaxes gpu-pool-vm-size-supported to ${level}`,
      );
    }
    assert.equal(fs.existsSync(path.join(dir, "dev.json")), false, "policy/config/dev.json is gone");
  });
});

describe("gpu-pool-tainted", () => {
  it("fails a GPU pool without the sku=gpu:NoSchedule taint", async () => {
    const pool: CapturedResource = {
      type: "azure-native:containerservice:AgentPool",
      name: "gpu",
      props: { agentPoolName: "gpu", vmSize: "Standard_NC4as_T4_v3", nodeTaints: [] },
    };
    const found = await violationsOf("gpu-pool-tainted", withResource(pool));
    assert.equal(found.length, 1);
    assert.match(found[0].message, /GPU pool without the taint sku=gpu:NoSchedule/);
  });
});

describe("registry-admin-user-disabled", () => {
  it("fails a registry with the admin user on", async () => {
    const found = await violationsOf(
      "registry-admin-user-disabled",
      withResource({
        type: "azure-native:containerregistry:Registry",
        name: "acr",
        props: { adminUserEnabled: true },
      }),
    );
    assert.equal(found.length, 1);
    assert.match(found[0].message, /Container registry "acr" has its admin user enabled/);
  });
});

describe("storage-https-tls12-private", () => {
  const storage = (props: Record<string, unknown>): CapturedResource[] =>
    withResource({ type: "azure-native:storage:StorageAccount", name: "storage", props });

  it("fails HTTP, old TLS and public blob access, one message each", async () => {
    const found = await violationsOf(
      "storage-https-tls12-private",
      storage({ enableHttpsTrafficOnly: false, minimumTlsVersion: "TLS1_0", allowBlobPublicAccess: true }),
    );
    assert.equal(found.length, 3);
    assert.match(found[0].message, /Storage account "storage" accepts plain HTTP/);
    assert.match(found[1].message, /allows TLS below 1\.2 \(minimumTlsVersion is TLS1_0\)/);
    assert.match(found[2].message, /does not forbid public blob access \(allowBlobPublicAccess is true\)/);
  });

  it("asks for TLS and public access to be stated rather than left to the API default", async () => {
    const text = messages(
      await violationsOf("storage-https-tls12-private", storage({ enableHttpsTrafficOnly: true })),
    );
    assert.match(text, /minimumTlsVersion is unset/);
    assert.match(text, /allowBlobPublicAccess is unset/);
  });

  it("fails an anonymously readable blob container", async () => {
    const found = await violationsOf(
      "blob-container-private",
      withResource({
        type: "azure-native:storage:BlobContainer",
        name: "models",
        props: { publicAccess: "Blob" },
      }),
    );
    assert.match(messages(found), /Blob container "models" is readable anonymously \(publicAccess: Blob\)/);
  });
});

describe("key-vault-purge-protection-rbac", () => {
  it("fails a vault without purge protection or RBAC", async () => {
    const found = await violationsOf(
      "key-vault-purge-protection-rbac",
      withResource({
        type: "azure-native:keyvault:Vault",
        name: "vault",
        props: { properties: { tenantId: "t" } },
      }),
    );
    assert.equal(found.length, 2);
    assert.match(found[0].message, /Key vault "vault" lacks purge protection/);
    assert.match(found[1].message, /uses access policies instead of Azure RBAC/);
  });
});

describe("container-hardening", () => {
  it("fails a container that can run as root, escalate and write its root filesystem", async () => {
    const deployment = scoringDeployment();
    firstContainer(deployment).securityContext = undefined;
    const found = await violationsOf("container-hardening", withResource(deployment));
    assert.equal(found.length, 3);
    assert.match(found[0].message, /container "scoring" can run as root/);
    assert.match(found[1].message, /can escalate privileges/);
    assert.match(found[2].message, /can write its root filesystem/);
  });

  it("takes runAsNonRoot from the pod's securityContext, but not runAsUser: 0", async () => {
    const deployment = scoringDeployment();
    firstContainer(deployment).securityContext = {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
    };
    podSpecOf(deployment).securityContext = { runAsNonRoot: true };
    assert.deepEqual(await violationsOf("container-hardening", withResource(deployment)), []);
    firstContainer(deployment).securityContext = {
      runAsUser: 0,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
    };
    assert.match(
      messages(await violationsOf("container-hardening", withResource(deployment))),
      /can run as root/,
    );
  });

  it("treats a privileged container as able to escalate", async () => {
    const deployment = scoringDeployment();
    firstContainer(deployment).securityContext = {
      ...(firstContainer(deployment).securityContext as object),
      privileged: true,
    };
    assert.match(
      messages(await violationsOf("container-hardening", withResource(deployment))),
      /can escalate privileges/,
    );
  });

  it("checks init containers", async () => {
    const deployment = scoringDeployment();
    podSpecOf(deployment).initContainers = [{ name: "fetch-model", image: "x" }];
    assert.match(
      messages(await violationsOf("container-hardening", withResource(deployment))),
      /container "fetch-model" can run as root/,
    );
  });
});

describe("images-from-project-registry-by-digest", () => {
  it("fails an image pulled by tag", async () => {
    const plugin = devicePluginDaemonSet();
    firstContainer(plugin).image = "nvcr.io/nvidia/k8s-device-plugin:v0.20.0";
    const found = await violationsOf("images-from-project-registry-by-digest", withResource(plugin));
    assert.equal(found.length, 1);
    assert.equal(found[0].resourceName, "nvidia-device-plugin");
    assert.match(
      found[0].message,
      /image "nvcr\.io\/nvidia\/k8s-device-plugin:v0\.20\.0" is not pinned by digest/,
    );
  });

  it("fails a digest-pinned image from another registry unless the policy config allows that reference", async () => {
    const external = `nvcr.io/nvidia/k8s-device-plugin@${DIGEST}`;
    const plugin = devicePluginDaemonSet();
    firstContainer(plugin).image = external;
    const found = await violationsOf("images-from-project-registry-by-digest", withResource(plugin));
    assert.match(
      messages(found),
      /is pulled from nvcr\.io, not from the project's registry \(gpuinferacr\.azurecr\.io\)/,
    );
    const allowed = await violationsOf("images-from-project-registry-by-digest", withResource(plugin), {
      "images-from-project-registry-by-digest": { allowedExternalImages: [external] },
    });
    assert.deepEqual(allowed, []);
  });

  it("derives the login server from the registry name when Azure has not reported it", async () => {
    const stack = withResource({
      type: "azure-native:containerregistry:Registry",
      name: "acr",
      props: { registryName: "GpuInferAcr", adminUserEnabled: false },
    });
    assert.deepEqual(await violationsOf("images-from-project-registry-by-digest", stack), []);
  });
});

describe("scoring-availability", () => {
  it("fails a Deployment with fewer than 2 replicas", async () => {
    const deployment = scoringDeployment();
    (deployment.props.spec as Record<string, unknown>).replicas = 1;
    const found = await violationsOf("scoring-availability", withResource(deployment));
    assert.equal(found.length, 2, messages(found));
    assert.match(
      found[0].message,
      /Deployment "scoring" in namespace "inference" runs 1 replica\(s\); at least 2/,
    );
    // With one replica, minAvailable: 1 also blocks every drain.
    assert.match(found[1].message, /allows no pod to be evicted with 1 replica/);
  });

  it("fails a Deployment no disruption budget selects", async () => {
    const stack = compliantStack().filter((r) => r.type !== "kubernetes:policy/v1:PodDisruptionBudget");
    const found = await violationsOf("scoring-availability", stack);
    assert.equal(found.length, 1);
    assert.equal(found[0].resourceName, "scoring");
    assert.match(found[0].message, /has no PodDisruptionBudget selecting its pods/);
  });

  it("does not count a budget in another namespace or for other labels", async () => {
    const stack = compliantStack().map((r) =>
      r.type === "kubernetes:policy/v1:PodDisruptionBudget"
        ? {
            ...r,
            props: {
              metadata: { namespace: "other" },
              spec: { minAvailable: 1, selector: { matchLabels: { app: "scoring" } } },
            },
          }
        : r,
    );
    assert.match(messages(await violationsOf("scoring-availability", stack)), /has no PodDisruptionBudget/);
  });

  it("fails a budget that forbids every eviction", async () => {
    const stack = compliantStack().map((r) =>
      r.type === "kubernetes:policy/v1:PodDisruptionBudget"
        ? {
            ...r,
            props: {
              metadata: { name: "scoring", namespace: "inference" },
              spec: { maxUnavailable: 0, selector: { matchLabels: { app: "scoring" } } },
            },
          }
        : r,
    );
    assert.match(
      messages(await violationsOf("scoring-availability", stack)),
      /PodDisruptionBudget "scoring", which allows no pod to be evicted with 3 replica/,
    );
  });
});
