/**
 * Runs the pack's validators over captured resources the way the Pulumi engine would: each
 * resource policy once per resource, each stack policy once over all of them, honouring enforcement
 * levels and policy config. Used by the tests, and usable on any list of (type, name, props).
 */
import type {
  EnforcementLevel,
  Policies,
  PolicyPackConfig,
  PolicyResource,
  PolicyResourceOptions,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { PACK_ENFORCEMENT } from "../policies";

export interface CapturedResource {
  readonly type: string;
  readonly name: string;
  /** Inputs for resource policies; the same values stand in for outputs in stack policies. */
  readonly props: Record<string, unknown>;
  readonly urn?: string;
}

export interface Violation {
  readonly policyName: string;
  readonly enforcementLevel: EnforcementLevel;
  readonly message: string;
  /** The resource reported against, when there is one. */
  readonly resourceName?: string;
}

const OPTIONS: PolicyResourceOptions = {
  protect: false,
  ignoreChanges: [],
  aliases: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
  additionalSecretOutputs: [],
};

function urnOf(resource: CapturedResource): string {
  return resource.urn ?? `urn:pulumi:test::test::${resource.type}::${resource.name}`;
}

type ResourceClass = abstract new (...args: never[]) => unknown;

/** Resource classes carry their type token as a static `__pulumiType`, which isType compares. */
function typeOfClass(resourceClass: ResourceClass): string | undefined {
  return (resourceClass as unknown as { __pulumiType?: string }).__pulumiType;
}

function levelOf(
  policy: { name: string; enforcementLevel?: EnforcementLevel },
  config: PolicyPackConfig,
): EnforcementLevel {
  const entry = config[policy.name];
  if (typeof entry === "string") return entry;
  return entry?.enforcementLevel ?? policy.enforcementLevel ?? PACK_ENFORCEMENT;
}

function configFor(policyName: string, config: PolicyPackConfig) {
  return <T extends object>(): T => {
    const entry = config[policyName];
    if (entry === undefined || typeof entry === "string") return {} as T;
    const { enforcementLevel: _level, ...properties } = entry;
    return properties as T;
  };
}

function notApplicable(reason?: string): never {
  throw new Error(`policy marked not applicable: ${reason ?? "(no reason)"}`);
}

function isStackPolicy(policy: Policies[number]): policy is StackValidationPolicy {
  return "validateStack" in policy;
}

export async function evaluatePolicies(
  policies: Policies,
  resources: readonly CapturedResource[],
  config: PolicyPackConfig = {},
): Promise<Violation[]> {
  const violations: Violation[] = [];
  const byUrn = new Map(resources.map((r) => [urnOf(r), r]));

  for (const policy of policies) {
    const enforcementLevel = levelOf(policy, config);
    if (enforcementLevel === "disabled") continue;
    const getConfig = configFor(policy.name, config);

    if (isStackPolicy(policy)) {
      const policyResources: PolicyResource[] = resources.map((r) => ({
        type: r.type,
        name: r.name,
        urn: urnOf(r),
        props: r.props,
        opts: OPTIONS,
        dependencies: [],
        propertyDependencies: {},
        isType: (cls: ResourceClass) => typeOfClass(cls) === r.type,
        asType: () => undefined,
      }));
      const args: StackValidationArgs = {
        resources: policyResources,
        stackTags: new Map(),
        getConfig,
        notApplicable,
      };
      await policy.validateStack(args, (message, urn) => {
        violations.push({
          policyName: policy.name,
          enforcementLevel,
          message,
          resourceName: urn === undefined ? undefined : byUrn.get(urn)?.name,
        });
      });
      continue;
    }

    const validations = (policy as ResourceValidationPolicy).validateResource;
    const list = validations === undefined ? [] : Array.isArray(validations) ? validations : [validations];
    for (const resource of resources) {
      const args: ResourceValidationArgs = {
        type: resource.type,
        props: resource.props,
        urn: urnOf(resource),
        name: resource.name,
        opts: OPTIONS,
        stackTags: new Map(),
        isType: (cls: ResourceClass) => typeOfClass(cls) === resource.type,
        asType: <TResource, TArgs>(cls: new (name: string, args: TArgs, ...rest: never[]) => TResource) =>
          (typeOfClass(cls) === resource.type ? resource.props : undefined) as never,
        getConfig,
        notApplicable,
      };
      for (const validate of list) {
        await validate(args, (message) => {
          violations.push({
            policyName: policy.name,
            enforcementLevel,
            message,
            resourceName: resource.name,
          });
        });
      }
    }
  }
  return violations;
}

/** Violations that would fail `pulumi preview`. */
export function blocking(violations: readonly Violation[]): Violation[] {
  return violations.filter((v) => v.enforcementLevel === "mandatory");
}
