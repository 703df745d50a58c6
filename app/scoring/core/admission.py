"""Backpressure: bounded budgets of pending request bytes and rows, a fair share per request, and a
latency bound from the measured service rate.

- Bytes are held as they arrive (and as they inflate, for a compressed body), not as declared: an idle
  or trickling upload holds only what it really sent, so four slow 64 MiB uploads cannot lock honest
  requests out. The declared Content-Length is still checked against what is free BEFORE a byte is
  read, so a flood of large uploads is refused with 503 instead of being buffered.
- One request (one connection: HTTP/1.1 carries one request at a time) holds at most its body,
  which MAX_BODY_BYTES bounds to a quarter of the byte budget by default (plus, briefly, the decoding
  transient), and at most a quarter of the row budget (`row_share`): no single connection can take the
  whole budget from the others.
- The last eighth of each budget is kept for small requests (up to SMALL_REQUEST_BYTES and
  SMALL_REQUEST_ROWS): however many large or hostile uploads arrive at once, a one-row request still
  finds room.
- Rows are reserved once known; a request that could not finish within its deadline at the measured
  service rate is refused with 503 + Retry-After rather than queued (`ServiceRate`).

Everything reserved is released when the request ends, however it ends, because the pipeline holds
a Reservation in a try/finally. Used only from the event loop thread, so plain integers suffice.
"""

from __future__ import annotations

import time

# A request holding no more than this is "small" and may use the whole budget, the reserve included.
SMALL_REQUEST_BYTES = 1 << 20
SMALL_REQUEST_ROWS = 64


class ServiceRate:
    """Rows per second of device time, smoothed over recent batches (the batcher reports each one)."""

    # Weight of the newest batch: about the last 20 batches count.
    _ALPHA = 0.05

    def __init__(self) -> None:
        self.rows_per_s = 0.0

    def record(self, rows: int, seconds: float) -> None:
        if rows <= 0 or seconds <= 0:
            return
        rate = rows / seconds
        self.rows_per_s = rate if self.rows_per_s == 0 else self.rows_per_s + self._ALPHA * (rate - self.rows_per_s)

    def seconds_for(self, rows: int) -> float:
        """Estimated device time for `rows` more rows; 0 until a batch has been measured."""
        return rows / self.rows_per_s if self.rows_per_s > 0 else 0.0


class Admission:
    def __init__(self, max_bytes: int, max_rows: int) -> None:
        self.max_bytes = max_bytes
        self.max_rows = max_rows
        # A request may hold at most this many rows of the budget (more rows still run, in batches).
        self.row_share = max(1, max_rows // 4)
        self.bytes_reserve = max_bytes // 8
        self.rows_reserve = max_rows // 8
        self.bytes = 0
        self.rows = 0
        # Requests admitted whose bodies are still arriving: the batcher waits for them briefly
        # (bounded by MAX_BATCH_WAIT_MS) because they are about to join the queue.
        self.arriving = 0
        self.rate = ServiceRate()

    def reservation(self) -> Reservation:
        return Reservation(self)

    def free_bytes(self) -> int:
        return self.max_bytes - self.bytes

    def queue_seconds(self, extra_rows: int) -> float:
        """How long the rows already admitted plus `extra_rows` would take at the measured rate."""
        return self.rate.seconds_for(self.rows + extra_rows)


class Reservation:
    """What one request holds; grows as the request learns more about itself, released once."""

    __slots__ = ("_admission", "_arriving", "bytes", "rows", "started")

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self.bytes = 0
        self.rows = 0
        self._arriving = False
        self.started = time.monotonic()

    def fits(self, declared_bytes: int) -> bool:
        """Whether a body of this declared size could be held now (checked before reading it)."""
        admission = self._admission
        reserve = admission.bytes_reserve if declared_bytes > SMALL_REQUEST_BYTES else 0
        return declared_bytes <= admission.free_bytes() - reserve

    def add_bytes(self, count: int) -> bool:
        admission = self._admission
        limit = admission.max_bytes
        if self.bytes + count > SMALL_REQUEST_BYTES:
            limit -= admission.bytes_reserve
        if admission.bytes + count > limit:
            return False
        admission.bytes += count
        self.bytes += count
        return True

    def release_bytes(self, count: int) -> None:
        """Gives back bytes no longer held (e.g. a decoding transient that has been freed)."""
        count = min(count, self.bytes)
        self._admission.bytes -= count
        self.bytes -= count

    def add_rows(self, count: int) -> bool:
        admission = self._admission
        held = min(count, admission.row_share)
        # A request up to the fair share is admitted whenever it fits; larger ones hold only the share.
        limit = admission.max_rows
        if self.rows + held > SMALL_REQUEST_ROWS:
            limit -= admission.rows_reserve
        if admission.rows + held > limit:
            return False
        admission.rows += held
        self.rows += held
        return True

    def set_arriving(self, arriving: bool) -> None:
        if arriving != self._arriving:
            self._arriving = arriving
            self._admission.arriving += 1 if arriving else -1

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def release(self) -> None:
        self.set_arriving(False)
        self._admission.bytes -= self.bytes
        self._admission.rows -= self.rows
        self.bytes = 0
        self.rows = 0
