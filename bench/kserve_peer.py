"""A real peer: KServe's Python model server (`kserve.Model` + `ModelServer`, from PyPI) serving the same
network and weights, so bench/run_bench.py can compare against it on the same cores.

Its JSON route is KServe's v1 `:predict` ({"instances": [[784 numbers], ...]} -> {"predictions": [...]});
its v2 route `/v2/models/mnist/infer` takes JSON or binary tensors (input `input`, output `label`).

    PORT=5004 DEVICE=cuda python3 bench/kserve_peer.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "app"))

from scoring.model.model import WEIGHTS_FILE, labels_from_logits_input, load_mlp  # noqa: E402


def main() -> None:
    # kserve parses sys.argv when imported: give it none of ours.
    sys.argv = sys.argv[:1]
    from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer

    device = torch.device(os.environ.get("DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu"))
    network = load_mlp(REPO / "app" / "model" / WEIGHTS_FILE).to(device)

    def labels_for(rows: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(rows)).to(device)
            return labels_from_logits_input(network, x).cpu().numpy().astype(np.int64)

    class Mnist(Model):  # type: ignore[misc]  # kserve ships no type information
        def __init__(self) -> None:
            super().__init__("mnist")
            self.ready = True

        async def predict(
            self, payload: Any, headers: dict[str, str] | None = None, response_headers: dict[str, str] | None = None
        ) -> Any:
            if isinstance(payload, InferRequest):
                rows = payload.inputs[0].as_numpy().reshape(-1, 784)
                labels = labels_for(rows)
                output = InferOutput(name="label", shape=[labels.shape[0]], datatype="INT64")
                binary = any(o.binary_data for o in payload.request_outputs or []) if payload.request_outputs else False
                output.set_data_from_numpy(labels, binary_data=bool(binary))
                return InferResponse(
                    response_id=payload.id or "",
                    model_name=self.name,
                    infer_outputs=[output],
                    use_binary_outputs=binary,
                )
            rows = np.asarray(payload["instances"], dtype=np.float32)
            return {"predictions": labels_for(rows).tolist()}

    ModelServer(http_port=int(os.environ.get("PORT", "5004")), enable_grpc=False, workers=1).start([Mnist()])


if __name__ == "__main__":
    main()
