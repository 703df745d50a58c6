/**
 * One inline `pulumi preview` of this project's program (index.ts) through the pinned CLI, in this
 * process: `previewRunner.ts <project copy> <stack> <config JSON>`. Prints one JSON line
 * `{succeeded, printed}` last. The environment (PATH with the CLI, backend, Pulumi home, passphrase)
 * comes from ProjectCopy.env().
 */
import * as path from "node:path";
import { type ConfigMap, LocalWorkspace, PulumiCommand } from "@pulumi/pulumi/automation";
import { PROJECT } from "../harness";
import { pulumiCliDir } from "./realEngine";

async function main(): Promise<void> {
  const [workDir, stackName, configJson] = process.argv.slice(2);
  const pulumiCommand = await PulumiCommand.get({ root: path.dirname(pulumiCliDir()) });
  const stack = await LocalWorkspace.createOrSelectStack(
    {
      stackName,
      projectName: PROJECT,
      // The program module exports its function (`export =`), as Pulumi's nodejs host expects.
      program: async () => (await import("../../index")).default(),
    },
    { workDir, pulumiCommand },
  );
  const config: ConfigMap = {};
  for (const [key, value] of Object.entries(JSON.parse(configJson) as Record<string, string>))
    config[key.includes(":") ? key : `${PROJECT}:${key}`] = { value };
  if (Object.keys(config).length > 0) await stack.setAllConfig(config);
  let printed = "";
  let succeeded = true;
  try {
    await stack.preview({ onOutput: (chunk) => (printed += chunk) });
  } catch {
    // The CommandError repeats what was printed; the printed text is what a user reads.
    succeeded = false;
  }
  process.stdout.write(`\n${JSON.stringify({ succeeded, printed })}\n`);
  // The run is over: promises the stopped program left pending reject now ("Resource monitor is
  // terminating"), as they would in the CLI's nodejs host, whose process ends here too.
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
