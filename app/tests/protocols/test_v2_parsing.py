"""Open Inference Protocol request parsing on its own: every refusal happens at parse time, before
anything is reserved or batched, and names the field."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scoring.model.model import SIGNATURE
from scoring.protocols.v2 import InferError, parse_infer


def tensor(**fields: object) -> dict[str, object]:
    return {"name": "input", "datatype": "FP32", "shape": [1, 784], "data": [0.5] * 784, **fields}


def parse(request: object, binary: bytes = b"") -> np.ndarray:
    header = json.dumps(request).encode()
    split = str(len(header)) if binary else None
    return parse_infer(header + binary, split, SIGNATURE).rows


def test_json_and_binary_tensors_give_validated_arrays() -> None:
    rows = parse({"inputs": [tensor()]})
    assert rows.dtype == np.float32 and rows.shape == (1, 784)
    pixels = np.arange(2 * 784, dtype=np.uint8).reshape(2, 784)
    binary = {"inputs": [tensor(datatype="UINT8", shape=[2, 784], parameters={"binary_data_size": pixels.nbytes})]}
    binary["inputs"][0].pop("data")
    assert np.array_equal(parse(binary, pixels.tobytes()), pixels)


@pytest.mark.parametrize(
    ("request_doc", "fragment"),
    [
        ({"inputs": [tensor(shape=[2**62, 784])]}, "holds"),
        ({"inputs": [tensor(data=[10**400] + [0] * 783)]}, "numbers"),
        ({"inputs": [tensor(data=[[[0.5] * 784]])]}, "nested"),
        ({"inputs": [tensor(data=[float("nan")] * 784)]}, "NaN"),
        ({"inputs": [tensor(datatype="UINT8", data=[256] * 784)]}, "0 to 255"),
        ({"inputs": [tensor(name="x")]}, '"x"'),
        ({"inputs": [tensor(), tensor()]}, "exactly one"),
        ({"inputs": [tensor()], "outputs": [{"name": "probs"}]}, "probs"),
    ],
)
def test_bad_requests_are_refused_at_parse_time(request_doc: object, fragment: str) -> None:
    with pytest.raises(InferError, match=None) as caught:
        parse(request_doc)
    assert fragment in str(caught.value)


def test_deep_nesting_and_bad_header_split_are_refused() -> None:
    with pytest.raises(InferError, match="JSON"):
        parse_infer(b'{"inputs": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", None, SIGNATURE)
    with pytest.raises(InferError, match="Inference-Header-Content-Length"):
        parse_infer(b"{}", "99", SIGNATURE)
    with pytest.raises(InferError, match="binary"):
        header = json.dumps(
            {
                "inputs": [
                    {"name": "input", "datatype": "FP32", "shape": [1, 784], "parameters": {"binary_data_size": 3136}}
                ]
            }
        ).encode()
        parse_infer(header + b"\0" * 100, str(len(header)), SIGNATURE)
