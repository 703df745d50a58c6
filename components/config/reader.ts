/**
 * The reader every config section uses: typed access to one raw stack value at a time, defaults from
 * components/configSchema.ts, and a shared list of problems so that every section's mistakes are
 * reported together, each naming the key, the value and the fix.
 */
import * as pulumi from "@pulumi/pulumi";
import { type ConfigKey, configSchema } from "../configSchema";

/** Stack config values as Pulumi stores them (strings), keyed without the project prefix. */
export type RawConfig = Readonly<Partial<Record<string, string | undefined>>>;

/** Raised for bad stack config; pulumi.RunError prints the message without a stack trace. */
export class ConfigError extends pulumi.RunError {
  constructor(
    readonly problems: readonly string[],
    message = `Invalid stack configuration (${problems.length} problem(s)):\n  - ${problems.join("\n  - ")}`,
  ) {
    super(message);
    this.name = "ConfigError";
  }

  /**
   * For a Pulumi run: logs each problem as its own error diagnostic and returns the error to throw, whose
   * message only sums them up. Thrown with the list in it, the Automation API would print the list twice
   * (its unhandled-rejection handler logs a RunError, then the engine prints the run's error again:
   * @pulumi/pulumi 3.276 automation/server.js); the CLI's nodejs host prints it once. Logged here, each
   * problem is on screen exactly once either way.
   */
  reportedToPulumi(): ConfigError {
    for (const problem of this.problems) pulumi.log.error(problem);
    return new ConfigError(
      this.problems,
      `Invalid stack configuration: ${this.problems.length} problem(s), each shown above with its fix; nothing was created`,
    );
  }
}

export class Reader {
  readonly problems: string[] = [];
  constructor(private readonly raw: RawConfig) {}

  /** The trimmed value the stack sets, or undefined when it sets none (or only blanks). */
  rawValue(key: ConfigKey): string | undefined {
    const value = this.raw[key];
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  }

  /**
   * The value when the stack sets one that differs from the schema's default, else undefined. The real
   * CLI hands the program every key of Pulumi.yaml with its default filled in (test/engine), so "set at
   * all" cannot be told from "left alone"; a key that only matters beside another is checked this way.
   */
  nonDefault(key: ConfigKey): string | undefined {
    const value = this.rawValue(key);
    const spec = configSchema[key];
    return value === undefined || ("default" in spec && String(spec.default) === value) ? undefined : value;
  }

  problem(key: ConfigKey, value: unknown, message: string, fix: string): void {
    this.problems.push(`${key} = ${JSON.stringify(value)}: ${message}. Fix: ${fix}`);
  }

  /** A problem whose text (from a shared helper) already names the fix. */
  refuse(key: ConfigKey, value: unknown, messageWithFix: string): void {
    this.problems.push(`${key} = ${JSON.stringify(value)}: ${messageWithFix}`);
  }

  string(key: ConfigKey): string {
    const value = this.rawValue(key);
    const spec = configSchema[key];
    if (value !== undefined) return value;
    return "default" in spec ? String(spec.default) : "";
  }

  optionalNumber(key: ConfigKey, integer: boolean): number | undefined {
    const value = this.rawValue(key);
    if (value === undefined) {
      const spec = configSchema[key];
      return "default" in spec && typeof spec.default === "number" ? spec.default : undefined;
    }
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || (integer && !Number.isInteger(parsed))) {
      this.problem(
        key,
        value,
        `must be ${integer ? "a whole number" : "a number"}`,
        `pulumi config set ${key} <${integer ? "integer" : "number"}>`,
      );
      return undefined;
    }
    return parsed;
  }

  /** A number in [min, max]; NaN when missing or malformed, so later checks can skip it. */
  number(key: ConfigKey, integer: boolean, min: number, max: number, fix: string): number {
    const parsed = this.optionalNumber(key, integer);
    if (parsed === undefined) return Number.NaN;
    if (parsed < min || parsed > max) {
      this.problem(key, parsed, `must be between ${min} and ${max}`, fix);
      return Number.NaN;
    }
    return parsed;
  }

  boolean(key: ConfigKey): boolean {
    const value = this.rawValue(key);
    const spec = configSchema[key];
    if (value === undefined) return "default" in spec && spec.default === true;
    if (value === "true" || value === "false") return value === "true";
    this.problem(key, value, "must be true or false", `pulumi config set ${key} true`);
    return false;
  }

  matching(key: ConfigKey, pattern: RegExp, message: string, fix: string): string {
    const value = this.string(key);
    if (!pattern.test(value)) this.problem(key, value, message, fix);
    return value;
  }
}
