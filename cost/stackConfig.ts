/**
 * The three settings the estimate needs, read from Pulumi.yaml (defaults) and Pulumi.<stack>.yaml
 * (values) the way Pulumi resolves them, without the Pulumi CLI. Pure over the two files' text.
 */
import { parse } from "yaml";
import type { GpuCostInput } from "./estimate";

type YamlObject = Record<string, unknown>;

function object(value: unknown): YamlObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as YamlObject) : {};
}

export function gpuCostInputFromYaml(projectYaml: string, stackYaml: string, stack: string): GpuCostInput {
  const project = object(parse(projectYaml));
  const name = project.name;
  if (typeof name !== "string" || name === "") throw new Error("Pulumi.yaml has no project name");
  const schema = object(project.config);
  const values = object(object(parse(stackYaml)).config);

  const read = (key: string, fallbackKeys: readonly string[] = []): unknown => {
    for (const fullKey of [`${name}:${key}`, ...fallbackKeys]) {
      if (values[fullKey] !== undefined) return values[fullKey];
    }
    return object(schema[key]).default;
  };

  const gpuVmSize = read("gpuVmSize");
  const gpuNodeCount = Number(read("gpuNodeCount"));
  const location = read("location", ["azure-native:location"]);
  const problems: string[] = [];
  if (typeof gpuVmSize !== "string")
    problems.push(`${name}:gpuVmSize is not set in Pulumi.${stack}.yaml or Pulumi.yaml`);
  if (!Number.isInteger(gpuNodeCount)) problems.push(`${name}:gpuNodeCount is not a whole number`);
  if (typeof location !== "string")
    problems.push(`${name}:location is not set in Pulumi.${stack}.yaml or Pulumi.yaml`);
  if (problems.length > 0)
    throw new Error(`Cannot estimate the GPU cost of stack ${stack}: ${problems.join("; ")}`);
  return { gpuVmSize: gpuVmSize as string, gpuNodeCount, location: location as string };
}
