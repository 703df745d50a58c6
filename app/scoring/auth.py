"""Bearer-key authentication: either of two keys (so keys can be rotated without downtime),
compared in constant time over bytes."""

from __future__ import annotations

import hmac

from aiohttp import web

from scoring.errors import json_error

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

    def reject(self, request: web.Request) -> web.Response | None:
        """None when the request may proceed, else the 401 to send."""
        if not self.enabled:
            return None
        header = request.headers.get("Authorization")
        if header is None:
            return json_error(
                401, 'missing Authorization header; send "Authorization: Bearer <key>"', CHALLENGE, close=True
            )
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            return json_error(401, 'malformed Authorization header; expected "Bearer <key>"', CHALLENGE, close=True)
        # surrogateescape keeps undecodable header bytes as they arrived, so they simply fail to match.
        presented = credential.strip().encode("utf-8", "surrogateescape")
        if not self._matches(presented):
            return json_error(401, "invalid key", CHALLENGE, close=True)
        return None
