"""A body the decoder refuses is freed when its request ends, not at the garbage collector's next run:
serving processes collect rarely (scoring/core/runtime.py), and an error whose traceback holds the frame
that holds the error would keep the refused body alive until then."""

from __future__ import annotations

import gc

import pytest

from scoring.core.decode import DecodeError
from scoring.protocols.azureml import _decoder


@pytest.mark.parametrize("body", [b'{"data": [[1, 2, 3]]}', b"{not json", b'{"data": [["a"] ]}'])
def test_a_refused_score_body_leaves_no_cycle(body: bytes) -> None:
    decode = _decoder(784, "cpu")
    gc.collect()
    gc.disable()
    try:
        with pytest.raises(DecodeError):
            decode(body)
        assert gc.collect() == 0  # nothing was left for the collector to find
    finally:
        gc.enable()
