"""The trained network, the predictor that serves it and the default entry script (score.py).

DEVICE=cuda runs the same tests on the GPU (pinned buffers, CUDA graphs per batch bucket).
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Protocol

import numpy as np
import pytest
import torch

from scoring.core.decode import DecodeError
from scoring.model.model import (
    WEIGHTS_FILE,
    MnistMlp,
    Predictor,
    batch_buckets,
    labels_from_logits_input,
    load_mlp,
    save_mlp,
)

APP_DIR = Path(__file__).resolve().parents[2]
MODEL_DIR = APP_DIR / "model"
DEVICE = os.environ.get("DEVICE", "cpu")


class ScoreModule(Protocol):
    """The entry-script functions app/score.py offers; the module itself satisfies this protocol."""

    def init(self) -> None: ...
    def run(self, raw_data: str | bytes) -> list[int]: ...
    def run_batch(self, rows: np.ndarray) -> np.ndarray: ...


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    warm = Predictor(MODEL_DIR, DEVICE, max_batch_rows=256)
    warm.warmup()
    return warm


def plain_labels(rows: np.ndarray) -> np.ndarray:
    """The reference: the network on the CPU, no buckets, buffers or graphs."""
    model = load_mlp(MODEL_DIR / WEIGHTS_FILE)
    with torch.inference_mode():
        return labels_from_logits_input(model, torch.from_numpy(rows)).numpy()


def test_committed_weights_reach_95_percent_on_heldout_digits(
    predictor: Predictor, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, labels = heldout
    accuracy = float((predictor.predict(rows) == labels).mean())
    assert accuracy >= 0.95, f"held-out accuracy {accuracy:.4f}"


def test_predictor_gives_the_plain_paths_labels_for_float32_and_uint8(
    predictor: Predictor, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, _ = heldout
    pixels = np.round(rows * 255).astype(np.uint8)
    # Batches of every size around the buckets, and one larger than max_batch_rows (split in chunks).
    for count in (1, 2, 3, 63, 64, 65, 255, 256, 257, 700, rows.shape[0]):
        labels = predictor.predict(rows[:count])
        assert labels.dtype == np.int64
        assert labels.shape == (count,)
        np.testing.assert_array_equal(labels, plain_labels(rows[:count]))
        np.testing.assert_array_equal(predictor.predict(pixels[:count]), plain_labels(pixels[:count]))


def test_uint8_pixels_are_scaled_by_255_on_the_device(
    predictor: Predictor, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    pixels = np.round(heldout[0][:500] * 255).astype(np.uint8)
    np.testing.assert_array_equal(predictor.predict(pixels), predictor.predict(pixels.astype(np.float32) / 255))


def test_results_do_not_leak_between_calls(predictor: Predictor, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    rows, _ = heldout
    first = predictor.predict(rows[:200])
    predictor.predict(rows[200:456])  # fills the reused buffers with other rows
    again = predictor.predict(rows[:200])
    np.testing.assert_array_equal(first, again)
    assert predictor.predict(rows[:0]).shape == (0,)


def test_predictor_refuses_rows_it_cannot_score(predictor: Predictor) -> None:
    with pytest.raises(ValueError, match=r"rows must have shape \(n, 784\), got \(2, 783\)"):
        predictor.predict(np.zeros((2, 783), dtype=np.float32))
    with pytest.raises(TypeError, match="rows must be float32 values in \\[0, 1\\] or uint8 pixels, got float64"):
        predictor.predict(np.zeros((2, 784)))
    with pytest.raises(TypeError, match="rows must be a numpy array, got list"):
        predictor.predict([[0.0] * 784])  # type: ignore[arg-type]  # the wrong type is the point


def test_warmup_covers_every_bucket() -> None:
    assert batch_buckets(1) == [1]
    assert batch_buckets(256) == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert batch_buckets(100) == [1, 2, 4, 8, 16, 32, 64, 100]
    with pytest.raises(ValueError, match="max_batch_rows must be at least 1, got 0"):
        batch_buckets(0)
    cold = Predictor(MODEL_DIR, DEVICE, max_batch_rows=100)
    warm_before = cold.is_warm  # read once: warmup() changes it, which mypy's narrowing would not see
    assert not warm_before
    cold.warmup()
    assert cold.is_warm
    assert cold.buckets[-1] == 100


@pytest.mark.skipif(not DEVICE.startswith("cuda"), reason="CUDA graphs exist only on the GPU")
def test_cuda_graphs_give_the_same_labels_as_eager_kernels(heldout: tuple[np.ndarray, np.ndarray]) -> None:
    rows, _ = heldout
    graphs = Predictor(MODEL_DIR, DEVICE, 512)
    graphs.warmup()
    eager = Predictor(MODEL_DIR, DEVICE, 512, cuda_graphs=False)
    eager.warmup()
    assert graphs.cuda_graphs and not eager.cuda_graphs
    np.testing.assert_array_equal(graphs.predict(rows), eager.predict(rows))


def test_load_mlp_refuses_files_that_are_not_these_weights(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="set MODEL_DIR"):
        load_mlp(tmp_path / "absent.npz")
    good = dict(np.load(MODEL_DIR / WEIGHTS_FILE))
    missing = {k: v for k, v in good.items() if k != "fc3.bias"}
    np.savez(tmp_path / "missing.npz", **missing)
    with pytest.raises(ValueError, match=r"lack fc3\.bias"):
        load_mlp(tmp_path / "missing.npz")
    np.savez(tmp_path / "shape.npz", **{**good, "fc2.weight": np.zeros((100, 99), dtype=np.float32)})
    with pytest.raises(ValueError, match=r"fc2\.weight has shape \(100, 99\), expected \(100, 100\)"):
        load_mlp(tmp_path / "shape.npz")
    np.savez(tmp_path / "nan.npz", **{**good, "fc1.bias": np.full(100, np.nan, dtype=np.float32)})
    with pytest.raises(ValueError, match=r"fc1\.bias holds NaN"):
        load_mlp(tmp_path / "nan.npz")
    # A pickled object array must never be unpickled (it could run code).
    np.savez(tmp_path / "pickled.npz", **{**good, "fc1.bias": np.array([object()] * 100)})
    with pytest.raises(ValueError):
        load_mlp(tmp_path / "pickled.npz")


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = MnistMlp()
    save_mlp(model, tmp_path / "m.npz")
    loaded = load_mlp(tmp_path / "m.npz")
    x = torch.rand(5, 784)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(x), model(x))


@pytest.fixture
def score_module(monkeypatch: pytest.MonkeyPatch) -> ScoreModule:
    monkeypatch.setenv("MODEL_DIR", str(MODEL_DIR))
    monkeypatch.setenv("DEVICE", DEVICE)
    monkeypatch.setenv("MAX_BATCH_ROWS", "64")
    import score

    importlib.reload(score)  # re-runs score.py in the same module object, under the environment above
    return score


def test_score_py_keeps_the_seeds_init_run_contract(
    score_module: ScoreModule, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    score = score_module
    rows, _ = heldout
    with pytest.raises(RuntimeError, match=r"init\(\) has not been called"):
        score.run(json.dumps({"data": rows[:1].tolist()}))
    score.init()
    body = json.dumps({"data": rows[:100].tolist()})
    predicted = score.run(body)
    assert isinstance(predicted, list) and all(type(label) is int for label in predicted)
    assert predicted == plain_labels(rows[:100]).tolist()
    assert score.run(body.encode()) == predicted
    assert list(score.run_batch(rows[:100])) == predicted
    assert (
        list(score.run_batch(np.round(rows[:100] * 255).astype(np.uint8)))
        == plain_labels(np.round(rows[:100] * 255).astype(np.uint8)).tolist()
    )


def test_score_py_run_raises_value_errors_naming_the_problem(score_module: ScoreModule) -> None:
    score = score_module
    score.init()
    with pytest.raises(DecodeError, match="row 0 has 3 numbers, expected 784"):
        score.run('{"data": [[1, 2, 3]]}')
    with pytest.raises(ValueError, match="body is not valid JSON"):
        score.run("not json")


def test_score_py_reports_bad_settings(
    score_module: ScoreModule, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    score = score_module
    monkeypatch.setenv("MAX_BATCH_ROWS", "lots")
    with pytest.raises(ValueError, match="MAX_BATCH_ROWS='lots' is not a whole number"):
        score.init()
    monkeypatch.setenv("MAX_BATCH_ROWS", "0")
    with pytest.raises(ValueError, match="MAX_BATCH_ROWS=0 must be at least 1"):
        score.init()
    monkeypatch.setenv("MAX_BATCH_ROWS", "8")
    monkeypatch.setenv("MODEL_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"mnist_mlp\.npz not found"):
        score.init()
