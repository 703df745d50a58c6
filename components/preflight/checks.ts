/**
 * The preflight's checks, pure over ARM response bodies (parsed JSON), so each refusal is testable
 * with a recorded response. Shapes, as the Azure REST reference documents them
 * (Azure/azure-rest-api-specs, checked 2026-12-01):
 * - Providers_List (Microsoft.Resources 2021-04-01): `{ value: [{ namespace, registrationState }] }`;
 * - Usage_List (Microsoft.Compute 2024-07-01): `{ value: [{ name: { value, localizedValue },
 *   currentValue, limit, unit: "Count" }] }`, `name.value` being a VM family such as
 *   `standardNCASv3_T4Family`, or `cores` for "Total Regional vCPUs";
 * - ResourceSkus_List (Microsoft.Compute 2021-07-01, `$filter=location eq '<region>'`):
 *   `{ value: [{ resourceType: "virtualMachines", name, family, locations, capabilities: [{ name:
 *   "vCPUs", value }], restrictions: [{ type: "Location" | "Zone", values, reasonCode }] }] }`;
 *   a `Location` restriction makes the size unusable in the region, a `Zone` one only in those zones
 *   (this program asks for no zones);
 * - ManagedClusters_ListKubernetesVersions (Microsoft.ContainerService 2025-09-01,
 *   examples/KubernetesVersions_List.json): `{ values: [{ version, isPreview?, isDefault?,
 *   capabilities: { supportPlan: ["KubernetesOfficial" | "AKSLongTermSupport"] }, patchVersions:
 *   { "<patch>": { upgrades } } }] }`.
 * Each failure is one line: what, the numbers, and the fix.
 */

type Json = Readonly<Record<string, unknown>>;

const asObject = (value: unknown): Json =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : {};
const asList = (value: unknown): readonly unknown[] => (Array.isArray(value) ? value : []);
const asText = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
// Usage numbers arrive as JSON numbers from ARM (the CLI prints strings); accept both, nothing else.
const asCount = (value: unknown): number | undefined => {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && /^\d+$/.test(value)) return Number(value);
  return undefined;
};
const eqi = (a: string | undefined, b: string): boolean =>
  a !== undefined && a.toLowerCase() === b.toLowerCase();

/**
 * The resource providers this stack's resources belong to. Microsoft.Monitor (the Azure Monitor workspace
 * for managed Prometheus), Microsoft.AlertsManagement (its Prometheus rule groups), Microsoft.ManagedIdentity
 * (the model identity and its federated credential) were missing until issue 21; an unregistered one fails
 * `pulumi up` after the cluster is built (MissingSubscriptionRegistration).
 */
export const REQUIRED_PROVIDERS = [
  "Microsoft.ContainerService",
  "Microsoft.MachineLearningServices",
  "Microsoft.KubernetesConfiguration",
  "Microsoft.ContainerRegistry",
  "Microsoft.KeyVault",
  "Microsoft.Storage",
  "Microsoft.OperationalInsights",
  "Microsoft.Insights",
  "Microsoft.Monitor",
  "Microsoft.AlertsManagement",
  "Microsoft.ManagedIdentity",
] as const;

/** Microsoft.Dashboard (Azure Managed Grafana): needed only with managedGrafana on. */
export const GRAFANA_PROVIDER = "Microsoft.Dashboard";

export function checkProviders(
  body: unknown,
  subscriptionId: string,
  required: readonly string[] = REQUIRED_PROVIDERS,
): string[] {
  const states = new Map<string, string>();
  for (const entry of asList(asObject(body).value)) {
    const namespace = asText(asObject(entry).namespace);
    if (namespace !== undefined)
      states.set(namespace.toLowerCase(), asText(asObject(entry).registrationState) ?? "Unknown");
  }
  return required.flatMap((namespace) => {
    const state = states.get(namespace.toLowerCase()) ?? "NotRegistered";
    if (state === "Registered") return [];
    return [
      `resource provider ${namespace} is ${state} in subscription ${subscriptionId}, so its resources ` +
        `cannot be created. Fix: az provider register --namespace ${namespace} ` +
        `(then wait until az provider show -n ${namespace} --query registrationState says Registered)`,
    ];
  });
}

/** What the preflight needs to know of one VM size in the region. */
export interface OfferedSize {
  readonly name: string;
  readonly family: string | undefined;
  readonly vCpus: number | undefined;
}

/** A pool as the preflight sees it: size, nodes, and the extra nodes an upgrade may surge. */
export interface PoolDemand {
  readonly role: "GPU pool" | "system pool";
  readonly vmSize: string;
  readonly nodeCount: number;
  readonly surgeNodes: number;
  /** Config key that sets the size, for the fix. */
  readonly sizeKey: string;
}

/** Looks the pool's size up in the SKU list: a failure line, or what the quota check needs. */
export function checkSku(
  body: unknown,
  pool: PoolDemand,
  location: string,
): { failure?: string; size?: OfferedSize } {
  const sku = asList(asObject(body).value)
    .map(asObject)
    .find((s) => eqi(asText(s.resourceType), "virtualMachines") && eqi(asText(s.name), pool.vmSize));
  const listIt = `az vm list-skus --location ${location} --size ${pool.vmSize} --all -o table`;
  if (sku === undefined || !asList(sku.locations).some((l) => eqi(asText(l), location))) {
    return {
      failure:
        `${pool.role} VM size ${pool.vmSize} is not offered in ${location}. Fix: choose a region that offers ` +
        `it (pulumi config set location <region>; check with ${listIt}) or another size (pulumi config set ` +
        `${pool.sizeKey} <size>)`,
    };
  }
  const blocking = asList(sku.restrictions)
    .map(asObject)
    .filter(
      (r) =>
        eqi(asText(r.type), "Location") &&
        [...asList(r.values), ...asList(asObject(r.restrictionInfo).locations)].some((l) =>
          eqi(asText(l), location),
        ),
    );
  if (blocking.length > 0) {
    const reasons = [...new Set(blocking.map((r) => asText(r.reasonCode) ?? "unknown reason"))].join(", ");
    return {
      failure:
        `${pool.role} VM size ${pool.vmSize} is restricted in ${location} for this subscription (${reasons}), ` +
        `so no node of it can be created. Fix: request access (Azure portal: Help + support > new support ` +
        `request > "Service and subscription limits (quotas)" > region access for ${pool.vmSize} in ${location}), ` +
        `or pick another region or size (${listIt})`,
    };
  }
  const vCpus = asCount(
    asList(sku.capabilities)
      .map(asObject)
      .find((c) => asText(c.name) === "vCPUs")?.value,
  );
  return { size: { name: pool.vmSize, family: asText(sku.family), vCpus } };
}

/** vCPUs this stack's cluster already holds per quota name, so a re-run does not count itself twice. */
export type HeldVcpus = ReadonlyMap<string, number>;

interface QuotaNeed {
  readonly quota: string;
  readonly vCpus: number;
  readonly parts: string[];
}

function needsOf(pools: readonly { pool: PoolDemand; size: OfferedSize }[]): QuotaNeed[] {
  const byQuota = new Map<string, QuotaNeed>();
  const add = (quota: string, vCpus: number, part: string): void => {
    const need = byQuota.get(quota) ?? { quota, vCpus: 0, parts: [] };
    byQuota.set(quota, { quota, vCpus: need.vCpus + vCpus, parts: [...need.parts, part] });
  };
  for (const { pool, size } of pools) {
    if (size.vCpus === undefined) continue;
    const nodes = pool.nodeCount + pool.surgeNodes;
    const part =
      `${pool.role} ${pool.nodeCount} × ${size.vCpus}` +
      (pool.surgeNodes > 0 ? ` + ${pool.surgeNodes} surge × ${size.vCpus}` : "");
    if (size.family !== undefined) add(size.family, nodes * size.vCpus, part);
    add("cores", nodes * size.vCpus, part);
  }
  return [...byQuota.values()];
}

/**
 * Every quota (each VM family, and the regional total) must have room for the pools plus their
 * upgrade surge, counting what this stack's own cluster already uses as available to it.
 */
export function checkQuotas(
  body: unknown,
  pools: readonly { pool: PoolDemand; size: OfferedSize }[],
  location: string,
  held: HeldVcpus,
): string[] {
  const usages = asList(asObject(body).value).map(asObject);
  return needsOf(pools).flatMap((need) => {
    const usage = usages.find((u) => eqi(asText(asObject(u.name).value), need.quota));
    const label = asText(asObject(usage?.name).localizedValue) ?? need.quota;
    const limit = asCount(usage?.limit);
    const used = asCount(usage?.currentValue);
    const request =
      `request a limit of at least ${need.vCpus + (used ?? 0) - (held.get(need.quota) ?? 0)} for ` +
      `"${label}" in ${location} (Azure portal: Quotas > Compute, or az quota update --resource-name ` +
      `${need.quota} --scope /subscriptions/<subscription>/providers/Microsoft.Compute/locations/${location} ` +
      `--limit-object value=<new limit> --resource-type dedicated)`;
    if (limit === undefined || used === undefined) {
      return [
        `vCPU quota "${label}" (${need.quota}) is not reported for ${location}, so ${need.vCpus} vCPUs ` +
          `(${need.parts.join(", ")}) cannot be checked. Fix: ${request}`,
      ];
    }
    const available = limit - used + (held.get(need.quota) ?? 0);
    if (available >= need.vCpus) return [];
    return [
      `vCPU quota "${label}" (${need.quota}) in ${location} is short: needed ${need.vCpus} ` +
        `(${need.parts.join(", ")}), available ${available} (limit ${limit}, in use ${used}` +
        `${held.has(need.quota) ? `, of which this stack's cluster ${held.get(need.quota)}` : ""}). Fix: ${request}`,
    ];
  });
}

/** The Kubernetes version must be one AKS offers in the region on the Free tier's support plan. */
export function checkKubernetesVersion(body: unknown, wanted: string, location: string): string[] {
  const versions = asList(asObject(body).values).map(asObject);
  const minor = wanted.split(".").slice(0, 2).join(".");
  const official = (v: Json): boolean =>
    asList(asObject(v.capabilities).supportPlan).some((p) => p === "KubernetesOfficial");
  const offered = versions
    .filter((v) => official(v) && v.isPreview !== true)
    .map((v) => asText(v.version) ?? "")
    .filter((v) => v !== "");
  const fix = (): string => {
    const newest = [...offered].sort((a, b) => Number(a.split(".")[1]) - Number(b.split(".")[1])).pop();
    return newest === undefined
      ? `list what AKS offers with: az aks get-versions --location ${location} -o table`
      : `pulumi config set kubernetesVersion ${newest} (offered in ${location}: ${offered.join(", ")})`;
  };
  const entry = versions.find((v) => asText(v.version) === minor);
  if (entry === undefined) {
    return [`kubernetesVersion ${wanted} is not offered by AKS in ${location}. Fix: ${fix()}`];
  }
  if (entry.isPreview === true) {
    return [`kubernetesVersion ${wanted} is only in preview on AKS in ${location}. Fix: ${fix()}`];
  }
  if (!official(entry)) {
    return [
      `kubernetesVersion ${wanted} is offered in ${location} only with long-term support (AKSLongTermSupport, ` +
        `Premium tier); this stack's cluster is on the Free tier. Fix: ${fix()}`,
    ];
  }
  if (wanted !== minor && !(wanted in asObject(entry.patchVersions))) {
    const patches = Object.keys(asObject(entry.patchVersions)).join(", ");
    return [
      `kubernetesVersion ${wanted} is not a patch AKS offers in ${location} (offered for ${minor}: ${patches}). ` +
        `Fix: pulumi config set kubernetesVersion ${minor} (AKS then picks its latest patch)`,
    ];
  }
  return [];
}

/**
 * The AKS Kubernetes release calendar (learn.microsoft.com/azure/aks/supported-kubernetes-versions, "AKS
 * Kubernetes release calendar"; AKS supports a GA minor for 12 months; checked December 2026): the month
 * each minor reaches end of life on the Free tier's standard support. ARM's version list has no dates, so
 * they are kept here; a minor missing from the table is not judged. Update it with each AKS GA.
 */
export const AKS_END_OF_LIFE: Readonly<Record<string, string>> = {
  "1.35": "2027-03",
  "1.36": "2027-06",
  "1.37": "2027-10",
};

/** Warn this many days before a minor's end of life. */
export const END_OF_LIFE_WARNING_DAYS = 90;

const monthName = (yearMonth: string): string =>
  new Date(`${yearMonth}-01T00:00:00Z`).toLocaleString("en-US", {
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  });

/**
 * The calendar check at preview (issue 21, finding 8): notes (not failures) when the chosen minor reaches
 * end of life within END_OF_LIFE_WARNING_DAYS, or when AKS offers a GA minor in the region whose support
 * lasts longer. A minor already past its end of life is a failure.
 */
export function checkKubernetesCalendar(
  body: unknown,
  wanted: string,
  location: string,
  today: Date,
): { failures: string[]; notes: string[] } {
  const minor = wanted.split(".").slice(0, 2).join(".");
  const endOfLife = AKS_END_OF_LIFE[minor];
  if (endOfLife === undefined) return { failures: [], notes: [] };
  const end = new Date(`${endOfLife}-01T00:00:00Z`);
  const official = (v: Json): boolean =>
    asList(asObject(v.capabilities).supportPlan).some((p) => p === "KubernetesOfficial") &&
    v.isPreview !== true;
  const longer = asList(asObject(body).values)
    .map(asObject)
    .filter(official)
    .map((v) => asText(v.version) ?? "")
    .filter((v) => AKS_END_OF_LIFE[v] !== undefined && AKS_END_OF_LIFE[v] > endOfLife)
    .sort((a, b) => AKS_END_OF_LIFE[a].localeCompare(AKS_END_OF_LIFE[b]))
    .pop();
  const switchTo =
    longer === undefined
      ? ""
      : ` Fix: pulumi config set kubernetesVersion ${longer} (offered in ${location}, supported until ${monthName(AKS_END_OF_LIFE[longer])})`;
  if (today >= end)
    return {
      failures: [
        `kubernetesVersion ${wanted} reached its AKS end of life in ${monthName(endOfLife)}.${switchTo}`,
      ],
      notes: [],
    };
  const daysLeft = Math.floor((end.getTime() - today.getTime()) / 86_400_000);
  const notes: string[] = [];
  if (daysLeft <= END_OF_LIFE_WARNING_DAYS)
    notes.push(
      `Kubernetes ${minor} reaches its AKS end of life in ${monthName(endOfLife)} (${daysLeft} days).${switchTo}`,
    );
  else if (longer !== undefined)
    notes.push(
      `Kubernetes ${minor} is supported until ${monthName(endOfLife)}; ${longer} until ${monthName(AKS_END_OF_LIFE[longer])}.${switchTo}`,
    );
  return { failures: [], notes };
}

/**
 * vCPUs this stack's existing cluster (found by its tags in ManagedClusters_List) holds per family and
 * in total, from the cluster's agentPoolProfiles and the SKU list.
 */
export function heldByCluster(
  clusters: unknown,
  skus: unknown,
  tags: Readonly<Record<string, string>>,
  location: string,
): HeldVcpus {
  const held = new Map<string, number>();
  const mine = asList(asObject(clusters).value)
    .map(asObject)
    .find(
      (c) =>
        eqi(asText(c.location), location) &&
        Object.entries(tags).every(([key, value]) => asObject(c.tags)[key] === value),
    );
  if (mine === undefined) return held;
  for (const profile of asList(asObject(mine.properties).agentPoolProfiles).map(asObject)) {
    const vmSize = asText(profile.vmSize);
    const count = asCount(profile.count) ?? 0;
    if (vmSize === undefined || count === 0) continue;
    const found = checkSku(
      skus,
      { role: "GPU pool", vmSize, nodeCount: count, surgeNodes: 0, sizeKey: "" },
      location,
    );
    if (found.size?.vCpus === undefined) continue;
    const vCpus = count * found.size.vCpus;
    if (found.size.family !== undefined)
      held.set(found.size.family, (held.get(found.size.family) ?? 0) + vCpus);
    held.set("cores", (held.get("cores") ?? 0) + vCpus);
  }
  return held;
}
