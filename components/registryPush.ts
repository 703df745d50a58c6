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
  /** An Entra ID token of the deploying identity for the registry audience (acrLogin.ts ACR_AUDIENCE). */
  readonly deployerRegistryToken: pulumi.Input<string>;
  /** Repositories the program pushes: the login waits until ACR grants push on each. */
  readonly repositories: readonly string[];
}

export class RegistryPush extends pulumi.ComponentResource {
  readonly loginServer: pulumi.Output<string>;
  /** Docker credentials for the registry, secret; one token exchange serves every push of a run. */
  readonly login: pulumi.Output<RegistryLogin>;
  /** The AcrPush grant; the login waits for it (and for ACR to honour it) before any push. */
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
    this.login = registryLogin({
      loginServer: this.loginServer,
      tenantId: deployer.tenantId,
      registryAudienceToken: args.deployerRegistryToken,
      repositories: args.repositories,
      grantId: this.grant.id,
    });
    this.registerOutputs({ loginServer: this.loginServer });
  }
}
