/** Azure built-in role definition ids this program grants (the same GUID in every tenant). */
import * as pulumi from "@pulumi/pulumi";

export const builtInRoles = {
  AcrPull: "7f951dda-4ed3-4680-a7ca-43fe172d538d",
  AcrPush: "8311e382-0749-4cb8-b61a-304f252e45ec",
  /** Full access to the cluster's Kubernetes API when the cluster uses Azure RBAC for Kubernetes authorization. */
  AksRbacClusterAdmin: "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b",
  /** Read and list blobs (data plane only): the scoring pods' access to the models container. */
  StorageBlobDataReader: "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
  /** Read, write and delete blobs (data plane): the scoring pods' write access to the model-data container only. */
  StorageBlobDataContributor: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  /** Read secret contents (a certificate's key and chain are its secret): the Key Vault CSI add-on's grant. */
  KeyVaultSecretsUser: "4633458b-17de-408a-b874-0445c86b69e6",
} as const;

/** The subscription-scoped id ARM expects in a role assignment's roleDefinitionId. */
export function builtInRoleId(
  subscriptionId: pulumi.Input<string>,
  role: keyof typeof builtInRoles,
): pulumi.Output<string> {
  return pulumi.interpolate`/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${builtInRoles[role]}`;
}
