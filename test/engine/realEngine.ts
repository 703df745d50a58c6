/**
 * The real Pulumi engine for tests: the CLI at the version this project pins (scripts/pulumi-cli.sh
 * builds it once per version from the Go module proxy), run on a copy of the project's Pulumi.yaml and
 * stack files in a temporary folder, with a file backend and a Pulumi home of its own. Nothing here
 * reaches a network: provider plugins cannot be downloaded, so a program run stops at its first
 * provider call, which is where Azure would be needed anyway.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ROOT } from "../harness";

export const PASSPHRASE = "real-engine-tests";

let cliDir: string | undefined;

/** The folder holding the pinned `pulumi` (PULUMI_CLI_DIR when scripts/test.sh already built it). */
export function pulumiCliDir(): string {
  if (cliDir) return cliDir;
  const fromEnv = process.env.PULUMI_CLI_DIR;
  if (fromEnv && fs.existsSync(path.join(fromEnv, "pulumi"))) {
    cliDir = fromEnv;
    return cliDir;
  }
  const built = spawnSync("bash", ["-c", "source scripts/pulumi-cli.sh && ensure_pulumi_cli"], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (built.status !== 0)
    throw new Error("could not build the pinned Pulumi CLI (scripts/pulumi-cli.sh; above)");
  cliDir = built.stdout.trim();
  return cliDir;
}

/** The version scripts/pulumi-cli.sh pins, read from the script the tests and users share. */
export function pinnedCliVersion(): string {
  const script = fs.readFileSync(path.join(ROOT, "scripts", "pulumi-cli.sh"), "utf8");
  const match = /^PULUMI_CLI_VERSION=(\S+)$/m.exec(script);
  if (!match) throw new Error("scripts/pulumi-cli.sh sets no PULUMI_CLI_VERSION");
  return match[1];
}

/** A scratch copy of the project: Pulumi.yaml and the given stack files, its own state and Pulumi home. */
export class ProjectCopy {
  readonly dir: string;
  readonly home: string;
  readonly state: string;

  constructor(stackFiles: Readonly<Record<string, string>> = {}) {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "real-engine-"));
    this.dir = path.join(scratch, "project");
    this.home = path.join(scratch, "pulumi-home");
    this.state = path.join(scratch, "state");
    for (const dir of [this.dir, this.home, this.state]) fs.mkdirSync(dir);
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(this.dir, "Pulumi.yaml"));
    for (const [stack, yaml] of Object.entries(stackFiles))
      fs.writeFileSync(path.join(this.dir, `Pulumi.${stack}.yaml`), yaml);
  }

  /** A copy of the repository's own stack file. */
  static withRepositoryStack(stack: string): ProjectCopy {
    return new ProjectCopy({ [stack]: fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8") });
  }

  /** The environment every command gets: this copy's backend and home, no update checks, no prompts. */
  env(): Record<string, string> {
    return {
      PATH: `${pulumiCliDir()}:${process.env.PATH ?? ""}`,
      PULUMI_CLI_DIR: pulumiCliDir(),
      HOME: path.dirname(this.dir),
      PULUMI_HOME: this.home,
      PULUMI_BACKEND_URL: `file://${this.state}`,
      PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      NO_COLOR: "1",
    };
  }

  /** Runs the real CLI in this copy. */
  cli(args: readonly string[], extraEnv: Readonly<Record<string, string>> = {}) {
    const result = spawnSync(path.join(pulumiCliDir(), "pulumi"), [...args, "--non-interactive"], {
      cwd: this.dir,
      encoding: "utf8",
      env: { ...this.env(), ...extraEnv },
      timeout: 120_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  stackFile(stack: string): string {
    return fs.readFileSync(path.join(this.dir, `Pulumi.${stack}.yaml`), "utf8");
  }

  /**
   * `pulumi preview` of this project's program, run inline by the Automation API (its in-process language
   * host needs no pulumi-language-nodejs plugin), in a process of its own as the CLI's nodejs host would
   * run it: the SDK keeps per-run state and late promise rejections in its process after a run ends.
   * The program runs with the repository as its working directory (it reads app/ and the model file).
   */
  preview(stack: string, config: Readonly<Record<string, string>> = {}): PreviewOutcome {
    const run = spawnSync(
      process.execPath,
      ["--import", "tsx", path.join(__dirname, "previewRunner.ts"), this.dir, stack, JSON.stringify(config)],
      { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...this.env() }, timeout: 180_000 },
    );
    const line = run.stdout.trim().split("\n").at(-1) ?? "";
    if (run.status !== 0 || !line.startsWith("{"))
      throw new Error(`the preview runner failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
    return JSON.parse(line) as PreviewOutcome;
  }
}

export interface PreviewOutcome {
  readonly succeeded: boolean;
  /** What the engine printed, as a user sees it in the terminal. */
  readonly printed: string;
}
