"""MLServer's custom runtime for bench/mlserver_peer.py: the same network and weights as this server."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

# mlserver ships no type information: its classes are Any here.
from mlserver import MLModel  # type: ignore[import-not-found,unused-ignore]
from mlserver.codecs import NumpyCodec  # type: ignore[import-not-found,unused-ignore]
from mlserver.types import InferenceResponse  # type: ignore[import-not-found,unused-ignore]

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "app"))

from scoring.model.model import WEIGHTS_FILE, labels_from_logits_input, load_mlp  # noqa: E402


class Mnist(MLModel):  # type: ignore[misc]
    async def load(self) -> bool:
        self._device = torch.device(os.environ.get("DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu"))
        self._network = load_mlp(REPO / "app" / "model" / WEIGHTS_FILE).to(self._device)
        return True

    async def predict(self, payload: Any) -> Any:
        rows = NumpyCodec.decode_input(payload.inputs[0]).reshape(-1, 784)
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32)).to(self._device)
            labels = labels_from_logits_input(self._network, x).cpu().numpy().astype(np.int64)
        return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output("label", labels)])
