/** Section: monitoring (issue 14): who is told when an alert fires, the latency bound, the Grafana option. */
import type { Reader } from "./reader";

export interface MonitoringSettings {
  /** Notified by e-mail (an Azure Monitor action group) when an alert fires; undefined: portal only. */
  readonly alertEmail?: string;
  /** p99 latency of scoring requests (seconds) above which ScoringP99LatencyHigh fires. */
  readonly p99LatencySeconds: number;
  /** Whether to create an Azure Managed Grafana workspace (bills by the hour). */
  readonly managedGrafana: boolean;
}

const EMAIL = /^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$/;

export function monitoringSection(r: Reader): MonitoringSettings {
  const email = r.rawValue("alertEmail");
  if (email !== undefined && !EMAIL.test(email)) {
    r.problem(
      "alertEmail",
      email,
      "is not one e-mail address",
      "pulumi config set alertEmail oncall@example.com (or pulumi config rm alertEmail for no e-mail)",
    );
  }
  return {
    alertEmail: email,
    p99LatencySeconds: r.number(
      "alertP99LatencySeconds",
      false,
      0.001,
      60,
      "pulumi config set alertP99LatencySeconds 0.5",
    ),
    managedGrafana: r.boolean("managedGrafana"),
  };
}
