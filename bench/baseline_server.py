"""The seed-style baseline: what the Azure ML SDK v1 recipe ran, rebuilt on the same model and weights.

One aiohttp event loop; each POST /score runs the seed's run() inline: stdlib json.loads, np.array,
one forward on DEVICE per request, argmax, .tolist(). Same routes (/, /score), same bearer-key
auth. It exists only so bench/run_bench.py can measure the real server against it on the same
machine.

    PORT=5002 SCORING_PRIMARY_KEY=k DEVICE=cuda python3 bench/baseline_server.py
"""

from __future__ import annotations

import hmac
import json
import os
import sys
from pathlib import Path
from typing import cast

import numpy as np
import torch
from aiohttp import web

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "app"))

from scoring.model.model import WEIGHTS_FILE, MnistMlp, load_mlp  # noqa: E402


class SeedScore:
    """The seed's score.py, with the TensorFlow session swapped for the same PyTorch network."""

    def __init__(self, model_dir: Path, device: str) -> None:
        self.device = torch.device(device)
        self.model: MnistMlp = load_mlp(model_dir / WEIGHTS_FILE).to(self.device)

    def run(self, raw_data: str) -> list[int]:
        data = np.array(json.loads(raw_data)["data"])
        with torch.no_grad():
            out = self.model(torch.from_numpy(data).float().to(self.device))
        y_hat = np.argmax(out.cpu().numpy(), axis=1)
        # tolist() is typed Any; y_hat is a 1-D integer array, so it gives a list of int.
        return cast(list[int], y_hat.tolist())


def build_app(score: SeedScore, key: str) -> web.Application:
    expected = f"Bearer {key}".encode()

    async def healthy(_: web.Request) -> web.Response:
        return web.Response(text="Healthy")

    async def handle_score(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return web.json_response({"error": "missing or wrong key"}, status=401)
        raw = await request.text()
        try:
            labels = score.run(raw)
        except (ValueError, KeyError, TypeError) as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response(labels)

    app = web.Application(client_max_size=256 << 20)
    app.router.add_get("/", healthy)
    app.router.add_get("/ready", healthy)
    app.router.add_post("/score", handle_score)
    return app


def main() -> None:
    port = int(os.environ.get("PORT", "5002"))
    key = os.environ.get("SCORING_PRIMARY_KEY", "")
    if not key:
        raise SystemExit("SCORING_PRIMARY_KEY must be set (the baseline, like the seed, requires a key)")
    device = os.environ.get("DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    model_dir = Path(os.environ.get("MODEL_DIR", str(REPO / "app" / "model")))
    score = SeedScore(model_dir, device)
    score.run(json.dumps({"data": [[0.0] * 784]}))  # first CUDA call outside any timing
    web.run_app(build_app(score, key), host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
