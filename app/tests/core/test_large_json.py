"""Large and hostile JSON bodies (issue 24): every JSON route refuses, before any parser builds an
object, a body whose structure no valid request has; a JSON body whose decoding transient (measured in
scoring/core/large_json.py) could never fit the byte budget is 413; a valid large body is decoded in
the worker's decode process, away from the serving loop's GIL, and answered correctly.

Asserted by what a client and an operator see: status codes, error messages, labels, the worker's
peak resident memory and its child process; never durations.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import MakeServer, Server, seed_body

from scoring.core.decode import DecodeError, check_structure
from scoring.core.large_json import JSON_TRANSIENT_FACTOR, PROCESS_DECODE_BYTES, json_limit, punctuation
from scoring.model.model_shape import SIGNATURE
from scoring.protocols.v2 import InferError, check_infer_structure, json_length, parse_infer

INFER = "/v2/models/mnist/infer"
ROW = 784


def _peak_rss(server: Server) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("VmHWM not found")


def _children(server: Server) -> list[int]:
    """The worker's decode processes (multiprocessing's spawn children; its resource tracker is not one)."""
    pid = server.process.pid
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split() if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def _infer_body(rows: np.ndarray, nested: bool = True) -> bytes:
    data = rows.tolist() if nested else rows.reshape(-1).tolist()
    tensor = {"name": "input", "datatype": "FP32", "shape": list(rows.shape), "data": data}
    return json.dumps({"inputs": [tensor]}).encode()


# ---- the prechecks, as functions ----


def _empties(size: int, head: bytes, tail: bytes) -> bytes:
    return head + b"[]," * ((size - len(head) - len(tail)) // 3) + b"[]" + tail


HOSTILE_INFER = {
    "empty lists": _empties(1 << 20, b'{"inputs":[{"data":[', b"]}]}"),
    "empty objects": b'{"inputs":[{"data":[' + b"{}," * (1 << 18) + b"{}]}]}",
    "short strings": b'{"inputs":[{"data":[' + b'"a",' * (1 << 18) + b'"a"]}]}',
}


@pytest.mark.parametrize("name", sorted(HOSTILE_INFER))
def test_infer_precheck_refuses_what_no_request_holds(name: str) -> None:
    with pytest.raises(InferError):
        check_infer_structure(HOSTILE_INFER[name], ROW)


def test_infer_precheck_passes_valid_requests_of_every_form(heldout: tuple[np.ndarray, np.ndarray]) -> None:
    rows = (heldout[0][:100] / 255.0).astype(np.float32)
    for body in (_infer_body(rows), _infer_body(rows, nested=False)):
        assert len(body) > 64 << 10
        check_infer_structure(body, ROW)
        assert parse_infer(body, None, SIGNATURE).rows.shape == (100, ROW)
    # The binary extension: only the JSON header is checked, whatever bytes follow it.
    header = (
        b'{"inputs":[{"name":"input","datatype":"UINT8","shape":[200,784],"parameters":{"binary_data_size":156800}}]}'
    )
    body = header + b"[" * (200 * ROW)
    assert json_length(len(body), str(len(header))) == len(header)
    check_infer_structure(memoryview(body)[: len(header)], ROW)
    assert parse_infer(body, str(len(header)), SIGNATURE).rows.shape == (200, ROW)


def test_json_length_counts_the_whole_body_when_the_split_is_not_valid() -> None:
    assert json_length(100, None) == 100
    assert json_length(100, "x") == 100
    assert json_length(100, "101") == 100
    assert json_length(100, "-1") == 100
    assert json_length(100, "40") == 40


def test_score_precheck_still_refuses_empty_rows() -> None:
    with pytest.raises(DecodeError):
        check_structure(_empties(1 << 20, b'{"data":[', b"]}"), ROW)


def test_punctuation_counts_each_byte() -> None:
    counts = punctuation(b'{"a":[[1,2],{}]}')
    assert (counts.opens, counts.objects, counts.quotes, counts.commas) == (2, 2, 2, 2)


def test_json_limit_leaves_room_for_the_transient() -> None:
    limit = json_limit(256 << 20)
    assert limit * (JSON_TRANSIENT_FACTOR + 1) <= 256 << 20
    assert limit > PROCESS_DECODE_BYTES


# ---- on a live server ----


@pytest.fixture(scope="module")
def big_budget(make_server: MakeServer) -> Server:
    """MAX_BODY_BYTES at its default (64 MiB) and a byte budget that admits a 64 MiB JSON body's
    transient: only the prechecks stand between the attack and the parser."""
    return make_server({"MAX_PENDING_BYTES": str(2 << 30)})


def test_gzip_attack_on_infer_is_refused_before_parsing(big_budget: Server) -> None:
    # The reported attack: 63 KiB of gzip inflating to 64 MiB of {"inputs":[{"data":[[],[],...]}]},
    # which a parser turns into about 2 GiB of lists.
    inflated = _empties((64 << 20) - 1024, b'{"inputs":[{"data":[', b"]}]}")
    bomb = gzip.compress(inflated, compresslevel=9)
    assert len(bomb) < 100 << 10
    before = _peak_rss(big_budget)
    for _ in range(2):
        reply = big_budget.request("POST", INFER, bomb, headers={"Content-Encoding": "gzip"}, timeout=120)
        assert reply.status == 400, reply.body[:300]
        assert "'['" in reply.json()["error"]
    # The inflated body (64 MiB) and its join are all it holds; the parser would have added ~2 GiB.
    grown = _peak_rss(big_budget) - before
    assert grown < 512 << 20, f"peak RSS grew by {grown >> 20} MiB"
    assert big_budget.request("GET", "/ready", key=None).status == 200


def test_valid_large_json_is_decoded_in_the_decode_process(
    big_budget: Server, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    rows = heldout[0][:600]
    small = [big_budget.score(rows[i : i + 100]).json() for i in range(0, 600, 100)]
    expected = [label for part in small for label in part]
    body = seed_body(rows)
    assert len(body) > PROCESS_DECODE_BYTES
    assert _children(big_budget) == []  # started by the first body that needs it
    reply = big_budget.request("POST", "/score", body)
    assert reply.status == 200, reply.body[:300]
    assert reply.json() == expected
    assert len(_children(big_budget)) == 1
    scaled = (rows / 255.0).astype(np.float32)
    parts = [big_budget.request("POST", INFER, _infer_body(scaled[i : i + 100])) for i in range(0, 600, 100)]
    expected_v2 = [label for part in parts for label in part.json()["outputs"][0]["data"]]
    infer = _infer_body(scaled)
    assert len(infer) > PROCESS_DECODE_BYTES
    reply = big_budget.request("POST", INFER, infer)
    assert reply.status == 200, reply.body[:300]
    assert reply.json()["outputs"][0]["data"] == expected_v2
    # A bad body is still the client's 400, with the message the exact path words, from the process.
    bad = body[:-3] + b"]]"
    reply = big_budget.request("POST", "/score", bad)
    assert reply.status == 400 and "JSON" in reply.json()["message"], reply.body[:300]
    assert len(_children(big_budget)) == 1


def test_json_over_what_the_budget_can_decode_is_413_and_binary_is_not(
    make_server: MakeServer, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    budget = 19 << 20  # decodes JSON bodies up to 1 MiB
    server = make_server({"MAX_PENDING_BYTES": str(budget), "MAX_BODY_BYTES": str(4 << 20)})
    rows = heldout[0][:500]
    body = seed_body(rows)
    assert json_limit(budget) < len(body) < 4 << 20
    for path, payload in (("/score", body), (INFER, _infer_body((rows / 255.0).astype(np.float32)))):
        reply = server.request("POST", path, payload)
        assert reply.status == 413, reply.body[:300]
        assert "binary tensor extension" in reply.body.decode()
    # The same rows as binary are 400 KB of pixels and a small JSON header: served.
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "datatype": "UINT8",
                    "shape": [500, ROW],
                    "parameters": {"binary_data_size": 500 * ROW},
                }
            ]
        }
    ).encode()
    reply = server.request(
        "POST",
        INFER,
        header + rows.astype(np.uint8).tobytes(),
        headers={"Inference-Header-Content-Length": str(len(header)), "Content-Type": "application/octet-stream"},
    )
    assert reply.status == 200, reply.body[:300]
    assert len(reply.json()["outputs"][0]["data"]) == 500
