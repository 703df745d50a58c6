"""Every error the server sends is JSON {"error": "..."} naming the problem, including aiohttp's
own 404/405/413 and anything unexpected (500): clients never have to parse HTML."""

from __future__ import annotations

import json
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger("scoring")


def json_error(status: int, message: str, headers: dict[str, str] | None = None, close: bool = False) -> web.Response:
    response = web.Response(
        status=status, body=json.dumps({"error": message}).encode(), content_type="application/json", headers=headers
    )
    if close:
        # The body was not (fully) read; closing is cheaper than draining an upload we refused.
        response.force_close()
    return response


def _describe(exc: web.HTTPException, request: web.Request) -> str:
    if exc.status == 404:
        return f"no route for {request.method} {request.path}; see /swagger.json for the routes"
    if exc.status == 405:
        allowed = ", ".join(sorted(getattr(exc, "allowed_methods", ()) or ()))
        return f"method {request.method} is not allowed on {request.path}; use {allowed}"
    if exc.status == 413:
        return f"request body is too large: {exc.text or ''}".strip()
    return exc.text or exc.reason


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after", "www-authenticate")}
        return json_error(exc.status, _describe(exc, request), headers, close=exc.status == 413)
    except Exception:
        # Logged with the traceback for operators; the client learns only that it was not its fault.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal server error; the request was not scored (see the server log)")


def first_refusal(*refusals: web.Response | None) -> web.Response | None:
    """The first refusal that is not None. (`a or b` is wrong here: an aiohttp Response is a
    mapping with no items, so it is falsy.)"""
    for refusal in refusals:
        if refusal is not None:
            return refusal
    return None
