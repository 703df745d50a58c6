/**
 * Waits, during `pulumi up` only, until the Kubernetes API server grants the deployer what this program
 * needs, before any Kubernetes object is declared against the cluster (issue 21, finding 1).
 *
 * Why: on an AKS cluster with Entra ID and Azure RBAC, a new role assignment "can take up to five
 * minutes" to reach the cluster (MicrosoftDocs/azure-aks-docs, articles/aks/entra-id-authorization.md,
 * checked December 2026), and until then the API server answers 403 Forbidden. The first `pulumi up`
 * creates the deployer's "Azure Kubernetes Service RBAC Cluster Admin" grant seconds before its first
 * Namespace, and pulumi-kubernetes retries a create only when the API answers NotFound or NoMatch
 * (`provider/pkg/await`, 4.x), so a Forbidden fails the update.
 *
 * How: the cluster's Kubernetes provider receives its kubeconfig only from this wait (gpuCluster.ts), so
 * every Kubernetes resource, Helm release and CRD waits with it. The wait asks the API server, as the
 * deployer (an Entra token for the AKS server application, the identity kubelogin signs in as), one
 * SelfSubjectAccessReview per permission in PROGRAM_NEEDS, and repeats until all are allowed or the bound
 * passes; then it fails with a message naming what was denied and what to check. A preview does not wait:
 * it changes nothing, and the preview identity holds only RBAC Reader (docs/gitops.md).
 *
 * The transport and the clock are in `clusterAccessEnvironment` so the test harness can stand in for the
 * API server (test/harness.ts models the propagation delay) without a network.
 */
import * as https from "node:https";
import { type Clock, pollUntilReady, realClock } from "./readinessPoll";

export type { Clock } from "./readinessPoll";

/** One permission the program needs: a SelfSubjectAccessReview's resourceAttributes. */
export interface AccessCheck {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly namespace?: string;
}

/**
 * What the program's first Kubernetes objects need (device plugin and DCGM exporter in kube-system,
 * namespaces with network policies, cert-manager's and Envoy Gateway's CRDs and cluster roles). With
 * Cluster Admin all are granted at once; they are asked one by one so a denial names what is missing.
 */
export const PROGRAM_NEEDS: readonly AccessCheck[] = [
  { verb: "create", group: "", resource: "namespaces" },
  { verb: "create", group: "", resource: "configmaps", namespace: "kube-system" },
  { verb: "create", group: "apps", resource: "daemonsets", namespace: "kube-system" },
  { verb: "create", group: "networking.k8s.io", resource: "networkpolicies" },
  { verb: "create", group: "apiextensions.k8s.io", resource: "customresourcedefinitions" },
  { verb: "create", group: "rbac.authorization.k8s.io", resource: "clusterroles" },
];

/** Five minutes is what Azure documents for a grant to reach the cluster; the bound leaves as much again. */
export const ACCESS_WAIT_TIMEOUT_MS = 10 * 60 * 1000;
export const ACCESS_POLL_INTERVAL_MS = 10 * 1000;

/** One answer of the API server (status code, parsed JSON body or undefined). */
export interface KubeAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** A POST to the API server as the deployer. */
export type KubePost = (path: string, body: unknown) => Promise<KubeAnswer>;

export interface KubeEndpoint {
  /** https://<fqdn>:443, from the cluster-user kubeconfig. */
  readonly server: string;
  /** The cluster CA, base64 PEM (certificate-authority-data). */
  readonly caData: string;
  /** An Entra access token of the deployer for the AKS server application. */
  readonly token: string;
}

/** The real API server over HTTPS, trusting only the cluster's own CA. */
export function httpsKubePost(endpoint: KubeEndpoint): KubePost {
  const ca = Buffer.from(endpoint.caData, "base64").toString("utf8");
  return (path, body) =>
    new Promise<KubeAnswer>((resolve, reject) => {
      const payload = JSON.stringify(body);
      const request = https.request(
        new URL(path, endpoint.server),
        {
          method: "POST",
          ca,
          timeout: 30_000,
          headers: {
            authorization: `Bearer ${endpoint.token}`,
            "content-type": "application/json",
            accept: "application/json",
            "content-length": Buffer.byteLength(payload),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = text;
            }
            resolve({ status: response.statusCode ?? 0, body: parsed });
          });
        },
      );
      request.on("timeout", () => request.destroy(new Error("no answer within 30 s")));
      request.on("error", reject);
      request.end(payload);
    });
}

/** What the wait uses to reach the API server and to tell time; the test harness replaces both. */
export const clusterAccessEnvironment: {
  connect: (endpoint: KubeEndpoint) => KubePost;
  clock: Clock;
} = {
  connect: httpsKubePost,
  clock: realClock,
};

export const SELF_SUBJECT_ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

function describeCheck(check: AccessCheck): string {
  const what = check.group === "" ? check.resource : `${check.resource}.${check.group}`;
  return `${check.verb} ${what}${check.namespace === undefined ? "" : ` in ${check.namespace}`}`;
}

/** Asks once: the checks the API server did not allow, each with the reason it gave. */
export async function deniedChecks(post: KubePost, checks: readonly AccessCheck[]): Promise<string[]> {
  const denied: string[] = [];
  for (const check of checks) {
    const answer = await post(SELF_SUBJECT_ACCESS_REVIEWS, {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: {
        resourceAttributes: {
          verb: check.verb,
          group: check.group,
          resource: check.resource,
          ...(check.namespace === undefined ? {} : { namespace: check.namespace }),
        },
      },
    });
    const status = (answer.body as { status?: { allowed?: boolean; reason?: string } } | undefined)?.status;
    if (answer.status === 201 || answer.status === 200) {
      if (status?.allowed !== true)
        denied.push(`${describeCheck(check)}: not allowed${status?.reason ? ` (${status.reason})` : ""}`);
    } else {
      denied.push(`${describeCheck(check)}: HTTP ${answer.status}`);
    }
  }
  return denied;
}

export class ClusterAccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ClusterAccessError";
  }
}

export interface WaitOptions {
  /** Who is asking, for the message (the deployer's object id). */
  readonly principal: string;
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  readonly clock?: Clock;
  /** Called before each further attempt with what is still denied (progress in the update's log). */
  readonly onWait?: (denied: readonly string[], waitedMs: number) => void;
}

/**
 * Repeats the checks until every one is allowed; resolves with how long it waited. Network errors and
 * any HTTP status count as "not yet" (a new API server and new grants both settle within minutes); after
 * the bound it throws ClusterAccessError naming the denials and the likely causes.
 */
export async function waitForClusterAccess(
  post: KubePost,
  checks: readonly AccessCheck[],
  options: WaitOptions,
): Promise<{ readonly attempts: number; readonly waitedMs: number }> {
  const { attempts, waitedMs, pending } = await pollUntilReady(
    async () => {
      try {
        return await deniedChecks(post, checks);
      } catch (error) {
        return [`the API server did not answer (${error instanceof Error ? error.message : String(error)})`];
      }
    },
    {
      clock: options.clock ?? clusterAccessEnvironment.clock,
      timeoutMs: options.timeoutMs ?? ACCESS_WAIT_TIMEOUT_MS,
      intervalMs: options.intervalMs ?? ACCESS_POLL_INTERVAL_MS,
      onWait: options.onWait,
    },
  );
  if (pending.length > 0)
    throw new ClusterAccessError(
      `The Kubernetes API server still refuses the deployer (${options.principal}) after ` +
        `${Math.round(waitedMs / 1000)} s and ${attempts} attempts: ${pending.join("; ")}. Azure documents up to ` +
        `five minutes for a role assignment to reach an AKS cluster. Check: the deployer holds "Azure Kubernetes ` +
        `Service RBAC Cluster Admin" on the cluster (az role assignment list --scope <cluster id> --assignee ` +
        `${options.principal}); the config key deployerObjectId names the identity that runs pulumi up; this ` +
        `machine's address is inside apiServerAuthorizedIpRanges. Nothing on the cluster was created; run ` +
        `pulumi up again once the grant shows.`,
    );
  return { attempts, waitedMs };
}
