"""The Azure ML compatible routes of the real server, started with the real score.py and weights."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from conftest import PRIMARY_KEY, SECONDARY_KEY, Server, seed_body


def test_liveness_answers_healthy_like_azure_ml(server: Server) -> None:
    reply = server.request("GET", "/", key=None)
    assert (reply.status, reply.body) == (200, b"Healthy")


def test_readiness_is_200_once_the_model_is_warm(server: Server) -> None:
    assert server.request("GET", "/ready", key=None).status == 200


def test_seed_format_query_of_all_heldout_digits_is_at_least_95_percent_right(
    server: Server, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, labels = heldout
    # Sent as 40 concurrent requests of 50 rows, so the batcher merges them; each must get its own rows back.
    chunks = [(rows[i : i + 50], labels[i : i + 50]) for i in range(0, len(rows), 50)]
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda chunk: server.score(chunk[0]), chunks))
    predicted: list[int] = []
    for reply, (chunk_rows, _) in zip(replies, chunks):
        assert reply.status == 200, reply.body
        content_type = reply.header("Content-Type")
        assert content_type is not None and content_type.startswith("application/json")
        answer = reply.json()
        assert isinstance(answer, list) and len(answer) == len(chunk_rows)
        predicted.extend(answer)
    accuracy = float(np.mean(np.array(predicted) == labels))
    assert accuracy >= 0.95, f"accuracy {accuracy:.4f} on {len(labels)} held-out digits"


def test_single_row_gets_one_label(server: Server, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    rows, labels = heldout
    reply = server.score(rows[:1])
    assert reply.status == 200
    assert reply.json() == [int(labels[0])]


def test_uint8_scaled_pixels_and_integers_are_accepted(server: Server, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    rows, _labels = heldout
    # Integers 0/1 are valid JSON numbers too; a thresholded digit is still recognisable.
    binary = (rows[:20] > 0.5).astype(int)
    reply = server.request("POST", "/score", json.dumps({"data": binary.tolist()}).encode())
    assert reply.status == 200
    assert len(reply.json()) == 20


def test_both_keys_are_accepted(server: Server, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    rows, _labels = heldout
    for key in (PRIMARY_KEY, SECONDARY_KEY):
        reply = server.score(rows[:3], key=key)
        assert reply.status == 200, reply.body
        assert len(reply.json()) == 3


def test_every_auth_failure_is_401_json_with_a_bearer_challenge(
    server: Server, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    body = seed_body(heldout[0][:1])
    cases = {
        "missing header": {},
        "empty": {"Authorization": ""},
        "basic scheme": {"Authorization": f"Basic {PRIMARY_KEY}"},
        "bearer without key": {"Authorization": "Bearer "},
        "wrong key": {"Authorization": "Bearer not-the-key"},
        "primary off by one char": {"Authorization": f"Bearer {PRIMARY_KEY[:-1]}0"},
        "secondary off by one char": {"Authorization": f"Bearer {SECONDARY_KEY[:-1]}1"},
        "primary truncated": {"Authorization": f"Bearer {PRIMARY_KEY[:-1]}"},
        "primary extended": {"Authorization": f"Bearer {PRIMARY_KEY}x"},
        "both keys": {"Authorization": f"Bearer {PRIMARY_KEY}{SECONDARY_KEY}"},
        "non-ascii key": {"Authorization": "Bearer caf\u00e9".encode().decode("latin-1")},
    }
    for name, headers in cases.items():
        reply = server.request("POST", "/score", body, headers=headers, key=None)
        assert reply.status == 401, (name, reply.status, reply.body)
        assert "message" in reply.json(), name
        assert (reply.header("WWW-Authenticate") or "").startswith("Bearer"), name


def test_bad_inputs_are_400_with_a_message_naming_the_problem(server: Server) -> None:
    row = [0.5] * 784
    cases: dict[str, tuple[bytes, str]] = {
        "malformed JSON": (b'{"data": [[1, 2,', "JSON"),
        "missing data": (b'{"rows": []}', "data"),
        "empty data": (b'{"data": []}', "empty"),
        "short row": (json.dumps({"data": [row[:783]]}).encode(), "783"),
        "long row": (json.dumps({"data": [[*row, 0.1]]}).encode(), "785"),
        "string in row": (json.dumps({"data": [[*row[:17], "abc", *row[18:]]]}).encode(), "abc"),
        "NaN": (('{"data": [[' + ",".join(["0"] * 5 + ["NaN"] + ["0"] * 778) + "]]}").encode(), "NaN"),
        "Infinity": (('{"data": [[' + ",".join(["Infinity"] + ["0"] * 783) + "]]}").encode(), "finite"),
        "huge exponent": (('{"data": [[' + ",".join(["1e999"] + ["0"] * 783) + "]]}").encode(), "finite"),
        "second row short": (json.dumps({"data": [row, row[:10]]}).encode(), "row 1"),
    }
    for name, (body, fragment) in cases.items():
        reply = server.request("POST", "/score", body)
        assert reply.status == 400, (name, reply.status, reply.body)
        message = reply.json()["message"]
        assert fragment.lower() in message.lower(), (name, message)
    assert server.request("GET", "/ready", key=None).status == 200


def test_body_over_the_limit_is_413_json(server: Server) -> None:
    limit = 64 << 20
    # Only the headers are needed: the server refuses from Content-Length before reading the body.
    reply = server.request("POST", "/score", b"x" * 1024, headers={"Content-Length": str(limit + 1)})
    assert reply.status == 413
    assert "MAX_BODY_BYTES" in reply.json()["message"]


def test_unknown_route_and_wrong_method_are_json(server: Server) -> None:
    # Azure ML's (Werkzeug's) texts.
    missing = server.request("GET", "/nope", key=None)
    assert missing.status == 404 and missing.json()["message"].startswith("The requested URL was not found")
    wrong = server.request("PUT", "/score", key=None)
    assert wrong.status == 405 and wrong.json() == {"message": "The method is not allowed for the requested URL."}
    assert "POST" in (wrong.header("Allow") or "")


def test_any_content_type_is_scored_as_on_azure_ml(server: Server, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    # Azure ML hands run() the body whatever its Content-Type.
    reply = server.request("POST", "/score", seed_body(heldout[0][:1]), headers={"Content-Type": "text/plain"})
    assert reply.status == 200 and len(reply.json()) == 1


def test_swagger_describes_the_routes_the_server_really_has(server: Server) -> None:
    # /swagger.json is Azure ML's document (Swagger 2.0 by default); this server's own is /openapi.json.
    assert server.request("GET", "/swagger.json", key=None).json()["swagger"] == "2.0"
    reply = server.request("GET", "/openapi.json", key=None)
    assert reply.status == 200
    document = reply.json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert {"/", "/ready", "/score", "/swagger.json", "/v2/models/mnist/infer"} <= set(paths)
    # /metrics lives on its own port, never on the public one.
    assert "/metrics" not in paths
    assert server.request("GET", "/metrics", key=None).status == 404
    assert paths["/score"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ScoringRequest"
    }
    for path, operations in paths.items():
        for method in operations:
            # Every documented route exists: it may refuse the empty request, but never with 404/405.
            answer = server.request(method.upper(), path, b"{}" if method == "post" else None)
            assert answer.status not in (404, 405), (method, path, answer.status)


def test_metrics_count_requests_rows_and_batches(server: Server, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    before_rows = server.metric("scoring_rows_total")
    before_ok = server.metric("scoring_requests_total", 'route="/score",status="200"')
    before_batches = server.metric("scoring_batch_rows_count")
    assert server.score(heldout[0][:7]).status == 200
    reply = server.metrics_text()
    content_type = reply.header("Content-Type")
    assert reply.status == 200 and content_type is not None and content_type.startswith("text/plain")
    text = reply.body.decode()
    for family in (
        "scoring_request_seconds_bucket",
        "scoring_queue_depth",
        "scoring_queue_seconds_bucket",
        "scoring_device_seconds_bucket",
    ):
        assert family in text, family
    assert server.metric("scoring_rows_total") == before_rows + 7
    assert server.metric("scoring_requests_total", 'route="/score",status="200"') == before_ok + 1
    assert server.metric("scoring_batch_rows_count") >= before_batches + 1
