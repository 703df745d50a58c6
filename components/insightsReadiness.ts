/**
 * Waits, during `pulumi up` only, until the stack's new Log Analytics workspace can take the Container
 * Insights data collection rule, before the rule is created (issue 21, finding 8).
 *
 * Why (sources checked December 2026): Azure validates a DCR's Log Analytics destination when the rule is
 * created, and a workspace created minutes earlier can fail that validation:
 * - 400 InvalidPayload / InvalidOutputTable, "Table for output stream '<stream>' is not available for
 *   destination '<name>'" when the stream's table is not (yet) in the workspace
 *   (hashicorp/terraform-provider-azurerm#28709);
 * - 500 InternalServerError / WorkspaceValidationFailure, "Failed to validate Log Analytics workspace"
 *   (Azure/ALZ-Bicep#982, moved to Azure/Azure-Landing-Zones#2605);
 * - a DCR created with its workspace in one deployment fails on the first run and succeeds when re-run a
 *   few minutes later, with Bicep as with Terraform (hashicorp/terraform-provider-azurerm#21897).
 * azure-native does not wait this out: its ARM client (pulumi/pulumi-azure-native,
 * provider/pkg/azure/client_azcore.go, initPipelineOpts) retries only 408, 429, 500, 502, 503, 504 and a 409
 * AnotherOperationInProgress, with azcore's default of three retries (20 s, 60 s, 120 s back-off). A 400
 * InvalidOutputTable fails the update at once, and a 500 that outlasts about three minutes fails it too.
 *
 * What it waits for: the workspace's provisioningState is Succeeded (2022-10-01 also reports Creating and
 * ProvisioningAccount), and each table the rule's streams write exists (Tables_Get, GET
 * .../workspaces/{ws}/tables/{table}, Azure/azure-rest-api-specs operationalinsights stable/2022-10-01
 * Tables.json; a missing table is ARM's 404 ResourceNotFound) and is not "Updating" ("table schema is still
 * being built") or "Deleting"; "InProgress" is "schema is stable, table data is being updated". A standard
 * stream `Microsoft-<Table>` writes the table `<Table>` unless the data flow names another outputStream
 * (Azure Monitor docs, "Structure of a data collection rule", dataFlows; the Container insights tables
 * ContainerLogV2, KubeEvents and KubePodInventory in the Azure Monitor tables reference).
 *
 * How: the deployer's own ARM token (the preflight's reader, components/preflight/arm.ts), one GET for the
 * workspace and one per table, repeated every 15 s for at most 10 minutes, then a message naming what never
 * became ready and what to do. Network errors and any non-200 answer count as "not yet". A preview does not
 * wait (the workspace may not exist yet and nothing is created). The clock is in `insightsReadinessEnvironment`
 * so the test harness can model the delay on virtual time.
 */

import { ArmError, type ArmGet } from "./preflight/arm";
import { type Clock, pollUntilReady, realClock } from "./readinessPoll";

/** Microsoft.OperationalInsights API version of the workspace and table reads (both are in 2022-10-01). */
export const LOG_ANALYTICS_API_VERSION = "2022-10-01";
/** No documented figure exists; reports speak of "a few minutes", so the bound leaves a wide margin. */
export const INSIGHTS_WAIT_TIMEOUT_MS = 10 * 60 * 1000;
export const INSIGHTS_POLL_INTERVAL_MS = 15 * 1000;

/** The clock the wait sleeps on; the test harness replaces it with virtual time. */
export const insightsReadinessEnvironment: { clock: Clock } = { clock: realClock };

/**
 * The Log Analytics tables a rule's standard streams write (`Microsoft-<Table>` → `<Table>`). A custom
 * stream (`Custom-...`) has no implied table, so it is refused here rather than silently not checked.
 */
export function destinationTables(streams: readonly string[]): string[] {
  return streams.map((stream) => {
    const match = /^Microsoft-([A-Za-z0-9_]+)$/.exec(stream);
    if (match === null)
      throw new Error(
        `${stream} is not a standard Microsoft-<Table> stream; name its outputStream table instead`,
      );
    return match[1];
  });
}

function readError(error: unknown): string {
  if (error instanceof ArmError)
    return error.status === 404 ? "not found (404)" : `${error.code} (HTTP ${error.status})`;
  return `no answer (${error instanceof Error ? error.message : String(error)})`;
}

function stateOf(body: unknown): string | undefined {
  const state = (body as { properties?: { provisioningState?: unknown } } | undefined)?.properties
    ?.provisioningState;
  return typeof state === "string" ? state : undefined;
}

/** Asks once: what is not ready yet, each with ARM's answer (empty when the rule can be created). */
export async function notReady(
  get: ArmGet,
  workspaceId: string,
  tables: readonly string[],
): Promise<string[]> {
  const pending: string[] = [];
  const query = `?api-version=${LOG_ANALYTICS_API_VERSION}`;
  try {
    const state = stateOf(await get(`${workspaceId}${query}`));
    if (state !== "Succeeded") pending.push(`workspace: provisioningState ${state ?? "missing"}`);
  } catch (error) {
    pending.push(`workspace: ${readError(error)}`);
  }
  for (const table of tables) {
    try {
      const state = stateOf(await get(`${workspaceId}/tables/${table}${query}`));
      // Updating: the schema is still being built; Deleting: going away. Succeeded, InProgress (schema stable,
      // data being updated) or no state: the table is there to write to.
      if (state === "Updating" || state === "Deleting")
        pending.push(`table ${table}: provisioningState ${state}`);
    } catch (error) {
      pending.push(`table ${table}: ${readError(error)}`);
    }
  }
  return pending;
}

export class InsightsDestinationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InsightsDestinationError";
  }
}

export interface InsightsWaitOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  readonly clock?: Clock;
  /** Called before each further attempt with what is still pending (progress in the update's log). */
  readonly onWait?: (pending: readonly string[], waitedMs: number) => void;
}

/** Repeats the reads until the workspace and every table are ready; resolves with how long it waited. */
export async function waitForInsightsDestination(
  get: ArmGet,
  workspaceId: string,
  tables: readonly string[],
  options: InsightsWaitOptions = {},
): Promise<{ readonly attempts: number; readonly waitedMs: number }> {
  const { attempts, waitedMs, pending } = await pollUntilReady(() => notReady(get, workspaceId, tables), {
    clock: options.clock ?? insightsReadinessEnvironment.clock,
    timeoutMs: options.timeoutMs ?? INSIGHTS_WAIT_TIMEOUT_MS,
    intervalMs: options.intervalMs ?? INSIGHTS_POLL_INTERVAL_MS,
    onWait: options.onWait,
  });
  if (pending.length > 0)
    throw new InsightsDestinationError(
      `The Log Analytics workspace ${workspaceId} is still not ready for the Container Insights data ` +
        `collection rule after ${Math.round(waitedMs / 1000)} s and ${attempts} attempts: ${pending.join("; ")}. ` +
        `Azure refuses a rule whose destination table is missing (InvalidOutputTable). Check: the workspace ` +
        `shows in the portal with those tables (az monitor log-analytics workspace table show --workspace-name ` +
        `<name> --resource-group <group> --name <table>); the identity running pulumi up can read the ` +
        `workspace (Reader or more on the resource group); Azure status for Log Analytics in the region. ` +
        `The rule was not created; run pulumi up again once the tables show.`,
    );
  return { attempts, waitedMs };
}
