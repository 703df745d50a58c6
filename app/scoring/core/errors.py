"""Typed errors carrying their HTTP status, mapped to JSON in one place (`json_errors`).

Every layer below HTTP raises a ServiceError subclass; nothing returns a Response to mean "no".
Every error body is JSON {"error": "..."} naming the problem, including aiohttp's own 404/405/413 and
anything unexpected (500): clients never have to parse HTML, and no traceback of a client's mistake
reaches the log.
"""

from __future__ import annotations

import logging

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger("scoring")


class ServiceError(Exception):
    """An answer other than success: status, message for the client, headers, and a metrics reason."""

    status = 500
    reason = "error"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None, close: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        # True when the body was not (fully) read: closing is cheaper than draining a refused upload.
        self.close = close


class BadRequest(ServiceError):
    status, reason = 400, "bad_request"


class Unauthorized(ServiceError):
    status, reason = 401, "unauthorized"


class NotFound(ServiceError):
    status, reason = 404, "not_found"


class RequestTimeout(ServiceError):
    status, reason = 408, "read_timeout"


class TooLarge(ServiceError):
    status, reason = 413, "too_large"


class UnsupportedMedia(ServiceError):
    status, reason = 415, "unsupported_media"


class Unavailable(ServiceError):
    """Not ready, draining, or over a budget: the client should retry (on another replica)."""

    status, reason = 503, "unavailable"

    def __init__(self, message: str, retry_after_s: int, *, reason: str = "unavailable", close: bool = False) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_s)}, close=close)
        self.reason = reason


class DeadlineExceeded(ServiceError):
    status, reason = 504, "deadline"


class ScoringFailed(ServiceError):
    """The entry script failed on input the server accepted: the server's problem, not the client's."""

    status, reason = 500, "scoring_failed"


# What a client learns about a failure that is not its own (the traceback goes to the log).
INTERNAL_ERROR = "internal server error; the request was not scored (see the server log)"


def error_body(message: str) -> bytes:
    """The JSON body of every error answer outside Azure ML's routes."""
    return orjson.dumps({"error": message})


def json_error(status: int, message: str, headers: dict[str, str] | None = None, close: bool = False) -> web.Response:
    response = web.Response(status=status, body=error_body(message), content_type="application/json", headers=headers)
    if close:
        response.force_close()
    return response


def error_response(error: ServiceError) -> web.Response:
    return json_error(error.status, error.message, error.headers, error.close)


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
    except ServiceError as error:
        request["reason"] = error.reason  # for scoring_rejected_total
        return error_response(error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after", "www-authenticate")}
        return json_error(exc.status, _describe(exc, request), headers, close=exc.status == 413)
    except Exception:
        # Logged with the traceback for operators; the client learns only that it was not its fault.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, INTERNAL_ERROR)
