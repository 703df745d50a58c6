/**
 * Registry credentials for pushing without the registry's admin user.
 *
 * `listRegistryCredentials` only returns admin credentials, and azure-native cannot generate passwords
 * for repository-scoped ACR tokens (pulumi/pulumi-azure-native#3099). What remains, and what
 * `az acr login --expose-token` does, is to exchange the deploying identity's Entra ID access token
 * for an ACR refresh token at the registry's `/oauth2/exchange` endpoint; Docker then logs in with
 * the fixed user name below and that token as the password. The identity needs AcrPush on the
 * registry (granted in registryPush.ts). The token lasts about three hours, longer than a push.
 */
import * as pulumi from "@pulumi/pulumi";

/** The user name ACR expects alongside an exchanged refresh token. */
export const ACR_TOKEN_USER = "00000000-0000-0000-0000-000000000000";

export interface RegistryLogin {
  readonly server: string;
  readonly username: string;
  readonly password: string;
}

/** POSTs the exchange and returns the ACR refresh token; fails with the registry's own answer. */
export async function exchangeForAcrRefreshToken(
  loginServer: string,
  tenantId: string,
  aadAccessToken: string,
): Promise<string> {
  const response = await fetch(`https://${loginServer}/oauth2/exchange`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "access_token",
      service: loginServer,
      tenant: tenantId,
      access_token: aadAccessToken,
    }).toString(),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(
      `ACR token exchange at ${loginServer} failed with HTTP ${response.status}: ${text.slice(0, 300)}. ` +
        "Check that the deploying identity is signed in (az login / ARM_* OIDC variables) and holds AcrPush.",
    );
  }
  const body: unknown = JSON.parse(text);
  const token =
    typeof body === "object" && body !== null && "refresh_token" in body ? body.refresh_token : undefined;
  if (typeof token !== "string" || token === "") {
    throw new Error(`ACR token exchange at ${loginServer} returned no refresh_token`);
  }
  return token;
}

/**
 * Docker registry login for `loginServer`, as a secret. The exchange runs only once the registry
 * exists (its login server is known), so a first preview makes no network call.
 */
export function registryLogin(
  loginServer: pulumi.Input<string>,
  tenantId: pulumi.Input<string>,
  aadAccessToken: pulumi.Input<string>,
): pulumi.Output<RegistryLogin> {
  return pulumi.secret(
    pulumi.all([loginServer, tenantId, aadAccessToken]).apply(async ([server, tenant, token]) => ({
      server,
      username: ACR_TOKEN_USER,
      password: await exchangeForAcrRefreshToken(server, tenant, token),
    })),
  );
}
