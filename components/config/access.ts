/**
 * Section: who can reach what (issue 11). The public endpoint's name and certificate, which client
 * addresses may reach it, which may reach the Kubernetes API server, and which Entra group (besides
 * the deployer) administers the cluster.
 */
import type { Reader } from "./reader";

/** The address ranges that mean "anyone on the internet": the default of allowedSourceRanges. */
export const ANYONE = "0.0.0.0/0";

export interface AccessSettings {
  /** CIDRs allowed to reach the public endpoint; [ANYONE] (the default) lets everyone in. */
  readonly allowedSourceRanges: readonly string[];
  /** CIDRs allowed to reach the API server; empty means AKS's default (reachable from anywhere, Entra ID still required). */
  readonly apiServerAuthorizedIpRanges: readonly string[];
  /** An Entra group object id granted cluster admin with the deployer; undefined when not set. */
  readonly clusterAdminGroupObjectId?: string;
  /** The Azure DNS label of the public IP (<label>.<location>.cloudapp.azure.com); undefined: generated per stack. */
  readonly dnsLabel?: string;
  /** A domain the user points (CNAME) at the Azure name; the certificate and routes then use it. */
  readonly customDomain?: string;
  /** Contact e-mail given to Let's Encrypt for the ACME account; undefined: none (ACME allows that). */
  readonly acmeEmail?: string;
  /** Let's Encrypt's staging directory instead of production (test certificates, higher rate limits). */
  readonly acmeStaging: boolean;
  /** Whether /swagger.json is on the public route (off by default: docs stay off the public path). */
  readonly publicSwagger: boolean;
  /** The user's own certificate in Key Vault, served instead of the ACME one; undefined: ACME. */
  readonly keyVaultCertificate?: KeyVaultCertificate;
}

/** A certificate the user keeps in Key Vault (tlsKeyVaultId + tlsCertificateName). */
export interface KeyVaultCertificate {
  /** /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>: the grant's scope. */
  readonly keyVaultId: string;
  readonly vaultName: string;
  readonly certificateName: string;
}

const IPV4_CIDR = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DNS_LABEL = /^[a-z][a-z0-9-]{1,61}[a-z0-9]$/;
const DOMAIN = /^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
// Vault names: 3-24 letters, digits and '-', starting with a letter; object names: 1-127 letters, digits
// and '-' (Key Vault naming rules, learn.microsoft.com/azure/key-vault/general/about-keys-secrets-certificates).
const KEY_VAULT_ID =
  /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[-\w.()]{1,90}\/providers\/Microsoft\.KeyVault\/vaults\/([a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9])$/i;
const KEY_VAULT_OBJECT = /^[0-9a-zA-Z-]{1,127}$/;

function cidrList(r: Reader, key: "allowedSourceRanges" | "apiServerAuthorizedIpRanges"): string[] {
  const text = r.string(key);
  const ranges = text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  for (const range of ranges.filter((range) => !IPV4_CIDR.test(range))) {
    r.problem(
      key,
      range,
      "is not an IPv4 CIDR range (a.b.c.d/n)",
      `pulumi config set ${key} "203.0.113.0/24,198.51.100.7/32"`,
    );
  }
  return ranges;
}

function optional(
  r: Reader,
  key:
    | "clusterAdminGroupObjectId"
    | "dnsLabel"
    | "customDomain"
    | "acmeEmail"
    | "tlsKeyVaultId"
    | "tlsCertificateName",
): string | undefined {
  const value = r.string(key);
  return value === "" ? undefined : value;
}

export function accessSection(r: Reader): AccessSettings {
  const allowedSourceRanges = cidrList(r, "allowedSourceRanges");
  if (allowedSourceRanges.length === 0) {
    r.problem(
      "allowedSourceRanges",
      r.string("allowedSourceRanges"),
      `lists no range, which would leave the endpoint reachable by no one; ${ANYONE} means anyone`,
      `pulumi config set allowedSourceRanges ${ANYONE} (or your clients' CIDRs, comma-separated)`,
    );
  }
  if (allowedSourceRanges.includes(ANYONE) && allowedSourceRanges.length > 1) {
    r.problem(
      "allowedSourceRanges",
      allowedSourceRanges.join(","),
      `contains ${ANYONE} (anyone) together with narrower ranges, which then restrict nothing`,
      `pulumi config set allowedSourceRanges ${ANYONE}, or list only the narrower ranges`,
    );
  }
  const clusterAdminGroupObjectId = optional(r, "clusterAdminGroupObjectId");
  if (clusterAdminGroupObjectId !== undefined && !GUID.test(clusterAdminGroupObjectId)) {
    r.problem(
      "clusterAdminGroupObjectId",
      clusterAdminGroupObjectId,
      "is not an Entra object id (a GUID)",
      'pulumi config set clusterAdminGroupObjectId "$(az ad group show -g <group> --query id -o tsv)"',
    );
  }
  const dnsLabel = optional(r, "dnsLabel");
  if (dnsLabel !== undefined && !DNS_LABEL.test(dnsLabel)) {
    r.problem(
      "dnsLabel",
      dnsLabel,
      "must be 3-63 lowercase letters, digits or '-', starting with a letter and not ending in '-' (Azure DNS label rules)",
      "pulumi config set dnsLabel gpuinf-dev-scoring, or pulumi config rm dnsLabel for a generated one",
    );
  }
  const customDomain = optional(r, "customDomain")?.toLowerCase();
  if (
    customDomain !== undefined &&
    (!DOMAIN.test(customDomain) || customDomain.endsWith(".cloudapp.azure.com"))
  ) {
    r.problem(
      "customDomain",
      customDomain,
      "must be a fully qualified domain name you control (not a cloudapp.azure.com name: use dnsLabel for that)",
      "pulumi config set customDomain scoring.example.com, then CNAME it to the stack's azureHostname output",
    );
  }
  const acmeEmail = optional(r, "acmeEmail");
  if (acmeEmail !== undefined && !EMAIL.test(acmeEmail)) {
    r.problem(
      "acmeEmail",
      acmeEmail,
      "is not an e-mail address",
      "pulumi config set acmeEmail ops@example.com",
    );
  }
  const keyVaultCertificate = keyVaultCertificateOf(r, customDomain);
  return {
    allowedSourceRanges,
    apiServerAuthorizedIpRanges: cidrList(r, "apiServerAuthorizedIpRanges"),
    clusterAdminGroupObjectId,
    dnsLabel,
    customDomain,
    acmeEmail,
    acmeStaging: r.boolean("acmeStaging"),
    publicSwagger: r.boolean("publicSwagger"),
    keyVaultCertificate,
  };
}

/**
 * tlsKeyVaultId + tlsCertificateName: both or neither. A certificate you bring names a domain you own,
 * so customDomain must be set (the listener and routes answer only that name), and the ACME keys, which
 * would then do nothing, must not be.
 */
function keyVaultCertificateOf(r: Reader, customDomain: string | undefined): KeyVaultCertificate | undefined {
  const keyVaultId = optional(r, "tlsKeyVaultId");
  const certificateName = optional(r, "tlsCertificateName");
  if (keyVaultId === undefined && certificateName === undefined) return undefined;
  const fixBoth =
    'pulumi config set tlsKeyVaultId "$(az keyvault show -n <vault> --query id -o tsv)" and pulumi config set tlsCertificateName <certificate>, or pulumi config rm both for a Let\'s Encrypt certificate';
  if (keyVaultId === undefined || certificateName === undefined) {
    const [set, missing] =
      keyVaultId === undefined
        ? ["tlsCertificateName", "tlsKeyVaultId"]
        : ["tlsKeyVaultId", "tlsCertificateName"];
    r.problem(
      set as "tlsKeyVaultId" | "tlsCertificateName",
      keyVaultId ?? certificateName,
      `is set without ${missing}: a Key Vault certificate needs both the vault and the certificate's name`,
      fixBoth,
    );
    return undefined;
  }
  let problem = false;
  const vaultName = KEY_VAULT_ID.exec(keyVaultId)?.[1];
  if (vaultName === undefined) {
    problem = true;
    r.problem(
      "tlsKeyVaultId",
      keyVaultId,
      "is not a Key Vault resource id (/subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.KeyVault/vaults/<name>); a vault URI or a secret id is not one",
      'pulumi config set tlsKeyVaultId "$(az keyvault show -n <vault> --query id -o tsv)"',
    );
  }
  if (!KEY_VAULT_OBJECT.test(certificateName)) {
    problem = true;
    r.problem(
      "tlsCertificateName",
      certificateName,
      "is not a Key Vault certificate name (1-127 letters, digits and '-'; the name only, not its URI or version)",
      "pulumi config set tlsCertificateName <name from az keyvault certificate list --vault-name <vault> --query [].name>",
    );
  }
  if (customDomain === undefined) {
    problem = true;
    r.problem(
      "tlsCertificateName",
      certificateName,
      "brings your own certificate, but customDomain is not set: the HTTPS listener answers only one name, and a certificate from your own CA names your own domain",
      "pulumi config set customDomain <the name on the certificate>, then CNAME it to the azureHostname output",
    );
  }
  for (const key of ["acmeEmail", "acmeStaging"] as const) {
    const value = r.rawValue(key);
    if (value !== undefined) {
      problem = true;
      r.problem(
        key,
        value,
        "configures Let's Encrypt, which is not used when tlsKeyVaultId and tlsCertificateName bring your own certificate",
        `pulumi config rm ${key}`,
      );
    }
  }
  return problem || vaultName === undefined ? undefined : { keyVaultId, vaultName, certificateName };
}
