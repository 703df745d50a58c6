/**
 * Issue 11 on the real program (index.ts under mocks, the dev stack's config, then variants): HTTPS on a
 * stable name through the entry point, nothing else public, metrics on their own port, a closed network,
 * Entra ID cluster access with no kubeconfig output, and the data services' settings.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import {
  APP_PORT,
  METRICS_PORT,
  METRICS_PORT_NAME,
  MONITORING_NAMESPACE,
  PUBLIC_ROUTES,
} from "../components/appContract";
import { ConfigError, parseStackSettings } from "../components/config";
import {
  ACME_DIRECTORIES,
  CERT_MANAGER_NAMESPACE,
  ENTRY_NAMESPACE,
  GATEWAY,
  generatedDnsLabel,
  TLS_SECRET_NAME,
} from "../components/entryPoint";
import {
  CERT_MANAGER_VERSION,
  ENTRY_POINT_IMAGES,
  ENVOY_GATEWAY_VERSION,
} from "../components/entryPointImages";
import { AKS_SERVER_APP_ID, execKubeconfig } from "../components/gpuCluster";
import {
  devStackConfig,
  findAll,
  findOne,
  get,
  MOCK,
  mockDigest,
  mockPem,
  outputValue,
  type ProgramRun,
  type Recorded,
  runProgram,
  secretInput,
} from "./harness";

const T = {
  cluster: "azure-native:containerservice:ManagedCluster",
  role: "azure-native:authorization:RoleAssignment",
  storage: "azure-native:storage:StorageAccount",
  vault: "azure-native:keyvault:Vault",
  extension: "azure-native:kubernetesconfiguration:Extension",
  provider: "pulumi:providers:kubernetes",
  release: "kubernetes:helm.sh/v3:Release",
  service: "kubernetes:core/v1:Service",
  deployment: "kubernetes:apps/v1:Deployment",
  policy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
  gateway: "kubernetes:gateway.networking.k8s.io/v1:Gateway",
  route: "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
  envoyProxy: "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy",
  issuer: "kubernetes:cert-manager.io/v1:Issuer",
  certificate: "kubernetes:cert-manager.io/v1:Certificate",
  clientTraffic: "kubernetes:gateway.envoyproxy.io/v1alpha1:ClientTrafficPolicy",
} as const;

const AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b";
const HOST = "gpuinf-dev-x7k2q9.eastus.cloudapp.azure.com";

let run: ProgramRun;
before(async () => {
  run = await runProgram({ config: devStackConfig() });
});

const loginServer = (): string =>
  `${String(get(findOne(run.resources, "azure-native:containerregistry:Registry"), "registryName"))}.azurecr.io`;
const mirrorOf = (repository: string): string =>
  `${loginServer()}/${repository}@${mockDigest(`${loginServer()}/${repository}`)}`;
const policiesIn = (resources: readonly Recorded[], namespace: string): Map<string, Recorded> =>
  new Map(
    findAll(resources, T.policy)
      .filter((p) => get(p, "metadata.namespace") === namespace)
      .map((p) => [String(get(p, "metadata.name")), p]),
  );

describe("HTTPS on a stable name", () => {
  it("the URIs are https on <label>.<region>.cloudapp.azure.com, the label generated per stack", async () => {
    assert.equal(await outputValue(run.outputs.scoringUri), `https://${HOST}/score`);
    assert.equal(await outputValue(run.outputs.v2InferenceBaseUri), `https://${HOST}/v2`);
    assert.equal(generatedDnsLabel("gpuinf", "My_Stack.prod", "abc123"), "gpuinf-my-stack-prod-abc123");
  });

  it("the proxy's public IP carries the Azure DNS label and is open at the NSG (port 80 must reach Let's Encrypt)", () => {
    const proxy = findOne(run.resources, T.envoyProxy);
    const service = get(proxy, "spec.provider.kubernetes.envoyService") as Record<string, unknown>;
    assert.equal(service.type, "LoadBalancer");
    assert.equal(service.externalTrafficPolicy, "Local");
    assert.deepEqual(service.loadBalancerSourceRanges, ["0.0.0.0/0"]);
    assert.deepEqual(service.annotations, {
      "service.beta.kubernetes.io/azure-dns-label-name": "gpuinf-dev-x7k2q9",
    });
  });

  it("the Gateway terminates TLS on 443 with cert-manager's certificate; port 80 takes routes from its own namespace only", () => {
    const gateway = findOne(run.resources, T.gateway);
    assert.equal(get(gateway, "metadata.namespace"), ENTRY_NAMESPACE);
    const [http, https] = get(gateway, "spec.listeners") as Record<string, unknown>[];
    assert.deepEqual(
      [http.name, http.protocol, http.port, http.hostname, get(http, "allowedRoutes.namespaces.from")],
      [GATEWAY.httpListener, "HTTP", 80, HOST, "Same"],
    );
    assert.deepEqual(
      [https.name, https.protocol, https.port, https.hostname],
      [GATEWAY.httpsListener, "HTTPS", 443, HOST],
    );
    assert.deepEqual(get(https, "tls"), {
      mode: "Terminate",
      certificateRefs: [{ kind: "Secret", name: TLS_SECRET_NAME }],
    });
    assert.deepEqual(get(https, "allowedRoutes.namespaces.selector.matchLabels"), {
      "kubernetes.io/metadata.name": "scoring",
    });
    assert.equal(get(findOne(run.resources, T.clientTraffic), "spec.tls.minVersion"), "1.2");
  });

  it("plain HTTP only redirects to https (301)", () => {
    const redirect = findOne(run.resources, T.route, "entry-https-redirect");
    assert.deepEqual(get(redirect, "spec.parentRefs"), [
      { name: GATEWAY.name, sectionName: GATEWAY.httpListener },
    ]);
    assert.deepEqual(get(redirect, "spec.rules"), [
      { filters: [{ type: "RequestRedirect", requestRedirect: { scheme: "https", statusCode: 301 } }] },
    ]);
  });

  it("cert-manager issues the certificate for that name from Let's Encrypt production by HTTP-01 through the Gateway", () => {
    const certificate = findOne(run.resources, T.certificate);
    assert.deepEqual(get(certificate, "spec.dnsNames"), [HOST]);
    assert.equal(get(certificate, "spec.secretName"), TLS_SECRET_NAME);
    const issuer = findOne(run.resources, T.issuer);
    assert.equal(get(issuer, "spec.acme.server"), ACME_DIRECTORIES.production);
    assert.equal(get(issuer, "spec.acme.email"), undefined);
    assert.deepEqual(get(issuer, "spec.acme.solvers"), [
      {
        http01: {
          gatewayHTTPRoute: {
            parentRefs: [
              {
                kind: "Gateway",
                name: GATEWAY.name,
                namespace: ENTRY_NAMESPACE,
                sectionName: GATEWAY.httpListener,
              },
            ],
          },
        },
      },
    ]);
    const certManager = findOne(run.resources, T.release, "entry-cert-manager");
    assert.equal(get(certManager, "values.config.enableGatewayAPI"), true);
  });

  it("a custom domain becomes the certificate's, routes' and URIs' name; allowedSourceRanges narrows port 443 at the proxies", async () => {
    const custom = await runProgram({
      config: {
        ...devStackConfig(),
        customDomain: "Scoring.Example.com",
        allowedSourceRanges: "203.0.113.0/24, 198.51.100.7/32",
        acmeStaging: "true",
        acmeEmail: "ops@example.com",
      },
    });
    assert.equal(await outputValue(custom.outputs.scoringUri), "https://scoring.example.com/score");
    assert.equal(await outputValue(custom.outputs.azureHostname), HOST);
    assert.deepEqual(get(findOne(custom.resources, T.certificate), "spec.dnsNames"), ["scoring.example.com"]);
    assert.deepEqual(get(findOne(custom.resources, T.route, "scoring-route"), "spec.hostnames"), [
      "scoring.example.com",
    ]);
    assert.equal(get(findOne(custom.resources, T.issuer), "spec.acme.server"), ACME_DIRECTORIES.staging);
    assert.equal(get(findOne(custom.resources, T.issuer), "spec.acme.email"), "ops@example.com");
    const ranges = ["203.0.113.0/24", "198.51.100.7/32"];
    // The NSG stays open: Let's Encrypt validates port 80 from addresses it does not publish.
    assert.deepEqual(
      get(
        findOne(custom.resources, T.envoyProxy),
        "spec.provider.kubernetes.envoyService.loadBalancerSourceRanges",
      ),
      ["0.0.0.0/0"],
    );
    const listeners = policiesIn(custom.resources, ENTRY_NAMESPACE).get("allow-public-listeners");
    assert.ok(listeners);
    assert.deepEqual(get(listeners, "spec.ingress"), [
      {
        from: [{ ipBlock: { cidr: "0.0.0.0/0" } }, { namespaceSelector: {} }],
        ports: [{ protocol: "TCP", port: 10080 }],
      },
      { from: ranges.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ protocol: "TCP", port: 10443 }] },
    ]);
  });
});

describe("only scoring, health and v2 are public; metrics have their own port", () => {
  it("the scoring Service is ClusterIP, and no Service the program declares is a LoadBalancer", () => {
    for (const service of findAll(run.resources, T.service))
      assert.notEqual(get(service, "spec.type"), "LoadBalancer");
    assert.equal(get(findOne(run.resources, T.service), "spec.type"), "ClusterIP");
  });

  it("the app's route serves exactly /score, /, /ready and /v2/*, on the HTTPS listener, to the Service's http port, with HSTS", () => {
    const route = findOne(run.resources, T.route, "scoring-route");
    assert.deepEqual(get(route, "spec.parentRefs"), [
      { name: GATEWAY.name, namespace: ENTRY_NAMESPACE, sectionName: GATEWAY.httpsListener },
    ]);
    assert.deepEqual(get(route, "spec.hostnames"), [HOST]);
    const [rule, ...others] = get(route, "spec.rules") as Record<string, unknown>[];
    assert.equal(others.length, 0);
    assert.deepEqual(rule.matches, [
      { path: { type: "Exact", value: "/score" } },
      { path: { type: "Exact", value: "/" } },
      { path: { type: "Exact", value: "/ready" } },
      { path: { type: "PathPrefix", value: "/v2" } },
    ]);
    assert.deepEqual(rule.backendRefs, [{ name: "scoring", port: 80 }]);
    assert.deepEqual(rule.filters, [
      {
        type: "ResponseHeaderModifier",
        responseHeaderModifier: { set: [{ name: "Strict-Transport-Security", value: "max-age=31536000" }] },
      },
    ]);
    assert.ok(!JSON.stringify(rule.matches).includes("/metrics"));
  });

  it("publicSwagger adds /swagger.json to the route and the swaggerUri output", async () => {
    const withDocs = await runProgram({ config: { ...devStackConfig(), publicSwagger: "true" } });
    const matches = get(findOne(withDocs.resources, T.route, "scoring-route"), "spec.rules") as Record<
      string,
      unknown
    >[];
    assert.ok(JSON.stringify(matches[0].matches).includes(`"${PUBLIC_ROUTES.swagger}"`));
    assert.equal(await outputValue(withDocs.outputs.swaggerUri), `https://${HOST}/swagger.json`);
  });

  it("the pods declare the metrics port and tell the app with METRICS_PORT", () => {
    const container = (
      get(findOne(run.resources, T.deployment), "spec.template.spec.containers") as Record<string, unknown>[]
    )[0];
    assert.deepEqual(container.ports, [
      { name: "http", containerPort: APP_PORT },
      { name: METRICS_PORT_NAME, containerPort: METRICS_PORT },
    ]);
    assert.ok(
      (container.env as Record<string, unknown>[]).some(
        (e) => e.name === "METRICS_PORT" && e.value === "9102",
      ),
    );
  });
});

describe("network policies (Cilium on Azure CNI overlay)", () => {
  it("the cluster runs Azure CNI overlay with the Cilium dataplane as its policy engine, ranges stated", () => {
    assert.deepEqual(get(findOne(run.resources, T.cluster), "networkProfile"), {
      networkPlugin: "azure",
      networkPluginMode: "overlay",
      networkDataplane: "cilium",
      networkPolicy: "cilium",
      podCidr: "10.244.0.0/16",
      serviceCidr: "10.0.0.0/16",
      dnsServiceIP: "10.0.0.10",
      loadBalancerSku: "standard",
      // The SDK's own default, unchanged.
      outboundType: "loadBalancer",
    });
  });

  it("the scoring namespace denies all ingress and egress by default", () => {
    const deny = policiesIn(run.resources, "scoring").get("default-deny-all");
    assert.ok(deny);
    assert.deepEqual(get(deny, "spec"), { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
  });

  it("the app port admits only the entry point's Envoy proxies; the metrics port only monitoring and ama-metrics", () => {
    const policies = policiesIn(run.resources, "scoring");
    // The Deployment's own selector: every scoring pod carries these labels (and maybe more).
    const podLabels = get(findOne(run.resources, T.deployment), "spec.selector.matchLabels");
    const app = policies.get("allow-entry-point-to-app");
    assert.ok(app);
    assert.deepEqual(get(app, "spec.podSelector.matchLabels"), podLabels);
    assert.deepEqual(get(app, "spec.ingress"), [
      {
        from: [
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ENTRY_NAMESPACE } },
            podSelector: {
              matchLabels: {
                "app.kubernetes.io/component": "proxy",
                "app.kubernetes.io/managed-by": "envoy-gateway",
              },
            },
          },
        ],
        ports: [{ protocol: "TCP", port: APP_PORT }],
      },
    ]);
    const metrics = policies.get("allow-monitoring-to-metrics");
    assert.ok(metrics);
    const [rule] = get(metrics, "spec.ingress") as Record<string, unknown>[];
    assert.deepEqual(rule.ports, [{ protocol: "TCP", port: METRICS_PORT }]);
    const from = rule.from as Record<string, unknown>[];
    assert.deepEqual(from[0], {
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": MONITORING_NAMESPACE } },
    });
    // Azure Monitor managed Prometheus: only its ama-metrics pods in kube-system, not the whole namespace.
    assert.deepEqual(from.slice(1), [
      {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
        podSelector: { matchExpressions: [{ key: "rsName", operator: "In", values: ["ama-metrics"] }] },
      },
      {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
        podSelector: { matchExpressions: [{ key: "dsName", operator: "In", values: ["ama-metrics-node"] }] },
      },
    ]);
  });

  it("egress: DNS to CoreDNS, and TCP 443 outside the cluster except the instance metadata and platform addresses", () => {
    const policies = policiesIn(run.resources, "scoring");
    const dns = policies.get("allow-dns-egress");
    assert.ok(dns);
    assert.deepEqual(get(dns, "spec.egress"), [
      {
        to: [
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
            podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
          },
        ],
        ports: [
          { protocol: "UDP", port: 53 },
          { protocol: "TCP", port: 53 },
        ],
      },
    ]);
    const https = policies.get("allow-https-egress-outside-cluster");
    assert.ok(https);
    assert.deepEqual(get(https, "spec.egress"), [
      {
        to: [
          {
            ipBlock: {
              cidr: "0.0.0.0/0",
              except: ["169.254.169.254/32", "168.63.129.16/32", "10.244.0.0/16", "10.0.0.0/16"],
            },
          },
        ],
        ports: [{ protocol: "TCP", port: 443 }],
      },
    ]);
    // No other egress rule exists in the namespace.
    const egress = [...policies.values()].filter(
      (p) => (get(p, "spec.egress") as unknown[] | undefined) !== undefined,
    );
    assert.deepEqual(egress.map((p) => get(p, "metadata.name")).sort(), [
      "allow-dns-egress",
      "allow-https-egress-outside-cluster",
    ]);
  });

  it("the entry point's and cert-manager's namespaces deny ingress by default", () => {
    for (const namespace of [ENTRY_NAMESPACE, CERT_MANAGER_NAMESPACE]) {
      const deny = policiesIn(run.resources, namespace).get("default-deny-ingress");
      assert.ok(deny, namespace);
      assert.deepEqual(get(deny, "spec"), { podSelector: {}, policyTypes: ["Ingress"] });
    }
  });
});

describe("the entry point's charts and images", () => {
  it("pins both charts and runs every image from the project's registry by digest", () => {
    const envoy = findOne(run.resources, T.release, "entry-envoy-gateway");
    assert.equal(get(envoy, "chart"), "oci://docker.io/envoyproxy/gateway-helm");
    assert.equal(get(envoy, "version"), ENVOY_GATEWAY_VERSION);
    assert.equal(get(envoy, "values.global.images.envoyGateway.image"), mirrorOf("envoyproxy/gateway"));
    assert.equal(
      get(findOne(run.resources, T.envoyProxy), "spec.provider.kubernetes.envoyDeployment.container.image"),
      mirrorOf("envoyproxy/envoy"),
    );
    const certManager = findOne(run.resources, T.release, "entry-cert-manager");
    assert.equal(get(certManager, "version"), CERT_MANAGER_VERSION);
    assert.equal(get(certManager, "repositoryOpts.repo"), "https://charts.jetstack.io");
    for (const [path, key] of [
      ["values.image", "certManagerController"],
      ["values.webhook.image", "certManagerWebhook"],
      ["values.cainjector.image", "certManagerCainjector"],
      ["values.acmesolver.image", "certManagerAcmeSolver"],
      ["values.startupapicheck.image", "certManagerStartupApiCheck"],
    ] as const) {
      const repository = ENTRY_POINT_IMAGES[key].repository;
      const ref = mirrorOf(repository);
      assert.deepEqual(
        get(certManager, path),
        { repository: `${loginServer()}/${repository}`, digest: ref.split("@")[1] },
        path,
      );
    }
  });

  it("mirrors each upstream image from its pinned digest", () => {
    for (const [key, pinned] of Object.entries(ENTRY_POINT_IMAGES)) {
      const build = findOne(run.resources, "docker:index/image:Image", `entry-image-${key}-build`);
      assert.equal(get(build, "imageName"), `${loginServer()}/${pinned.repository}:${pinned.tag}`);
      assert.deepEqual(get(build, "build.args"), { SOURCE_IMAGE: pinned.upstream });
    }
  });
});

describe("cluster access", () => {
  it("AKS-managed Entra ID with Azure RBAC; the API server open by default, restricted when configured", async () => {
    const cluster = findOne(run.resources, T.cluster);
    assert.deepEqual(get(cluster, "aadProfile"), { managed: true, enableAzureRBAC: true });
    assert.equal(get(cluster, "apiServerAccessProfile"), undefined);
    const narrowed = await runProgram({
      config: {
        ...devStackConfig(),
        apiServerAuthorizedIpRanges: "203.0.113.0/24",
        attachToWorkspace: "false",
      },
    });
    const narrowCluster = findOne(narrowed.resources, T.cluster);
    assert.deepEqual(get(narrowCluster, "apiServerAccessProfile"), {
      authorizedIPRanges: ["203.0.113.0/24"],
    });
    // Without the Azure ML extension nothing needs local accounts.
    assert.equal(get(narrowCluster, "disableLocalAccounts"), true);
    assert.equal(findAll(narrowed.resources, T.extension).length, 0);
  });

  it("the deployer, and a configured group, get Azure Kubernetes Service RBAC Cluster Admin on the cluster", async () => {
    const grant = findOne(run.resources, T.role, "gpu-deployer-cluster-admin");
    assert.equal(get(grant, "principalId"), MOCK.deployerObjectId);
    assert.match(String(get(grant, "scope")), /containerservice:ManagedCluster\/gpuinf-aks-/);
    assert.match(
      String(get(grant, "roleDefinitionId")),
      new RegExp(`/roleDefinitions/${AKS_RBAC_CLUSTER_ADMIN}$`),
    );
    assert.equal(findAll(run.resources, T.role).filter((r) => r.name.endsWith("-cluster-admin")).length, 1);
    const group = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    const withGroup = await runProgram({ config: { ...devStackConfig(), clusterAdminGroupObjectId: group } });
    const groupGrant = findOne(withGroup.resources, T.role, "gpu-admin-group-cluster-admin");
    assert.deepEqual([get(groupGrant, "principalId"), get(groupGrant, "principalType")], [group, "Group"]);
  });

  it("no output is a kubeconfig, and the provider's kubeconfig signs in with Entra ID for the AKS server app (kubelogin), no certificate or token", () => {
    assert.equal(
      Object.keys(run.outputs).some((key) => /kube/i.test(key)),
      false,
    );
    const kubeconfig = String(get(findOne(run.resources, T.provider), "kubeconfig"));
    assert.ok(kubeconfig.includes(`"--server-id","${AKS_SERVER_APP_ID}"`));
    assert.ok(!kubeconfig.includes(MOCK.aksAudienceToken));
    assert.ok(!/client-(certificate|key)/.test(kubeconfig));
    assert.equal(AKS_SERVER_APP_ID, "6dae42f8-4368-4678-94ff-3960e28e3630");
    assert.throws(
      () => execKubeconfig("apiVersion: v1\nusers: []\n"),
      /without server or certificate-authority-data/,
    );
  });
});

describe("data services", () => {
  it("storage: no public blobs; shared keys only on the workspace's storage, which the Blob upload writes into", () => {
    const account = findOne(run.resources, T.storage);
    assert.equal(get(account, "allowBlobPublicAccess"), false);
    assert.equal(get(account, "allowSharedKeyAccess"), true);
    const blob = findOne(run.resources, "azure-native:storage:Blob");
    assert.equal(get(blob, "accountName"), get(account, "accountName"));
    // The two facts the policy's exception needs (mlWorkspace.ts says why the key stays): the workspace uses
    // this account as its default storage, in the system datastores' default (key) mode.
    const workspace = findOne(run.resources, "azure-native:machinelearningservices:Workspace");
    assert.equal(String(get(workspace, "storageAccount")).split("/").pop(), get(account, "accountName"));
    assert.equal(get(workspace, "systemDatastoresAuthMode"), undefined);
  });

  it("the Azure ML extension's inference router serves HTTPS with its own certificate, passed as protected settings", async () => {
    const extension = findOne(run.resources, T.extension);
    const settings = get(extension, "configurationSettings") as Record<string, unknown>;
    assert.equal(settings.allowInsecureConnections, "False");
    assert.equal(settings.inferenceRouterServiceType, "ClusterIP");
    assert.equal(settings.sslCname, "azureml-fe.azureml.svc.cluster.local");
    // The CLI's form of sslCertPemFile/sslKeyPemFile: base64 of the PEM text, never in plain settings.
    const protectedSettings = secretInput(get(extension, "configurationProtectedSettings")) as Record<
      string,
      string
    >;
    assert.deepEqual(Object.keys(protectedSettings).sort(), ["scoringFe.sslCert", "scoringFe.sslKey"]);
    const decoded = (key: string) => Buffer.from(protectedSettings[key], "base64").toString("utf8");
    assert.equal(decoded("scoringFe.sslCert"), mockPem("CERTIFICATE", "gpu-router-tls-cert"));
    assert.equal(decoded("scoringFe.sslKey"), mockPem("PRIVATE KEY", "gpu-router-tls-key"));
    assert.ok(!JSON.stringify(settings).includes("PRIVATE KEY"));

    const cert = findOne(run.resources, "tls:index/selfSignedCert:SelfSignedCert", "gpu-router-tls-cert");
    assert.deepEqual(get(cert, "dnsNames"), [
      "azureml-fe.azureml.svc.cluster.local",
      "azureml-fe.azureml.svc",
    ]);
    assert.equal(get(cert, "subject.commonName"), settings.sslCname);
    assert.deepEqual(get(cert, "allowedUses"), ["digital_signature", "key_encipherment", "server_auth"]);
    assert.equal(get(cert, "validityPeriodHours"), 8760);
    assert.equal(get(cert, "earlyRenewalHours"), 720);
    // Signed with the generated key, which reaches the certificate resource only as a secret.
    assert.equal(secretInput(get(cert, "privateKeyPem")), mockPem("PRIVATE KEY", "gpu-router-tls-key"));
    const key = findOne(run.resources, "tls:index/privateKey:PrivateKey", "gpu-router-tls-key");
    assert.deepEqual([get(key, "algorithm"), get(key, "rsaBits")], ["RSA", 2048]);
    // Without the extension there is no router and no certificate for it.
    const detached = await runProgram({ config: { ...devStackConfig(), attachToWorkspace: "false" } });
    assert.equal(findAll(detached.resources, "tls:index/selfSignedCert:SelfSignedCert").length, 0);
  });

  it("the key vault refuses public network access except trusted Azure services", () => {
    assert.deepEqual(get(findOne(run.resources, T.vault), "properties.networkAcls"), {
      defaultAction: "Deny",
      bypass: "AzureServices",
    });
  });
});

describe("config of issue 11", () => {
  const parse = (extra: Record<string, string>) =>
    parseStackSettings({ ...devStackConfig(), ...extra }, { fileExists: () => true });

  it("defaults: anyone may reach the endpoint, the API server is not narrowed, no group, generated label", () => {
    const { access } = parse({});
    assert.deepEqual(access.allowedSourceRanges, ["0.0.0.0/0"]);
    assert.deepEqual(access.apiServerAuthorizedIpRanges, []);
    assert.equal(access.clusterAdminGroupObjectId, undefined);
    assert.equal(access.dnsLabel, undefined);
    assert.equal(access.publicSwagger, false);
  });

  it("refuses malformed ranges, ids, labels and domains, naming key, value and fix", () => {
    assert.throws(
      () =>
        parse({
          allowedSourceRanges: "10.0.0.0/33",
          apiServerAuthorizedIpRanges: "1.2.3.4",
          clusterAdminGroupObjectId: "admins",
          dnsLabel: "Bad_Label",
          customDomain: "x.eastus.cloudapp.azure.com",
        }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        const text = error.problems.join("\n");
        for (const needle of [
          'allowedSourceRanges = "10.0.0.0/33": is not an IPv4 CIDR',
          'apiServerAuthorizedIpRanges = "1.2.3.4": is not an IPv4 CIDR',
          'clusterAdminGroupObjectId = "admins": is not an Entra object id',
          'dnsLabel = "Bad_Label"',
          'customDomain = "x.eastus.cloudapp.azure.com"',
        ])
          assert.ok(text.includes(needle), `${needle}\n in\n${text}`);
        return true;
      },
    );
  });

  it("refuses an empty range list and anyone mixed with narrower ranges", () => {
    assert.throws(() => parse({ allowedSourceRanges: " , " }), /lists no range/);
    assert.throws(() => parse({ allowedSourceRanges: "0.0.0.0/0,10.1.0.0/16" }), /restrict nothing/);
  });
});
