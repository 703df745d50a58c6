/** Section: the model registered in the Azure ML workspace and the file it is uploaded from. */
import type { Reader } from "./reader";

export interface ModelSettings {
  readonly name: string;
  readonly version: string;
  /** Relative to the project directory. */
  readonly file: string;
}

/** Answers whether a project-relative path is an existing file (fs in the program, a stub in tests). */
export type FileExists = (projectRelativePath: string) => boolean;

export function modelSection(r: Reader, fileExists: FileExists): ModelSettings {
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
  // A missing file would only fail at `pulumi up`, after the workspace exists; say so at preview instead.
  if (/^(?!\/)(?!.*\.\.)[A-Za-z0-9_./-]+$/.test(file) && !fileExists(file)) {
    r.problem(
      "modelFile",
      file,
      "does not exist in the project, so the model cannot be uploaded and registered",
      "train it (python3 app/train.py writes app/model/mnist_mlp.npz) or point modelFile at the file",
    );
  }
  return { name, version, file };
}
