"""Typed errors carrying their HTTP status, each mapped to an answer by the protocol whose route
raised it, in one place per protocol (`ProtocolUnit.error_answer`, scoring/core/exchange.py).

Every layer below the protocols raises a ServiceError subclass; nothing returns an answer to mean
"no". Every error answer is JSON naming the problem (Azure ML's {"message": ...}, the Open Inference
Protocol's {"error": ...}), including routing errors and anything unexpected (500): clients never have
to parse HTML, and no traceback of a client's mistake reaches the log.
"""

from __future__ import annotations


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
