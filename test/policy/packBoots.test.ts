/**
 * Boots the pack exactly as `pulumi preview --policy-pack policy` does (Pulumi's run-policy-pack, with
 * ts-node type-checking policy/ against policy/tsconfig.json, cwd = the pack directory), then talks
 * to it over the analyzer gRPC protocol the engine uses. Proves the pack's package.json, tsconfig
 * and PulumiPolicy.yaml are enough, and that a violation reaches the engine as mandatory.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import type * as grpcTypes from "@grpc/grpc-js";
import type * as analyzerGrpc from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import type * as analyzerPb from "@pulumi/pulumi/proto/analyzer_pb";
import type * as emptyPb from "google-protobuf/google/protobuf/empty_pb";
import type * as structPb from "google-protobuf/google/protobuf/struct_pb";

// gRPC and protobuf are @pulumi/pulumi's own dependencies: resolve them from there, as the engine does.
const fromPulumi = createRequire(require.resolve("@pulumi/pulumi/package.json"));
const grpc: typeof grpcTypes = fromPulumi("@grpc/grpc-js");
const { AnalyzerClient }: typeof analyzerGrpc = fromPulumi("./proto/analyzer_grpc_pb");
const pb: typeof analyzerPb = fromPulumi("./proto/analyzer_pb");
const { Empty }: typeof emptyPb = fromPulumi("google-protobuf/google/protobuf/empty_pb");
const { Struct }: typeof structPb = fromPulumi("google-protobuf/google/protobuf/struct_pb");

const PACK_DIR = path.resolve(__dirname, "..", "..", "policy");
const BOOT_TIMEOUT_MS = 60_000;

function bootPack(): Promise<{ child: ChildProcess; port: number }> {
  const runner = fromPulumi.resolve("./cmd/run-policy-pack");
  // The engine address is only used for logging, which these calls do not reach.
  const child = spawn(process.execPath, [runner, "127.0.0.1:1", "."], { cwd: PACK_DIR, stdio: "pipe" });
  return new Promise((resolve, reject) => {
    let stderr = "";
    const timer = setTimeout(
      () => reject(new Error(`pack did not start in time:\n${stderr}`)),
      BOOT_TIMEOUT_MS,
    );
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout?.once("data", (chunk: Buffer) => {
      clearTimeout(timer);
      resolve({ child, port: Number(chunk.toString().trim()) });
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`pack exited with ${code}:\n${stderr}`));
    });
  });
}

function call<Req, Res>(
  method: (req: Req, cb: (err: grpcTypes.ServiceError | null, res: Res) => void) => unknown,
  request: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => method(request, (err, res) => (err ? reject(err) : resolve(res))));
}

describe("the policy pack as the Pulumi engine runs it", { timeout: BOOT_TIMEOUT_MS + 10_000 }, () => {
  let child: ChildProcess | undefined;
  let client: analyzerGrpc.AnalyzerClient;

  before(async () => {
    const booted = await bootPack();
    child = booted.child;
    client = new AnalyzerClient(`127.0.0.1:${booted.port}`, grpc.credentials.createInsecure());
  });

  after(() => {
    client?.close();
    child?.kill();
  });

  it("reports its name, version and every policy as mandatory", async () => {
    const info = await call<emptyPb.Empty, analyzerPb.AnalyzerInfo>(
      client.getAnalyzerInfo.bind(client),
      new Empty(),
    );
    assert.equal(info.getName(), "gpu-inference-aks");
    assert.equal(info.getVersion(), "0.1.0");
    const policies = info.getPoliciesList().map((p) => [p.getName(), p.getEnforcementlevel()]);
    // The 10 of issue 10, the 5 of issue 11 (policy/rules/security.ts), the 3 of issue 23 (rules/versions.ts),
    // the 1 of issue 22 (rules/autoscaling.ts).
    assert.equal(policies.length, 19);
    for (const [name, level] of policies) assert.equal(level, pb.EnforcementLevel.MANDATORY, String(name));
  });

  it("fails a retired GPU pool size with the message a user sees in the preview", async () => {
    const options = new pb.AnalyzerResourceOptions();
    options.setCustomtimeouts(new pb.AnalyzerResourceOptions.CustomTimeouts());
    const request = new pb.AnalyzeRequest();
    request.setType("azure-native:containerservice:AgentPool");
    request.setName("gpu");
    request.setUrn("urn:pulumi:dev::gpu-inference-aks::azure-native:containerservice:AgentPool::gpu");
    request.setProperties(
      Struct.fromJavaScript({
        agentPoolName: "gpu",
        vmSize: "Standard_NC6",
        nodeTaints: ["sku=gpu:NoSchedule"],
      }),
    );
    request.setOptions(options);
    const response = await call<analyzerPb.AnalyzeRequest, analyzerPb.AnalyzeResponse>(
      client.analyze.bind(client),
      request,
    );
    const diagnostics = response.getDiagnosticsList();
    assert.equal(diagnostics.length, 1);
    assert.equal(diagnostics[0].getPolicyname(), "gpu-pool-vm-size-supported");
    assert.equal(diagnostics[0].getEnforcementlevel(), pb.EnforcementLevel.MANDATORY);
    assert.match(diagnostics[0].getMessage(), /Standard_NC6 .* was retired by Azure on 2023-09-06/);
  });
});
