"""/score for an entry script served unbatched (init()/run() only, run() parses the JSON itself): the
server cannot know the shape the user's run() expects, so it refuses no JSON for its shape; it bounds
what any shape can cost instead (ANY_SHAPE_TRANSIENT_FACTOR times the body reserved from the byte budget,
a JSON size limit derived from it), before any parser builds an object."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from conftest import FIXTURES, MakeServer, Server

from scoring.core.large_json import ANY_SHAPE_TRANSIENT_FACTOR, JSON_TRANSIENT_FACTOR

MAX_BODY = 4 << 20
# The largest JSON body the batched path decodes: MAX_PENDING_BYTES / 19 (scoring/core/large_json.py);
# the unbatched path: MAX_PENDING_BYTES / 37.
BUDGET = 19 * (512 << 10)
JSON_LIMIT = BUDGET // (JSON_TRANSIENT_FACTOR + 1)
ANY_SHAPE_LIMIT = BUDGET // (ANY_SHAPE_TRANSIENT_FACTOR + 1)
ENV = {"MAX_BODY_BYTES": str(MAX_BODY), "MAX_PENDING_BYTES": str(BUDGET)}


@pytest.fixture(scope="module")
def servers(make_server: MakeServer) -> tuple[Server, Server, Server]:
    """(batched: the seed's score.py with run_batch; unbatched: a run()-only seed script; a run() that
    takes any JSON), same limits."""
    unbatched = {**ENV, "ENTRY_SCRIPT": str(FIXTURES / "seed_numpy_score.py")}
    any_json = {**ENV, "ENTRY_SCRIPT": str(FIXTURES / "any_json_score.py")}
    return make_server(ENV), make_server(unbatched), make_server(any_json)


def _rows_body(size: int) -> bytes:
    """Valid seed-format rows filling about `size` bytes."""
    row = "[" + ",".join(["0.5"] * 784) + "]"
    count = size // (len(row) + 1) + 1
    return ('{"data": [' + ",".join([row] * count) + "]}").encode()


def test_json_of_any_shape_reaches_run(servers: tuple[Server, Server, Server]) -> None:
    """Objects and strings that the batched path refuses as not rows of numbers are a user's valid input."""
    batched, _, any_json = servers
    body = b'{"items": [' + b'{"text": "a sentence to classify"},' * 6_000 + b'{"text": ""}]}'
    assert 64 << 10 < len(body) < ANY_SHAPE_LIMIT
    assert batched.request("POST", "/score", body).status == 400
    for headers, sent in (({}, body), ({"Content-Encoding": "gzip"}, gzip.compress(body))):
        reply = any_json.request("POST", "/score", sent, headers=headers)
        assert reply.status == 200, reply.body[:200]
        assert reply.json() == {"type": "dict", "items": 6_001}


HOSTILE = {
    "many empty rows": b'{"data": [' + b"[]," * 100_000 + b"[]]}",
    "objects": b'{"data": [' + b"{}," * 100_000 + b"{}]}",
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_json_past_the_any_shape_limit_is_413_before_run(
    servers: tuple[Server, Server, Server], name: str
) -> None:
    """What costs the most per byte: refused by size when the budget could never hold its decoding."""
    _, unbatched, any_json = servers
    body = HOSTILE[name]
    assert ANY_SHAPE_LIMIT < len(body) < JSON_LIMIT
    for server in (unbatched, any_json):
        for headers, sent in (({}, body), ({"Content-Encoding": "gzip"}, gzip.compress(body))):
            reply = server.request("POST", "/score", sent, headers=headers)
            assert reply.status == 413, (name, reply.body[:200])
            message = reply.json()["message"]
            assert f"{ANY_SHAPE_TRANSIENT_FACTOR}x" in message and "MAX_PENDING_BYTES / 37" in message
            assert reply.header("x-ms-run-function-failed") == "False"
        # Refused before run() saw it.
        assert "run() failed" not in server.log()


def test_json_over_the_decodable_size_is_413(servers: tuple[Server, Server, Server]) -> None:
    batched, unbatched, _ = servers
    body = _rows_body(JSON_LIMIT + (16 << 10))
    want = batched.request("POST", "/score", body)
    got = unbatched.request("POST", "/score", body)
    assert want.status == 413 and "MAX_PENDING_BYTES / 19" in want.json()["message"]
    assert got.status == 413 and "MAX_PENDING_BYTES / 37" in got.json()["message"]


def test_valid_bodies_still_score_unbatched(
    servers: tuple[Server, Server, Server], heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    batched, unbatched, _ = servers
    rows = heldout[0][:20]  # under the 64 KiB threshold: nothing reserved
    assert unbatched.score(rows).json() == batched.score(rows).json()
    large = _rows_body(128 << 10)  # over it: its decoding reserved, then run()
    assert len(large) < ANY_SHAPE_LIMIT
    want = batched.request("POST", "/score", large)
    reply = unbatched.request("POST", "/score", large)
    assert reply.status == 200 and len(reply.json()) == large.count(b"[") - 1
    assert reply.json() == want.json()
