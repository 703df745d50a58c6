"""A real peer: Seldon's MLServer (from PyPI) serving the same network and weights through a custom
`MLModel` runtime, so bench/run_bench.py can compare against it on the same cores.

MLServer speaks only the Open Inference Protocol: its JSON route is `/v2/models/mnist/infer` with the
tensor in JSON (input `input`, FP32 [n, 784]; output `label`). Its REST API has no binary tensor data
extension (SeldonIO/MLServer#324, open as of 2026-12), so the binary scenarios are not run against it.
Adaptive batching is on (as this server batches), in-process inference (parallel_workers 0: the
model runs on the event loop's process, as KServe's peer does).

    PORT=5005 DEVICE=cuda python3 bench/mlserver_peer.py

MLServer pins its own fastapi/starlette/pydantic, which conflict with kserve's, so it is installed
apart (`pip install --target /tmp/site-ml mlserver==1.7.1`) and run with that
folder first on PYTHONPATH.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))


def main() -> None:
    from mlserver import MLServer  # type: ignore[import-not-found,unused-ignore]
    from mlserver.settings import ModelSettings, Settings  # type: ignore[import-not-found,unused-ignore]

    port = int(os.environ.get("PORT", "5005"))

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    settings = Settings(
        debug=False,
        host="127.0.0.1",
        http_port=port,
        grpc_port=int(os.environ.get("GRPC_PORT") or free_port()),
        metrics_port=int(os.environ.get("METRICS_PORT") or free_port()),
        parallel_workers=0,
        load_models_at_startup=True,
    )
    model = ModelSettings(
        name="mnist",
        # By import path: MLServer's settings resolve the runtime class by name (bench/mlserver_runtime.py).
        implementation="mlserver_runtime.Mnist",
        max_batch_size=int(os.environ.get("MAX_BATCH_ROWS", "256")),
        max_batch_time=0.002,
    )
    asyncio.run(MLServer(settings).start([model]))


if __name__ == "__main__":
    main()
