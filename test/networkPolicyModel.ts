/**
 * Kubernetes NetworkPolicy ingress semantics (networking.k8s.io/v1, as the Kubernetes "Network Policies"
 * concept page states them and Cilium enforces them), small enough to read: a pod is isolated for ingress
 * once any policy of its namespace selects it with policyTypes Ingress; then a connection is admitted only
 * when some ingress rule of some selecting policy matches both the peer and the port. Rules are additive,
 * so "nothing else reaches this port" is a statement about every policy at once, which is what tests ask
 * this model about, with the recorded specs of the real program.
 */
import { get, type Recorded } from "./harness";

interface Expression {
  readonly key: string;
  readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  readonly values?: readonly string[];
}
interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly Expression[];
}
interface Peer {
  readonly podSelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
  readonly ipBlock?: { readonly cidr: string; readonly except?: readonly string[] };
}
interface PortRule {
  readonly protocol?: string;
  readonly port?: number | string;
  readonly endPort?: number;
}
interface IngressRule {
  readonly from?: readonly Peer[];
  readonly ports?: readonly PortRule[];
}

/** Who connects: a pod (its namespace and labels) or an address outside the pod network. */
export type Source =
  | { readonly namespace: string; readonly labels: Readonly<Record<string, string>> }
  | { readonly ip: string };

/** Where to: a pod of `namespace` with `labels`, on a container port (number and, if named, its name). */
export interface Destination {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly port: number;
  readonly portName?: string;
  readonly protocol?: string;
}

export function selects(
  selector: LabelSelector | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (selector === undefined) return true;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}))
    if (labels[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = key in labels;
    if (operator === "In" && !(has && values.includes(labels[key]))) return false;
    if (operator === "NotIn" && has && values.includes(labels[key])) return false;
    if (operator === "Exists" && !has) return false;
    if (operator === "DoesNotExist" && has) return false;
  }
  return true;
}

const ipv4 = (address: string): number =>
  address.split(".").reduce((value, octet) => value * 256 + Number(octet), 0);
function inCidr(address: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4(address) / size) === Math.floor(ipv4(base) / size);
}

/** Kubernetes labels every namespace with its own name; nothing else is assumed about namespaces. */
const namespaceLabels = (namespace: string): Record<string, string> => ({
  "kubernetes.io/metadata.name": namespace,
});

function peerMatches(peer: Peer, source: Source, policyNamespace: string): boolean {
  if ("ip" in source) {
    const block = peer.ipBlock;
    return (
      block !== undefined &&
      inCidr(source.ip, block.cidr) &&
      !(block.except ?? []).some((c) => inCidr(source.ip, c))
    );
  }
  if (peer.ipBlock !== undefined) return false; // ipBlock is for addresses outside the pod network
  const namespaceOk =
    peer.namespaceSelector === undefined
      ? source.namespace === policyNamespace // a podSelector alone means the policy's own namespace
      : selects(peer.namespaceSelector, namespaceLabels(source.namespace));
  return namespaceOk && selects(peer.podSelector, source.labels);
}

function portMatches(rule: PortRule, destination: Destination): boolean {
  if ((rule.protocol ?? "TCP") !== (destination.protocol ?? "TCP")) return false;
  if (rule.port === undefined) return true;
  if (typeof rule.port === "string") return rule.port === destination.portName;
  return rule.endPort === undefined
    ? rule.port === destination.port
    : destination.port >= rule.port && destination.port <= rule.endPort;
}

/** Whether `source` may open a connection to `destination` under the recorded NetworkPolicies. */
export function admits(policies: readonly Recorded[], source: Source, destination: Destination): boolean {
  const selecting = policies.filter(
    (p) =>
      get(p, "metadata.namespace") === destination.namespace &&
      ((get(p, "spec.policyTypes") as string[] | undefined) ?? ["Ingress"]).includes("Ingress") &&
      selects(get(p, "spec.podSelector") as LabelSelector, destination.labels),
  );
  if (selecting.length === 0) return true; // not isolated
  return selecting.some((policy) =>
    ((get(policy, "spec.ingress") as IngressRule[] | undefined) ?? []).some(
      (rule) =>
        (rule.from === undefined ||
          rule.from.length === 0 ||
          rule.from.some((peer) => peerMatches(peer, source, destination.namespace))) &&
        (rule.ports === undefined ||
          rule.ports.length === 0 ||
          rule.ports.some((p) => portMatches(p, destination))),
    ),
  );
}
