/** Section: where and under which names the stack's Azure resources live. */
import type { Reader } from "./reader";

export interface RegionSettings {
  readonly location: string;
  readonly namePrefix: string;
}

export function regionSection(r: Reader): RegionSettings {
  const location = r.matching(
    "location",
    /^[a-z][a-z0-9]{2,}$/,
    "is not an Azure region name (lowercase letters and digits, no spaces)",
    'use the programmatic name, e.g. "westeurope" rather than "West Europe" (az account list-locations -o table)',
  );
  const namePrefix = r.matching(
    "namePrefix",
    /^[a-z][a-z0-9]{2,9}$/,
    "must be 3-10 lowercase letters or digits starting with a letter (storage and registry names allow nothing else)",
    "pulumi config set namePrefix gpuinf",
  );
  return { location, namePrefix };
}
