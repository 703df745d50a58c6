/**
 * ScoringImage: the CUDA scoring image built from app/ (app/Dockerfile) and pushed to the workspace's
 * registry, exposed by digest so a rebuilt image always rolls the Deployment.
 *
 * It depends on the registry only, never on the cluster, so the multi-GB build and push run while AKS
 * is still provisioning. `buildOnPreview: false` is spelled out: @pulumi/docker 5.x does not build
 * during `pulumi preview` unless asked, and a preview (every pull request) must not build gigabytes.
 */
import * as authorization from "@pulumi/azure-native/authorization";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { registryLogin } from "./acrLogin";
import { builtInRoleId } from "./roles";

export interface ScoringImageArgs {
  readonly registryId: pulumi.Input<string>;
  readonly registryLoginServer: pulumi.Input<string>;
  /** The deploying identity (azure-native getClientConfig): it is granted AcrPush and pushes as itself. */
  readonly deployer: pulumi.Input<{ objectId: string; tenantId: string; subscriptionId: string }>;
  /** An Entra ID access token of the deploying identity (azure-native getClientToken). */
  readonly deployerAccessToken: pulumi.Input<string>;
  /** Build context directory and Dockerfile, relative to the project. */
  readonly context: string;
  readonly dockerfile: string;
  readonly repository: string;
  readonly tag: string;
}

export class ScoringImage extends pulumi.ComponentResource {
  /** `<login server>/<repository>@sha256:<digest>`: what the Deployment runs. */
  readonly imageRef: pulumi.Output<string>;

  constructor(name: string, args: ScoringImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpu-inference-aks:image:ScoringImage", name, {}, opts);
    const deployer = pulumi.output(args.deployer);

    const canPush = new authorization.RoleAssignment(
      `${name}-acrpush`,
      {
        scope: args.registryId,
        principalId: deployer.objectId,
        roleDefinitionId: builtInRoleId(deployer.subscriptionId, "AcrPush"),
      },
      { parent: this },
    );

    const image = new docker.Image(
      name,
      {
        imageName: pulumi.interpolate`${args.registryLoginServer}/${args.repository}:${args.tag}`,
        build: { context: args.context, dockerfile: args.dockerfile, platform: "linux/amd64" },
        buildOnPreview: false,
        registry: registryLogin(args.registryLoginServer, deployer.tenantId, args.deployerAccessToken),
      },
      // The push needs the AcrPush grant, which no input of the image carries: an ordering-only edge.
      { parent: this, dependsOn: [canPush] },
    );

    this.imageRef = image.repoDigest;
    this.registerOutputs({ imageRef: this.imageRef });
  }
}
