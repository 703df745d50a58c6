"""Response bodies built without per-row Python work."""

from __future__ import annotations

import json

import numpy as np

_COMMA, _OPEN, _CLOSE, _ZERO = ord(","), ord("["), ord("]"), ord("0")


def labels_json(labels: np.ndarray) -> bytes:
    """A JSON list of integer labels, e.g. b"[7,2,1]" (what the seed's y_hat.tolist() serialised to)."""
    count = labels.shape[0]
    if count == 0:
        return b"[]"
    if np.issubdtype(labels.dtype, np.integer) and labels.min() >= 0 and labels.max() <= 9:
        # Single-digit labels (the MNIST case): write the digits into every other byte at once.
        out = np.full(2 * count + 1, _COMMA, dtype=np.uint8)
        out[0] = _OPEN
        out[-1] = _CLOSE
        out[1 : 2 * count : 2] = labels.astype(np.uint8) + _ZERO
        return out.tobytes()
    return json.dumps(labels.tolist()).encode()


def result_json(result: object) -> bytes:
    """Whatever an entry script's run() returned, as JSON (numpy values become plain lists/numbers)."""
    return json.dumps(result, default=_numpy_default).encode()


def _numpy_default(value: object) -> object:
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"run() returned a {type(value).__name__}, which is not JSON serialisable")
