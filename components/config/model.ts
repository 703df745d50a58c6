/** Section: the model registered in the Azure ML workspace and the file it is uploaded from. */
import type { Reader } from "./reader";

export interface ModelSettings {
  readonly name: string;
  readonly version: string;
  /** Relative to the project directory. */
  readonly file: string;
}

export function modelSection(r: Reader): ModelSettings {
  const name = r.matching(
    "modelName",
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/,
    "is not a valid Azure ML asset name (letters, digits, '-', '_', '.'; starting with a letter or digit)",
    "pulumi config set modelName mnist-mlp",
  );
  const version = r.matching(
    "modelVersion",
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,29}$/,
    "is not a valid Azure ML asset version",
    "pulumi config set modelVersion 1",
  );
  const file = r.matching(
    "modelFile",
    /^(?!\/)(?!.*\.\.)[A-Za-z0-9_./-]+$/,
    "must be a relative path inside the project",
    "pulumi config set modelFile app/model/mnist_mlp.npz",
  );
  return { name, version, file };
}
