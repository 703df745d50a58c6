"""The seed's replica_max_concurrent_requests, max_request_wait_time and scoring_timeout_ms, as the
stack sets them (MAX_CONCURRENT_REQUESTS, MAX_REQUEST_WAIT_TIME_MS, SCORING_TIMEOUT_MS): a request that
finds every slot taken waits in order, one that waited too long gets 503 with Retry-After, and a
request scored for longer than the timeout gets an error answer instead of waiting forever."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, MakeServer, Reply, Server

from scoring.core.concurrency import ConcurrencyLimit, process_share
from scoring.core.errors import Unavailable

SLOW_BATCH = str(FIXTURES / "slow_batch_score.py")
# The slow batches run in the device thread (INLINE_BATCH_ROWS=0): inline, their sleep would stall the
# event loop and with it every other request and timer.
SLOW = {"ENTRY_SCRIPT": SLOW_BATCH, "INLINE_BATCH_ROWS": "0"}


def score_together(server: Server, rows: np.ndarray, count: int, stagger_s: float = 0.3) -> list[Reply]:
    """`count` one-row requests, each sent `stagger_s` after the previous one, answered in any order."""
    import time

    with ThreadPoolExecutor(count) as pool:
        futures = []
        for i in range(count):
            futures.append(pool.submit(server.score, rows[i : i + 1]))
            time.sleep(stagger_s)
        return [f.result() for f in futures]


@pytest.fixture(scope="module")
def one_slot_short_wait(make_server: MakeServer) -> Server:
    return make_server(
        {
            **SLOW,
            "SLOW_BATCH_S": "1.5",
            "MAX_CONCURRENT_REQUESTS": "1",
            "MAX_REQUEST_WAIT_TIME_MS": "100",
            "RETRY_AFTER_S": "2",
        }
    )


def test_a_request_that_waits_past_the_limit_gets_503_with_retry_after(
    one_slot_short_wait: Server, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, labels = heldout
    replies = score_together(one_slot_short_wait, rows, 2)
    # Whichever reached the model first holds the only slot for 1.5 s; the other waited 100 ms and was refused.
    assert sorted(r.status for r in replies) == [200, 503]
    scored = next(r for r in replies if r.status == 200)
    refused = next(r for r in replies if r.status == 503)
    assert scored.json() in ([int(labels[0])], [int(labels[1])])
    assert refused.header("Retry-After") == "2"
    assert (refused.header("Content-Type") or "").startswith("application/json")
    message = refused.json()["message"]
    assert "MAX_CONCURRENT_REQUESTS" in message and "100 ms" in message
    assert one_slot_short_wait.metric("scoring_rejected_total", 'reason="max_request_wait_time"') == 1.0


def test_the_limit_holds_for_a_run_only_entry_script_too(
    make_server: MakeServer, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    # The seed's own kind of score.py (run() only), served as Azure ML serves it: the slot is held around run().
    server = make_server(
        {
            "ENTRY_SCRIPT": str(FIXTURES / "slow_score.py"),
            "SLOW_RUN_S": "1.5",
            "MAX_CONCURRENT_REQUESTS": "1",
            "MAX_REQUEST_WAIT_TIME_MS": "100",
            "RETRY_AFTER_S": "3",
        }
    )
    replies = score_together(server, heldout[0], 2)
    assert sorted(r.status for r in replies) == [200, 503]
    refused = next(r for r in replies if r.status == 503)
    assert refused.header("Retry-After") == "3"
    assert "MAX_CONCURRENT_REQUESTS" in refused.json()["message"]


@pytest.fixture(scope="module")
def one_slot_long_wait(make_server: MakeServer) -> Server:
    return make_server(
        {
            **SLOW,
            "SLOW_BATCH_S": "0.5",
            "MAX_CONCURRENT_REQUESTS": "1",
            "MAX_REQUEST_WAIT_TIME_MS": "25000",
        }
    )


def test_requests_over_the_limit_wait_their_turn_and_are_all_scored(
    one_slot_long_wait: Server, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, labels = heldout
    replies = score_together(one_slot_long_wait, rows, 3, stagger_s=0.05)
    assert [r.status for r in replies] == [200, 200, 200]
    assert [r.json() for r in replies] == [[int(labels[i])] for i in range(3)]
    assert one_slot_long_wait.metric("scoring_rejected_total", 'reason="max_request_wait_time"') == 0.0


@pytest.fixture(scope="module")
def short_timeout(make_server: MakeServer) -> Server:
    # SCORING_TIMEOUT_MS is what the stack's scoringTimeoutMs sets; SCORING_TIMEOUT_S is left unset.
    return make_server({**SLOW, "SLOW_BATCH_S": "3", "SCORING_TIMEOUT_MS": "300"})


def test_scoring_timeout_ms_bounds_every_request(short_timeout: Server, heldout: tuple[np.ndarray, np.ndarray]) -> None:
    reply = short_timeout.score(heldout[0][:1])
    assert reply.status == 504
    assert (reply.header("Content-Type") or "").startswith("application/json")
    assert "0.3 s" in reply.json()["message"]


# ---- the limit itself, without a server ----


def test_slots_go_to_waiters_in_arrival_order_and_a_cancelled_waiter_gives_its_turn_away() -> None:
    async def scenario() -> list[str]:
        limit = ConcurrencyLimit(1, 10.0, 1)
        order: list[str] = []
        gate = asyncio.Event()

        async def job(name: str, hold: asyncio.Event | None = None) -> None:
            async with limit.slot():
                order.append(name)
                if hold is not None:
                    await hold.wait()

        first = asyncio.create_task(job("first", gate))
        await asyncio.sleep(0)
        second = asyncio.create_task(job("second"))
        third = asyncio.create_task(job("third"))
        await asyncio.sleep(0)
        assert limit.active == 1 and limit.waiting == 2
        second.cancel()  # the client went away while waiting
        gate.set()
        await asyncio.gather(first, third, return_exceptions=True)
        assert second.cancelled()
        assert limit.active == 0 and limit.waiting == 0
        return order

    assert asyncio.run(scenario()) == ["first", "third"]


def test_no_wait_refuses_at_once_and_zero_slots_means_no_limit() -> None:
    async def scenario() -> None:
        strict = ConcurrencyLimit(1, 0.0, 4)
        async with strict.slot():
            with pytest.raises(Unavailable) as refused:
                async with strict.slot():
                    pass
        assert refused.value.status == 503 and refused.value.headers == {"Retry-After": "4"}
        assert strict.active == 0
        unlimited = ConcurrencyLimit(0, 0.0, 1)
        async with unlimited.slot(), unlimited.slot(), unlimited.slot():
            assert unlimited.active == 0

    asyncio.run(scenario())


def test_a_pods_slots_are_shared_by_its_worker_processes() -> None:
    # The stack's 32 per pod over two workers: 16 each; a share is never 0 (that would mean no limit).
    assert [process_share(32, 2), process_share(5, 2), process_share(1, 4), process_share(0, 2)] == [16, 3, 1, 0]


def test_stack_knobs_reach_the_settings(tmp_path: Path) -> None:
    from scoring.core.settings import load_settings

    env = {
        "AUTH_ENABLED": "false",
        "MAX_CONCURRENT_REQUESTS": "32",
        "MAX_REQUEST_WAIT_TIME_MS": "500",
        "SCORING_TIMEOUT_MS": "60000",
        "MODEL_DIR": str(tmp_path),
    }
    settings = load_settings(env, detect_device=lambda: "cpu")
    assert settings.max_concurrent_requests == 32
    assert settings.max_request_wait_s == 0.5
    assert settings.scoring_timeout_s == 60.0


def test_without_a_limit_a_slot_holds_nothing_and_with_one_it_still_counts() -> None:
    async def use(limit: ConcurrencyLimit) -> list[int]:
        seen = []
        async with limit.slot():
            seen.append(limit.active)
        seen.append(limit.active)
        return seen

    assert asyncio.run(use(ConcurrencyLimit(0, 0.1, 1))) == [0, 0]
    assert asyncio.run(use(ConcurrencyLimit(2, 0.1, 1))) == [1, 0]
