/**
 * Autoscaling (issue 22): the seed's `autoscale_enabled=True` on AKS. The scoring Deployment scales
 * between autoscaleMinReplicas and autoscaleMaxReplicas on its utilization (CPU against
 * autoscaleTargetUtilization) and, as Azure ML's autoscaler does, on the app's own measure of load: the
 * pods' mean in-flight requests against replicaMaxConcurrentRequests (scaledObjectSpec says why both).
 * The GPU pool's cluster autoscaler (gpuCluster.ts) follows: pending scoring pods get nodes, idle nodes go.
 *
 * Why the AKS KEDA add-on and not an HPA on custom metrics (checked December 2026):
 * - The load is in Azure Monitor managed Prometheus (monitoring.ts), outside the cluster. An HPA reads
 *   only the custom/external metrics APIs, which need an adapter serving them; AKS manages none for
 *   Prometheus, and prometheus-adapter cannot sign in to an Azure Monitor workspace (it needs an
 *   in-cluster Prometheus or an authenticating proxy, both more to run and patch).
 * - KEDA's prometheus scaler queries an Azure Monitor workspace with Entra workload identity since KEDA
 *   2.10 (learn.microsoft.com/azure/azure-monitor/containers/integrate-keda; keda.sh/docs/latest/
 *   authentication-providers/azure-ad-workload-identity), and AKS ships KEDA as a managed add-on
 *   (workloadAutoScalerProfile.keda.enabled, learn.microsoft.com/azure/aks/keda-about), upgraded with
 *   the cluster. KEDA feeds an HPA it creates: the scaling rule is still the HPA's, with its tolerance,
 *   stabilization windows and policies (stated below and simulated in test/autoscalingSimulation.test.ts).
 *
 * What is created: a user-assigned identity federated with the add-on's operator service account
 * (kube-system/keda-operator) and granted Monitoring Data Reader on the Azure Monitor workspace; a
 * TriggerAuthentication naming that identity; the ScaledObject; and, with autoscaleWarmReplicas, a
 * placeholder Deployment at a priority below the scoring pods that keeps booted GPU nodes (with the
 * scoring image pulled) ready for a scale-up.
 */
import * as authorization from "@pulumi/azure-native/authorization";
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  APP_UID,
  GPU_TOLERATION,
  SCORING_LATENCY_METRIC,
  SCORING_ROUTE_REGEX,
  WRITABLE_PATH,
} from "./appContract";
import { serviceAccountSubject, WORKLOAD_IDENTITY_AUDIENCE } from "./modelIdentity";
import { builtInRoleId } from "./roles";
import { SCORING_CONTAINER } from "./scoringService";
import { SCRAPE_JOBS } from "./scrapeConfig";
import { type PodSize, podResources } from "./servingKnobs";

/** The AKS KEDA add-on's operator: the identity KEDA's scalers authenticate as (Azure's integrate-keda page). */
export const KEDA_OPERATOR = { namespace: "kube-system", serviceAccount: "keda-operator" } as const;

/**
 * The window the scaler's rate() averages over: four scrape intervals (pods are scraped every 30 s,
 * scrapeConfig.ts), so at least two samples of every pod are in it even while the newest are still being
 * ingested, and rate() never comes back empty for a live pod.
 */
export const LOAD_WINDOW_SECONDS = 120;

/**
 * The HPA behaviour the ScaledObject states (KEDA passes it to the HPA it creates). These are the
 * Kubernetes defaults (kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale, "Default
 * Behavior", checked December 2026), written out so they are reviewable and the simulation runs the
 * same numbers: scale up at once, by at most max(100 %, 4 pods) per 15 s; scale down only to the
 * highest recommendation of the last 300 s, by up to 100 % per 15 s.
 */
export const HPA_BEHAVIOR = {
  scaleUp: {
    stabilizationWindowSeconds: 0,
    selectPolicy: "Max",
    policies: [
      { type: "Percent", value: 100, periodSeconds: 15 },
      { type: "Pods", value: 4, periodSeconds: 15 },
    ],
  },
  scaleDown: {
    stabilizationWindowSeconds: 300,
    selectPolicy: "Max",
    policies: [{ type: "Percent", value: 100, periodSeconds: 15 }],
  },
} as const;

/** The HPA's tolerance: no change while the load is within 10 % of the target (kube-controller-manager default). */
export const HPA_TOLERANCE = 0.1;

/** Below the scoring pods (priority 0) yet above the cluster autoscaler's expendable cutoff (-10). */
export const WARM_PLACEHOLDER_PRIORITY = -1;

/** The PromQL the scaler runs: the scoring pods' mean in-flight scoring requests, summed over pods. */
export function loadQuery(namespace: string): string {
  return (
    `sum(rate(${SCORING_LATENCY_METRIC}_sum{job="${SCRAPE_JOBS.scoring}",namespace="${namespace}",` +
    `route=~"${SCORING_ROUTE_REGEX}"}[${LOAD_WINDOW_SECONDS}s]))`
  );
}

export interface ScalingPolicy {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly refreshSeconds: number;
  readonly maxConcurrentRequests: number;
  readonly targetUtilization: number;
}

/**
 * The ScaledObject's spec (keda.sh/v1alpha1), pure so the test reads exactly what is applied. Two
 * triggers; the HPA follows whichever asks for more pods:
 * - CPU at `targetUtilization` % of the pod's request (metrics-server, read every 15 s). The pod is
 *   CPU-bound (the GPU runs the model far faster than 2 cores can parse requests), so its CPU grows in
 *   proportion to its load, which is what the HPA's rule assumes; this trigger holds the count steady.
 * - The pods' mean in-flight requests (managed Prometheus) against replicaMaxConcurrentRequests per pod:
 *   past it requests wait for a slot, and those refused after waiting count too, so an overload reads
 *   as high as it is and the count jumps at once rather than by the CPU trigger's 1.1x steps.
 * In-flight requests alone at Azure ML's concurrency × utilization flap on this pod: they grow faster
 * than its load (bench/RESULTS.md, docs/autoscaling.md, test/autoscalingSimulation.test.ts).
 */
export function scaledObjectSpec(
  policy: ScalingPolicy,
  namespace: string,
  deploymentName: pulumi.Input<string>,
  prometheusQueryEndpoint: pulumi.Input<string>,
  authenticationName: pulumi.Input<string>,
): Record<string, unknown> {
  return {
    scaleTargetRef: { name: deploymentName },
    pollingInterval: policy.refreshSeconds,
    minReplicaCount: policy.minReplicas,
    maxReplicaCount: policy.maxReplicas,
    advanced: { horizontalPodAutoscalerConfig: { behavior: HPA_BEHAVIOR } },
    triggers: [
      {
        type: "cpu",
        metricType: "Utilization",
        metadata: { value: String(policy.targetUtilization), containerName: SCORING_CONTAINER },
      },
      {
        type: "prometheus",
        // AverageValue: the HPA wants ceil(total in-flight / threshold) pods.
        metricType: "AverageValue",
        // The HPA reads what KEDA fetched every pollingInterval instead of querying on its own 15 s clock.
        useCachedMetrics: true,
        authenticationRef: { name: authenticationName },
        metadata: {
          serverAddress: prometheusQueryEndpoint,
          query: loadQuery(namespace),
          threshold: String(policy.maxConcurrentRequests),
          // An empty answer (no pod scraped yet) is an error, not a zero. While it errs the HPA still
          // scales up on CPU, but never down (its rule for a metric it cannot read): docs/autoscaling.md.
          ignoreNullValues: "false",
        },
      },
    ],
  };
}

export interface WarmHeadroom {
  readonly replicas: number;
  readonly image: pulumi.Input<string>;
  readonly size: PodSize;
  readonly gpuNodeSelector: pulumi.Input<Record<string, string>>;
}

export interface AutoscalingArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: string;
  readonly subscriptionId: pulumi.Input<string>;
  readonly oidcIssuerUrl: pulumi.Input<string>;
  /** The Azure Monitor workspace the scoring pods' metrics go to, and its Prometheus query endpoint. */
  readonly azureMonitorWorkspaceId: pulumi.Input<string>;
  readonly prometheusQueryEndpoint: pulumi.Input<string>;
  readonly namespace: pulumi.Input<string>;
  readonly namespaceName: string;
  readonly deploymentName: pulumi.Input<string>;
  readonly policy: ScalingPolicy;
  /** Placeholder pods keeping GPU nodes warm; absent or 0 replicas: none. */
  readonly warm?: WarmHeadroom;
}

export class Autoscaling extends pulumi.ComponentResource {
  readonly identityClientId: pulumi.Output<string>;

  constructor(name: string, args: AutoscalingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpu-inference-aks:service:Autoscaling", name, {}, opts);
    const parent = { parent: this };
    const labels = {
      "app.kubernetes.io/name": "scoring-autoscaler",
      "app.kubernetes.io/part-of": "gpu-inference-aks",
    };

    const identity = new managedidentity.UserAssignedIdentity(
      `${name}-keda-identity`,
      { resourceGroupName: args.resourceGroupName, location: args.location },
      parent,
    );
    const federation = new managedidentity.FederatedIdentityCredential(
      `${name}-keda-federation`,
      {
        resourceGroupName: args.resourceGroupName,
        resourceName: identity.name,
        issuer: args.oidcIssuerUrl,
        subject: serviceAccountSubject(KEDA_OPERATOR.namespace, KEDA_OPERATOR.serviceAccount),
        audiences: [WORKLOAD_IDENTITY_AUDIENCE],
      },
      parent,
    );
    const reader = new authorization.RoleAssignment(
      `${name}-keda-metrics-reader`,
      {
        scope: args.azureMonitorWorkspaceId,
        principalId: identity.principalId,
        principalType: authorization.PrincipalType.ServicePrincipal,
        roleDefinitionId: builtInRoleId(args.subscriptionId, "MonitoringDataReader"),
      },
      parent,
    );

    const auth = new k8s.apiextensions.CustomResource(
      `${name}-trigger-auth`,
      {
        apiVersion: "keda.sh/v1alpha1",
        kind: "TriggerAuthentication",
        metadata: { name: "scoring-prometheus", namespace: args.namespace, labels },
        spec: { podIdentity: { provider: "azure-workload", identityId: identity.clientId } },
      },
      parent,
    );

    new k8s.apiextensions.CustomResource(
      `${name}-scaled-object`,
      {
        apiVersion: "keda.sh/v1alpha1",
        kind: "ScaledObject",
        metadata: { name: "scoring", namespace: args.namespace, labels },
        spec: scaledObjectSpec(
          args.policy,
          args.namespaceName,
          args.deploymentName,
          args.prometheusQueryEndpoint,
          auth.metadata.name,
        ),
      },
      // Without the grant the first queries fail and the HPA holds its count; with it they succeed.
      { parent: this, dependsOn: [federation, reader] },
    );

    if (args.warm !== undefined && args.warm.replicas > 0) this.warmHeadroom(name, args.namespace, args.warm);

    this.identityClientId = identity.clientId;
    this.registerOutputs({ identityClientId: this.identityClientId });
  }

  /**
   * The cluster autoscaler's overprovisioning pattern (kubernetes/autoscaler FAQ, "How can I configure
   * overprovisioning with Cluster Autoscaler?", checked December 2026): pods that reserve a scoring pod's
   * GPU, CPU and memory at a priority below it. The scheduler evicts one at once for a new scoring pod,
   * which then starts on a booted node with the image already pulled (the placeholder runs the scoring
   * image, idle); the evicted placeholder goes Pending and the cluster autoscaler boots a node for it in
   * the background. Its priority stays above the autoscaler's expendable cutoff (-10), or no node would
   * ever be added for it.
   */
  private warmHeadroom(name: string, namespace: pulumi.Input<string>, warm: WarmHeadroom): void {
    const labels = {
      "app.kubernetes.io/name": "scoring-warm-headroom",
      "app.kubernetes.io/part-of": "gpu-inference-aks",
    };
    const priority = new k8s.scheduling.v1.PriorityClass(
      `${name}-warm-priority`,
      {
        metadata: { labels },
        value: WARM_PLACEHOLDER_PRIORITY,
        preemptionPolicy: "Never",
        globalDefault: false,
        description:
          "Placeholder pods keeping GPU nodes warm for the scoring service; any scoring pod evicts them.",
      },
      { parent: this },
    );
    const resources = podResources(warm.size);
    new k8s.apps.v1.Deployment(
      `${name}-warm-headroom`,
      {
        metadata: { namespace, labels },
        spec: {
          replicas: warm.replicas,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              priorityClassName: priority.metadata.name,
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              // Evicted in favour of a scoring pod: nothing to drain.
              terminationGracePeriodSeconds: 0,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: APP_UID,
                runAsGroup: APP_UID,
                seccompProfile: { type: "RuntimeDefault" },
              },
              nodeSelector: warm.gpuNodeSelector,
              tolerations: [{ ...GPU_TOLERATION }],
              containers: [
                {
                  name: "placeholder",
                  image: warm.image,
                  imagePullPolicy: "IfNotPresent",
                  // The scoring image, idle: its pull is what a scale-up would otherwise wait for.
                  command: ["python3", "-c", "import signal; signal.pause()"],
                  resources,
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    privileged: false,
                    capabilities: { drop: ["ALL"] },
                  },
                  volumeMounts: [{ name: "tmp", mountPath: WRITABLE_PATH }],
                },
              ],
              volumes: [{ name: "tmp", emptyDir: { sizeLimit: "16Mi" } }],
            },
          },
        },
      },
      { parent: this },
    );
  }
}
