/**
 * ModelIdentity: who the scoring pods are when they fetch the registered model version from the
 * workspace storage. AKS workload identity, no key or SAS in the pod: a user-assigned managed identity,
 * a federated credential that lets exactly the scoring service account's tokens from this cluster's OIDC
 * issuer stand for it, and Storage Blob Data Reader on the models container only.
 *
 * Why the container is the scope: Azure RBAC scopes end at the blob container for data roles (a single
 * blob or path prefix cannot be a role assignment's scope); the container holds only registered model
 * files; the account also holds the workspace's own artifacts and job outputs, which the pods must not
 * read. Reader, not Contributor: the pods never write. azure-native 3.28.0 pins Microsoft.ManagedIdentity
 * API 2023-01-31 for both resources.
 *
 * Facts (checked 2026-12-01): the subject is `system:serviceaccount:<namespace>:<name>`, the audience
 * `api://AzureADTokenExchange`, the issuer the cluster's `oidcIssuerProfile.issuerURL`; the webhook injects
 * AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_FEDERATED_TOKEN_FILE into pods labelled
 * `azure.workload.identity/use: "true"` whose service account carries `azure.workload.identity/client-id`
 * (learn.microsoft.com/azure/aks/workload-identity-deploy-cluster). Storage Blob Data Reader's built-in id
 * is 2a2b9908-6ea1-4ae2-8e65-a410df84e7d1.
 */
import * as authorization from "@pulumi/azure-native/authorization";
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import * as pulumi from "@pulumi/pulumi";
import { builtInRoleId } from "./roles";

/** The audience Entra ID expects on a Kubernetes token exchanged for a managed identity's token. */
export const WORKLOAD_IDENTITY_AUDIENCE = "api://AzureADTokenExchange";

/** The subject a service account's projected token carries (and the federated credential must name). */
export function serviceAccountSubject(namespace: string, serviceAccount: string): string {
  return `system:serviceaccount:${namespace}:${serviceAccount}`;
}

export interface ModelIdentityArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: string;
  readonly subscriptionId: pulumi.Input<string>;
  /** The cluster's OIDC issuer URL (oidcIssuerProfile.issuerURL). */
  readonly oidcIssuerUrl: pulumi.Input<string>;
  /** The scoring pods' namespace and service account: the only workload this identity trusts. */
  readonly namespace: string;
  readonly serviceAccountName: string;
  /** Resource id of the blob container holding the registered model files: the role's scope. */
  readonly modelsContainerId: pulumi.Input<string>;
  /**
   * Model data collection on (issue 23): the capture container, on which the identity may write (Storage
   * Blob Data Contributor, the narrowest built-in data role that creates blobs; scoped to that container, so
   * the pods can neither read the models container's neighbours nor write the model files).
   */
  readonly captureContainerId?: pulumi.Input<string>;
  /** The config's tags, on the identity. */
  readonly tags?: Readonly<Record<string, string>>;
}

export class ModelIdentity extends pulumi.ComponentResource {
  /** The identity's client id: the service account's azure.workload.identity/client-id annotation. */
  readonly clientId: pulumi.Output<string>;
  readonly principalId: pulumi.Output<string>;
  /** The federation and the read grant: the pods start after them, so a first fetch rarely waits. */
  readonly grants: pulumi.Resource[];

  constructor(name: string, args: ModelIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpu-inference-aks:model:ModelIdentity", name, {}, opts);
    const parent = { parent: this };

    const identity = new managedidentity.UserAssignedIdentity(
      `${name}-identity`,
      {
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        ...(args.tags === undefined || Object.keys(args.tags).length === 0 ? {} : { tags: { ...args.tags } }),
      },
      parent,
    );

    const federation = new managedidentity.FederatedIdentityCredential(
      `${name}-federation`,
      {
        resourceGroupName: args.resourceGroupName,
        resourceName: identity.name,
        issuer: args.oidcIssuerUrl,
        subject: serviceAccountSubject(args.namespace, args.serviceAccountName),
        audiences: [WORKLOAD_IDENTITY_AUDIENCE],
      },
      parent,
    );

    const reader = new authorization.RoleAssignment(
      `${name}-blob-reader`,
      {
        scope: args.modelsContainerId,
        principalId: identity.principalId,
        // A new identity may not have replicated in Entra ID yet; the type skips ARM's principal lookup.
        principalType: authorization.PrincipalType.ServicePrincipal,
        roleDefinitionId: builtInRoleId(args.subscriptionId, "StorageBlobDataReader"),
      },
      parent,
    );

    const writer =
      args.captureContainerId === undefined
        ? []
        : [
            new authorization.RoleAssignment(
              `${name}-capture-writer`,
              {
                scope: args.captureContainerId,
                principalId: identity.principalId,
                principalType: authorization.PrincipalType.ServicePrincipal,
                roleDefinitionId: builtInRoleId(args.subscriptionId, "StorageBlobDataContributor"),
              },
              parent,
            ),
          ];

    this.clientId = identity.clientId;
    this.principalId = identity.principalId;
    this.grants = [federation, reader, ...writer];
    this.registerOutputs({ clientId: this.clientId });
  }
}
