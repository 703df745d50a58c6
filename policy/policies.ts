/**
 * The pack's policies: each wraps a pure rule from rules/ with its name, enforcement level and
 * config. Kept apart from index.ts because constructing a PolicyPack starts its gRPC server; tests
 * import this list instead.
 */
import type {
  EnforcementLevel,
  Policies,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import type { Props } from "./lib/props";
import type { StackResource } from "./lib/stackResource";
import { DEFAULT_GPU_NODE_LABELS, isWorkloadType, type Workload, workloadOf } from "./lib/workloads";
import { checkAutoscalers } from "./rules/autoscaling";
import { type AvailabilityConfig, checkAvailability } from "./rules/availability";
import { checkBlobContainer, checkKeyVault, checkRegistry, checkStorageAccount } from "./rules/azureData";
import { type ContainerSecurityConfig, checkContainerSecurity } from "./rules/containerSecurity";
import { checkGpuPoolSize, checkGpuPoolTaint, nodePoolsOf } from "./rules/gpuPool";
import { checkGpuWorkload, type GpuWorkloadConfig } from "./rules/gpuWorkloads";
import { checkImages, type ImageConfig } from "./rules/images";
import {
  checkClusterAccess,
  checkNetworkPolicies,
  checkNoCertificateKubeconfig,
  checkPublicEndpointsTls,
  checkSharedKeys,
  type NetworkPolicyConfig,
} from "./rules/security";
import { checkCaptureRetention, checkRouteBackendsExist, checkRouteWeights } from "./rules/versions";

export const PACK_NAME = "gpu-inference-aks";
export const PACK_ENFORCEMENT: EnforcementLevel = "mandatory";

/** Defaults merged under whatever the policy config file sets, so a partial config keeps the rest. */
export const configDefaults = {
  "gpu-workload-scheduling": { gpuNodeLabels: DEFAULT_GPU_NODE_LABELS } satisfies GpuWorkloadConfig,
  "container-hardening": {
    // The NVIDIA device plugin must create its socket in the root-owned /var/lib/kubelet/device-plugins.
    rootAllowedRepositories: ["nvidia/k8s-device-plugin"],
  } satisfies ContainerSecurityConfig,
  "images-from-project-registry-by-digest": { allowedExternalImages: [] } satisfies ImageConfig,
  "scoring-availability": { minReplicas: 2 } satisfies AvailabilityConfig,
  "network-policy-every-namespace": { exemptNamespaces: ["kube-system"] } satisfies NetworkPolicyConfig,
} as const;

type ConfiguredPolicy = keyof typeof configDefaults;

function configOf<K extends ConfiguredPolicy>(
  name: K,
  args: ResourceValidationArgs | StackValidationArgs,
): (typeof configDefaults)[K] {
  return { ...configDefaults[name], ...args.getConfig<Partial<(typeof configDefaults)[K]>>() };
}

function reportAll(report: ReportViolation, messages: readonly string[]): void {
  for (const message of messages) report(message);
}

/** A resource policy over workloads (anything with a pod template). */
function workloadPolicy(
  fields: Omit<ResourceValidationPolicy, "validateResource">,
  check: (workload: Workload, args: ResourceValidationArgs) => string[],
): ResourceValidationPolicy {
  return {
    ...fields,
    validateResource: (args, report) => {
      if (!isWorkloadType(args.type)) return;
      const workload = workloadOf(args.type, args.name, args.props as Props);
      if (workload !== undefined) reportAll(report, check(workload, args));
    },
  };
}

function typedPolicy(
  fields: Omit<ResourceValidationPolicy, "validateResource">,
  type: string,
  check: (name: string, props: Props) => string[],
): ResourceValidationPolicy {
  return {
    ...fields,
    validateResource: (args, report) => {
      if (args.type === type) reportAll(report, check(args.name, args.props as Props));
    },
  };
}

function stackResources(args: StackValidationArgs): StackResource[] {
  return args.resources.map((r) => ({ type: r.type, name: r.name, urn: r.urn, props: r.props as Props }));
}

const gpuWorkloadScheduling = workloadPolicy(
  {
    name: "gpu-workload-scheduling",
    description: "GPU workloads request nvidia.com/gpu and tolerate the GPU pool's taint sku=gpu:NoSchedule.",
    enforcementLevel: "mandatory",
    configSchema: {
      properties: {
        gpuNodeLabels: { type: "object", description: "Node labels (key: value) that select the GPU pool." },
      },
    },
  },
  (workload, args) => checkGpuWorkload(workload, configOf("gpu-workload-scheduling", args)),
);

const gpuPoolVmSize: ResourceValidationPolicy = {
  name: "gpu-pool-vm-size-supported",
  description:
    "The GPU node pool uses a VM size from the supported catalogue (components/gpuSkus.ts), not a retired one.",
  // Mandatory on every stack, with no per-stack opt-out: a retired or unknown size passes preview and
  // then fails `pulumi up` after the cluster is built. The config check refuses the same sizes with the
  // same words (gpuSizeRefusal), so this rule only fires for pools declared outside the program's config.
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    for (const pool of nodePoolsOf(args.type, args.name, args.props as Props))
      reportAll(report, checkGpuPoolSize(pool));
  },
};

const gpuPoolTainted: ResourceValidationPolicy = {
  name: "gpu-pool-tainted",
  description: "The GPU node pool carries the taint sku=gpu:NoSchedule.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    for (const pool of nodePoolsOf(args.type, args.name, args.props as Props))
      reportAll(report, checkGpuPoolTaint(pool));
  },
};

const registryNoAdmin = typedPolicy(
  {
    name: "registry-admin-user-disabled",
    description: "The container registry's admin user is off.",
    enforcementLevel: "mandatory",
  },
  "azure-native:containerregistry:Registry",
  checkRegistry,
);

const storageSecure = typedPolicy(
  {
    name: "storage-https-tls12-private",
    description: "Storage accounts refuse HTTP, require TLS 1.2 or later and forbid public blob access.",
    enforcementLevel: "mandatory",
  },
  "azure-native:storage:StorageAccount",
  checkStorageAccount,
);

const blobContainerPrivate = typedPolicy(
  {
    name: "blob-container-private",
    description: "Blob containers are not anonymously readable.",
    enforcementLevel: "mandatory",
  },
  "azure-native:storage:BlobContainer",
  checkBlobContainer,
);

const keyVaultProtected = typedPolicy(
  {
    name: "key-vault-purge-protection-rbac",
    description: "Key vaults have purge protection and use Azure RBAC.",
    enforcementLevel: "mandatory",
  },
  "azure-native:keyvault:Vault",
  checkKeyVault,
);

const containerHardening = workloadPolicy(
  {
    name: "container-hardening",
    description:
      "Containers run as non-root, cannot escalate privileges and have a read-only root filesystem.",
    enforcementLevel: "mandatory",
    configSchema: {
      properties: {
        rootAllowedRepositories: {
          type: "array",
          items: { type: "string" },
          description:
            "Image repositories (no host, tag or digest) allowed to run as root; only that check is waived.",
        },
      },
    },
  },
  (workload, args) => checkContainerSecurity(workload, configOf("container-hardening", args)),
);

const imagesByDigest: StackValidationPolicy = {
  name: "images-from-project-registry-by-digest",
  description: "Every container image comes from the project's registry and is pinned by digest.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      allowedExternalImages: {
        type: "array",
        items: { type: "string", pattern: "@sha256:[0-9a-f]{64}$" },
        description: "Exact digest-pinned references allowed from outside the project's registry.",
      },
    },
  },
  validateStack: (args, report) => {
    for (const finding of checkImages(
      stackResources(args),
      configOf("images-from-project-registry-by-digest", args),
    )) {
      report(finding.message, finding.urn);
    }
  },
};

const scoringAvailability: StackValidationPolicy = {
  name: "scoring-availability",
  description:
    "Deployments run at least two replicas and have a PodDisruptionBudget that still lets drains finish.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      minReplicas: { type: "integer", minimum: 1, description: "Fewest replicas a Deployment may run." },
    },
  },
  validateStack: (args, report) => {
    for (const finding of checkAvailability(stackResources(args), configOf("scoring-availability", args))) {
      report(finding.message, finding.urn);
    }
  },
};

/** A stack policy whose check reads only the resources (and, for some, its config). */
function stackPolicy(
  fields: Omit<StackValidationPolicy, "validateStack">,
  check: (resources: StackResource[], args: StackValidationArgs) => { message: string; urn?: string }[],
): StackValidationPolicy {
  return {
    ...fields,
    validateStack: (args, report) => {
      for (const finding of check(stackResources(args), args)) report(finding.message, finding.urn);
    },
  };
}

const publicEndpointsTls = stackPolicy(
  {
    name: "public-endpoints-tls",
    description:
      "Nothing is published without TLS: no LoadBalancer Service, Ingress hosts covered by spec.tls, Gateway listeners HTTPS (HTTP only to redirect).",
    enforcementLevel: "mandatory",
  },
  (resources) => checkPublicEndpointsTls(resources),
);

const networkPolicyEveryNamespace = stackPolicy(
  {
    name: "network-policy-every-namespace",
    description:
      "Every namespace with workloads denies ingress by default (GPU workloads' namespaces egress too) with a NetworkPolicy.",
    enforcementLevel: "mandatory",
    configSchema: {
      properties: {
        exemptNamespaces: {
          type: "array",
          items: { type: "string" },
          description: "Platform-managed namespaces the rule skips (kube-system by default).",
        },
      },
    },
  },
  (resources, args) => checkNetworkPolicies(resources, configOf("network-policy-every-namespace", args)),
);

const noCertificateKubeconfig = stackPolicy(
  {
    name: "no-certificate-kubeconfig",
    description:
      "No stack output is a kubeconfig (or carries client certificate data), and no Kubernetes provider signs in with a certificate.",
    enforcementLevel: "mandatory",
  },
  (resources) => checkNoCertificateKubeconfig(resources),
);

const clusterEntraId = stackPolicy(
  {
    name: "aks-entra-id-azure-rbac",
    description:
      "AKS uses managed Entra ID with Azure RBAC; local accounts only where the Azure ML extension needs them; the extension allows no insecure connections.",
    enforcementLevel: "mandatory",
  },
  (resources) => checkClusterAccess(resources),
);

const storageSharedKeysOff = stackPolicy(
  {
    name: "storage-shared-key-off",
    description:
      "Storage accounts refuse shared-key access, except an Azure ML workspace's storage that the stack also uploads into with azure-native's key-based storage.Blob.",
    enforcementLevel: "mandatory",
  },
  (resources) => checkSharedKeys(resources),
);

const autoscalerWithinGpuPool = stackPolicy(
  {
    name: "autoscaler-within-gpu-pool",
    description:
      "An autoscaler (KEDA ScaledObject or HPA) over a GPU Deployment never asks for more GPUs than the GPU pool's maximum, nor scales to zero.",
    enforcementLevel: "mandatory",
  },
  (resources) => checkAutoscalers(resources),
);

const routeBackendsExist = stackPolicy(
  {
    name: "route-backends-have-deployments",
    description:
      "Every HTTPRoute backend with traffic (and every mirror target) is a Service of the stack selecting a Deployment's pods: no traffic to a version whose Deployment is missing.",
    enforcementLevel: "mandatory",
  },
  (resources) => checkRouteBackendsExist(resources),
);

const routeWeightsSum = stackPolicy(
  {
    name: "route-weights-sum-to-100",
    description:
      "An HTTPRoute rule split between versions states every backend's weight, and the weights sum to 100.",
    enforcementLevel: "mandatory",
  },
  (resources) => checkRouteWeights(resources),
);

const captureRetention = stackPolicy(
  {
    name: "model-data-capture-has-retention",
    description:
      "A workload that captures model data (CAPTURE_URL) writes to a container a storage lifecycle rule deletes from.",
    enforcementLevel: "mandatory",
  },
  (resources) => checkCaptureRetention(resources),
);

export const policies: Policies = [
  gpuWorkloadScheduling,
  gpuPoolVmSize,
  gpuPoolTainted,
  registryNoAdmin,
  storageSecure,
  blobContainerPrivate,
  keyVaultProtected,
  containerHardening,
  imagesByDigest,
  scoringAvailability,
  publicEndpointsTls,
  networkPolicyEveryNamespace,
  noCertificateKubeconfig,
  clusterEntraId,
  storageSharedKeysOff,
  routeBackendsExist,
  routeWeightsSum,
  captureRetention,
  autoscalerWithinGpuPool,
];
