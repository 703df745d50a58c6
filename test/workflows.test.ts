/**
 * The workflows cannot be abused by a pull request (issue 11): asserted on the real files in
 * .github/, and each check shown to fail on a small violating workflow.
 *
 * - The preview job signs in as the preview identity (AZURE_PREVIEW_CLIENT_ID, no environment, so its
 *   OIDC subject is repo:<owner>/<repo>:pull_request), with the read-only state credential
 *   (PULUMI_PREVIEW_ACCESS_TOKEN), only for same-repository pull requests, holding contents: read and
 *   id-token: write and nothing else; nothing in pull-request.yml names the deploying identity.
 * - pull-requests: write exists only in a job that runs no code from the pull request; the deploying
 *   identity is used only inside the `dev` environment (or the destroyed stack's).
 * - The comment script, run against a fake GitHub API, edits only comments that carry its marker and
 *   were written by github-actions[bot] (a Bot account), never anyone else's.
 * - scripts/lint-workflows.mjs (run on the real tree with actionlint, and on violating trees without)
 *   refuses unpinned actions, pins without a version comment, pull_request_target, missing or broad
 *   permissions, npm installs that run lifecycle scripts, ${{ }} inside scripts and persisted
 *   checkout credentials.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";

const ROOT = path.resolve(__dirname, "..");
const LINT = path.join(ROOT, "scripts", "lint-workflows.mjs");
const readRepoFile = (...parts: string[]) => fs.readFileSync(path.join(ROOT, ...parts), "utf8");
const PULL_REQUEST_YML = readRepoFile(".github", "workflows", "pull-request.yml");
const DEPLOY_YML = readRepoFile(".github", "workflows", "deploy.yml");
const DESTROY_YML = readRepoFile(".github", "workflows", "destroy.yml");
const SETUP_ACTION_YML = readRepoFile(".github", "actions", "pulumi-setup", "action.yml");

const BOT_LOGIN = "github-actions[bot]";
const COST_MARKER = "<!-- gpu-cost-estimate -->";
const PREVIEW_MARKER = "<!-- pulumi-preview:dev -->";

interface Step {
  readonly id?: string;
  readonly uses?: string;
  readonly run?: string;
  readonly with?: Record<string, unknown>;
  readonly env?: Record<string, unknown>;
}
interface Job {
  readonly if?: string;
  readonly environment?: string | { readonly name?: string };
  readonly permissions?: Record<string, string> | string;
  readonly env?: Record<string, unknown>;
  readonly steps?: readonly Step[];
}
interface Workflow {
  readonly on?: unknown;
  readonly permissions?: unknown;
  readonly jobs: Record<string, Job>;
}

const load = (text: string): Workflow => parse(text) as Workflow;
/** A GitHub expression as written in a workflow, `${{ <expression> }}`. */
const gh = (expression: string) => ["$", "{{ ", expression, " }}"].join("");

/** Returns a copy of `text` with `from` replaced, failing if `from` is not there (so a test cannot go stale). */
function mutate(text: string, from: string, to: string): string {
  assert.ok(text.includes(from), `fixture text not found: ${from}`);
  return text.replace(from, to);
}

const usesAction = (step: Step, action: string) => step.uses?.startsWith(`${action}@`) === true;
const pulumiCommand = (job: Job) =>
  job.steps?.find((step) => usesAction(step, "pulumi/actions") && step.with?.command !== undefined)?.with
    ?.command;
const jobsRunning = (workflow: Workflow, command: string) =>
  Object.entries(workflow.jobs).filter(([, job]) => pulumiCommand(job) === command);
const environmentName = (job: Job) =>
  typeof job.environment === "object" ? job.environment.name : job.environment;
/** A job that runs nothing from the checkout: no run: steps, no checkout, no local action. */
const runsNoPullRequestCode = (job: Job) =>
  (job.steps ?? []).length > 0 &&
  (job.steps ?? []).every((step) => step.run === undefined && usesAction(step, "actions/github-script"));

function previewJobProblems(workflow: Workflow): string[] {
  const previews = jobsRunning(workflow, "preview");
  if (previews.length !== 1) return [`expected one job running pulumi preview, found ${previews.length}`];
  const [[id, job]] = previews;
  const problems: string[] = [];
  if (job.environment !== undefined) {
    problems.push(
      `${id}: runs in environment "${environmentName(job)}": its OIDC subject would be environment:..., the deploying identity's kind, instead of pull_request`,
    );
  }
  if (!job.if?.includes("github.event.pull_request.head.repo.full_name == github.repository")) {
    problems.push(`${id}: not limited to pull requests from this repository (forks get no OIDC token)`);
  }
  assertSameOrProblem(
    problems,
    job.permissions,
    { contents: "read", "id-token": "write" },
    `${id}: permissions must be exactly contents: read and id-token: write`,
  );
  if (job.env?.ARM_CLIENT_ID !== gh("vars.AZURE_PREVIEW_CLIENT_ID")) {
    problems.push(`${id}: ARM_CLIENT_ID is ${String(job.env?.ARM_CLIENT_ID)}, not the preview identity`);
  }
  if (job.env?.PULUMI_ACCESS_TOKEN !== gh("secrets.PULUMI_PREVIEW_ACCESS_TOKEN")) {
    problems.push(
      `${id}: PULUMI_ACCESS_TOKEN is ${String(job.env?.PULUMI_ACCESS_TOKEN)}, not the read-only token`,
    );
  }
  for (const step of job.steps ?? []) {
    if (usesAction(step, "pulumi/actions") && String(step.with?.["comment-on-pr"]) === "true") {
      problems.push(
        `${id}: pulumi/actions comment-on-pr edits comments by heading alone, whoever wrote them`,
      );
    }
    if (
      usesAction(step, "pulumi/actions") &&
      step.with?.command !== undefined &&
      step.with.command !== "preview"
    ) {
      problems.push(`${id}: runs pulumi ${String(step.with.command)}`);
    }
  }
  return problems;
}

function assertSameOrProblem(problems: string[], actual: unknown, expected: unknown, message: string) {
  try {
    assert.deepStrictEqual(actual, expected);
  } catch {
    problems.push(`${message} (found ${JSON.stringify(actual)})`);
  }
}

/** Problems with what pull-request.yml may hold at all: the deploying identity's names, write scopes. */
function pullRequestWorkflowProblems(text: string): string[] {
  const workflow = load(text);
  const problems: string[] = [];
  for (const name of ["vars.AZURE_CLIENT_ID", "secrets.PULUMI_ACCESS_TOKEN"]) {
    if (new RegExp(`\\b${name.replace(".", "\\.")}\\b`).test(text)) {
      problems.push(`names the deploying identity's ${name}`);
    }
  }
  if (triggers(workflow).some((trigger) => trigger !== "pull_request")) {
    problems.push(`triggers on ${triggers(workflow).join(", ")}: only pull_request gives forks no secrets`);
  }
  const previewIds = new Set(jobsRunning(workflow, "preview").map(([id]) => id));
  for (const [id, job] of Object.entries(workflow.jobs)) {
    if (typeof job.permissions !== "object") {
      problems.push(`${id}: no explicit permissions`);
      continue;
    }
    if (job.environment !== undefined) problems.push(`${id}: runs in environment "${environmentName(job)}"`);
    for (const [scope, level] of Object.entries(job.permissions)) {
      if (level === "none" || (scope === "contents" && level === "read")) continue;
      if (scope === "id-token" && level === "write" && previewIds.has(id)) continue;
      if (scope === "pull-requests" && level === "write" && runsNoPullRequestCode(job)) continue;
      problems.push(`${id}: ${scope}: ${level} is more than this job may hold`);
    }
  }
  return problems;
}

function triggers(workflow: Workflow): string[] {
  const on = workflow.on;
  if (typeof on === "string") return [on];
  if (Array.isArray(on)) return on.map(String);
  return Object.keys((on as Record<string, unknown>) ?? {});
}

/** The deploying identity only ever signs in inside the stack's environment, on main or by hand. */
function deployingJobProblems(workflow: Workflow, command: "up" | "destroy", environment: string): string[] {
  const jobs = jobsRunning(workflow, command);
  if (jobs.length !== 1) return [`expected one job running pulumi ${command}, found ${jobs.length}`];
  const [[id, job]] = jobs;
  const problems: string[] = [];
  if (environmentName(job) !== environment) {
    problems.push(`${id}: environment is ${String(environmentName(job))}, not ${environment}`);
  }
  if (job.env?.ARM_CLIENT_ID !== gh("vars.AZURE_CLIENT_ID")) {
    problems.push(`${id}: ARM_CLIENT_ID is ${String(job.env?.ARM_CLIENT_ID)}, not the deploying identity`);
  }
  assertSameOrProblem(
    problems,
    job.permissions,
    { contents: "read", "id-token": "write" },
    `${id}: permissions must be exactly contents: read and id-token: write`,
  );
  return problems;
}

// ---- the comment script, run against a fake GitHub API ------------------------------------------

interface FakeComment {
  readonly id: number;
  readonly user: { readonly login: string; readonly type: string };
  readonly body: string;
}
interface CommentCalls {
  readonly created: { issue_number: number; body: string }[];
  readonly updated: { comment_id: number; body: string }[];
}

const comment = (id: number, login: string, type: string, body: string): FakeComment => ({
  id,
  user: { login, type },
  body,
});

type ScriptFunction = (github: unknown, context: unknown, process: unknown) => Promise<unknown>;
const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (
  ...parameters: string[]
) => ScriptFunction;

/** Runs an actions/github-script script the way the action does: an async body given github and context. */
async function runCommentScript(
  script: string,
  comments: readonly FakeComment[],
  env: Record<string, string>,
): Promise<CommentCalls> {
  const calls: CommentCalls = { created: [], updated: [] };
  const listComments = async () => ({ data: comments });
  const github = {
    paginate: async (method: unknown, params: { issue_number: number }) => {
      assert.equal(method, listComments, "comments are listed with issues.listComments");
      assert.equal(params.issue_number, 42);
      return comments;
    },
    rest: {
      issues: {
        listComments,
        createComment: async (params: { issue_number: number; body: string }) => {
          calls.created.push({ issue_number: params.issue_number, body: params.body });
        },
        updateComment: async (params: { comment_id: number; body: string }) => {
          calls.updated.push({ comment_id: params.comment_id, body: params.body });
        },
      },
    },
  };
  const context = { repo: { owner: "octo", repo: "gpu" }, payload: { pull_request: { number: 42 } } };
  await new AsyncFunction("github", "context", "process", script)(github, context, { env });
  return calls;
}

const SCRIPT_ENV = {
  COST: "### GPU cost of stack `dev`\n72 GPU node-hours per day",
  PREVIEW: "Previewing update (dev):\n + <Deployment> scoring\x1b[0m",
  PREVIEW_RESULT: "success",
  RUN_URL: "https://github.com/octo/gpu/actions/runs/1",
};

/** What goes wrong when `script` maintains its two comments; empty when it behaves. */
async function commentFilterProblems(script: string): Promise<string[]> {
  const problems: string[] = [];
  // Comments carrying the markers that this workflow's bot did not write: a person, another app's
  // bot, and an account named like the bot that is not a Bot account.
  const impostors = [
    comment(1, "mallory", "User", `${COST_MARKER}\nfree GPUs`),
    comment(2, "other-app[bot]", "Bot", `${PREVIEW_MARKER}\nno changes`),
    comment(3, BOT_LOGIN, "User", `${COST_MARKER}\nfree GPUs`),
  ];
  const fresh = await runCommentScript(script, impostors, SCRIPT_ENV);
  if (fresh.updated.length > 0) {
    problems.push(
      `edited comment(s) ${fresh.updated.map((u) => u.comment_id).join(", ")} that its bot did not write`,
    );
  }
  if (fresh.created.length !== 2) {
    problems.push(`with no comment of its own it created ${fresh.created.length} comment(s), not 2`);
  }
  // Its own two comments come after the impostors', next to an unrelated comment of the same bot.
  const own = [
    ...impostors,
    comment(4, BOT_LOGIN, "Bot", "a comment from another workflow"),
    comment(5, BOT_LOGIN, "Bot", `${COST_MARKER}\nold estimate`),
    comment(6, BOT_LOGIN, "Bot", `${PREVIEW_MARKER}\nold preview`),
  ];
  const again = await runCommentScript(script, own, SCRIPT_ENV);
  const updatedIds = again.updated.map((u) => u.comment_id).sort((a, b) => a - b);
  if (JSON.stringify(updatedIds) !== "[5,6]" || again.created.length > 0) {
    problems.push(
      `with its own comments present it updated [${updatedIds.join(", ")}] and created ${again.created.length}; expected to update [5, 6] only`,
    );
  }
  const costBody = again.updated.find((u) => u.comment_id === 5)?.body ?? "";
  if (!costBody.startsWith(COST_MARKER) || !costBody.includes(SCRIPT_ENV.COST)) {
    problems.push("the cost comment does not start with its marker and carry the estimate");
  }
  const previewBody = again.updated.find((u) => u.comment_id === 6)?.body ?? "";
  if (!previewBody.startsWith(PREVIEW_MARKER) || !previewBody.includes("+ &lt;Deployment&gt; scoring")) {
    problems.push("the preview comment does not start with its marker and carry the HTML-escaped report");
  }
  return problems;
}

function commentScript(text: string): string {
  const steps = Object.values(load(text).jobs).flatMap((job) => job.steps ?? []);
  const scripts = steps.filter((step) => usesAction(step, "actions/github-script"));
  assert.equal(scripts.length, 1, "one actions/github-script step maintains the comments");
  const script = scripts[0].with?.script;
  assert.equal(typeof script, "string");
  return script as string;
}

// ---- scripts/lint-workflows.mjs on small trees --------------------------------------------------

const CLEAN_WORKFLOW = `name: fixture
on:
  pull_request:
    branches: [main]
permissions: {}
jobs:
  build:
    runs-on: ubuntu-latest
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803 # v6.1.0
        with:
          persist-credentials: false
      - name: Install
        run: npm ci --ignore-scripts
      - name: Greet
        env:
          TITLE: \${{ github.event.pull_request.title }}
        run: echo "$TITLE"
`;

const CLEAN_ACTION = `name: fixture action
description: a composite action
runs:
  using: composite
  steps:
    - uses: actions/setup-node@249970729cb0ef3589644e2896645e5dc5ba9c38 # v6.5.0
      with:
        node-version: 24
    - shell: bash
      run: npm ci --ignore-scripts --no-audit
`;

interface LintResult {
  readonly status: number | null;
  readonly output: string;
  readonly kinds: string[];
}

function lintTree(workflow: string, action = CLEAN_ACTION, actionlint = false): LintResult {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "lint-workflows-"));
  try {
    fs.mkdirSync(path.join(root, ".github", "workflows"), { recursive: true });
    fs.mkdirSync(path.join(root, ".github", "actions", "setup"), { recursive: true });
    fs.writeFileSync(path.join(root, ".github", "workflows", "fixture.yml"), workflow);
    fs.writeFileSync(path.join(root, ".github", "actions", "setup", "action.yml"), action);
    const result = spawnSync(
      process.execPath,
      [LINT, "--root", root, ...(actionlint ? [] : ["--no-actionlint"])],
      { encoding: "utf8", cwd: ROOT },
    );
    const output = `${result.stdout}${result.stderr}`;
    const kinds = [...output.matchAll(/\[([a-z-]+)\]$/gm)].map((m) => m[1]);
    return { status: result.status, output, kinds };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

function assertOnlyFinding(result: LintResult, kind: string, text: string) {
  assert.equal(result.status, 1, `expected the lint to fail:\n${result.output}`);
  assert.ok(result.kinds.length > 0 && result.kinds.every((k) => k === kind), result.output);
  assert.match(result.output, new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
}

// ---- tests ----------------------------------------------------------------------------------------

describe("pull-request.yml: the preview runs as the read-only preview identity", () => {
  it("has one preview job: same-repository PRs only, no environment, contents: read + id-token: write, the preview client id and token", () => {
    assert.deepEqual(previewJobProblems(load(PULL_REQUEST_YML)), []);
  });

  it("fails a preview job that runs in the dev environment (its subject would match the deploying identity)", () => {
    const violating = mutate(
      PULL_REQUEST_YML,
      "    runs-on: ubuntu-latest\n    # Deliberately no `environment:`",
      "    runs-on: ubuntu-latest\n    environment: dev\n    # Deliberately no `environment:`",
    );
    assert.match(previewJobProblems(load(violating)).join("\n"), /runs in environment "dev"/);
  });

  it("fails a preview job that signs in with the deploying identity's client id", () => {
    const violating = mutate(PULL_REQUEST_YML, "vars.AZURE_PREVIEW_CLIENT_ID }}", "vars.AZURE_CLIENT_ID }}");
    assert.match(previewJobProblems(load(violating)).join("\n"), /ARM_CLIENT_ID is .*AZURE_CLIENT_ID/);
    assert.match(
      pullRequestWorkflowProblems(violating).join("\n"),
      /deploying identity's vars\.AZURE_CLIENT_ID/,
    );
  });

  it("fails a preview job that reads state with the deploy token", () => {
    const violating = mutate(
      PULL_REQUEST_YML,
      "secrets.PULUMI_PREVIEW_ACCESS_TOKEN }}",
      "secrets.PULUMI_ACCESS_TOKEN }}",
    );
    assert.match(
      previewJobProblems(load(violating)).join("\n"),
      /PULUMI_ACCESS_TOKEN is .*not the read-only token/,
    );
    assert.match(pullRequestWorkflowProblems(violating).join("\n"), /secrets\.PULUMI_ACCESS_TOKEN/);
  });

  it("fails a preview job that also previews forks' pull requests", () => {
    const violating = mutate(
      PULL_REQUEST_YML,
      "    if: github.event.pull_request.head.repo.full_name == github.repository\n    runs-on: ubuntu-latest\n    # Deliberately",
      "    runs-on: ubuntu-latest\n    # Deliberately",
    );
    assert.match(
      previewJobProblems(load(violating)).join("\n"),
      /not limited to pull requests from this repository/,
    );
  });

  it("fails a preview job granted pull-requests: write or pulumi/actions comment-on-pr", () => {
    const widened = mutate(
      PULL_REQUEST_YML,
      "      id-token: write\n",
      "      id-token: write\n      pull-requests: write\n",
    );
    assert.match(previewJobProblems(load(widened)).join("\n"), /permissions must be exactly/);
    assert.match(pullRequestWorkflowProblems(widened).join("\n"), /preview: pull-requests: write is more/);
    const commenting = mutate(
      PULL_REQUEST_YML,
      "          comment-on-summary: true\n          policyPacks",
      "          comment-on-summary: true\n          comment-on-pr: true\n          policyPacks",
    );
    assert.match(previewJobProblems(load(commenting)).join("\n"), /comment-on-pr/);
  });
});

describe("pull-request.yml: least privilege in every job", () => {
  it("grants contents: read, id-token: write only to the preview, pull-requests: write only to a job that runs no PR code", () => {
    assert.deepEqual(pullRequestWorkflowProblems(PULL_REQUEST_YML), []);
    const workflow = load(PULL_REQUEST_YML);
    const commenters = Object.entries(workflow.jobs).filter(
      ([, job]) => typeof job.permissions === "object" && job.permissions["pull-requests"] === "write",
    );
    assert.deepEqual(
      commenters.map(([id]) => id),
      ["comment"],
    );
    assert.equal(workflow.permissions !== null && typeof workflow.permissions, "object");
    assert.deepEqual(workflow.permissions, {});
  });

  it("fails pull-requests: write on a job that checks out and runs the pull request's code", () => {
    const violating = mutate(
      PULL_REQUEST_YML,
      "    permissions:\n      contents: read\n    timeout-minutes: 10",
      "    permissions:\n      contents: read\n      pull-requests: write\n    timeout-minutes: 10",
    );
    assert.match(pullRequestWorkflowProblems(violating).join("\n"), /cost: pull-requests: write is more/);
  });

  it("fails a write scope anywhere else and a pull_request_target trigger", () => {
    const contents = mutate(
      PULL_REQUEST_YML,
      "    permissions:\n      contents: read\n    timeout-minutes: 30",
      "    permissions:\n      contents: write\n    timeout-minutes: 30",
    );
    assert.match(pullRequestWorkflowProblems(contents).join("\n"), /test: contents: write is more/);
    const target = mutate(PULL_REQUEST_YML, "on:\n  pull_request:\n", "on:\n  pull_request_target:\n");
    assert.match(pullRequestWorkflowProblems(target).join("\n"), /triggers on pull_request_target/);
  });
});

describe("deploy.yml and destroy.yml: the deploying identity only inside the stack's environment", () => {
  it("pulumi up of dev runs in environment dev as AZURE_CLIENT_ID, on pushes to main only", () => {
    const workflow = load(DEPLOY_YML);
    assert.deepEqual(deployingJobProblems(workflow, "up", "dev"), []);
    assert.deepEqual(workflow.on, { push: { branches: ["main"] } });
  });

  it("pulumi destroy runs in the environment named like the stack, on manual dispatch only", () => {
    const workflow = load(DESTROY_YML);
    assert.deepEqual(deployingJobProblems(workflow, "destroy", gh("inputs.stack")), []);
    assert.deepEqual(triggers(workflow), ["workflow_dispatch"]);
  });

  it("fails an up job outside the environment", () => {
    const violating = mutate(DEPLOY_YML, "    environment: dev\n", "");
    assert.match(
      deployingJobProblems(load(violating), "up", "dev").join("\n"),
      /environment is undefined, not dev/,
    );
  });
});

describe("the comment job edits only comments its own bot wrote", () => {
  it("leaves others' marker comments alone, creates its own, then updates its own in place", async () => {
    assert.deepEqual(await commentFilterProblems(commentScript(PULL_REQUEST_YML)), []);
  });

  it("says the preview failed, with the run's link, when the preview job did not succeed", async () => {
    const calls = await runCommentScript(commentScript(PULL_REQUEST_YML), [], {
      ...SCRIPT_ENV,
      PREVIEW: "",
      PREVIEW_RESULT: "failure",
    });
    const preview = calls.created.find((c) => c.body.startsWith(PREVIEW_MARKER))?.body ?? "";
    assert.match(preview, /`pulumi preview` of dev: failure/);
    assert.ok(preview.includes(SCRIPT_ENV.RUN_URL), preview);
  });

  it("fails a script that finds its comment by the marker alone", async () => {
    const markerOnly = `
      const { owner, repo } = context.repo;
      const issue_number = context.payload.pull_request.number;
      const comments = await github.paginate(github.rest.issues.listComments, { owner, repo, issue_number });
      for (const [marker, text] of [["${COST_MARKER}", process.env.COST], ["${PREVIEW_MARKER}", process.env.PREVIEW]]) {
        const body = marker + "\\n" + text;
        const found = comments.find((c) => c.body.startsWith(marker));
        if (found) await github.rest.issues.updateComment({ owner, repo, comment_id: found.id, body });
        else await github.rest.issues.createComment({ owner, repo, issue_number, body });
      }`;
    assert.match(
      (await commentFilterProblems(markerOnly)).join("\n"),
      /edited comment\(s\) 1, 2 that its bot did not write/,
    );
  });

  it("fails a script that checks the login but not that the author is a Bot account", async () => {
    const loginOnly = mutate(commentScript(PULL_REQUEST_YML), ' && comment.user?.type === "Bot"', "");
    assert.match(
      (await commentFilterProblems(loginOnly)).join("\n"),
      /edited comment\(s\) 3 that its bot did not write/,
    );
  });
});

describe("scripts/lint-workflows.mjs", () => {
  it("passes the repository's workflows and local action, actionlint included", () => {
    const result = spawnSync(process.execPath, [LINT], { encoding: "utf8", cwd: ROOT });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    assert.match(
      result.stdout,
      /actionlint 1\.7\.7 and local checks: 3 workflow file\(s\).* and 1 local action\(s\) clean/,
    );
  });

  it("passes the clean fixture (so each violation below fails for its own reason)", () => {
    const result = lintTree(CLEAN_WORKFLOW, CLEAN_ACTION, true);
    assert.equal(result.status, 0, result.output);
  });

  it("refuses an action pinned by tag, by a short SHA, or by a SHA without its version comment", () => {
    const checkout = "actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803 # v6.1.0";
    assertOnlyFinding(
      lintTree(mutate(CLEAN_WORKFLOW, checkout, "actions/checkout@v6")),
      "pinned-action",
      "not pinned by a full commit SHA",
    );
    assertOnlyFinding(
      lintTree(mutate(CLEAN_WORKFLOW, checkout, "actions/checkout@d23441a # v6.1.0")),
      "pinned-action",
      "not pinned by a full commit SHA",
    );
    assertOnlyFinding(
      lintTree(mutate(CLEAN_WORKFLOW, checkout, "actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803")),
      "pinned-action",
      "has no version comment",
    );
    assertOnlyFinding(
      lintTree(
        mutate(
          CLEAN_WORKFLOW,
          checkout,
          "actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803 # latest",
        ),
      ),
      "pinned-action",
      "has no version comment",
    );
  });

  it("refuses unpinned actions inside a local composite action too", () => {
    const action = mutate(
      CLEAN_ACTION,
      "actions/setup-node@249970729cb0ef3589644e2896645e5dc5ba9c38 # v6.5.0",
      "actions/setup-node@main",
    );
    assertOnlyFinding(lintTree(CLEAN_WORKFLOW, action), "pinned-action", "setup/action.yml");
  });

  it("refuses pull_request_target and workflow_run triggers", () => {
    assertOnlyFinding(
      lintTree(mutate(CLEAN_WORKFLOW, "  pull_request:\n", "  pull_request_target:\n")),
      "trigger",
      "pull_request_target runs with",
    );
    assertOnlyFinding(
      lintTree(
        mutate(
          CLEAN_WORKFLOW,
          "  pull_request:\n    branches: [main]\n",
          "  workflow_run:\n    workflows: [x]\n",
        ),
      ),
      "trigger",
      "workflow_run runs with",
    );
  });

  it("refuses a workflow without permissions: {}, a job without permissions, and write-all", () => {
    assertOnlyFinding(
      lintTree(mutate(CLEAN_WORKFLOW, "permissions: {}\n", "")),
      "permissions",
      "must start from `permissions: {}`",
    );
    assertOnlyFinding(
      lintTree(mutate(CLEAN_WORKFLOW, "    permissions:\n      contents: read\n", "")),
      "permissions",
      "job declares no permissions",
    );
    assertOnlyFinding(
      lintTree(
        mutate(CLEAN_WORKFLOW, "    permissions:\n      contents: read\n", "    permissions: write-all\n"),
      ),
      "permissions",
      "write-all grants every scope",
    );
  });

  it("refuses npm ci without --ignore-scripts and npm install, in workflows and in local actions", () => {
    assertOnlyFinding(
      lintTree(mutate(CLEAN_WORKFLOW, "run: npm ci --ignore-scripts", "run: npm ci")),
      "npm-scripts",
      "add --ignore-scripts",
    );
    assertOnlyFinding(
      lintTree(
        mutate(CLEAN_WORKFLOW, "run: npm ci --ignore-scripts", "run: cd app && npm install --ignore-scripts"),
      ),
      "npm-scripts",
      "use npm ci --ignore-scripts",
    );
    const action = mutate(CLEAN_ACTION, "run: npm ci --ignore-scripts --no-audit", "run: npm ci --no-audit");
    assertOnlyFinding(lintTree(CLEAN_WORKFLOW, action), "npm-scripts", "add --ignore-scripts");
  });

  it("refuses a GitHub expression inside a run: script or a github-script script", () => {
    const inRun = mutate(
      CLEAN_WORKFLOW,
      `        env:\n          TITLE: ${gh("github.event.pull_request.title")}\n        run: echo "$TITLE"`,
      `        run: echo "${gh("github.event.pull_request.title")}"`,
    );
    assertOnlyFinding(
      lintTree(inRun),
      "expression-in-script",
      `run contains ${gh("github.event.pull_request.title")}`,
    );
    const inScript = `${CLEAN_WORKFLOW}      - uses: actions/github-script@ed597411d8f924073f98dfc5c65a23a2325f34cd # v8.0.0
        with:
          script: console.log("\${{ github.head_ref }}")
`;
    assertOnlyFinding(
      lintTree(inScript),
      "expression-in-script",
      `with.script contains ${gh("github.head_ref")}`,
    );
  });

  it("refuses actions/checkout that keeps the token in .git/config", () => {
    assertOnlyFinding(
      lintTree(mutate(CLEAN_WORKFLOW, "        with:\n          persist-credentials: false\n", "")),
      "checkout-credentials",
      "persist-credentials: false",
    );
  });
});

describe("the shared setup action", () => {
  it("installs npm packages without lifecycle scripts before any credential is used", () => {
    const action = parse(SETUP_ACTION_YML) as { runs: { steps: Step[] } };
    const steps = action.runs.steps;
    const install = steps.findIndex((step) => /\bnpm ci\b/.test(step.run ?? ""));
    const login = steps.findIndex((step) => usesAction(step, "azure/login"));
    assert.ok(install >= 0 && login > install, "npm ci runs before the Azure sign-in");
    assert.match(steps[install].run ?? "", /npm ci --ignore-scripts\b/);
  });
});

/** What deploy.yml's up job must do around `pulumi up` (issue 21): free disk first, verify the service after. */
function deployVerifyProblems(workflow: Workflow): string[] {
  const steps = workflow.jobs.up?.steps ?? [];
  const problems: string[] = [];
  const up = steps.findIndex((step) => usesAction(step, "pulumi/actions") && step.with?.command === "up");
  const verify = steps.findIndex((step) => /\bscripts\/verify\.sh "\$STACK"/.test(step.run ?? ""));
  const disk = steps.findIndex((step) => /df --output=avail/.test(step.run ?? ""));
  if (up < 0) problems.push("no pulumi up step");
  if (verify < 0) problems.push("no scripts/verify.sh step");
  else {
    if (verify < up) problems.push("verify.sh runs before pulumi up");
    const step = steps[verify] as Step & { shell?: string; "continue-on-error"?: unknown };
    if (step.shell !== "bash")
      problems.push("the verify step pipes into tee without shell: bash (pipefail), so a failure would pass");
    if (step["continue-on-error"] !== undefined)
      problems.push("the verify step may fail without failing the job");
  }
  if (disk < 0 || disk > up) problems.push("no disk space check before pulumi up builds the CUDA image");
  const relogin = steps.findIndex((step, i) => i > up && usesAction(step, "azure/login"));
  if (relogin < 0 || relogin > verify)
    problems.push(
      "no fresh azure/login between pulumi up and verify.sh (the first CLI session cannot renew)",
    );
  return problems;
}

describe("deploy.yml: the first run (issue 21)", () => {
  it("frees disk before the CUDA image build and verifies the live service after pulumi up, failing the job", () => {
    assert.deepEqual(deployVerifyProblems(load(DEPLOY_YML)), []);
  });

  it("fails a deploy without the verify step, or one whose tee would hide a failing verify", () => {
    const without = mutate(
      DEPLOY_YML,
      '        run: bash scripts/verify.sh "$STACK"',
      "        run: echo skipped",
    );
    assert.match(deployVerifyProblems(load(without)).join("\n"), /no scripts\/verify\.sh step/);
    const noPipefail = mutate(
      DEPLOY_YML,
      "      - name: Verify the live service\n        shell: bash\n",
      "      - name: Verify the live service\n",
    );
    assert.match(deployVerifyProblems(load(noPipefail)).join("\n"), /without shell: bash/);
    const steps = load(DEPLOY_YML).jobs.up?.steps ?? [];
    const relogin = steps.find((step, i) => i > 0 && usesAction(step, "azure/login"));
    assert.ok(relogin?.uses);
    const withoutRelogin = mutate(DEPLOY_YML, `uses: ${relogin.uses}`, "uses: ./.github/actions/none");
    assert.match(
      deployVerifyProblems(load(withoutRelogin)).join("\n"),
      /no fresh azure\/login between pulumi up and verify\.sh/,
    );
  });
});

describe("the shared setup action: credentials that outlive a long pulumi up (issue 21)", () => {
  const steps = (parse(SETUP_ACTION_YML) as { runs: { steps: (Step & { name?: string })[] } }).runs.steps;
  const refresher = steps.findIndex((step) => /AZURE_FEDERATED_TOKEN_FILE/.test(step.run ?? ""));
  const kubelogin = steps.findIndex((step) =>
    /az aks install-cli --kubelogin-version v\d+\.\d+\.\d+/.test(step.run ?? ""),
  );
  const login = steps.findIndex((step) => /pulumi login/.test(step.run ?? ""));

  it("keeps a token file fresh and installs a pinned kubelogin before the state backend is used", () => {
    assert.ok(refresher >= 0 && refresher < login, "the token file exists before pulumi login");
    assert.ok(kubelogin >= 0 && kubelogin < login, "kubelogin is installed before pulumi runs");
  });

  it("its script writes a fresh token, points the Azure SDKs and kubelogin at it, and keeps renewing it", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "token-refresh-"));
    const bin = path.join(tmp, "bin");
    fs.mkdirSync(bin);
    // curl answers as GitHub's token endpoint does, counting requests; sleep ends the renewal loop at once.
    fs.writeFileSync(
      path.join(bin, "curl"),
      `#!/usr/bin/env bash\nn=$(( $(cat "${tmp}/count" 2>/dev/null || echo 0) + 1 )); echo $n >"${tmp}/count"\necho "$*" >>"${tmp}/curl.log"\nprintf '{"count":1,"value":"github-oidc-token-%s"}' "$n"\n`,
      { mode: 0o755 },
    );
    fs.writeFileSync(
      path.join(bin, "sleep"),
      '#!/bin/sh\n[ -f "$0.once" ] && exit 1; touch "$0.once"; exit 0\n',
      { mode: 0o755 },
    );
    const githubEnv = path.join(tmp, "github_env");
    fs.writeFileSync(githubEnv, "");
    const result = spawnSync("bash", ["-e", "-c", steps[refresher].run ?? ""], {
      encoding: "utf8",
      env: {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        RUNNER_TEMP: tmp,
        GITHUB_ENV: githubEnv,
        ACTIONS_ID_TOKEN_REQUEST_URL: "https://token.actions.example/id?api-version=2.0",
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: "request-token",
        ARM_CLIENT_ID: "deploy-client-id",
        ARM_TENANT_ID: "tenant-id",
      },
    });
    assert.equal(result.status, 0, result.stderr);
    const tokenFile = path.join(tmp, "azure-federated-token");
    const env = fs.readFileSync(githubEnv, "utf8");
    assert.match(env, new RegExp(`^AZURE_FEDERATED_TOKEN_FILE=${tokenFile}$`, "m"));
    assert.match(env, /^AZURE_CLIENT_ID=deploy-client-id$/m);
    assert.match(env, /^AZURE_TENANT_ID=tenant-id$/m);
    assert.match(env, /^AAD_LOGIN_METHOD=workloadidentity$/m);
    assert.match(
      fs.readFileSync(path.join(tmp, "curl.log"), "utf8"),
      /audience=api:\/\/AzureADTokenExchange/,
    );
    // The background loop renews once (the fake sleep lets it through once) and then ends.
    const deadline = Date.now() + 10_000;
    while (fs.readFileSync(tokenFile, "utf8") !== "github-oidc-token-2" && Date.now() < deadline)
      spawnSync("sleep", ["0.1"]);
    assert.equal(fs.readFileSync(tokenFile, "utf8"), "github-oidc-token-2");
    fs.rmSync(tmp, { recursive: true, force: true });
  });
});
