/**
 * Settings on the Azure data services the workspace depends on. Where an Azure default is safe today
 * but depends on the API version (which azure-native changes between minor releases), the rule asks
 * for the value to be stated explicitly so an upgrade cannot silently flip it.
 */
import { asBoolean, asString, at, type Props } from "../lib/props";

export function checkRegistry(name: string, props: Props): string[] {
  if (asBoolean(props.adminUserEnabled) !== true) return [];
  return [
    `Container registry "${name}" has its admin user enabled: a shared username and password with full ` +
      `push and pull rights that no identity owns. Set adminUserEnabled: false and grant AcrPull/AcrPush ` +
      `roles to the identities that need them.`,
  ];
}

const ACCEPTED_TLS = new Set(["TLS1_2", "TLS1_3"]);

export function checkStorageAccount(name: string, props: Props): string[] {
  const problems: string[] = [];
  if (asBoolean(props.enableHttpsTrafficOnly) === false) {
    problems.push(
      `Storage account "${name}" accepts plain HTTP (enableHttpsTrafficOnly: false). Set it to true.`,
    );
  }
  const tls = asString(props.minimumTlsVersion);
  if (tls === undefined || !ACCEPTED_TLS.has(tls)) {
    problems.push(
      `Storage account "${name}" allows TLS below 1.2 (minimumTlsVersion is ${tls ?? "unset, so the API default applies"}). ` +
        `Set minimumTlsVersion: "TLS1_2".`,
    );
  }
  if (asBoolean(props.allowBlobPublicAccess) !== false) {
    problems.push(
      `Storage account "${name}" does not forbid public blob access (allowBlobPublicAccess is ` +
        `${props.allowBlobPublicAccess === undefined ? "unset" : String(props.allowBlobPublicAccess)}), so a ` +
        `container can be opened to anonymous readers. Set allowBlobPublicAccess: false.`,
    );
  }
  return problems;
}

export function checkBlobContainer(name: string, props: Props): string[] {
  const access = asString(props.publicAccess);
  if (access === undefined || access === "None") return [];
  return [
    `Blob container "${name}" is readable anonymously (publicAccess: ${access}). Set publicAccess: "None".`,
  ];
}

export function checkKeyVault(name: string, props: Props): string[] {
  const problems: string[] = [];
  if (asBoolean(at(props, "properties", "enablePurgeProtection")) !== true) {
    problems.push(
      `Key vault "${name}" lacks purge protection, so a deleted vault and its keys can be purged before ` +
        `the retention period ends. Set properties.enablePurgeProtection: true (it cannot be turned off later).`,
    );
  }
  if (asBoolean(at(props, "properties", "enableRbacAuthorization")) !== true) {
    problems.push(
      `Key vault "${name}" uses access policies instead of Azure RBAC (properties.enableRbacAuthorization ` +
        `is not true; unset means false). Set it to true and grant Key Vault roles per identity.`,
    );
  }
  return problems;
}
