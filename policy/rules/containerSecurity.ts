/**
 * Every container must run as a non-root user, be unable to gain privileges, and have a read-only root
 * filesystem. Pod-level securityContext counts where Kubernetes applies it (runAsNonRoot, runAsUser).
 */
import { asArray, asBoolean, asNumber, asObject, asString } from "../lib/props";
import { type Container, containersOf, type Workload } from "../lib/workloads";

export interface ContainerSecurityConfig {
  /**
   * Image repositories (path without registry host, tag or digest, e.g. "nvidia/k8s-device-plugin")
   * allowed to run as root, from whichever registry they are pulled. Only that one check is waived:
   * such containers must still drop privilege escalation and keep a read-only root filesystem.
   */
  readonly rootAllowedRepositories: readonly string[];
}

/** "host/path/name:tag@sha256:..." -> "path/name"; a first segment with a dot or port is a registry host. */
export function repositoryOf(image: string): string {
  const withoutDigest = image.split("@")[0];
  const segments = withoutDigest.split("/");
  if (segments.length > 1 && /[.:]|^localhost$/.test(segments[0])) segments.shift();
  const path = segments.join("/");
  const tagAt = path.lastIndexOf(":");
  return tagAt > path.lastIndexOf("/") ? path.slice(0, tagAt) : path;
}

function runsAsRootPossible(container: Container, workload: Workload): boolean {
  const own = asObject(container.spec.securityContext) ?? {};
  const pod = asObject(workload.podSpec.securityContext) ?? {};
  const runAsUser = asNumber(own.runAsUser) ?? asNumber(pod.runAsUser);
  if (runAsUser === 0) return true;
  if (runAsUser !== undefined) return false;
  return (asBoolean(own.runAsNonRoot) ?? asBoolean(pod.runAsNonRoot)) !== true;
}

function canEscalate(container: Container): boolean {
  const context = asObject(container.spec.securityContext) ?? {};
  // Kubernetes forces allowPrivilegeEscalation on for privileged containers and CAP_SYS_ADMIN.
  const added = asArray(asObject(context.capabilities)?.add).map(String);
  return (
    asBoolean(context.allowPrivilegeEscalation) !== false ||
    asBoolean(context.privileged) === true ||
    added.includes("SYS_ADMIN") ||
    added.includes("CAP_SYS_ADMIN")
  );
}

export function checkContainerSecurity(workload: Workload, config: ContainerSecurityConfig): string[] {
  const problems: string[] = [];
  for (const container of containersOf(workload.podSpec)) {
    const where = `${workload.label}: container "${container.name}"`;
    const repository = repositoryOf(asString(container.spec.image) ?? "");
    const rootAllowed = config.rootAllowedRepositories.includes(repository);
    if (!rootAllowed && runsAsRootPossible(container, workload)) {
      problems.push(
        `${where} can run as root: set securityContext.runAsNonRoot: true and a non-zero runAsUser.`,
      );
    }
    if (canEscalate(container)) {
      problems.push(
        `${where} can escalate privileges: set securityContext.allowPrivilegeEscalation: false ` +
          `(and do not make it privileged or add SYS_ADMIN).`,
      );
    }
    const context = asObject(container.spec.securityContext) ?? {};
    if (asBoolean(context.readOnlyRootFilesystem) !== true) {
      problems.push(
        `${where} can write its root filesystem: set securityContext.readOnlyRootFilesystem: true and ` +
          `mount an emptyDir where it must write.`,
      );
    }
  }
  return problems;
}
