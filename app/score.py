"""The default entry script, keeping the seed's Azure ML contract: init() once, then run(raw_data).

An existing Azure ML entry script with only init()/run() can replace this file (ENTRY_SCRIPT); the
server then calls run() per request. This one also offers run_batch(), which the server prefers:
it decodes queued request bodies together and scores all their rows in one GPU call.

Environment: MODEL_DIR or AZUREML_MODEL_DIR, in that order as the server reads them (folder holding mnist_mlp.npz; default: model/ beside
this file), DEVICE ("cuda" or "cpu"; default cuda when a GPU is visible), MAX_BATCH_ROWS (largest
batch the predictor runs in one call; default 4096).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

import numpy as np
import torch

from scoring.core.decode import decode_scoring_body
from scoring.model.model import SIGNATURE, Predictor
from scoring.model.signature import Signature

DEFAULT_MAX_BATCH_ROWS = 4096

# The entry-script contract is module-level functions, so the loaded model lives at module level,
# exactly as in the seed's score.py.
_predictor: Predictor | None = None


def _model_dir() -> Path:
    configured = os.environ.get("MODEL_DIR") or os.environ.get("AZUREML_MODEL_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parent / "model"


def _device() -> str:
    configured = os.environ.get("DEVICE", "").strip()
    if configured:
        return configured
    return "cuda" if torch.cuda.is_available() else "cpu"


def _max_batch_rows() -> int:
    raw = os.environ.get("MAX_BATCH_ROWS", "").strip()
    if not raw:
        return DEFAULT_MAX_BATCH_ROWS
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(
            f"MAX_BATCH_ROWS={raw!r} is not a whole number; set it to e.g. {DEFAULT_MAX_BATCH_ROWS}"
        ) from None
    if value < 1:
        raise ValueError(f"MAX_BATCH_ROWS={value} must be at least 1")
    return value


def signature() -> Signature:
    """What the network takes and gives; the server builds its v2 metadata and input checks from it."""
    return SIGNATURE


def init() -> None:
    """Loads the weights onto DEVICE and runs every batch size once, so the first request is not slow."""
    global _predictor
    predictor = Predictor(_model_dir(), _device(), _max_batch_rows())
    predictor.warmup()
    _predictor = predictor


def _ready_predictor() -> Predictor:
    if _predictor is None:
        raise RuntimeError("score.init() has not been called")
    return _predictor


def run(raw_data: str | bytes) -> list[int]:
    """The seed's run(): JSON text {"data": [[784 numbers], ...]} -> one label per row.

    Bad input raises scoring.core.decode.DecodeError (a ValueError) naming the problem.
    """
    body = raw_data.encode("utf-8") if isinstance(raw_data, str) else bytes(raw_data)
    rows = decode_scoring_body(body)
    # tolist() is typed Any; predict() returns a 1-D int64 array, so it gives a list of int.
    return cast(list[int], _ready_predictor().predict(rows).tolist())


def run_batch(rows: np.ndarray) -> np.ndarray:
    """float32 rows in [0, 1] or uint8 pixels, shape (n, 784) -> one label per row, in order.

    The labels come back as an int64 numpy array (a sequence of ints): the server slices it per
    request, and skipping .tolist() saves converting thousands of labels per batch twice.
    """
    return _ready_predictor().predict(rows)
