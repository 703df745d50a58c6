/** Pulumi.yaml declares exactly the keys the program validates, with the same types and defaults. */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { configSchema, pulumiYamlType } from "../components/configSchema";
import { gpuSizeRefusal, gpuSkuCatalogue, isSupportedGpuSize } from "../components/gpuSkus";
import { stackSettingsFromFiles } from "../cost/stackConfig";
import { PROJECT, ROOT } from "./harness";

interface ProjectFile {
  name: string;
  runtime: { name: string };
  config: Record<string, { type?: string; default?: unknown; description?: string }>;
}
const project = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as ProjectFile;

describe("Pulumi.yaml", () => {
  it("is the nodejs project the components' type tokens and tests name", () => {
    assert.equal(project.name, PROJECT);
    assert.equal(project.runtime.name, "nodejs");
  });

  it("declares every key the program reads, each with type, description and the program's default", () => {
    assert.deepEqual(Object.keys(project.config).sort(), Object.keys(configSchema).sort());
    for (const [key, spec] of Object.entries(configSchema)) {
      const declared = project.config[key];
      assert.equal(declared.type, pulumiYamlType(spec.type), key);
      assert.ok(declared.description && declared.description.length > 10, `${key} needs a description`);
      assert.equal(declared.default, "default" in spec ? spec.default : undefined, `${key} default`);
    }
  });

  it("the dev stack is the seed's deployment on the retired NC6's successor, read as the program reads it", () => {
    // Through the program's own parser, not the YAML's scalar types: `pulumi config set` writes numbers
    // as quoted strings, and a stack file it rewrote must pass this test too.
    const dev = stackSettingsFromFiles(ROOT, "dev");
    assert.equal(dev.gpuPool.vmSize, "Standard_NC4as_T4_v3");
    assert.equal(dev.replicas.count, 3);
    assert.equal(dev.replicas.cpu, 2);
    assert.equal(dev.replicas.memoryGiB, 4);
  });
});

describe("docs/configuration.md", () => {
  it("lists every key with the schema's type and default, and no key the program does not read", () => {
    const doc = fs.readFileSync(path.join(ROOT, "docs", "configuration.md"), "utf8");
    const rows = [...doc.matchAll(/^\| `(\w+)` \| (string|integer|number|boolean) \| ([^|]+) \|/gm)].map(
      (m) => [m[1], m[2], m[3].trim()],
    );
    const expected = Object.entries(configSchema).map(([key, spec]) => [
      key,
      spec.type,
      "default" in spec ? `\`${String(spec.default)}\`` : "—",
    ]);
    assert.deepEqual(rows, expected);
  });
});

describe("every stack file in the repository", () => {
  const stacks = fs
    .readdirSync(ROOT)
    .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
    .filter((stack): stack is string => stack !== undefined);

  it("passes the program's own config check (so none asks for a retired or unknown GPU size)", () => {
    assert.ok(stacks.includes("dev"));
    for (const stack of stacks) {
      const settings = stackSettingsFromFiles(ROOT, stack);
      assert.equal(gpuSizeRefusal(settings.gpuPool.vmSize), undefined, stack);
    }
  });
});

describe("GPU size catalogue", () => {
  it("knows the retired sizes as retired and offers supported replacements for them", () => {
    assert.equal(isSupportedGpuSize("Standard_NC6"), false);
    assert.equal(isSupportedGpuSize("Standard_NC4as_T4_v3"), true);
    for (const sku of Object.values(gpuSkuCatalogue)) {
      if (sku.retired)
        assert.ok(isSupportedGpuSize(sku.retired.replacement), `${sku.vmSize} → ${sku.retired.replacement}`);
    }
  });
});
