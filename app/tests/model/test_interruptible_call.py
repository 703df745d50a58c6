"""scoring.model.entry.InterruptibleCall: a run() that overran its time is stopped inside its thread (as
Azure ML's SIGALRM stops it), and the shared device thread is never hit by a stray TimeoutError."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from scoring.model.entry import InterruptibleCall


def spin(seconds: float) -> str:
    """Pure Python work (no native call to wait on): what the async exception interrupts."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass
    return "finished"


def test_a_python_loop_is_stopped_and_the_thread_serves_the_next_call() -> None:
    with ThreadPoolExecutor(max_workers=1) as device:
        call = InterruptibleCall(lambda: spin(30))
        future = device.submit(call)
        time.sleep(0.2)
        started = time.monotonic()
        assert call.interrupt() is True
        with pytest.raises(TimeoutError):
            future.result(timeout=5)
        assert time.monotonic() - started < 5
        # The same thread, free again, runs the next call to the end.
        assert device.submit(InterruptibleCall(lambda: spin(0.05))).result(timeout=5) == "finished"


def test_a_call_interrupted_before_it_started_never_runs() -> None:
    ran = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as device:
        blocker = device.submit(lambda: spin(0.3))
        call = InterruptibleCall(ran.set)
        future = device.submit(call)
        assert call.interrupt() is True
        blocker.result(timeout=5)
        with pytest.raises(TimeoutError):
            future.result(timeout=5)
    assert not ran.is_set()


def test_interrupting_a_finished_call_does_nothing() -> None:
    with ThreadPoolExecutor(max_workers=1) as device:
        call = InterruptibleCall(lambda: "done")
        assert device.submit(call).result(timeout=5) == "done"
        assert call.interrupt() is False
        assert device.submit(InterruptibleCall(lambda: spin(0.1))).result(timeout=5) == "finished"


def test_the_timeout_reaches_run_as_timeout_error() -> None:
    """Like Azure ML's handler, it is a TimeoutError raised inside run(): a run() can clean up."""
    cleaned = threading.Event()

    def run() -> str:
        try:
            return spin(30)
        finally:
            cleaned.set()

    with ThreadPoolExecutor(max_workers=1) as device:
        call = InterruptibleCall(run)
        future = device.submit(call)
        time.sleep(0.1)
        call.interrupt()
        with pytest.raises(TimeoutError):
            future.result(timeout=5)
    assert cleaned.is_set()


def test_racing_interrupts_never_strike_the_executor_or_the_next_call() -> None:
    """Interrupts land at random moments: before, during and just after short calls. Whatever each
    call's outcome, the thread survives and the next call is never hit by a leftover exception."""
    rng = random.Random(13)
    with ThreadPoolExecutor(max_workers=1) as device:
        for _ in range(300):
            call = InterruptibleCall(lambda: spin(rng.uniform(0, 0.002)))
            future = device.submit(call)
            time.sleep(rng.uniform(0, 0.003))
            call.interrupt()
            with contextlib.suppress(TimeoutError):  # interrupted, or finished first: both are fine
                assert future.result(timeout=5) == "finished"
            # A probe right after: it must finish, with no stray TimeoutError.
            assert device.submit(lambda: spin(0.0005)).result(timeout=5) == "finished"
