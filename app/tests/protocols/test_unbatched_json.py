"""/score for an entry script served unbatched (init()/run() only, run() parses the JSON itself) is held
to the batched path's rules before any parser builds an object: the structural precheck and the JSON
size limit, with the same answers (status and body) as a batched script's /score gives them."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from conftest import FIXTURES, MakeServer, Server

MAX_BODY = 1 << 20
# The largest JSON body either server decodes: MAX_PENDING_BYTES / 19 (scoring/core/large_json.py).
JSON_LIMIT = 512 << 10
ENV = {"MAX_BODY_BYTES": str(MAX_BODY), "MAX_PENDING_BYTES": str(19 * JSON_LIMIT)}


@pytest.fixture(scope="module")
def servers(make_server: MakeServer) -> tuple[Server, Server]:
    """(batched: the seed's score.py with run_batch, unbatched: a run()-only script), same limits."""
    unbatched = {**ENV, "ENTRY_SCRIPT": str(FIXTURES / "seed_numpy_score.py")}
    return make_server(ENV), make_server(unbatched)


def _rows_body(size: int) -> bytes:
    """Valid seed-format rows filling about `size` bytes."""
    row = "[" + ",".join(["0.5"] * 784) + "]"
    count = size // (len(row) + 1) + 1
    return ('{"data": [' + ",".join([row] * count) + "]}").encode()


HOSTILE = {
    "many empty rows": b'{"data": [' + b"[]," * (200_000 // 3) + b"[]]}",
    "one row of 100k numbers": b'{"data": [[' + b"0," * 100_000 + b"0]]}",
    "deep nesting": b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "objects and strings": b'{"data": [' + b'{"a": "b"},' * 10_000 + b"{}]}",
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_bodies_get_the_batched_paths_answer(servers: tuple[Server, Server], name: str) -> None:
    batched, unbatched = servers
    body = HOSTILE[name]
    for headers, sent in (({}, body), ({"Content-Encoding": "gzip"}, gzip.compress(body))):
        want = batched.request("POST", "/score", sent, headers=headers)
        got = unbatched.request("POST", "/score", sent, headers=headers)
        assert want.status == 400, (name, want.body[:200])
        assert (got.status, got.json()) == (want.status, want.json()), name
        assert got.header("x-ms-run-function-failed") == "False"
    # Refused before run() saw it: the script's own json.loads would have raised (and been logged).
    assert "run() failed" not in unbatched.log()


def test_json_over_the_decodable_size_is_413_on_both(servers: tuple[Server, Server]) -> None:
    batched, unbatched = servers
    body = _rows_body(JSON_LIMIT + (16 << 10))
    assert JSON_LIMIT < len(body) <= MAX_BODY
    want = batched.request("POST", "/score", body)
    got = unbatched.request("POST", "/score", body)
    assert want.status == 413 and "MAX_PENDING_BYTES" in want.json()["message"]
    assert (got.status, got.json()) == (want.status, want.json())


def test_valid_bodies_still_score_unbatched(
    servers: tuple[Server, Server], heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    batched, unbatched = servers
    rows = heldout[0][:20]  # under the precheck's threshold: no check
    assert unbatched.score(rows).json() == batched.score(rows).json()
    large = _rows_body(128 << 10)  # over it: checked, its decoding reserved, then run()
    want = batched.request("POST", "/score", large)
    reply = unbatched.request("POST", "/score", large)
    assert reply.status == 200 and len(reply.json()) == large.count(b"[") - 1
    assert reply.json() == want.json()
