/**
 * The issue-11 rules (policy/rules/security.ts): each passes the compliant stack (rules.test.ts checks
 * that for every rule) and fails a stack with one violation, with the message a user reads in preview.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { policies } from "../../policy/policies";
import { type CapturedResource, evaluatePolicies, type Violation } from "../../policy/testing/evaluate";
import { compliantStack, withResource } from "../../policy/testing/fixtures";

async function violationsOf(
  policyName: string,
  resources: readonly CapturedResource[],
): Promise<Violation[]> {
  return (await evaluatePolicies(policies, resources)).filter((v) => v.policyName === policyName);
}

function find(type: string, name: string): CapturedResource {
  const found = compliantStack().find((r) => r.type === type && r.name === name);
  if (found === undefined) throw new Error(`the compliant stack has no ${type} ${name}`);
  return found;
}

/** The Azure ML extension as the program declares it: ClusterIP router, HTTPS with the generated certificate. */
function azureMlExtension(): CapturedResource {
  return {
    type: "azure-native:kubernetesconfiguration:Extension",
    name: "azureml",
    props: {
      extensionName: "azureml",
      extensionType: "Microsoft.AzureML.Kubernetes",
      clusterName: "aks",
      configurationSettings: {
        inferenceRouterServiceType: "ClusterIP",
        allowInsecureConnections: "False",
        sslCname: "azureml-fe.azureml.svc.cluster.local",
      },
      configurationProtectedSettings: { "scoringFe.sslCert": "Y2VydA==", "scoringFe.sslKey": "a2V5" },
    },
  };
}

const without = (type: string, name: string): CapturedResource[] =>
  compliantStack().filter((r) => !(r.type === type && r.name === name));

describe("public-endpoints-tls", () => {
  it("fails a LoadBalancer Service", async () => {
    const service = find("kubernetes:core/v1:Service", "scoring-service");
    (service.props.spec as Record<string, unknown>).type = "LoadBalancer";
    const found = await violationsOf("public-endpoints-tls", withResource(service));
    assert.equal(found.length, 1);
    assert.equal(found[0].enforcementLevel, "mandatory");
    assert.match(found[0].message, /Service "scoring" in namespace "inference" is of type LoadBalancer/);
  });

  it("fails an Ingress whose host has no TLS, and accepts it once spec.tls covers the host", async () => {
    const ingress: CapturedResource = {
      type: "kubernetes:networking.k8s.io/v1:Ingress",
      name: "scoring-ingress",
      props: {
        metadata: { name: "scoring", namespace: "inference" },
        spec: { rules: [{ host: "scoring.example.com" }] },
      },
    };
    const found = await violationsOf("public-endpoints-tls", withResource(ingress));
    assert.equal(found.length, 1);
    assert.match(
      found[0].message,
      /Ingress "scoring" in namespace "inference" serves scoring\.example\.com without TLS/,
    );
    (ingress.props.spec as Record<string, unknown>).tls = [
      { hosts: ["scoring.example.com"], secretName: "tls" },
    ];
    assert.deepEqual(await violationsOf("public-endpoints-tls", withResource(ingress)), []);
  });

  it("fails the app's route attached to the plain-HTTP listener", async () => {
    const route = find("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "scoring-route");
    (route.props.spec as { parentRefs: Record<string, unknown>[] }).parentRefs[0].sectionName = "http";
    const found = await violationsOf("public-endpoints-tls", withResource(route));
    assert.equal(found.length, 1);
    assert.match(
      found[0].message,
      /HTTPRoute "scoring" in namespace "inference" serves 1 rule\(s\) over plain HTTP/,
    );
  });

  it("fails a route with no sectionName on a Gateway that has an HTTP listener (it attaches to every listener)", async () => {
    const route = find("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "scoring-route");
    delete (route.props.spec as { parentRefs: Record<string, unknown>[] }).parentRefs[0].sectionName;
    assert.equal((await violationsOf("public-endpoints-tls", withResource(route))).length, 1);
  });

  it("fails a redirect route that stops redirecting", async () => {
    const redirect = find("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "redirect");
    (redirect.props.spec as Record<string, unknown>).rules = [
      { backendRefs: [{ name: "scoring", port: 80 }] },
    ];
    assert.equal((await violationsOf("public-endpoints-tls", withResource(redirect))).length, 1);
  });

  it("fails an HTTPS listener without a certificate, and a TCP listener", async () => {
    const gateway = find("kubernetes:gateway.networking.k8s.io/v1:Gateway", "gateway");
    const listeners = (gateway.props.spec as { listeners: Record<string, unknown>[] }).listeners;
    delete listeners[1].tls;
    listeners.push({ name: "raw", protocol: "TCP", port: 5001 });
    const text = (await violationsOf("public-endpoints-tls", withResource(gateway)))
      .map((v) => v.message)
      .join("\n");
    assert.match(text, /listener "https" is HTTPS without a certificate/);
    assert.match(text, /listener "raw" has protocol "TCP"/);
  });
});

describe("network-policy-every-namespace", () => {
  it("fails a namespace with GPU workloads but no default-deny policy, for both directions", async () => {
    const found = await violationsOf(
      "network-policy-every-namespace",
      without("kubernetes:networking.k8s.io/v1:NetworkPolicy", "inference-default-deny"),
    );
    assert.deepEqual(
      found.map((v) => v.message.match(/denies (\w+) by default/)?.[1]),
      ["ingress", "egress"],
    );
    assert.match(
      found[0].message,
      /Namespace "inference" runs workloads \(Deployment "scoring" in namespace "inference", with GPUs\)/,
    );
  });

  it("does not count a policy that selects only some pods or allows traffic as a default deny", async () => {
    const policy = find("kubernetes:networking.k8s.io/v1:NetworkPolicy", "inference-default-deny");
    (policy.props.spec as Record<string, unknown>).ingress = [{ from: [{ podSelector: {} }] }];
    const found = await violationsOf("network-policy-every-namespace", withResource(policy));
    assert.equal(found.length, 1);
    assert.match(found[0].message, /denies ingress by default/);
  });

  it("asks a Helm release's namespace for one too, and exempts kube-system", async () => {
    const release: CapturedResource = {
      type: "kubernetes:helm.sh/v3:Release",
      name: "edge-controller",
      props: { name: "eg", namespace: "edge", chart: "gateway-helm" },
    };
    const found = await violationsOf("network-policy-every-namespace", withResource(release));
    assert.equal(found.length, 1);
    assert.match(found[0].message, /Namespace "edge" runs workloads \(Helm release "eg"\).*denies ingress/);
    // The device plugin runs in kube-system in the compliant stack without any policy there.
    assert.ok(compliantStack().some((r) => r.type === "kubernetes:apps/v1:DaemonSet"));
  });
});

describe("no-certificate-kubeconfig", () => {
  it("fails a stack output that is a kubeconfig", async () => {
    const stack: CapturedResource = {
      type: "pulumi:pulumi:Stack",
      name: "project-dev",
      props: {
        kubeconfig: "apiVersion: v1\nclusters: []\nusers:\n- user:\n    client-certificate-data: AAAA\n",
      },
    };
    const found = await violationsOf("no-certificate-kubeconfig", withResource(stack));
    assert.equal(found.length, 1);
    assert.match(found[0].message, /Stack output "kubeconfig" is a kubeconfig with a client certificate/);
  });

  it("fails a Kubernetes provider that signs in with a client certificate", async () => {
    const provider: CapturedResource = {
      type: "pulumi:providers:kubernetes",
      name: "k8s",
      props: { kubeconfig: "users:\n- user:\n    client-key-data: BBBB\n" },
    };
    const found = await violationsOf("no-certificate-kubeconfig", withResource(provider));
    assert.equal(found.length, 1);
    assert.match(found[0].message, /Kubernetes provider "k8s" signs in with a client certificate/);
  });

  it("accepts outputs without credentials and a token kubeconfig", async () => {
    const resources = [
      ...compliantStack(),
      { type: "pulumi:pulumi:Stack", name: "project-dev", props: { scoringUri: "https://x/score" } },
      {
        type: "pulumi:providers:kubernetes",
        name: "k8s",
        props: { kubeconfig: '{"users":[{"user":{"token":"t"}}]}' },
      },
    ];
    assert.deepEqual(await violationsOf("no-certificate-kubeconfig", resources), []);
  });
});

describe("aks-entra-id-azure-rbac", () => {
  const cluster = (): CapturedResource => find("azure-native:containerservice:ManagedCluster", "aks");

  it("fails a cluster without managed Entra ID or Azure RBAC", async () => {
    const aks = cluster();
    aks.props.aadProfile = { managed: true };
    const found = await violationsOf("aks-entra-id-azure-rbac", withResource(aks));
    assert.equal(found.length, 1);
    assert.match(found[0].message, /does not authorize with Azure RBAC/);
    delete aks.props.aadProfile;
    assert.equal((await violationsOf("aks-entra-id-azure-rbac", withResource(aks))).length, 2);
  });

  it("fails local accounts unless the Azure ML extension targets the cluster", async () => {
    const aks = cluster();
    aks.props.disableLocalAccounts = false;
    const found = await violationsOf("aks-entra-id-azure-rbac", withResource(aks));
    assert.equal(found.length, 1);
    assert.match(found[0].message, /keeps local accounts .* none targets this cluster/);
    assert.deepEqual(
      await violationsOf("aks-entra-id-azure-rbac", [...withResource(aks), azureMlExtension()]),
      [],
    );
  });

  it("fails an Azure ML extension whose inference router allows plain HTTP, even on a ClusterIP Service", async () => {
    const extension = azureMlExtension();
    const settings = extension.props.configurationSettings as Record<string, unknown>;
    settings.allowInsecureConnections = "True";
    for (const routerType of ["LoadBalancer", "ClusterIP"]) {
      settings.inferenceRouterServiceType = routerType;
      const found = await violationsOf("aks-entra-id-azure-rbac", withResource(extension));
      assert.equal(found.length, 1, routerType);
      assert.match(
        found[0].message,
        /Azure ML extension "azureml" does not turn off plain HTTP on its inference router \(allowInsecureConnections is "True"\)/,
      );
    }
    delete settings.allowInsecureConnections;
    assert.match(
      (await violationsOf("aks-entra-id-azure-rbac", withResource(extension)))[0].message,
      /allowInsecureConnections is unset/,
    );
  });

  it("fails HTTPS on the router without sslCname or a certificate, and passes it with either certificate form", async () => {
    const extension = azureMlExtension();
    assert.deepEqual(await violationsOf("aks-entra-id-azure-rbac", withResource(extension)), []);
    const settings = extension.props.configurationSettings as Record<string, unknown>;
    delete settings.sslCname;
    delete extension.props.configurationProtectedSettings;
    const found = await violationsOf("aks-entra-id-azure-rbac", withResource(extension));
    assert.equal(found.length, 1);
    assert.match(
      found[0].message,
      /has no sslCname and no certificate \(sslSecret, or the protected settings scoringFe\.sslCert and scoringFe\.sslKey\)/,
    );
    settings.sslCname = "azureml-fe.azureml.svc.cluster.local";
    extension.props.configurationProtectedSettings = { "scoringFe.sslCert": "Y2VydA==" };
    assert.match(
      (await violationsOf("aks-entra-id-azure-rbac", withResource(extension)))[0].message,
      /has no certificate/,
    );
    delete extension.props.configurationProtectedSettings;
    settings.sslSecret = "azureml-fe-tls";
    assert.deepEqual(await violationsOf("aks-entra-id-azure-rbac", withResource(extension)), []);
  });
});

describe("storage-shared-key-off", () => {
  it("fails an account that accepts shared keys (or leaves Azure's default) with no key-based upload into it", async () => {
    const account = find("azure-native:storage:StorageAccount", "storage");
    delete account.props.allowSharedKeyAccess;
    const found = await violationsOf("storage-shared-key-off", withResource(account));
    assert.equal(found.length, 1);
    assert.match(
      found[0].message,
      /Storage account "gpuinfst" accepts shared keys \(allowSharedKeyAccess is unset/,
    );
  });

  it("allows shared keys only on a workspace's storage that the stack's azure-native Blob writes into", async () => {
    const account = find("azure-native:storage:StorageAccount", "storage");
    account.props.allowSharedKeyAccess = true;
    const blob: CapturedResource = {
      type: "azure-native:storage:Blob",
      name: "model",
      props: { accountName: "gpuinfst", containerName: "models", blobName: "m.npz" },
    };
    const workspace: CapturedResource = {
      type: "azure-native:machinelearningservices:Workspace",
      name: "workspace",
      props: {
        workspaceName: "gpuinf-mlw",
        storageAccount:
          "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/gpuinfst",
      },
    };
    assert.deepEqual(
      await violationsOf("storage-shared-key-off", [...withResource(account), blob, workspace]),
      [],
    );
    // Before issue 11's last tightening a key-based upload alone was enough: now it is not.
    const uploadOnly = await violationsOf("storage-shared-key-off", [...withResource(account), blob]);
    assert.equal(uploadOnly.length, 1);
    assert.match(
      uploadOnly[0].message,
      /a key-based azure-native storage\.Blob uploads into it, but it is no Azure ML workspace's storage/,
    );
    const workspaceOnly = await violationsOf("storage-shared-key-off", [...withResource(account), workspace]);
    assert.equal(workspaceOnly.length, 1);
    assert.match(
      workspaceOnly[0].message,
      /it is an Azure ML workspace's storage, but nothing in the stack uploads/,
    );
    const elsewhere = { ...blob, props: { ...blob.props, accountName: "otheraccount" } };
    assert.equal(
      (await violationsOf("storage-shared-key-off", [...withResource(account), elsewhere, workspace])).length,
      1,
    );
  });
});
