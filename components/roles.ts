/**
 * Azure built-in role definition ids this program grants (the same GUID in every tenant), and the one
 * list of roles it may assign. The GitOps deploy identity's "Role Based Access Control Administrator"
 * condition (docs/gitops.md) must allow exactly these, or `pulumi up` fails with AuthorizationFailed
 * on roleAssignments/write; test/roles.test.ts checks every RoleAssignment the program declares, under
 * every option that adds one, against this list, and the documented condition against it too.
 */
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
  /** Query an Azure Monitor workspace: Managed Grafana's identity (monitoring.ts) and the KEDA add-on's (autoscaling.ts). */
  MonitoringDataReader: "b0d8363b-8ddd-447d-831f-62ca05bff136",
  /** The deployer imports dashboards into Managed Grafana (monitoring.ts, managedGrafana on). */
  GrafanaAdmin: "22926164-76b3-42b3-bc55-97df8dab3e41",
} as const;

export type BuiltInRole = keyof typeof builtInRoles;

/** Every role definition GUID the program may assign, in a stable order (the documented condition's list). */
export const ASSIGNABLE_ROLE_IDS: readonly string[] = Object.values(builtInRoles);

/**
 * The ABAC condition for the deploy identity's "Role Based Access Control Administrator" assignment: it
 * may write and delete role assignments of these roles only (Azure's "constrain roles" condition for
 * delegated role assignment, as docs/gitops.md has always given it). docs/gitops.md prints the same list.
 */
export function rbacAdministratorCondition(roleIds: readonly string[] = ASSIGNABLE_ROLE_IDS): string {
  const roles = roleIds.join(", ");
  return (
    `((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR ` +
    `(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${roles}})) AND ` +
    `((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR ` +
    `(@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${roles}}))`
  );
}

/** The subscription-scoped id ARM expects in a role assignment's roleDefinitionId. */
export function builtInRoleId(
  subscriptionId: pulumi.Input<string>,
  role: BuiltInRole,
): pulumi.Output<string> {
  return pulumi.interpolate`/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${builtInRoles[role]}`;
}
