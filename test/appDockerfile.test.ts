/**
 * app/Dockerfile, parsed with dockerfile-ast: a pinned slim CPython 3.12 base with the hash-locked requirements, a non-root numeric user, the
 * server's command and port, the env defaults the Deployment relies on, and COPY sources that
 * exist in app/ and survive app/.dockerignore. app/requirements.txt pins every package.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { DockerfileParser } from "dockerfile-ast";
import { APP_ENV, APP_PORT, APP_UID, MODEL_DIRS } from "../components/appContract";

const APP = path.resolve(__dirname, "..", "app");
const dockerfile = DockerfileParser.parse(fs.readFileSync(path.join(APP, "Dockerfile"), "utf8"));
const dockerignore = fs
  .readFileSync(path.join(APP, ".dockerignore"), "utf8")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"));

function instructions(keyword: string) {
  return dockerfile.getInstructions().filter((i) => i.getKeyword() === keyword);
}

function envValues(): Map<string, string | null> {
  const values = new Map<string, string | null>();
  for (const env of dockerfile.getENVs()) {
    for (const property of env.getProperties()) {
      values.set(property.getName(), property.getValue());
    }
  }
  return values;
}

describe("app/Dockerfile", () => {
  it("builds on a slim CPython 3.12 base pinned by an exact version tag, not a CUDA base", () => {
    // The torch wheels bring the CUDA runtime and cuDNN; a CUDA base would ship them twice.
    const froms = dockerfile.getFROMs();
    assert.equal(froms.length, 1);
    assert.equal(froms[0].getImageName(), "python");
    const tag = froms[0].getImageTag() ?? "";
    assert.match(tag, /^3\.12\.\d+-slim-[a-z]+$/, `tag ${tag} is not a pinned CPython 3.12 slim tag`);
  });

  it("installs exactly the hash-locked requirements the tests run on", () => {
    const runs = instructions("RUN").map((i) => i.getArgumentsContent() ?? "");
    assert.ok(
      runs.some((run) => /pip install --require-hashes --no-deps -r \/tmp\/requirements\.txt/.test(run)),
      "the image must install app/requirements.txt with --require-hashes --no-deps",
    );
    assert.equal(envValues().get("NVIDIA_DRIVER_CAPABILITIES"), "compute,utility");
  });

  it("runs as a non-root user with a numeric uid", () => {
    const users = instructions("USER");
    assert.ok(users.length >= 1, "no USER instruction: the container would run as root");
    const user = users[users.length - 1].getArgumentsContent() ?? "";
    const uid = user.split(":")[0];
    assert.match(uid, /^\d+$/, `USER ${user} is not numeric (Kubernetes runAsNonRoot needs a numeric uid)`);
    assert.notEqual(Number(uid), 0);
    assert.equal(uid, String(APP_UID), "the uid the Deployment runs as (components/appContract.ts)");
    // USER comes after every RUN, so nothing later runs as root.
    const all = dockerfile.getInstructions();
    const lastUser = all.lastIndexOf(users[users.length - 1]);
    assert.ok(all.slice(lastUser).every((i) => i.getKeyword() !== "RUN"));
  });

  it("starts the server with python3 -m scoring on the contract's port", () => {
    const cmds = dockerfile.getCMDs();
    assert.equal(cmds.length, 1);
    assert.deepEqual(
      cmds[0].getJSONStrings().map((s) => s.getJSONValue()),
      ["python3", "-m", "scoring"],
    );
    const exposed = instructions("EXPOSE").map((i) => i.getArgumentsContent());
    assert.deepEqual(exposed, [String(APP_PORT)]);
  });

  it("sets the environment defaults the Deployment relies on", () => {
    const env = envValues();
    // Where the Deployment mounts the fetched model read-only; the image itself holds none.
    assert.equal(env.get(APP_ENV.modelDir), MODEL_DIRS.serve);
    assert.equal(env.get(APP_ENV.device), "cuda");
    assert.equal(env.get(APP_ENV.port), String(APP_PORT));
    assert.equal(env.get("ENTRY_SCRIPT"), "/app/score.py");
  });

  it("copies only sources that exist in app/ and that .dockerignore lets through", () => {
    const copies = dockerfile.getCOPYs();
    assert.ok(copies.length >= 3);
    const sources: string[] = [];
    for (const copy of copies) {
      assert.equal(
        copy.getFlags().filter((f) => f.getName() === "from").length,
        0,
        "no multi-stage copies expected",
      );
      const args = copy.getArguments().map((a) => a.getValue());
      sources.push(...args.slice(0, -1));
    }
    for (const source of sources) {
      assert.ok(fs.existsSync(path.join(APP, source)), `COPY source ${source} does not exist in app/`);
      const entry = source.replace(/\/$/, "");
      assert.ok(
        dockerignore.some((line) => line === `!${entry}` || line === `!${entry}/`),
        `COPY source ${source} is not allowed through app/.dockerignore`,
      );
    }
    for (const needed of ["scoring/", "score.py"]) {
      assert.ok(sources.includes(needed), `the image must contain ${needed}`);
    }
    assert.ok(!sources.some((s) => s.startsWith("tests")), "tests must not be copied into the image");
    // Code, not weights (issue 12): a new model version must roll the pods without a new image.
    assert.ok(!sources.some((s) => s.startsWith("model")), "the weights must not be copied into the image");
    assert.ok(
      !dockerignore.some((line) => line.startsWith("!model")),
      "app/.dockerignore must keep the weights out of the build context",
    );
    assert.ok(
      fs.existsSync(path.join(APP, "model", "mnist_mlp.npz")),
      "app/model/ keeps the weights for local runs, tests and the registration",
    );
  });
});

describe("app/requirements.txt", () => {
  // pip-compile output: a requirement may continue over `\`-ended lines with its --hash options.
  const lines = fs
    .readFileSync(path.join(APP, "requirements.txt"), "utf8")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.replace(/\s--hash=\S+/g, "").trim())
    .filter((line) => line !== "" && !line.startsWith("#"));

  it("pins every package to an exact version", () => {
    const packages = lines.filter((line) => !line.startsWith("--"));
    for (const line of packages) {
      assert.match(line, /^[A-Za-z0-9_.-]+==[0-9][^\s]*$/, `${line} is not pinned with ==`);
    }
    // Names compare as PEP 503 normalises them (prometheus_client = prometheus-client).
    const normal = (name: string): string => name.toLowerCase().replace(/[-_.]+/g, "-");
    const names = packages.map((line) => normal(line.split("==")[0]));
    for (const needed of ["torch", "numpy", "aiohttp", "prometheus_client", "uvloop"]) {
      assert.ok(names.includes(normal(needed)), `${needed} is missing`);
    }
  });

  it("pins torch exactly (a CUDA build, from PyPI or PyTorch's own index)", () => {
    assert.ok(
      lines.some((line) => /^torch==2\.\d+\.\d+(\+cu\d+)?$/.test(line)),
      "torch is not pinned",
    );
  });

  it("hashes every requirement or none (pip's --require-hashes is all or nothing)", () => {
    const requirements = fs
      .readFileSync(path.join(APP, "requirements.txt"), "utf8")
      .replace(/\\\n/g, " ")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => /^[A-Za-z0-9_.-]+==/.test(line));
    const hashed = requirements.filter((line) => /\s--hash=sha256:[0-9a-f]{64}/.test(line));
    assert.ok(
      hashed.length === 0 || hashed.length === requirements.length,
      `${hashed.length}/${requirements.length}`,
    );
  });
});
