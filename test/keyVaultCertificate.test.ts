/**
 * Bring your own certificate (issue 11): with tlsKeyVaultId + tlsCertificateName the real program (index.ts
 * under mocks) serves the public HTTPS listener with the certificate from the user's Key Vault, synced by
 * the AKS Key Vault secrets provider add-on whose identity may read that one vault, instead of running
 * cert-manager and ACME; the config refusals name key, value and fix; and the stack passes the policy pack.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { ConfigError, parseStackSettings } from "../components/config";
import {
  CERT_MANAGER_NAMESPACE,
  ENTRY_NAMESPACE,
  GATEWAY,
  KEY_VAULT_TLS,
  keyVaultObjects,
  TLS_SECRET_NAME,
} from "../components/entryPoint";
import { policies } from "../policy/policies";
import { evaluatePolicies } from "../policy/testing/evaluate";
import { captureDevStack } from "../policy/testing/program";
import {
  devStackConfig,
  findAll,
  findOne,
  get,
  MOCK,
  outputValue,
  type ProgramRun,
  runProgram,
} from "./harness";

const VAULT_ID =
  "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/certs-rg/providers/Microsoft.KeyVault/vaults/corp-certs";
const BYO = {
  customDomain: "scoring.example.com",
  tlsKeyVaultId: VAULT_ID,
  tlsCertificateName: "scoring-example-com",
};
const KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6";

const T = {
  cluster: "azure-native:containerservice:ManagedCluster",
  role: "azure-native:authorization:RoleAssignment",
  providerClass: "kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass",
  envoyProxy: "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy",
  gateway: "kubernetes:gateway.networking.k8s.io/v1:Gateway",
  issuer: "kubernetes:cert-manager.io/v1:Issuer",
  certificate: "kubernetes:cert-manager.io/v1:Certificate",
  release: "kubernetes:helm.sh/v3:Release",
  namespace: "kubernetes:core/v1:Namespace",
  policy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
} as const;

let byo: ProgramRun;
let acme: ProgramRun;
before(async () => {
  byo = await runProgram({ config: { ...devStackConfig(), ...BYO } });
  acme = await runProgram({ config: devStackConfig() });
});

describe("a certificate from Key Vault", () => {
  it("runs the Key Vault secrets provider add-on with rotation, only when a certificate is brought", () => {
    assert.deepEqual(get(findOne(byo.resources, T.cluster), "addonProfiles.azureKeyvaultSecretsProvider"), {
      enabled: true,
      config: { enableSecretRotation: "true", rotationPollInterval: "2m" },
    });
    // The monitoring agent stays beside it.
    assert.equal(get(findOne(byo.resources, T.cluster), "addonProfiles.omsagent.enabled"), true);
    assert.equal(
      get(findOne(acme.resources, T.cluster), "addonProfiles.azureKeyvaultSecretsProvider"),
      undefined,
    );
  });

  it("grants the add-on's identity Key Vault Secrets User on that vault only, with the vault's subscription", () => {
    const grant = findOne(byo.resources, T.role, "gpu-key-vault-secrets-user");
    assert.equal(get(grant, "scope"), VAULT_ID);
    assert.equal(get(grant, "principalId"), MOCK.keyVaultAddonObjectId);
    assert.equal(get(grant, "principalType"), "ServicePrincipal");
    assert.equal(
      get(grant, "roleDefinitionId"),
      `/subscriptions/11111111-2222-3333-4444-555555555555/providers/Microsoft.Authorization/roleDefinitions/${KEY_VAULT_SECRETS_USER}`,
    );
    const onVault = findAll(byo.resources, T.role).filter((r) => get(r, "scope") === VAULT_ID);
    assert.equal(onVault.length, 1);
    assert.equal(findAll(acme.resources, T.role).filter((r) => r.name.includes("key-vault")).length, 0);
  });

  it("syncs the certificate's key and chain into the Secret the HTTPS listener reads, as kubernetes.io/tls", () => {
    const spc = findOne(byo.resources, T.providerClass);
    assert.deepEqual(get(spc, "metadata"), { name: KEY_VAULT_TLS.providerClass, namespace: ENTRY_NAMESPACE });
    assert.equal(get(spc, "spec.provider"), "azure");
    assert.deepEqual(get(spc, "spec.parameters"), {
      usePodIdentity: "false",
      useVMManagedIdentity: "true",
      userAssignedIdentityID: MOCK.keyVaultAddonClientId,
      keyvaultName: "corp-certs",
      tenantId: MOCK.tenantId,
      objects: keyVaultObjects("scoring-example-com"),
    });
    assert.equal(
      keyVaultObjects("scoring-example-com"),
      "array:\n  - |\n    objectName: scoring-example-com\n    objectType: secret\n",
    );
    assert.deepEqual(get(spc, "spec.secretObjects"), [
      {
        secretName: TLS_SECRET_NAME,
        type: "kubernetes.io/tls",
        data: [
          { objectName: "scoring-example-com", key: "tls.key" },
          { objectName: "scoring-example-com", key: "tls.crt" },
        ],
      },
    ]);
    const https = (
      get(findOne(byo.resources, T.gateway), "spec.listeners") as Record<string, unknown>[]
    ).find((l) => l.name === GATEWAY.httpsListener);
    assert.deepEqual(get(https ?? {}, "tls"), {
      mode: "Terminate",
      certificateRefs: [{ kind: "Secret", name: TLS_SECRET_NAME }],
    });
    assert.deepEqual(get(https ?? {}, "hostname"), "scoring.example.com");
  });

  it("the Envoy proxies mount the class (the driver keeps a synced Secret only while a pod mounts it)", () => {
    const deployment = get(findOne(byo.resources, T.envoyProxy), "spec.provider.kubernetes.envoyDeployment");
    assert.deepEqual(get(deployment as Record<string, unknown>, "pod.volumes"), [
      {
        name: "public-tls",
        csi: {
          driver: "secrets-store.csi.k8s.io",
          readOnly: true,
          volumeAttributes: { secretProviderClass: KEY_VAULT_TLS.providerClass },
        },
      },
    ]);
    assert.deepEqual(get(deployment as Record<string, unknown>, "container.volumeMounts"), [
      { name: "public-tls", mountPath: KEY_VAULT_TLS.mountPath, readOnly: true },
    ]);
    const acmeDeployment = get(
      findOne(acme.resources, T.envoyProxy),
      "spec.provider.kubernetes.envoyDeployment",
    );
    assert.equal(get(acmeDeployment as Record<string, unknown>, "pod"), undefined);
    assert.equal(get(acmeDeployment as Record<string, unknown>, "container.volumeMounts"), undefined);
  });

  it("runs no cert-manager, Issuer or ACME Certificate; the default stack still does", () => {
    for (const type of [T.issuer, T.certificate]) {
      assert.equal(findAll(byo.resources, type).length, 0, type);
      assert.equal(findAll(acme.resources, type).length, 1, type);
    }
    const names = (run: ProgramRun) =>
      findAll(run.resources, T.namespace).map((n) => get(n, "metadata.name"));
    assert.ok(!names(byo).includes(CERT_MANAGER_NAMESPACE));
    assert.ok(names(acme).includes(CERT_MANAGER_NAMESPACE));
    assert.equal(findAll(byo.resources, T.release).filter((r) => r.name === "entry-cert-manager").length, 0);
    assert.equal(
      findAll(byo.resources, T.policy).filter((p) => get(p, "metadata.namespace") === CERT_MANAGER_NAMESPACE)
        .length,
      0,
    );
  });

  it("the scoring URI is https on the certificate's domain", async () => {
    assert.equal(await outputValue(byo.outputs.scoringUri), "https://scoring.example.com/score");
  });

  it("the stack with a Key Vault certificate passes every policy", async () => {
    const violations = await evaluatePolicies(policies, await captureDevStack(BYO));
    assert.deepEqual(
      violations.map((v) => `${v.policyName}: ${v.message}`),
      [],
    );
  });
});

describe("config of a Key Vault certificate", () => {
  const problems = (extra: Record<string, string>): string[] => {
    try {
      parseStackSettings({ ...devStackConfig(), ...extra }, { fileExists: () => true });
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return [...error.problems];
    }
    return [];
  };

  it("accepts the vault id and certificate name with a custom domain", () => {
    const { access } = parseStackSettings({ ...devStackConfig(), ...BYO }, { fileExists: () => true });
    assert.deepEqual(access.keyVaultCertificate, {
      keyVaultId: VAULT_ID,
      vaultName: "corp-certs",
      certificateName: "scoring-example-com",
    });
    assert.equal(
      parseStackSettings(devStackConfig(), { fileExists: () => true }).access.keyVaultCertificate,
      undefined,
    );
  });

  it("refuses one key without the other, naming the key, the value and the fix", () => {
    const [only] = problems({
      customDomain: "scoring.example.com",
      tlsCertificateName: "scoring-example-com",
    });
    assert.match(only, /^tlsCertificateName = "scoring-example-com": is set without tlsKeyVaultId/);
    assert.match(
      only,
      /Fix: pulumi config set tlsKeyVaultId "\$\(az keyvault show -n <vault> --query id -o tsv\)"/,
    );
    const [other] = problems({ customDomain: "scoring.example.com", tlsKeyVaultId: VAULT_ID });
    assert.match(other, /^tlsKeyVaultId = ".*corp-certs": is set without tlsCertificateName/);
  });

  it("refuses a vault URI or secret id for the vault, and a URI for the certificate name", () => {
    const found = problems({
      ...BYO,
      tlsKeyVaultId: "https://corp-certs.vault.azure.net/secrets/scoring-example-com",
      tlsCertificateName: "https://corp-certs.vault.azure.net/certificates/scoring-example-com/abc",
    });
    assert.equal(found.length, 2, found.join("\n"));
    assert.match(
      found[0],
      /^tlsKeyVaultId = "https:\/\/corp-certs\.vault\.azure\.net\/secrets\/scoring-example-com": is not a Key Vault resource id/,
    );
    assert.match(found[0], /Fix: pulumi config set tlsKeyVaultId/);
    assert.match(found[1], /^tlsCertificateName = "https:.*": is not a Key Vault certificate name/);
  });

  it("refuses a brought certificate without customDomain, and the ACME keys beside it", () => {
    const { customDomain: _unused, ...withoutDomain } = BYO;
    const [domain] = problems(withoutDomain);
    assert.match(
      domain,
      /^tlsCertificateName = "scoring-example-com": brings your own certificate, but customDomain is not set/,
    );
    assert.match(domain, /Fix: pulumi config set customDomain/);
    const acmeKeys = problems({ ...BYO, acmeEmail: "ops@example.com", acmeStaging: "true" });
    assert.deepEqual(
      acmeKeys.map((p) => p.split(":")[0]),
      ['acmeEmail = "ops@example.com"', 'acmeStaging = "true"'],
    );
    assert.match(acmeKeys[0], /Fix: pulumi config rm acmeEmail/);
  });
});
