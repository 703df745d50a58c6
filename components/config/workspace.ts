/** Section: whether and under which name the cluster is attached to the Azure ML workspace. */
import type { Reader } from "./reader";

export interface WorkspaceAttachSettings {
  readonly attach: boolean;
  readonly computeName: string;
}

export function workspaceSection(r: Reader): WorkspaceAttachSettings {
  const computeName = r.matching(
    "computeName",
    /^[A-Za-z][A-Za-z0-9-]{1,15}$/,
    "must be 2-16 letters, digits or '-' starting with a letter (Azure ML compute name rules)",
    "pulumi config set computeName aks-gpu",
  );
  return { attach: r.boolean("attachToWorkspace"), computeName };
}
