/**
 * The images the entry point's Helm charts run, pinned by multi-architecture index digest and mirrored
 * into the project's registry (MirroredImage: `az acr import`, as the NVIDIA device plugin is), so the
 * cluster pulls nothing from docker.io or quay.io and the images-from-project-registry-by-digest policy
 * holds for these pods too. The policy pack cannot see inside a Helm release, so entryPoint.ts passes
 * each mirror's digest to the chart value that names it, and test/entryPoint.test.ts checks that every
 * image value of both releases is a project-registry reference by digest.
 *
 * The digests were not pulled here (no network). Each was found, in November-December 2026, pinned in
 * public repositories that render or run these exact tags (cert-manager v1.21.1: three independent
 * repositories agree on controller, cainjector and webhook; Envoy Gateway v1.9.1 and Envoy
 * distroless-v1.39.1: a running cluster's `kubectl get deploy -o wide` and a pinned manifest). If one were
 * wrong, its import fails at `pulumi up` instead of copying other bits.
 *
 * Not mirrored, because nothing starts them: Envoy Gateway's rate-limit image (only for a global
 * rate-limit policy; there is none). A chart upgrade changes the tags and digests here.
 */

/** cert-manager's chart version and its images (the chart's appVersion). */
export const CERT_MANAGER_VERSION = "v1.21.1";
/** Envoy Gateway's chart (gateway-helm) version; the proxy's Envoy is the release's built-in default. */
export const ENVOY_GATEWAY_VERSION = "v1.9.1";

export interface PinnedImage {
  /** Upstream reference with tag and digest. */
  readonly upstream: string;
  /** Repository path of the mirror in the project's registry. */
  readonly repository: string;
  readonly tag: string;
}

function pinned(upstream: string): PinnedImage {
  const match = /^[^/]+\/(?<repository>[^:@]+):(?<tag>[^@]+)@sha256:[0-9a-f]{64}$/.exec(upstream);
  if (match?.groups === undefined) throw new Error(`not a tag@digest reference: ${upstream}`);
  return { upstream, repository: match.groups.repository, tag: match.groups.tag };
}

export const ENTRY_POINT_IMAGES = {
  certManagerController: pinned(
    "quay.io/jetstack/cert-manager-controller:v1.21.1@sha256:416a2d76870d996460e62bd7f521bf14fa017be9e3e904aab92163a331fcb61a",
  ),
  certManagerWebhook: pinned(
    "quay.io/jetstack/cert-manager-webhook:v1.21.1@sha256:d8b3961b51c8c7320633f8208dc46bf88aa13804d0f7cbe48a096b2c523cee42",
  ),
  certManagerCainjector: pinned(
    "quay.io/jetstack/cert-manager-cainjector:v1.21.1@sha256:ccf6b919ec0500745a47a910118f834f9636d0aac1ff221245cd2557ed8c7c98",
  ),
  certManagerAcmeSolver: pinned(
    "quay.io/jetstack/cert-manager-acmesolver:v1.21.1@sha256:dbc7cc1354f603918e7c5af7f55a0a620537394452c93a565bde75c6f48e8837",
  ),
  certManagerStartupApiCheck: pinned(
    "quay.io/jetstack/cert-manager-startupapicheck:v1.21.1@sha256:d8ab6416e6e7303a86fa0a8daa82c94a8001f21c9d78eb2e7db20534e5d07ae8",
  ),
  envoyGateway: pinned(
    "docker.io/envoyproxy/gateway:v1.9.1@sha256:0049bcb384c591c6a6dd043fe5c9929ef6e74f230e12dd678d2d3701df9b301e",
  ),
  envoyProxy: pinned(
    "docker.io/envoyproxy/envoy:distroless-v1.39.1@sha256:eb2c01c13125d1629637cb4e4cce7207009fb7cc2c8027f9742758549d15b6f4",
  ),
} as const satisfies Record<string, PinnedImage>;

export type EntryPointImageKey = keyof typeof ENTRY_POINT_IMAGES;
