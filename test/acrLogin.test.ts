/**
 * The registry login: the exchange sends the registry-audience token, and a first push waits while a
 * fresh AcrPush grant propagates (ACR hands out tokens without `push` until it does), then gives up
 * with a message instead of hanging.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import {
  ACR_AUDIENCE,
  exchangeForAcrRefreshToken,
  grantedActions,
  PREVIEW_PASSWORD,
  type RegistryLogin,
  registryLogin,
  waitForPushPermission,
} from "../components/acrLogin";
import { acrAccessToken, outputValue } from "./harness";

const SERVER = "gpuinfacrx7k2q9.azurecr.io";

/** A registry whose /oauth2/token grants push only from the `grantFrom`-th request on. */
function registry(grantFrom: number) {
  const calls: URLSearchParams[] = [];
  const sleeps: number[] = [];
  const http = {
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      const form = new URLSearchParams(String(init?.body ?? ""));
      calls.push(form);
      if (String(input).endsWith("/oauth2/exchange"))
        return new Response(JSON.stringify({ refresh_token: "refresh" }), { status: 200 });
      const repository = (form.get("scope") ?? "").split(":")[1] ?? "";
      const actions = calls.length >= grantFrom ? ["pull", "push"] : [];
      return new Response(JSON.stringify({ access_token: acrAccessToken(repository, actions) }), {
        status: 200,
      });
    }) as typeof fetch,
    sleep: async (ms: number) => {
      sleeps.push(ms);
    },
  };
  return { http, calls, sleeps };
}

describe("ACR login", () => {
  it("asks for tokens of the registry audience", () => {
    assert.equal(ACR_AUDIENCE, "https://containerregistry.azure.net");
  });

  it("exchanges the Entra token for a refresh token at the registry", async () => {
    const { http, calls } = registry(1);
    assert.equal(await exchangeForAcrRefreshToken(SERVER, "tenant", "entra-token", http), "refresh");
    assert.deepEqual(Object.fromEntries(calls[0]), {
      grant_type: "access_token",
      service: SERVER,
      tenant: "tenant",
      access_token: "entra-token",
    });
  });

  it("reads the granted actions from the access token's access claim", () => {
    assert.deepEqual(grantedActions(acrAccessToken("scoring", ["pull", "push"]), "scoring"), [
      "pull",
      "push",
    ]);
    assert.deepEqual(grantedActions(acrAccessToken("scoring", ["pull"]), "other"), []);
    assert.deepEqual(grantedActions("not-a-jwt", "scoring"), []);
  });

  it("retries while the AcrPush grant propagates, then goes ahead", async () => {
    const { http, calls, sleeps } = registry(4);
    const attempts = await waitForPushPermission(SERVER, "refresh", ["scoring"], http, {
      attempts: 10,
      delayMs: 15,
    });
    assert.equal(attempts, 4);
    assert.deepEqual(sleeps, [15, 15, 15]);
    assert.deepEqual(Object.fromEntries(calls[0]), {
      grant_type: "refresh_token",
      service: SERVER,
      scope: "repository:scoring:pull,push",
      refresh_token: "refresh",
    });
  });

  it("gives up with a message naming the repositories still refused", async () => {
    const { http } = registry(Number.POSITIVE_INFINITY);
    await assert.rejects(
      waitForPushPermission(SERVER, "refresh", ["scoring", "nvidia/k8s-device-plugin"], http, {
        attempts: 3,
        delayMs: 1,
      }),
      /still refuses push to scoring, nvidia\/k8s-device-plugin after 3 tries .*run pulumi up again/,
    );
  });
});

describe("registryLogin", () => {
  // Known inputs, as on an existing stack whose registry and grant are already in state.
  async function login(preview: boolean): Promise<{ login: RegistryLogin; urls: string[] }> {
    const urls: string[] = [];
    globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
      urls.push(String(input));
      if (String(input).endsWith("/oauth2/exchange"))
        return new Response(JSON.stringify({ refresh_token: "refresh" }), { status: 200 });
      const scope = new URLSearchParams(String(init?.body ?? "")).get("scope") ?? "";
      return new Response(
        JSON.stringify({ access_token: acrAccessToken(scope.split(":")[1] ?? "", ["push"]) }),
        {
          status: 200,
        },
      );
    }) as typeof fetch;
    await pulumi.runtime.setMocks(
      { newResource: (args) => ({ id: args.name, state: args.inputs }), call: () => ({}) },
      "gpu-inference-aks",
      "dev",
      preview,
    );
    const output = registryLogin({
      loginServer: SERVER,
      tenantId: "tenant",
      registryAudienceToken: "entra-token",
      repositories: ["scoring"],
      grantId: "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/g",
    });
    assert.equal(await pulumi.isSecret(output), true);
    return { login: await outputValue(output), urls };
  }

  it("at preview contacts no registry (the read-only preview identity has no push rights to wait for)", async () => {
    const { login: result, urls } = await login(true);
    assert.deepEqual(urls, []);
    assert.equal(result.password, PREVIEW_PASSWORD);
  });

  it("at up exchanges the token and confirms push rights before handing out the login", async () => {
    const { login: result, urls } = await login(false);
    assert.deepEqual(urls, [`https://${SERVER}/oauth2/exchange`, `https://${SERVER}/oauth2/token`]);
    assert.deepEqual(result, {
      server: SERVER,
      username: "00000000-0000-0000-0000-000000000000",
      password: "refresh",
    });
  });
});
