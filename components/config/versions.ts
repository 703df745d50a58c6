/**
 * Section: a second model version beside the current one (issue 23), as Azure ML's endpoint traffic split
 * (SDK v1 `AksEndpoint.create_version(..., traffic_percentile=...)`, v2 online endpoint traffic). The
 * current version is modelVersion/modelFile; the candidate runs its own Deployment of candidateReplicas
 * pods reading its own registered version, and gets candidateTrafficPercent of the requests (the rest go
 * to the current version), and optionally a mirrored copy of every request (answers discarded).
 * Promotion and rollback are config changes (docs/auth-versions.md); without candidateModelVersion the
 * stack is the one-version stack it was.
 */
import type { GpuPoolSettings } from "./gpuPool";
import type { ModelSettings } from "./model";
import type { Reader } from "./reader";
import type { ReplicaSettings } from "./replicas";

export interface CandidateSettings {
  readonly version: string;
  /** Relative to the project directory. */
  readonly file: string;
  /** Percent of requests routed to the candidate (0-100); the current version gets the rest. */
  readonly trafficPercent: number;
  readonly replicas: number;
  /** A copy of every request also goes to the candidate, whose answers are discarded. */
  readonly mirror: boolean;
}

export interface VersionSettings {
  /** Undefined: one version, as before. */
  readonly candidate?: CandidateSettings;
}

const CANDIDATE_ONLY = [
  "candidateModelFile",
  "candidateTrafficPercent",
  "candidateReplicas",
  "mirrorToCandidate",
] as const;

export function versionsSection(
  r: Reader,
  model: ModelSettings,
  pool: GpuPoolSettings,
  pods: ReplicaSettings,
  fileExists: (file: string) => boolean,
): VersionSettings {
  const version = r.string("candidateModelVersion");
  if (version === "") {
    for (const key of CANDIDATE_ONLY) {
      const value = r.nonDefault(key);
      if (value !== undefined) {
        r.problem(
          key,
          value,
          "configures a candidate model version, but candidateModelVersion is not set",
          `pulumi config set candidateModelVersion <version>, or pulumi config rm ${key}`,
        );
      }
    }
    return {};
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,29}$/.test(version)) {
    r.problem(
      "candidateModelVersion",
      version,
      "is not a valid Azure ML asset version",
      "pulumi config set candidateModelVersion 2",
    );
  } else if (version === model.version) {
    r.problem(
      "candidateModelVersion",
      version,
      "is the current modelVersion: a candidate must be another registered version",
      "pulumi config set candidateModelVersion <the new version>, or pulumi config rm candidateModelVersion",
    );
  }
  const file = r.string("candidateModelFile") || model.file;
  if (!/^(?!\/)(?!.*\.\.)[A-Za-z0-9_./-]+$/.test(file) || !fileExists(file)) {
    r.problem(
      "candidateModelFile",
      file,
      "is not an existing file inside the project, so the candidate version cannot be registered",
      "pulumi config set candidateModelFile app/model/<candidate>.npz",
    );
  }
  const trafficPercent = r.number(
    "candidateTrafficPercent",
    true,
    0,
    100,
    "pulumi config set candidateTrafficPercent 10 (the current version gets the other 90)",
  );
  const replicas = r.number("candidateReplicas", true, 1, 100, "pulumi config set candidateReplicas 2");
  const mirror = r.boolean("mirrorToCandidate");
  if (Number.isFinite(replicas) && Number.isFinite(pool.nodeCount) && Number.isFinite(pods.count)) {
    const gpus = pool.nodeCount * pool.gpusPerNode;
    const needed = (pods.count + replicas) * pods.gpus;
    if (needed > gpus) {
      r.problem(
        "candidateReplicas",
        replicas,
        `the candidate's ${replicas} pod(s) and the current version's ${pods.count} need ${needed} GPUs together, ` +
          `but the pool has ${gpus}; the candidate's pods would stay Pending and get no traffic`,
        `pulumi config set gpuNodeCount ${Math.ceil(needed / pool.gpusPerNode)}, or fewer replicas/candidateReplicas`,
      );
    }
  }
  return { candidate: { version, file, trafficPercent, replicas, mirror } };
}
