/**
 * RegistryPush: the right to push to the project's registry, made once and shared by every image the
 * program pushes. The deploying identity is granted AcrPush and pushes as itself with an ACR token
 * exchanged from its Entra ID access token (acrLogin.ts), so the registry's admin user stays off.
 */
import * as authorization from "@pulumi/azure-native/authorization";
import * as pulumi from "@pulumi/pulumi";
import { type RegistryLogin, registryLogin } from "./acrLogin";
import { builtInRoleId } from "./roles";

export interface RegistryPushArgs {
  readonly registryId: pulumi.Input<string>;
  readonly registryLoginServer: pulumi.Input<string>;
  /** The deploying identity (azure-native getClientConfig): it is granted AcrPush and pushes as itself. */
  readonly deployer: pulumi.Input<{ objectId: string; tenantId: string; subscriptionId: string }>;
  /** An Entra ID access token of the deploying identity (azure-native getClientToken). */
  readonly deployerAccessToken: pulumi.Input<string>;
}

export class RegistryPush extends pulumi.ComponentResource {
  readonly loginServer: pulumi.Output<string>;
  /** Docker credentials for the registry, secret; one token exchange serves every push of a run. */
  readonly login: pulumi.Output<RegistryLogin>;
  /** A push needs this grant, which no input of the image carries: images depend on it explicitly. */
  readonly grant: authorization.RoleAssignment;

  constructor(name: string, args: RegistryPushArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpu-inference-aks:image:RegistryPush", name, {}, opts);
    const deployer = pulumi.output(args.deployer);
    this.loginServer = pulumi.output(args.registryLoginServer);
    this.grant = new authorization.RoleAssignment(
      `${name}-acrpush`,
      {
        scope: args.registryId,
        principalId: deployer.objectId,
        roleDefinitionId: builtInRoleId(deployer.subscriptionId, "AcrPush"),
      },
      { parent: this },
    );
    this.login = registryLogin(this.loginServer, deployer.tenantId, args.deployerAccessToken);
    this.registerOutputs({ loginServer: this.loginServer });
  }
}
