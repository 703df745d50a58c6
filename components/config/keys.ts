/** Section: the two scoring keys' versions (bump one to rotate that key). */
import type { Reader } from "./reader";

export interface KeySettings {
  readonly primaryVersion: number;
  readonly secondaryVersion: number;
}

export function keysSection(r: Reader): KeySettings {
  const version = (key: "primaryKeyVersion" | "secondaryKeyVersion"): number =>
    r.number(key, true, 1, Number.MAX_SAFE_INTEGER, "increase it by one");
  return { primaryVersion: version("primaryKeyVersion"), secondaryVersion: version("secondaryKeyVersion") };
}
