/**
 * Azure names: Pulumi's auto-naming appends a random suffix to the logical name, but logical names here
 * follow their component (`${name}-storage`), and storage and registry names allow only lowercase
 * letters and digits. So components spell Azure names themselves as `<namePrefix><kind><suffix>`, with
 * one random suffix per component kept in state: stable across updates, distinct between stacks.
 */
import type * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

export function azureNameSuffix(componentName: string, parent: pulumi.Resource): pulumi.Output<string> {
  return new random.RandomString(
    `${componentName}-name-suffix`,
    { length: 6, lower: true, numeric: true, upper: false, special: false },
    { parent },
  ).result;
}
