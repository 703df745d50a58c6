/**
 * The alert rules of monitoring/alerts.json, read once, checked and filled in with this stack's values.
 * The JSON is the one definition: components/monitoring.ts declares a PrometheusRuleGroup per group from
 * it, and app/tests/observability/test_metric_names.py checks that every metric it names really exists. Pure: no Pulumi.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export const ALERTS_FILE = path.join(__dirname, "..", "monitoring", "alerts.json");

/** Every {{parameter}} the rules may use, with this stack's value. */
export interface AlertParameters {
  readonly namespace: string;
  readonly monitoringNamespace: string;
  readonly replicas: number;
  readonly gpuNodeCount: number;
  readonly gpuTaintKey: string;
  readonly gpuTaintValue: string;
  readonly p99LatencySeconds: number;
  readonly scoringJob: string;
  readonly dcgmJob: string;
}

export interface AlertRule {
  readonly alert: string;
  readonly expression: string;
  /** ISO 8601 duration the condition must hold before the alert fires. */
  readonly for: string;
  /** Azure Monitor severity, 0 (critical) to 4 (verbose). */
  readonly severity: number;
  readonly summary: string;
}

export interface AlertGroup {
  readonly name: string;
  readonly description: string;
  readonly interval: string;
  readonly rules: readonly AlertRule[];
}

const ISO_DURATION = /^PT\d+[MH]$/;
const PLACEHOLDER = /\{\{(\w+)\}\}/g;

function fail(what: string): never {
  throw new Error(`monitoring/alerts.json: ${what}`);
}

function text(value: unknown, where: string): string {
  if (typeof value !== "string" || value.trim() === "") fail(`${where} must be a non-empty string`);
  return value as string;
}

/** Checks the file's shape; placeholders stay unfilled. */
export function parseAlertGroups(raw: unknown): { parameters: string[]; groups: AlertGroup[] } {
  if (typeof raw !== "object" || raw === null) fail("is not a JSON object");
  const { parameters, groups } = raw as Record<string, unknown>;
  if (typeof parameters !== "object" || parameters === null) fail("parameters must be an object");
  if (!Array.isArray(groups) || groups.length === 0) fail("groups must be a non-empty array");
  const seen = new Set<string>();
  const parsed = (groups as unknown[]).map((group, g): AlertGroup => {
    const record = (typeof group === "object" && group !== null ? group : {}) as Record<string, unknown>;
    const where = `groups[${g}]`;
    const interval = text(record.interval, `${where}.interval`);
    if (!ISO_DURATION.test(interval)) fail(`${where}.interval must be an ISO 8601 duration such as PT1M`);
    if (!Array.isArray(record.rules) || record.rules.length === 0)
      fail(`${where}.rules must be a non-empty array`);
    const rules = (record.rules as unknown[]).map((rule, i): AlertRule => {
      const r = (typeof rule === "object" && rule !== null ? rule : {}) as Record<string, unknown>;
      const at = `${where}.rules[${i}]`;
      const alert = text(r.alert, `${at}.alert`);
      if (seen.has(alert)) fail(`${at}: alert ${alert} is defined twice`);
      seen.add(alert);
      const forDuration = text(r.for, `${at}.for`);
      if (!ISO_DURATION.test(forDuration)) fail(`${at}.for must be an ISO 8601 duration such as PT5M`);
      if (
        typeof r.severity !== "number" ||
        !Number.isInteger(r.severity) ||
        r.severity < 0 ||
        r.severity > 4
      ) {
        fail(`${at}.severity must be a whole number from 0 to 4`);
      }
      return {
        alert,
        expression: text(r.expression, `${at}.expression`),
        for: forDuration,
        severity: r.severity as number,
        summary: text(r.summary, `${at}.summary`),
      };
    });
    return {
      name: text(record.name, `${where}.name`),
      description: text(record.description, `${where}.description`),
      interval,
      rules,
    };
  });
  return { parameters: Object.keys(parameters as object), groups: parsed };
}

function fill(template: string, values: Readonly<Record<string, string>>, where: string): string {
  return template.replace(PLACEHOLDER, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) fail(`${where} uses {{${name}}}, which is not a parameter`);
    return value;
  });
}

/** The rule groups with every {{parameter}} replaced by this stack's value. */
export function alertGroups(
  parameters: AlertParameters,
  raw: unknown = JSON.parse(fs.readFileSync(ALERTS_FILE, "utf8")),
): AlertGroup[] {
  const parsed = parseAlertGroups(raw);
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(parameters)) values[key] = String(value);
  const declared = [...parsed.parameters].sort();
  const given = Object.keys(values).sort();
  if (declared.join(",") !== given.join(",")) {
    fail(`parameters declares ${declared.join(", ")}, but the program fills ${given.join(", ")}`);
  }
  return parsed.groups.map((group) => ({
    ...group,
    rules: group.rules.map((rule) => ({
      ...rule,
      expression: fill(rule.expression, values, `${rule.alert}.expression`),
      summary: fill(rule.summary, values, `${rule.alert}.summary`),
    })),
  }));
}
