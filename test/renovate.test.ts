/**
 * .github/renovate.json keeps every pinned dependency current only if its managers match the pins as
 * they are written. Renovate's own parsing is not available offline, so this applies the config's
 * regexes (JavaScript and Renovate's RE2 read these patterns alike) to the real files: each pinned
 * upstream image, each Pulumi CLI pin and each tool version must be found, and the Python pins must be
 * in files the pip_requirements manager reads.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { CERT_MANAGER_VERSION, ENVOY_GATEWAY_VERSION } from "../components/entryPointImages";

const ROOT = path.resolve(__dirname, "..");

interface CustomManager {
  readonly managerFilePatterns: readonly string[];
  readonly matchStrings: readonly string[];
  readonly datasourceTemplate: string;
  readonly depNameTemplate?: string;
  readonly registryUrlTemplate?: string;
}
interface RenovateConfig {
  readonly pip_requirements: { readonly managerFilePatterns: readonly string[] };
  readonly customManagers: readonly CustomManager[];
  readonly packageRules: readonly {
    readonly groupName?: string;
    readonly matchPackageNames?: readonly string[];
    readonly matchManagers?: readonly string[];
    readonly matchFileNames?: readonly string[];
    readonly enabled?: boolean;
  }[];
}

const config = JSON.parse(
  fs.readFileSync(path.join(ROOT, ".github", "renovate.json"), "utf8"),
) as RenovateConfig;

/** Renovate writes a file pattern as "/regex/" (a regex) or as a glob; this config uses regexes only. */
function filePattern(pattern: string): RegExp {
  assert.match(pattern, /^\/.*\/$/, `${pattern}: expected a /regex/ file pattern`);
  return new RegExp(pattern.slice(1, -1));
}

function trackedFiles(dir: string, prefix = ""): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.posix.join(prefix || dir, entry.name);
    if (entry.isDirectory()) return trackedFiles(path.join(dir, entry.name), relative);
    return [relative];
  });
}

const FILES = [".github", "components", "scripts", "app"].flatMap((dir) => trackedFiles(dir));

/** What a custom manager extracts from the tree: file and matched groups. */
function extract(manager: CustomManager): { file: string; groups: Record<string, string> }[] {
  const patterns = manager.managerFilePatterns.map(filePattern);
  const found: { file: string; groups: Record<string, string> }[] = [];
  for (const file of FILES.filter((f) => patterns.some((p) => p.test(f)))) {
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    for (const source of manager.matchStrings) {
      for (const match of text.matchAll(new RegExp(source, "g"))) {
        found.push({ file, groups: { ...match.groups } });
      }
    }
  }
  return found;
}

const byDatasource = (datasource: string, depName?: string) =>
  config.customManagers.filter(
    (m) => m.datasourceTemplate === datasource && (depName === undefined || m.depNameTemplate === depName),
  );

describe(".github/renovate.json finds every pin it is meant to update", () => {
  it("every upstream image pinned by tag and digest in components/ is a docker dependency", () => {
    const pinnedInSource = FILES.filter((f) => /^components\/.+\.ts$/.test(f)).flatMap((file) =>
      [
        ...fs
          .readFileSync(path.join(ROOT, file), "utf8")
          .matchAll(/"([a-z0-9.-]+\/[^"\s]+@sha256:[0-9a-f]{64})"/g),
      ].map((m) => m[1]),
    );
    assert.ok(
      pinnedInSource.length >= 9,
      `expected the device plugin, DCGM and entry point images, found ${pinnedInSource.length}`,
    );
    // The image managers (the chart version managers name their dependency by template).
    const extracted = byDatasource("docker")
      .filter((m) => m.depNameTemplate === undefined)
      .flatMap(extract);
    const seen = new Set(
      extracted.map(({ groups }) => `${groups.depName}:${groups.currentValue}@${groups.currentDigest}`),
    );
    assert.deepEqual(
      pinnedInSource.filter((ref) => !seen.has(ref)),
      [],
      "pinned images Renovate would never update",
    );
    for (const { groups } of extracted) {
      const grouped = config.packageRules.some(
        (rule) =>
          rule.groupName !== undefined &&
          (rule.matchPackageNames ?? []).some((name) => groups.depName.startsWith(name.replace(/\*\*$/, ""))),
      );
      assert.ok(grouped, `${groups.depName} belongs to no group: it would get a pull request of its own`);
    }
  });

  it("every Pulumi CLI pin is found and equals the @pulumi/pulumi SDK version", () => {
    const sdk = (
      JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
        dependencies: Record<string, string>;
      }
    ).dependencies["@pulumi/pulumi"].replace(/^[\^~]/, "");
    const pins = byDatasource("npm", "@pulumi/pulumi").flatMap(extract);
    const files = new Set(pins.map((p) => p.file));
    for (const file of [
      ".github/workflows/deploy.yml",
      ".github/workflows/destroy.yml",
      ".github/workflows/pull-request.yml",
      ".github/actions/pulumi-setup/action.yml",
      "scripts/up.sh",
    ]) {
      assert.ok(files.has(file), `${file}: its Pulumi CLI pin is not matched`);
    }
    assert.deepEqual(
      pins.filter((p) => p.groups.currentValue !== sdk),
      [],
      `every match is the SDK's version ${sdk} (a match of anything else would be "updated" as the CLI)`,
    );
  });

  it("every Helm chart version the program installs (cert-manager, Envoy Gateway) is found, with its repository", () => {
    const found = [...byDatasource("helm"), ...byDatasource("docker", "docker.io/envoyproxy/gateway-helm")]
      .flatMap((manager) =>
        extract(manager).map(({ groups }) => ({
          name: groups.depName ?? manager.depNameTemplate,
          version: groups.currentValue,
          repo: groups.registryUrl ?? manager.registryUrlTemplate,
        })),
      )
      .sort((a, b) => String(a.name).localeCompare(String(b.name)));
    assert.deepEqual(found, [
      { name: "cert-manager", version: CERT_MANAGER_VERSION, repo: "https://charts.jetstack.io" },
      { name: "docker.io/envoyproxy/gateway-helm", version: ENVOY_GATEWAY_VERSION, repo: undefined },
    ]);
  });

  it("the tool versions of the scripts (uv, pip-audit) are found", () => {
    const names = byDatasource("pypi")
      .flatMap(extract)
      .map((p) => p.groups.depName);
    assert.deepEqual(names.sort(), ["PIP_AUDIT", "UV"]);
  });

  it("the Python pins a person edits are in files the pip_requirements manager reads", () => {
    const patterns = config.pip_requirements.managerFilePatterns.map(filePattern);
    for (const file of ["app/requirements.in", "app/requirements-test.in"]) {
      assert.ok(
        patterns.some((p) => p.test(file)),
        `${file} is not read`,
      );
    }
    // The locks are made by scripts/lock-python.sh (lock-refresh.yml), never edited package by package;
    // Renovate's own default patterns match them, so a rule must turn the manager off for them.
    const off = config.packageRules.find(
      (rule) => rule.enabled === false && (rule.matchManagers ?? []).includes("pip_requirements"),
    );
    assert.deepEqual([...(off?.matchFileNames ?? [])].sort(), [
      "app/requirements-overrides.txt",
      "app/requirements-test.txt",
      "app/requirements.txt",
    ]);
  });
});
