/**
 * Runs the program once under the harness's mocks with the options in PROGRAM_OPTIONS and prints one JSON
 * line: {"ok":true} or {"ok":false,"error":<the first error>}. Used by harness.programFailure for runs the
 * Azure model refuses, whose stray rejections must not reach the test process.
 */
import { type RunOptions, runProgram } from "./harness";

let reported = false;
function report(ok: boolean, error?: unknown): void {
  if (reported) return;
  reported = true;
  const message = error instanceof Error ? error.message : error === undefined ? undefined : String(error);
  process.stdout.write(`${JSON.stringify({ ok, error: message })}\n`);
  process.exit(ok ? 0 : 1);
}
process.on("unhandledRejection", (error) => report(false, error));
process.on("uncaughtException", (error) => report(false, error));

const options = JSON.parse(process.env.PROGRAM_OPTIONS ?? "{}") as RunOptions;
runProgram(options).then(
  () => report(true),
  (error: unknown) => report(false, error),
);
