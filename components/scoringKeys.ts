/**
 * The two scoring keys (the seed's primary/secondary service keys), generated with @pulumi/random so
 * they live only in Pulumi state (encrypted) and the Kubernetes Secret.
 *
 * Rotation, one key at a time while the other keeps working: each key is kept by its own version
 * number, so changing that number replaces just that key, and the pods roll (their template carries
 * the versions) to pick it up. One command:
 *
 *     pulumi up -c primaryKeyVersion=2      # or secondaryKeyVersion=N; `-c` also saves it in the stack config
 *
 * Clients switch to the secondary key first, rotate the primary, move back, then rotate the secondary.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

export interface ScoringKeys {
  readonly primaryKey: pulumi.Output<string>;
  readonly secondaryKey: pulumi.Output<string>;
}

export function generateScoringKeys(
  name: string,
  primaryKeyVersion: number,
  secondaryKeyVersion: number,
  parent: pulumi.Resource,
): ScoringKeys {
  // 43 URL-safe characters carry about 256 bits; no specials, so keys paste safely into headers and shells.
  const keyArgs = { length: 43, special: false };
  const primary = new random.RandomPassword(
    `${name}-primary-key`,
    { ...keyArgs, keepers: { version: String(primaryKeyVersion) } },
    { parent },
  );
  const secondary = new random.RandomPassword(
    `${name}-secondary-key`,
    { ...keyArgs, keepers: { version: String(secondaryKeyVersion) } },
    { parent },
  );
  return { primaryKey: pulumi.secret(primary.result), secondaryKey: pulumi.secret(secondary.result) };
}
