/**
 * scripts/up.sh against the real Pulumi CLI (az and docker are stand-ins: no Azure, no Docker engine
 * here). The CLI's version passes the script's check, the stack is created or selected in the real
 * backend, and when `pulumi up` fails on a stack whose state already holds resources (state this test
 * wrote through the CLI), the script counts them from the real `pulumi stack export` and prints the
 * tear-down command. `pulumi up` fails here for want of the nodejs language plugin, which this machine
 * cannot download: where a user's `up` would fail for any reason, the same path runs.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { PROJECT, ROOT } from "../harness";
import { ProjectCopy } from "./realEngine";

/** A clone-shaped folder for up.sh (it runs in its own repository root), around a ProjectCopy. */
function upShRepository(copy: ProjectCopy): { bin: string } {
  const scripts = path.join(copy.dir, "scripts");
  fs.mkdirSync(scripts);
  for (const file of ["up.sh", "lib.sh"])
    fs.copyFileSync(path.join(ROOT, "scripts", file), path.join(scripts, file));
  // The npm install up.sh would run is already done: the stamp says the lock is installed.
  fs.copyFileSync(path.join(ROOT, "package-lock.json"), path.join(copy.dir, "package-lock.json"));
  fs.mkdirSync(path.join(copy.dir, "node_modules"));
  const lockHash = spawnSync("sha256sum", ["package-lock.json"], { cwd: copy.dir, encoding: "utf8" });
  fs.writeFileSync(path.join(copy.dir, "node_modules", ".lock-sha256"), `${lockHash.stdout.split(" ")[0]}\n`);
  const bin = path.join(path.dirname(copy.dir), "stand-ins");
  fs.mkdirSync(bin);
  for (const tool of ["az", "docker", "kubelogin"])
    fs.writeFileSync(path.join(bin, tool), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  return { bin };
}

function runUpSh(copy: ProjectCopy, bin: string) {
  const env = copy.env();
  // Without a terminal the real CLI asks for --yes (it cannot show the confirmation prompt); up.sh passes
  // its arguments after the stack name on to `pulumi up`.
  return spawnSync("bash", [path.join(copy.dir, "scripts", "up.sh"), "dev", "--yes"], {
    encoding: "utf8",
    input: "",
    // Node >= 22 first (this test's own), so up.sh installs none; then the stand-ins and the real CLI.
    env: { ...env, PATH: `${path.dirname(process.execPath)}:${bin}:${env.PATH}` },
    timeout: 180_000,
  });
}

describe("scripts/up.sh with the real Pulumi CLI", () => {
  it("creates the stack in the real backend, and after a failed up names what already bills", () => {
    const copy = ProjectCopy.withRepositoryStack("dev");
    const { bin } = upShRepository(copy);

    const first = runUpSh(copy, bin);
    assert.equal(first.status, 1, first.stderr);
    assert.doesNotMatch(first.stderr, /older than|missing prerequisites/);
    assert.match(first.stdout + first.stderr, /failed to load language plugin nodejs/);
    // Nothing exists yet, so nothing is said to bill.
    assert.doesNotMatch(first.stderr, /already holds/);
    assert.match(copy.cli(["stack", "ls", "--json"]).stdout, /"name": "dev"/);

    // State as a partly failed `up` leaves it: the stack and two resources already in Azure.
    const exported = JSON.parse(copy.cli(["stack", "export", "--stack", "dev"]).stdout);
    const urn = (type: string, name: string) => `urn:pulumi:dev::${PROJECT}::${type}::${name}`;
    exported.deployment.resources = [
      { urn: urn("pulumi:pulumi:Stack", `${PROJECT}-dev`), custom: false, type: "pulumi:pulumi:Stack" },
      {
        urn: urn("azure-native:resources:ResourceGroup", "gpuinf-rg"),
        custom: true,
        id: "/subscriptions/0000/resourceGroups/gpuinf-rg1234",
        type: "azure-native:resources:ResourceGroup",
      },
      {
        urn: urn("random:index/randomPassword:RandomPassword", "scoring-keys-primary"),
        custom: true,
        id: "none",
        type: "random:index/randomPassword:RandomPassword",
      },
    ];
    const stateFile = path.join(path.dirname(copy.dir), "state.json");
    fs.writeFileSync(stateFile, JSON.stringify(exported));
    const imported = copy.cli(["stack", "import", "--stack", "dev", "--file", stateFile]);
    assert.equal(imported.status, 0, imported.stderr);

    const again = runUpSh(copy, bin);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /The stack already holds 2 resource\(s\) in Azure/);
    assert.match(again.stderr, /pulumi destroy --stack dev/);
  });
});
