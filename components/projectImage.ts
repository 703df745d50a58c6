/**
 * ProjectImage: an image built with @pulumi/docker-build (BuildKit), pushed to the project's registry and
 * exposed by digest, so what runs is exactly what was pushed and a new push always rolls its workloads.
 * Used for the scoring image (built from app/), the only image built where `pulumi up` runs; upstream
 * images are imported by the registry itself (mirroredImage.ts).
 *
 * It depends on the registry only (through RegistryPush), never on the cluster, so builds and pushes run
 * while AKS is still provisioning. `buildOnPreview: false` is spelled out: docker-build builds during
 * previews by default, and a preview (every pull request) must not build gigabytes; the digest is
 * unknown at preview and known after `pulumi up`.
 *
 * Why docker-build rather than @pulumi/docker's Image (which its own docs now point away from): the
 * build cache lives in the registry (`<repository>:buildcache`, mode max), so a machine that has never
 * built the image (a CI runner, a colleague's laptop) reuses the layer that installs torch and its CUDA
 * wheels (gigabytes) instead of rebuilding it; that layer is not byte-reproducible, so a rebuild would
 * also push it again. Where Docker's default builder uses the `docker` driver, which cannot export a
 * cache, the provider creates and uses a BuildKit `docker-container` builder itself (provider/internal/
 * host.go), so a Docker engine is still all a machine needs. It is pre-1.0 (0.0.22, August 2026), pinned
 * exactly.
 *
 * The registry password is a fresh ACR token on every run, yet that does not rebuild or re-push: the
 * Image resource's Diff ignores password changes on its registries (provider/internal/image.go,
 * pulumi/pulumi-docker-build at v0.0.22).
 */
import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import type { RegistryPush } from "./registryPush";

export interface ProjectImageBuild {
  /** Build context directory and Dockerfile, relative to the project. */
  readonly context: string;
  readonly dockerfile: string;
  readonly args?: Readonly<Record<string, string>>;
}

export interface ProjectImageArgs {
  readonly push: RegistryPush;
  /** Repository path inside the registry, e.g. "scoring". */
  readonly repository: string;
  readonly tag: string;
  readonly build: ProjectImageBuild;
}

/** The tag the build cache is kept under, in the image's own repository (the push login covers it). */
export const BUILD_CACHE_TAG = "buildcache";

export class ProjectImage extends pulumi.ComponentResource {
  /** `<login server>/<repository>@sha256:<digest>`: what workloads run. */
  readonly imageRef: pulumi.Output<string>;

  constructor(name: string, args: ProjectImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpu-inference-aks:image:ProjectImage", name, {}, opts);
    const { push, build } = args;
    const repository = pulumi.interpolate`${push.loginServer}/${args.repository}`;
    const cache = pulumi.interpolate`${repository}:${BUILD_CACHE_TAG}`;
    const image = new dockerBuild.Image(
      `${name}-build`,
      {
        tags: [pulumi.interpolate`${repository}:${args.tag}`],
        push: true,
        context: { location: build.context },
        dockerfile: { location: build.dockerfile },
        buildArgs: build.args === undefined ? undefined : { ...build.args },
        // AKS nodes are x86-64; a build on an ARM laptop must still produce what they can run.
        platforms: ["linux/amd64"],
        buildOnPreview: false,
        cacheFrom: [{ registry: { ref: cache } }],
        // mode max keeps every stage's layers; ACR takes the cache as an OCI image manifest.
        cacheTo: [{ registry: { ref: cache, mode: "max", imageManifest: true, ociMediaTypes: true } }],
        registries: [
          {
            address: push.loginServer,
            username: push.login.apply((login) => login.username),
            password: pulumi.secret(push.login.apply((login) => login.password)),
          },
        ],
      },
      // The login resolves only after the AcrPush grant exists and ACR honours it.
      { parent: this },
    );
    this.imageRef = pulumi.interpolate`${repository}@${image.digest}`;
    this.registerOutputs({ imageRef: this.imageRef });
  }
}
