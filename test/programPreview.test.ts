/**
 * The dev stack as `pulumi preview` runs it (dry run): the preflight runs there too (it is what the
 * pull-request preview shows), and a preview of a new stack contacts no registry.
 */
import assert from "node:assert/strict";
import { before, it } from "node:test";
import { devStackConfig, type ProgramRun, runProgram } from "./harness";

let run: ProgramRun;
before(async () => {
  run = await runProgram({ config: devStackConfig(), preview: true });
});

it("runs the preflight at preview", () => {
  assert.equal(run.infos.filter((line) => line.startsWith("preflight passed:")).length, 1);
  assert.equal(run.fetchCalls.filter((c) => c.url.startsWith("https://management.azure.com/")).length, 5);
});

it("contacts nothing but ARM at preview", () => {
  assert.deepEqual(
    run.fetchCalls.filter((c) => !c.url.startsWith("https://management.azure.com/")).map((c) => c.url),
    [],
  );
});
