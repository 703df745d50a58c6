/**
 * Runs the real program (../index.ts) with a stack's config under the program's own Pulumi mocks
 * (test/harness.ts) and returns what the policy engine would see: every registered resource with its
 * inputs, secrets unwrapped (policies receive plain values), and the registry's login server output.
 */
import { devStackConfig, outputValue, runProgram } from "../../test/harness";
import type { CapturedResource } from "./evaluate";

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";

/** Replaces Pulumi's secret envelopes ({<sig>: ..., value}) with their values, recursively. */
export function unwrapSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (typeof value !== "object" || value === null) return value;
  const object = value as Record<string, unknown>;
  if (SECRET_SIG_KEY in object) return unwrapSecrets(object.value);
  return Object.fromEntries(Object.entries(object).map(([key, inner]) => [key, unwrapSecrets(inner)]));
}

/** The dev stack's config, or that config with `overrides` on top. */
export async function captureDevStack(overrides: Record<string, string> = {}): Promise<CapturedResource[]> {
  const run = await runProgram({ config: { ...devStackConfig(), ...overrides } });
  const loginServer = await outputValue(run.outputs.registryLoginServer);
  const captured: CapturedResource[] = run.resources.map((r) => {
    const props = unwrapSecrets(r.inputs) as Record<string, unknown>;
    if (r.type === "azure-native:containerregistry:Registry") props.loginServer = loginServer;
    return { type: r.type, name: r.name, props };
  });
  // The engine hands stack policies the root stack resource with the program's outputs as its
  // properties; the mocks register no such resource, so it is added here with the resolved outputs.
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(run.outputs)) outputs[key] = await outputValue(value);
  captured.push({ type: "pulumi:pulumi:Stack", name: "gpu-inference-aks-dev", props: outputs });
  return captured;
}
