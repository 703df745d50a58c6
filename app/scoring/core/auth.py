"""Bearer authentication: either of two keys (so keys can be rotated without downtime), compared in
constant time over bytes, and/or an Entra ID token (scoring/core/tokens.py), as AUTH_MODE chooses."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from scoring.core.errors import Unauthorized, Unavailable
from scoring.core.tokens import AuthMode, TokenRefused, TokenVerifier, is_jwt

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="scoring"'}


class Authenticator:
    def __init__(
        self, keys: tuple[bytes, ...], enabled: bool, mode: AuthMode = "keys", tokens: TokenVerifier | None = None
    ) -> None:
        self._keys = keys
        self.enabled = enabled
        self.mode = mode
        self.tokens = tokens

    def _matches(self, presented: bytes) -> bool:
        # Every key is compared (no early exit), so timing does not tell which key was close.
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(presented, key)
        return matched

    def check(self, headers: Mapping[str, str]) -> None:
        """Returns when the request may proceed, else raises the 401."""
        if not self.enabled:
            return
        header = headers.get("Authorization")
        if header is None:
            raise Unauthorized(
                'missing Authorization header; send "Authorization: Bearer <key>"', headers=CHALLENGE, close=True
            )
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthorized('malformed Authorization header; expected "Bearer <key>"', headers=CHALLENGE, close=True)
        # surrogateescape keeps undecodable header bytes as they arrived, so they simply fail to match.
        if self.tokens is not None and (self.mode == "tokens" or is_jwt(credential.strip())):
            self._check_token(credential.strip())
            return
        presented = credential.strip().encode("utf-8", "surrogateescape")
        if not self._matches(presented):
            raise Unauthorized("invalid key", headers=CHALLENGE, close=True)

    def not_ready_reason(self) -> str | None:
        """Why the pod must not take traffic yet: with tokens only, until the issuer's keys are loaded (every
        request would be refused); with both, keys still work, so the pod is ready."""
        if self.mode == "tokens" and self.tokens is not None and not self.tokens.loaded:
            return f"the token issuer's signing keys are not loaded yet from {self.tokens.settings.jwks_uri}"
        return None

    def _check_token(self, token: str) -> None:
        assert self.tokens is not None
        if not self.tokens.loaded:
            raise Unavailable("the token issuer's signing keys are not loaded yet; retry shortly", 1, close=True)
        try:
            self.tokens.verify(token)
        except TokenRefused as refused:
            # RFC 6750 section 3: the reason also travels in the challenge, for clients that read only headers.
            reason = str(refused).replace('"', "'")
            challenge = {
                "WWW-Authenticate": f'Bearer realm="scoring", error="invalid_token", error_description="{reason}"'
            }
            raise Unauthorized(str(refused), headers=challenge, close=True) from None
