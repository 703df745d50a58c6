/**
 * Narrow readers for resource properties. Policies see plain JSON (`Record<string, any>` in
 * @pulumi/policy); reading it through these keeps the rules strictly typed without trusting shapes
 * the program might not have set.
 */
export type Props = Readonly<Record<string, unknown>>;

export function asObject(value: unknown): Props | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Props) : undefined;
}

export function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

export function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function asBoolean(value: unknown): boolean | undefined {
  return typeof value === "boolean" ? value : undefined;
}

/** Kubernetes quantities and counts arrive as numbers or numeric strings ("1"). */
export function asNumber(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value)))
    return Number(value);
  return undefined;
}

/** Follows a path of object keys; undefined as soon as one step is missing or not an object. */
export function at(value: unknown, ...path: readonly string[]): unknown {
  let current: unknown = value;
  for (const key of path) {
    const object = asObject(current);
    if (object === undefined) return undefined;
    current = object[key];
  }
  return current;
}
