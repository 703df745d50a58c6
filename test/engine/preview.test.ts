/**
 * `pulumi preview` of this project's program through the real engine (the pinned CLI, the program run
 * inline by the Automation API): bad config is refused before anything else happens, with the project's
 * message printed once; a valid dev config runs the program up to its first Azure call and stops there
 * only for want of Azure (this machine has no azure-native plugin and no route to Azure).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { ROOT } from "../harness";
import { type PreviewOutcome, ProjectCopy } from "./realEngine";

function preview(stackYaml: string, config: Readonly<Record<string, string>> = {}): PreviewOutcome {
  return new ProjectCopy({ dev: stackYaml }).preview("dev", config);
}

/** The preview's "Diagnostics:" section, where the engine lists each error once per report. */
function diagnostics(printed: string): string {
  const start = printed.indexOf("Diagnostics:");
  assert.ok(start >= 0, `no Diagnostics section in:\n${printed}`);
  const end = printed.indexOf("\nResources:", start);
  return printed.slice(start, end < 0 ? undefined : end);
}

const devStack = fs.readFileSync(`${ROOT}/Pulumi.dev.yaml`, "utf8");

function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

describe("pulumi preview through the real engine", () => {
  it("runs a valid dev config up to the first Azure call, and stops there only for want of Azure", () => {
    const outcome = preview(devStack);
    assert.equal(outcome.succeeded, false);
    const shown = diagnostics(outcome.printed);
    assert.doesNotMatch(shown, /Invalid stack configuration/);
    assert.match(shown, /no resource plugin 'pulumi-resource-azure-native' found/);
  });

  // One representative of each class of config error; test/config.test.ts covers every rule under the
  // pure parser. Here the question is what the real engine shows a user.
  const refusals: readonly (readonly [string, Record<string, string>, RegExp])[] = [
    [
      "a value out of range",
      { replicas: "0" },
      /replicas = 0: must be between 1 and 1000\. Fix: pulumi config set replicas 3/,
    ],
    [
      "a retired GPU size",
      { gpuVmSize: "Standard_NC6" },
      /gpuVmSize = "Standard_NC6": .*retired.*Standard_NC4as_T4_v3/,
    ],
    ["more pods than GPUs", { replicas: "4" }, /replicas = 4: .*GPU/],
    [
      "a missing model file",
      { modelFile: "app/model/missing.npz" },
      /modelFile = "app\/model\/missing\.npz": /,
    ],
    [
      "a location that disagrees with azure-native:location",
      { location: "eastus", "azure-native:location": "westus2" },
      /location = "eastus": .*westus2/,
    ],
    ["a misspelt key", { replica: "3" }, /replica: is not a config key of this project/],
  ];
  for (const [what, config, message] of refusals) {
    it(`refuses ${what} before any Azure call, printing the project's line once`, () => {
      const outcome = preview(devStack, config);
      assert.equal(outcome.succeeded, false);
      const shown = diagnostics(outcome.printed);
      const line = message.exec(shown)?.[0];
      assert.ok(line, `expected ${message} in:\n${shown}`);
      assert.equal(occurrences(shown, line), 1, shown);
      assert.match(shown, /Invalid stack configuration: \d+ problem\(s\), each shown above with its fix/);
      // Stopped by the config check, not by the missing provider: no Azure call was attempted.
      assert.doesNotMatch(shown, /pulumi-resource-azure-native/);
    });
  }
});
