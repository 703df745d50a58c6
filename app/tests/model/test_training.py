"""Training is reproducible, trains only on the first 80% of each digit, and writes loadable weights."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import train
from conftest import cached_digits

from scoring.model.model import load_mlp

APP_DIR = Path(__file__).resolve().parents[2]


def test_split_holds_out_the_last_fifth_of_each_digit() -> None:
    # cached_digits reads each split once through load_digits and shares it with the other tests.
    train_rows, train_labels = cached_digits("train")
    heldout_rows, heldout_labels = cached_digits("heldout")
    all_rows, all_labels = cached_digits("all")
    assert train_rows.dtype == np.float32 and train_labels.dtype == np.int64
    assert train_rows.shape[0] + heldout_rows.shape[0] == all_rows.shape[0] == 10_000
    for digit in range(10):
        everything = all_rows[all_labels == digit]
        cut = int(everything.shape[0] * 0.8)
        np.testing.assert_array_equal(train_rows[train_labels == digit], everything[:cut])
        np.testing.assert_array_equal(heldout_rows[heldout_labels == digit], everything[cut:])
    assert float(all_rows.min()) >= 0.0 and float(all_rows.max()) <= 1.0


def test_shift_moves_pixels_without_changing_them() -> None:
    image = torch.zeros(1, 784)
    image[0, 14 * 28 + 14] = 1.0  # one lit pixel in the middle
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(50):
        shifted = train.shift_batch(image, generator)
        assert float(shifted.sum()) == 1.0
        (position,) = torch.nonzero(shifted[0]).flatten().tolist()
        row, col = divmod(position, 28)
        assert abs(row - 14) <= train.MAX_SHIFT and abs(col - 14) <= train.MAX_SHIFT
        seen.add((row, col))
    assert len(seen) > 5  # it really moves


def test_same_seed_gives_identical_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same digits as load_digits gives, read once instead of twice per run.
    monkeypatch.setattr(train, "load_digits", cached_digits)
    first, _, _ = train.train(epochs=1, seed=7, every_nth=8)
    second, _, _ = train.train(epochs=1, seed=7, every_nth=8)
    other, _, _ = train.train(epochs=1, seed=8, every_nth=8)
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, second.state_dict()[name]), name
    assert not torch.equal(first.fc1.weight, other.fc1.weight)


def test_command_writes_weights_the_server_loads(tmp_path: Path, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    out = tmp_path / "weights.npz"
    done = subprocess.run(
        [sys.executable, str(APP_DIR / "train.py"), "--epochs", "1", "--seed", "3", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "held-out accuracy" in done.stdout
    model = load_mlp(out)
    rows, labels = heldout
    with torch.inference_mode():
        accuracy = float((model(torch.from_numpy(rows)).argmax(1).numpy() == labels).mean())
    assert accuracy > 0.8  # one epoch already learns most digits


def test_command_refuses_a_bad_epoch_count() -> None:
    done = subprocess.run(
        [sys.executable, str(APP_DIR / "train.py"), "--epochs", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--epochs must be at least 1, got 0" in done.stderr
