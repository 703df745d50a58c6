/**
 * Registry credentials for pushing without the registry's admin user.
 *
 * `listRegistryCredentials` only returns admin credentials, and azure-native cannot generate passwords
 * for repository-scoped ACR tokens (pulumi/pulumi-azure-native#3099). What remains, and what
 * `az acr login --expose-token` does, is to exchange the deploying identity's Entra ID access token
 * for an ACR refresh token at the registry's `/oauth2/exchange` endpoint; Docker then logs in with
 * the fixed user name below and that token as the password (Azure/acr docs/AAD-OAuth.md).
 *
 * Two details decide whether a first `pulumi up` pushes at all:
 * - the Entra token is of the registry's own audience, https://containerregistry.azure.net: the
 *   exchange accepts it also where ARM-audience tokens are disabled for ACR by policy (the
 *   registry's "authentication-as-arm" setting off);
 * - a fresh AcrPush grant takes minutes to reach ACR's data plane, during which the exchange succeeds
 *   but pushes are refused. Before handing out the login, waitForPushPermission asks `/oauth2/token`
 *   for a push scope on each repository and retries until the access token ACR returns grants `push`
 *   (its `access` claim, as in Docker's registry token specification), so the push never races the
 *   grant.
 */
import * as pulumi from "@pulumi/pulumi";

/** The user name ACR expects alongside an exchanged refresh token. */
export const ACR_TOKEN_USER = "00000000-0000-0000-0000-000000000000";
/** The audience of Entra tokens ACR's data plane accepts (resource of the ACR first-party app). */
export const ACR_AUDIENCE = "https://containerregistry.azure.net";

/** What a preview passes as the registry password: no token is exchanged during a preview. */
export const PREVIEW_PASSWORD = "(no token during preview)";

export interface RegistryLogin {
  readonly server: string;
  readonly username: string;
  readonly password: string;
}

export interface AcrHttp {
  readonly fetch: typeof fetch;
  readonly sleep: (ms: number) => Promise<void>;
}

const realHttp: AcrHttp = {
  fetch: (...args) => fetch(...args),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

async function postForm(http: AcrHttp, url: string, form: Record<string, string>): Promise<Response> {
  return http.fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
  });
}

function field(text: string, name: string): string | undefined {
  try {
    const body: unknown = JSON.parse(text);
    const value =
      typeof body === "object" && body !== null ? (body as Record<string, unknown>)[name] : undefined;
    return typeof value === "string" && value !== "" ? value : undefined;
  } catch {
    return undefined;
  }
}

/** POSTs the exchange and returns the ACR refresh token; fails with the registry's own answer. */
export async function exchangeForAcrRefreshToken(
  loginServer: string,
  tenantId: string,
  registryAudienceToken: string,
  http: AcrHttp = realHttp,
): Promise<string> {
  const response = await postForm(http, `https://${loginServer}/oauth2/exchange`, {
    grant_type: "access_token",
    service: loginServer,
    tenant: tenantId,
    access_token: registryAudienceToken,
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(
      `ACR token exchange at ${loginServer} failed with HTTP ${response.status}: ${text.slice(0, 300)}. ` +
        "Check that the deploying identity is signed in (az login / ARM_* OIDC variables) and holds AcrPush.",
    );
  }
  const token = field(text, "refresh_token");
  if (token === undefined) throw new Error(`ACR token exchange at ${loginServer} returned no refresh_token`);
  return token;
}

/** The actions an ACR access token grants on `repository`, read from its `access` claim. */
export function grantedActions(accessToken: string, repository: string): string[] {
  const payload = accessToken.split(".")[1];
  if (payload === undefined) return [];
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { access?: unknown };
    const entries = Array.isArray(claims.access) ? claims.access : [];
    return entries.flatMap((entry: unknown) => {
      const e = (typeof entry === "object" && entry !== null ? entry : {}) as Record<string, unknown>;
      return e.type === "repository" && e.name === repository && Array.isArray(e.actions)
        ? e.actions.filter((a): a is string => typeof a === "string")
        : [];
    });
  } catch {
    return [];
  }
}

export interface PushWait {
  /** Attempts before giving up; with the delay below, about ten minutes. */
  readonly attempts: number;
  readonly delayMs: number;
}

/** RBAC changes reach ACR within minutes (Azure documents up to 10); wait that long, no longer. */
export const PUSH_WAIT: PushWait = { attempts: 40, delayMs: 15_000 };

/**
 * Resolves once ACR grants `push` on every repository to the holder of `refreshToken`; retries while a
 * fresh AcrPush grant propagates, then fails naming what was still refused.
 */
export async function waitForPushPermission(
  loginServer: string,
  refreshToken: string,
  repositories: readonly string[],
  http: AcrHttp = realHttp,
  wait: PushWait = PUSH_WAIT,
): Promise<number> {
  let missing: string[] = [...repositories];
  let lastAnswer = "";
  for (let attempt = 1; attempt <= wait.attempts; attempt++) {
    const still: string[] = [];
    for (const repository of missing) {
      const response = await postForm(http, `https://${loginServer}/oauth2/token`, {
        grant_type: "refresh_token",
        service: loginServer,
        scope: `repository:${repository}:pull,push`,
        refresh_token: refreshToken,
      });
      const text = await response.text();
      const accessToken = response.ok ? field(text, "access_token") : undefined;
      if (accessToken === undefined || !grantedActions(accessToken, repository).includes("push")) {
        still.push(repository);
        lastAnswer = response.ok ? "token without push" : `HTTP ${response.status}: ${text.slice(0, 200)}`;
      }
    }
    missing = still;
    if (missing.length === 0) return attempt;
    if (attempt < wait.attempts) await http.sleep(wait.delayMs);
  }
  throw new Error(
    `ACR at ${loginServer} still refuses push to ${missing.join(", ")} after ${wait.attempts} tries ` +
      `(${Math.round((wait.attempts * wait.delayMs) / 60000)} min; last answer: ${lastAnswer}). The AcrPush ` +
      "grant has not reached the registry: run pulumi up again, or check the role assignment on the registry.",
  );
}

/**
 * Docker registry login for `loginServer`, as a secret. It resolves only once the registry and the
 * AcrPush grant exist (their ids are known) and only once ACR really grants push on the given
 * repositories; a preview makes no call to the registry at all.
 */
export function registryLogin(args: {
  readonly loginServer: pulumi.Input<string>;
  readonly tenantId: pulumi.Input<string>;
  readonly registryAudienceToken: pulumi.Input<string>;
  readonly repositories: readonly string[];
  /** The AcrPush role assignment's id: the login waits for the grant to exist. */
  readonly grantId: pulumi.Input<string>;
}): pulumi.Output<RegistryLogin> {
  return pulumi.secret(
    pulumi
      .all([args.loginServer, args.tenantId, args.registryAudienceToken, args.grantId])
      .apply(async ([server, tenant, token]) => {
        // A preview builds and pushes nothing (buildOnPreview: false), so it needs no registry token, and
        // the pull-request preview's read-only identity would wait in vain for push rights; the Image
        // resource ignores changes to the registry password (pulumi/pulumi-docker#498).
        if (pulumi.runtime.isDryRun())
          return { server, username: ACR_TOKEN_USER, password: PREVIEW_PASSWORD };
        const password = await exchangeForAcrRefreshToken(server, tenant, token);
        await waitForPushPermission(server, password, args.repositories);
        return { server, username: ACR_TOKEN_USER, password };
      }),
  );
}
