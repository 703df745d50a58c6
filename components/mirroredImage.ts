/**
 * MirroredImage: an upstream image, pinned by tag and digest, copied into the project's registry by the
 * registry itself (`az acr import`), so every image the cluster pulls comes from the project's registry
 * (policy: images-from-project-registry-by-digest) while the deployer's machine needs no Docker engine
 * and no image byte passes through it. Only the scoring image is still built where Docker runs
 * (ProjectImage).
 *
 * Why `az acr import` through @pulumi/command: azure-native has no resource for ACR's importImage action
 * (3.28.0: containerregistry has CacheRule, ImportPipeline (storage-account transfer) and Task, no import).
 * ACR's artifact cache rules (containerregistry.CacheRule) would copy on first pull instead, but a rule
 * whose source is Docker Hub is refused without a credential set ("EnforceDockerAuthentication: Cannot
 * create cache rule pointing to Docker Hub without credentials", seen in hashicorp/terraform-provider-
 * azurerm#27983, November 2024), which would make every user bring a Docker Hub account and a Key Vault
 * for the two Envoy images; import needs neither. The Azure CLI is already required where `pulumi up`
 * runs (scripts/up.sh; the pulumi-setup action signs it in), as the identity that deploys.
 *
 * ACR's importImage API takes the source by digest (ImportSource.sourceImage `repo@sha256:…`) and, with
 * mode Force (`--force`), moves an existing target tag instead of failing (REST reference, checked
 * December 2026). The import copies the upstream manifest (a multi-architecture index stays an index)
 * under its own digest, so the reference workloads run, `<login server>/<repository>@<pinned digest>`, is known before
 * the import runs: a preview shows it and the policy pack checks it at preview too. It still depends on
 * the import (through the command's URN), so nothing pulls it before it is there. A new pin (tag or
 * digest) replaces the command, which imports again; `--force` moves the tag.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

/** `<registry host>/<repository>:<tag>@sha256:<64 hex>`: the only form a mirror source may take. */
const PINNED =
  /^(?<host>[a-z0-9.-]+\.[a-z]{2,}(?::\d+)?)\/(?<repository>[a-z0-9._/-]+):(?<tag>[\w.-]+)@(?<digest>sha256:[0-9a-f]{64})$/;

export interface MirrorSpec {
  /** The upstream reference as pinned (tag and digest). */
  readonly upstream: string;
  /** What `az acr import --source` copies: the upstream repository at the pinned digest. */
  readonly source: string;
  /** Repository path in the project's registry: the upstream path without its host (the policy pack's
   * container-hardening exception names `nvidia/k8s-device-plugin` this way). */
  readonly repository: string;
  readonly tag: string;
  readonly digest: string;
}

/**
 * Parses a pinned upstream reference. A tag alone could be re-pointed upstream and the mirror would
 * then hold other bits than were reviewed, so a reference without a digest is refused.
 */
export function mirrorSpec(upstream: string): MirrorSpec {
  const groups = PINNED.exec(upstream)?.groups;
  if (groups === undefined) {
    throw new Error(
      `mirror: ${JSON.stringify(upstream)} is not pinned by tag and digest; ` +
        "write it as <registry>/<repository>:<tag>@sha256:<64 hex digits>.",
    );
  }
  return {
    upstream,
    source: `${groups.host}/${groups.repository}@${groups.digest}`,
    repository: groups.repository,
    tag: groups.tag,
    digest: groups.digest,
  };
}

/**
 * The import, as a fixed script: every value comes from the environment, so no reference or name is
 * ever parsed by the shell. `az acr import` runs server-side in ACR (the CLI only starts it and waits).
 */
export const IMPORT_SCRIPT =
  'az acr import --name "$REGISTRY_NAME" --resource-group "$RESOURCE_GROUP" --source "$SOURCE" --image "$TARGET" --force --only-show-errors';

export interface ImportCommandSpec {
  readonly create: string;
  readonly environment: Record<string, pulumi.Input<string>>;
  /** A change to any of these replaces the command, which imports again. */
  readonly triggers: pulumi.Input<string>[];
}

export function importCommandSpec(
  spec: MirrorSpec,
  registryName: pulumi.Input<string>,
  resourceGroupName: pulumi.Input<string>,
): ImportCommandSpec {
  const target = `${spec.repository}:${spec.tag}`;
  return {
    create: IMPORT_SCRIPT,
    environment: {
      REGISTRY_NAME: registryName,
      RESOURCE_GROUP: resourceGroupName,
      SOURCE: spec.source,
      TARGET: target,
    },
    triggers: [spec.source, target, registryName],
  };
}

export interface MirroredImageArgs {
  /** The upstream reference, pinned by tag and digest (e.g. DEVICE_PLUGIN_UPSTREAM). */
  readonly upstream: string;
  readonly registryName: pulumi.Input<string>;
  readonly resourceGroupName: pulumi.Input<string>;
  readonly registryLoginServer: pulumi.Input<string>;
}

export class MirroredImage extends pulumi.ComponentResource {
  /** `<login server>/<repository>@sha256:<digest>`: what workloads run; known at preview. */
  readonly imageRef: pulumi.Output<string>;
  readonly spec: MirrorSpec;

  constructor(name: string, args: MirroredImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpu-inference-aks:image:MirroredImage", name, {}, opts);
    this.spec = mirrorSpec(args.upstream);
    const { create, environment, triggers } = importCommandSpec(
      this.spec,
      args.registryName,
      args.resourceGroupName,
    );
    const imported = new command.local.Command(
      `${name}-import`,
      // No delete: the images go with the registry; a replaced pin re-imports under the same tag.
      { create, environment, triggers, logging: "stderr" },
      { parent: this },
    );
    const { repository, digest } = this.spec;
    // From the command's URN: known at preview, yet every consumer waits for the import.
    this.imageRef = pulumi
      .all([args.registryLoginServer, imported.urn])
      .apply(([loginServer]) => `${loginServer}/${repository}@${digest}`);
    this.registerOutputs({ imageRef: this.imageRef });
  }
}
