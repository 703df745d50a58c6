"""KServe v2 / Open Inference Protocol routes, JSON tensors and the binary tensor data extension."""

from __future__ import annotations

import json

import numpy as np
from conftest import Server

INFER = "/v2/models/mnist/infer"


def binary_request(
    rows: np.ndarray, datatype: str, binary_output: bool = False, request_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    payload = rows.astype("<f4" if datatype == "FP32" else "u1").tobytes()
    header: dict[str, object] = {
        "inputs": [
            {
                "name": "input",
                "datatype": datatype,
                "shape": list(rows.shape),
                "parameters": {"binary_data_size": len(payload)},
            }
        ]
    }
    if binary_output:
        header["outputs"] = [{"name": "label", "parameters": {"binary_data": True}}]
    if request_id is not None:
        header["id"] = request_id
    head = json.dumps(header).encode()
    return head + payload, {
        "Inference-Header-Content-Length": str(len(head)),
        "Content-Type": "application/octet-stream",
    }


def test_health_and_metadata(server: Server) -> None:
    assert server.request("GET", "/v2/health/live", key=None).json() == {"live": True}
    assert server.request("GET", "/v2/health/ready", key=None).json() == {"ready": True}
    metadata = server.request("GET", "/v2/models/mnist")
    assert metadata.status == 200
    document = metadata.json()
    assert document["name"] == "mnist"
    assert document["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 784]}]
    assert document["outputs"] == [{"name": "label", "datatype": "INT64", "shape": [-1]}]
    assert server.request("GET", "/v2/models/mnist/ready").json() == {"name": "mnist", "ready": True}
    assert "binary_tensor_data" in server.request("GET", "/v2", key=None).json()["extensions"]


def test_model_routes_need_the_key(server: Server) -> None:
    for method, path in (("GET", "/v2/models/mnist"), ("GET", "/v2/models/mnist/ready"), ("POST", INFER)):
        reply = server.request(method, path, b"{}" if method == "POST" else None, key="wrong")
        assert reply.status == 401 and "error" in reply.json(), path


def test_json_tensor_fp32_nested_and_flat(server: Server, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    rows, labels = heldout
    for data in (rows[:8].tolist(), rows[:8].reshape(-1).tolist()):
        request = {"id": "r-1", "inputs": [{"name": "input", "datatype": "FP32", "shape": [8, 784], "data": data}]}
        reply = server.request("POST", INFER, json.dumps(request).encode())
        assert reply.status == 200, reply.body
        answer = reply.json()
        assert answer["model_name"] == "mnist" and answer["id"] == "r-1"
        (output,) = answer["outputs"]
        assert (output["name"], output["datatype"], output["shape"]) == ("label", "INT64", [8])
        assert np.mean(np.array(output["data"]) == labels[:8]) >= 0.75


def test_binary_uint8_and_fp32_give_the_same_labels_as_score(
    server: Server, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, labels = heldout
    sample = rows[::20]
    expected = server.score(sample).json()
    pixels = np.round(sample * 255).astype(np.uint8)
    for datatype, tensor in (("FP32", sample), ("UINT8", pixels)):
        body, headers = binary_request(tensor, datatype)
        reply = server.request("POST", INFER, body, headers=headers)
        assert reply.status == 200, reply.body
        predicted = reply.json()["outputs"][0]["data"]
        agreement = np.mean(np.array(predicted) == np.array(expected))
        # uint8 rounding moves a pixel by at most 1/510: the odd borderline digit may flip, no more.
        assert agreement >= (1.0 if datatype == "FP32" else 0.98), (datatype, agreement)
    assert np.mean(np.array(expected) == labels[::20]) >= 0.95


def test_binary_output_when_requested(server: Server, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    rows, _ = heldout
    sample = np.round(rows[:5] * 255).astype(np.uint8)
    body, headers = binary_request(sample, "UINT8", binary_output=True, request_id="b-7")
    reply = server.request("POST", INFER, body, headers=headers)
    assert reply.status == 200
    split = int(reply.header("Inference-Header-Content-Length") or "-1")
    header = json.loads(reply.body[:split])
    (output,) = header["outputs"]
    assert output["parameters"]["binary_data_size"] == 40 and "data" not in output
    assert header["id"] == "b-7"
    labels = np.frombuffer(reply.body[split:], dtype="<i8")
    json_body, json_headers = binary_request(sample, "UINT8")
    expected = server.request("POST", INFER, json_body, headers=json_headers).json()["outputs"][0]["data"]
    assert labels.tolist() == expected
    # The request-level switch works as well.
    request = {
        "parameters": {"binary_data_output": True},
        "inputs": [{"name": "input", "datatype": "UINT8", "shape": [5, 784], "data": sample.tolist()}],
    }
    again = server.request("POST", INFER, json.dumps(request).encode())
    assert again.status == 200 and "inference-header-content-length" in again.headers


def test_protocol_errors_name_the_field(server: Server) -> None:
    row = [0.0] * 784
    good = {"name": "input", "datatype": "FP32", "shape": [1, 784], "data": row}
    cases: dict[str, tuple[object, str]] = {
        "not an object": ([], "object"),
        "no inputs": ({}, "inputs"),
        "two inputs": ({"inputs": [good, good]}, "exactly one"),
        "wrong input name": ({"inputs": [{**good, "name": "x"}]}, '"x"'),
        "bad datatype": ({"inputs": [{**good, "datatype": "FP64"}]}, "FP64"),
        "bad shape": ({"inputs": [{**good, "shape": [1, 783]}]}, "shape"),
        "zero rows": ({"inputs": [{**good, "shape": [0, 784]}]}, "shape"),
        "data too short": ({"inputs": [{**good, "data": row[:-1]}]}, "783"),
        "strings in data": ({"inputs": [{**good, "data": ["a"] * 784}]}, "numbers"),
        "uint8 out of range": ({"inputs": [{**good, "datatype": "UINT8", "data": [300] * 784}]}, "0 to 255"),
        "no data": ({"inputs": [{k: v for k, v in good.items() if k != "data"}]}, "data"),
        "unknown output": ({"inputs": [good], "outputs": [{"name": "probs"}]}, "probs"),
    }
    for name, (request, fragment) in cases.items():
        reply = server.request("POST", INFER, json.dumps(request).encode())
        assert reply.status == 400, (name, reply.body)
        assert fragment in reply.json()["error"], (name, reply.json())
    nan = json.dumps({"inputs": [{**good, "data": [float("nan")] * 784}]}).encode()
    assert "NaN" in server.request("POST", INFER, nan).json()["error"]


def test_binary_errors(server: Server) -> None:
    rows = np.zeros((2, 784), dtype=np.float32)
    body, headers = binary_request(rows, "FP32")
    truncated = server.request("POST", INFER, body[:-4], headers=headers)
    assert truncated.status == 400 and "binary" in truncated.json()["error"]
    bad_split = server.request(
        "POST", INFER, body, headers={**headers, "Inference-Header-Content-Length": str(len(body) + 1)}
    )
    assert bad_split.status == 400 and "Inference-Header-Content-Length" in bad_split.json()["error"]
    nan_rows = rows.copy()
    nan_rows[1, 3] = np.inf
    nan_body, nan_headers = binary_request(nan_rows, "FP32")
    reply = server.request("POST", INFER, nan_body, headers=nan_headers)
    assert reply.status == 400 and "NaN or Infinity" in reply.json()["error"]


def test_unknown_model_is_404_json(server: Server) -> None:
    reply = server.request("POST", "/v2/models/resnet/infer", b"{}")
    assert reply.status == 404 and "resnet" in reply.json()["error"]
