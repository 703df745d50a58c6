/**
 * A hand-built stack in the shape the program declares, compliant with every policy. Tests change one
 * property at a time to show each rule firing. Fresh objects on every call, so tests can mutate them.
 */
import type { CapturedResource } from "./evaluate";

export const DIGEST = `sha256:${"ab12".repeat(16)}`;
export const LOGIN_SERVER = "gpuinferacr.azurecr.io";
export const SCORING_IMAGE = `${LOGIN_SERVER}/scoring@${DIGEST}`;
export const PLUGIN_IMAGE = `${LOGIN_SERVER}/nvidia/k8s-device-plugin@${DIGEST}`;

const GPU_TOLERATION = { key: "sku", operator: "Equal", value: "gpu", effect: "NoSchedule" };

export function hardenedContext(): Record<string, unknown> {
  return {
    runAsNonRoot: true,
    runAsUser: 1000,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
  };
}

export function scoringDeployment(): CapturedResource {
  return {
    type: "kubernetes:apps/v1:Deployment",
    name: "scoring",
    props: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "scoring", namespace: "inference" },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: "scoring" } },
        template: {
          metadata: { labels: { app: "scoring" } },
          spec: {
            nodeSelector: { sku: "gpu" },
            tolerations: [GPU_TOLERATION],
            containers: [
              {
                name: "scoring",
                image: SCORING_IMAGE,
                resources: {
                  requests: { cpu: "2", memory: "4Gi", "nvidia.com/gpu": 1 },
                  limits: { cpu: "2", memory: "4Gi", "nvidia.com/gpu": 1 },
                },
                securityContext: hardenedContext(),
              },
            ],
          },
        },
      },
    },
  };
}

export function devicePluginDaemonSet(): CapturedResource {
  return {
    type: "kubernetes:apps/v1:DaemonSet",
    name: "nvidia-device-plugin",
    props: {
      metadata: { name: "nvidia-device-plugin-daemonset", namespace: "kube-system" },
      spec: {
        selector: { matchLabels: { name: "nvidia-device-plugin-ds" } },
        template: {
          metadata: { labels: { name: "nvidia-device-plugin-ds" } },
          spec: {
            priorityClassName: "system-node-critical",
            tolerations: [
              { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
              GPU_TOLERATION,
            ],
            containers: [
              {
                name: "nvidia-device-plugin-ctr",
                image: PLUGIN_IMAGE,
                // Root is waived for the device plugin image; the other two checks still apply.
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ["ALL"] },
                },
              },
            ],
          },
        },
      },
    },
  };
}

export function compliantStack(): CapturedResource[] {
  return [
    {
      type: "azure-native:containerservice:ManagedCluster",
      name: "aks",
      props: {
        resourceName: "aks",
        agentPoolProfiles: [{ name: "system", mode: "System", vmSize: "Standard_D4s_v5", count: 2 }],
        aadProfile: { managed: true, enableAzureRBAC: true },
        disableLocalAccounts: true,
      },
    },
    {
      type: "azure-native:containerservice:AgentPool",
      name: "gpu",
      props: {
        agentPoolName: "gpu",
        vmSize: "Standard_NC4as_T4_v3",
        count: 3,
        nodeTaints: ["sku=gpu:NoSchedule"],
        nodeLabels: { sku: "gpu" },
      },
    },
    {
      type: "azure-native:containerregistry:Registry",
      name: "acr",
      props: { registryName: "gpuinferacr", adminUserEnabled: false, loginServer: LOGIN_SERVER },
    },
    {
      type: "azure-native:storage:StorageAccount",
      name: "storage",
      props: {
        accountName: "gpuinfst",
        enableHttpsTrafficOnly: true,
        minimumTlsVersion: "TLS1_2",
        allowBlobPublicAccess: false,
        allowSharedKeyAccess: false,
      },
    },
    {
      type: "azure-native:keyvault:Vault",
      name: "vault",
      props: { properties: { enablePurgeProtection: true, enableRbacAuthorization: true, tenantId: "t" } },
    },
    devicePluginDaemonSet(),
    scoringDeployment(),
    {
      type: "kubernetes:policy/v1:PodDisruptionBudget",
      name: "scoring",
      props: {
        metadata: { name: "scoring", namespace: "inference" },
        spec: { minAvailable: 1, selector: { matchLabels: { app: "scoring" } } },
      },
    },
    ...publishedThroughGateway(),
  ];
}

/** The scoring namespace closed by default, and the app behind a Gateway's HTTPS listener. */
export function publishedThroughGateway(): CapturedResource[] {
  return [
    {
      type: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
      name: "inference-default-deny",
      props: {
        metadata: { name: "default-deny-all", namespace: "inference" },
        spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
      },
    },
    {
      type: "kubernetes:core/v1:Service",
      name: "scoring-service",
      props: {
        metadata: { name: "scoring", namespace: "inference" },
        spec: { type: "ClusterIP", selector: { app: "scoring" }, ports: [{ port: 80 }] },
      },
    },
    {
      type: "kubernetes:gateway.networking.k8s.io/v1:Gateway",
      name: "gateway",
      props: {
        metadata: { name: "public", namespace: "edge" },
        spec: {
          gatewayClassName: "envoy",
          listeners: [
            { name: "http", protocol: "HTTP", port: 80 },
            {
              name: "https",
              protocol: "HTTPS",
              port: 443,
              tls: { mode: "Terminate", certificateRefs: [{ kind: "Secret", name: "public-tls" }] },
            },
          ],
        },
      },
    },
    {
      type: "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
      name: "redirect",
      props: {
        metadata: { name: "https-redirect", namespace: "edge" },
        spec: {
          parentRefs: [{ name: "public", sectionName: "http" }],
          rules: [
            { filters: [{ type: "RequestRedirect", requestRedirect: { scheme: "https", statusCode: 301 } }] },
          ],
        },
      },
    },
    {
      type: "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
      name: "scoring-route",
      props: {
        metadata: { name: "scoring", namespace: "inference" },
        spec: {
          parentRefs: [{ name: "public", namespace: "edge", sectionName: "https" }],
          rules: [{ backendRefs: [{ name: "scoring", port: 80 }] }],
        },
      },
    },
  ];
}

/** The stack with one resource replaced (matched by type and name). */
export function withResource(replacement: CapturedResource): CapturedResource[] {
  const stack = compliantStack();
  const index = stack.findIndex((r) => r.type === replacement.type && r.name === replacement.name);
  if (index < 0) return [...stack, replacement];
  stack[index] = replacement;
  return stack;
}

/** Deeply nested property access for building violating variants without casts everywhere. */
export function podSpecOf(resource: CapturedResource): Record<string, unknown> {
  const spec = resource.props.spec as { template: { spec: Record<string, unknown> } };
  return spec.template.spec;
}

export function firstContainer(resource: CapturedResource): Record<string, unknown> {
  return (podSpecOf(resource).containers as Record<string, unknown>[])[0];
}
