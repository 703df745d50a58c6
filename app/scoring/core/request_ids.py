"""The request id an answer and its log line carry where the protocol defines none of its own (the Open
Inference Protocol, and the server's other routes): the client's `x-request-id` (or Azure ML's
`x-ms-client-request-id`) when it is printable ASCII, else a new one."""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping

# Accepted from the client (Azure ML's and the common spelling), else generated; always answered.
REQUEST_ID_HEADERS = ("x-request-id", "x-ms-client-request-id")
_MAX_REQUEST_ID = 128
# Generated ids: 32 hex digits like a uuid4's, a random 64-bit prefix per process and a counter, unique
# across processes and pods without uuid4's cost (a urandom call each, the largest item of a one-row
# request's profile after the model, 2026-12).
_ID_PREFIX = os.urandom(8).hex()
_id_counter = itertools.count()


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_id_counter) & 0xFFFFFFFFFFFFFFFF:016x}"


def request_id(headers: Mapping[str, str]) -> str:
    """The id a /v2 answer carries: the client's own when it is printable ASCII, else a new one."""
    for name in REQUEST_ID_HEADERS:
        given = headers.get(name)
        # Only printable ASCII travels back in a header and into the log unchanged.
        if given and len(given) <= _MAX_REQUEST_ID and given.isascii() and given.isprintable():
            return given
    return new_request_id()
