/**
 * The model file's sha256 and size, computed from the local file when the program runs (preview
 * included). They are recorded on the registered model version and given to the scoring pods, which
 * refuse any download that differs: what the workspace registered is exactly what the replicas serve.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";

export interface ModelFileDigest {
  /** Lowercase hex sha256 of the file's bytes. */
  readonly sha256: string;
  readonly sizeBytes: number;
}

export function modelFileDigest(file: string): ModelFileDigest {
  // The config check has already refused a missing model file (components/config/model.ts).
  const bytes = fs.readFileSync(file);
  return { sha256: createHash("sha256").update(bytes).digest("hex"), sizeBytes: bytes.length };
}
