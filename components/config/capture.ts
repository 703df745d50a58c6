/**
 * Section: model data collection (issue 23), Azure ML's `collect_model_data`: a sampled share of scored
 * requests' inputs and outputs written by the pods, with their workload identity, to a container of the
 * workspace's storage (app/scoring/core/capture.py; format in docs/auth-versions.md). Off by default; when on, a
 * lifecycle rule deletes samples after captureRetentionDays, so collection never keeps data without end.
 */
import type { Reader } from "./reader";

export interface CaptureSettings {
  readonly enabled: boolean;
  /** Percent of scored requests sampled (1-100). */
  readonly samplePercent: number;
  /** One sample's cap in bytes (its inputs are left out above it). */
  readonly maxSampleBytes: number;
  /** Samples are deleted this many days after they were written. */
  readonly retentionDays: number;
}

const DETAIL = ["captureSamplePercent", "captureMaxSampleKiB", "captureRetentionDays"] as const;

export function captureSection(r: Reader): CaptureSettings {
  const enabled = r.boolean("collectModelData");
  if (!enabled) {
    for (const key of DETAIL) {
      const value = r.nonDefault(key);
      if (value !== undefined) {
        r.problem(
          key,
          value,
          "configures model data collection, which collectModelData leaves off",
          `pulumi config set collectModelData true, or pulumi config rm ${key}`,
        );
      }
    }
  }
  const samplePercent = r.number(
    "captureSamplePercent",
    true,
    1,
    100,
    "pulumi config set captureSamplePercent 10",
  );
  const maxKiB = r.number("captureMaxSampleKiB", true, 1, 4096, "pulumi config set captureMaxSampleKiB 256");
  // Azure Storage lifecycle management counts whole days from the blob's last modification.
  const retentionDays = r.number(
    "captureRetentionDays",
    true,
    1,
    3650,
    "pulumi config set captureRetentionDays 30",
  );
  return { enabled, samplePercent, maxSampleBytes: maxKiB * 1024, retentionDays };
}
