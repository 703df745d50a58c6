/**
 * scripts/up.sh with stand-ins for pulumi, az and docker on PATH (no cloud, no CLI here): it checks the
 * Pulumi CLI version it documents, refuses to run without a terminal when it would have to ask for the
 * passphrase, and prints the tear-down hint when `pulumi up` fails after creating resources.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "./harness";

const FAKE_PULUMI = `#!/usr/bin/env bash
echo "pulumi $*" >>"$FAKE_LOG"
case "$1 $2" in
  "version "*) echo "v\${FAKE_PULUMI_VERSION}" ;;
  "stack select") exit "\${FAKE_STACK_EXISTS_RC:-0}" ;;
  "stack init") exit 0 ;;
  "stack export") printf '%s\n' "\${FAKE_EXPORT:-null}" ;;
  "stack output") echo "http://20.30.40.50/score" ;;
  "up "*) exit "\${FAKE_UP_RC:-0}" ;;
esac
`;

/** `script` (util-linux) runs up.sh on a pseudo-terminal, so it can ask for a passphrase. */
const HAS_SCRIPT = spawnSync("script", ["--version"]).status === 0;

function run(
  env: Record<string, string>,
  terminalInput?: string,
): {
  status: number | null;
  stdout: string;
  stderr: string;
  log: string;
} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "up-sh-"));
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, "pulumi"), FAKE_PULUMI, { mode: 0o755 });
  for (const tool of ["az", "docker", "kubelogin"])
    fs.writeFileSync(path.join(bin, tool), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  const log = path.join(dir, "calls.log");
  fs.writeFileSync(log, "");
  const upSh = path.join(ROOT, "scripts", "up.sh");
  // Without terminalInput, stdin is a pipe, not a terminal, as in CI or under nohup.
  const [command, args] =
    terminalInput === undefined
      ? ["bash", [upSh, "dev"]]
      : ["script", ["-qec", `bash ${upSh} dev`, "/dev/null"]];
  const result = spawnSync(command, args, {
    encoding: "utf8",
    input: terminalInput,
    stdio: ["pipe", "pipe", "pipe"],
    env: {
      PATH: `${bin}:${process.env.PATH ?? ""}`,
      HOME: dir,
      FAKE_LOG: log,
      FAKE_PULUMI_VERSION: "3.276.0",
      ...env,
    },
  });
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    log: fs.readFileSync(log, "utf8"),
  };
}

const EXPORT_WITH_RESOURCES = JSON.stringify({
  deployment: {
    resources: [
      { type: "pulumi:pulumi:Stack" },
      { type: "pulumi:providers:azure-native" },
      { type: "azure-native:resources:ResourceGroup" },
      { type: "azure-native:containerservice:ManagedCluster" },
    ],
  },
});

describe("scripts/up.sh", () => {
  it("refuses a Pulumi CLI older than the one it documents", () => {
    const result = run({ FAKE_PULUMI_VERSION: "3.200.1", PULUMI_CONFIG_PASSPHRASE: "p" });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /Pulumi CLI 3\.200\.1 is older than 3\.276\.0: upgrade it/);
    assert.doesNotMatch(result.log, /pulumi up/);
  });

  it("fails with a message, not a silent hang, when it must ask for a passphrase without a terminal", () => {
    const result = run({ FAKE_STACK_EXISTS_RC: "1" });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /no terminal to ask for the passphrase .* set PULUMI_CONFIG_PASSPHRASE/);
    assert.doesNotMatch(result.log, /stack init|pulumi up/);
  });

  it("uses the project's backend (creating its directory) and creates a missing stack", () => {
    const result = run({ FAKE_STACK_EXISTS_RC: "1", PULUMI_CONFIG_PASSPHRASE: "p" });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /state: file:\/\/~\/\.pulumi\/gpu-inference-aks-state/);
    assert.match(result.log, /pulumi stack init dev\n/);
    assert.match(result.log, /pulumi up --stack dev/);
    assert.match(result.stdout, /Tear down: {4}pulumi destroy --stack dev/);
  });

  it("prints the tear-down hint when up fails after creating resources", () => {
    const result = run({
      PULUMI_CONFIG_PASSPHRASE: "p",
      FAKE_UP_RC: "255",
      FAKE_EXPORT: EXPORT_WITH_RESOURCES,
    });
    assert.equal(result.status, 1);
    assert.match(
      result.stderr,
      /The stack already holds 2 resource\(s\) in Azure, which keep billing until removed/,
    );
    assert.match(result.stderr, /Tear down: {4}pulumi destroy --stack dev/);
  });

  it("does not ask to tear down what was never created", () => {
    const result = run({ PULUMI_CONFIG_PASSPHRASE: "p", FAKE_UP_RC: "255" });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /pulumi up failed/);
    assert.doesNotMatch(result.stderr, /Tear down/);
  });

  it("asks twice for a new stack's passphrase and stops when the two differ", {
    skip: !HAS_SCRIPT && "no script(1)",
  }, () => {
    const result = run({ FAKE_STACK_EXISTS_RC: "1" }, "first-secret\nsecond-secret\n");
    assert.equal(result.status, 1);
    assert.match(result.stdout + result.stderr, /Type it again to confirm/);
    assert.match(result.stdout + result.stderr, /the two passphrases differ; nothing was created/);
    assert.doesNotMatch(result.log, /stack init|pulumi up/);
  });

  it("creates the stack once both entries agree", { skip: !HAS_SCRIPT && "no script(1)" }, () => {
    const result = run({ FAKE_STACK_EXISTS_RC: "1" }, "same-secret\nsame-secret\n");
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.log, /pulumi stack init dev\n[\s\S]*pulumi up --stack dev/);
  });

  it("asks only once for an existing stack's passphrase", { skip: !HAS_SCRIPT && "no script(1)" }, () => {
    const result = run({}, "known-secret\n");
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.doesNotMatch(result.stdout + result.stderr, /Type it again/);
    assert.doesNotMatch(result.log, /stack init/);
  });
});
