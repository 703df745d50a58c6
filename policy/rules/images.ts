/**
 * Every container image must come from the project's own registry and be pinned by digest, so what
 * was reviewed and scanned is byte for byte what runs, and a pull never depends on a third party.
 * A stack rule: the registry's login server is a property of another resource.
 */
import { asString } from "../lib/props";
import type { StackFinding, StackResource } from "../lib/stackResource";
import { containersOf, workloadOf } from "../lib/workloads";

export interface ImageConfig {
  /** Exact image references (each pinned by digest) that may come from outside the project registry. */
  readonly allowedExternalImages: readonly string[];
}

const DIGEST_REF = /^(?<host>[^/]+)\/(?<repository>[^@:]+(?::[^@]+)?)@sha256:[0-9a-f]{64}$/;

/** Login servers of the stack's registries; `<name>.azurecr.io` when Azure has not reported one yet. */
export function registryHosts(resources: readonly StackResource[]): string[] {
  return resources
    .filter((r) => r.type === "azure-native:containerregistry:Registry")
    .flatMap((r) => {
      const loginServer = asString(r.props.loginServer);
      if (loginServer !== undefined && loginServer !== "") return [loginServer.toLowerCase()];
      const name = asString(r.props.registryName);
      return name === undefined ? [] : [`${name.toLowerCase()}.azurecr.io`];
    });
}

export function checkImages(resources: readonly StackResource[], config: ImageConfig): StackFinding[] {
  const hosts = registryHosts(resources);
  const findings: StackFinding[] = [];
  for (const resource of resources) {
    const workload = workloadOf(resource.type, resource.name, resource.props);
    if (workload === undefined) continue;
    for (const container of containersOf(workload.podSpec)) {
      const image = asString(container.spec.image);
      if (image === undefined || config.allowedExternalImages.includes(image)) continue;
      const where = `${workload.label}: container "${container.name}" image "${image}"`;
      const match = DIGEST_REF.exec(image);
      if (match === null) {
        findings.push({
          urn: resource.urn,
          message:
            `${where} is not pinned by digest, so the bits that run can change without a review. ` +
            `Reference it as <registry>/<repository>@sha256:<digest>.`,
        });
        continue;
      }
      const host = (match.groups?.host ?? "").toLowerCase();
      if (!hosts.includes(host)) {
        findings.push({
          urn: resource.urn,
          message:
            `${where} is pulled from ${host}, not from the project's registry ` +
            `(${hosts.length > 0 ? hosts.join(", ") : "none declared in this stack"}). Import it ` +
            `(az acr import) and reference the copy by digest, or list the exact reference in this ` +
            `policy's allowedExternalImages.`,
        });
      }
    }
  }
  return findings;
}
