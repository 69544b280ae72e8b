"""The QBO request budget's rule (``store.rate.reserve``), on a simulated clock."""

from __future__ import annotations

import pytest

from kyrios_qbo.store import rate
from tests.sliding_windows import max_in_window

SPACING = rate.Spacing.scaled()


def _slots_at_full_speed(seconds: float, callers: int = 4) -> list[float]:
    """``callers`` that each ask again as soon as their slot came, for ``seconds``."""
    tat: float | None = None
    ready = [0.0] * callers
    slots: list[float] = []
    while min(ready) < seconds:
        who = ready.index(min(ready))
        now = ready[who]
        granted = rate.reserve(tat, now, SPACING, max_wait=10.0)
        assert granted is not None
        tat, slot = granted
        slots.append(slot)
        ready[who] = slot
    return sorted(slots)



def test_slots_keep_every_sliding_window_within_qbo_limits() -> None:
    slots = _slots_at_full_speed(180.0)
    assert max_in_window(slots, 1.0) <= rate.PER_SECOND
    assert max_in_window(slots, 60.0) <= rate.PER_MINUTE
    assert len(slots) >= 0.95 * rate.RATE * 180  # close to the 480/min the limits leave


def test_an_idle_company_goes_now_and_a_busy_one_queues() -> None:
    assert rate.reserve(None, 100.0, SPACING, max_wait=0.0) == (100.0 + SPACING.interval, 100.0)
    assert rate.reserve(99.0, 100.0, SPACING, max_wait=0.0) == (100.0 + SPACING.interval, 100.0)
    new_tat, slot = rate.reserve(101.0, 100.0, SPACING, max_wait=5.0) or (0.0, 0.0)
    assert new_tat == pytest.approx(101.0 + SPACING.interval)
    assert slot == pytest.approx(101.0 - SPACING.tolerance)


def test_a_slot_beyond_the_callers_patience_is_refused() -> None:
    assert rate.reserve(103.0, 100.0, SPACING, max_wait=2.0) is None
    assert rate.reserve(103.0, 100.0, SPACING, max_wait=3.0) is not None


def test_the_burst_goes_without_waiting() -> None:
    tat, slots = None, []
    for _ in range(rate.BURST):
        granted = rate.reserve(tat, 50.0, SPACING, max_wait=0.0)
        assert granted is not None
        tat, slot = granted
        slots.append(slot)
    assert slots == [50.0] * rate.BURST
    assert rate.reserve(tat, 50.0, SPACING, max_wait=0.0) is None


def test_a_compressed_clock_shrinks_the_spacing_only() -> None:
    scaled = rate.Spacing.scaled(0.1)
    assert scaled.interval == pytest.approx(SPACING.interval / 10)
    assert scaled.tolerance == pytest.approx(SPACING.tolerance / 10)
    with pytest.raises(ValueError):
        rate.Spacing.scaled(0.0)
    with pytest.raises(ValueError):
        rate.Spacing.scaled(2.0)
