"""The strongest peer: NVIDIA Triton Inference Server, through PyTriton (`nvidia-pytriton` 0.7.0 bundles
Triton 2.51), serving the same network and weights on the same device with Triton's dynamic batcher, so
bench/run_bench.py can compare against it on the same cores.

Triton answers the Open Inference Protocol over HTTP on PORT: the JSON tensor (`/v2/models/mnist/infer`,
input `input` FP32 [n, 784]) and the binary tensor extension. A Triton model has one datatype per input
(Triton refuses a request whose tensor type differs from the model configuration), so the UINT8 rows of
the binary scenarios go to a second model of the same network, `mnist_uint8` (input `input` UINT8
[n, 784]); both answer `label` INT64 [n, 1], the binary one as binary data when the request asks so.

Tuning, as NVIDIA's documents recommend (read December 2026):
- Dynamic batching on, no preferred batch sizes ("Preferred batch sizes should not be used for most
  models", Triton docs/user_guide/batcher.md, "Recommended Configuration Process"), no queue delay by
  default ("By default the dynamic batcher will create batches as large as possible up to the maximum
  batch size and will not delay"; the same page then suggests raising the delay while latency allows:
  TRITON_MAX_QUEUE_DELAY_US).
- max_batch_size 4096 rows, this server's MAX_BATCH_ROWS default: it admits the bench's 1,024-row
  requests (Triton refuses a request larger than max_batch_size) and lets four of them share a batch.
- Two model instances (TRITON_INSTANCES): "Typically, having two instances of a model will improve
  performance because it allows overlap of memory transfer operations ... with inference compute"
  (docs/user_guide/optimization.md, "Model Instances"); in PyTriton an instance is one more inference
  callable (`Triton.bind(infer_func=[...])`, pytriton 0.7.0 `models/model.py`: instance_group count =
  len(infer_func)), each a Python-backend stub process plus a handler thread here; two also matches the
  two cores, as this server runs one worker per core.
- HTTP threads: Triton's own default, 8 (server/src/command_line_parser.h; TRITON_HTTP_THREADS overrides
  it); gRPC off (the bench does not use it; PyTriton itself talks to Triton over HTTP); metrics on, on
  the METRICS_PORT the bench hands out, as Triton's default is.
Everything (tritonserver, its threads, the stubs, this process) inherits the bench's pin to the same 2
cores; bench/run_bench.py checks every thread's allowed cores after start-up.

Run it with the interpreter bench/unpack_pytriton.sh prepares (PYTRITON_PYTHON: PyTriton, and numpy 1.26,
which the Python-backend stub needs, where that stub's isolated interpreter can see them):

    PORT=5006 DEVICE=cuda $PYTRITON_PYTHON bench/pytriton_peer.py
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "app"))

from scoring.model.model import WEIGHTS_FILE, labels_from_logits_input, load_mlp  # noqa: E402

MODEL_NAME = "mnist"
UINT8_MODEL_NAME = "mnist_uint8"
MAX_BATCH_SIZE = 4096
START_ATTEMPTS = 3


def settings() -> dict[str, int | None]:
    """The tunables, from the environment (run_bench prints them beside the results)."""
    threads = os.environ.get("TRITON_HTTP_THREADS", "")
    return {
        "instances": int(os.environ.get("TRITON_INSTANCES", "2")),
        "max_queue_delay_us": int(os.environ.get("TRITON_MAX_QUEUE_DELAY_US", "0")),
        "http_threads": int(threads) if threads else None,
    }


def main() -> None:
    # PyTriton is not in the app's lock: it is carried to the GPU machine apart (bench/pack_pytriton.sh).
    from pytriton.decorators import batch  # type: ignore[import-not-found,unused-ignore]
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor  # type: ignore[import-not-found,unused-ignore]
    from pytriton.triton import Triton, TritonConfig  # type: ignore[import-not-found,unused-ignore]

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    tuning = settings()
    device = torch.device(os.environ.get("DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu"))
    network = load_mlp(REPO / "app" / "model" / WEIGHTS_FILE).to(device)

    def instance() -> Callable[..., dict[str, np.ndarray]]:
        # One callable per instance: PyTriton keys each instance's context by its callable.
        @batch  # type: ignore[untyped-decorator,misc,unused-ignore]  # pytriton ships no type information
        def infer(**inputs: np.ndarray) -> dict[str, np.ndarray]:
            with torch.inference_mode():
                x = torch.from_numpy(np.ascontiguousarray(inputs["input"])).to(device)
                labels = labels_from_logits_input(network, x).cpu().numpy().astype(np.int64)
            return {"label": labels.reshape(-1, 1)}

        return infer  # type: ignore[no-any-return]

    config: dict[str, Any] = {
        "http_address": "127.0.0.1",
        "http_port": int(os.environ.get("PORT", "5006")),
        "allow_grpc": False,
        "metrics_port": int(os.environ["METRICS_PORT"]) if os.environ.get("METRICS_PORT") else None,
        "exit_timeout_secs": 5,
    }
    if tuning["http_threads"] is not None:
        config["http_thread_count"] = tuning["http_threads"]
    model_config = ModelConfig(
        max_batch_size=MAX_BATCH_SIZE,
        batcher=DynamicBatcher(max_queue_delay_microseconds=tuning["max_queue_delay_us"]),
    )
    triton_config = TritonConfig(**{k: v for k, v in config.items() if v is not None})

    def serve_once() -> bool:
        """Starts Triton, loads both models and serves until stopped; False when a model failed to load
        in PyTriton's start-up race (below), after Triton has been stopped again."""
        with Triton(config=triton_config) as triton:
            for name, dtype in ((MODEL_NAME, np.float32), (UINT8_MODEL_NAME, np.uint8)):
                try:
                    triton.bind(
                        model_name=name,
                        infer_func=[instance() for _ in range(int(tuning["instances"] or 1))],
                        inputs=[Tensor(name="input", dtype=dtype, shape=(784,))],
                        outputs=[Tensor(name="label", dtype=np.int64, shape=(1,))],
                        config=model_config,
                        strict=True,
                    )
                except Exception as error:  # tritonclient's InferenceServerException, typed Any here
                    # PyTriton 0.7.0 starts a model's instances in parallel; every instance but the first
                    # connects to a handshake socket the first one binds and then listens on, and one
                    # that connects in between is refused (proxy/model.py initialize, communication.py
                    # get_config_from_handshake_server): seen here on 2 busy cores. Only that is retried.
                    if "get_config_from_handshake_server" not in str(error):
                        raise
                    logging.warning("%s failed to load in PyTriton's instance start-up race; restarting Triton", name)
                    return False
            # The bench stops a server with SIGTERM: as SIGINT, PyTriton then stops tritonserver and its
            # stubs (Triton.serve handles KeyboardInterrupt) instead of leaving them on the pinned cores.
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            triton.serve()
            return True

    for _ in range(START_ATTEMPTS):
        if serve_once():
            return
    raise SystemExit(f"Triton did not load both models in {START_ATTEMPTS} starts (see the warnings above)")


if __name__ == "__main__":
    main()
