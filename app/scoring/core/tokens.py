"""Entra ID (or any OpenID issuer's) access tokens as scoring credentials, verified in the app.

AUTH_MODE chooses what `Authorization: Bearer <credential>` may carry: `keys` (the two scoring keys,
the default, as before), `tokens` (only a signed JWT of the configured issuer and audience), or `both`
(a JWT is verified as a token, anything else compared with the keys). The program sets the issuer, the
audience and the key-set URL from the stack's tenant and app registration.

Why here and not in Envoy Gateway's SecurityPolicy: in `both` mode a key travels in the same header a
token does, and Envoy Gateway's JWT authentication "will still fail if an invalid JWT is presented" even
with `optional: true` (envoyproxy/gateway api/v1alpha1/jwt_types.go, `JWT.Optional`, main branch read
December 2026):
the gateway would refuse every key. Moving keys to another header would break the Azure ML client
contract (`Authorization: Bearer <key>`). Verifying here keeps one code path for all three modes, the
same JSON 401 as a wrong key, and a reason a caller can act on.

The issuer's signing keys (its JWKS) are fetched in the background at start and every hour, and again,
at most once a minute, when a token names a key id not yet known (Entra rolls its keys). `check` stays
synchronous, so it runs on both HTTP paths (aiohttp and the fast lane) unchanged. A verified token is
remembered until it expires (bounded), so a client reusing its token costs one dictionary lookup.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import jwt
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger("scoring")

AuthMode = Literal["keys", "tokens", "both"]
AUTH_MODES: tuple[AuthMode, ...] = ("keys", "tokens", "both")

# Entra ID signs access tokens with RS256 only; naming the list also refuses `alg: none` and HMAC tricks.
ALGORITHMS = ("RS256",)
# Clock skew tolerated on exp/nbf (Microsoft.IdentityModel's default is five minutes; one is enough
# between two NTP-synced clouds).
LEEWAY_S = 60.0
REFRESH_S = 3600.0
UNKNOWN_KID_REFRESH_S = 60.0
_MEMO_MAX = 4096


@dataclass(frozen=True)
class TokenSettings:
    """issuers: the `iss` values accepted (Entra's v2.0 and v1 issuer of the tenant); audiences: the `aud`
    values accepted (the app registration's client id and Application ID URI); jwks_uri: the issuer's key set."""

    issuers: tuple[str, ...]
    audiences: tuple[str, ...]
    jwks_uri: str


def entra_issuers(tenant_id: str) -> tuple[str, str]:
    """The two issuers one Entra tenant signs as: v2.0 tokens, and v1 tokens (an app registration whose
    accessTokenAcceptedVersion is unset gets v1 tokens)."""
    return (f"https://login.microsoftonline.com/{tenant_id}/v2.0", f"https://sts.windows.net/{tenant_id}/")


def is_jwt(credential: str) -> bool:
    """A compact JWS: three base64url parts, the first a JSON object (`eyJ` is `{"` encoded). The keys
    this project generates are never of that shape (scoringKeys.ts: alphanumeric, no dots)."""
    return credential.startswith("eyJ") and credential.count(".") == 2


def _loopback_http(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def valid_jwks_uri(uri: str) -> bool:
    """https, or plain http to a loopback address (a test issuer); key sets are trusted for what they sign."""
    parts = urlsplit(uri)
    return bool(parts.hostname) and (parts.scheme == "https" or _loopback_http(uri))


class TokenRefused(Exception):
    """Why a token is refused, in words a caller can act on (never the token itself)."""


class TokenVerifier:
    def __init__(self, settings: TokenSettings) -> None:
        self.settings = settings
        self._keys: dict[str, Any] = {}
        self._loaded = False
        self._last_fetch = 0.0
        self._refresh_now = asyncio.Event()
        # token -> its exp; only tokens that verified.
        self._memo: dict[str, float] = {}

    @property
    def loaded(self) -> bool:
        return self._loaded

    def set_keys(self, jwks: Mapping[str, Any]) -> int:
        """Takes a JWKS document; returns how many RSA signing keys it held."""
        keys: dict[str, Any] = {}
        for entry in jwks.get("keys", []):
            if not isinstance(entry, dict) or entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig":
                continue
            kid = entry.get("kid")
            if isinstance(kid, str):
                keys[kid] = RSAAlgorithm.from_jwk(json.dumps(entry))
        self._keys = keys
        self._loaded = True
        return len(keys)

    def verify(self, token: str, now: float | None = None) -> None:
        """Returns when the token is valid here; raises TokenRefused with the reason otherwise."""
        now = time.time() if now is None else now
        expires = self._memo.get(token)
        if expires is not None:
            if now <= expires + LEEWAY_S:
                return
            del self._memo[token]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise TokenRefused("malformed token: not a signed JWT") from None
        if header.get("alg") not in ALGORITHMS:
            raise TokenRefused(f"token algorithm {header.get('alg')!r} is not accepted (RS256 only)")
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            if time.monotonic() - self._last_fetch > UNKNOWN_KID_REFRESH_S:
                self._refresh_now.set()
            raise TokenRefused(f"token signing key {kid!r} is not in the issuer's key set")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=list(self.settings.audiences),
                issuer=list(self.settings.issuers),
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRefused("token has expired; get a new one") from None
        except jwt.ImmatureSignatureError:
            raise TokenRefused("token is not valid yet (nbf/iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise TokenRefused(
                f"token audience is not this service's (expected one of {', '.join(self.settings.audiences)})"
            ) from None
        except jwt.InvalidIssuerError:
            raise TokenRefused(
                f"token issuer is not accepted here (expected one of {', '.join(self.settings.issuers)})"
            ) from None
        except jwt.InvalidSignatureError:
            raise TokenRefused("token signature does not verify against the issuer's key") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRefused(f"token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidTokenError as exc:
            raise TokenRefused(f"invalid token: {exc}") from None
        if len(self._memo) >= _MEMO_MAX:
            self._memo.clear()
        self._memo[token] = float(claims["exp"])

    async def fetch_keys(self) -> int:
        import aiohttp

        self._last_fetch = time.monotonic()
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(self.settings.jwks_uri) as reply:
            reply.raise_for_status()
            document = await reply.json(content_type=None)
        return self.set_keys(document)

    async def refresh_forever(self) -> None:
        """Runs for the process's life: the key set at start (retried quickly until it loads), then hourly
        and when a token names an unknown key."""
        delay = 1.0
        while True:
            try:
                count = await self.fetch_keys()
                log.info("token signing keys loaded", extra={"event": "jwks_loaded", "keys": count})
                delay = 1.0
                wait = REFRESH_S
            except Exception as exc:  # a failed refresh keeps the keys already loaded
                log.warning(
                    "could not fetch token signing keys from %s: %s: %s",
                    self.settings.jwks_uri,
                    type(exc).__name__,
                    exc,
                    extra={"event": "jwks_failed"},
                )
                wait = delay
                delay = min(delay * 2, 60.0)
            self._refresh_now.clear()
            try:
                await asyncio.wait_for(self._refresh_now.wait(), wait)
                # Never more often than UNKNOWN_KID_REFRESH_S, whatever callers present.
                await asyncio.sleep(max(0.0, UNKNOWN_KID_REFRESH_S - (time.monotonic() - self._last_fetch)))
            except TimeoutError:
                pass
