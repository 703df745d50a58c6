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
}

const IPV4_CIDR = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DNS_LABEL = /^[a-z][a-z0-9-]{1,61}[a-z0-9]$/;
const DOMAIN = /^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

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
  key: "clusterAdminGroupObjectId" | "dnsLabel" | "customDomain" | "acmeEmail",
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
  return {
    allowedSourceRanges,
    apiServerAuthorizedIpRanges: cidrList(r, "apiServerAuthorizedIpRanges"),
    clusterAdminGroupObjectId,
    dnsLabel,
    customDomain,
    acmeEmail,
    acmeStaging: r.boolean("acmeStaging"),
    publicSwagger: r.boolean("publicSwagger"),
  };
}
