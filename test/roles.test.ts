/**
 * One list of the roles the program may assign (issue 21, finding 4): components/roles.ts. Every
 * RoleAssignment the real program declares, under every option that adds one, uses a role from it, and
 * the GitOps deploy identity's documented condition (docs/gitops.md) allows exactly those roles, so the
 * deploy identity can create every grant `pulumi up` makes.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { ASSIGNABLE_ROLE_IDS, builtInRoles, rbacAdministratorCondition } from "../components/roles";
import { devStackConfig, findAll, get, type ProgramRun, ROOT, runProgram } from "./harness";

const ROLE = "azure-native:authorization:RoleAssignment";
const GROUP = "7b2c1d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
const VAULT_ID =
  "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/certs-rg/providers/Microsoft.KeyVault/vaults/corp-certs";

/** Each config that adds grants, and one with all of them at once. */
const OPTIONS: Record<string, Record<string, string>> = {
  defaults: {},
  clusterAdminGroupObjectId: { clusterAdminGroupObjectId: GROUP },
  keyVaultCertificate: {
    customDomain: "scoring.example.com",
    tlsKeyVaultId: VAULT_ID,
    tlsCertificateName: "scoring-example-com",
  },
  managedGrafana: { managedGrafana: "true" },
  attachToWorkspaceOff: { attachToWorkspace: "false" },
  collectModelData: { collectModelData: "true" },
  autoscale: { autoscale: "true", gpuNodeMaxCount: "5", autoscaleMaxReplicas: "5" },
};

const runs = new Map<string, ProgramRun>();
before(async () => {
  for (const [option, extra] of Object.entries(OPTIONS))
    runs.set(option, await runProgram({ config: { ...devStackConfig(), ...extra } }));
});

function roleGuid(roleDefinitionId: unknown): string {
  const match = /\/providers\/Microsoft\.Authorization\/roleDefinitions\/([0-9a-f-]{36})$/.exec(
    String(roleDefinitionId),
  );
  assert.ok(match, `not a role definition id: ${String(roleDefinitionId)}`);
  return match[1];
}

describe("the roles the program assigns", () => {
  it("every RoleAssignment under every option uses a role from components/roles.ts", () => {
    const used = new Set<string>();
    for (const [option, run] of runs) {
      const grants = findAll(run.resources, ROLE);
      assert.ok(grants.length > 0, option);
      for (const grant of grants) {
        const guid = roleGuid(get(grant, "roleDefinitionId"));
        assert.ok(
          ASSIGNABLE_ROLE_IDS.includes(guid),
          `${option}: ${grant.name} assigns ${guid}, not in roles.ts`,
        );
        used.add(guid);
      }
    }
    // And the list holds nothing the program never assigns (a wider condition than needed).
    assert.deepEqual([...used].sort(), [...ASSIGNABLE_ROLE_IDS].sort());
  });

  it("the options add the grants they document", () => {
    const guids = (option: string): string[] =>
      findAll(runs.get(option)?.resources ?? [], ROLE).map((g) => roleGuid(get(g, "roleDefinitionId")));
    assert.ok(guids("keyVaultCertificate").includes(builtInRoles.KeyVaultSecretsUser));
    assert.ok(!guids("defaults").includes(builtInRoles.KeyVaultSecretsUser));
    assert.ok(guids("managedGrafana").includes(builtInRoles.GrafanaAdmin));
    assert.ok(guids("managedGrafana").includes(builtInRoles.MonitoringDataReader));
    assert.ok(guids("collectModelData").includes(builtInRoles.StorageBlobDataContributor));
    assert.ok(!guids("defaults").includes(builtInRoles.StorageBlobDataContributor));
    assert.ok(guids("autoscale").includes(builtInRoles.MonitoringDataReader));
    assert.equal(
      guids("clusterAdminGroupObjectId").filter((g) => g === builtInRoles.AksRbacClusterAdmin).length,
      2,
    );
  });

  it("docs/gitops.md's RBAC Administrator condition lists exactly these roles, in the condition the program documents", () => {
    const doc = fs.readFileSync(path.join(ROOT, "docs", "gitops.md"), "utf8");
    const roles = /^ROLES="([^"]+)"$/m.exec(doc)?.[1];
    assert.ok(roles, "docs/gitops.md has no ROLES= line");
    assert.deepEqual(roles.split(", "), [...ASSIGNABLE_ROLE_IDS]);
    const condition = /^CONDITION="([^"]+)"$/m.exec(doc)?.[1];
    assert.equal(condition?.replaceAll("$ROLES", roles), rbacAdministratorCondition());
    for (const guid of ASSIGNABLE_ROLE_IDS)
      assert.ok(doc.includes(`| \`${guid}\` |`), `table row for ${guid}`);
  });
});
