/**
 * What the real Pulumi CLI (the pinned release, not a copy of its rules) says of this project's files:
 * it accepts Pulumi.yaml and every stack file in the repository, lists every declared key with the
 * program's default, and takes `pulumi config set` from a user's shell for whole and decimal keys alike.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { parseStackSettings } from "../../components/config";
import { configSchema } from "../../components/configSchema";
import { stackFileConfig } from "../../cost/stackConfig";
import { PROJECT, ROOT } from "../harness";
import { ProjectCopy } from "./realEngine";

const repositoryStacks = fs
  .readdirSync(ROOT)
  .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
  .filter((stack): stack is string => stack !== undefined);

/** `pulumi config --json`: each key with its value (stack value, else the project's default). */
function configListing(copy: ProjectCopy, stack: string): Record<string, { value?: unknown }> {
  const listed = copy.cli(["config", "--stack", stack, "--json"]);
  assert.equal(listed.status, 0, listed.stderr);
  return JSON.parse(listed.stdout) as Record<string, { value?: unknown }>;
}

describe("the real Pulumi CLI on this project", () => {
  it("accepts Pulumi.yaml and every stack file, listing every declared key", () => {
    assert.ok(repositoryStacks.includes("dev"));
    for (const stack of repositoryStacks) {
      const copy = ProjectCopy.withRepositoryStack(stack);
      const init = copy.cli(["stack", "init", stack]);
      assert.equal(init.status, 0, `${stack}: ${init.stderr}`);
      const listing = configListing(copy, stack);
      for (const key of Object.keys(configSchema))
        assert.ok(`${PROJECT}:${key}` in listing, `${stack}: pulumi config does not list ${key}`);
    }
  });

  it("gives every unset key the program's own default", () => {
    const copy = new ProjectCopy({ bare: "config: {}\n" });
    assert.equal(copy.cli(["stack", "init", "bare"]).status, 0);
    const listing = configListing(copy, "bare");
    for (const [key, spec] of Object.entries(configSchema)) {
      if (!("default" in spec)) continue;
      // The CLI prints every value as a string, as the program receives it.
      assert.equal(String(listing[`${PROJECT}:${key}`]?.value), String(spec.default), key);
    }
  });

  it("takes `pulumi config set` for whole and decimal keys, and the program reads what it wrote", () => {
    const copy = ProjectCopy.withRepositoryStack("dev");
    assert.equal(copy.cli(["stack", "init", "dev"]).status, 0);
    for (const [key, value] of [
      ["replicas", "2"],
      ["replicaCpu", "1.5"],
      ["replicaMemoryGiB", "3.5"],
      ["alertP99LatencySeconds", "0.25"],
    ]) {
      const set = copy.cli(["config", "set", "--stack", "dev", key, value]);
      assert.equal(set.status, 0, `${key}: ${set.stderr}`);
    }
    // Whatever formatting the CLI chose for the rewritten file, the program's parser reads the values.
    const settings = parseStackSettings(stackFileConfig(copy.stackFile("dev"), PROJECT).raw, {
      fileExists: (file) => fs.existsSync(`${ROOT}/${file}`),
    });
    assert.equal(settings.replicas.count, 2);
    assert.equal(settings.replicas.cpu, 1.5);
    assert.equal(settings.replicas.memoryGiB, 3.5);
    assert.equal(settings.monitoring.p99LatencySeconds, 0.25);
    // ... and the real CLI still accepts the file it rewrote.
    assert.equal(configListing(copy, "dev")[`${PROJECT}:replicaCpu`]?.value, "1.5");
  });

  it("refuses a project file that declares a `number` config type (why decimal keys are untyped)", () => {
    const copy = new ProjectCopy({ dev: "config: {}\n" });
    const yaml = fs.readFileSync(`${copy.dir}/Pulumi.yaml`, "utf8");
    fs.writeFileSync(
      `${copy.dir}/Pulumi.yaml`,
      yaml.replace(/^ {2}replicaCpu:\n/m, "  replicaCpu:\n    type: number\n"),
    );
    const init = copy.cli(["stack", "init", "dev"]);
    assert.notEqual(init.status, 0);
    assert.match(init.stderr, /could not validate .*Pulumi\.yaml/);
  });
});
