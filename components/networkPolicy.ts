/**
 * Network policies for every namespace this program runs workloads in, enforced by Cilium (the AKS
 * network dataplane set in gpuCluster.ts; Azure CNI overlay supports it, and AKS documents Cilium as the
 * policy engine for that dataplane). Plain networking.k8s.io/v1 NetworkPolicy objects, not Cilium's own
 * CRDs: Cilium enforces them, the policy pack can read them, and they would keep working under another
 * engine.
 *
 * The scoring namespace is closed both ways:
 * - ingress to the app port only from the entry point's Envoy proxies; to the metrics port only from
 *   MONITORING_NAMESPACE and from Azure Monitor managed Prometheus (the ama-metrics pods AKS runs in
 *   kube-system, should the user turn on the monitoring add-on);
 * - egress only to the cluster DNS (CoreDNS in kube-system) and to TCP 443 outside the cluster, which is
 *   the model store (Azure Storage) and the Entra ID login endpoint the workload-identity model download
 *   needs. Those are names, not addresses: a policy by FQDN needs Cilium's L7/DNS proxy, which AKS offers
 *   only with Advanced Container Networking Services (paid), so the rule is "443 anywhere outside the
 *   cluster" minus the node-local Azure endpoints: the instance metadata service 169.254.169.254 (which
 *   would hand a pod the node's managed identity tokens) and the Azure platform address 168.63.129.16.
 * Kubelet probes come from the node itself, which Cilium always admits, so no rule is needed for them.
 *
 * The entry point's and cert-manager's namespaces deny ingress by default and admit only their public
 * listeners and admission webhooks; their egress stays open, because their controllers talk to the API
 * server (whose address AKS may move) and cert-manager to Let's Encrypt.
 */
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { APP_PORT, METRICS_PORT, MONITORING_NAMESPACE } from "./appContract";

type Spec = k8s.types.input.networking.v1.NetworkPolicySpec;
type Peer = k8s.types.input.networking.v1.NetworkPolicyPeer;

/** A named policy spec; `networkPolicies` turns each into one NetworkPolicy. */
export interface PolicySpec {
  readonly name: string;
  readonly spec: Spec;
}

/** Addresses no scoring pod may reach: the instance metadata service and the Azure platform (wire server). */
export const BLOCKED_NODE_ENDPOINTS = ["169.254.169.254/32", "168.63.129.16/32"] as const;

/** The overlay's pod and service ranges (gpuCluster.ts sets them explicitly so these stay true). */
export const CLUSTER_CIDRS = {
  pod: "10.244.0.0/16",
  service: "10.0.0.0/16",
  dnsServiceIp: "10.0.0.10",
} as const;

/** Labels Envoy Gateway puts on the proxy pods it creates for a Gateway. */
export const ENVOY_PROXY_POD_LABELS = {
  "app.kubernetes.io/component": "proxy",
  "app.kubernetes.io/managed-by": "envoy-gateway",
} as const;

/**
 * Container ports of the proxy's listeners: Envoy Gateway runs Envoy unprivileged and maps a listener
 * port below 1024 to port + 10000 (its docs' "privileged port" mapping), so 80 → 10080 and 443 → 10443.
 */
export const ENVOY_LISTENER_PORTS = [10080, 10443] as const;

const byName = (namespace: string): Record<string, string> => ({ "kubernetes.io/metadata.name": namespace });
const anywhere: Peer[] = [{ ipBlock: { cidr: "0.0.0.0/0" } }, { namespaceSelector: {} }];

function defaultDeny(types: readonly ("Ingress" | "Egress")[]): PolicySpec {
  return {
    name: types.length === 2 ? "default-deny-all" : `default-deny-${types[0].toLowerCase()}`,
    spec: { podSelector: {}, policyTypes: [...types] },
  };
}

export interface ScoringPolicyArgs {
  /** Labels of the scoring pods. */
  readonly podLabels: Readonly<Record<string, string>>;
  /** Namespace of the entry point's proxies. */
  readonly entryNamespace: string;
}

export function scoringNamespacePolicies(args: ScoringPolicyArgs): PolicySpec[] {
  const pods = { matchLabels: { ...args.podLabels } };
  return [
    defaultDeny(["Ingress", "Egress"]),
    {
      name: "allow-entry-point-to-app",
      spec: {
        podSelector: pods,
        policyTypes: ["Ingress"],
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchLabels: byName(args.entryNamespace) },
                podSelector: { matchLabels: { ...ENVOY_PROXY_POD_LABELS } },
              },
            ],
            ports: [{ protocol: "TCP", port: APP_PORT }],
          },
        ],
      },
    },
    {
      name: "allow-monitoring-to-metrics",
      spec: {
        podSelector: pods,
        policyTypes: ["Ingress"],
        ingress: [
          {
            from: [
              { namespaceSelector: { matchLabels: byName(MONITORING_NAMESPACE) } },
              // Azure Monitor managed Prometheus: the ama-metrics ReplicaSet and DaemonSet in kube-system.
              {
                namespaceSelector: { matchLabels: byName("kube-system") },
                podSelector: {
                  matchExpressions: [{ key: "rsName", operator: "In", values: ["ama-metrics"] }],
                },
              },
              {
                namespaceSelector: { matchLabels: byName("kube-system") },
                podSelector: {
                  matchExpressions: [{ key: "dsName", operator: "In", values: ["ama-metrics-node"] }],
                },
              },
            ],
            ports: [{ protocol: "TCP", port: METRICS_PORT }],
          },
        ],
      },
    },
    {
      name: "allow-dns-egress",
      spec: {
        podSelector: pods,
        policyTypes: ["Egress"],
        egress: [
          {
            to: [
              {
                namespaceSelector: { matchLabels: byName("kube-system") },
                podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
              },
            ],
            ports: [
              { protocol: "UDP", port: 53 },
              { protocol: "TCP", port: 53 },
            ],
          },
        ],
      },
    },
    {
      name: "allow-https-egress-outside-cluster",
      spec: {
        podSelector: pods,
        policyTypes: ["Egress"],
        egress: [
          {
            to: [
              {
                ipBlock: {
                  cidr: "0.0.0.0/0",
                  except: [...BLOCKED_NODE_ENDPOINTS, CLUSTER_CIDRS.pod, CLUSTER_CIDRS.service],
                },
              },
            ],
            ports: [{ protocol: "TCP", port: 443 }],
          },
        ],
      },
    },
  ];
}

export interface EntryPolicyArgs {
  /**
   * Client ranges allowed to reach the HTTPS listener. This policy is where allowedSourceRanges is
   * enforced (externalTrafficPolicy Local keeps the client's address): not the load balancer's NSG,
   * because the port-80 listener must stay open to everyone for Let's Encrypt's HTTP-01 validation,
   * which comes from addresses Let's Encrypt does not publish, and an NSG rule from a Service's
   * loadBalancerSourceRanges covers every port.
   */
  readonly allowedSourceRanges: readonly string[];
  /** Labels of the Envoy Gateway controller pods (admission webhook). */
  readonly controllerPodLabels: Readonly<Record<string, string>>;
}

export function entryNamespacePolicies(args: EntryPolicyArgs): PolicySpec[] {
  return [
    defaultDeny(["Ingress"]),
    // Proxies to the controller (xDS) and to cert-manager's HTTP-01 solver pods, which run here too.
    {
      name: "allow-same-namespace",
      spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: {} }] }] },
    },
    {
      name: "allow-public-listeners",
      spec: {
        podSelector: { matchLabels: { ...ENVOY_PROXY_POD_LABELS } },
        policyTypes: ["Ingress"],
        ingress: [
          // Port 80 (redirects and ACME challenges only) from anyone, cert-manager's in-cluster self-check too.
          { from: anywhere, ports: [{ protocol: "TCP", port: ENVOY_LISTENER_PORTS[0] }] },
          // Port 443 (the app) from the allowed client ranges only.
          {
            from: args.allowedSourceRanges.map((cidr) => ({ ipBlock: { cidr } })),
            ports: [{ protocol: "TCP", port: ENVOY_LISTENER_PORTS[1] }],
          },
        ],
      },
    },
    {
      name: "allow-admission-webhook",
      spec: {
        podSelector: { matchLabels: { ...args.controllerPodLabels } },
        policyTypes: ["Ingress"],
        // The API server reaches webhooks through konnectivity (a kube-system pod) or from outside the pod network.
        ingress: [{ from: anywhere, ports: [{ protocol: "TCP", port: 9443 }] }],
      },
    },
  ];
}

export function certManagerNamespacePolicies(): PolicySpec[] {
  return [
    defaultDeny(["Ingress"]),
    {
      name: "allow-admission-webhook",
      spec: {
        podSelector: { matchLabels: { "app.kubernetes.io/component": "webhook" } },
        policyTypes: ["Ingress"],
        ingress: [{ from: anywhere, ports: [{ protocol: "TCP", port: 10250 }] }],
      },
    },
    {
      name: "allow-monitoring-to-metrics",
      spec: {
        podSelector: {},
        policyTypes: ["Ingress"],
        ingress: [
          {
            from: [{ namespaceSelector: { matchLabels: byName(MONITORING_NAMESPACE) } }],
            ports: [{ protocol: "TCP", port: 9402 }],
          },
        ],
      },
    },
  ];
}

/** Declares each spec as a NetworkPolicy in `namespace`, named after the spec. */
export function networkPolicies(
  prefix: string,
  namespace: pulumi.Input<string>,
  specs: readonly PolicySpec[],
  opts: pulumi.CustomResourceOptions,
): k8s.networking.v1.NetworkPolicy[] {
  return specs.map(
    (policy) =>
      new k8s.networking.v1.NetworkPolicy(
        `${prefix}-${policy.name}`,
        { metadata: { name: policy.name, namespace }, spec: policy.spec },
        opts,
      ),
  );
}
