/**
 * The preflight's additions for a first run that completes (issue 21, finding 8): the resource providers
 * the monitoring and identity resources need (Microsoft.Dashboard only with Managed Grafana), and the
 * chosen Kubernetes minor checked against AKS's release calendar at every preview.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseStackSettings } from "../components/config";
import {
  GRAFANA_PROVIDER,
  PreflightError,
  preflightInputOf,
  REQUIRED_PROVIDERS,
  runPreflight,
} from "../components/preflight";
import { AKS_END_OF_LIFE, checkKubernetesCalendar } from "../components/preflight/checks";
import { type ArmRoute, devStackConfig, recordedArm } from "./harness";

const exists = (): boolean => true;
const settingsOf = (extra: Record<string, string> = {}) =>
  parseStackSettings({ ...devStackConfig(), ...extra }, { fileExists: exists });

/** ARM reads answered from the recorded fixtures, with `providers` changed by `edit`. */
function arm(edit?: (providers: { namespace: string; registrationState: string }[]) => void) {
  return async (path: string): Promise<unknown> => {
    const route: ArmRoute | undefined = /\/providers\?/.test(path)
      ? "providers"
      : path.includes("/skus")
        ? "skus"
        : path.includes("/usages")
          ? "usages"
          : path.includes("/kubernetesVersions")
            ? "kubernetesVersions"
            : path.includes("/managedClusters")
              ? "managedClusters"
              : undefined;
    assert.ok(route, path);
    const body = recordedArm(route);
    if (route === "providers" && edit) edit(body.value as { namespace: string; registrationState: string }[]);
    return body;
  };
}
const unregister =
  (...names: string[]) =>
  (providers: { namespace: string; registrationState: string }[]) => {
    for (const p of providers) if (names.includes(p.namespace)) p.registrationState = "NotRegistered";
  };
const DECEMBER_2026 = new Date("2026-12-06T00:00:00Z");

describe("resource providers", () => {
  it("asks for Microsoft.Monitor, AlertsManagement and ManagedIdentity always, Microsoft.Dashboard only with Managed Grafana", () => {
    for (const ns of ["Microsoft.Monitor", "Microsoft.AlertsManagement", "Microsoft.ManagedIdentity"])
      assert.ok((REQUIRED_PROVIDERS as readonly string[]).includes(ns), ns);
    assert.ok(!preflightInputOf(settingsOf(), "s", {}).providers?.includes(GRAFANA_PROVIDER));
    assert.ok(
      preflightInputOf(settingsOf({ managedGrafana: "true" }), "s", {}).providers?.includes(GRAFANA_PROVIDER),
    );
  });

  it("an unregistered one stops the preview with the register command; Dashboard only when Grafana is on", async () => {
    const input = {
      ...preflightInputOf(settingsOf({ managedGrafana: "true" }), "sub-1", {}),
      today: DECEMBER_2026,
    };
    await assert.rejects(
      runPreflight(input, arm(unregister("Microsoft.Monitor", GRAFANA_PROVIDER))),
      (error: unknown) =>
        error instanceof PreflightError &&
        error.failures.length === 2 &&
        /resource provider Microsoft\.Monitor is NotRegistered in subscription sub-1.*az provider register --namespace Microsoft\.Monitor/.test(
          error.failures[0],
        ) &&
        /Microsoft\.Dashboard is NotRegistered/.test(error.failures[1]),
    );
    const withoutGrafana = { ...preflightInputOf(settingsOf(), "sub-1", {}), today: DECEMBER_2026 };
    assert.match(
      await runPreflight(withoutGrafana, arm(unregister(GRAFANA_PROVIDER))),
      /^preflight passed: 11 resource providers/,
    );
  });
});

describe("the Kubernetes version against AKS's calendar", () => {
  const versions = recordedArm("kubernetesVersions");

  it("the default (1.36) is the GA minor with the longest support offered in December 2026: no note", async () => {
    assert.equal(settingsOf().kubernetes.version, "1.36");
    assert.deepEqual(checkKubernetesCalendar(versions, "1.36", "eastus", DECEMBER_2026), {
      failures: [],
      notes: [],
    });
    const line = await runPreflight(
      { ...preflightInputOf(settingsOf(), "s", {}), today: DECEMBER_2026 },
      arm(),
    );
    assert.doesNotMatch(line, /Note:/);
  });

  it("an older minor gets a note naming the longer-supported one and the config command", () => {
    const { failures, notes } = checkKubernetesCalendar(
      versions,
      "1.35",
      "eastus",
      new Date("2026-10-01T00:00:00Z"),
    );
    assert.deepEqual(failures, []);
    assert.deepEqual(notes, [
      "Kubernetes 1.35 is supported until March 2027; 1.36 until June 2027. Fix: pulumi config set kubernetesVersion 1.36 (offered in eastus, supported until June 2027)",
    ]);
  });

  it("within 90 days of its end of life the note says how many days are left; past it, the preview fails", () => {
    assert.match(
      checkKubernetesCalendar(versions, "1.35", "eastus", DECEMBER_2026).notes[0],
      /^Kubernetes 1\.35 reaches its AKS end of life in March 2027 \(85 days\)/,
    );
    const february = new Date("2027-02-01T00:00:00Z");
    assert.match(
      checkKubernetesCalendar(versions, "1.35.9", "eastus", february).notes[0],
      /^Kubernetes 1\.35 reaches its AKS end of life in March 2027 \(28 days\)\. Fix: pulumi config set kubernetesVersion 1\.36/,
    );
    const april = new Date("2027-04-02T00:00:00Z");
    assert.deepEqual(checkKubernetesCalendar(versions, "1.35", "eastus", april).failures, [
      "kubernetesVersion 1.35 reached its AKS end of life in March 2027. Fix: pulumi config set kubernetesVersion 1.36 (offered in eastus, supported until June 2027)",
    ]);
  });

  it("a preview-only minor is never suggested, and a minor missing from the calendar is not judged", () => {
    // 1.37 is in the table but only in preview in the recorded region: not offered as the fix.
    assert.ok(AKS_END_OF_LIFE["1.37"] > AKS_END_OF_LIFE["1.36"]);
    assert.deepEqual(checkKubernetesCalendar(versions, "1.36", "eastus", DECEMBER_2026).notes, []);
    assert.deepEqual(checkKubernetesCalendar(versions, "1.40", "eastus", DECEMBER_2026), {
      failures: [],
      notes: [],
    });
  });
});
