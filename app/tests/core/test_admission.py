"""Admission on its own: budgets held as bytes arrive, a fair share per request, release on every
path, and the deadline forecast from the measured service rate."""

from __future__ import annotations

from scoring.core.admission import Admission, ServiceRate


def test_bytes_are_held_as_they_arrive_and_released() -> None:
    admission = Admission(max_bytes=1000, max_rows=100)
    slow = [admission.reservation() for _ in range(4)]
    for reservation in slow:
        # Each declares 400 bytes but has sent only 10: an honest 600-byte request still fits.
        assert reservation.fits(400)
        assert reservation.add_bytes(10)
    honest = admission.reservation()
    assert honest.fits(400) and honest.add_bytes(400)
    for reservation in (*slow, honest):
        reservation.release()
    assert admission.bytes == 0 and admission.rows == 0


def test_the_byte_budget_is_a_hard_bound() -> None:
    admission = Admission(max_bytes=1000, max_rows=100)  # all small: no reserve applies
    first, second = admission.reservation(), admission.reservation()
    assert first.add_bytes(700)
    assert not second.fits(400)
    assert not second.add_bytes(400)
    assert second.add_bytes(300)
    first.release_bytes(200)
    assert admission.bytes == 800
    first.release()
    second.release()
    assert admission.bytes == 0


def test_one_request_holds_at_most_a_quarter_of_the_rows() -> None:
    admission = Admission(max_bytes=1000, max_rows=1000)
    huge = admission.reservation()
    assert huge.add_rows(100_000)  # admitted, but holding only its share
    assert admission.rows == 250
    others = [admission.reservation() for _ in range(3)]
    assert [r.add_rows(250) for r in others] == [True, True, False]  # the last eighth is for small ones
    small = [admission.reservation() for _ in range(5)]
    assert [r.add_rows(60) for r in small] == [True, True, True, True, False]
    huge.release()
    for reservation in (*others, *small):
        reservation.release()
    assert admission.rows == 0


def test_large_uploads_leave_room_for_small_requests() -> None:
    mib = 1 << 20
    admission = Admission(max_bytes=32 * mib, max_rows=1000)
    bombs = [admission.reservation() for _ in range(8)]
    held = [b.add_bytes(4 * mib) for b in bombs]
    assert held == [True] * 7 + [False]  # 28 MiB: the last 4 MiB stay free
    small = admission.reservation()
    assert small.fits(64 << 10) and small.add_bytes(64 << 10)
    for reservation in (*bombs, small):
        reservation.release()
    assert admission.bytes == 0


def test_arriving_counts_bodies_in_transit_once() -> None:
    admission = Admission(max_bytes=1000, max_rows=100)
    reservation = admission.reservation()
    reservation.set_arriving(True)
    reservation.set_arriving(True)
    assert admission.arriving == 1
    reservation.release()
    assert admission.arriving == 0


def test_deadline_forecast_follows_the_measured_rate() -> None:
    rate = ServiceRate()
    assert rate.seconds_for(10_000) == 0.0  # nothing measured yet: never refuse on a guess
    rate.record(rows=1000, seconds=0.1)
    assert abs(rate.seconds_for(10_000) - 1.0) < 1e-9
    admission = Admission(max_bytes=1000, max_rows=100_000)
    admission.rate.record(1000, 1.0)
    held = admission.reservation()
    assert held.add_rows(20_000)
    assert admission.queue_seconds(5000) == 25.0
