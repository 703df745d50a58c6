/**
 * What issue 11 established, kept from being quietly undone: the app is published only over TLS, every
 * namespace with workloads has a default-deny network policy, no certificate-based kubeconfig leaves the
 * stack, the cluster signs users in with Entra ID and authorizes them with Azure RBAC, and storage
 * accounts refuse shared keys wherever nothing in the stack needs them. Stack rules: each compares
 * resources with one another (a route with its Gateway, a namespace with its policies, a cluster with
 * the extension that needs its local accounts, an account with the blobs uploaded into it and the
 * workspace that uses it).
 */
import { asArray, asBoolean, asObject, asString, at, type Props } from "../lib/props";
import type { StackFinding, StackResource } from "../lib/stackResource";
import { containersOf, gpuLimit, gpuRequest, workloadOf } from "../lib/workloads";

export const TYPES = {
  service: "kubernetes:core/v1:Service",
  ingress: "kubernetes:networking.k8s.io/v1:Ingress",
  gateway: "kubernetes:gateway.networking.k8s.io/v1:Gateway",
  httpRoute: "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
  networkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
  helmRelease: "kubernetes:helm.sh/v3:Release",
  k8sProvider: "pulumi:providers:kubernetes",
  stack: "pulumi:pulumi:Stack",
  cluster: "azure-native:containerservice:ManagedCluster",
  extension: "azure-native:kubernetesconfiguration:Extension",
  storageAccount: "azure-native:storage:StorageAccount",
  blob: "azure-native:storage:Blob",
  mlWorkspace: "azure-native:machinelearningservices:Workspace",
} as const;

const nameOf = (r: StackResource): string => asString(at(r.props, "metadata", "name")) ?? r.name;
const namespaceOf = (r: StackResource): string => asString(at(r.props, "metadata", "namespace")) ?? "default";

// ---------------------------------------------------------------------------------------------------
// public-endpoints-tls

function isHttpsRedirect(rule: unknown): boolean {
  return asArray(at(rule, "filters")).some(
    (filter) =>
      asString(at(filter, "type")) === "RequestRedirect" &&
      asString(at(filter, "requestRedirect", "scheme")) === "https",
  );
}

interface Listener {
  readonly name: string;
  readonly protocol: string;
  readonly props: Props;
}

function listenersOf(gateway: StackResource): Listener[] {
  return asArray(at(gateway.props, "spec", "listeners")).flatMap((entry) => {
    const props = asObject(entry);
    if (props === undefined) return [];
    return [{ name: asString(props.name) ?? "(unnamed)", protocol: asString(props.protocol) ?? "", props }];
  });
}

export function checkPublicEndpointsTls(resources: readonly StackResource[]): StackFinding[] {
  const findings: StackFinding[] = [];
  for (const r of resources.filter((x) => x.type === TYPES.service)) {
    if (asString(at(r.props, "spec", "type")) === "LoadBalancer") {
      findings.push({
        urn: r.urn,
        message:
          `Service "${nameOf(r)}" in namespace "${namespaceOf(r)}" is of type LoadBalancer: it would publish its ` +
          `ports on a public IP with no TLS in front. Make it ClusterIP and publish it through the Gateway's ` +
          `HTTPS listener with an HTTPRoute (components/entryPoint.ts).`,
      });
    }
  }
  for (const r of resources.filter((x) => x.type === TYPES.ingress)) {
    const tlsHosts = new Set(asArray(at(r.props, "spec", "tls")).flatMap((tls) => asArray(at(tls, "hosts"))));
    const rules = asArray(at(r.props, "spec", "rules"));
    const uncovered = rules
      .map((rule) => asString(at(rule, "host")) ?? "*")
      .filter((host) => !tlsHosts.has(host));
    if (rules.length === 0 || uncovered.length > 0) {
      findings.push({
        urn: r.urn,
        message:
          `Ingress "${nameOf(r)}" in namespace "${namespaceOf(r)}" serves ${uncovered.length > 0 ? uncovered.join(", ") : "every host"} ` +
          `without TLS (spec.tls does not list ${uncovered.length > 0 ? "it" : "any host"}). Add spec.tls with a ` +
          `certificate for each host, or publish the app through the Gateway's HTTPS listener instead.`,
      });
    }
  }
  const gateways = resources.filter((x) => x.type === TYPES.gateway);
  for (const gateway of gateways) {
    for (const listener of listenersOf(gateway)) {
      const where = `Gateway "${nameOf(gateway)}" listener "${listener.name}"`;
      if (listener.protocol === "HTTPS") {
        const mode = asString(at(listener.props, "tls", "mode")) ?? "Terminate";
        if (mode !== "Terminate" || asArray(at(listener.props, "tls", "certificateRefs")).length === 0) {
          findings.push({
            urn: gateway.urn,
            message: `${where} is HTTPS without a certificate to terminate TLS with (tls.mode Terminate and tls.certificateRefs). Reference the certificate's Secret.`,
          });
        }
      } else if (listener.protocol !== "HTTP") {
        findings.push({
          urn: gateway.urn,
          message: `${where} has protocol ${JSON.stringify(listener.protocol)}: only HTTPS (and HTTP that only redirects) may face clients. Use an HTTPS listener.`,
        });
      }
    }
  }
  for (const route of resources.filter((x) => x.type === TYPES.httpRoute)) {
    const routeNamespace = namespaceOf(route);
    const plainRules = asArray(at(route.props, "spec", "rules")).filter((rule) => !isHttpsRedirect(rule));
    if (plainRules.length === 0) continue;
    for (const parent of asArray(at(route.props, "spec", "parentRefs"))) {
      const gatewayName = asString(at(parent, "name"));
      const gatewayNamespace = asString(at(parent, "namespace")) ?? routeNamespace;
      const section = asString(at(parent, "sectionName"));
      const gateway = gateways.find((g) => nameOf(g) === gatewayName && namespaceOf(g) === gatewayNamespace);
      if (gateway === undefined) continue;
      const plain = listenersOf(gateway).filter(
        (l) => l.protocol === "HTTP" && (section === undefined || section === l.name),
      );
      if (plain.length > 0) {
        findings.push({
          urn: route.urn,
          message:
            `HTTPRoute "${nameOf(route)}" in namespace "${routeNamespace}" serves ${plainRules.length} rule(s) over ` +
            `plain HTTP (Gateway "${gatewayName}" listener "${plain.map((l) => l.name).join(", ")}"), so keys and ` +
            `payloads would cross the network in clear. Attach it to the HTTPS listener (parentRefs[].sectionName), ` +
            `or make every rule on the HTTP listener a RequestRedirect to https.`,
        });
      }
    }
  }
  return findings;
}

// ---------------------------------------------------------------------------------------------------
// network-policy-every-namespace

export interface NetworkPolicyConfig {
  /** Namespaces the platform manages (AKS's kube-system), where this rule does not ask for policies. */
  readonly exemptNamespaces: readonly string[];
}

function deniesByDefault(policy: StackResource, direction: "Ingress" | "Egress"): boolean {
  const spec = asObject(at(policy.props, "spec")) ?? {};
  const selector = asObject(spec.podSelector) ?? {};
  const selectsAll =
    Object.keys(asObject(selector.matchLabels) ?? {}).length === 0 &&
    asArray(selector.matchExpressions).length === 0;
  const types = asArray(spec.policyTypes);
  const rules = asArray(direction === "Ingress" ? spec.ingress : spec.egress);
  return selectsAll && types.includes(direction) && rules.length === 0;
}

export function checkNetworkPolicies(
  resources: readonly StackResource[],
  config: NetworkPolicyConfig,
): StackFinding[] {
  const withWorkloads = new Map<string, { urn: string; label: string; gpu: boolean }>();
  for (const r of resources) {
    const workload = workloadOf(r.type, r.name, r.props);
    if (workload !== undefined) {
      const gpu = containersOf(workload.podSpec).some((c) => (gpuLimit(c) ?? gpuRequest(c) ?? 0) > 0);
      const known = withWorkloads.get(workload.namespace);
      withWorkloads.set(workload.namespace, {
        urn: known?.urn ?? r.urn,
        label: known?.label ?? workload.label,
        gpu: (known?.gpu ?? false) || gpu,
      });
    } else if (r.type === TYPES.helmRelease) {
      const namespace = asString(r.props.namespace) ?? "default";
      if (!withWorkloads.has(namespace))
        withWorkloads.set(namespace, {
          urn: r.urn,
          label: `Helm release "${asString(r.props.name) ?? r.name}"`,
          gpu: false,
        });
    }
  }
  const policies = resources.filter((r) => r.type === TYPES.networkPolicy);
  const findings: StackFinding[] = [];
  for (const [namespace, first] of withWorkloads) {
    if (config.exemptNamespaces.includes(namespace)) continue;
    const here = policies.filter((p) => namespaceOf(p) === namespace);
    const needed: ("Ingress" | "Egress")[] = first.gpu ? ["Ingress", "Egress"] : ["Ingress"];
    for (const direction of needed.filter((d) => !here.some((p) => deniesByDefault(p, d)))) {
      findings.push({
        urn: first.urn,
        message:
          `Namespace "${namespace}" runs workloads (${first.label}${first.gpu ? ", with GPUs" : ""}) but has no ` +
          `NetworkPolicy that denies ${direction.toLowerCase()} by default (podSelector {}, policyTypes ` +
          `[${direction}], no ${direction.toLowerCase()} rules), so any pod ${direction === "Ingress" ? "can reach its pods" : "there can reach anything"}. ` +
          `Add one, then allow only what is needed (components/networkPolicy.ts).`,
      });
    }
  }
  return findings;
}

// ---------------------------------------------------------------------------------------------------
// no-certificate-kubeconfig

const CERTIFICATE_CREDENTIAL = /client-(certificate|key)(-data)?\b/;
const KUBECONFIG_OUTPUT = /kube_?config/i;

function strings(value: unknown, path: string): [string, string][] {
  if (typeof value === "string") return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((item, i) => strings(item, `${path}[${i}]`));
  const object = asObject(value);
  if (object === undefined) return [];
  return Object.entries(object).flatMap(([key, inner]) =>
    strings(inner, path === "" ? key : `${path}.${key}`),
  );
}

export function checkNoCertificateKubeconfig(resources: readonly StackResource[]): StackFinding[] {
  const findings: StackFinding[] = [];
  for (const r of resources.filter((x) => x.type === TYPES.stack)) {
    for (const [path, value] of strings(r.props, "")) {
      if (
        CERTIFICATE_CREDENTIAL.test(value) ||
        (KUBECONFIG_OUTPUT.test(path) && /apiVersion|clusters/.test(value))
      ) {
        findings.push({
          urn: r.urn,
          message:
            `Stack output "${path}" is a kubeconfig${CERTIFICATE_CREDENTIAL.test(value) ? " with a client certificate" : ""}: ` +
            `whoever reads the stack's outputs gets that access, and a certificate is revocable only by rotating ` +
            `the cluster's certificates. Export none; users run az aks get-credentials and kubelogin (README).`,
        });
      }
    }
  }
  for (const r of resources.filter((x) => x.type === TYPES.k8sProvider)) {
    const kubeconfig = asString(r.props.kubeconfig) ?? "";
    if (CERTIFICATE_CREDENTIAL.test(kubeconfig)) {
      findings.push({
        urn: r.urn,
        message:
          `Kubernetes provider "${r.name}" signs in with a client certificate (its kubeconfig has client-certificate ` +
          `or client-key data), a static admin credential kept in the stack's state. Give it an Entra ID token ` +
          `for the AKS server app instead (components/gpuCluster.ts tokenKubeconfig).`,
      });
    }
  }
  return findings;
}

// ---------------------------------------------------------------------------------------------------
// aks-entra-id-azure-rbac

const AZUREML_EXTENSION = "Microsoft.AzureML.Kubernetes";

/**
 * The Azure ML extension's inference router must serve HTTPS, whatever its Service type (issue 11: a
 * ClusterIP router is still reached over the pod network, where Cilium does not encrypt). The keys are the
 * ones `az k8s-extension` sends to ARM (components/inferenceRouterTls.ts cites them): TLS needs
 * allowInsecureConnections false, sslCname, and a certificate, either sslSecret (or scoringFe.sslSecret) or
 * the protected scoringFe.sslCert and scoringFe.sslKey. The protected values are secrets that ARM never
 * returns: only their presence is checked.
 */
function routerTlsFindings(extension: StackResource): StackFinding[] {
  const settings = asObject(at(extension.props, "configurationSettings")) ?? {};
  const protectedSettings = asObject(at(extension.props, "configurationProtectedSettings")) ?? {};
  const name = asString(extension.props.extensionName) ?? extension.name;
  const insecure = asString(settings.allowInsecureConnections);
  if (insecure === undefined || insecure.toLowerCase() !== "false") {
    return [
      {
        urn: extension.urn,
        message: `Azure ML extension "${name}" does not turn off plain HTTP on its inference router (allowInsecureConnections is ${insecure === undefined ? "unset" : JSON.stringify(insecure)}), so scoring keys and payloads sent through it would cross the pod network in clear. Set allowInsecureConnections: "False" with sslCname and a certificate (components/inferenceRouterTls.ts).`,
      },
    ];
  }
  const problems: string[] = [];
  if ((asString(settings.sslCname) ?? "") === "") problems.push("no sslCname");
  const secret = asString(settings.sslSecret) ?? asString(settings["scoringFe.sslSecret"]);
  const pem = ["scoringFe.sslCert", "scoringFe.sslKey"].every((key) => protectedSettings[key] !== undefined);
  if (secret === undefined && !pem)
    problems.push(
      "no certificate (sslSecret, or the protected settings scoringFe.sslCert and scoringFe.sslKey)",
    );
  return problems.length === 0
    ? []
    : [
        {
          urn: extension.urn,
          message: `Azure ML extension "${name}" asks for HTTPS on its inference router (allowInsecureConnections "False") but has ${problems.join(" and ")}, so the extension cannot install. Give it both (components/inferenceRouterTls.ts).`,
        },
      ];
}

export function checkClusterAccess(resources: readonly StackResource[]): StackFinding[] {
  const findings: StackFinding[] = [];
  const azureMlClusters = new Set(
    resources
      .filter((r) => r.type === TYPES.extension && asString(r.props.extensionType) === AZUREML_EXTENSION)
      .map((r) => asString(r.props.clusterName)),
  );
  for (const cluster of resources.filter((r) => r.type === TYPES.cluster)) {
    const name = asString(cluster.props.resourceName) ?? cluster.name;
    if (asBoolean(at(cluster.props, "aadProfile", "managed")) !== true) {
      findings.push({
        urn: cluster.urn,
        message: `AKS cluster "${name}" does not use AKS-managed Entra ID (aadProfile.managed is not true), so users would sign in with certificates only the cluster can revoke. Set aadProfile: { managed: true, enableAzureRBAC: true }.`,
      });
    }
    if (asBoolean(at(cluster.props, "aadProfile", "enableAzureRBAC")) !== true) {
      findings.push({
        urn: cluster.urn,
        message: `AKS cluster "${name}" does not authorize with Azure RBAC (aadProfile.enableAzureRBAC is not true), so cluster access would not follow role assignments. Set it to true and grant "Azure Kubernetes Service RBAC Cluster Admin" (or a narrower role).`,
      });
    }
    if (asBoolean(cluster.props.disableLocalAccounts) !== true && !azureMlClusters.has(name)) {
      findings.push({
        urn: cluster.urn,
        message: `AKS cluster "${name}" keeps local accounts (disableLocalAccounts is not true), which hand out a certificate admin kubeconfig to anyone allowed listClusterAdminCredential. Only the Azure ML extension needs them, and none targets this cluster: set disableLocalAccounts: true.`,
      });
    }
  }
  for (const extension of resources.filter(
    (r) => r.type === TYPES.extension && asString(r.props.extensionType) === AZUREML_EXTENSION,
  )) {
    findings.push(...routerTlsFindings(extension));
  }
  return findings;
}

// ---------------------------------------------------------------------------------------------------
// storage-shared-key-off

/** The account name at the end of a storage account resource id (Azure's, or the mocks' type-token form). */
function accountNameOfId(id: string | undefined): string | undefined {
  return id === undefined ? undefined : id.split("/").pop();
}

/**
 * Shared keys are allowed on one kind of account only: the default storage of an Azure ML workspace in the
 * stack that the stack also uploads into with azure-native's key-based storage.Blob. Both halves still
 * need the key there (mlWorkspace.ts says why): the Blob upload, and the workspace's system datastores,
 * whose keyless "identity" mode is a preview. Any other account (a second account the stack uploads into,
 * or a workspace's storage nothing uploads into) must refuse keys.
 */
export function checkSharedKeys(resources: readonly StackResource[]): StackFinding[] {
  const uploadTargets = new Set(
    resources.filter((r) => r.type === TYPES.blob).map((r) => asString(r.props.accountName)),
  );
  const workspaceStorage = new Set(
    resources
      .filter((r) => r.type === TYPES.mlWorkspace)
      .map((r) => accountNameOfId(asString(r.props.storageAccount))),
  );
  return resources
    .filter((r) => r.type === TYPES.storageAccount && asBoolean(r.props.allowSharedKeyAccess) !== false)
    .filter((r) => {
      const name = asString(r.props.accountName);
      return !(uploadTargets.has(name) && workspaceStorage.has(name));
    })
    .map((r) => {
      const name = asString(r.props.accountName);
      const why = uploadTargets.has(name)
        ? "a key-based azure-native storage.Blob uploads into it, but it is no Azure ML workspace's storage, the one place that exception is allowed: upload with an Entra token and a Storage Blob Data role instead"
        : workspaceStorage.has(name)
          ? "it is an Azure ML workspace's storage, but nothing in the stack uploads into it with azure-native's key-based storage.Blob"
          : "nothing in this stack uploads into it with azure-native's key-based storage.Blob, and it is no Azure ML workspace's storage";
      return {
        urn: r.urn,
        message:
          `Storage account "${name ?? r.name}" accepts shared keys (allowSharedKeyAccess is ` +
          `${r.props.allowSharedKeyAccess === undefined ? "unset, and Azure's default is true" : String(r.props.allowSharedKeyAccess)}), ` +
          `account-wide secrets no identity owns, and ${why}. Set allowSharedKeyAccess: false and grant Storage Blob Data roles instead.`,
      };
    });
}
