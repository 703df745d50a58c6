/**
 * scripts/verify.sh against a live local service: the real app (`python3 -m scoring` from app/, in the
 * project's Python environment) behind a local TLS server whose certificate a throw-away CA signed for
 * localhost, with stand-ins for pulumi (the stack outputs), az, kubelogin and kubectl (pods and nodes as
 * the API returns them) on PATH. A healthy service passes every check; each kind of fault fails the one
 * check a user would expect it to fail, with the exit status deploy.yml relies on.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT } from "./harness";

const PRIMARY = "primary-key-for-verify-test-0123456789";
const SECONDARY = "secondary-key-for-verify-test-9876543210";
const IMAGE = "registry.azurecr.io/scoring@sha256:0123";
const BLOB = "https://store.blob.core.windows.net/models/mnist-mlp/1/mnist_mlp.npz";
const SHA = "ab".repeat(32);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "verify-sh-"));
const servers: (http.Server | https.Server)[] = [];
let app: ChildProcess | undefined;
let appPort = 0;

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

/** A server certificate the test CA (made once, in before) signs for `host` (DNS name) and 127.0.0.1. */
function issue(name: string, host: string): { key: string; cert: string } {
  fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=DNS:${host},IP:127.0.0.1\n`);
  openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${host}`,
  );
  openssl(
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
  );
  return {
    key: fs.readFileSync(path.join(dir, `${name}.key`), "utf8"),
    cert: fs.readFileSync(path.join(dir, `${name}.pem`), "utf8"),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** A TLS front for the app; `rewrite` may change a request's headers on the way (a faulty service). */
function tlsFront(
  tls: { key: string; cert: string },
  rewrite?: (headers: http.IncomingHttpHeaders) => void,
): Promise<number> {
  const server = https.createServer(tls, (req, res) => {
    // The whole request first, then upstream in one piece, as a real entry point (Envoy) buffers it.
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const headers = { ...req.headers };
      rewrite?.(headers);
      const upstream = http.request(
        { host: "127.0.0.1", port: appPort, path: req.url, method: req.method, headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => {
        if (!res.headersSent) res.writeHead(502).end();
      });
      upstream.end(Buffer.concat(chunks));
    });
  });
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

function pod(name: string, node: string, overrides: { sha?: string; ready?: boolean } = {}): unknown {
  return {
    metadata: { name },
    spec: {
      nodeName: node,
      containers: [
        {
          name: "scoring",
          image: IMAGE,
          env: [
            { name: "MODEL_URI", value: BLOB },
            { name: "MODEL_SHA256", value: overrides.sha ?? SHA },
          ],
        },
      ],
    },
    status: { conditions: [{ type: "Ready", status: overrides.ready === false ? "False" : "True" }] },
  };
}
const gpuNode = (name: string): unknown => ({
  metadata: { name, labels: { workload: "gpu-inference" } },
  status: { allocatable: { "nvidia.com/gpu": "1" } },
});
const HEALTHY_PODS = {
  items: [pod("scoring-a", "gpu-0"), pod("scoring-b", "gpu-1"), pod("scoring-c", "gpu-2")],
};
const NODES = {
  items: [
    gpuNode("gpu-0"),
    gpuNode("gpu-1"),
    gpuNode("gpu-2"),
    { metadata: { name: "system-0", labels: {} }, status: {} },
  ],
};

async function runVerify(
  port: number,
  options: { pods?: unknown; args?: string[]; host?: string } = {},
): Promise<{ status: number | null; stdout: string; calls: string }> {
  const bin = fs.mkdtempSync(path.join(dir, "bin-"));
  const outputs = {
    scoringUri: `https://${options.host ?? "localhost"}:${port}/score`,
    primaryKey: PRIMARY,
    secondaryKey: SECONDARY,
    replicas: 3,
    imageRef: IMAGE,
    modelName: "mnist-mlp",
    modelVersion: "1",
    modelBlobUrl: BLOB,
    modelSha256: SHA,
    namespace: "scoring",
    resourceGroupName: "rg",
    clusterName: "aks",
  };
  fs.writeFileSync(path.join(bin, "outputs.json"), JSON.stringify(outputs));
  fs.writeFileSync(path.join(bin, "pods.json"), JSON.stringify(options.pods ?? HEALTHY_PODS));
  fs.writeFileSync(path.join(bin, "nodes.json"), JSON.stringify(NODES));
  const log = path.join(bin, "calls.log");
  const tool = (name: string, body: string): void =>
    fs.writeFileSync(path.join(bin, name), `#!/usr/bin/env bash\necho "${name} $*" >>"${log}"\n${body}\n`, {
      mode: 0o755,
    });
  tool("pulumi", `cat "${bin}/outputs.json"`);
  tool("az", "true");
  tool("kubelogin", "true");
  tool("kubectl", `case "$2" in pods) cat "${bin}/pods.json" ;; nodes) cat "${bin}/nodes.json" ;; esac`);
  fs.writeFileSync(log, "");
  // Asynchronous: the TLS fronts live in this process and must keep answering while the script runs.
  const child = spawn("bash", [path.join(ROOT, "scripts", "verify.sh"), "dev", ...(options.args ?? [])], {
    env: {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      VERIFY_CA_FILE: path.join(dir, "ca.pem"),
      VERIFY_BURST_REQUESTS: "40",
      VERIFY_BURST_CONCURRENCY: "4",
    },
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { status, stdout: output, calls: fs.readFileSync(log, "utf8") };
}

let good = { key: "", cert: "" };
let goodPort = 0;
before(async () => {
  const python = execFileSync("bash", ["-c", "source scripts/python-env.sh && ensure_python_env"], {
    cwd: ROOT,
    encoding: "utf8",
  }).trim();
  appPort = await freePort();
  app = spawn(python, ["-m", "scoring"], {
    cwd: path.join(ROOT, "app"),
    stdio: "ignore",
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(appPort),
      METRICS_PORT: String(await freePort()),
      HOST: "127.0.0.1",
      SCORING_PRIMARY_KEY: PRIMARY,
      SCORING_SECONDARY_KEY: SECONDARY,
      DEVICE: "cpu",
      WORKERS: "1",
      OMP_NUM_THREADS: "1",
    },
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ready = await new Promise<boolean>((resolve) => {
      http
        .get({ host: "127.0.0.1", port: appPort, path: "/ready" }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        })
        .on("error", () => resolve(false));
    });
    if (ready) break;
    assert.ok(Date.now() < deadline, "the app did not become ready");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // The throw-away CA verify.sh is told to trust (VERIFY_CA_FILE).
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=verify test CA",
  );
  good = issue("localhost", "localhost");
  goodPort = await tlsFront(good);
});

after(() => {
  app?.kill();
  for (const server of servers) server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("scripts/verify.sh", () => {
  it("passes a healthy service and prints every check, the burst's p50 and p99 included", async () => {
    const { status, stdout, calls } = await runVerify(goodPort);
    assert.equal(status, 0, stdout);
    assert.match(stdout, /^ok {3}certificate valid for localhost, issued by .*, expires .* \(\d+ days\)$/m);
    assert.match(
      stdout,
      /^ok {3}\/score with the primaryKey: (1[89]|20)\/20 real digits labelled correctly/m,
    );
    assert.match(
      stdout,
      /^ok {3}\/score with the secondaryKey: (1[89]|20)\/20 real digits labelled correctly/m,
    );
    assert.match(stdout, /^ok {3}\/score with no key: HTTP 401 \(401 expected\)$/m);
    assert.match(stdout, /^ok {3}\/score with a wrong key: HTTP 401 \(401 expected\)$/m);
    assert.match(stdout, /^ok {3}3\/3 replicas Ready on GPU nodes \(gpu-0, gpu-1, gpu-2\)$/m);
    assert.match(
      stdout,
      /^ok {3}served model mnist-mlp version 1 \(sha256 abababababab\.\.\.\) is the registered one/m,
    );
    assert.match(
      stdout,
      /^ok {3}burst of 40 requests, 4 at a time: 40 answered 200 in [\d.]+ s \(\d+ req\/s\), p50 [\d.]+ ms, p99 [\d.]+ ms$/m,
    );
    assert.match(stdout, /^verify: passed$/m);
    assert.ok(!stdout.includes(PRIMARY) && !stdout.includes(SECONDARY), "a key reached the report");
    assert.match(calls, /^az aks get-credentials --resource-group rg --name aks /m);
    assert.match(
      calls,
      /^kubectl get pods --namespace scoring --selector app\.kubernetes\.io\/name=scoring/m,
    );
  });

  it("fails a certificate issued for another name", async () => {
    const port = await tlsFront(issue("elsewhere", "elsewhere.example"));
    const { status, stdout } = await runVerify(port);
    assert.equal(status, 1, stdout);
    assert.match(
      stdout,
      /^FAIL certificate for localhost: .*(Hostname mismatch|doesn't match|not valid for)/im,
    );
    assert.match(stdout, /^verify: FAILED$/m);
  });

  it("fails a service that lets a request without a key through", async () => {
    const port = await tlsFront(good, (headers) => {
      headers.authorization ??= `Bearer ${PRIMARY}`;
    });
    const { status, stdout } = await runVerify(port, { args: ["--skip-kubectl"] });
    assert.equal(status, 1, stdout);
    assert.match(stdout, /^FAIL \/score with no key: HTTP 200 \(401 expected\)$/m);
  });

  it("fails a replica off the GPU pool, one not Ready, and one serving another model version", async () => {
    const pods = {
      items: [
        pod("scoring-a", "system-0"),
        pod("scoring-b", "gpu-1", { ready: false }),
        pod("scoring-c", "gpu-2", { sha: "cd".repeat(32) }),
      ],
    };
    const { status, stdout } = await runVerify(goodPort, { pods });
    assert.equal(status, 1, stdout);
    assert.match(
      stdout,
      /^FAIL 3\/3 replicas Ready on GPU nodes .*scoring-a on system-0, not a GPU node; scoring-b not Ready/m,
    );
    assert.match(stdout, /^FAIL served model .*: scoring-c serves .* \(cdcd/m);
  });

  it("--skip-kubectl leaves out az, kubelogin and kubectl and says so", async () => {
    const { status, stdout, calls } = await runVerify(goodPort, { args: ["--skip-kubectl"] });
    assert.equal(status, 0, stdout);
    assert.match(
      stdout,
      /^skip replicas on GPU nodes and the served model version \(kubectl checks skipped\)$/m,
    );
    assert.doesNotMatch(calls, /^(az|kubectl|kubelogin) /m);
  });
});
