"""Bearer-key authentication: either of two keys (so keys can be rotated without downtime),
compared in constant time over bytes."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from scoring.core.errors import Unauthorized

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="scoring"'}


class Authenticator:
    def __init__(self, keys: tuple[bytes, ...], enabled: bool) -> None:
        self._keys = keys
        self.enabled = enabled

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
        presented = credential.strip().encode("utf-8", "surrogateescape")
        if not self._matches(presented):
            raise Unauthorized("invalid key", headers=CHALLENGE, close=True)
