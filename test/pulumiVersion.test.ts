/**
 * One Pulumi version everywhere: the CLI the tests build (scripts/pulumi-cli.sh) is the one the
 * workflows install, scripts/up.sh requires and the README names, and the SDK in package.json is the
 * same release, so what the real-engine tests prove is what users and CI run.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { pinnedCliVersion } from "./engine/realEngine";
import { ROOT } from "./harness";

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

describe("the pinned Pulumi version", () => {
  const version = pinnedCliVersion();

  it("is the SDK version in package.json", () => {
    const pkg = JSON.parse(read("package.json")) as { dependencies: Record<string, string> };
    assert.equal(pkg.dependencies["@pulumi/pulumi"], version);
  });

  it("is what every workflow and the setup action install", () => {
    const files = [
      ".github/actions/pulumi-setup/action.yml",
      ...fs.readdirSync(path.join(ROOT, ".github/workflows")).map((f) => `.github/workflows/${f}`),
    ];
    const pins = files.flatMap((file) =>
      [...read(file).matchAll(/pulumi-version:[\s\S]*?"(\d+\.\d+\.\d+)"/g)].map((m) => [file, m[1]]),
    );
    assert.ok(pins.length >= 4, `found only ${pins.length} pins`);
    for (const [file, pinned] of pins) assert.equal(pinned, version, file);
  });

  it("is the minimum scripts/up.sh checks and the README names", () => {
    assert.match(
      read("scripts/up.sh"),
      new RegExp(`^PULUMI_MIN_VERSION=${version.replace(/\./g, "\\.")}$`, "m"),
    );
    const minor = version.split(".").slice(0, 2).join(".");
    const readme = read("README.md");
    for (const m of readme.matchAll(/Pulumi(?: CLI\]\([^)]*\))? (\d+\.\d+) or later/g))
      assert.equal(m[1], minor);
    assert.ok(readme.includes(`${minor} or later`));
  });
});
