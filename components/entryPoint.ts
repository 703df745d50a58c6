/**
 * EntryPoint: the cluster's one public door. HTTPS on a stable name, a certificate issued and renewed
 * automatically, plain HTTP answered only with a redirect (and the ACME challenge), and nothing else
 * public: the scoring Service behind it is ClusterIP.
 *
 * Choice of implementation (facts checked 2026-12-01; the AKS managed NGINX app-routing add-on loses
 * Azure support after November 2026 and the community ingress-nginx project was retired in March 2026):
 *
 * | option | for | against |
 * |---|---|---|
 * | Envoy Gateway (CNCF Envoy, Gateway API v1), Helm chart `oci://docker.io/envoyproxy/gateway-helm` | GA, conformant Gateway API, runs on any cluster; cert-manager's Gateway API solver issues certificates for it; one LoadBalancer Service whose Azure DNS label gives the stable name; nothing outside the cluster to pay for | we run and upgrade it (two pinned charts, mirrored images) |
 * | Application Gateway for Containers (ALB controller) | Azure-managed data plane, WAF, Gateway API and Ingress | a billed Azure resource per frontend; needs a delegated subnet in a VNet this stack would have to own (the cluster uses the managed overlay VNet today), the ALB controller's Helm chart and a workload identity with rights on the resource group: more moving parts and cost for one service |
 * | AKS app-routing Gateway API mode (meshless Istio, gatewayClass `approuting-istio`) | Microsoft's stated successor of managed NGINX, managed upgrades | preview when checked (learn.microsoft.com/azure/aks/app-routing-gateway-api, "AKS preview features ... aren't meant for production use"), and the pinned azure-native 3.28.0 (Microsoft.ContainerService 2025-09-01) has no property to enable it (ingressProfile.webAppRouting has only dnsZoneResourceIds, enabled, nginx); it also issues no certificates itself |
 * | Cilium's Gateway API (the cluster's dataplane) | no extra proxy | AKS's managed Cilium does not offer its Gateway API/Envoy L7 features outside ACNS, and AKS manages that Cilium's configuration |
 *
 * Chosen: Envoy Gateway + cert-manager (ACME HTTP-01 through the Gateway's port-80 listener, Let's
 * Encrypt production by default). Moving to app routing's Gateway API mode later changes only the
 * GatewayClass and this file: the Gateway, HTTPRoutes and cert-manager objects are standard.
 *
 * Bring your own certificate (tlsKeyVaultId + tlsCertificateName): instead of cert-manager, the AKS Key
 * Vault secrets provider add-on (Secrets Store CSI driver) syncs the certificate into the same Secret the
 * HTTPS listener reads. The driver creates a synced Secret only while a pod mounts the SecretProviderClass
 * volume (secrets-store-csi-driver "Sync as Kubernetes Secret"; the provider's ingress-tls guide mounts it
 * into the ingress controller), so the Envoy proxies themselves mount it: the Secret lives exactly as long
 * as the pods that serve it. `objectType: secret` on a certificate's name returns its private key and full
 * chain, as PEM also for a PFX certificate (the provider's default objectFormat pem; azure.github.io/
 * secrets-store-csi-driver-provider-azure, "Getting Certificates and Keys", and PR #175, checked
 * 2026-12-01); `objectType: cert` would return the leaf without its chain or key.
 *
 * The stable name: the proxy's LoadBalancer Service carries `service.beta.kubernetes.io/azure-dns-label-name`,
 * so Azure gives its public IP `<label>.<location>.cloudapp.azure.com`; a custom domain, when set, is a
 * CNAME to that name and becomes the certificate's and routes' name instead.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CERT_MANAGER_VERSION, ENVOY_GATEWAY_VERSION, type EntryPointImageKey } from "./entryPointImages";
import { azureNameSuffix } from "./naming";
import {
  certManagerNamespacePolicies,
  ENVOY_PROXY_POD_LABELS,
  entryNamespacePolicies,
  networkPolicies,
} from "./networkPolicy";

/** Namespaces the entry point owns (Envoy Gateway runs its proxies in its own namespace by default). */
export const ENTRY_NAMESPACE = "envoy-gateway-system";
export const CERT_MANAGER_NAMESPACE = "cert-manager";
/** The Gateway's name, its listeners and the Secret cert-manager keeps the certificate in. */
export const GATEWAY = { name: "public", httpListener: "http", httpsListener: "https" } as const;
export const TLS_SECRET_NAME = "public-tls";
/** Envoy Gateway's controller pods (the chart's Deployment selector). */
export const ENVOY_GATEWAY_CONTROLLER_LABELS = { "control-plane": "envoy-gateway" } as const;

export const ACME_DIRECTORIES = {
  production: "https://acme-v02.api.letsencrypt.org/directory",
  staging: "https://acme-staging-v02.api.letsencrypt.org/directory",
} as const;

/** `<label>.<location>.cloudapp.azure.com`: the name Azure gives a public IP with a DNS label. */
export function azureHostname(label: string, location: string): string {
  return `${label}.${location}.cloudapp.azure.com`;
}

/** The generated DNS label: `<namePrefix>-<stack>-<suffix>`, the stack name reduced to what a label allows. */
export function generatedDnsLabel(namePrefix: string, stack: string, suffix: string): string {
  const middle = stack
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
  return [namePrefix, middle, suffix].filter((part) => part !== "").join("-");
}

/** `<registry>/<repository>@sha256:<hex>` split into the two values Helm charts take. */
export function splitDigestRef(ref: string): { repository: string; digest: string } {
  const at = ref.lastIndexOf("@");
  if (at < 0 || !ref.slice(at + 1).startsWith("sha256:")) throw new Error(`not a digest reference: ${ref}`);
  return { repository: ref.slice(0, at), digest: ref.slice(at + 1) };
}

/** Each image of entryPointImages.ts, as its mirror by digest in the project's registry. */
export type EntryPointImages = Readonly<Record<EntryPointImageKey, pulumi.Input<string>>>;

export interface EntryPointArgs {
  readonly location: string;
  readonly namePrefix: string;
  /** The Azure DNS label of the public IP; undefined generates one per stack (generatedDnsLabel). */
  readonly dnsLabel?: string;
  /** A domain the user CNAMEs to the Azure name; the certificate and routes then use it. */
  readonly customDomain?: string;
  /** Client CIDRs admitted to the HTTPS listener, by the proxies' network policy (networkPolicy.ts says why not the NSG). */
  readonly allowedSourceRanges: readonly string[];
  /** Where the HTTPS listener's certificate comes from: Let's Encrypt, or the user's Key Vault. */
  readonly certificate: EntryPointCertificate;
  /** Every image by digest in the project's registry (mirrors of entryPointImages.ts). */
  readonly images: EntryPointImages;
  /** The namespace whose HTTPRoutes may attach to the HTTPS listener. */
  readonly routeNamespace: string;
  /** Must exist before the releases install (the system pool, the kubelet's pull grant). */
  readonly installAfter: pulumi.Input<pulumi.Resource>[];
}

export type EntryPointCertificate =
  | { readonly source: "acme"; readonly email?: string; readonly staging: boolean }
  | {
      readonly source: "keyVault";
      readonly vaultName: string;
      readonly certificateName: string;
      /** The vault's tenant (the deployer's). */
      readonly tenantId: pulumi.Input<string>;
      /** Client id of the Key Vault secrets provider add-on's identity, which reads the certificate. */
      readonly identityClientId: pulumi.Input<string>;
      /** Its read grant on the vault: the proxies mount the certificate only after it exists. */
      readonly grant: pulumi.Resource;
    };

/** The SecretProviderClass the proxies mount, and where; it syncs the certificate into TLS_SECRET_NAME. */
export const KEY_VAULT_TLS = { providerClass: "public-tls-key-vault", mountPath: "/mnt/public-tls" } as const;

/** The Secrets Store CSI driver's objects string: one Key Vault secret (a certificate's key and chain). */
export function keyVaultObjects(certificateName: string): string {
  return `array:\n  - |\n    objectName: ${certificateName}\n    objectType: secret\n`;
}

export class EntryPoint extends pulumi.ComponentResource {
  /** The name clients use: the custom domain, or azureHostname. */
  readonly hostname: pulumi.Output<string>;
  /** `<label>.<location>.cloudapp.azure.com`, the public IP's own name (a custom domain CNAMEs to it). */
  readonly azureHostname: pulumi.Output<string>;
  /** The Gateway routes attach to. */
  readonly gateway: { readonly name: string; readonly namespace: string; readonly sectionName: string };
  /** What an HTTPRoute must wait for (the Gateway API CRDs and the Gateway itself). */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: EntryPointArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpu-inference-aks:entry:EntryPoint", name, {}, opts);
    const parent = { parent: this };
    const images = pulumi.output(args.images);
    const dnsLabel =
      args.dnsLabel === undefined
        ? azureNameSuffix(name, this).apply((suffix) =>
            generatedDnsLabel(args.namePrefix, pulumi.getStack(), suffix),
          )
        : pulumi.output(args.dnsLabel);
    this.azureHostname = dnsLabel.apply((label) => azureHostname(label, args.location));
    this.hostname = args.customDomain === undefined ? this.azureHostname : pulumi.output(args.customDomain);

    const namespace = (ns: string) =>
      new k8s.core.v1.Namespace(`${name}-${ns}`, { metadata: { name: ns } }, parent).metadata.name;
    const entryNs = namespace(ENTRY_NAMESPACE);
    const certificate = args.certificate;
    networkPolicies(
      `${name}-gateway`,
      entryNs,
      entryNamespacePolicies({
        allowedSourceRanges: args.allowedSourceRanges,
        controllerPodLabels: ENVOY_GATEWAY_CONTROLLER_LABELS,
      }),
      parent,
    );

    // Installs the Gateway API CRDs (standard channel) and Envoy Gateway's own.
    const envoyGateway = new k8s.helm.v3.Release(
      `${name}-envoy-gateway`,
      {
        name: "eg",
        chart: "oci://docker.io/envoyproxy/gateway-helm",
        version: ENVOY_GATEWAY_VERSION,
        namespace: entryNs,
        createNamespace: false,
        values: {
          // The controller, its certgen hook Job and the proxies' shutdown-manager sidecar all run this image.
          global: { images: { envoyGateway: { image: images.envoyGateway, pullPolicy: "IfNotPresent" } } },
        },
      },
      { parent: this, dependsOn: args.installAfter },
    );

    const keyVaultMount =
      certificate.source === "keyVault"
        ? this.keyVaultCertificate(name, entryNs, certificate, envoyGateway)
        : undefined;

    const proxyConfig = new k8s.apiextensions.CustomResource(
      `${name}-proxy-config`,
      {
        apiVersion: "gateway.envoyproxy.io/v1alpha1",
        kind: "EnvoyProxy",
        metadata: { name: "public", namespace: entryNs },
        spec: {
          provider: {
            type: "Kubernetes",
            kubernetes: {
              envoyDeployment: {
                replicas: 2,
                container: {
                  image: images.envoyProxy,
                  ...(keyVaultMount === undefined ? {} : { volumeMounts: [keyVaultMount.volumeMount] }),
                },
                ...(keyVaultMount === undefined ? {} : { pod: { volumes: [keyVaultMount.volume] } }),
              },
              envoyPDB: { minAvailable: 1 },
              envoyService: {
                type: "LoadBalancer",
                // Keeps the client's address, so the proxies' network policy can check allowedSourceRanges.
                externalTrafficPolicy: "Local",
                // Open to everyone at the NSG, stated: port 80 must take Let's Encrypt's validation from
                // anywhere; port 443 is narrowed by the network policy instead.
                loadBalancerSourceRanges: ["0.0.0.0/0"],
                annotations: { "service.beta.kubernetes.io/azure-dns-label-name": dnsLabel },
              },
            },
          },
        },
      },
      // With a Key Vault certificate, the proxies' pods mount it: its class and read grant must exist first.
      { parent: this, dependsOn: [envoyGateway, ...(keyVaultMount?.before ?? [])] },
    );
    const gatewayClass = new k8s.apiextensions.CustomResource(
      `${name}-gateway-class`,
      {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "GatewayClass",
        metadata: { name: "envoy-public" },
        spec: {
          controllerName: "gateway.envoyproxy.io/gatewayclass-controller",
          parametersRef: {
            group: "gateway.envoyproxy.io",
            kind: "EnvoyProxy",
            name: proxyConfig.metadata.name,
            namespace: entryNs,
          },
        },
      },
      { parent: this, dependsOn: [envoyGateway] },
    );

    const gateway = new k8s.apiextensions.CustomResource(
      `${name}-gateway`,
      {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "Gateway",
        metadata: { name: GATEWAY.name, namespace: entryNs },
        spec: {
          gatewayClassName: gatewayClass.metadata.name,
          listeners: [
            {
              // Only the redirect below and cert-manager's ACME challenge routes attach here.
              name: GATEWAY.httpListener,
              protocol: "HTTP",
              port: 80,
              hostname: this.hostname,
              allowedRoutes: { namespaces: { from: "Same" } },
            },
            {
              name: GATEWAY.httpsListener,
              protocol: "HTTPS",
              port: 443,
              hostname: this.hostname,
              tls: { mode: "Terminate", certificateRefs: [{ kind: "Secret", name: TLS_SECRET_NAME }] },
              allowedRoutes: {
                kinds: [{ kind: "HTTPRoute" }],
                namespaces: {
                  from: "Selector",
                  selector: { matchLabels: { "kubernetes.io/metadata.name": args.routeNamespace } },
                },
              },
            },
          ],
        },
      },
      parent,
    );

    // TLS 1.2 at least on the HTTPS listener (Envoy's own floor, stated so an upgrade cannot lower it).
    new k8s.apiextensions.CustomResource(
      `${name}-client-tls`,
      {
        apiVersion: "gateway.envoyproxy.io/v1alpha1",
        kind: "ClientTrafficPolicy",
        metadata: { name: "public-tls", namespace: entryNs },
        spec: {
          targetRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: gateway.metadata.name }],
          tls: { minVersion: "1.2" },
        },
      },
      { parent: this, dependsOn: [envoyGateway] },
    );

    // Plain HTTP: every request is answered 301 to https, except cert-manager's exact-path challenge
    // routes (an Exact path match wins over this rule's implicit "/" prefix in Gateway API precedence).
    new k8s.apiextensions.CustomResource(
      `${name}-https-redirect`,
      {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: { name: "https-redirect", namespace: entryNs },
        spec: {
          parentRefs: [{ name: gateway.metadata.name, sectionName: GATEWAY.httpListener }],
          hostnames: [this.hostname],
          rules: [
            { filters: [{ type: "RequestRedirect", requestRedirect: { scheme: "https", statusCode: 301 } }] },
          ],
        },
      },
      parent,
    );

    if (certificate.source === "acme") {
      const certManager = this.certManager(name, images, envoyGateway);
      const issuer = new k8s.apiextensions.CustomResource(
        `${name}-acme-issuer`,
        {
          apiVersion: "cert-manager.io/v1",
          kind: "Issuer",
          metadata: { name: "letsencrypt", namespace: entryNs },
          spec: {
            acme: {
              server: certificate.staging ? ACME_DIRECTORIES.staging : ACME_DIRECTORIES.production,
              ...(certificate.email === undefined ? {} : { email: certificate.email }),
              privateKeySecretRef: { name: "letsencrypt-account-key" },
              solvers: [
                {
                  http01: {
                    gatewayHTTPRoute: {
                      parentRefs: [
                        {
                          kind: "Gateway",
                          name: gateway.metadata.name,
                          namespace: entryNs,
                          sectionName: GATEWAY.httpListener,
                        },
                      ],
                    },
                  },
                },
              ],
            },
          },
        },
        { parent: this, dependsOn: [certManager] },
      );
      // Renewed by cert-manager on its own a third of the lifetime before expiry (its default renewBefore).
      new k8s.apiextensions.CustomResource(
        `${name}-certificate`,
        {
          apiVersion: "cert-manager.io/v1",
          kind: "Certificate",
          metadata: { name: "public", namespace: entryNs },
          spec: {
            secretName: TLS_SECRET_NAME,
            dnsNames: [this.hostname],
            issuerRef: { kind: "Issuer", name: issuer.metadata.name },
            privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
          },
        },
        { parent: this, dependsOn: [certManager] },
      );
    }

    this.gateway = { name: GATEWAY.name, namespace: ENTRY_NAMESPACE, sectionName: GATEWAY.httpsListener };
    this.ready = [gateway, envoyGateway];
    this.registerOutputs({ hostname: this.hostname, azureHostname: this.azureHostname });
  }

  /** cert-manager in its own namespace (with its network policies), for the ACME certificate only. */
  private certManager(
    name: string,
    images: pulumi.Output<Readonly<Record<EntryPointImageKey, string>>>,
    envoyGateway: k8s.helm.v3.Release,
  ): k8s.helm.v3.Release {
    const certNs = new k8s.core.v1.Namespace(
      `${name}-${CERT_MANAGER_NAMESPACE}`,
      { metadata: { name: CERT_MANAGER_NAMESPACE } },
      { parent: this },
    ).metadata.name;
    networkPolicies(`${name}-cert-manager`, certNs, certManagerNamespacePolicies(), { parent: this });
    const certImage = (ref: pulumi.Output<string>) => ref.apply(splitDigestRef);
    return new k8s.helm.v3.Release(
      `${name}-cert-manager`,
      {
        name: "cert-manager",
        chart: "cert-manager",
        repositoryOpts: { repo: "https://charts.jetstack.io" },
        version: CERT_MANAGER_VERSION,
        namespace: certNs,
        createNamespace: false,
        values: {
          crds: { enabled: true, keep: true },
          // The Gateway API HTTP-01 solver (ACME challenges answered through the Gateway's HTTP listener).
          config: {
            apiVersion: "controller.config.cert-manager.io/v1alpha1",
            kind: "ControllerConfiguration",
            enableGatewayAPI: true,
          },
          image: certImage(images.certManagerController),
          webhook: { image: certImage(images.certManagerWebhook) },
          cainjector: { image: certImage(images.certManagerCainjector) },
          acmesolver: { image: certImage(images.certManagerAcmeSolver) },
          startupapicheck: { image: certImage(images.certManagerStartupApiCheck) },
        },
      },
      // cert-manager's Gateway API support starts only if the Gateway API CRDs already exist.
      { parent: this, dependsOn: [envoyGateway] },
    );
  }

  /**
   * The user's Key Vault certificate as the Secret TLS_SECRET_NAME: a SecretProviderClass that the add-on's
   * identity reads the vault with, and the CSI volume the proxies mount to keep the synced Secret in place.
   */
  private keyVaultCertificate(
    name: string,
    namespace: pulumi.Output<string>,
    certificate: Extract<EntryPointCertificate, { source: "keyVault" }>,
    envoyGateway: k8s.helm.v3.Release,
  ): { volume: Record<string, unknown>; volumeMount: Record<string, unknown>; before: pulumi.Resource[] } {
    const providerClass = new k8s.apiextensions.CustomResource(
      `${name}-tls-key-vault`,
      {
        apiVersion: "secrets-store.csi.x-k8s.io/v1",
        kind: "SecretProviderClass",
        metadata: { name: KEY_VAULT_TLS.providerClass, namespace },
        spec: {
          provider: "azure",
          // The add-on's user-assigned identity on the nodes (the add-on's documented identity mode).
          parameters: {
            usePodIdentity: "false",
            useVMManagedIdentity: "true",
            userAssignedIdentityID: certificate.identityClientId,
            keyvaultName: certificate.vaultName,
            tenantId: certificate.tenantId,
            objects: keyVaultObjects(certificate.certificateName),
          },
          secretObjects: [
            {
              secretName: TLS_SECRET_NAME,
              type: "kubernetes.io/tls",
              data: [
                { objectName: certificate.certificateName, key: "tls.key" },
                { objectName: certificate.certificateName, key: "tls.crt" },
              ],
            },
          ],
        },
      },
      // The class's CRD comes with the add-on, which the cluster (and so the provider) already has.
      { parent: this, dependsOn: [envoyGateway] },
    );
    return {
      volume: {
        name: "public-tls",
        csi: {
          driver: "secrets-store.csi.k8s.io",
          readOnly: true,
          volumeAttributes: { secretProviderClass: KEY_VAULT_TLS.providerClass },
        },
      },
      volumeMount: { name: "public-tls", mountPath: KEY_VAULT_TLS.mountPath, readOnly: true },
      before: [providerClass, certificate.grant],
    };
  }
}

/** Re-exported for the scoring route: which proxy pods may reach the app. */
export { ENVOY_PROXY_POD_LABELS };
