"""The seed's network (784 -> 100 -> 100 -> 10, ReLU) and the predictor that serves it.

The predictor is built for the batcher: it is called by one worker thread at a time with the rows of
many requests, so it keeps fixed-size pinned host buffers and device buffers, rounds each batch up to
a power-of-two bucket so every shape it sees was warmed (and, on CUDA, captured as a graph) before
/ready turned 200, and scales uint8 pixels on the device so binary clients send a quarter of the
bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import nn

# Re-exported: the shape and signature live in a torch-free module so the server can use them without
# importing torch; existing `from scoring.model.model import ...` keeps working.
from scoring.model.model_shape import CLASSES as CLASSES
from scoring.model.model_shape import HIDDEN as HIDDEN
from scoring.model.model_shape import PARAMETER_SHAPES as PARAMETER_SHAPES
from scoring.model.model_shape import ROW_LENGTH as ROW_LENGTH
from scoring.model.model_shape import SIGNATURE as SIGNATURE
from scoring.model.model_shape import WEIGHTS_FILE as WEIGHTS_FILE


class MnistMlp(nn.Module):
    """The seed's fully connected classifier; forward returns logits."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(ROW_LENGTH, HIDDEN)
        self.fc2 = nn.Linear(HIDDEN, HIDDEN)
        self.fc3 = nn.Linear(HIDDEN, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        logits: torch.Tensor = self.fc3(x)  # nn.Module.__call__ is typed to return Any; nn.Linear gives a Tensor
        return logits


def save_mlp(model: MnistMlp, path: Path) -> None:
    """Writes the parameters as plain float32 arrays, so loading never needs pickle."""
    arrays = {name: tensor.detach().cpu().numpy().astype(np.float32) for name, tensor in model.state_dict().items()}
    np.savez(path, **arrays)


def load_mlp(path: Path) -> MnistMlp:
    """Reads weights written by save_mlp; a wrong or incomplete file is refused with the reason."""
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"model weights {path} not found (set MODEL_DIR to the folder holding {WEIGHTS_FILE})"
        ) from None
    with archive:
        missing = [name for name in PARAMETER_SHAPES if name not in archive.files]
        if missing:
            raise ValueError(
                f"model weights {path} lack {', '.join(missing)}; found {', '.join(archive.files) or 'nothing'}"
            )
        state: dict[str, torch.Tensor] = {}
        for name, shape in PARAMETER_SHAPES.items():
            array = archive[name]
            if array.shape != shape:
                raise ValueError(f"model weights {path}: {name} has shape {array.shape}, expected {shape}")
            if not np.all(np.isfinite(array)):
                raise ValueError(f"model weights {path}: {name} holds NaN or infinite values")
            state[name] = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    model = MnistMlp()
    model.load_state_dict(state)
    return model.eval()


def batch_buckets(max_batch_rows: int) -> list[int]:
    """Powers of two up to max_batch_rows, plus max_batch_rows itself: every batch pads to one of these."""
    if max_batch_rows < 1:
        raise ValueError(f"max_batch_rows must be at least 1, got {max_batch_rows}")
    buckets = []
    size = 1
    while size < max_batch_rows:
        buckets.append(size)
        size *= 2
    buckets.append(max_batch_rows)
    return buckets


def labels_from_logits_input(model: MnistMlp, x: torch.Tensor) -> torch.Tensor:
    """The plain path: float32 rows in [0, 1] or uint8 pixels -> int64 labels, on x's device."""
    if x.dtype == torch.uint8:
        # Division (not multiplication by 1/255) so uint8 input gives exactly the floats u/255.
        x = x.to(torch.float32).div_(255.0)
    logits: torch.Tensor = model(x)  # nn.Module.__call__ is typed to return Any; forward returns a Tensor
    return logits.argmax(dim=1)


def _new_cuda_stream(device: torch.device) -> torch.cuda.Stream:
    # torch.cuda.Stream.__new__ carries no annotations (torch/cuda/streams.py), so a direct call is an
    # untyped call under mypy --strict; this names its documented signature: Stream(device) -> Stream.
    new_stream = cast("Callable[[torch.device], torch.cuda.Stream]", torch.cuda.Stream)
    return new_stream(device)


def _new_blocking_event() -> torch.cuda.Event:
    # torch.cuda.Event.__new__ is untyped too (torch/cuda/streams.py); its documented signature.
    new_event = cast("Callable[..., torch.cuda.Event]", torch.cuda.Event)
    return new_event(blocking=True)


def _check_rows(rows: np.ndarray) -> None:
    if not isinstance(rows, np.ndarray):
        raise TypeError(f"rows must be a numpy array, got {type(rows).__name__}")
    if rows.ndim != 2 or rows.shape[1] != ROW_LENGTH:
        raise ValueError(f"rows must have shape (n, {ROW_LENGTH}), got {rows.shape}")
    if rows.dtype != np.float32 and rows.dtype != np.uint8:
        raise TypeError(f"rows must be float32 values in [0, 1] or uint8 pixels, got {rows.dtype}")


class Predictor:
    """Labels for rows of pixels on one device; safe for one caller at a time (a lock enforces it)."""

    def __init__(self, model_dir: Path, device: str, max_batch_rows: int, cuda_graphs: bool = True) -> None:
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"DEVICE={device} but no CUDA device is visible to torch {torch.__version__}")
        self.max_batch_rows = max_batch_rows
        self.buckets = batch_buckets(max_batch_rows)
        self.model = load_mlp(Path(model_dir) / WEIGHTS_FILE).to(self.device)
        self.cuda_graphs = cuda_graphs and self.device.type == "cuda"
        self._lock = threading.Lock()
        self._warm = False
        self._graphs: dict[tuple[torch.dtype, int], torch.cuda.CUDAGraph] = {}
        if self.device.type == "cuda":
            self._stream = _new_cuda_stream(self.device)
            # Fixed buffers: the pinned host side makes the upload truly asynchronous, and the device
            # side gives CUDA graphs stable addresses to read from and write to.
            self._host_in = {
                dtype: torch.empty((max_batch_rows, ROW_LENGTH), dtype=dtype, pin_memory=True)
                for dtype in (torch.float32, torch.uint8)
            }
            self._device_in = {
                dtype: torch.zeros((max_batch_rows, ROW_LENGTH), dtype=dtype, device=self.device)
                for dtype in (torch.float32, torch.uint8)
            }
            self._device_out = torch.zeros((max_batch_rows,), dtype=torch.int64, device=self.device)
            self._host_out = torch.empty((max_batch_rows,), dtype=torch.int64, pin_memory=True)
            # The wait for a batch's labels sleeps instead of spinning: an event made with
            # cudaEventBlockingSync blocks the thread in cudaEventSynchronize, where a stream's
            # synchronize busy-waits (CUDA runtime API, "cudaEventBlockingSync"; read December 2026; vLLM
            # made the same change, vllm-project/vllm#47081). The spin held a core for every batch's
            # whole GPU round trip: on an H200 a pod read 82 % of its 2 cores at a quarter of its
            # throughput (bench/autoscale_metric.py), so its CPU tracked time-with-a-request-in-flight,
            # not work, and the autoscaler's CPU trigger read it (docs/autoscaling.md).
            self._labels_ready = _new_blocking_event()

    @property
    def is_warm(self) -> bool:
        return self._warm

    def warmup(self) -> None:
        """Runs (and on CUDA captures) every bucket for both input types, so no request pays for it."""
        with self._lock, torch.inference_mode():
            if self.device.type != "cuda":
                for bucket in self.buckets:
                    for dtype in (torch.float32, torch.uint8):
                        labels_from_logits_input(self.model, torch.zeros((bucket, ROW_LENGTH), dtype=dtype))
                self._warm = True
                return
            with torch.cuda.stream(self._stream):
                for dtype in (torch.float32, torch.uint8):
                    for bucket in self.buckets:
                        self._device_forward(dtype, bucket)
                self._stream.synchronize()
                if self.cuda_graphs:
                    for dtype in (torch.float32, torch.uint8):
                        for bucket in self.buckets:
                            self._graphs[(dtype, bucket)] = self._capture(dtype, bucket)
            self._stream.synchronize()
            self._warm = True

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """int64 labels, one per row, in order."""
        _check_rows(rows)
        count = rows.shape[0]
        if count == 0:
            return np.empty((0,), dtype=np.int64)
        with self._lock, torch.inference_mode():
            if self.device.type != "cuda":
                x = torch.from_numpy(np.ascontiguousarray(rows))
                return labels_from_logits_input(self.model, x).numpy().astype(np.int64, copy=False)
            parts = [
                self._predict_cuda(rows[start : start + self.max_batch_rows])
                for start in range(0, count, self.max_batch_rows)
            ]
            return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _bucket_for(self, count: int) -> int:
        for bucket in self.buckets:
            if bucket >= count:
                return bucket
        raise AssertionError(f"{count} rows exceed max_batch_rows {self.max_batch_rows}")

    def _device_forward(self, dtype: torch.dtype, bucket: int) -> None:
        labels = labels_from_logits_input(self.model, self._device_in[dtype][:bucket])
        self._device_out[:bucket].copy_(labels)

    def _capture(self, dtype: torch.dtype, bucket: int) -> torch.cuda.CUDAGraph:
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=self._stream):
            self._device_forward(dtype, bucket)
        return graph

    def _predict_cuda(self, rows: np.ndarray) -> np.ndarray:
        count = rows.shape[0]
        dtype = torch.uint8 if rows.dtype == np.uint8 else torch.float32
        bucket = self._bucket_for(count)
        host_in = self._host_in[dtype]
        # One host copy into pinned memory; rows past `count` keep stale values whose labels are dropped.
        host_in[:count].numpy()[...] = rows
        with torch.cuda.stream(self._stream):
            self._device_in[dtype][:count].copy_(host_in[:count], non_blocking=True)
            graph = self._graphs.get((dtype, bucket))
            if graph is not None:
                graph.replay()
            else:
                self._device_forward(dtype, bucket)
            self._host_out[:count].copy_(self._device_out[:count], non_blocking=True)
            self._labels_ready.record(self._stream)
        self._labels_ready.synchronize()
        return self._host_out[:count].numpy().copy()
