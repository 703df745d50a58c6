/** Section: where and under which names the stack's Azure resources live. */
import type { Reader } from "./reader";

export interface RegionSettings {
  readonly location: string;
  readonly namePrefix: string;
}

/**
 * `providerLocation` is the stack's `azure-native:location`, if it sets one. Every resource here names
 * its location, so that setting would be silently ignored: it is honoured when `location` is not set,
 * and refused when the two differ.
 */
export function regionSection(r: Reader, providerLocation?: string): RegionSettings {
  const ownLocation = r.rawValue("location");
  if (providerLocation !== undefined && ownLocation !== undefined && providerLocation !== ownLocation) {
    r.problem(
      "location",
      ownLocation,
      `differs from this stack's azure-native:location (${JSON.stringify(providerLocation)}), which this ` +
        "program would ignore: every resource is created in location (the stack's value, or Pulumi.yaml's " +
        "default when the stack sets none, since Pulumi passes project defaults to the program)",
      `set one region: pulumi config rm azure-native:location, or pulumi config set location ${providerLocation}`,
    );
  }
  const location = ownLocation ?? providerLocation ?? r.string("location");
  if (!/^[a-z][a-z0-9]{2,}$/.test(location)) {
    r.problem(
      "location",
      location,
      "is not an Azure region name (lowercase letters and digits, no spaces)",
      'use the programmatic name, e.g. "westeurope" rather than "West Europe" (az account list-locations -o table)',
    );
  }
  const namePrefix = r.matching(
    "namePrefix",
    /^[a-z][a-z0-9]{2,9}$/,
    "must be 3-10 lowercase letters or digits starting with a letter (storage and registry names allow nothing else)",
    "pulumi config set namePrefix gpuinf",
  );
  return { location, namePrefix };
}
