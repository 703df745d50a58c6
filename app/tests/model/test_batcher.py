"""The batcher on its own (no server, no JSON, no model): arrays in, each request's own labels out,
one run_batch per dtype group, failures isolated by splitting the batch."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from scoring.model.batching import Batcher, BatchError
from scoring.observability.metrics import Metrics


def run_with(run_batch: object, arrays: list[np.ndarray], inline_rows: int = 0) -> list[object]:
    """Submits all arrays at once and returns each future's labels or exception."""

    async def main() -> list[object]:
        with ThreadPoolExecutor(1) as executor:
            batcher = Batcher(run_batch, executor, 1024, 0.0, Metrics(), inline_rows=inline_rows)  # type: ignore[arg-type]
            batcher.start()
            futures = [batcher.submit(a) for a in arrays]
            results = await asyncio.gather(*futures, return_exceptions=True)
            await batcher.stop()
            return list(results)

    return asyncio.run(main())


def first_column(rows: np.ndarray) -> np.ndarray:
    return rows[:, 0].astype(np.int64)


@pytest.mark.parametrize("inline_rows", [0, 1024])
def test_each_request_gets_its_own_labels_in_one_call_per_dtype(inline_rows: int) -> None:
    calls: list[tuple[str, int]] = []

    def run_batch(rows: np.ndarray) -> np.ndarray:
        calls.append((rows.dtype.name, rows.shape[0]))
        return first_column(rows)

    arrays = [np.full((n, 3), n, dtype=np.float32 if n % 2 else np.uint8) for n in (1, 2, 3, 4, 5)]
    results = run_with(run_batch, arrays, inline_rows)
    for array, labels in zip(arrays, results):
        assert isinstance(labels, np.ndarray) and labels.tolist() == [array.shape[0]] * array.shape[0]
    assert sorted(calls) == [("float32", 9), ("uint8", 6)]


def test_a_failing_request_is_isolated_by_splitting() -> None:
    def run_batch(rows: np.ndarray) -> np.ndarray:
        if (rows[:, 0] == 99).any():
            raise RuntimeError("poisoned")
        return first_column(rows)

    arrays = [np.full((1, 3), i, dtype=np.float32) for i in range(8)]
    arrays[5] = np.full((1, 3), 99, dtype=np.float32)
    results = run_with(run_batch, arrays)
    for i, result in enumerate(results):
        if i == 5:
            assert isinstance(result, BatchError) and "poisoned" in str(result)
        else:
            assert isinstance(result, np.ndarray) and result.tolist() == [i]


def test_wrong_label_count_is_a_batch_error_for_that_request_only() -> None:
    def run_batch(rows: np.ndarray) -> np.ndarray:
        labels = first_column(rows)
        return labels[:-1] if (rows[:, 0] == 7).any() else labels

    arrays = [np.full((2, 3), i, dtype=np.float32) for i in (1, 7, 3)]
    results = run_with(run_batch, arrays)
    assert isinstance(results[1], BatchError) and "one label per row" in str(results[1])
    assert [r.tolist() for r in (results[0], results[2]) if isinstance(r, np.ndarray)] == [[1, 1], [3, 3]]
