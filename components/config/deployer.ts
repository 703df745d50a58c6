/**
 * Section: who deploys (issue 21, finding 5). The program grants the deploying identity Cluster Admin on
 * the cluster and AcrPush on the registry, and signs the Kubernetes provider in as it. Taken from whoever
 * runs, those grants change with the runner: a pull-request preview as the read-only identity, or a laptop
 * after CI, would plan to replace them. Setting deployerObjectId to the identity that runs `pulumi up`
 * (the CI service principal under GitOps) keeps them, and the Kubernetes provider, stable for every runner.
 */
import type { Reader } from "./reader";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface DeployerSettings {
  /** The object id of the identity that runs `pulumi up`; undefined: whoever runs the program. */
  readonly objectId?: string;
}

export function deployerSection(r: Reader): DeployerSettings {
  const value = r.string("deployerObjectId");
  if (value === "") return {};
  if (!GUID.test(value)) {
    r.problem(
      "deployerObjectId",
      value,
      "is not an Entra object id (a GUID)",
      'pulumi config set deployerObjectId "$(az ad sp show --id <client id> --query id -o tsv)" (a user: az ad signed-in-user show --query id -o tsv)',
    );
    return {};
  }
  return { objectId: value.toLowerCase() };
}
