/**
 * ProjectImage: an image built with @pulumi/docker, pushed to the project's registry and exposed by
 * digest, so what runs is exactly what was pushed and a new push always rolls its workloads. Used for
 * the scoring image (built from app/), the only image built where `pulumi up` runs; upstream images are
 * imported by the registry itself (mirroredImage.ts).
 *
 * It depends on the registry only (through RegistryPush), never on the cluster, so builds and pushes run
 * while AKS is still provisioning. `buildOnPreview: false` is spelled out: @pulumi/docker 5.x does not
 * build during `pulumi preview` unless asked, and a preview (every pull request) must not build gigabytes;
 * the digest is unknown at preview and known after `pulumi up`.
 *
 * The registry password is a fresh ACR token on every run, yet that does not rebuild or re-push: the
 * Image resource's Diff ignores changes to registry username and password (pulumi/pulumi-docker#498).
 */
import * as docker from "@pulumi/docker";
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
  /** Repository path inside the registry, e.g. "scoring" or "nvidia/k8s-device-plugin". */
  readonly repository: string;
  readonly tag: string;
  readonly build: ProjectImageBuild;
}

export class ProjectImage extends pulumi.ComponentResource {
  /** `<login server>/<repository>@sha256:<digest>`: what workloads run. */
  readonly imageRef: pulumi.Output<string>;

  constructor(name: string, args: ProjectImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpu-inference-aks:image:ProjectImage", name, {}, opts);
    const { push, build } = args;
    const image = new docker.Image(
      `${name}-build`,
      {
        imageName: pulumi.interpolate`${push.loginServer}/${args.repository}:${args.tag}`,
        build: {
          context: build.context,
          dockerfile: build.dockerfile,
          args: build.args === undefined ? undefined : { ...build.args },
          // AKS nodes are x86-64; a build on an ARM laptop must still produce what they can run.
          platform: "linux/amd64",
        },
        buildOnPreview: false,
        registry: push.login,
      },
      // The login in `registry` resolves only after the AcrPush grant exists and ACR honours it.
      { parent: this },
    );
    this.imageRef = image.repoDigest;
    this.registerOutputs({ imageRef: this.imageRef });
  }
}
