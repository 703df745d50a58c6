"""The seed-style entry script (json.loads, np.array, one forward per request) for the Azure ML
inference server peer: what the seed deployed, under the server Azure ML runs it in."""

from __future__ import annotations

import os
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from baseline_server import SeedScore  # noqa: E402

_score: SeedScore | None = None


def init() -> None:
    global _score
    model_dir = Path(os.environ.get("AZUREML_MODEL_DIR") or BENCH.parent / "app" / "model")
    device = os.environ.get("DEVICE") or "cpu"
    _score = SeedScore(model_dir, device)


def run(raw_data: str) -> list[int]:
    assert _score is not None, "init() has not run"
    return _score.run(raw_data)
