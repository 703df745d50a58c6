/** Bad config stops the program before it declares a single resource. */
import assert from "node:assert/strict";
import { it } from "node:test";
import { ConfigError } from "../components/config";
import { type Recorded, runProgram } from "./harness";

it("rejects replicas 0 and more pods than GPUs with ConfigError, registering nothing", async () => {
  const registered: Recorded[] = [];
  await assert.rejects(
    runProgram({ config: { replicas: "0", replicaGpus: "2" }, onRegister: (r) => registered.push(r) }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      const problems = error.problems.join("\n");
      assert.match(problems, /replicas = 0: must be between 1 and 1000/);
      assert.match(problems, /replicaGpus = 2: is more than one Standard_NC4as_T4_v3 node has \(1\)/);
      assert.match(
        error.message,
        /Invalid stack configuration: 2 problem\(s\), each shown above with its fix/,
      );
      return true;
    },
  );
  assert.deepEqual(registered, []);
});
