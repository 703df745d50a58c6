/**
 * Section: what a caller presents (issue 23). `keys`: the two scoring keys, as Azure ML's `auth_enabled`;
 * `tokens`: an Entra ID access token for the app registration named by tokenAudience, as Azure ML's
 * `token_auth_enabled`; `both`: either, on the same `Authorization: Bearer` header. The app verifies tokens
 * (app/scoring/core/tokens.py says why not the gateway); docs/auth-versions.md has the `az` commands.
 */
import type { Reader } from "./reader";

export const AUTH_MODES = ["keys", "tokens", "both"] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export interface AuthSettings {
  readonly mode: AuthMode;
  /** The tenant whose tokens are accepted; undefined: the deployer's (index.ts fills it in). */
  readonly tenantId?: string;
  /** The app registration's client id or Application ID URI; set unless mode is keys. */
  readonly audience?: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// An Application ID URI: api://<anything>, or an https URI in a verified domain of the tenant.
const APP_ID_URI = /^(api:\/\/|https:\/\/)[^\s,"]{1,250}$/;

/** The `aud` values a token for this audience carries: Entra puts the client id in v2.0 tokens and the
 * Application ID URI in v1 tokens, so a GUID or its api:// form accepts both. */
export function tokenAudiences(audience: string): string[] {
  const bare = audience.startsWith("api://") ? audience.slice("api://".length) : audience;
  return GUID.test(bare) ? [bare, `api://${bare}`] : [audience];
}

/** The issuers one Entra tenant signs as (v2.0 and v1 access tokens) and its key set. */
export function entraIssuer(tenantId: string): { issuers: string[]; jwksUri: string } {
  return {
    issuers: [`https://login.microsoftonline.com/${tenantId}/v2.0`, `https://sts.windows.net/${tenantId}/`],
    jwksUri: `https://login.microsoftonline.com/${tenantId}/discovery/v2.0/keys`,
  };
}

export function authSection(r: Reader): AuthSettings {
  const raw = r.string("authMode");
  const mode = AUTH_MODES.find((m) => m === raw);
  if (mode === undefined) {
    r.problem("authMode", raw, `must be one of ${AUTH_MODES.join(", ")}`, "pulumi config set authMode both");
  }
  const tenant = r.string("tokenTenantId");
  if (tenant !== "" && !GUID.test(tenant)) {
    r.problem(
      "tokenTenantId",
      tenant,
      "is not an Entra tenant id (a GUID)",
      'pulumi config set tokenTenantId "$(az account show --query tenantId -o tsv)", or rm it for the deployer\'s tenant',
    );
  }
  const audience = r.string("tokenAudience");
  const tokens = mode === "tokens" || mode === "both";
  if (tokens && audience === "") {
    r.problem(
      "tokenAudience",
      audience,
      `is empty, but authMode ${mode} accepts Entra ID tokens, which must be issued for this service's app registration`,
      'pulumi config set tokenAudience "$(az ad app create --display-name gpu-inference-scoring --query appId -o tsv)" (docs/auth-versions.md)',
    );
  }
  if (audience !== "" && !GUID.test(audience) && !APP_ID_URI.test(audience)) {
    r.problem(
      "tokenAudience",
      audience,
      "is neither an app registration's client id (a GUID) nor an Application ID URI (api://... or https://...)",
      "pulumi config set tokenAudience <appId from az ad app show --id <app> --query appId -o tsv>",
    );
  }
  if (!tokens) {
    for (const key of ["tokenTenantId", "tokenAudience"] as const) {
      const value = r.nonDefault(key);
      if (value !== undefined && mode !== undefined) {
        r.problem(
          key,
          value,
          "configures Entra ID tokens, which authMode keys does not accept",
          `pulumi config set authMode both, or pulumi config rm ${key}`,
        );
      }
    }
  }
  return {
    mode: mode ?? "keys",
    ...(tenant === "" ? {} : { tenantId: tenant }),
    ...(audience === "" ? {} : { audience }),
  };
}
