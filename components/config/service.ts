/** Section: the scoring service's namespace and how its pods stop (preStop pause, drain). */
import type { Reader } from "./reader";

export interface ServiceSettings {
  readonly namespace: string;
  readonly preStopSeconds: number;
  readonly drainSeconds: number;
}

export function serviceSection(r: Reader): ServiceSettings {
  const namespace = r.matching(
    "namespace",
    /^(?!kube-)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
    "must be a DNS label (lowercase letters, digits and '-', at most 63) and not a kube- system namespace",
    "pulumi config set namespace scoring",
  );
  return {
    namespace,
    preStopSeconds: r.number("preStopSeconds", true, 0, 300, "pulumi config set preStopSeconds 10"),
    drainSeconds: r.number("drainSeconds", true, 1, 600, "pulumi config set drainSeconds 20"),
  };
}
