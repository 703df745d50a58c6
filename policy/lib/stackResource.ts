import type { Props } from "./props";

/** What the stack rules need of each resource: its type token, Pulumi name, URN and properties. */
export interface StackResource {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  readonly props: Props;
}

/** A stack rule's finding, attached to a resource when one is to blame. */
export interface StackFinding {
  readonly message: string;
  readonly urn?: string;
}
