/**
 * ScoringService: what the seed's `Model.deploy(... AksWebservice.deploy_configuration(num_replicas=3,
 * cpu_cores=2, memory_gb=4))` created, as plain Kubernetes objects: a namespace, the key Secret, a
 * GPU Deployment, a disruption budget and a ClusterIP Service, published only through the entry
 * point's HTTPS listener by an HTTPRoute (entryPoint.ts) and closed by network policies
 * (networkPolicy.ts). As in Gateway API's role model, the app owns its route; the entry point owns the Gateway.
 *
 * The pods follow the app contract (DESIGN.md): port 5001, GET / for liveness, GET /ready for
 * readiness, keys in SCORING_PRIMARY_KEY / SCORING_SECONDARY_KEY, uid 10001, writes only to /tmp,
 * drains for DRAIN_SECONDS after SIGTERM.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  APP_ENV,
  APP_PORT,
  APP_PORT_NAME,
  APP_UID,
  GPU_TOLERATION,
  METRICS_PORT,
  METRICS_PORT_NAME,
  MODEL_CREDENTIAL_IN_CLUSTER,
  MODEL_DIRS,
  MODEL_ENV,
  PUBLIC_ROUTES,
  SCORING_SERVICE_ACCOUNT,
  WORKLOAD_IDENTITY,
  WRITABLE_PATH,
} from "./appContract";
import type { ServingSettings } from "./config";
import {
  type AppAuth,
  type AppCapture,
  annotationsOf,
  CANDIDATE_SERVICE_NAME,
  type ModelVersions,
  type ObjectMetadata,
  routeBackends,
  slotLabels,
  versionDeploymentArgs,
} from "./modelVersions";
import { networkPolicies, scoringNamespacePolicies } from "./networkPolicy";
import { rolloutStrategy, terminationGraceSeconds } from "./rollout";
import { generateScoringKeys } from "./scoringKeys";
import { podResources, probes, servingEnv } from "./servingKnobs";

export { cpuQuantity, memoryQuantity } from "./servingKnobs";

/** The scoring Service's name (fixed, so routes and the README's commands can name it). */
export const SCORING_SERVICE_NAME = "scoring";
/** The scoring container's name (the autoscaler's CPU trigger names it: autoscaling.ts). */
export const SCORING_CONTAINER = "scoring";
/** The Service's port the route targets. */
export const SCORING_SERVICE_PORT = 80;
/** Sent on every public answer: browsers and clients that honour it never try plain HTTP again. */
export const HSTS_HEADER = { name: "Strict-Transport-Security", value: "max-age=31536000" } as const;

/** How long `pulumi up` waits for the scoring pods to become ready (first image pull included). */
export const DEPLOYMENT_READY_TIMEOUT_SECONDS = 40 * 60;
const DEPLOYMENT_READY_TIMEOUT = `${DEPLOYMENT_READY_TIMEOUT_SECONDS / 60}m`;

/** The registered model version the pods fetch at start (mlWorkspace.ts), and who they fetch it as. */
export interface ScoringModel {
  /** The https URL of the version's file in the models container. */
  readonly blobUrl: pulumi.Input<string>;
  /** Recorded at registration; the pod refuses any other bytes. */
  readonly sha256: string;
  readonly sizeBytes: number;
  /** The workload identity's client id (modelIdentity.ts), annotated on the service account. */
  readonly identityClientId: pulumi.Input<string>;
}

/** The pod's model-source variables: a new version or file changes them, which rolls the Deployment. */
export function modelEnv(model: ScoringModel): k8s.types.input.core.v1.EnvVar[] {
  return [
    { name: MODEL_ENV.uri, value: model.blobUrl },
    { name: MODEL_ENV.sha256, value: model.sha256 },
    { name: MODEL_ENV.sizeBytes, value: String(model.sizeBytes) },
    { name: MODEL_ENV.credential, value: MODEL_CREDENTIAL_IN_CLUSTER },
    { name: MODEL_ENV.downloadDir, value: MODEL_DIRS.download },
  ];
}

/** The model volume's limit: the file and, while a bad copy is replaced, a second one, plus slack. */
export function modelVolumeSize(sizeBytes: number): string {
  return `${Math.ceil((2 * sizeBytes) / 2 ** 20) + 64}Mi`;
}

/** Request telemetry to Application Insights (app: scoring/observability/tracing.py); absent: the pods send none. */
export interface ScoringTelemetry {
  /** Application Insights' connection string; stored only in the telemetry Secret. */
  readonly connectionString: pulumi.Input<string>;
  /** Share of requests sent, in (0, 1]. */
  readonly sampleRatio: number;
}

export interface ScoringServiceArgs {
  readonly namespace: string;
  readonly imageRef: pulumi.Input<string>;
  readonly replicas: number;
  /**
   * Replicas follow load (autoscaling.ts): the current version's Deployment then declares no replica
   * count, so `pulumi up` never resets what the autoscaler chose; `replicas` and `poolGpus` are the
   * autoscaler's maximum.
   */
  readonly autoscaled?: boolean;
  /** Per-request limits, probes and CPU/memory limits (the seed's serving knobs). */
  readonly serving: ServingSettings;
  readonly gpusPerReplica: number;
  readonly cpuPerReplica: number;
  readonly memoryGiBPerReplica: number;
  /** GPUs the whole pool offers: decides whether a rollout may surge. */
  readonly poolGpus: number;
  readonly gpuNodeSelector: pulumi.Input<Record<string, string>>;
  readonly primaryKeyVersion: number;
  readonly secondaryKeyVersion: number;
  readonly preStopSeconds: number;
  readonly drainSeconds: number;
  /** Must exist before pods can start, though nothing of theirs flows into the pods (GPU nodes, pull grant, device plugin). */
  readonly startAfter: pulumi.Input<pulumi.Resource>[];
  readonly model: ScoringModel;
  readonly telemetry?: ScoringTelemetry;
  /**
   * The version slots (modelVersions.ts): the current one is `model`; a candidate runs its own Deployment
   * and Service behind the same route. Undefined: the current version alone, with no slot variables.
   */
  readonly versions?: ModelVersions;
  /** What callers present (keys, Entra ID tokens or both); undefined: keys. */
  readonly auth?: AppAuth;
  /** Model data collection; undefined: off. */
  readonly capture?: AppCapture;
  /** The config's tags (labels), properties and description (annotations) for the Kubernetes objects. */
  readonly metadata?: ObjectMetadata;
  /** The public entry point this service is published through. */
  readonly publicEntry: {
    /** The name clients use (the certificate's name). */
    readonly hostname: pulumi.Input<string>;
    readonly gateway: { readonly name: string; readonly namespace: string; readonly sectionName: string };
    /** The Gateway and its CRDs: the route waits for them. */
    readonly ready: pulumi.Input<pulumi.Resource>[];
    /** Whether /swagger.json is routed publicly. */
    readonly publicSwagger: boolean;
  };
}

export class ScoringService extends pulumi.ComponentResource {
  readonly namespaceName: pulumi.Output<string>;
  readonly serviceName: pulumi.Output<string>;
  readonly scoringUri: pulumi.Output<string>;
  readonly swaggerUri: pulumi.Output<string>;
  readonly v2BaseUri: pulumi.Output<string>;
  readonly primaryKey: pulumi.Output<string>;
  readonly secondaryKey: pulumi.Output<string>;
  /** The current version's Deployment name, which the autoscaler targets. */
  readonly deploymentName: pulumi.Output<string>;

  constructor(name: string, args: ScoringServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpu-inference-aks:service:ScoringService", name, {}, opts);
    const parent = { parent: this };
    const labels = { "app.kubernetes.io/name": "scoring", "app.kubernetes.io/part-of": "gpu-inference-aks" };

    const ns = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      {
        metadata: {
          name: args.namespace,
          // The pods below meet the "restricted" Pod Security Standard; enforce it for anything else here too.
          labels: {
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
          },
        },
      },
      parent,
    );
    const namespace = ns.metadata.name;

    const keys = generateScoringKeys(name, args.primaryKeyVersion, args.secondaryKeyVersion, this);
    const secret = new k8s.core.v1.Secret(
      `${name}-keys`,
      {
        metadata: { namespace, labels },
        type: "Opaque",
        stringData: { primaryKey: keys.primaryKey, secondaryKey: keys.secondaryKey },
      },
      parent,
    );
    const keyEnv = (envName: string, key: string): k8s.types.input.core.v1.EnvVar => ({
      name: envName,
      valueFrom: { secretKeyRef: { name: secret.metadata.name, key } },
    });
    const telemetryEnv = args.telemetry ? this.telemetryEnv(name, namespace, labels, args.telemetry) : [];

    // The pods' identity for AKS workload identity (modelIdentity.ts federates this exact account). The
    // webhook projects its own short-lived token for Entra ID; no Kubernetes API token is mounted.
    const serviceAccount = new k8s.core.v1.ServiceAccount(
      `${name}-service-account`,
      {
        metadata: {
          name: SCORING_SERVICE_ACCOUNT,
          namespace,
          labels,
          annotations: { [WORKLOAD_IDENTITY.clientIdAnnotation]: args.model.identityClientId },
        },
        automountServiceAccountToken: false,
      },
      parent,
    );

    const strategy = rolloutStrategy(args.poolGpus, args.replicas, args.gpusPerReplica);
    const resources = podResources({
      gpus: args.gpusPerReplica,
      cpu: args.cpuPerReplica,
      memoryGiB: args.memoryGiBPerReplica,
      cpuLimit: args.serving.cpuLimit,
      memoryLimitGiB: args.serving.memoryLimitGiB,
    });

    const deployments = this.versionDeployments(
      `${name}-deployment`,
      args,
      {
        metadata: {
          namespace,
          labels,
          // pulumi-kubernetes waits 10 minutes for a Deployment to become ready by default. A first rollout
          // on new GPU nodes pulls the multi-gigabyte CUDA image on every node, then loads and warms the
          // model, which can take longer; a slow first pull must not fail `pulumi up`. The provider reads
          // this annotation when no customTimeouts are given (provider/pkg/metadata TimeoutDuration).
          annotations: { "pulumi.com/timeoutSeconds": String(DEPLOYMENT_READY_TIMEOUT_SECONDS) },
        },
        spec: {
          ...(args.autoscaled ? {} : { replicas: args.replicas }),
          selector: { matchLabels: labels },
          strategy: { type: "RollingUpdate", rollingUpdate: strategy },
          template: {
            metadata: {
              // The workload identity label is on the pods only, not in the selector (immutable on a Deployment).
              labels: { ...labels, [WORKLOAD_IDENTITY.useLabel]: "true" },
              // Pods read the keys once at start, so a rotated key must roll them.
              annotations: {
                "scoring/key-versions": `primary=${args.primaryKeyVersion},secondary=${args.secondaryKeyVersion}`,
              },
            },
            spec: {
              automountServiceAccountToken: false,
              serviceAccountName: serviceAccount.metadata.name,
              enableServiceLinks: false,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: APP_UID,
                runAsGroup: APP_UID,
                fsGroup: APP_UID,
                seccompProfile: { type: "RuntimeDefault" },
              },
              nodeSelector: args.gpuNodeSelector,
              tolerations: [{ ...GPU_TOLERATION }],
              // One pod per node where possible; matchLabelKeys scopes the skew to one ReplicaSet, so old
              // pods of a rollout never block new ones.
              topologySpreadConstraints: [
                {
                  maxSkew: 1,
                  topologyKey: "kubernetes.io/hostname",
                  whenUnsatisfiable: "DoNotSchedule",
                  labelSelector: { matchLabels: labels },
                  matchLabelKeys: ["pod-template-hash"],
                },
              ],
              terminationGracePeriodSeconds: terminationGraceSeconds(args.preStopSeconds, args.drainSeconds),
              containers: [
                {
                  name: SCORING_CONTAINER,
                  image: args.imageRef,
                  imagePullPolicy: "IfNotPresent",
                  ports: [
                    { name: APP_PORT_NAME, containerPort: APP_PORT },
                    { name: METRICS_PORT_NAME, containerPort: METRICS_PORT },
                  ],
                  env: [
                    { name: APP_ENV.port, value: String(APP_PORT) },
                    { name: APP_ENV.metricsPort, value: String(METRICS_PORT) },
                    { name: APP_ENV.modelDir, value: MODEL_DIRS.serve },
                    ...modelEnv(args.model),
                    { name: APP_ENV.device, value: "cuda" },
                    { name: APP_ENV.authEnabled, value: "true" },
                    { name: APP_ENV.drainSeconds, value: String(args.drainSeconds) },
                    ...servingEnv(args.serving),
                    keyEnv(APP_ENV.primaryKey, "primaryKey"),
                    keyEnv(APP_ENV.secondaryKey, "secondaryKey"),
                    ...telemetryEnv,
                  ],
                  // Requests equal limits (Guaranteed QoS) unless the stack asks for larger limits.
                  resources,
                  ...probes(args.serving),
                  // Keep serving while the load balancer and kube-proxy stop routing here, then SIGTERM.
                  lifecycle: { preStop: { sleep: { seconds: args.preStopSeconds } } },
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    privileged: false,
                    capabilities: { drop: ["ALL"] },
                  },
                  // One model volume, two views: the app writes the verified file through `download`, the
                  // entry script reads it read-only at MODEL_DIR.
                  volumeMounts: [
                    { name: "tmp", mountPath: WRITABLE_PATH },
                    { name: "model", mountPath: MODEL_DIRS.download },
                    { name: "model", mountPath: MODEL_DIRS.serve, readOnly: true },
                  ],
                },
              ],
              volumes: [
                { name: "tmp", emptyDir: { sizeLimit: "1Gi" } },
                { name: "model", emptyDir: { sizeLimit: modelVolumeSize(args.model.sizeBytes) } },
              ],
            },
          },
        },
      },
      {
        parent: this,
        dependsOn: args.startAfter,
        // See the pulumi.com/timeoutSeconds annotation above: the same wait, as a resource option.
        customTimeouts: { create: DEPLOYMENT_READY_TIMEOUT, update: DEPLOYMENT_READY_TIMEOUT },
      },
    );
    const candidate = args.versions?.candidate;
    const candidateLabels = slotLabels(labels, "candidate");
    const objectMetadata = args.metadata ?? { labels: {}, annotations: {} };

    new k8s.policy.v1.PodDisruptionBudget(
      `${name}-pdb`,
      {
        metadata: { namespace, labels },
        // Node drains and upgrades take at most one scoring pod at a time.
        spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
      },
      parent,
    );

    // Cluster-internal only: the entry point's proxies reach it; the metrics port is for the scraper.
    const service = new k8s.core.v1.Service(
      `${name}-service`,
      scoringServiceArgs(SCORING_SERVICE_NAME, namespace, labels, objectMetadata, { metricsPort: true }),
      parent,
    );

    networkPolicies(
      name,
      namespace,
      scoringNamespacePolicies({ podLabels: labels, entryNamespace: args.publicEntry.gateway.namespace }),
      parent,
    );
    if (candidate !== undefined) {
      this.candidateObjects(
        name,
        namespace,
        candidateLabels,
        args.publicEntry.gateway.namespace,
        objectMetadata,
      );
    }

    // The public routes: exact paths and the v2 prefix, to the Service's http port only (never metrics).
    const { hostname, gateway } = args.publicEntry;
    const backends = routeBackends(service.metadata.name, SCORING_SERVICE_PORT, args.versions);
    const paths = [
      ...PUBLIC_ROUTES.exact.map((value) => ({ path: { type: "Exact", value } })),
      ...(args.publicEntry.publicSwagger ? [{ path: { type: "Exact", value: PUBLIC_ROUTES.swagger } }] : []),
      ...PUBLIC_ROUTES.prefix.map((value) => ({ path: { type: "PathPrefix", value } })),
    ];
    new k8s.apiextensions.CustomResource(
      `${name}-route`,
      {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: {
          name: "scoring",
          namespace,
          labels: { ...objectMetadata.labels, ...labels },
          ...annotationsOf(objectMetadata),
        },
        spec: {
          parentRefs: [
            { name: gateway.name, namespace: gateway.namespace, sectionName: gateway.sectionName },
          ],
          hostnames: [hostname],
          rules: [
            {
              matches: paths,
              filters: [
                { type: "ResponseHeaderModifier", responseHeaderModifier: { set: [{ ...HSTS_HEADER }] } },
                ...backends.filters,
              ],
              backendRefs: backends.backendRefs,
            },
          ],
        },
      },
      // Weight moves to a version only once its Deployment is ready (pulumi-kubernetes waits for the
      // rollout); a removed version's Deployment is deleted after the route stopped naming it.
      { parent: this, dependsOn: [...args.publicEntry.ready, ...deployments] },
    );

    this.namespaceName = namespace;
    this.serviceName = service.metadata.name;
    const base = pulumi.interpolate`https://${hostname}`;
    this.scoringUri = pulumi.interpolate`${base}/score`;
    this.swaggerUri = pulumi.interpolate`${base}${PUBLIC_ROUTES.swagger}`;
    this.v2BaseUri = pulumi.interpolate`${base}/v2`;
    this.primaryKey = keys.primaryKey;
    this.secondaryKey = keys.secondaryKey;
    this.deploymentName = deployments[0].metadata.name;
    this.registerOutputs({ scoringUri: this.scoringUri, swaggerUri: this.swaggerUri });
  }

  /**
   * One Deployment per version slot, each from the same base spec (the current slot's, written above) by
   * modelVersions.ts's versionDeploymentArgs; the current slot keeps the resource name it always had.
   */
  private versionDeployments(
    resourceName: string,
    args: ScoringServiceArgs,
    base: k8s.apps.v1.DeploymentArgs,
    opts: pulumi.CustomResourceOptions,
  ): k8s.apps.v1.Deployment[] {
    const versions = args.versions;
    if (versions === undefined) return [new k8s.apps.v1.Deployment(resourceName, base, opts)];
    const extras = {
      auth: args.auth ?? { mode: "keys" as const },
      capture: args.capture,
      metadata: args.metadata ?? { labels: {}, annotations: {} },
      modelVolumeSize,
    };
    const slots =
      versions.candidate === undefined ? [versions.current] : [versions.current, versions.candidate];
    return slots.map(
      (slot) =>
        new k8s.apps.v1.Deployment(
          slot.slot === "current" ? resourceName : `${resourceName}-candidate`,
          versionDeploymentArgs(base, slot, extras),
          opts,
        ),
    );
  }

  /**
   * The candidate's own Service (the route's second backend), disruption budget and network policies
   * (the namespace's default deny already covers its pods; these admit the proxies, the scraper and the
   * egress the current pods have, under names of their own).
   */
  private candidateObjects(
    name: string,
    namespace: pulumi.Output<string>,
    labels: Record<string, string>,
    entryNamespace: string,
    metadata: ObjectMetadata,
  ): void {
    const parent = { parent: this };
    new k8s.policy.v1.PodDisruptionBudget(
      `${name}-pdb-candidate`,
      { metadata: { namespace, labels }, spec: { maxUnavailable: 1, selector: { matchLabels: labels } } },
      parent,
    );
    new k8s.core.v1.Service(
      `${name}-service-candidate`,
      scoringServiceArgs(CANDIDATE_SERVICE_NAME, namespace, labels, metadata, { metricsPort: false }),
      parent,
    );
    const policies = scoringNamespacePolicies({ podLabels: labels, entryNamespace })
      .filter((policy) => !policy.name.startsWith("default-deny"))
      .map((policy) => ({ ...policy, name: `${policy.name}-candidate` }));
    networkPolicies(`${name}-candidate`, namespace, policies, parent);
  }

  /**
   * The connection string in a Secret of its own (the keys' Secret rotates on its own schedule) and the
   * variables that point the app at it; the sample ratio is not secret. Its egress, HTTPS to
   * <region>.in.applicationinsights.azure.com, is within the namespace's "443 outside the cluster" rule.
   */
  private telemetryEnv(
    name: string,
    namespace: pulumi.Input<string>,
    labels: Record<string, string>,
    telemetry: ScoringTelemetry,
  ): k8s.types.input.core.v1.EnvVar[] {
    const secret = new k8s.core.v1.Secret(
      `${name}-telemetry`,
      {
        metadata: { namespace, labels },
        type: "Opaque",
        stringData: { connectionString: pulumi.secret(telemetry.connectionString) },
      },
      { parent: this },
    );
    return [
      {
        name: APP_ENV.appInsightsConnectionString,
        valueFrom: { secretKeyRef: { name: secret.metadata.name, key: "connectionString" } },
      },
      { name: APP_ENV.appInsightsSampleRatio, value: String(telemetry.sampleRatio) },
    ];
  }
}

/**
 * A version's cluster-internal Service: the entry point's proxies reach its HTTP port; the current
 * version's also names the metrics port. The scraper needs neither Service: it discovers the pods of both
 * versions by their named metrics port (scrapeConfig.ts).
 */
export function scoringServiceArgs(
  serviceName: string,
  namespace: pulumi.Input<string>,
  labels: Record<string, string>,
  metadata: ObjectMetadata,
  options: { readonly metricsPort: boolean },
): k8s.core.v1.ServiceArgs {
  return {
    metadata: {
      name: serviceName,
      namespace,
      labels: { ...metadata.labels, ...labels },
      ...annotationsOf(metadata),
    },
    spec: {
      type: "ClusterIP",
      selector: labels,
      ports: [
        { name: "http", port: SCORING_SERVICE_PORT, targetPort: APP_PORT_NAME, protocol: "TCP" },
        ...(options.metricsPort
          ? [{ name: METRICS_PORT_NAME, port: METRICS_PORT, targetPort: METRICS_PORT_NAME, protocol: "TCP" }]
          : []),
      ],
    },
  };
}
