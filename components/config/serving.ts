/**
 * Section: how each scoring pod serves (issue 22): the seed's replica_max_concurrent_requests,
 * max_request_wait_time and scoring_timeout_ms, which the app enforces (app env MAX_CONCURRENT_REQUESTS,
 * MAX_REQUEST_WAIT_TIME_MS, SCORING_TIMEOUT_MS), its probe settings (period_seconds,
 * initial_delay_seconds, timeout_seconds, success_threshold, failure_threshold, for the liveness and the
 * readiness probe each), and CPU and memory limits apart from the requests where a user asks for them.
 */
import type { Reader } from "./reader";
import type { ReplicaSettings } from "./replicas";

export interface ProbeSettings {
  readonly periodSeconds: number;
  readonly initialDelaySeconds: number;
  readonly timeoutSeconds: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

export interface ServingSettings {
  /** Requests one pod scores at once; more wait, up to maxRequestWaitTimeMs. */
  readonly maxConcurrentRequests: number;
  readonly maxRequestWaitTimeMs: number;
  readonly scoringTimeoutMs: number;
  readonly liveness: ProbeSettings;
  readonly readiness: ProbeSettings;
  /** Limits; equal to the requests unless the stack sets a larger one (then Burstable QoS). */
  readonly cpuLimit: number;
  readonly memoryLimitGiB: number;
}

export function servingSection(r: Reader): ServingSettings {
  const probe = (kind: "liveness" | "readiness"): ProbeSettings => {
    const key = <S extends string>(suffix: S): `${typeof kind}${S}` => `${kind}${suffix}`;
    return {
      periodSeconds: r.number(
        key("PeriodSeconds"),
        true,
        1,
        3600,
        `pulumi config set ${key("PeriodSeconds")} 10`,
      ),
      initialDelaySeconds: r.number(
        key("InitialDelaySeconds"),
        true,
        0,
        3600,
        `pulumi config set ${key("InitialDelaySeconds")} 10`,
      ),
      timeoutSeconds: r.number(
        key("TimeoutSeconds"),
        true,
        1,
        3600,
        `pulumi config set ${key("TimeoutSeconds")} 2`,
      ),
      // Kubernetes refuses a liveness probe whose successThreshold is not 1, so only readiness has the key.
      successThreshold:
        kind === "readiness"
          ? r.number(
              "readinessSuccessThreshold",
              true,
              1,
              100,
              "pulumi config set readinessSuccessThreshold 1",
            )
          : 1,
      failureThreshold: r.number(
        key("FailureThreshold"),
        true,
        1,
        100,
        `pulumi config set ${key("FailureThreshold")} 3`,
      ),
    };
  };
  return {
    maxConcurrentRequests: r.number(
      "replicaMaxConcurrentRequests",
      true,
      1,
      100000,
      "pulumi config set replicaMaxConcurrentRequests 32",
    ),
    maxRequestWaitTimeMs: r.number(
      "maxRequestWaitTimeMs",
      true,
      0,
      3600000,
      "pulumi config set maxRequestWaitTimeMs 500 (0 refuses at once when every slot is busy)",
    ),
    scoringTimeoutMs: r.number(
      "scoringTimeoutMs",
      true,
      1,
      3600000,
      "pulumi config set scoringTimeoutMs 60000",
    ),
    liveness: probe("liveness"),
    readiness: probe("readiness"),
    cpuLimit: r.number(
      "replicaCpuLimit",
      false,
      0,
      1024,
      "pulumi config set replicaCpuLimit 0 (0: the limit equals replicaCpu)",
    ),
    memoryLimitGiB: r.number(
      "replicaMemoryLimitGiB",
      false,
      0,
      4096,
      "pulumi config set replicaMemoryLimitGiB 0 (0: the limit equals replicaMemoryGiB)",
    ),
  };
}

/**
 * Limits below the requests are refused by Kubernetes at apply time, minutes into an `up`: say so now.
 */
export function servingChecks(r: Reader, serving: ServingSettings, pods: ReplicaSettings): void {
  if (serving.cpuLimit > 0 && Number.isFinite(pods.cpu) && serving.cpuLimit < pods.cpu) {
    r.problem(
      "replicaCpuLimit",
      serving.cpuLimit,
      `is below replicaCpu (${pods.cpu}); Kubernetes refuses a limit below the request`,
      `pulumi config set replicaCpuLimit ${pods.cpu}, or 0 for a limit equal to the request`,
    );
  }
  if (
    serving.memoryLimitGiB > 0 &&
    Number.isFinite(pods.memoryGiB) &&
    serving.memoryLimitGiB < pods.memoryGiB
  ) {
    r.problem(
      "replicaMemoryLimitGiB",
      serving.memoryLimitGiB,
      `is below replicaMemoryGiB (${pods.memoryGiB}); Kubernetes refuses a limit below the request`,
      `pulumi config set replicaMemoryLimitGiB ${pods.memoryGiB}, or 0 for a limit equal to the request`,
    );
  }
  const timeoutS = serving.scoringTimeoutMs / 1000;
  if (Number.isFinite(timeoutS) && serving.maxRequestWaitTimeMs >= serving.scoringTimeoutMs) {
    r.problem(
      "maxRequestWaitTimeMs",
      serving.maxRequestWaitTimeMs,
      `is not below scoringTimeoutMs (${serving.scoringTimeoutMs}): a request could time out while still waiting for a slot`,
      `pulumi config set maxRequestWaitTimeMs ${Math.min(500, Math.floor(serving.scoringTimeoutMs / 2))}`,
    );
  }
}
