"""An entry script with no model: run_batch answers label 0 for every row at once.

bench/handler_cost.py serves it to measure what the server itself costs per request (HTTP handling,
auth, admission, decoding, batching, metrics, logging), with the model's time taken out.
"""

from __future__ import annotations

import numpy as np


def init() -> None:
    pass


def run(raw_data: str) -> list[int]:
    return [0]


def run_batch(rows: np.ndarray) -> np.ndarray:
    return np.zeros(rows.shape[0], dtype=np.int64)
