"""Backpressure: a bounded budget of pending request bytes and rows.

A request reserves its bytes from Content-Length BEFORE its body is read, so a flood of large
uploads is refused with 503 instead of being buffered; a chunked body (no Content-Length) reserves
as it arrives. Rows are reserved once known. Everything reserved is released when the request ends,
however it ends (answered, timed out, cut off), because handlers hold a Reservation in a
try/finally. Used only from the event loop thread, so plain integers suffice.
"""

from __future__ import annotations


class Admission:
    def __init__(self, max_bytes: int, max_rows: int) -> None:
        self.max_bytes = max_bytes
        self.max_rows = max_rows
        self.bytes = 0
        self.rows = 0
        # Requests admitted whose bodies are still arriving: the batcher waits for them briefly
        # (bounded by MAX_BATCH_WAIT_MS) because they are about to join the queue.
        self.arriving = 0

    def reservation(self) -> Reservation:
        return Reservation(self)


class Reservation:
    """What one request holds; grows as the request learns more about itself, released once."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self.bytes = 0
        self.rows = 0
        self._arriving = False

    def add_bytes(self, count: int) -> bool:
        admission = self._admission
        if admission.bytes + count > admission.max_bytes:
            return False
        admission.bytes += count
        self.bytes += count
        return True

    def add_rows(self, count: int) -> bool:
        admission = self._admission
        # A single request larger than the whole budget is still admitted when nothing else is
        # pending, so a legal request is never refused forever; it then blocks others until done.
        if admission.rows + count > admission.max_rows and admission.rows > 0:
            return False
        admission.rows += count
        self.rows += count
        return True

    def set_arriving(self, arriving: bool) -> None:
        if arriving != self._arriving:
            self._arriving = arriving
            self._admission.arriving += 1 if arriving else -1

    def release(self) -> None:
        self.set_arriving(False)
        self._admission.bytes -= self.bytes
        self._admission.rows -= self.rows
        self.bytes = 0
        self.rows = 0
